"""The ``backprop`` sheets (``--backprop-sheet``): the chain rule cell by cell, one sheet per model.

A sheet holds the model's parameters (cells a person may change), for every data row the
forward pass as columns (each layer's z, its activation, the prediction, the row's loss) and then
the backward pass, written right to left: ``dL/dPreds`` at the far right, then the output's and
each layer's delta ``dL/dz``, each a formula over the cells to its right. Beside the parameters
stand their gradients (``SUMPRODUCT`` of a layer's input column and its delta column, ``/ N``),
torch's own ``.grad`` after ``loss.backward()`` at the same parameters, and their largest
difference. :func:`write_pass` writes the rows' columns; the ``gradient descent`` sheet's
``gd rows`` sheets use it once per epoch.

Layout (0-based rows)::

    row 0     title
    row 1     Model: | Activation: | Loss: | Rows (N): | Data from sheet:        (read back by compare)
    row 2     Mean loss: =AVERAGE(Loss) | torch loss: | Max |dL/dparam - torch .grad|:   (each label, a gap, its value)
    row 3     how the three blocks below are computed
    row 4..   per layer: W1 | inputs...  || dL/dW1 | inputs... || torch .grad W1 | inputs...
              one row per unit (labelled by its z column), then c1
    then      a row saying how each column is computed, the headers, one row per data row
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .. import formulas as fx
from .. import gradient_formulas as gx
from .. import sheet_layout as sl
from ..gradient_layout import (ACTIVATION, BACKPROP_PREFIX, DATA_SHEET, LOSS, MAX_DIFF, MEAN_LOSS, MODEL, PARAMS_ROW, ROWS,
                               TORCH_GRAD, TORCH_LOSS, Y, delta_header, fact_cells)
from ..backprop import Backprop, autograd_gradients, backprop, layer_blocks
from ..models import ModelSpec, Params
from ..ops import ACTIVATIONS, LOSSES
from ..rowwriter import RowWriter
from ..sheet_layout import FIRST_ROW
from .book import Book
from .cells import print_setup, width
from .checks import sheet_name



def backprop_sheet_name(spec: ModelSpec) -> str:
    """``backprop-nnet``, ``backprop-deep-10-10``."""
    return sheet_name(BACKPROP_PREFIX + spec.kind, spec)


@dataclass(frozen=True)
class ParamCells:
    """Where a model's parameters sit, as cell references (layers and units 0-based).

    ``unit_row(i, u)``: layer i's weights into unit u, one contiguous row over the layer's inputs;
    ``weight(i, u, j)``: the weight from input j to unit u; ``const(i)``: the layer's constant or None.
    """

    unit_row: Callable[[int, int], str]
    weight: Callable[[int, int, int], str]
    const: Callable[[int], str | None]


@dataclass
class PassColumns:
    """Where :func:`write_pass` put a pass's columns, and the formulas that read them."""

    sheet: str | None
    first_row: int
    n: int
    inputs: list[list[int]]  # per layer, the columns of its inputs
    deltas: list[list[int]]  # per layer, the columns of its deltas
    loss: int
    headers: dict[str, int]

    def area(self, col: int, last_col: int | None = None) -> str:
        rng = fx.area(self.first_row, col, self.first_row + self.n - 1, col if last_col is None else last_col, absolute=True)
        return rng if self.sheet is None else fx.sheet_area(self.sheet, rng)

    def weight_gradient(self, i: int, u: int, j: int) -> str:
        return gx.weight_gradient(self.area(self.inputs[i][j]), self.area(self.deltas[i][u]), self.n)

    def const_gradient(self, i: int) -> str:
        return gx.const_gradient(self.area(self.deltas[i][0], self.deltas[i][-1]), self.n)

    def mean_loss(self) -> str:
        return fx.average(self.area(self.loss))


def z_headers(spec: ModelSpec, bp: Backprop) -> list[list[str]]:
    """Each layer's z headers: ``Linear``; ``Lin1``, ``Lin2``; ``L1_1``...; ``Out``."""
    zs, _, _ = layer_blocks(spec, bp.forward)
    return [sl.block_headers(bp.forward[b][0], bp.forward[b][1].shape[1]) for b in zs]


def input_headers(spec: ModelSpec, bp: Backprop, features: list[str]) -> list[list[str]]:
    """Each layer's input headers: the features, then the activation columns of the layer before."""
    _, acts, _ = layer_blocks(spec, bp.forward)
    out = [list(features)]
    for b in acts[:-1]:
        out.append(sl.block_headers(bp.forward[b][0], bp.forward[b][1].shape[1]))
    return out


@dataclass
class _Plan:
    """Where a pass's columns go: each layer's z and activation columns, the prediction, Loss, the
    deltas and dL/dPreds (None when the prediction is the last layer's z)."""

    z_cols: list[list[int]]
    a_cols: list[list[int] | None]
    inputs: list[list[int]]
    pred_col: int
    loss_col: int
    delta_cols: list[list[int]]
    dpred_col: int | None
    y_col: int


@dataclass(frozen=True)
class _Names:
    """How a pass's formulas name things: the cells of one row, or (the ``how`` row) the headers.

    ``col(c)`` names column c; ``inputs(i)`` layer i's row of inputs; ``params`` the weights;
    ``terms`` shortens a sum back through the weights to its first terms and ``+...``.
    """

    col: Callable[[int], str]
    inputs: Callable[[int], str]
    params: ParamCells
    terms: int | None = None


def _pass_formulas(spec: ModelSpec, loss: str, plan: _Plan, names: _Names) -> dict[int, str]:
    """Every formula of one row of a pass, by column: the forward pass, then the chain rule backwards."""
    act, record, output, chain = ACTIVATIONS[spec.activation], LOSSES[loss], spec.model_kind.output, spec.chain
    col, params = names.col, names.params
    out = {}
    for i in range(len(chain)):
        for u, zc in enumerate(plan.z_cols[i]):
            out[zc] = gx.pre_activation(names.inputs(i), params.unit_row(i, u), params.const(i))
            if plan.a_cols[i] is not None:
                out[plan.a_cols[i][u]] = act.formula(col(zc))
    pred, y = col(plan.pred_col), col(plan.y_col)
    if output == "sum":  # Preds = the units' sum
        out[plan.pred_col] = "+".join(col(a) for a in plan.a_cols[-1])
    elif output == "sigmoid":
        out[plan.pred_col] = fx.sigmoid(col(plan.z_cols[-1][0]))
    out[plan.loss_col] = record.formula(pred, y)
    if plan.dpred_col is not None:
        out[plan.dpred_col] = record.derivative_formula(pred, y)
    last = len(chain) - 1
    for i in reversed(range(len(chain))):
        for u, dc in enumerate(plan.delta_cols[i]):
            z = col(plan.z_cols[i][u])
            if i == last and output == "identity":  # the prediction is z itself
                out[dc] = record.derivative_formula(pred, y)
            elif i == last and output == "sigmoid":  # through the sigmoid: the sigmoid record's slope
                out[dc] = gx.times_slope(col(plan.dpred_col), ACTIVATIONS["sigmoid"].derivative_formula(z, pred))
            else:  # back through the weights above (or the sum's 1), times the activation's slope
                if i == last:
                    upstream = col(plan.dpred_col)
                else:
                    terms = [(col(plan.delta_cols[i + 1][k]), params.weight(i + 1, k, u)) for k in range(len(plan.delta_cols[i + 1]))]
                    short = names.terms is not None and len(terms) > names.terms
                    upstream = gx.back_through(terms[: names.terms] if short else terms) + ("+..." if short else "")
                out[dc] = gx.times_slope(upstream, act.derivative_formula(z, col(plan.a_cols[i][u])))
    return out


def write_pass(book: Book, ws: RowWriter, spec: ModelSpec, loss: str, params: ParamCells, bp: Backprop,
               first_row: int, col: int, x_cols: list[int], y_col: int, sheet: str | None = None) -> PassColumns:
    """Write every row's forward and backward pass from column ``col``, data from ``first_row``.

    The headers go in the row above ``first_row``, and above them a row saying how each column is
    computed (its formula on names). ``x_cols`` (contiguous) and ``y_col`` hold each row's features
    and target; ``params`` says where the weights are. Cached values are ``bp``'s. Returns where the
    columns are.
    """
    cells, chain = book.cells, spec.chain
    zs, acts, pred_block = layer_blocks(spec, bp.forward)
    # Plan the columns: forward blocks, Loss, each layer's deltas, dL/dPreds.
    starts, c = [], col
    for _, values in bp.forward:
        starts.append(c)
        c += values.shape[1]
    loss_col, c = c, c + 1
    delta_cols = []
    for d in bp.deltas:
        delta_cols.append(list(range(c, c + d.shape[1])))
        c += d.shape[1]
    width_of = [values.shape[1] for _, values in bp.forward]
    a_cols = [None if b is None else list(range(starts[b], starts[b] + width_of[b])) for b in acts]
    plan = _Plan([list(range(starts[b], starts[b] + width_of[b])) for b in zs], a_cols, [x_cols] + a_cols[:-1],
                 starts[pred_block], loss_col, delta_cols, None if spec.model_kind.output == "identity" else c, y_col)

    # The values of each column, and its header.
    values = {plan.loss_col: bp.loss.numpy()}
    heads = {plan.loss_col: sl.LOSS}
    for b, (prefix, block) in enumerate(bp.forward):
        for u, h in enumerate(sl.block_headers(prefix, block.shape[1])):
            values[starts[b] + u], heads[starts[b] + u] = block[:, u].numpy(), h
    for i, cols in enumerate(delta_cols):
        for u, dc in enumerate(cols):
            values[dc], heads[dc] = bp.deltas[i][:, u].numpy(), delta_header(heads[plan.z_cols[i][u]])
    if plan.dpred_col is not None:
        values[plan.dpred_col], heads[plan.dpred_col] = bp.d_preds[:, 0].numpy(), delta_header(sl.PREDS)

    # The how row: each column's formula on names (the weight joining L1_2 to L2_1 is W2[L1_2,L2_1]).
    names = {**heads, y_col: Y}
    z_names = [[heads[zc] for zc in zs_] for zs_ in plan.z_cols]
    in_names = [["inputs"]] + [[heads[a] for a in a_] for a_ in a_cols[:-1]]
    on_names = _Names(
        names.get, lambda i: "inputs" if i == 0 else bp.forward[acts[i - 1]][0] + "*",
        ParamCells(lambda i, u: f"{chain[i].weight} row {z_names[i][u]}",
                   lambda i, u, j: f"{chain[i].weight}[{in_names[i][j]},{z_names[i][u]}]",
                   lambda i: chain[i].const), terms=2)
    header_row, how_row = first_row - 1, first_row - 2
    for c_, how in sorted(_pass_formulas(spec, loss, plan, on_names).items()):
        cells.text(ws, header_row, c_, heads[c_], cells.header)
        cells.text(ws, how_row, c_, f"{heads[c_]} = {how}", cells.wrap)
        ws.set_column(c_, c_, width(heads[c_], 12))
    ws.set_row(how_row, 90)  # six lines of the wrapped formulas
    fmt = cells.num

    def rule(w, r: int, row: int) -> None:
        in_row = lambda i: fx.area(r, plan.inputs[i][0], r, plan.inputs[i][-1])  # noqa: E731
        for c_, text in _pass_formulas(spec, loss, plan, _Names(lambda c_: fx.cell(r, c_), in_row, params)).items():
            w.write_formula(r, c_, "=" + text, fmt, float(values[c_][row]))

    ws.column(first_row, len(bp.loss), rule)
    return PassColumns(sheet, first_row, len(bp.loss), plan.inputs, delta_cols, loss_col, {h: c_ for c_, h in heads.items()})


def data_columns(book: Book, ws: RowWriter, spec: ModelSpec, first_row: int,
                 target_cells: tuple[str, str | None] | None) -> tuple[list[int], int, str]:
    """The target (``y``) and feature columns, each cell a reference to the model sheet's cell of its row.

    ``target_cells``: a regression target's scale cell and min cell (None without an offset), as the model learns
    ``(target - min) / scale``; None for a target learned as it is.

    Returns the feature columns, the target's column, and the model sheet's name.
    """
    cells, run = book.cells, book.run
    source = sheet_name(spec.model_kind.sheets[0].base, spec)
    table = book.tables[source]
    target = run.dataset.target.column
    features = table.feature_names
    cells.text(ws, first_row - 1, 0, Y, cells.header)
    learned = "" if not target_cells else " / target scale" if target_cells[1] is None else " - target min, / target scale"
    cells.text(ws, first_row - 2, 0, f"{Y} = {target}{learned} (sheet {source})",
               cells.wrap)
    for j, f in enumerate(features, start=1):
        cells.text(ws, first_row - 1, j, f, cells.header)
        ws.set_column(j, j, width(f, 8))
    cells.text(ws, first_row - 2, 1, f"inputs: the features of sheet {(table.features_at or table).sheet}")
    X, y = book.X.numpy(), book.y.numpy()

    def rule(w, r: int, row: int) -> None:
        src = FIRST_ROW + row
        ref = fx.sheet_area(source, fx.cell(src, table.col[target]))
        w.write_formula(r, 0, "=" + (fx.divided(ref, *target_cells) if target_cells else ref), book.cells.num, float(y[row]))
        for j, f in enumerate(features):
            w.write_formula(r, 1 + j, "=" + table.feature_cell(f, src), book.cells.num, float(X[row, j]))

    ws.column(first_row, len(y), rule)
    return list(range(1, 1 + len(features))), 0, source


def backprop_sheets(book: Book) -> list[str]:
    """A ``backprop`` sheet for every model of the run; returns the README's lines on them."""
    for name, result in book.run.results.items():
        _backprop_sheet(book, result.spec, result.settings.loss, {k: v.to(torch.float64) for k, v in result.params.items()})
    return [
        "backprop sheets: every row's forward pass (z, activation, Preds, Loss) left to right, then its backward pass right "
        "to left: dL/dPreds is the loss's derivative at the prediction; dL/dOut multiplies it by the output's slope "
        "(the sigmoid's Preds*(1-Preds)); each hidden layer's dL/dz is the sum of the deltas above times the weights "
        "joining them, times the activation's slope at z (row 'how:' shows each column's formula on names)",
        "backprop sheets: each parameter's gradient is SUMPRODUCT(its input column, its unit's dL/dz column)/N (a "
        "constant's, SUM of its layer's dL/dz columns /N); torch .grad beside them is loss.backward() at the same "
        "parameters, and the cell right of 'Max |dL/dparam - torch .grad|:' their largest difference",
    ]


def _backprop_sheet(book: Book, spec: ModelSpec, loss: str, params: Params) -> None:
    cells, run = book.cells, book.run
    bp = backprop(spec, params, book.X, book.y, loss)
    torch_grads = autograd_gradients(spec, params, book.X, book.y, loss)
    name = backprop_sheet_name(spec)
    chain = spec.chain
    note = (f"Backpropagation of {spec.name} by the chain rule, cell by cell: the forward pass left to right, the "
            "backward pass right to left, every gradient a formula, torch's .grad beside it.")
    with book.sheet(name, note) as ws:
        n = len(bp.loss)
        z_heads = z_headers(spec, bp)
        features = book.tables[sheet_name(spec.model_kind.sheets[0].base, spec)].feature_names
        in_heads = input_headers(spec, bp, features)
        cells.text(ws, 0, 0, f"Backpropagation: {spec.description}, loss {loss}, {n} rows", cells.title)
        facts = [(MODEL, spec.name), (ACTIVATION, spec.activation if spec.has_hidden else "none"), (LOSS, loss), (ROWS, n)]
        # Parameters, gradients and torch's .grad: one block each per layer, side by side.
        width_in = max(len(h) for h in in_heads)
        g0, t0 = width_in + 2, 2 * width_in + 4
        row, unit_rows, weight_cells, const_cells = PARAMS_ROW, [], [], []
        grad_cells: list[tuple[str, str]] = []  # (gradient block area, torch block area)
        for i, layer in enumerate(chain):
            units = z_heads[i]
            w = params[layer.weight]
            w = w.unsqueeze(-1) if layer.vector else w  # (n_in, width)
            for c0, label in ((0, layer.weight), (g0, f"dL/d{layer.weight}"), (t0, f".grad {layer.weight}")):
                cells.text(ws, row, c0, label, cells.header)
                for j, h in enumerate(in_heads[i]):
                    cells.text(ws, row, c0 + 1 + j, h, cells.header)
                    ws.set_column(c0 + 1 + j, c0 + 1 + j, width(h, 9))  # the rows' columns below may widen it
            unit_rows.append([fx.area(row + 1 + u, 1, row + 1 + u, len(in_heads[i]), absolute=True) for u in range(len(units))])
            weight_cells.append(lambda u, j, row=row: fx.cell(row + 1 + u, 1 + j, absolute=True))
            tg = torch_grads[layer.weight]
            tg = tg.unsqueeze(-1) if layer.vector else tg
            for u, z in enumerate(units):
                r = row + 1 + u
                for c0 in (0, g0, t0):
                    cells.text(ws, r, c0, z, cells.bold)
                for j in range(len(in_heads[i])):
                    ws.write_number(r, 1 + j, float(w[j, u]), cells.param)
                    ws.write_number(r, t0 + 1 + j, float(tg[j, u]), cells.torch)
            grad_cells.append((fx.area(row + 1, g0 + 1, row + len(units), g0 + len(in_heads[i])),
                               fx.area(row + 1, t0 + 1, row + len(units), t0 + len(in_heads[i]))))
            row += 1 + len(units)
            if layer.const:
                for c0, label in ((0, layer.const), (g0, f"dL/d{layer.const}"), (t0, f".grad {layer.const}")):
                    cells.text(ws, row, c0, label, cells.bold)
                ws.write_number(row, 1, float(params[layer.const]), cells.param)
                ws.write_number(row, t0 + 1, float(torch_grads[layer.const]), cells.torch)
                const_cells.append(fx.cell(row, 1, absolute=True))
                grad_cells.append((fx.cell(row, g0 + 1), fx.cell(row, t0 + 1)))
                row += 1
            else:
                const_cells.append(None)
            row += 1
        param_cells = ParamCells(lambda i, u: unit_rows[i][u], lambda i, u, j: weight_cells[i](u, j), lambda i: const_cells[i])
        first = row + 2  # the how row, the headers, then the data rows
        facts.append((DATA_SHEET, sheet_name(spec.model_kind.sheets[0].base, spec)))
        target_cells = None
        if run.dataset.target.is_regression:
            facts.append((sl.TARGET_SCALE, run.dataset.target.divisor))
            target_cells = (fx.cell(1, fact_cells(len(facts) - 1)[1], absolute=True), None)
            if run.dataset.target.offset is not None:
                facts.append((sl.TARGET_MIN, run.dataset.target.shift))
                target_cells = (target_cells[0], fx.cell(1, fact_cells(len(facts) - 1)[1], absolute=True))
        x_cols, y_col, _ = data_columns(book, ws, spec, first, target_cells)
        for k, (label, value) in enumerate(facts):
            cells.text(ws, 1, fact_cells(k)[0], label, cells.bold)
            cells.value(ws, 1, fact_cells(k)[1], value, cells.constant if label in (sl.TARGET_SCALE, sl.TARGET_MIN) else None)
        layout = write_pass(book, ws, spec, loss, param_cells, bp, first, x_cols[-1] + 1, x_cols, y_col)
        # The gradients, each a formula over the rows' columns.
        row = PARAMS_ROW
        for i, layer in enumerate(chain):
            tg = torch_grads[layer.weight]
            g = bp.gradients[layer.weight]
            g = g.unsqueeze(-1) if layer.vector else g
            for u in range(len(z_heads[i])):
                for j in range(len(in_heads[i])):
                    cells.formula(ws, row + 1 + u, g0 + 1 + j, layout.weight_gradient(i, u, j), float(g[j, u]), cells.num)
            row += 1 + len(z_heads[i])
            if layer.const:
                cells.formula(ws, row, g0 + 1, layout.const_gradient(i), float(bp.gradients[layer.const]), cells.num)
                row += 1
            row += 1
        diffs = max(float((bp.gradients[k] - torch_grads[k]).abs().max()) for k in torch_grads)
        (ml, mv), (tl, tv), (dl, _), (_, dv) = (fact_cells(k) for k in range(4))
        cells.text(ws, 2, ml, MEAN_LOSS, cells.bold)
        cells.formula(ws, 2, mv, layout.mean_loss(), float(bp.loss.mean()), cells.num)
        cells.text(ws, 2, tl, TORCH_LOSS, cells.bold)
        ws.write_number(2, tv, float(LOSSES[loss](bp.forward[-1][1][:, 0], book.y)), cells.torch)
        cells.text(ws, 2, dl, MAX_DIFF, cells.bold)  # a label six columns wide, the difference after it
        formula = "MAX(" + ",".join(f"MAX(ABS({a}-{b}))" for a, b in grad_cells) + ")"
        ws.write_dynamic_array_formula(2, dv, 2, dv, "=" + formula, cells.diff, diffs)
        cells.text(ws, PARAMS_ROW - 1, 0, "the params: change one and every column below follows")
        cells.text(ws, PARAMS_ROW - 1, g0, "dL/d: each = SUMPRODUCT(its input column, the dL/dz column of its row's unit)/N")
        cells.text(ws, PARAMS_ROW - 1, t0, f"{TORCH_GRAD}: loss.backward() at the same params")
        ws.set_column(0, 0, 10)
        ws.freeze_panes(first, 1)
    print_setup(ws, repeat=first - 1)
