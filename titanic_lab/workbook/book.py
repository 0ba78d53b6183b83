"""The workbook being written: the run, the XlsxWriter workbook and its formats, shared by every sheet."""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import os
import threading
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import xlsxwriter
import xlsxwriter.workbook

from .. import __version__
from ..rowwriter import RowWriter
from ..runs import Run
from .cells import Cells, _Worksheet
from .table import Table


class Book:
    """What the sheet writers share: the run, the workbook, its formats and the sheets so far.

    Attributes
    ----------
    X, y : Tensor
        The run's features (n_rows, n_features) and target (n_rows,) in float64, as the sheets compute.
    valid : ndarray of int
        1 on validation rows, 0 on training rows, (n_rows,).
    sheets : list of (str, str)
        Each sheet's name and what it is, for the README.
    tables : dict of str to Table
        Each model sheet's data table, by sheet name.
    """

    def __init__(self, run: Run, path: Path, tmpdir: Path) -> None:
        self.run = run
        # Text from data must never become a formula or a link. constant_memory streams each
        # row to disk once written (RowWriter writes in row order), so memory does not grow with
        # rows; those rows go to temporary files in ``tmpdir``, which the caller removes.
        self.wb = _Workbook(str(path), {
            "constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
            "tmpdir": str(tmpdir),
        })
        self.when = written_at()
        self.wb.set_properties({"title": "titanic-lab run", "comments": f"titanic-lab {__version__}", "created": self.when})
        self.cells = Cells(self.wb)
        # From the float64 design matrix, not run.X: a float32 run's X is rounded, the sheet's features are not.
        self.X = torch.tensor(run.features.to_numpy(), dtype=torch.float64)
        self.y = torch.tensor(run.target, dtype=torch.float64)
        self.valid = np.zeros(len(run.frame), dtype=int)
        self.valid[run.valid_idx.numpy()] = 1
        self.sheets: list[tuple[str, str]] = []
        self.tables: dict[str, Table] = {}
        self._longest: dict[str, int] = {}

    def longest(self, column: str) -> int:
        """The characters of the raw column's longest value as a sheet shows it (at most 30; a date is 10),
        found once for every sheet that shows the column."""
        if column not in self._longest:
            shown = self.run.frame[column].dropna().astype(str)
            self._longest[column] = min(30, int(shown.str.len().max())) if len(shown) else 0
        return self._longest[column]

    @contextlib.contextmanager
    def sheet(self, name: str, note: str) -> Iterator[RowWriter]:
        """A new sheet whose cells are gathered in the ``with`` block, then written row by row."""
        ws = RowWriter(self.wb.add_worksheet(name, worksheet_class=_Worksheet))
        self.sheets.append((name, note))
        yield ws
        ws.write()


#: zlib's level for the workbook's zip (XlsxWriter's is zlib's default, 6). The 5,000 x 20 table's 52 MB of sheet XML
#: compress in 0.33 s at level 1, 0.49 s at 3 and 0.96 s at 6, to 11.0, 9.7 and 8.7 MB (BENCHMARKS.md, session 11).
ZIP_LEVEL = 1


#: Held while XlsxWriter's module has its ZipFile at :data:`ZIP_LEVEL`: workbooks closed in two threads at once
#: take turns, so the module's own ZipFile is always put back.
_ZIP_LOCK = threading.Lock()


class _Workbook(xlsxwriter.Workbook):
    """XlsxWriter's workbook, zipped at :data:`ZIP_LEVEL`."""

    def _store_workbook(self) -> None:
        # XlsxWriter makes its ZipFile at zlib's default level, with no option for another: its module's
        # ZipFile takes the level for the time of this call.
        module = xlsxwriter.workbook
        with _ZIP_LOCK:
            original = module.ZipFile
            module.ZipFile = functools.partial(original, compresslevel=ZIP_LEVEL)
            try:
                super()._store_workbook()
            finally:
                module.ZipFile = original


def reproducible() -> bool:
    """With ``SOURCE_DATE_EPOCH`` set, timings are left out so that two runs are byte-identical."""
    return bool(os.environ.get("SOURCE_DATE_EPOCH"))


def written_at() -> _dt.datetime:
    """Now, or ``SOURCE_DATE_EPOCH`` when set (reproducible builds: two runs give identical files)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return _dt.datetime.fromtimestamp(int(epoch), tz=_dt.timezone.utc).replace(tzinfo=None)
    return _dt.datetime.now().replace(microsecond=0)
