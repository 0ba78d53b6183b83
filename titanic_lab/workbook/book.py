"""The workbook being written: the run, the XlsxWriter workbook and its formats, shared by every sheet."""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import threading
import zipfile
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import xlsxwriter
import xlsxwriter.workbook

from .. import __version__
from ..config import FEATURES_ONCE_CELLS
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
        #: The first model sheet's table, which holds the features for every model sheet (None: each holds its own).
        self.features_table: Table | None = None
        self.features_once = writes_features_once(run)
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


def writes_features_once(run: Run) -> bool:
    """Whether the features are written once, on the first model sheet (``--features-once``); by default only when
    the later model sheets would hold more than :data:`~titanic_lab.config.FEATURES_ONCE_CELLS` feature cells."""
    if run.config.features_once is not None:
        return run.config.features_once
    sheets = sum(len(result.spec.model_kind.sheets) for result in run.results.values())
    return len(run.frame) * run.features.shape[1] * (sheets - 1) > FEATURES_ONCE_CELLS


#: zlib's level for the workbook's zip (XlsxWriter's is zlib's default, 6). The 5,000 x 20 table's 52 MB of sheet XML
#: compress in 0.33 s at level 1, 0.49 s at 3 and 0.96 s at 6, to 11.0, 9.7 and 8.7 MB (BENCHMARKS.md, session 11).
ZIP_LEVEL = 1


#: Held while XlsxWriter's module has :class:`_ZipFile` as its ZipFile: workbooks closed in two threads at once
#: take turns, so the module's own ZipFile is always put back.
_ZIP_LOCK = threading.Lock()


class _Workbook(xlsxwriter.Workbook):
    """XlsxWriter's workbook, zipped at :data:`ZIP_LEVEL`, its members deflated in threads (:class:`_ZipFile`)."""

    def _store_workbook(self) -> None:
        # XlsxWriter makes its ZipFile at zlib's default level, with no option for another: its module's
        # ZipFile is ours for the time of this call.
        module = xlsxwriter.workbook
        with _ZIP_LOCK:
            original = module.ZipFile
            module.ZipFile = _ZipFile
            try:
                super()._store_workbook()
            finally:
                module.ZipFile = original


#: The bytes of members read and not yet written that :class:`_ZipFile` holds at most (beyond, it writes the
#: oldest first): a workbook of a million rows stays within memory.
DEFLATING_BYTES = 128 << 20


class _ZipFile(zipfile.ZipFile):
    """A ZipFile at :data:`ZIP_LEVEL` whose members, given by ``write(filename, arcname)`` as XlsxWriter gives
    them, are deflated in two threads (zlib lets go of Python's lock while it compresses) and written in the
    order given, each with the bytes zipfile writes itself: the same deflate stream, header, size and CRC.
    A workbook's sheets are most of its bytes: 0.28 s of zlib for the 5,000 x 20 table's 52 MB."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, compresslevel=ZIP_LEVEL, **kwargs)
        self._deflating: list[tuple[zipfile.ZipInfo, bytes, Future]] = []
        self._threads = ThreadPoolExecutor(max_workers=2)

    def write(self, filename: str, arcname: str | None = None, compress_type: int | None = None,
              compresslevel: int | None = None) -> None:
        if compress_type not in (None, self.compression) or compresslevel not in (None, ZIP_LEVEL) \
                or self.compression != zipfile.ZIP_DEFLATED or os.path.getsize(filename) > DEFLATING_BYTES:
            while self._deflating:  # a member too large to hold (or another kind): zipfile's own way, in order
                self._write_oldest()
            super().write(filename, arcname, compress_type, compresslevel)
            return
        zinfo = zipfile.ZipInfo.from_file(filename, arcname, strict_timestamps=self._strict_timestamps)
        zinfo.compress_type, zinfo._compresslevel = zipfile.ZIP_DEFLATED, ZIP_LEVEL  # as ZipFile.write sets them
        data = Path(filename).read_bytes()  # XlsxWriter removes the file once this returns
        self._deflating.append((zinfo, data, self._threads.submit(_deflated, data)))
        while sum(len(data) for _, data, _ in self._deflating) > DEFLATING_BYTES:
            self._write_oldest()

    def _write_oldest(self) -> None:
        zinfo, data, deflating = self._deflating.pop(0)
        with self.open(zinfo, "w") as dest:  # zipfile's own header, CRC and sizes, its deflate stream made already
            dest._compressor = _Deflated(deflating.result())
            dest.write(data)

    def close(self) -> None:
        try:
            while self._deflating and self.fp is not None:
                self._write_oldest()
        finally:
            self._threads.shutdown(cancel_futures=True)
            super().close()


def _deflated(data: bytes) -> bytes:
    """``data`` deflated as zipfile deflates a member at :data:`ZIP_LEVEL` (a raw stream, zlib's window)."""
    compressor = zlib.compressobj(ZIP_LEVEL, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


class _Deflated:
    """A compressor for zipfile's writer that hands back a stream deflated beforehand, all of it at ``flush``."""

    def __init__(self, stream: bytes) -> None:
        self.stream = stream

    def compress(self, data: bytes) -> bytes:
        return b""

    def flush(self) -> bytes:
        return self.stream


def reproducible() -> bool:
    """With ``SOURCE_DATE_EPOCH`` set, timings are left out so that two runs are byte-identical."""
    return bool(os.environ.get("SOURCE_DATE_EPOCH"))


def written_at() -> _dt.datetime:
    """Now, or ``SOURCE_DATE_EPOCH`` when set (reproducible builds: two runs give identical files)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return _dt.datetime.fromtimestamp(int(epoch), tz=_dt.timezone.utc).replace(tzinfo=None)
    return _dt.datetime.now().replace(microsecond=0)
