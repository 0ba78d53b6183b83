"""Recompute a workbook's model sheets in torch (float64) and diff them cell by cell.

Each sheet is recomputed from its own data and parameters only: features with the workbook's
stored spec (or the recognised Titanic preset) fitted on the sheet's rows (the lesson's ``MAX(Age)`` is its own rows' maximum), every
model column, the per-row loss and the total loss.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from pandas.api.types import is_numeric_dtype

from .diffs import ColumnDiff, SheetDiff, within
from .gradient_compare import gradient_sheet_diffs
from .errors import OptionError
from .formulas import cell
from .workbook.layout import ModelSheet, read_model_sheets
from .models import sheet_columns, tensors
from .ops import LOSSES
from .sheet_layout import LOSS, PREDICTION, block_headers
from .errors import UnseenCategoryWarning


@dataclass
class CompareReport:
    path: Path
    tol: float
    sheets: list[SheetDiff] = field(default_factory=list)
    recalculated: bool = False
    engine: str | None = None

    @property
    def ok(self) -> bool:
        return bool(self.sheets) and all(s.ok for s in self.sheets)

    def to_dict(self) -> dict:
        return {
            "path": str(self.path),
            "tolerance": self.tol,
            "recalculated": self.recalculated,
            "engine": self.engine,
            "ok": self.ok,
            "sheets": [
                {
                    "sheet": s.sheet,
                    "model": s.model,
                    "preset": s.preset,
                    "loss": s.loss,
                    "rows": s.rows,
                    "params": s.params,
                    "params_at": s.params_at,
                    "total_loss": {"cell": s.total_cell, "workbook": s.total_workbook, "recomputed": s.total_recomputed, "ok": s.total_ok},
                    "columns": [vars(c) for c in s.columns],
                    "ok": s.ok,
                }
                for s in self.sheets
            ],
        }


def sheet_features(sheet: ModelSheet) -> pd.DataFrame:
    """The sheet's features as its own formulas compute them.

    Maxima come from the sheet's rows (``MAX(Table[Age])``); a divisor or offset the sheet holds as a value (a
    z-score's mean and standard deviation) is that value, whatever the rows now hold. A blank raw cell takes the sheet's
    ``Fill:`` value where it has one; otherwise it is what a spreadsheet makes of a blank:
    0 in arithmetic (``LOG10(blank+1) = 0``), and equal to no category in ``IF(x="S",1,0)``.
    """
    pre = _sheet_preprocessor(sheet)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnseenCategoryWarning)  # a blank category matches no dummy, as in the sheet
        return pre.transform(sheet.frame)[sheet.features]


def _sheet_preprocessor(sheet: ModelSheet):
    """:meth:`ModelSheet.preprocessor` with a blank raw cell as a spreadsheet reads it (see :func:`sheet_features`)."""
    blank = {c: 0.0 if is_numeric_dtype(sheet.frame[c]) else "" for c in sheet.frame.columns if sheet.frame[c].isna().any()}
    return sheet.preprocessor(blank)


def scale_diffs(sheet: ModelSheet, tol: float) -> list[ColumnDiff]:
    """Each divisor the sheet computes by a formula (``Max:`` = ``MAX(...)``), its cached value against the same
    statistic of the sheet's rows: predict divides by the cached value, so a stale one (written by a program that
    does not recalculate) would scale every prediction's feature wrongly while the feature cells still agree."""
    if not sheet.computed_scales:
        return []
    fitted = _sheet_preprocessor(sheet).scales_
    out = []
    for name, (address, cached) in sheet.computed_scales.items():
        if name not in fitted:  # a step without a fitted divisor: nothing to check it against
            continue
        expected = fitted[name][1]
        held = float(cached) if isinstance(cached, (int, float)) and not isinstance(cached, bool) else np.nan
        diff = abs(held - expected) if np.isfinite(held) else np.inf
        out.append(ColumnDiff(f"{name} divisor", 1, float(diff), address, within(diff, expected, tol)))
    return out


def recompute(sheet: ModelSheet) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every checkable column of ``sheet`` recomputed, and its per-row loss.

    Returns
    -------
    columns : dict of header -> (n_rows,) array
        Features, model columns (``Linear``, ``Lin1``, ``ReLU1``, ``Preds``...) and ``Loss``.
    loss : (n_rows,) array
    """
    features = sheet_features(sheet)
    X = torch.tensor(features.to_numpy(), dtype=torch.float64)  # (n_rows, n_features)
    target = sheet.dataset.target
    y = torch.tensor(target.learned(target.sheet_numbers(sheet.frame[target.column])), dtype=torch.float64)
    out = {name: features[name].to_numpy() for name in sheet.features}
    blocks = sheet_columns(sheet.spec, tensors(sheet.params), X)
    for prefix, values in blocks:
        for u, header in enumerate(block_headers(prefix, values.shape[1])):
            out[header] = values[:, u].numpy()
    preds = blocks[-1][1] if sheet.spec.outputs > 1 else blocks[-1][1][:, 0]  # (n_rows, n_classes) or (n_rows,)
    if target.record.scaled:
        out[PREDICTION] = target.in_units(preds.numpy())
    rows = preds.unsqueeze(-2) if sheet.spec.outputs > 1 else preds.unsqueeze(-1)  # one-row batches: per-row loss
    loss = LOSSES[sheet.loss](rows, y.unsqueeze(-1)).numpy()
    out[LOSS] = loss
    return out, loss


def compare_sheet(sheet: ModelSheet, tol: float) -> SheetDiff:
    recomputed, loss = recompute(sheet)
    columns = []
    for header, values in recomputed.items():
        if header not in sheet.columns:
            continue
        held = sheet.column_values(header)
        diffs = np.abs(held - values)
        diffs[np.isnan(diffs)] = np.inf  # a blank or text cell where a number belongs
        worst = int(np.argmax(diffs))
        ok = all(within(d, v, tol) for d, v in zip(diffs, held))
        address = cell(sheet.first_row + worst, sheet.columns[header])
        columns.append(ColumnDiff(header, len(values), float(diffs[worst]), address, ok))
    columns += scale_diffs(sheet, tol)
    total = float(loss.mean())
    total_cell, total_workbook = sheet.total if sheet.total else (None, None)
    total_ok = total_workbook is None or within(total - total_workbook, total_workbook, tol)
    return SheetDiff(
        sheet.name, sheet.spec.name, sheet.preset, sheet.loss, sheet.n_rows, sheet.n_params, sheet.params_at,
        columns, total_cell, total_workbook, total, total_ok,
    )


def compare_workbook(path: str | Path, tol: float = 1e-9, recalc: bool = False, engine: str = "ironcalc") -> CompareReport:
    """Recompute every lesson-layout sheet of ``path`` and compare it with the workbook's values.

    Parameters
    ----------
    path : path-like
        An .xlsx: the lesson's workbook, one titanic-lab wrote, or either after editing.
    tol : float
        Largest allowed ``|recomputed - workbook| / max(1, |workbook|)`` per cell.
    recalc : bool
        Recalculate the workbook in a spreadsheet engine first (for files without cached
        values, or to check what a spreadsheet engine computes from edited inputs).
    engine : str
        That engine: ``ironcalc``, ``libreoffice`` or ``gnumeric`` (see :mod:`titanic_lab.engines`).

    Raises
    ------
    titanic_lab.workbook.layout.LayoutError
        No sheet is in the lesson layout.
    titanic_lab.workbook.layout.NoCachedValuesError
        The formulas have no cached values and ``recalc`` is False.
    """
    path = Path(path)
    if not recalc:
        return CompareReport(path, tol, [compare_sheet(s, tol) for s in read_model_sheets(path)] + gradient_sheet_diffs(path, tol))
    from .engines import select_engines
    from .reading import check_sheets

    if engine == "all":
        raise OptionError("compare --recalc takes one engine (verify --engine all compares the engines)")
    (chosen,) = select_engines(engine)
    check_sheets(path)  # refuse a non-workbook, a zip bomb or a huge sheet before an engine opens it
    fresh = chosen.recalculate(path)
    sheets = read_model_sheets(path, recalculated=fresh)
    return CompareReport(path, tol, [compare_sheet(s, tol) for s in sheets] + gradient_sheet_diffs(path, tol, fresh),
                         recalculated=True, engine=chosen.name)
