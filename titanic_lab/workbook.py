"""Write a trained run into an .xlsx laid out like the lesson's workbook.

Every model sheet holds the data as an Excel Table (``A3``, header row 3), the features as
formulas with structured references, the trained parameters, and the model's columns as
formulas (SUMPRODUCT, ``IF(x<0,0,x)``, MMULT, ``1/(1+EXP(-x))``), each formula cell also
storing the value torch computed. Beside the formulas' prediction sits torch's own as a plain
value, and a cell with their largest difference.

XlsxWriter writes it, because it stores a cached value with every formula (openpyxl cannot,
and readers that do not recalculate would then see empty cells or zeros). Strings from the
data are always written as text, never as formulas.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
import xlsxwriter
import xlsxwriter.exceptions
import xlsxwriter.worksheet

from . import __version__
from . import formulas as fx
from . import sheet_layout as sl
from .errors import OptionError
from .files import OutputError, atomic_output, scratch_folder
from .models import (
    BN_PARTS,
    ModelSpec,
    forward,
    hidden_sizes,
    layers,
    sheet_columns,
)
from .model_kinds import MMULT, ROW, SUM, UNITS
from .ops import ACTIVATIONS, LOSSES
from .data import IDENTITY_COLUMNS
from .features import Cell, feature_kind
from .rowwriter import RowWriter
from .runs import GDPath, Run
from .sheet_layout import FIRST_ROW, HEADER_ROW  # 0-based: the lesson's rows 3 and 4
from .training import CONVERGENCE_RULE, TrainResult

EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLUMNS = 16_384
#: The lesson's order of raw columns in its model sheets, and in ``all_rows``.
RAW_ORDER = ("Survived", "Embarked", "Pclass", "Sex", "Age", "Fare", "SibSp", "Parch")
ALL_ROWS_ORDER = ("Survived", "Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked")
#: Leading characters that would let a spreadsheet treat text as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

GD_SHEET = "gradient descent"


def sheet_name(base: str, spec: ModelSpec) -> str:
    """``linear``, ``nnet``, ``mmult``...; sizes other than the default give ``nnet-3``, ``deep-16-8``."""
    suffix = spec.name[len(spec.kind):].replace(":", "-").replace(",", "-")
    return f"{base}{suffix}"[:31]


class _Worksheet(xlsxwriter.worksheet.Worksheet):
    """A worksheet that writes formulas verbatim.

    XlsxWriter scans every formula with ~30 regular expressions to add ``_xlfn.`` prefixes to
    functions newer than Excel 2007. ``titanic_lab.formulas`` uses none of those, so the scan
    (two thirds of the export time) is skipped; only the ``=`` and array braces are removed.
    """

    def _prepare_formula(self, formula: str, expand_future_functions: bool = False) -> str:
        formula = formula[1:] if formula.startswith("{") else formula
        formula = formula[1:] if formula.startswith("=") else formula
        return formula[:-1] if formula.endswith("}") else formula

    def add_table(self, first_row: int, first_col: int, last_row: int, last_col: int, options: dict) -> int:
        """An Excel Table in ``constant_memory`` mode, added when its header row is written.

        XlsxWriter refuses tables in that mode for two reasons that do not apply here: a
        table writes its header cells, which must come in row order (:class:`RowWriter` adds
        the table when its header row is reached), and it records every cell of its range to
        refuse overlapping tables (rows x columns entries; titanic-lab's tables never overlap).
        """
        streaming, cells = self.constant_memory, self.table_cells
        if streaming and first_row > self.previous_row:
            self._write_single_row(first_row)  # out with the row above, as any write to first_row would
        self.constant_memory, self.table_cells = 0, _Forgetful()
        try:
            result = super().add_table(first_row, first_col, last_row, last_col, options)
        finally:
            self.constant_memory, self.table_cells = streaming, cells
        # With the mode off, the headers went in as shared strings: write them again in line.
        for j, column in enumerate(options["columns"]):
            self.write_string(first_row, first_col + j, column["header"])
        return result


class _Forgetful(dict):
    """A dict that keeps nothing: stands in for XlsxWriter's record of table cells."""

    def __setitem__(self, key: object, value: object) -> None:
        pass


@dataclass
class _Table:
    """Where a sheet's data table sits."""

    name: str
    columns: list[str]
    n_rows: int
    feature_names: list[str]
    portable: bool = False
    #: References to the table's cells: structured, or plain A1 with ``--portable``.
    refs: fx.TableRefs = field(init=False)

    def __post_init__(self) -> None:
        columns = {name: i for i, name in enumerate(self.columns)}
        self.refs = fx.TableRefs(self.name, columns, FIRST_ROW, self.last_row, self.portable)

    @property
    def col(self) -> dict[str, int]:
        return self.refs.columns

    @property
    def last_row(self) -> int:
        return FIRST_ROW + self.n_rows - 1

    def feature_area(self) -> str:
        first, last = self.col[self.feature_names[0]], self.col[self.feature_names[-1]]
        return fx.area(FIRST_ROW, first, self.last_row, last)


class _Writer:
    def __init__(self, run: Run, path: Path, tmpdir: Path) -> None:
        self.run = run
        # Text from data must never become a formula or a link. constant_memory streams each
        # row to disk once written (RowWriter writes in row order), so memory does not grow with
        # rows; those rows go to temporary files in ``tmpdir``, which the caller removes.
        self.wb = xlsxwriter.Workbook(str(path), {
            "constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
            "tmpdir": str(tmpdir),
        })
        self.when = written_at()
        self.wb.set_properties({"title": "titanic-lab run", "comments": f"titanic-lab {__version__}", "created": self.when})
        add = self.wb.add_format
        self.bold = add({"bold": True})
        self.title = add({"bold": True, "font_size": 14})
        self.header = add({"bold": True, "bottom": 1})
        self.num = add({"num_format": "0.0000"})
        self.loss = add({"num_format": "0.000000"})  # losses and accuracies in README and history
        self.seconds = add({"num_format": "0.00"})
        self.wrap = add({"text_wrap": True, "valign": "top"})
        self.param = add({"num_format": "0.000000", "bg_color": "#FFF2CC"})
        self.constant = add({"bg_color": "#FFF2CC"})  # fitted preprocessing: fills and maxima
        self.torch = add({"num_format": "0.0000", "font_color": "#7F7F7F"})
        self.diff = add({"num_format": "0.00E+00", "bold": True})
        self.text_safe = add({"quote_prefix": True})
        self.dtype = torch.float64
        # From the float64 design matrix, not run.X: a float32 run's X is rounded, the sheet's features are not.
        self.X = torch.tensor(run.features.to_numpy(), dtype=self.dtype)  # (n_rows, n_features)
        self.y = torch.tensor(run.target, dtype=self.dtype)  # (n_rows,)
        self.valid = np.zeros(len(run.frame), dtype=int)
        self.valid[run.valid_idx.numpy()] = 1
        self.sheets: list[tuple[str, str]] = []
        self.tables: dict[str, _Table] = {}

    # ---- cells -------------------------------------------------------------------------
    def text(self, ws, row: int, col: int, value: str, fmt=None) -> None:
        """Write a string as text; one that starts like a formula gets a quote prefix."""
        value = str(value)
        if value.startswith(_FORMULA_START):
            fmt = self.text_safe
        ws.write_string(row, col, value, fmt)

    def value(self, ws, row: int, col: int, value: object, fmt=None) -> None:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            ws.write_blank(row, col, None, fmt)
        elif isinstance(value, str):
            self.text(ws, row, col, value, fmt)
        else:
            ws.write_number(row, col, float(value), fmt)

    @staticmethod
    def formula(ws, row: int, col: int, formula: str, value: object, fmt=None, cached: type = float) -> None:
        """A formula and its cached value (a number, or with ``cached=str`` a text)."""
        ws.write_formula(row, col, "=" + formula, fmt, cached(value))

    def array(self, ws: RowWriter, row: int, col: int, formula: str, values: np.ndarray, fmt=None) -> None:
        """One array formula over a block, each cell carrying its cached value.

        Written as a dynamic array (``cm="1"``), as the lesson's own MMULT: Excel 365 shows it as
        a spilled ``=MMULT(...)``, older Excel as the legacy ``{=MMULT(...)}``.
        """
        values = np.asarray(values, dtype=float).reshape(values.shape[0], -1)  # (block rows, block columns)
        last_row, last_col = row + values.shape[0] - 1, col + values.shape[1] - 1

        def rule(w, r: int, i: int) -> None:
            for j in range(values.shape[1]):
                if i == 0 and j == 0:
                    w.write_dynamic_array_formula(row, col, last_row, last_col, "=" + formula, fmt, float(values[0, 0]))
                else:
                    w.write_number(r, col + j, float(values[i, j]), fmt)

        ws.column(row, values.shape[0], rule)

    def column_values(self, ws: RowWriter, first_row: int, col: int, values: np.ndarray, fmt=None) -> None:
        """A column of values from ``first_row`` down: numbers, text, or blanks where missing."""
        ws.column(first_row, len(values), lambda w, r, i: self.value(w, r, col, values[i], fmt))

    def column_formulas(self, ws: RowWriter, col: int, build: Callable[[int], str], values: np.ndarray, fmt=None,
                        cached: type = float) -> None:
        """A data column of formulas, ``build(row)`` in each row, each with its cached value."""
        ws.column(FIRST_ROW, len(values), lambda w, r, i: self.formula(w, r, col, build(r), values[i], fmt, cached))

    # ---- the data table ----------------------------------------------------------------
    def data_table(self, ws: RowWriter, table_name: str) -> _Table:
        run, pre = self.run, self.run.preprocessor
        features = list(pre.feature_names_out_)
        kinds = [(f, feature_kind(f.kind)) for f in pre.preset_.features]  # each step and its record: its formula
        passthrough = {f.column for f, kind in kinds if kind.is_passthrough(f)}
        target = run.dataset.target.column
        raw = [target] + [c for c in RAW_ORDER if c in pre.preset_.raw_columns]  # the lesson's order, then the file's
        raw += [c for c in pre.preset_.raw_columns if c not in raw]
        raw = [c for c in raw if c not in passthrough]
        # Columns the features' formulas read (the woman-child-group features' Surname).
        helpers = list({h.name: h for _, kind in kinds for h in kind.helpers}.values())
        table = _Table(table_name, raw + [h.name for h in helpers] + features, len(run.frame), features, run.config.portable)
        refs = table.refs
        n = table.n_rows
        check_fits(n)
        ws.add_table(HEADER_ROW, 0, table.last_row, len(table.columns) - 1,
                     {"name": table_name, "columns": [{"header": c} for c in table.columns], "style": "Table Style Light 9"})
        self.text(ws, 0, 0, sl.DATA, self.bold)
        # Raw values, as read (blank where missing); the target as the loss reads it (0/1, or in its units).
        self.column_values(ws, FIRST_ROW, table.col[target], run.target_values)
        for name in raw[1:] + [c for c in features if c in passthrough]:
            self.column_values(ws, FIRST_ROW, table.col[name], run.frame[name].to_numpy())
        for helper in helpers:
            self.column_formulas(ws, table.col[helper.name], refs.per_row(lambda r, helper=helper: helper.formula(Cell(refs, r))),
                                 helper.values(run.frame), cached=str)
        fills = self._fill_cells(ws, table)
        scales = self._scale_cells(ws, table)
        for feat, kind in kinds:
            if kind.is_passthrough(feat):
                continue
            if kind.formula is None:  # the bias: values
                self.column_values(ws, FIRST_ROW, table.col[feat.output_name], run.features[feat.output_name].to_numpy())
                continue
            fill = fills.get(feat.column) if feat.fill is not None else None  # Age_missing reads the raw cell
            for out_name, level in kind.columns(feat, pre.levels_.get(feat.name, ())):
                offset_ref, divisor_ref = scales.get(out_name, (None, None))

                def expr(r: int, feat=feat, kind=kind, fill=fill, level=level, offset_ref=offset_ref,
                         divisor_ref=divisor_ref) -> str:
                    raw = kind.formula(feat, fx.filled(refs.this_row(feat.column, r), fill), Cell(refs, r, level))
                    return raw if divisor_ref is None else fx.scaled(raw, offset_ref, divisor_ref)

                self.column_formulas(ws, table.col[out_name], refs.per_row(expr), run.features[out_name].to_numpy(), self.num)
        ws.freeze_panes(FIRST_ROW, 0)
        for name, col in table.col.items():  # room for the header and the table's filter button
            ws.set_column(col, col, _width(name, 9, 3))
        return table

    def _fill_cells(self, ws, table: _Table) -> dict[str, str]:
        """Row 2 holds the fill value of every raw column that has blanks here."""
        pre, frame = self.run.preprocessor, self.run.frame
        refs = {}
        for feat in pre.preset_.features:
            column = feat.column
            if feature_kind(feat.kind).source is None or column in refs or feat.fill is None or not frame[column].isna().any():
                continue
            col = table.col[column]
            self.value(ws, sl.FILL_ROW, col, pre.fill_values_[column], self.constant)
            refs[column] = fx.cell(sl.FILL_ROW, col, absolute=True)
        if refs:
            self._label(ws, sl.FILL_ROW, min(table.col[c] for c in refs), sl.FILL)
        return refs

    def _scale_cells(self, ws, table: _Table) -> dict[str, tuple[str | None, str]]:
        """Row 1 holds each scaled feature's divisor (``MAX(...)``), above the feature's column."""
        pre = self.run.preprocessor
        refs: dict[str, tuple[str | None, str]] = {}
        for feat in pre.preset_.features:
            name = feat.output_name
            if name not in pre.scales_:
                continue
            offset, divisor = pre.scales_[name]
            col = table.col[name]
            # MAX over the sheet's raw column where it gives the divisor (the kind's formula of the MAX).
            formula = None if feat.scale != "max" else feature_kind(feat.kind).max_formula(
                feat, self.run.frame[feat.column], divisor, table.refs.column(feat.column))
            if formula is not None:
                self.formula(ws, sl.SCALE_ROW, col, formula, divisor, self.constant)
            else:
                ws.write_number(sl.SCALE_ROW, col, divisor, self.constant)
            offset_ref = None
            if feat.scale == "zscore":
                ws.write_number(sl.FILL_ROW, col, offset, self.constant)
                offset_ref = fx.cell(sl.FILL_ROW, col, absolute=True)
            refs[name] = (offset_ref, fx.cell(sl.SCALE_ROW, col, absolute=True))
        if refs:
            first = min(table.col[n] for n in refs)
            self._label(ws, sl.SCALE_ROW, first, sl.MAX if all(o is None for o, _ in refs.values()) else sl.SCALE)
        return refs

    def _label(self, ws, row: int, col: int, label: str) -> None:
        if col > 0:
            self.text(ws, row, col - 1, label, self.bold)

    # ---- model sheets ------------------------------------------------------------------
    def model_sheets(self) -> None:
        for result in self.run.results.values():
            for sheet in result.spec.model_kind.sheets:  # each in its style (titanic_lab.model_kinds)
                name = sheet_name(sheet.base, result.spec)
                if sheet.style == ROW:
                    self.linear_sheet(name, result, sheet.note)
                elif sheet.style in (UNITS, MMULT):
                    self.units_sheet(name, result, sheet.style == MMULT, sheet.note)
                else:
                    self.chain_sheet(name, result, sheet.note)

    @contextlib.contextmanager
    def _sheet(self, name: str, note: str) -> Iterator[RowWriter]:
        """A new sheet whose cells are gathered in the ``with`` block, then written row by row."""
        ws = RowWriter(self.wb.add_worksheet(name, worksheet_class=_Worksheet))
        self.sheets.append((name, note))
        yield ws
        ws.write()

    @contextlib.contextmanager
    def _model_sheet(self, name: str, note: str) -> Iterator[tuple[RowWriter, _Table]]:
        """A new model sheet, its data table written; the model's cells go in the ``with`` block."""
        with self._sheet(name, note) as ws:
            self.tables[name] = self.data_table(ws, f"Data_{name.replace('-', '_')}")
            yield ws, self.tables[name]
        _print_setup(ws, repeat=HEADER_ROW)

    def linear_sheet(self, name: str, result: TrainResult, note: str) -> None:
        """``linear`` / ``sigmoid``: the params as one row under the repeated feature headers."""
        with self._model_sheet(name, note) as (ws, table):
            p0 = len(table.columns) + 1
            (params_ref,), headers = self._param_rows(ws, table, p0, layers(result.spec, result.params)[0][0].to(self.dtype))
            refs, first, last = table.refs, table.feature_names[0], table.feature_names[-1]
            formula = refs.per_row(lambda r: fx.sumproduct(refs.this_row_span(first, last, r), params_ref))

            def layer(index: int, col: int, values: np.ndarray, source: str) -> None:
                self.column_formulas(ws, col, formula, values[:, 0], self.num)

            pred_col = self._model_blocks(ws, table, result, p0 + len(headers) + 1, layer, {})
            # The lesson puts the linear sheet's total loss under its params (Z7:AA7).
            self._loss_and_checks(ws, table, result, pred_col, (6, p0 + len(headers) - 2))

    def units_sheet(self, name: str, result: TrainResult, as_mmult: bool, note: str) -> None:
        """The lesson's two-ReLU net: ``nnet`` (a params row per unit, SUMPRODUCT per cell) or
        ``mmult`` (a 10 x K params block, one MMULT array formula for every Lin cell)."""
        with self._model_sheet(name, note) as (ws, table):
            p0 = len(table.columns) + 1
            W = layers(result.spec, result.params)[0][0].to(self.dtype)  # (n_features, K)
            k = W.shape[1]
            if as_mmult:
                self.text(ws, 0, p0, sl.PARAMS, self.bold)
                block = self._param_block(ws, HEADER_ROW, p0, W, table.feature_names, [sl.param_header(u) for u in range(k)])
                bn_row, m0 = FIRST_ROW + len(table.feature_names) + 1, p0 + k + 2
            else:
                unit_params, headers = self._param_rows(ws, table, p0, W)
                bn_row, m0 = FIRST_ROW + k + 1, p0 + len(headers) + 1
            bn = self._bn_rows(ws, bn_row, p0, 1, result) if result.spec.batchnorm else {}
            refs, first, last = table.refs, table.feature_names[0], table.feature_names[-1]

            def layer(index: int, col: int, values: np.ndarray, source: str) -> None:
                if as_mmult:
                    self.array(ws, FIRST_ROW, col, fx.mmult(source, block), values, self.num)
                    return
                for u in range(k):
                    formula = refs.per_row(lambda r, u=u: fx.sumproduct(refs.this_row_span(first, last, r), unit_params[u]))
                    self.column_formulas(ws, col + u, formula, values[:, u], self.num)

            pred_col = self._model_blocks(ws, table, result, m0, layer, bn)
            self._loss_and_checks(ws, table, result, pred_col, (0, pred_col))

    def chain_sheet(self, name: str, result: TrainResult, note: str) -> None:
        """``hidden`` and ``deep``: one MMULT array formula per layer, activations between."""
        spec = result.spec
        with self._model_sheet(name, note) as (ws, table):
            p0 = len(table.columns) + 1
            chain = [(w.to(self.dtype), None if c is None else float(c)) for w, c in layers(spec, result.params)]
            self.text(ws, 0, p0, sl.PARAMS, self.bold)
            # Parameter blocks stacked down the params column: W{i} with its inputs as row labels,
            # then c{i}, then batch norm's rows.
            refs, bn, row, inputs = [], {}, HEADER_ROW, table.feature_names
            act = ACTIVATIONS[spec.activation].header
            for i, (w, c) in enumerate(chain, start=1):
                block = self._param_block(ws, row, p0, w, inputs, [sl.chain_unit_header(u) for u in range(w.shape[1])],
                                         corner=sl.weights_corner(i))
                row += w.shape[0] + 1
                const_ref = None
                if c is not None:
                    self.text(ws, row, p0, sl.const_label(i), self.bold)
                    ws.write_number(row, p0 + 1, c, self.param)
                    const_ref = fx.cell(row, p0 + 1, absolute=True)
                    row += 1
                if spec.batchnorm and spec.chain[i - 1].activation:
                    bn.update(self._bn_rows(ws, row, p0, i, result))
                    row += 4
                refs.append((block, const_ref))
                row += 1
                inputs = sl.block_headers(sl.hidden_blocks(i, act).activation, w.shape[1])

            def layer(index: int, col: int, values: np.ndarray, source: str) -> None:
                block, const_ref = refs[index]
                formula = fx.mmult(source, block) + (f"+{const_ref}" if const_ref else "")
                self.array(ws, FIRST_ROW, col, formula, values, self.num)

            pred_col = self._model_blocks(ws, table, result, p0 + max(w.shape[1] for w, _ in chain) + 2, layer, bn)
            self._loss_and_checks(ws, table, result, pred_col, (0, pred_col))

    def _model_blocks(self, ws, table: _Table, result: TrainResult, m0: int, layer, bn: dict) -> int:
        """Write the model's columns from ``m0``, block by block; return the Preds column.

        ``layer(index, col, values, source)`` writes a layer's block (SUMPRODUCT cells or one
        MMULT array formula over ``source``); batch norm, activations and Preds are written here.
        """
        spec = result.spec
        self.text(ws, 0, m0, sl.MODEL, self.bold)
        col, source, n_layers = m0, table.feature_area(), 0
        prev = prev_width = 0
        for prefix, values in sheet_columns(spec, {k: v.to(self.dtype) for k, v in result.params.items()}, self.X):
            values = values.numpy()
            width = values.shape[1]
            for u, header in enumerate(sl.block_headers(prefix, width)):
                self.text(ws, HEADER_ROW, col + u, header, self.header)
            role, layer_number = sl.block_role(prefix)
            if role == "layer":
                layer(n_layers, col, values, source)
                n_layers += 1
            else:
                for u in range(width):
                    build = _elementwise_formula(spec, role, bn.get((layer_number, u)), prev, prev_width, u)
                    self.column_formulas(ws, col + u, build, values[:, u], self.num)
                if role == "activation":
                    source = fx.area(FIRST_ROW, col, table.last_row, col + width - 1)
            prev, prev_width = col, width
            col += width
        return col - 1

    def _param_rows(self, ws, table: _Table, p0: int, W: torch.Tensor) -> tuple[list[str], list[str]]:
        """The lesson's params rows: feature headers (``Const`` for Ones) over one row per unit.

        Returns each unit's absolute row address and the headers.
        """
        headers = sl.param_labels(table.feature_names)
        self.text(ws, 0, p0, sl.PARAMS, self.bold)
        for j, h in enumerate(headers):
            self.text(ws, HEADER_ROW, p0 + j, h, self.header)
            ws.set_column(p0 + j, p0 + j, _width(h, 9))
            for u in range(W.shape[1]):
                ws.write_number(FIRST_ROW + u, p0 + j, float(W[j, u]), self.param)
        rows = [fx.area(FIRST_ROW + u, p0, FIRST_ROW + u, p0 + len(headers) - 1, absolute=True) for u in range(W.shape[1])]
        return rows, headers

    def _bn_rows(self, ws, row: int, col: int, layer: int, result: TrainResult) -> dict[tuple[int, int], tuple[str, ...]]:
        """Batch norm's running mean and variance, gamma and beta: four labelled rows.

        Returns ``{(layer, unit): (mean, var, gamma, beta) cell addresses}``.
        """
        values = [result.params[f"bn{layer}_{part}"].to(self.dtype) for part in BN_PARTS]
        for r, (part, v) in enumerate(zip(BN_PARTS, values)):
            self.text(ws, row + r, col, sl.bn_label(part, layer), self.bold)
            for u in range(v.shape[0]):
                ws.write_number(row + r, col + 1 + u, float(v[u]), self.param)
        return {(layer, u): tuple(fx.cell(row + r, col + 1 + u, absolute=True) for r in range(4)) for u in range(values[0].shape[0])}

    def _param_block(self, ws, row: int, col: int, W: torch.Tensor, labels: list[str], headers: list[str], corner: str = sl.COLUMN) -> str:
        """A labelled (n_in x n_out) block of params; returns its absolute address."""
        self.text(ws, row, col, corner, self.header)
        for j, h in enumerate(headers):
            self.text(ws, row, col + 1 + j, h, self.header)
        for i, label in enumerate(labels):
            self.text(ws, row + 1 + i, col, label)
            for j in range(W.shape[1]):
                ws.write_number(row + 1 + i, col + 1 + j, float(W[i, j]), self.param)
        ws.set_column(col, col, 12)
        return fx.area(row + 1, col + 1, row + len(labels), col + W.shape[1], absolute=True)

    def _loss_and_checks(self, ws, table: _Table, result: TrainResult, pred_col: int, total_at: tuple[int, int]) -> None:
        """Loss column, total loss, torch's prediction, the largest difference, the split.

        A regression target is learned as target / scale: the scale is a cell (``Target scale:``),
        the loss divides the target by it, and a ``Prediction`` column multiplies Preds by it.
        """
        kind, target = result.settings.loss, self.run.dataset.target
        preds = forward(result.spec, {k: v.to(self.dtype) for k, v in result.params.items()}, self.X)  # (n_rows,)
        per_row = _per_row_loss(kind, preds, self.y).numpy()
        target_ref = lambda r: table.refs.this_row(target.column, r)  # noqa: E731
        loss_col = pred_col + 1
        if target.is_regression:
            self.text(ws, sl.FILL_ROW, pred_col, sl.TARGET_SCALE, self.bold)
            ws.write_number(sl.FILL_ROW, pred_col + 1, target.divisor, self.constant)
            scale_ref = fx.cell(sl.FILL_ROW, pred_col + 1, absolute=True)
            self.text(ws, HEADER_ROW, pred_col + 1, sl.PREDICTION, self.header)
            self.column_formulas(ws, pred_col + 1, lambda r: fx.times(fx.cell(r, pred_col), scale_ref),
                                 preds.numpy() * target.divisor, self.num)
            target_ref = lambda r: fx.divided(table.refs.this_row(target.column, r), scale_ref)  # noqa: E731
            loss_col += 1
        torch_col = loss_col + 1
        self.text(ws, HEADER_ROW, loss_col, sl.LOSS, self.header)
        loss_formula = LOSSES[kind].formula
        self.column_formulas(ws, loss_col, lambda r: loss_formula(fx.cell(r, pred_col), target_ref(r)), per_row, self.num)
        loss_area = fx.area(FIRST_ROW, loss_col, table.last_row, loss_col)
        label_row, label_col = total_at
        self.text(ws, label_row, label_col, sl.TOTAL_LOSS, self.bold)
        self.formula(ws, label_row, label_col + 1, fx.average(loss_area), float(per_row.mean()), self.num)
        # Torch's prediction, as a plain value, and the largest difference from the formulas'.
        self.text(ws, HEADER_ROW, torch_col, sl.TORCH, self.header)
        self.column_values(ws, FIRST_ROW, torch_col, preds.numpy(), self.torch)
        self.text(ws, 0, torch_col, sl.MAX_DIFF, self.bold)
        pred_area = fx.area(FIRST_ROW, pred_col, table.last_row, pred_col)
        torch_area = fx.area(FIRST_ROW, torch_col, table.last_row, torch_col)
        ws.write_dynamic_array_formula(1, torch_col, 1, torch_col, "=" + fx.max_abs_diff(pred_area, torch_area), self.diff, 0.0)
        ws.set_column(pred_col - 1, torch_col, 10)
        if len(self.run.valid_idx):
            self._split_cells(ws, table, torch_col + 1, loss_area, per_row)

    def _split_cells(self, ws, table: _Table, col: int, loss_area: str, per_row: np.ndarray) -> None:
        self.text(ws, HEADER_ROW, col, sl.VALID, self.header)
        self.column_values(ws, FIRST_ROW, col, self.valid)
        valid_area = fx.area(FIRST_ROW, col, table.last_row, col)
        for row, (label, flag) in enumerate(((sl.TRAIN_LOSS, 0), (sl.VALID_LOSS, 1))):
            self.text(ws, row, col + 1, label, self.bold)
            value = float(per_row[self.valid == flag].mean())
            self.formula(ws, row, col + 2, fx.average_if(valid_area, flag, loss_area), value, self.num)
        ws.set_column(col + 1, col + 1, 11)

    # ---- gradient descent in formulas ---------------------------------------------------
    def gd_sheet(self) -> list[str]:
        """Full-batch gradient descent for linear and nnet, one row of formulas per epoch.

        Row 0 of each table holds the starting parameters (values you can edit); every later
        row is ``previous - lr * gradient``, the gradient being the chain rule of the MSE
        written with SUMPRODUCT and MMULT over the model sheet's data; cell B2 is the learning
        rate. Torch's own run from the same start stands beside it. Returns the README lines.
        """
        config = self.run.config
        with self._sheet(GD_SHEET, "Gradient descent written in formulas: change the learning rate (B2) or the starting "
                                   "parameters (row 0) and watch the spreadsheet train.") as ws:
            self.text(ws, 0, 0, "Gradient descent in formulas", self.title)
            self.text(ws, 1, 0, "Learning rate:", self.bold)
            ws.write_number(1, 1, config.gd_lr, self.constant)
            self.text(ws, 1, 3, f"Each row: the loss and gradient (MSE, every row of the model sheet) at that row's params; "
                                f"the next row's params are params - B2 * gradient. {config.gd_epochs} epochs.")
            lr_ref = fx.cell(1, 1, absolute=True)
            row, chart = 3, self.wb.add_chart({"type": "scatter", "subtype": "straight"})
            words = []
            for name, path in self.run.gd_paths.items():
                result = self.run.results[name]
                sheet = sheet_name(result.spec.model_kind.sheets[0].base, result.spec)
                loss_col, last = self._gd_section(ws, row, sheet, result.spec, path, lr_ref)
                chart.add_series({"name": f"{name} loss", "categories": [GD_SHEET, row + 2, 0, last, 0],
                                  "values": [GD_SHEET, row + 2, loss_col, last, loss_col]})
                words.append(result.spec.model_kind.gd_words)
                row = last + 3
            chart.set_title({"name": "Loss per epoch (recalculated by the spreadsheet)"})
            chart.set_x_axis({"name": "epoch"})
            chart.set_y_axis({"name": "MSE"})
            ws.insert_chart(row, 0, chart)
            ws.freeze_panes(0, 3)
        _print_setup(ws)
        return words

    def _gd_section(self, ws, top: int, sheet: str, spec: ModelSpec, path: GDPath, lr_ref: str) -> tuple[int, int]:
        """One model's gradient-descent table; returns its loss column and last row."""
        table = self.tables[sheet]
        n, epochs = table.n_rows, len(path.losses) - 1
        torch_losses, W_path, grads = path.losses, path.weights, path.gradients  # (n_features, units) per epoch
        units = W_path[0].shape[1]
        features = table.feature_names
        param_headers = [f"{'w' if units == 1 else f'W{u + 1}'} {f}" for u in range(units) for f in features]
        headers = ["epoch", "loss", "torch loss", *param_headers, *[f"dL/d{h}" for h in param_headers]]
        header_row, first = top + 1, top + 2
        last = first + epochs
        self.text(ws, top, 0, f"{spec.name}: data and params of sheet '{sheet}', {n} rows", self.bold)
        ws.add_table(header_row, 0, last, len(headers) - 1, {"name": f"GD_{sheet.replace('-', '_')}",
                     "columns": [{"header": h} for h in headers], "style": "Table Style Light 9", "autofilter": False})
        X_all = fx.sheet_area(sheet, fx.area(FIRST_ROW, table.col[features[0]], table.last_row, table.col[features[-1]], absolute=True))
        target = table.col[self.run.dataset.target.column]
        y_all = fx.sheet_area(sheet, fx.area(FIRST_ROW, target, table.last_row, target, absolute=True))
        x_cols = [fx.sheet_area(sheet, fx.area(FIRST_ROW, table.col[f], table.last_row, table.col[f], absolute=True)) for f in features]
        p0, g0 = 3, 3 + len(param_headers)
        for e in range(epochs + 1):
            r = first + e
            ws.write_number(r, 0, e)
            unit_rows = [fx.area(r, p0 + u * len(features), r, p0 + (u + 1) * len(features) - 1) for u in range(units)]
            preds = fx.relu_units_output(X_all, unit_rows) if spec.has_hidden else fx.linear_output(X_all, unit_rows[0])
            self.array(ws, r, 1, fx.mse_of(n, preds, y_all), np.array([[torch_losses[e]]]), self.num)
            ws.write_number(r, 2, torch_losses[e], self.torch)
            for u in range(units):
                gate = fx.linear_output(X_all, unit_rows[u]) if spec.has_hidden else None
                for j, x_col in enumerate(x_cols):
                    c = u * len(features) + j
                    value = float(W_path[e][j, u])
                    if e == 0:
                        ws.write_number(r, p0 + c, value, self.param)
                    else:
                        step = fx.gd_step(fx.cell(r - 1, p0 + c), lr_ref, fx.cell(r - 1, g0 + c))
                        self.formula(ws, r, p0 + c, step, value, self.num)
                    grad = fx.mse_gradient(n, preds, y_all, x_col, gate)
                    self.array(ws, r, g0 + c, grad, np.array([[float(grads[e][j, u])]]), self.num)
        loss_area, torch_area = fx.area(first, 1, last, 1), fx.area(first, 2, last, 2)
        label = "Max |loss - torch loss|:"
        self.text(ws, top, 4, label, self.bold)
        ws.write_dynamic_array_formula(top, 5, top, 5, "=" + fx.max_abs_diff(loss_area, torch_area), self.diff, 0.0)
        ws.set_column(0, 0, _width("Learning rate:", 7))
        for j, h in enumerate(headers[1:], start=1):
            ws.set_column(j, j, _width(label if j == 4 else h, 12))
        return 1, last

    # ---- README, history, all_rows -----------------------------------------------------
    def history_sheet(self) -> list[tuple[str, int, int]]:
        """Per-epoch losses; returns (series name, column, epochs) for the chart."""
        with self._sheet("history", "Training and validation loss, validation accuracy, per epoch and model.") as ws:
            self.text(ws, 0, 0, "epoch", self.header)
            longest = max(len(r.history) for r in self.run.results.values())
            for e in range(longest):
                ws.write_number(1 + e, 0, e + 1)
            series, col = [], 1
            for name, result in self.run.results.items():
                for key in ("train_loss", "valid_loss", "valid_accuracy"):
                    if result.history and result.history[0][key] is None:
                        continue
                    header = f"{name} {key.replace('_', ' ')}"
                    self.text(ws, 0, col, header, self.header)
                    ws.set_column(col, col, _width(header, 10))
                    for e, h in enumerate(result.history):
                        ws.write_number(1 + e, col, h[key], self.loss)
                    if key != "valid_accuracy" and result.history:
                        series.append((f"{name} {key.replace('_', ' ')}", col, len(result.history)))
                    col += 1
            ws.freeze_panes(1, 1)
        _print_setup(ws, repeat=0)
        return series

    def all_rows_sheet(self) -> None:
        source, dataset = self.run.source, self.run.dataset
        order = (*ALL_ROWS_ORDER, *IDENTITY_COLUMNS) if dataset.is_titanic else (dataset.id_column, *source.columns)
        columns = list(dict.fromkeys(c for c in order if c in source.columns))
        with self._sheet("all_rows", "Every row of the data file, as read (the lesson's raw data sheet).") as ws:
            for j, c in enumerate(columns):
                self.text(ws, 0, j, c, self.header)
                self.column_values(ws, 1, j, source[c].to_numpy())
            ws.autofilter(0, 0, len(source), len(columns) - 1)
            ws.freeze_panes(1, 0)

    def spec_sheet(self) -> None:
        """The table's description as TOML, one line a row: what ``compare`` and ``predict`` read,
        and what ``--spec`` takes back."""
        from .dataset import spec_to_toml

        with self._sheet(sl.SPEC_SHEET, "The table's description (target, id, feature steps) as TOML: save column A as a "
                                     "file to edit it and train again with --spec.") as ws:
            for r, line in enumerate(spec_to_toml(self.run.dataset).splitlines()):
                if line:
                    self.text(ws, r, 0, line)
            ws.set_column(0, 0, 100)

    def readme_sheet(self, ws: RowWriter, series: list[tuple[str, int, int]], gd_words: list[str]) -> None:
        run, config, dataset = self.run, self.run.config, self.run.dataset
        self.text(ws, 0, 0, "titanic-lab run", self.title)
        ws.set_row(1, 48)  # three lines: a merged cell does not grow to fit its text
        what = "The fast.ai Titanic lesson's models" if dataset.is_titanic else f"The lesson's models on {run.data_path.name}"
        ws.merge_range(1, 0, 1, 5, f"{what}, trained in code by hand-written gradient descent, "
                       "written back as live formulas. Every formula cell stores torch's value; recalculate "
                       "(titanic-lab verify) to see the spreadsheet agree.", self.wrap)
        facts = [
            ("data file", str(run.data_path)),
            ("rows", f"{len(run.frame)} of {len(run.source)} ({len(run.train_idx)} train, {len(run.valid_idx)} validation)"
                     + (f"; {run.excluded} rows left out as passengers of {config.exclude_from}" if run.excluded else "")),
            ("target", dataset.target.describe()),
            ("preset" if dataset.is_titanic else "features from", f"{run.preprocessor.preset_.name}: {run.preprocessor.preset_.description}"),
            ("features", ", ".join(run.features.columns)),
            *([] if dataset.is_titanic else [("left out", "; ".join(f"{c}: {why}" for c, why in dataset.left_out.items()) or "none")]),
            ("seed / split seed / valid-pct", f"{config.seed} / {config.split_seed} / {config.valid_pct}"),
            ("when training stops", "after --epochs N exactly when given; otherwise " + CONVERGENCE_RULE),
            ("dtype", config.dtype),
            ("references", "plain A1 (--portable: for Gnumeric, Google Sheets and every engine)" if config.portable
             else "structured table references (Excel, LibreOffice, IronCalc; --portable for Gnumeric, Google Sheets)"),
            ("written", self.when.isoformat(timespec="seconds")),
            ("titanic-lab version", __version__),
        ]
        row = 3
        for key, value in facts:
            self.text(ws, row, 0, key, self.bold)
            self.text(ws, row, 1, value)
            row += 1
        row += 1
        score = "valid RMSE" if dataset.target.is_regression else "valid accuracy"
        headers = ["model", "sheets", "loss", "optimizer", "lr", "epochs run", "restarts", "train loss", "valid loss",
                   score, "seconds", "stopped", "training only (not in the formulas)"]
        for j, h in enumerate(headers):
            self.text(ws, row, j, h, self.header)
        for name, r in run.results.items():
            row += 1
            spec = r.spec
            sheets = ", ".join(sheet_name(s.base, spec) for s in spec.model_kind.sheets)
            cells = [spec.description, sheets, r.settings.loss, r.settings.optimizer, r.settings.lr, len(r.history),
                     r.settings.restarts, r.train_loss, r.valid_loss, run.scores(name)[f"valid_{score.split()[1].lower()}"],
                     None if reproducible() else round(r.seconds, 3), r.stop_reason, _training_only(r)]
            formats = {7: self.loss, 8: self.loss, 9: self.loss, 10: self.seconds}
            for j, v in enumerate(cells):
                self.value(ws, row, j, v, formats.get(j))
        row += 2
        self.text(ws, row, 0, "sheet", self.header)
        self.text(ws, row, 1, "what it is", self.header)
        for name, note in self.sheets:
            row += 1
            self.text(ws, row, 0, name)
            self.text(ws, row, 1, note)
        if gd_words:
            row += 2
            self.text(ws, row, 0, "the gradients in the 'gradient descent' sheet", self.header)
            for line in [*gd_words, "update: each param becomes param - lr * gradient, lr in cell B2 of 'gradient descent'"]:
                row += 1
                self.text(ws, row, 0, line)
        if series:
            chart = self.wb.add_chart({"type": "scatter", "subtype": "straight"})
            for label, col, epochs in series:
                chart.add_series({
                    "name": label,
                    "categories": ["history", 1, 0, epochs, 0],
                    "values": ["history", 1, col, epochs, col],
                })
            chart.set_title({"name": "Loss per epoch"})
            chart.set_x_axis({"name": "epoch"})
            # Log scale: the first epochs' loss is many times the last ones' and would flatten the rest.
            chart.set_y_axis({"name": "loss (log scale)", "log_base": 10})
            chart.set_size({"width": 720, "height": 360})
            ws.insert_chart(row + 2, 0, chart)
        ws.set_column(0, 0, 28)
        ws.set_column(1, 1, 40)
        for j, h in enumerate(headers[2:-1], start=2):
            ws.set_column(j, j, _width(h, 10))
        ws.set_column(len(headers) - 1, len(headers) - 1, 60)
        ws.set_landscape()
        ws.fit_to_pages(1, 0)


def _width(text: str, minimum: float, extra: float = 2) -> float:
    """A column width that shows ``text`` whole (bold headers are a little wider than their letters)."""
    return max(minimum, round(len(text) * 1.1 + extra, 1))


def _print_setup(ws: RowWriter, repeat: int | None = None) -> None:
    """Print the sheet's used range landscape, one page wide, repeating rows ``0..repeat`` on every page.

    Call once the sheet is written (its used range is known then).
    """
    ws.set_landscape()
    ws.fit_to_pages(1, 0)  # 0: as many pages tall as needed
    if repeat is not None:
        ws.repeat_rows(0, repeat)
    ws.print_area(0, 0, ws.worksheet.dim_rowmax, ws.worksheet.dim_colmax)


def _elementwise_formula(spec: ModelSpec, role: str, bn_cells: tuple[str, ...] | None, prev: int, prev_width: int,
                         u: int) -> Callable[[int], str]:
    """Row -> formula of unit ``u`` of a block computed cell by cell from the block before it
    (at column ``prev``, ``prev_width`` wide): batch norm, an activation, or Preds."""
    if role == "batchnorm":
        return lambda r: fx.batchnorm(fx.cell(r, prev + u), *bn_cells)
    if role == "activation":
        return lambda r: ACTIVATIONS[spec.activation].formula(fx.cell(r, prev + u))
    if spec.model_kind.output == SUM:  # Preds: the units' sum
        return lambda r: "+".join(fx.cell(r, prev + j) for j in range(prev_width))
    return lambda r: fx.sigmoid(fx.cell(r, prev + u))  # Preds: the sigmoid of the output


def _training_only(result: TrainResult) -> str:
    """The options that shaped training but have no formula: batches, penalties, dropout, stopping."""
    st = result.settings
    parts = ["full batch" if st.batch_size is None else f"batch size {st.batch_size}"]
    if st.accumulate > 1:
        parts.append(f"gradients accumulated over {st.accumulate} batches")
    if st.l1:
        parts.append(f"L1 {st.l1:g}")
    if st.l2:
        parts.append(f"L2 {st.l2:g} (weight decay)")
    if st.dropout:
        parts.append(f"dropout {st.dropout:g} (the identity here, as at inference)")
    if st.patience:
        parts.append(f"early stopping, patience {st.patience}: kept epoch {result.best_epoch}")
    return "; ".join(parts)


def _per_row_loss(kind: str, preds: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Each row's loss, (n_rows,): the loss of a one-row batch, so its mean is ``LOSSES[kind]``."""
    return LOSSES[kind](preds.unsqueeze(-1), y.unsqueeze(-1))


def reproducible() -> bool:
    """With ``SOURCE_DATE_EPOCH`` set, timings are left out so that two runs are byte-identical."""
    return bool(os.environ.get("SOURCE_DATE_EPOCH"))


def check_fits(n_rows: int) -> None:
    """Refuse, before any work, a table longer than one Excel sheet."""
    if FIRST_ROW + n_rows > EXCEL_MAX_ROWS:
        raise OutputError(
            f"{n_rows} rows do not fit in one Excel sheet (at most {EXCEL_MAX_ROWS - FIRST_ROW}); "
            "use --sample N to export a random sample, or --out run.json to save the parameters only"
        )


def check_models_fit(specs: list[ModelSpec], n_features: int) -> None:
    """Refuse, before any work, models whose sheets would be wider than Excel's or share a name.

    A sheet holds the data, the features, two or three columns per hidden unit and the params
    blocks to their right; beyond column XFD a cell would be dropped, not written.
    """
    names: dict[str, str] = {}
    for spec in specs:
        widths = hidden_sizes(spec)
        needed = 40 + n_features + 3 * sum(widths) + max(widths, default=0)
        if needed > EXCEL_MAX_COLUMNS:
            raise OptionError(f"--model {spec.name}: its sheet would need about {needed:,} columns, more than Excel's "
                              f"{EXCEL_MAX_COLUMNS:,}; use fewer units, or --out run.json to save the parameters only")
        for sheet in spec.model_kind.sheets:
            name = sheet_name(sheet.base, spec)
            if name in names:
                raise OptionError(f"--model {names[name]} and --model {spec.name} would both be written to sheet {name!r} "
                                  "(sheet names are cut at 31 characters); give one of them other sizes")
            names[name] = spec.name


def written_at() -> _dt.datetime:
    """Now, or ``SOURCE_DATE_EPOCH`` when set (reproducible builds: two runs give identical files)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return _dt.datetime.fromtimestamp(int(epoch), tz=_dt.timezone.utc).replace(tzinfo=None)
    return _dt.datetime.now().replace(microsecond=0)


def write_workbook(run: Run, path: str | Path) -> Path:
    """Write ``run`` to ``path`` (.xlsx) atomically.

    Sheets: ``README`` (what each sheet is, how the run was trained, a chart of the loss per
    epoch), one sheet per model (``linear``; ``nnet`` and ``mmult``; ``sigmoid``, ``hidden``,
    ``deep``), ``history`` and ``all_rows``.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    with atomic_output(path) as tmp, scratch_folder(path) as scratch:
        writer = _Writer(run, tmp, scratch)
        readme = RowWriter(writer.wb.add_worksheet("README"))  # first in the workbook, written last
        writer.sheets.append(("README", "This sheet."))
        writer.model_sheets()
        gd_words = writer.gd_sheet() if run.config.gd_sheet else []
        series = writer.history_sheet()
        writer.all_rows_sheet()
        writer.spec_sheet()
        writer.readme_sheet(readme, series, gd_words)
        readme.write()
        readme.activate()
        try:
            writer.wb.close()
        except xlsxwriter.exceptions.FileCreateError as exc:  # XlsxWriter's wrapper of an OSError
            raise exc.args[0] if exc.args and isinstance(exc.args[0], OSError) else OSError(str(exc)) from exc
    return path
