"""Find the model sheets of a workbook in the lesson's layout and read their data and params.

Everything is found by header names, not fixed addresses, so the lesson's own workbook, every
workbook titanic-lab writes, and either after a person edited it in Excel or LibreOffice are
read the same way:

* the header row is, of a sheet's first rows with a cell holding the target's name, the one
  holding the most of the table's other headers (its raw columns and features; the first of
  equals): the target of the spec the workbook stores (its ``spec`` sheet), else, for a workbook
  without one (the lesson's own), the default dataset's (Titanic's ``Survived``). A value that
  is the target's name (a class named like its column, listed right of ``Classes:`` above the
  headers, or labelling a row of params) is not taken for the headers; data rows follow while
  the target's column holds a number (a multiclass target: any class); a header's first
  occurrence is its data column;
* the features are the stored spec's; without one, the default dataset's preset is recognised
  from the feature headers (``Age_N``, ``log_Fare``... or ``Age_N``, ``LogFare_N``,
  ``Sex_male``...);
* the model from its columns: ``Linear`` (with ``Preds``: sigmoid), ``Lin1..K`` (nnet),
  ``L1_1...`` (hidden/deep);
* params either as rows under a second copy of the feature headers (the lesson's linear and
  nnet, last header ``Const``), as a block under ``Column | Param1 | Param2`` (the lesson's
  mmult), or as ``W1``, ``c1``, ``W2``... blocks (titanic-lab's layer chains);
* the total loss is the cell right of ``Total loss:``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np
import pandas as pd

from .. import sheet_layout as sl
from ..choosing import FOLDS, PAIRED_SE, VALIDATION
from ..datasets import registry
from ..datasets.registry import parse_spec
from ..datasets.spec import DatasetSpec, Target
from ..errors import DataError, TitanicLabError
from ..file_rows import mark_sheet, sheet_rows
from ..finite import MAX_MAGNITUDE, check_sheet, text_fill
from ..formulas import cell
from ..gradient_layout import is_gradient_sheet
from ..model_kinds import CHAIN, KINDS, ROW, UNITS, kind_of_sheet
from ..model_spec import BN_PARTS, ModelSpec

if TYPE_CHECKING:
    from ..features.steps import Feature
    from ..models import Params
from ..ops import ACTIVATIONS, Activation, loss_of_formula
from ..preprocessing import TabularPreprocessor
from ..reading import column_at, formula_cells, sheet_heads, sheet_values, value_at

SEARCH_ROWS = 20
#: A sheet's parameters as numpy arrays, by the names :mod:`titanic_lab.models` gives them (no torch: predict reads them).
ArrayParams = dict[str, np.ndarray]
#: A workbook without a stored spec (the lesson's) is read as the flagship dataset's, its preset recognised.
_FALLBACK = registry.default()


class LayoutError(TitanicLabError):
    """A workbook has no sheet in the lesson layout, or a sheet's layout is incomplete."""


class NoCachedValuesError(TitanicLabError):
    """A workbook's formulas store no cached values, so there is nothing to compare."""


@dataclass
class ModelSheet:
    """One model sheet read from a workbook.

    Attributes
    ----------
    frame : pandas.DataFrame
        The sheet's raw columns (``Survived``, ``Pclass``, ``Sex``, ...), one row per data row.
    columns : dict of str to int
        Header -> column (0-based) of the data table and the model columns.
    params : dict of numpy.ndarray
        In ``titanic_lab.models`` shapes, rows in the preset's feature order (float64; :func:`titanic_lab.models.tensors`
        makes them torch's).
    """

    name: str
    header_row: int
    n_rows: int
    preset: str
    features: list[str]
    #: The table's description: the workbook's stored spec, or Titanic's with the recognised preset.
    dataset: DatasetSpec
    spec: ModelSpec
    params: ArrayParams
    params_at: str
    loss: str
    frame: pd.DataFrame
    columns: dict[str, int]
    values: list[list[object]] = field(repr=False)
    total: tuple[str, float] | None = None
    fills: dict[str, object] = field(default_factory=dict)
    #: The ``Valid loss:`` cell's value (titanic-lab's workbooks trained with validation rows).
    valid_loss: float | None = None
    #: The validation metrics the sheet records (``Valid accuracy:``...; :mod:`titanic_lab.choosing`), by name.
    validation: dict[str, float] = field(default_factory=dict)
    #: Why :func:`titanic_lab.predict.choose_sheet` chose this sheet (set by predict).
    chosen_why: str | None = None
    #: The sheet whose table holds this sheet's features (``--features-once``); None: this sheet's own table.
    features_on: str | None = None
    #: Scaled feature -> (offset, divisor) the sheet holds above its column (a z-score's mean and standard deviation):
    #: its formulas read these, not statistics of its rows. Read with the formulas (compare), a divisor that is a
    #: formula (``MAX(...)``) is not here: it is recomputed from the rows.
    scales: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: Scaled feature -> (cell, cached value) of a divisor the sheet computes by a formula (``MAX(...)``), read with the
    #: formulas (compare): predict takes that cached value, so compare checks it against the rows' own statistic.
    computed_scales: dict[str, tuple[str, object]] = field(default_factory=dict)

    @property
    def first_row(self) -> int:
        return self.header_row + 1

    @property
    def n_params(self) -> int:
        return sum(p.size for p in self.params.values())

    def preprocessor(self, blanks: dict[str, object] | None = None) -> TabularPreprocessor:
        """The sheet's features as its formulas compute them: the table's spec fitted on the sheet's rows, its
        ``Fill:`` cells (over ``blanks``, raw column -> what a blank counts as where the sheet has no fill) and the
        offsets and divisors it holds as values (:attr:`scales`)."""
        try:
            pre = TabularPreprocessor(self.dataset.features, self.dataset.target.column).fit(self.frame)
        except DataError:
            raise
        except TitanicLabError as exc:  # a cell the features cannot read (a date cell holding text): named with its workbook
            where = sheet_rows(self.frame)
            if where is None:
                raise
            raise DataError(where.book, str(exc)) from None
        given = {**(blanks or {}), **self.fills}
        pre.set_fills({c: v for c, v in given.items() if c in pre.fill_values_})
        pre.scales_.update({name: held for name, held in self.scales.items() if name in pre.scales_})
        return pre

    def column_values(self, header: str) -> np.ndarray:
        col = self.columns[header]
        return np.array([_number(v) for v in column_at(self.values, self.first_row, self.n_rows, col)])


def _number(value: object) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    return math.nan


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_model_sheets(
    path: str | Path, sheets: list[str] | None = None, recalculated: dict[str, dict[tuple[int, int], object]] | None = None,
    *, formulas: bool = True, first: FirstRows | None = None,
) -> list[ModelSheet]:
    """Every sheet of ``path`` in the lesson layout (or only ``sheets``), in workbook order.

    ``recalculated`` (from :meth:`titanic_lab.engines.Engine.recalculate`) replaces the cached
    value of every formula cell. ``formulas=False`` reads the cached values only, never the
    formulas (what predicting needs: the params are values): then ``loss`` is the default loss
    and cached values are not checked. ``first`` is what :func:`first_rows` gives for ``path``, when
    the caller has read it already.

    Raises
    ------
    LayoutError
        No sheet is in the lesson layout; the message says which header is missing where.
    NoCachedValuesError
        The formulas of a model sheet have no cached values.
    """
    path = Path(path)
    # Headers first: a sheet that is no model sheet is never read whole.
    head_rows, stored = first if first is not None else (sheet_heads(path, SEARCH_ROWS), None)
    if sheets is not None:
        missing = [s for s in sheets if s not in head_rows]
        if missing:
            raise LayoutError(f"{path}: no sheet named {', '.join(map(repr, missing))} (sheets: {', '.join(head_rows)})")
    if first is None:  # read after the sheets asked for are found
        stored = stored_spec(path, head_rows)
    candidates = [name for name in model_sheet_names(head_rows, stored) if sheets is None or name in sheets]
    values = sheet_values(path, candidates) if candidates else {}
    cells = formula_cells(path, candidates) if candidates and formulas else {}
    if recalculated is not None:
        for name, found_cells in cells.items():
            overlay(values.setdefault(name, []), found_cells, recalculated.get(name, {}))
    found, problems = [], []
    for name, rows in values.items():
        try:
            sheet = _read_sheet(name, rows, cells.get(name, {}), stored)
        except NoCachedValuesError as exc:
            raise NoCachedValuesError(f"{path}: {exc}") from None
        except LayoutError as exc:
            problems.append(str(exc) if str(exc).startswith("sheet ") else f"sheet {name!r}: {exc}")
            continue
        if sheet is not None:
            # Each row of its raw columns knows its cells: a message about one names the sheet and cell (file_rows).
            mark_sheet(sheet.frame, path, name, sheet.first_row, {c: sheet.columns[c] for c in sheet.frame.columns})
            check_sheet(sheet, path)  # the cells the reader takes: finite numbers, a number for a numeric Fill:
            found.append(sheet)
    _data_from_features_sheet(found, problems, head_rows)
    if found and problems:  # a model sheet that cannot be read is an error, not a sheet to skip
        raise LayoutError(f"{path}: {'; '.join(problems)}; fix it, or remove the sheet")
    if not found:
        detail = "; ".join(problems) if problems else (
            f"no sheet has the {stored.target.column!r} header its spec names" if stored is not None else
            f"no sheet has a {_FALLBACK.default_spec().target.column!r} header in its first rows; a workbook "
            f"titanic-lab wrote for another table keeps that table's description in its {sl.SPEC_SHEET!r} sheet, "
            "which this one lacks")
        raise LayoutError(f"{path}: no sheet in the lesson layout ({detail})")
    return found


def _data_from_features_sheet(found: list[ModelSheet], problems: list[str], heads: dict[str, list[list[object]]]) -> None:
    """A sheet whose formulas read the features on another sheet (``--features-once``) computes from that sheet's
    raw columns, fills and held scales: they become its own (its raw columns are a copy), all but its target,
    which its own loss reads. That sheet must be a model sheet holding its features, with the same rows. When
    that sheet was not read (predict reads the one it predicts with), its fills and scales come from its first
    rows (``heads``) and the sheet's own raw columns stay."""
    by_name = {s.name: s for s in found}
    for sheet in found:
        if sheet.features_on is None:
            continue
        held = by_name.get(sheet.features_on)
        where = f"sheet {sheet.name!r}: its features are on sheet {sheet.features_on!r}"
        if held is None and sheet.features_on in heads:
            try:
                sheet.fills, sheet.scales = _head_fills_and_scales(heads[sheet.features_on], sheet)
                continue
            except LayoutError as exc:
                problems.append(f"{where}, {exc}")
                continue
        if held is None or held.features_on is not None:
            problems.append(f"{where} (the cell right of {sl.FEATURES_ON!r}), which is no model sheet holding them")
            continue
        if held.n_rows != sheet.n_rows:
            problems.append(f"{where}, which has {held.n_rows} data rows against its {sheet.n_rows}")
            continue
        target = sheet.dataset.target.column
        sheet.frame = held.frame.assign(**{target: sheet.frame[target].to_numpy()})
        sheet.fills, sheet.scales = held.fills, held.scales


def _head_fills_and_scales(head: list[list[object]], sheet: ModelSheet) -> tuple[dict[str, object], dict[str, tuple[float, float]]]:
    """The ``Fill:`` cells and held scales of the features' sheet whose first rows are ``head``, for ``sheet``."""
    header_row = _header_row(head, *_headers_of(sheet.dataset))
    if header_row is None or any(sl.FEATURES_ON in row for row in head[:header_row]):
        raise LayoutError(f"which is no model sheet holding them (the cell right of {sl.FEATURES_ON!r})")
    columns: dict[str, int] = {}
    for col, h in enumerate(head[header_row]):
        if isinstance(h, str) and h and h not in columns:
            columns[h] = col
    missing = [c for c in (*sheet.features, *sheet.frame.columns) if c not in columns]
    if missing:
        raise LayoutError(f"which lacks the header(s) {', '.join(missing[:10])}")
    for r in range(header_row):  # the fills and scales read: finite numbers within the bound, as check_sheet asks
        for c, value in enumerate(head[r]):
            if isinstance(value, float) and not (math.isfinite(value) and abs(value) <= MAX_MAGNITUDE):
                raise LayoutError(f"whose cell {cell(r, c)} holds {value!r}, not a finite number of at most {MAX_MAGNITUDE:g}")
    raw = [c for c in sheet.frame.columns if c != sheet.dataset.target.column]
    fills = _fills(head, header_row, columns, raw)
    text = text_fill(fills, sheet.dataset)
    if text is not None:
        fill_at = cell(header_row - (sl.HEADER_ROW - sl.FILL_ROW), columns[text])
        raise LayoutError(f"whose cell {fill_at} ({sl.FILL} of column {text}) holds {fills[text]!r}, not a number")
    return fills, _held_scales(head, {}, header_row, columns, sheet.dataset)


def overlay(rows: list[list[object]], cells, fresh: dict[tuple[int, int], object]) -> None:
    """Put the recalculated value (``""`` when the engine left it empty) in every formula cell."""
    for row, col in cells:
        while len(rows) <= row:
            rows.append([])
        line = rows[row]
        if len(line) <= col:
            line.extend([""] * (col + 1 - len(line)))
        line[col] = fresh.get((row, col), "")


#: A workbook's first rows (:func:`~titanic_lab.reading.sheet_heads`, :data:`SEARCH_ROWS` of each sheet) and its stored spec.
FirstRows = tuple[dict[str, list[list[object]]], DatasetSpec | None]


def first_rows(path: str | Path) -> FirstRows:
    """Each sheet's first :data:`SEARCH_ROWS` rows and the table description the workbook stores
    (:func:`stored_spec`), what a reader looks at before it reads a sheet whole."""
    heads = sheet_heads(path, SEARCH_ROWS)
    return heads, stored_spec(path, heads)


def stored_spec(path: str | Path, heads: dict[str, list[list[object]]] | None = None) -> DatasetSpec | None:
    """The table description a titanic-lab workbook stores in its ``spec`` sheet; None without one
    (the lesson's workbook, or one written before the sheet existed)."""
    heads = sheet_heads(path, SEARCH_ROWS) if heads is None else heads
    if sl.SPEC_SHEET not in heads:
        return None
    rows = sheet_values(path, [sl.SPEC_SHEET]).get(sl.SPEC_SHEET, [])
    text = "\n".join(str(row[0]) if row and row[0] is not None else "" for row in rows)
    return parse_spec(text, f"{path} sheet {sl.SPEC_SHEET!r}")


def model_sheet_names(heads: dict[str, list[list[object]]], stored: DatasetSpec | None) -> list[str]:
    """The sheets whose first rows (``heads``, from :func:`~titanic_lab.reading.sheet_heads`) may hold a model, in workbook order."""
    return [name for name, rows in heads.items()
            if name != sl.SPEC_SHEET and not is_gradient_sheet(name) and _may_be_model(name, rows, stored)]


def recorded_validation(rows: list[list[object]], task: str) -> dict[str, float]:
    """The validation metrics a sheet's first rows record (:mod:`titanic_lab.choosing`), by name; those it lacks are left out."""
    found = {m.name: label_value(rows[:sl.HEADER_ROW], 0, m.label) for m in VALIDATION.get(task, ())}
    found[PAIRED_SE] = label_value(rows[:sl.HEADER_ROW], 0, sl.VALID_PAIRED_SE)
    folds = label_value(rows[:sl.HEADER_ROW], 0, sl.VALID_FOLDS)  # a count; an edited cell that is none is left out
    found[FOLDS] = folds if folds is not None and math.isfinite(folds) and folds == int(folds) and 2 <= folds <= 1000 else None
    return {k: v for k, v in found.items() if v is not None}


def _header_row(rows: list[list[object]], target: str, others: tuple[str, ...] = ()) -> int | None:
    """The data table's header row among a sheet's first :data:`SEARCH_ROWS` rows: of those holding the ``target``'s
    name, the one holding the most of the table's ``others`` headers (:func:`_headers_of`), the first of equals; None
    when no row holds the target's name.

    The first row holding the target's name is not enough: a class named like the target's column is listed right of
    ``Classes:`` above the headers, labels a row of a multiclass model's params and fills the target's cells below
    them; a text column's fill (above) or values (below) may be any header. Such a row holds the name but not the
    table's other headers in the same row."""
    wanted = set(others) - {target}
    best, most = None, -1
    for r in range(min(SEARCH_ROWS, len(rows))):
        if target in rows[r]:
            held = len(wanted.intersection(v for v in rows[r] if isinstance(v, str)))
            if held > most:
                best, most = r, held
    return best


def _headers_of(dataset: DatasetSpec | None) -> tuple[str, tuple[str, ...]]:
    """The target's header and the other headers a model sheet's data table holds (raw columns and features): the
    stored spec's, else (the lesson's workbook) the default dataset's raw columns and every preset's features."""
    if dataset is not None:
        return dataset.target.column, (*dataset.raw_columns, *(dataset.features.feature_names or ()))
    presets = _FALLBACK.presets.values()
    return (_FALLBACK.default_spec().target.column,
            (*_FALLBACK.raw_columns, *dict.fromkeys(n for p in presets for n in p.feature_names or ())))


def _may_be_model(name: str, head: list[list[object]], stored: DatasetSpec | None) -> bool:
    """Whether a sheet's first rows hold the target's header and the features' headers (or most of them)."""
    header_row = _header_row(head, *_headers_of(stored))
    if header_row is None:
        return False
    columns = {h: c for c, h in reversed(list(enumerate(head[header_row]))) if isinstance(h, str) and h}
    if stored is not None and any(sl.FEATURES_ON in row for row in head[:header_row]):
        return True  # its features are on another sheet (--features-once)
    if stored is not None:  # a sheet with a derived feature's header (a raw-data sheet has none)
        names = stored.features.feature_names or ()
        derived = [n for n in names if n not in stored.raw_columns] or names
        return any(n in columns for n in derived)
    try:
        return _detect_preset(columns, name)[0] is not None
    except LayoutError:
        return True  # read it whole: the same error then names what is missing


def _read_sheet(name: str, rows: list[list[object]], formulas: dict[tuple[int, int], str],
                stored: DatasetSpec | None) -> ModelSheet | None:
    target, others = _headers_of(stored)
    header_row = _header_row(rows, target, others)
    if header_row is None:
        return None  # not a data sheet at all (README, history...)
    headers = rows[header_row]
    columns: dict[str, int] = {}
    for col, h in enumerate(headers):
        if isinstance(h, str) and h and h not in columns:
            columns[h] = col
    where = f"sheet {name!r} row {header_row + 1}"
    features_on = label_text(rows[:header_row], sl.FEATURES_ON)
    if stored is not None:
        dataset, features = stored, stored.features.feature_names or ()
        if features_on is not None:  # the features' headers here head the params only
            columns = {h: c for h, c in columns.items() if h not in features or h in stored.raw_columns}
        missing = [n for n in features if n not in columns] if features_on is None else []
        if missing:
            raise LayoutError(f"{where}: missing feature header(s) {_some(missing, 10)} of the workbook's spec")
    else:
        if features_on is not None:
            raise LayoutError(f"{where}: its features are on sheet {features_on!r}, and the workbook has no "
                              f"{sl.SPEC_SHEET!r} sheet naming them; restore that sheet, or train again")
        preset, features = _detect_preset(columns, where)
        if preset is None:
            return None
        dataset = _FALLBACK.spec(preset)
    n_rows, classes = 0, dataset.target.task == "multiclass"  # a class is a number or a text
    while _is_number(held := value_at(rows, header_row + 1 + n_rows, columns[target])) or classes and held not in ("", None):
        n_rows += 1
    if n_rows == 0:
        first = value_at(rows, header_row + 1, columns[target])
        if first not in ("", None):  # a text typed over the first row's target
            raise LayoutError(f"sheet {name!r} cell {cell(header_row + 1, columns[target])} ({target}): {first!r} is not a "
                              "number; write the row's target")
        raise LayoutError(f"{where}: no data rows under the headers")
    gap = header_row + 1 + n_rows  # the first row that is no data row: a blank one with data rows below it was
    below = value_at(rows, gap + 1, columns[target])  # inserted or emptied by hand
    if value_at(rows, gap, columns[target]) in ("", None) and (_is_number(below) or classes and below not in ("", None)):
        raise LayoutError(f"sheet {name!r}: row {gap + 1} is blank in the {target} column between data rows (rows "
                          f"{header_row + 2}-{gap} above it, more below); remove the row, or train again")
    known = registry.builtin(dataset)
    raw_columns = (target, *dict.fromkeys((*(known.raw_columns if known else ()), *dataset.raw_columns)))
    missing_raw = [c for c in raw_columns if c not in columns]
    if missing_raw:
        raise LayoutError(f"{where}: missing raw column header(s) {', '.join(missing_raw)}")
    frame = pd.DataFrame({c: [_raw(v) for v in column_at(rows, header_row + 1, n_rows, columns[c])] for c in raw_columns})
    data = _data_cells(header_row, headers)
    spec, params, params_at = _read_model(rows, header_row, headers, columns, features, where)
    loss = _loss_kind(formulas, header_row + 1, columns.get(sl.LOSS))
    if sl.LOSS not in columns:
        raise LayoutError(f"{where}: missing header {sl.LOSS!r}")
    if dataset.target.is_regression:
        scale = label_value(rows, 0, sl.TARGET_SCALE, data=data)
        if scale is None or scale == 0:
            raise LayoutError(f"{where}: a regression sheet needs a non-zero number right of the label {sl.TARGET_SCALE!r}")
        offset = _target_offset(rows, where, dataset.target.offset)
        dataset = replace(dataset, target=replace(dataset.target, scale=scale, offset=offset))
    _check_cached(rows, formulas, name)
    return ModelSheet(
        name=name, header_row=header_row, n_rows=n_rows, preset=dataset.features.name, features=list(features),
        dataset=dataset, spec=spec, params=params, params_at=params_at, loss=loss, frame=frame, columns=columns, values=rows,
        total=_total_loss(rows, header_row + 1 + n_rows, data),
        fills=_fills(rows, header_row, columns, raw_columns[1:]),
        valid_loss=label_value(rows, 0, sl.VALID_LOSS, data=data),
        validation=recorded_validation(rows[:header_row], dataset.target.task),
        features_on=features_on,
        scales=_held_scales(rows, formulas, header_row, columns, dataset),
        computed_scales={feat.output_name: (cell(r, col), value_at(rows, r, col))
                         for feat, r, col in _scale_cells(header_row, columns, dataset) if (r, col) in formulas},
    )


def _scale_cells(header_row, columns, dataset: DatasetSpec) -> Iterator[tuple[Feature, int, int]]:
    """Each scaled feature with the row and column of its divisor's cell (:data:`~.sheet_layout.SCALE_ROW`)."""
    scale_row = header_row - (sl.HEADER_ROW - sl.SCALE_ROW)
    for feat in dataset.features.features:
        col = columns.get(feat.output_name)
        if feat.scale is not None and col is not None and scale_row >= 0:
            yield feat, scale_row, col


def _held_scales(rows, formulas, header_row, columns, dataset: DatasetSpec) -> dict[str, tuple[float, float]]:
    """Each scaled feature's offset and divisor held above its column (:data:`~.sheet_layout.SCALE_ROW`, a
    z-score's mean in :data:`~.sheet_layout.FILL_ROW`); a feature whose cells hold no number is left out. With the
    formulas known (compare), a divisor that is a formula (``MAX(...)``) is left out too, to be recomputed from
    the rows; without (predict), its cached value is what the sheet computed."""
    offset_row = header_row - (sl.HEADER_ROW - sl.FILL_ROW)
    out = {}
    for feat, scale_row, col in _scale_cells(header_row, columns, dataset):
        if (scale_row, col) in formulas:
            continue
        divisor = value_at(rows, scale_row, col)
        offset = value_at(rows, offset_row, col) if feat.scale == "zscore" else 0.0
        for r, value in ((scale_row, divisor), (offset_row, offset)):  # an edited cell the formulas could not use
            if value not in ("", None) and (not _is_number(value) or (r == scale_row and value == 0)):
                raise LayoutError(f"cell {cell(r, col)} (above {feat.output_name}) holds {value!r}, which its formulas "
                                  f"cannot {'divide by' if r == scale_row else 'subtract'}; write a number"
                                  f"{' other than 0' if r == scale_row else ''}, or train again")
        if _is_number(divisor) and _is_number(offset) and divisor != 0:
            out[feat.output_name] = (float(offset), float(divisor))
    return out


def _fills(rows, header_row, columns, raw_columns) -> dict[str, object]:
    """The ``Fill:`` row above the headers (titanic-lab's workbooks): raw column -> fill value."""
    row = header_row - (sl.HEADER_ROW - sl.FILL_ROW)
    if row < 0 or sl.FILL not in rows[row]:
        return {}
    found = {c: value_at(rows, row, columns[c]) for c in raw_columns}
    return {c: v for c, v in found.items() if v != "" and not sl.is_label(v)}  # the "Fill:" label sits left of the first


def _raw(value: object) -> object:
    return np.nan if value == "" or value is None else value


def _detect_preset(columns: dict[str, int], where: str) -> tuple[str | None, tuple[str, ...]]:
    """The preset whose feature headers the sheet has; None for a sheet of raw data only."""
    complete = [p for p in _FALLBACK.presets.values() if p.feature_names and all(n in columns for n in p.feature_names)]
    if complete:  # the largest: the groups preset's headers include every extended one
        widest = max(complete, key=lambda p: len(p.feature_names))
        return widest.name, widest.feature_names
    best, best_missing = None, None
    for preset in _FALLBACK.presets.values():
        names = preset.feature_names or ()
        missing = [n for n in names if n not in columns]
        derived = [n for n in names if n not in _FALLBACK.raw_columns]  # a raw-data sheet has none of these
        if len(missing) < len(derived) and (best_missing is None or len(missing) < len(best_missing)):
            best, best_missing = preset, missing
    if best is not None:
        raise LayoutError(f"{where}: missing feature header(s) {', '.join(best_missing)} of the {best.name} preset")
    return None, ()


def _activation(columns: dict[str, int], layer: int | None) -> tuple[Activation, sl.HiddenBlocks]:
    """The activation whose header (``ReLU``, ``Tanh``...) heads the first unit of hidden layer
    ``layer`` (None: the nnet's units), and that layer's block names; ReLU when none does."""
    found = [a for a in ACTIVATIONS.values() if sl.unit_header(sl.hidden_blocks(layer, a.header).activation, 0) in columns]
    activation = found[0] if found else ACTIVATIONS["relu"]
    return activation, sl.hidden_blocks(layer, activation.header)


def _units(columns: dict[str, int], prefix: str) -> int:
    k = 0
    while f"{prefix}{k + 1}" in columns:
        k += 1
    return k


def _data_cells(header_row: int, headers: list[object]) -> tuple[int, int]:
    """Where a model sheet's data values are: the rows under ``header_row`` in the data table's columns (those left of
    the first blank header cell). A label the reader looks for (a params block's corner ``W2``, a constant's ``c1``,
    ``Total loss:``...) found there is a value of the data (a text column's level ``c1``), not the label: see
    :func:`_is_data`."""
    end = next((c for c, h in enumerate(headers) if h in ("", None)), len(headers))
    return header_row, end


def _is_data(data: tuple[int, int] | None, r: int, c: int) -> bool:
    """Whether cell (``r``, ``c``) holds a value of the data (:func:`_data_cells`), not a label."""
    return data is not None and r > data[0] and c < data[1]


def _label_at(rows, start_row: int, label: str, *, column: int | None = None,
              data: tuple[int, int] | None = None) -> tuple[int, int] | None:
    """The first cell from ``start_row`` on holding ``label``: in ``column`` only when given, and never a data value
    (``data``, :func:`_data_cells`); None when there is none."""
    for r in range(start_row, len(rows)):
        row = rows[r]
        if column is not None:
            if column < len(row) and row[column] == label:
                return r, column
            continue
        if label not in row:  # a search in C: a sheet has thousands of rows
            continue
        c = row.index(label)
        if not _is_data(data, r, c):
            return r, c
        found = next((c for c in range(data[1], len(row)) if row[c] == label), None)  # right of the data table
        if found is not None:
            return r, found
    return None


def _read_model(rows, header_row, headers, columns, features, where) -> tuple[ModelSpec, ArrayParams, str]:
    nnet_first, chain_first = sl.unit_header(sl.LIN, 0), sl.unit_header(sl.hidden_blocks(1, "").layer, 0)
    data = _data_cells(header_row, headers)
    if nnet_first in columns:
        k = _units(columns, sl.LIN)
        activation, blocks = _activation(columns, None)
        if _units(columns, blocks.activation) != k or sl.PREDS not in columns:
            first, last = sl.unit_header(blocks.activation, 0), sl.unit_header(blocks.activation, k - 1)
            raise LayoutError(f"{where}: {nnet_first}..{sl.unit_header(sl.LIN, k - 1)} need {first}..{last} and {sl.PREDS}")
        block = _find_block(rows, header_row, sl.COLUMN, features, data=data)
        if block is not None:
            W, at = block
        else:
            W, at = _param_rows(rows, header_row, headers, columns, features, k, where)
        batchnorm = sl.unit_header(blocks.batchnorm, 0) in columns
        spec, params = _model_of(UNITS, [W], [None], columns, activation.name, batchnorm, where)
        return spec, {**params, **_bn_params(rows, header_row, 1, k, batchnorm, where, data=data)}, at
    if chain_first in columns:
        return _read_chain(rows, header_row, columns, features, where, data)
    if sl.LINEAR in columns or f"{sl.LINEAR}1" in columns:  # one column, or one per class
        w, at = _param_rows(rows, header_row, headers, columns, features, max(1, _units(columns, sl.PROBS)), where)
        spec, params = _model_of(ROW, [w], [None], columns, "relu", False, where)
        return spec, params, at
    raise LayoutError(f"{where}: no model columns ({sl.LINEAR}, {nnet_first}, or {chain_first})")


def _param_rows(rows, header_row, headers, columns, features, k, where) -> tuple[np.ndarray, str]:
    """Params as rows under a second copy of the feature headers (the last ``Ones``, or the lesson's ``Const``)."""
    start = None
    for labels in (list(features), sl.param_labels(features)):
        start = next((c for c, h in enumerate(headers)
                      if h == labels[0] and c != columns.get(labels[0]) and headers[c : c + len(labels)] == labels), None)
        if start is not None:
            break
    if start is None:
        raise LayoutError(f"{where}: no params block (the feature headers {labels[0]}..{labels[-1]} repeated over the params)")
    W = np.empty((len(features), k))
    for u in range(k):
        for j in range(len(features)):
            v = value_at(rows, header_row + 1 + u, start + j)
            if not _is_number(v):
                raise LayoutError(f"{where}: param {labels[j]} of unit {u + 1} at {cell(header_row + 1 + u, start + j)} is not a number")
            W[j, u] = float(v)
    return W, f"{cell(header_row + 1, start)}:{cell(header_row + k, start + len(features) - 1)}"


def _find_block(rows, start_row, corner, labels, *, column: int | None = None,
                data: tuple[int, int] | None = None) -> tuple[np.ndarray, str] | None:
    """A params block: ``corner`` then unit headers on one row, ``labels`` down its first column; the corner in
    ``column`` only when given, and never a data value (:func:`_label_at`)."""
    found = _label_at(rows, start_row, corner, column=column, data=data)
    return None if found is None else _block_at(rows, *found, labels, corner)


def _block_at(rows, r, c, labels, corner) -> tuple[np.ndarray, str]:
    width = 0
    while value_at(rows, r, c + 1 + width) not in ("", None) and isinstance(value_at(rows, r, c + 1 + width), str):
        width += 1
    found = [value_at(rows, r + 1 + i, c) for i in range(len(labels))]
    if found != list(labels):
        raise LayoutError(f"params block {corner!r} at {cell(r, c)}: row labels {found} differ from {list(labels)}")
    W = np.empty((len(labels), width))
    for i in range(len(labels)):
        for j in range(width):
            v = value_at(rows, r + 1 + i, c + 1 + j)
            if not _is_number(v):
                raise LayoutError(f"params block {corner!r}: {cell(r + 1 + i, c + 1 + j)} is not a number")
            W[i, j] = float(v)
    return W, f"{cell(r + 1, c + 1)}:{cell(r + len(labels), c + width)}"


def _read_chain(rows, header_row, columns, features, where, data=None) -> tuple[ModelSpec, ArrayParams, str]:
    """``W1``, ``c1``, ``W2``... blocks: hidden (no c1) or deep. Every label after the first corner (``W1``) is in its
    column: a text value, a class (the confusion block's headers) elsewhere may be named ``c1`` or ``W2`` too."""
    activation, blocks = _activation(columns, 1)
    batchnorm = sl.unit_header(blocks.batchnorm, 0) in columns
    weights, consts, labels, first_at = [], [], list(features), ""
    first = _label_at(rows, header_row, sl.weights_corner(1), data=data)
    column = None if first is None else first[1]
    i = 1
    while True:
        found = _find_block(rows, header_row, sl.weights_corner(i), labels, column=column, data=data)
        if found is None:
            break
        W, at = found
        first_at = first_at or at
        weights.append(W)
        const = _find_label_values(rows, header_row, sl.const_label(i), 1, column=column, data=data)
        consts.append(None if const is None else const[0])
        labels = sl.block_headers(sl.hidden_blocks(i, activation.header).activation, W.shape[1])
        i += 1
    if len(weights) < 2:
        raise LayoutError(f"{where}: {sl.unit_header(blocks.layer, 0)} columns need params blocks {sl.weights_corner(1)} and {sl.weights_corner(2)}")
    bn: ArrayParams = {}
    for n, W in enumerate(weights[:-1], start=1):
        bn.update(_bn_params(rows, header_row, n, W.shape[1], batchnorm, where, column=column, data=data))
    spec, params = _model_of(CHAIN, weights, consts, columns, activation.name, batchnorm, where)
    return spec, {**params, **bn}, first_at


def _model_of(style: str, weights: list[np.ndarray], consts: list[float | None], columns: dict[str, int], activation: str,
              batchnorm: bool, where: str) -> tuple[ModelSpec, ArrayParams]:
    """The model whose kind has these layers (weights (n_in, n_out), constants or None) and the
    sheet's ``Preds`` column or its absence (or a multiclass softmax's ``P1``...); its params named as its kind names them."""
    preds, outputs = sl.PREDS in columns, max(1, _units(columns, sl.PROBS))
    found = kind_of_sheet(style, [W.shape[1] for W in weights], [c is not None for c in consts], preds, outputs)
    if found is None:
        given = [sl.const_label(i) for i, c in enumerate(consts, start=1) if c is not None]
        raise LayoutError(f"{where}: no model kind ({', '.join(k.name for k in KINDS.values() if k.style == style)}) has "
                          f"{len(weights)} layer(s) of {', '.join(str(W.shape[1]) for W in weights)} column(s) with "
                          f"constants {', '.join(given) or 'none'} and {'a' if preds else 'no'} {sl.PREDS} column")
    kind, sizes = found
    params: ArrayParams = {}
    for layer, W, c in zip(kind.chain(sizes, outputs), weights, consts):
        params[layer.weight] = W[:, 0] if layer.vector else W
        if layer.const:
            params[layer.const] = np.array(c, dtype=np.float64)
    return ModelSpec(kind.name, sizes, activation, batchnorm, outputs), params


def _bn_params(rows, header_row, layer: int, width: int, present: bool, where: str, *, column: int | None = None,
               data: tuple[int, int] | None = None) -> ArrayParams:
    """Batch norm's ``mean{i}``, ``var{i}``, ``gamma{i}``, ``beta{i}`` rows (label, then a value per unit), the labels
    in ``column`` when given, never a data value (:func:`_label_at`)."""
    if not present:
        return {}
    params = {}
    for part in BN_PARTS:
        label = sl.bn_label(part, layer)
        values = _find_label_values(rows, header_row, label, width, column=column, data=data)
        if values is None:
            raise LayoutError(f"{where}: batch norm columns need a row labelled {label} with {width} numbers")
        params[f"bn{layer}_{part}"] = np.array(values, dtype=np.float64)
    return params


def _find_label_values(rows, start_row, label, width, *, column: int | None = None,
                       data: tuple[int, int] | None = None, param: bool = True) -> list[float] | None:
    """The ``width`` numbers right of the cell holding ``label`` (in ``column`` when given, never a data value:
    :func:`_label_at`); None when no cell holds it. A cell that is no number is refused naming it: ``param mean1
    at R4 ...`` (``param``), else by its label, ``cell AN1 (Valid RMSE:): '' is not a number``, which a caller
    that knows the sheet prefixes with it."""
    found = _label_at(rows, start_row, label, column=column, data=data)
    if found is None:
        return None
    r, c = found
    values = [value_at(rows, r, c + 1 + u) for u in range(width)]
    bad = next((u for u, x in enumerate(values) if not _is_number(x)), None)
    if bad is not None:
        if param:
            raise LayoutError(f"param {label} at {cell(r, c + 1 + bad)} is {values[bad]!r}, not a number")
        raise LayoutError(f"cell {cell(r, c + 1 + bad)} ({label}): {values[bad]!r} is not a number")
    return [float(x) for x in values]


def label_text(rows: list[list[object]], label: str) -> str | None:
    """The text right of the first cell holding ``label``; None when no cell holds it.

    Raises
    ------
    LayoutError
        The cell right of the label holds no text.
    """
    for r, row in enumerate(rows):
        if label in row:
            c = row.index(label)
            value = value_at(rows, r, c + 1)
            if not isinstance(value, str) or not value:
                raise LayoutError(f"{cell(r, c + 1)}, right of {label!r}, holds {value!r}, not a sheet's name")
            return value
    return None


def label_value(rows: list[list[object]], start_row: int, label: str, *, data: tuple[int, int] | None = None) -> float | None:
    """The number right of the first cell holding ``label`` from ``start_row`` on (never a value of the data, when
    ``data`` says where they are: :func:`_data_cells`); None when no cell holds it.

    Raises
    ------
    LayoutError
        ``cell AN1 (Valid RMSE:): '' is not a number``: the cell right of the label holds no number (the caller
        names the workbook and the sheet)."""
    values = _find_label_values(rows, start_row, label, 1, data=data, param=False)
    return None if values is None else values[0]


def _target_offset(rows: list[list[object]], where: str, stored: float | None) -> float | None:
    """A regression target's offset, the cell right of its scale (``Target scale:`` | scale | ``Min: 601.5``); None
    where that cell is blank and the stored spec gives no offset either (a workbook written before the offset, or
    a spec's scale given alone: the target is learned as target / scale). Blank where the spec gives one (``stored``)
    is refused: an error value or a formula without a cached value reads as blank too, and would silently move
    every prediction by the offset."""
    for r, row in enumerate(rows):
        if sl.TARGET_SCALE in row:
            c = row.index(sl.TARGET_SCALE) + 2
            value = value_at(rows, r, c)
            if value is None or value == "":
                if stored is not None:
                    raise LayoutError(f"{where}: the target's min at {cell(r, c)} (right of its scale) is blank or not "
                                      f"calculated, where the spec sheet gives offset = {stored:g}; write the number there")
                return None
            if not _is_number(value):
                raise LayoutError(f"{where}: the target's min at {cell(r, c)} (right of its scale) is {value!r}, not a number")
            return float(value)
    return None


def _loss_kind(formulas: dict[tuple[int, int], str], row: int, col: int | None) -> str:
    """The loss of the first row's ``Loss`` formula (see :func:`titanic_lab.ops.loss_of_formula`)."""
    return loss_of_formula(formulas.get((row, col), "") if col is not None else "")


def _total_loss(rows, last_row, data: tuple[int, int] | None = None) -> tuple[str, float] | None:
    for r in range(min(len(rows), last_row)):
        if sl.TOTAL_LOSS not in rows[r]:
            continue
        for c, v in enumerate(rows[r]):
            if v == sl.TOTAL_LOSS and not _is_data(data, r, c) and _is_number(value_at(rows, r, c + 1)):
                return cell(r, c + 1), float(value_at(rows, r, c + 1))
    return None


def _check_cached(rows, formulas, name) -> None:
    if not formulas:
        return
    empty = sum(1 for (r, c) in formulas if value_at(rows, r, c) == "")
    if empty == len(formulas):
        raise NoCachedValuesError(
            f"sheet {name!r}: its {len(formulas)} formula cells store no cached values (the file was saved by a "
            "writer that does not compute them); run again with --recalc to recalculate it first"
        )


def _some(names: list[str], shown: int = 5) -> str:
    """The first names of a list, and how many more: ``a, b, c and 497 more``."""
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more:,} more" if more > 0 else "")


def params_for_run(path: str | Path, models: dict[str, ModelSpec], features: list[str],
                   target: Target | None = None) -> dict[str, Params]:
    """Starting parameters for each model of a run, read from a workbook's model sheets, as float64 tensors.

    A model takes the params of a sheet holding the same model (kind and sizes); a sheet
    named like the model kind (``linear``, ``nnet``) is preferred over others (``mmult``). A sheet
    whose regression target is learned otherwise than the run's ``target`` (another scale or offset: a
    workbook written before the offset, or from other rows) gives its parameters with a warning saying
    so: they start the run, but do not predict this run's target as they did the sheet's.

    Raises
    ------
    LayoutError
        When no sheet holds a model, or its features differ from the run's.
    """
    from ..models import tensors  # torch: a run trains

    sheets = read_model_sheets(path)
    out = {}
    for name, spec in models.items():
        candidates = sorted((s for s in sheets if s.spec == spec), key=lambda s: s.name != spec.kind)
        if not candidates:
            held = ", ".join(f"{s.name} ({s.spec.name})" for s in sheets)
            raise LayoutError(f"{path}: no sheet holds a {spec.name} model (sheets: {held})")
        sheet = candidates[0]
        if list(sheet.features) != list(features):
            only_sheet = [f for f in sheet.features if f not in features]
            only_run = [f for f in features if f not in sheet.features]
            differ = (f"{len(sheet.features)} features, the run {len(features)}" + (
                f"; only the sheet has {_some(only_sheet)}" if only_sheet else "") + (
                f"; only the run has {_some(only_run)}" if only_run else "") if only_sheet or only_run
                else "the run's features in another order")
            raise LayoutError(f"{path}: sheet {sheet.name!r} has {differ}; use the same --preset, or the same --spec")
        learned = sheet.dataset.target
        same = target is None or not target.is_regression or (  # the sheet's cells hold 15-16 figures
            math.isclose(learned.divisor, target.divisor, rel_tol=1e-12)
            and math.isclose(learned.shift, target.shift, rel_tol=1e-12, abs_tol=1e-12 * target.divisor))
        if not same:
            warnings.warn(f"{path}: sheet {sheet.name!r} learned {target.column} as ({target.column} - {learned.shift:g}) / "
                          f"{learned.divisor:g}, this run as ({target.column} - {target.shift:g}) / {target.divisor:g}: its "
                          "parameters are a start only, not the sheet's predictions", UserWarning, stacklevel=2)
        out[name] = tensors(sheet.params)
    return out
