"""The model sheets: the data table, the trained params, the model's columns as formulas, the loss and checks.

Each model kind's sheets come in a style (:mod:`titanic_lab.model_kinds`): ``linear`` puts the
params in a row under the feature headers, ``nnet`` a row per unit (SUMPRODUCT per cell),
``mmult`` one block (one MMULT array formula), and a chain (``hidden``, ``deep``) a ``W{i}``
block per layer. Beside the formulas' prediction sits torch's own, as a plain value, and a cell
with their largest difference.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch

from .. import formulas as fx
from .. import sheet_layout as sl
from ..choosing import FOLDS, PAIRED_SE, VALIDATION
from ..model_kinds import MMULT, ROW, UNITS
from ..models import BN_PARTS, ModelSpec, forward, layers, sheet_columns
from ..ops import ACTIVATIONS, LOSSES
from ..rowwriter import RowWriter
from ..sheet_layout import FIRST_ROW, HEADER_ROW
from ..training import TrainResult
from .book import Book
from .cells import print_setup, width
from .checks import sheet_name
from .class_cells import class_checks, class_labels
from .data_table import data_table
from .table import Table

#: The precision the sheets' cached values are computed in.
DTYPE = torch.float64

#: ``layer(index, col, values, source)`` writes layer ``index``'s block at ``col`` over ``source``.
LayerWriter = Callable[[int, int, np.ndarray, str], None]


def model_sheets(book: Book) -> None:
    """Every model's sheets, each in its style."""
    for result in book.run.results.values():
        for sheet in result.spec.model_kind.sheets:
            name = sheet_name(sheet.base, result.spec)
            if sheet.style == ROW:
                linear_sheet(book, name, result, sheet.note)
            elif sheet.style in (UNITS, MMULT):
                units_sheet(book, name, result, sheet.style == MMULT, sheet.note)
            else:
                chain_sheet(book, name, result, sheet.note)


@dataclass
class _ModelSheet:
    """A model sheet being written: its data table is in; the params and model's columns go beside it."""

    book: Book
    ws: RowWriter
    table: Table
    result: TrainResult
    #: The first column of the model's blocks (``Model``), once written.
    model_col: int | None = None

    @property
    def params_col(self) -> int:
        """The params' first column: one empty column right of the table."""
        return len(self.table.columns) + 1

    def param_rows(self, W: torch.Tensor) -> tuple[list[str], list[str]]:
        """The lesson's params rows: the feature headers over one row per unit, each row labelled
        (``weights``, ``Lin1 weights``...) and the bias's column marked ``constant``.

        Returns each unit's absolute row address and the headers.
        """
        ws, cells, p0 = self.ws, self.book.cells, self.params_col
        headers = list(self.table.feature_names)
        cells.text(ws, 0, p0, sl.PARAMS, cells.bold)
        for j, h in enumerate(headers):
            cells.text(ws, HEADER_ROW, p0 + j, h, cells.header)
            ws.set_column(p0 + j, p0 + j, width(h, 9))
            for u in range(W.shape[1]):
                ws.write_number(FIRST_ROW + u, p0 + j, float(W[j, u]), cells.param)
        for u in range(W.shape[1]):
            unit = "" if W.shape[1] == 1 else sl.unit_header(sl.LIN, u) + " "
            cells.text(ws, FIRST_ROW + u, p0 - 1, unit + sl.WEIGHTS, cells.right)
        if sl.ONES in headers:
            cells.text(ws, sl.FILL_ROW, p0 + headers.index(sl.ONES), sl.CONSTANT, cells.note)
        ws.set_column(p0 - 1, p0 - 1, width(f"{sl.unit_header(sl.LIN, 0)} {sl.WEIGHTS}", 9))
        rows = [fx.area(FIRST_ROW + u, p0, FIRST_ROW + u, p0 + len(headers) - 1, absolute=True) for u in range(W.shape[1])]
        return rows, headers

    def param_block(self, row: int, W: torch.Tensor, labels: list[str], headers: list[str], corner: str = sl.COLUMN) -> str:
        """A labelled (n_in x n_out) block of params from ``row``; returns its absolute address."""
        ws, cells, col = self.ws, self.book.cells, self.params_col
        cells.text(ws, row, col, corner, cells.header)
        for j, h in enumerate(headers):
            cells.text(ws, row, col + 1 + j, h, cells.header)
        for i, label in enumerate(labels):
            cells.text(ws, row + 1 + i, col, label)
            for j in range(W.shape[1]):
                ws.write_number(row + 1 + i, col + 1 + j, float(W[i, j]), cells.param)
        ws.set_column(col, col, 12)
        return fx.area(row + 1, col + 1, row + len(labels), col + W.shape[1], absolute=True)

    def bn_rows(self, row: int, layer: int) -> dict[tuple[int, int], tuple[str, ...]]:
        """Batch norm's running mean and variance, gamma and beta: four labelled rows from ``row``.

        Returns ``{(layer, unit): (mean, var, gamma, beta) cell addresses}``.
        """
        ws, cells, col = self.ws, self.book.cells, self.params_col
        values = [self.result.params[f"bn{layer}_{part}"].to(DTYPE) for part in BN_PARTS]
        for r, (part, v) in enumerate(zip(BN_PARTS, values)):
            cells.text(ws, row + r, col, sl.bn_label(part, layer), cells.bold)
            for u in range(v.shape[0]):
                ws.write_number(row + r, col + 1 + u, float(v[u]), cells.param)
        return {(layer, u): tuple(fx.cell(row + r, col + 1 + u, absolute=True) for r in range(4)) for u in range(values[0].shape[0])}

    def model_blocks(self, m0: int, layer: LayerWriter, bn: dict) -> int:
        """Write the model's columns from ``m0``, block by block; return the Preds column.

        ``layer`` writes a layer's block (SUMPRODUCT cells or one MMULT array formula over its
        source); batch norm, activations and Preds are written here.
        """
        ws, cells, table, spec = self.ws, self.book.cells, self.table, self.result.spec
        self.model_col = m0
        cells.text(ws, 0, m0, sl.MODEL, cells.bold)
        col, source, n_layers = m0, table.feature_area(), 0
        prev = prev_width = 0
        for prefix, values in sheet_columns(spec, {k: v.to(DTYPE) for k, v in self.result.params.items()}, self.book.X):
            values = values.numpy()
            n_units = values.shape[1]
            for u, header in enumerate(sl.block_headers(prefix, n_units)):
                cells.text(ws, HEADER_ROW, col + u, header, cells.header)
            role, layer_number = sl.block_role(prefix)
            if role == "layer":
                layer(n_layers, col, values, source)
                n_layers += 1
            else:
                for u in range(n_units):
                    build = _elementwise_formula(spec, role, bn.get((layer_number, u)), prev, prev_width, u)
                    cells.column_formulas(ws, col + u, build, values[:, u], cells.num)
                if role == "activation":
                    source = fx.area(FIRST_ROW, col, table.last_row, col + n_units - 1)
            prev, prev_width = col, n_units
            col += n_units
        return col - 1

    def loss_and_checks(self, pred_col: int, total_at: tuple[int, int]) -> None:
        """Loss column, total loss (label at ``total_at``), torch's prediction, the largest difference, the split.

        A regression target is learned as (target - min) / scale: the scale is a cell (``Target scale:``),
        its smallest training value the cell right of it (``Min: 601.5``), the loss takes the target as
        learned, and a ``Prediction`` column multiplies Preds by the scale and adds the min.
        """
        ws, cells, table, result, book = self.ws, self.book.cells, self.table, self.result, self.book
        kind, target = result.settings.loss, book.run.dataset.target
        preds = forward(result.spec, {k: v.to(DTYPE) for k, v in result.params.items()}, book.X)  # (n_rows,)
        if result.spec.outputs > 1:  # pred_col is the softmax's last column
            class_checks(self, pred_col - result.spec.outputs + 1, target.labels, preds, book.y, total_at)
            return
        per_row = _per_row_loss(kind, preds, book.y).numpy()
        target_ref = lambda r: table.refs.this_row(target.column, r)  # noqa: E731
        loss_col = pred_col + 1
        if target.is_regression:
            cells.text(ws, sl.FILL_ROW, pred_col, sl.TARGET_SCALE, cells.bold)
            ws.write_number(sl.FILL_ROW, pred_col + 1, target.divisor, cells.constant)
            scale_ref, min_ref = fx.cell(sl.FILL_ROW, pred_col + 1, absolute=True), None
            if target.offset is not None:
                ws.write_number(sl.FILL_ROW, pred_col + 2, target.shift, cells.labelled[sl.MIN])
                min_ref = fx.cell(sl.FILL_ROW, pred_col + 2, absolute=True)
            cells.text(ws, HEADER_ROW, pred_col + 1, sl.PREDICTION, cells.header)
            cells.column_formulas(ws, pred_col + 1, lambda r: fx.times(fx.cell(r, pred_col), scale_ref, min_ref),
                                  target.in_units(preds.numpy()), cells.num)
            target_ref = lambda r: fx.divided(table.refs.this_row(target.column, r), scale_ref, min_ref)  # noqa: E731
            loss_col += 1
        torch_col = loss_col + 1
        cells.text(ws, HEADER_ROW, loss_col, sl.LOSS, cells.header)
        loss_formula = LOSSES[kind].formula
        cells.column_formulas(ws, loss_col, lambda r: loss_formula(fx.cell(r, pred_col), target_ref(r)), per_row, cells.num)
        loss_area = fx.area(FIRST_ROW, loss_col, table.last_row, loss_col)
        label_row, label_col = total_at
        cells.text(ws, label_row, label_col, sl.TOTAL_LOSS, cells.bold)
        cells.formula(ws, label_row, label_col + 1, fx.average(loss_area), float(per_row.mean()), cells.num)
        # Torch's prediction, as a plain value, and the largest difference from the formulas'.
        cells.text(ws, HEADER_ROW, torch_col, sl.TORCH, cells.header)
        cells.column_values(ws, FIRST_ROW, torch_col, preds.numpy(), cells.torch)
        cells.text(ws, 0, torch_col, sl.MAX_DIFF, cells.bold)
        pred_area = fx.area(FIRST_ROW, pred_col, table.last_row, pred_col)
        torch_area = fx.area(FIRST_ROW, torch_col, table.last_row, torch_col)
        ws.write_dynamic_array_formula(1, torch_col, 1, torch_col, "=" + fx.max_abs_diff(pred_area, torch_area), cells.diff, 0.0)
        ws.set_column(pred_col - 1, torch_col, 10)
        if result.refit:  # every row trained it: no validation column, the estimate from before the refit
            self.estimate_cells(torch_col + 2)  # the column right of torch's is left for its "Max |Preds-torch|:" label
        elif len(book.run.valid_idx):
            self.split_cells(torch_col + 1, loss_area, per_row)
            self.estimate_cells(torch_col + 4)

    def estimate_cells(self, col: int) -> None:
        """The validation metrics (the same for every model, :mod:`titanic_lab.choosing`) as values, a row each,
        and beside them the rows the parameters were fitted on; each label names the cell to its right."""
        ws, cells, run, result = self.ws, self.book.cells, self.book.run, self.result
        for row, metric in enumerate(VALIDATION[run.dataset.target.task]):
            cells.text(ws, row, col, metric.label, cells.bold)
            ws.write_number(row, col + 1, result.validation[metric.name], cells.num)
        if PAIRED_SE in result.validation:  # any table: what the one-standard-error rule chose by, under "Fitted on:"
            cells.text(ws, 1, col + 2, sl.VALID_PAIRED_SE, cells.bold)
            ws.write_number(1, col + 3, result.validation[PAIRED_SE], cells.num)
        if FOLDS in result.validation:  # the Valid figures are every row's, each from a fit without it
            cells.text(ws, 1, col + 4, sl.VALID_FOLDS, cells.bold)
            ws.write_number(1, col + 5, result.validation[FOLDS])  # a count: no decimals
        fitted = (f"every row ({len(run.frame)}), refit after choosing on {len(run.valid_idx)} validation rows"
                  if result.refit else f"the {len(run.train_idx)} training rows")
        if run.choice_folds > 1:
            fitted = (f"{fitted}; its Valid figures are {run.choice_folds}-fold cross-validated: every row's "
                      "from a fit that had not seen it")
        cells.text(ws, 0, col + 2, sl.FITTED_ON, cells.bold)
        cells.text(ws, 0, col + 3, fitted)
        # label, value, label ("Fitted on:"; any table's "Valid paired SE:"), its value, "Valid folds:", its count
        widths = (15, 10, 16, 10, 12, 4) if PAIRED_SE in result.validation else (15, 10, 11)
        for offset, chars in enumerate(widths if FOLDS in result.validation else widths[:4]):  # none runs into the next
            ws.set_column(col + offset, col + offset, chars)

    def split_cells(self, col: int, loss_area: str, per_row: np.ndarray) -> None:
        """The ``Valid`` column (1 on validation rows) and the train and validation losses beside it."""
        ws, cells, valid = self.ws, self.book.cells, self.book.valid
        cells.text(ws, HEADER_ROW, col, sl.VALID, cells.header)
        cells.column_values(ws, FIRST_ROW, col, valid)
        valid_area = fx.area(FIRST_ROW, col, self.table.last_row, col)
        for row, (label, flag) in enumerate(((sl.TRAIN_LOSS, 0), (sl.VALID_LOSS, 1))):
            cells.text(ws, row, col + 1, label, cells.bold)
            value = float(per_row[valid == flag].mean())
            cells.formula(ws, row, col + 2, fx.average_if(valid_area, flag, loss_area), value, cells.num)
        ws.set_column(col + 1, col + 1, 11)


@contextlib.contextmanager
def _model_sheet(book: Book, name: str, note: str, result: TrainResult) -> Iterator[_ModelSheet]:
    """A new model sheet, its data table written; the model's cells go in the ``with`` block."""
    held = book.features_table
    if held is not None:
        note += f" Its formulas read the features on sheet {held.sheet} (written once: --features-once)."
    with book.sheet(name, note) as ws:
        book.tables[name] = data_table(book, ws, f"Data_{name.replace('-', '_')}", name, held)
        if book.features_once and held is None:
            book.features_table = book.tables[name]
        sheet = _ModelSheet(book, ws, book.tables[name], result)
        yield sheet
    # Printed: the data table, then the params, then the model's columns, each from its page's left (with the headers' rows).
    print_setup(ws, repeat=HEADER_ROW, pages=[len(sheet.table.columns), sheet.model_col - 1])


def linear_sheet(book: Book, name: str, result: TrainResult, note: str) -> None:
    """``linear`` / ``sigmoid``: the params as one row under the repeated feature headers."""
    with _model_sheet(book, name, note, result) as sheet:
        p0, cells, table = sheet.params_col, book.cells, sheet.table
        params_refs, headers = sheet.param_rows(layers(result.spec, result.params)[0][0].to(DTYPE))  # a row per class
        if result.spec.outputs > 1:
            class_labels(sheet, book.run.dataset.target.labels)

        def layer(index: int, col: int, values: np.ndarray, source: str) -> None:
            for u, params_ref in enumerate(params_refs):
                formula = table.feature_formula(lambda span, params_ref=params_ref: fx.sumproduct(span, params_ref))
                cells.column_formulas(sheet.ws, col + u, formula, values[:, u], cells.num)

        pred_col = sheet.model_blocks(p0 + len(headers) + 1, layer, {})
        # The lesson puts the linear sheet's total loss under its params (Z7:AA7), below a multiclass model's rows.
        sheet.loss_and_checks(pred_col, (max(6, FIRST_ROW + len(params_refs) + 1), p0 + len(headers) - 2))


def units_sheet(book: Book, name: str, result: TrainResult, as_mmult: bool, note: str) -> None:
    """The lesson's two-ReLU net: ``nnet`` (a params row per unit, SUMPRODUCT per cell) or
    ``mmult`` (a 10 x K params block, one MMULT array formula for every Lin cell)."""
    with _model_sheet(book, name, note, result) as sheet:
        p0, cells, table, ws = sheet.params_col, book.cells, sheet.table, sheet.ws
        W = layers(result.spec, result.params)[0][0].to(DTYPE)  # (n_features, K)
        k = W.shape[1]
        if as_mmult:
            cells.text(ws, 0, p0, sl.PARAMS, cells.bold)
            block = sheet.param_block(HEADER_ROW, W, table.feature_names, [sl.param_header(u) for u in range(k)])
            bn_row, m0 = FIRST_ROW + len(table.feature_names) + 1, p0 + k + 2
        else:
            unit_params, headers = sheet.param_rows(W)
            bn_row, m0 = FIRST_ROW + k + 1, p0 + len(headers) + 1
        bn = sheet.bn_rows(bn_row, 1) if result.spec.batchnorm else {}

        def layer(index: int, col: int, values: np.ndarray, source: str) -> None:
            if as_mmult:
                cells.array(ws, FIRST_ROW, col, fx.mmult(source, block), values, cells.num)
                return
            for u in range(k):
                formula = table.feature_formula(lambda span, u=u: fx.sumproduct(span, unit_params[u]))
                cells.column_formulas(ws, col + u, formula, values[:, u], cells.num)

        pred_col = sheet.model_blocks(m0, layer, bn)
        sheet.loss_and_checks(pred_col, (0, pred_col))


def chain_sheet(book: Book, name: str, result: TrainResult, note: str) -> None:
    """``hidden`` and ``deep``: one MMULT array formula per layer, activations between."""
    spec = result.spec
    with _model_sheet(book, name, note, result) as sheet:
        p0, cells, ws = sheet.params_col, book.cells, sheet.ws
        chain = [(w.to(DTYPE), None if c is None else float(c)) for w, c in layers(spec, result.params)]
        cells.text(ws, 0, p0, sl.PARAMS, cells.bold)
        # Parameter blocks stacked down the params column: W{i} with its inputs as row labels,
        # then c{i}, then batch norm's rows.
        refs, bn, row, inputs = [], {}, HEADER_ROW, sheet.table.feature_names
        act = ACTIVATIONS[spec.activation].header
        for i, (w, c) in enumerate(chain, start=1):
            block = sheet.param_block(row, w, inputs, [sl.chain_unit_header(u) for u in range(w.shape[1])],
                                      corner=sl.weights_corner(i))
            row += w.shape[0] + 1
            const_ref = None
            if c is not None:
                cells.text(ws, row, p0, sl.const_label(i), cells.bold)
                ws.write_number(row, p0 + 1, c, cells.param)
                const_ref = fx.cell(row, p0 + 1, absolute=True)
                row += 1
            if spec.batchnorm and spec.chain[i - 1].activation:
                bn.update(sheet.bn_rows(row, i))
                row += 4
            refs.append((block, const_ref))
            row += 1
            inputs = sl.block_headers(sl.hidden_blocks(i, act).activation, w.shape[1])

        def layer(index: int, col: int, values: np.ndarray, source: str) -> None:
            block, const_ref = refs[index]
            formula = fx.mmult(source, block) + (f"+{const_ref}" if const_ref else "")
            cells.array(ws, FIRST_ROW, col, formula, values, cells.num)

        pred_col = sheet.model_blocks(p0 + max(w.shape[1] for w, _ in chain) + 2, layer, bn)
        sheet.loss_and_checks(pred_col, (0, pred_col))


def _elementwise_formula(spec: ModelSpec, role: str, bn_cells: tuple[str, ...] | None, prev: int, prev_width: int,
                         u: int) -> Callable[[int], str]:
    """Row -> formula of unit ``u`` of a block computed cell by cell from the block before it
    (at column ``prev``, ``prev_width`` wide): batch norm, an activation, or Preds."""
    if role == "batchnorm":
        return lambda r: fx.batchnorm(fx.cell(r, prev + u), *bn_cells)
    if role == "activation":
        return lambda r: ACTIVATIONS[spec.activation].formula(fx.cell(r, prev + u))
    head = spec.head  # Preds (the units' sum, the sigmoid of the output) or a class's probability
    return lambda r: head.formula([fx.cell(r, prev + j) for j in range(prev_width)], u)


def _per_row_loss(kind: str, preds: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Each row's loss, (n_rows,): the loss of a one-row batch, so its mean is ``LOSSES[kind]``."""
    return LOSSES[kind](preds.unsqueeze(-1), y.unsqueeze(-1))
