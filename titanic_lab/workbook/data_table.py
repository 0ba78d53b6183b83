"""A model sheet's data table: the raw columns, the fitted fills and divisors above them, the features as formulas.

The table is an Excel Table (header row 3, ``A3``); each feature is the formula of its feature
kind (:mod:`titanic_lab.features`) over the row's raw cells, with structured references or,
with ``--portable``, plain A1 ones.
"""

from __future__ import annotations

from .. import formulas as fx
from .. import sheet_layout as sl
from ..datasets import registry
from ..features.kind import Cell
from ..features.registry import feature_kind
from ..rowwriter import RowWriter
from ..sheet_layout import FIRST_ROW, HEADER_ROW
from .book import Book
from .checks import check_fits
from .table import Table


def data_table(book: Book, ws: RowWriter, table_name: str, sheet: str, features_at: Table | None = None) -> Table:
    """Write the run's data table into ``ws`` (sheet ``sheet``) as Excel Table ``table_name``; return where it sits.

    With ``features_at`` (the features written once), the table holds the raw columns only, and row 0 names the
    sheet whose table holds the features as formulas (:data:`~titanic_lab.sheet_layout.FEATURES_ON`).
    """
    run, pre, cells = book.run, book.run.preprocessor, book.cells
    features = list(pre.feature_names_out_)
    kinds = [(f, feature_kind(f.kind)) for f in pre.preset_.features]  # each step and its record: its formula
    passthrough = {f.column for f, kind in kinds if kind.is_passthrough(f)}
    target = run.dataset.target.column
    known = registry.builtin(run.dataset)
    order = known.sheet_order if known else ()
    raw = [target] + [c for c in order if c in pre.preset_.raw_columns]  # the dataset's order (the lesson's), then the file's
    raw += [c for c in pre.preset_.raw_columns if c not in raw]
    raw = [c for c in raw if c not in passthrough]
    # Columns the features' formulas read (the woman-child-group features' Surname).
    helpers = list({h.name: h for _, kind in kinds for h in kind.helpers}.values()) if features_at is None else []
    columns = raw + [h.name for h in helpers] + (features if features_at is None else [f for f in features if f in passthrough])
    table = Table(table_name, columns, len(run.frame), features, run.config.plain_references, sheet, features_at)
    refs = table.refs
    check_fits(table.n_rows)
    ws.add_table(HEADER_ROW, 0, table.last_row, len(table.columns) - 1,
                 {"name": table_name, "columns": [{"header": c, "header_format": cells.header_center} for c in table.columns],
                  "style": "Table Style Light 9",
                  "autofilter": False})  # no filter buttons: the lesson's sheet has none, and they widen every column
    cells.text(ws, 0, 0, sl.DATA, cells.bold)
    # Raw values, as read (blank where missing); the target as the loss reads it (0/1, or in its units).
    cells.column_values(ws, FIRST_ROW, table.col[target], run.dataset.target.sheet_values(run.frame[target]), cells.center)
    as_cells = {f.column: kind.raw for f, kind in kinds if kind.raw is not None}  # dates: serial numbers shown as dates
    for name in raw[1:] + [f for f in features if f in passthrough]:
        if name in as_cells:
            cells.column_values(ws, FIRST_ROW, table.col[name], as_cells[name](run.frame[name]).to_numpy(), cells.date)
        else:
            cells.column_values(ws, FIRST_ROW, table.col[name], run.frame[name].to_numpy(), cells.center)
    for helper in helpers:
        cells.column_formulas(ws, table.col[helper.name], refs.per_row(lambda r, helper=helper: helper.formula(Cell(refs, r, target=target))),
                          helper.values(run.frame), cached=str)
    fills = _fill_cells(book, ws, table)
    if features_at is not None:
        cells.text(ws, sl.SCALE_ROW, 1, sl.FEATURES_ON, cells.bold)
        cells.text(ws, sl.SCALE_ROW, 2, features_at.sheet)
    scales = _scale_cells(book, ws, table) if features_at is None else {}
    for feat, kind in kinds if features_at is None else ():
        if kind.is_passthrough(feat):
            continue
        if kind.formula is None:  # the bias: values
            cells.column_values(ws, FIRST_ROW, table.col[feat.output_name], run.features[feat.output_name].to_numpy(),
                                cells.center)
            continue
        fill = fills.get(feat.column) if feat.fill is not None else None  # Age_missing reads the raw cell
        for out_name, level in kind.columns(feat, pre.levels_.get(feat.name, ())):
            offset_ref, divisor_ref = scales.get(out_name, (None, None))

            def expr(r: int, feat=feat, kind=kind, fill=fill, level=level, offset_ref=offset_ref,
                     divisor_ref=divisor_ref) -> str:
                raw = kind.formula(feat, fx.filled(refs.this_row(feat.column, r), fill), Cell(refs, r, level, target))
                return raw if divisor_ref is None else fx.scaled(raw, offset_ref, divisor_ref)

            cells.column_formulas(ws, table.col[out_name], refs.per_row(expr), run.features[out_name].to_numpy(),
                                  cells.num_center)
    ws.freeze_panes(FIRST_ROW, 0)
    labelled = {*fills, *(name for name in scales)}
    for name, col in table.col.items():  # the header whole, the values ("0.0000", "female"), "Max: 2.7108", no more
        longest = 6 if name in features else book.longest(name) if name in run.frame else 6
        # Row 0's labels whole where the features are on another sheet: "Data" over A, then the label over B.
        shown = {0: len(sl.DATA) + 2, 1: len(sl.FEATURES_ON) + 1}.get(col, 0) if features_at is not None else 0
        ws.set_column(col, col, max(len(name) * 1.05 + 1, longest + 1.5, 10 if name in labelled else 0, shown))
    return table


def _fill_cells(book: Book, ws: RowWriter, table: Table) -> dict[str, str]:
    """Row 2 holds the fill value of every raw column that has blanks here."""
    pre, frame, cells = book.run.preprocessor, book.run.frame, book.cells
    refs = {}
    for feat in pre.preset_.features:
        column = feat.column
        if feature_kind(feat.kind).source is None or column in refs or feat.fill is None or not frame[column].isna().any():
            continue
        col = table.col[column]
        dated = feature_kind(feat.kind).raw is not None
        cells.value(ws, sl.FILL_ROW, col, pre.fill_values_[column], cells.labelled[sl.FILL_DATE if dated else sl.FILL])
        refs[column] = fx.cell(sl.FILL_ROW, col, absolute=True)
    if refs:  # names the row for readers (layout.py); each value says "Fill:" itself
        cells.text(ws, sl.FILL_ROW, 0, sl.FILL, cells.bold)
    return refs


def _scale_cells(book: Book, ws: RowWriter, table: Table) -> dict[str, tuple[str | None, str]]:
    """Row 1 holds each scaled feature's divisor (``MAX(...)``), above the feature's column."""
    pre, cells = book.run.preprocessor, book.cells
    refs: dict[str, tuple[str | None, str]] = {}
    for feat in pre.preset_.features:
        name = feat.output_name
        if name not in pre.scales_:
            continue
        offset, divisor = pre.scales_[name]
        col = table.col[name]
        # MAX over the sheet's raw column where it gives the divisor (the kind's formula of the MAX).
        formula = None if feat.scale != "max" else feature_kind(feat.kind).max_formula(
            feat, book.run.frame[feat.column], divisor, table.refs.column(feat.column))
        fmt = cells.labelled[sl.SD if feat.scale == "zscore" else sl.MAX]  # "Max: 80", "SD: 0.5" in the cell
        if formula is not None:
            cells.formula(ws, sl.SCALE_ROW, col, formula, divisor, fmt)
        else:
            ws.write_number(sl.SCALE_ROW, col, divisor, fmt)
        offset_ref = None
        if feat.scale == "zscore":
            ws.write_number(sl.FILL_ROW, col, offset, cells.labelled[sl.MEAN])
            offset_ref = fx.cell(sl.FILL_ROW, col, absolute=True)
        refs[name] = (offset_ref, fx.cell(sl.SCALE_ROW, col, absolute=True))
    return refs

