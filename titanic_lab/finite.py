"""Every number that reaches a feature, a parameter or a cell is finite, and small enough to stay so.

A value of a table's column is refused when it is not finite or beyond :data:`MAX_MAGNITUDE`
in size (1e100): the workbook's formulas square and sum it (a z-score's standard deviation, the
squared error of a regression target), and 1e308 squared is infinite even where each value is
not. The checks run where a table is read (:func:`check_table`), after the feature steps
(:func:`check_features`: a z-score or a log of an odd base can still leave the range), on the
target as learned (:func:`check_target`), and on the cells a workbook's reader takes
(:func:`check_sheet`: parameters, the target's scale, the ``Fill:`` cells). Each refusal is
one line naming the column (or sheet and cell), the row and the value.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .errors import DataError
from .file_rows import data_row, line_at

#: The largest size of a number read from a table, a spec or a workbook's cells.
MAX_MAGNITUDE = 1e100
#: Kinds whose column holds numbers: their fill (a spec's, a sheet's ``Fill:`` cell) is a number.
NUMERIC_KINDS = ("number", "log", "family", "alone", "per_ticket")


def _bad(values: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return ~np.isfinite(values) | (np.abs(values) > MAX_MAGNITUDE)


def _show(value: object) -> str:
    if isinstance(value, str):
        return repr(value)
    value = float(value)
    return repr(value) if not math.isfinite(value) else f"{value:g}"


def _problem(value: object, where: str = "") -> str:
    """``non-finite value inf on line 5``, or ``value 1e+308 on line 5, beyond +-1e+100 (...)``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return f"value {_show(value)}{where}"
    if not math.isfinite(number):
        return f"non-finite value {_show(value)}{where}"
    return f"value {_show(value)}{where}, beyond +-{MAX_MAGNITUDE:g} (sums and squares of it overflow)"


def check_table(df: pd.DataFrame, path: object) -> None:
    """Refuse a numeric value of ``df`` that is not finite or beyond :data:`MAX_MAGNITUDE`,
    naming the column, its line in the file (line 1 is the header) and the value."""
    for column in df.columns:
        values = df[column]
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        bad = _bad(numbers) & ~np.isnan(numbers)
        if bad.any():
            first = int(bad.argmax())
            raise DataError(path, f"column {column} has {_problem(numbers[first], f' on line {line_at(values, first)}')}; "
                                  "fix it, or rescale the column")


def check_features(features: pd.DataFrame, where: object) -> None:
    """Refuse a feature value that is not finite or beyond :data:`MAX_MAGNITUDE` (after its step),
    naming the feature, the row of the rows used (1-based), its line in the file when known, and the value."""
    values = features.to_numpy(dtype=float)
    bad = _bad(values)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        in_file = data_row(features, features.index[row])
        line = f" (line {in_file + 2} of the file)" if in_file is not None else ""
        raise DataError(where, f"feature {features.columns[col]} is {_show(values[row, col])} in row {row + 1} of the rows "
                               f"used{line}: its step overflows (a z-score of values near +-{MAX_MAGNITUDE:g}, a log of an odd "
                               "base); fix the column's values or give the step another scale")


#: A target's offset may lie at most this many times its values' spread from the nearest of them: farther, and
#: ``target - offset`` keeps fewer than about 7 of float64's 16 significant digits of the differences between rows.
OFFSET_DISTANCE = 1e9


def check_target(y: np.ndarray, column: str, divisor: float, where: object, raw: np.ndarray | None = None,
                 offset: float = 0.0) -> None:
    """Refuse a target that, as learned (``(target - offset) / scale``), is not finite or beyond :data:`MAX_MAGNITUDE`,
    or whose ``offset`` (a spec's) lies more than :data:`OFFSET_DISTANCE` spreads of its ``raw`` values from them:
    ``target - 1e20`` is the same number in every row."""
    bad = _bad(np.asarray(y, dtype=float))
    if bad.any():
        first = int(bad.argmax())
        raise DataError(where, f"target {column} as learned (divided by its scale {divisor:g}) is {_show(y[first])} in row {first + 1} of "
                               "the rows used; give [target] scale nearer the target's size")
    values = np.asarray(raw, dtype=float) if raw is not None else np.empty(0)
    values = values[np.isfinite(values)]
    if offset and len(values) and values.max() > values.min():
        spread = float(values.max() - values.min())
        distance = float(max(values.min() - offset, offset - values.max(), 0.0))
        if distance > OFFSET_DISTANCE * spread:
            raise DataError(where, f"[target] offset = {offset:g} lies {distance:.3g} from target {column}'s values, which span "
                                   f"{spread:.3g}: minus it, every row is nearly the same number; give an offset near the values "
                                   "(train learns their smallest), or leave offset and scale out")


def text_fill(fills: dict[str, object], dataset) -> str | None:
    """The first column of numbers (a numeric feature's) whose ``Fill:`` cell in ``fills`` holds no number, or None."""
    numeric = {f.column for f in dataset.features.features if f.kind in NUMERIC_KINDS}
    return next((c for c, v in fills.items() if c in numeric and (isinstance(v, bool) or not isinstance(v, (int, float)))), None)


def check_sheet(sheet, path: object) -> None:
    """Refuse a model sheet whose cells the reader takes are not finite numbers within :data:`MAX_MAGNITUDE`:
    every number cell of the sheet, the parameters, the target's scale and the ``Fill:`` cells
    (a number for a column of numbers), naming the sheet and the cell."""
    from . import sheet_layout as sl
    from .formulas import cell

    def refuse(r: int, c: int, value: object, what: str) -> DataError:
        return DataError(path, f"sheet {sheet.name!r} cell {cell(r, c)}{what}: {_problem(value)}; fix the cell")

    for r, row in enumerate(sheet.values):  # every number; above the headers (scales, maxima, fills) within the bound too
        if r >= sheet.header_row and math.isfinite(sum([v for v in row if isinstance(v, float)])):
            continue  # no infinity or NaN in the row (their sum is not finite; nor is one that overflows: looked at below)
        for c, value in enumerate(row):
            if isinstance(value, float) and (not math.isfinite(value) or (r < sheet.header_row and _bad(np.array([value])).any())):
                raise refuse(r, c, value, "")
    for name, array in sheet.params.items():
        values = np.asarray(array, dtype=np.float64).ravel()
        if _bad(values).any():
            bad = float(values[_bad(values).argmax()])
            r, c = _find(sheet.values, bad)
            raise refuse(r, c, bad, f" (param {name})")
    scale = sheet.dataset.target.scale
    if scale is not None and (_bad(np.array([scale])).any() or abs(scale) < 1 / MAX_MAGNITUDE):
        r, c = _find(sheet.values, scale)
        raise refuse(r, c, scale, f" ({sl.TARGET_SCALE} of the target)")
    fill_row = sheet.header_row - (sl.HEADER_ROW - sl.FILL_ROW)
    text = text_fill(sheet.fills, sheet.dataset)  # the first; a bad number in a column before it is met first
    for column, value in sheet.fills.items():
        at = f" ({sl.FILL} of column {column})"
        if column == text:
            raise DataError(path, f"sheet {sheet.name!r} cell {cell(fill_row, sheet.columns[column])}{at}: "
                                  f"{_show(value) if isinstance(value, str) else repr(value)} is not a number; the column "
                                  "holds numbers, so write one (or clear the cell)")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and _bad(np.array([float(value)])).any():
            raise refuse(fill_row, sheet.columns[column], value, at)
    numeric = dict.fromkeys(f.column for f in sheet.dataset.features.features if f.kind in NUMERIC_KINDS)
    for column in (c for c in numeric if c in sheet.frame.columns and c in sheet.columns):  # raw cells its features read
        values = sheet.frame[column]
        if values.dtype != object:  # numbers (and blanks) only
            continue
        text = values.map(lambda v: isinstance(v, str) or isinstance(v, bool), na_action="ignore").fillna(False).astype(bool)
        if text.any():
            first = int(text.to_numpy().argmax())
            raise DataError(path, f"sheet {sheet.name!r} cell {cell(sheet.first_row + first, sheet.columns[column])}: "
                                  f"{values.iloc[first]!r} is not a number; column {column}'s feature reads numbers, so "
                                  "write one (or clear the cell)")


def _find(rows: list[list[object]], value: float) -> tuple[int, int]:
    """The first cell holding ``value`` (NaN matches NaN); (0, 0) when none does."""
    for r, row in enumerate(rows):
        for c, found in enumerate(row):
            if isinstance(found, float) and (found == value or (math.isnan(found) and math.isnan(value))):
                return r, c
    return 0, 0
