"""The ``gradient descent`` sheet (``--gd-sheet``): every epoch of full-batch gradient descent, as formulas.

One row per epoch for each model: its parameters (row 0 the start, values a person may change;
every later row the optimizer's step from the row above), its loss, its gradients, and the
optimizer's state (``momentum``: a velocity per parameter; ``adam``: first and second moments,
bias-corrected in the step). The learning rate, momentum, Adam's betas and eps, L2 and L1 are
cells in row 2. Each epoch's gradient comes from that epoch's forward and backward pass over
every row, written by :func:`~.backprop_sheet.write_pass` on the model's ``gd-<model>`` sheet, one
group of columns per epoch: the chain rule of the ``backprop`` sheet at every epoch's parameters.
torch's own run from the same start (the hand-written optimizers on ``loss.backward()``) stands
beside it. The path is computed in the run (:class:`titanic_lab.runs.GDPath`).
"""

from __future__ import annotations

import numpy as np

from .. import formulas as fx
from .. import gradient_formulas as gx
from .. import sheet_layout as sl
from ..backprop import CONSTANTS
from ..gradient_layout import (ACTIVATION, BETA1, BETA2, EPOCH, EPOCH_LOSS, EPOCH_TORCH_LOSS, EPS, GD_EPOCH_ROW, GD_FIRST_ROW,
                               GD_ROWS_PREFIX, GD_SHEET, L1, L2, LOSS, LR, MAX_LOSS_DIFF, MAX_PARAM_DIFF, MODEL, MOMENTUM,
                               OPTIMIZER, PASSES, SETTINGS, TORCH_ROW, fact_cells, gradient_header)
from ..models import ModelSpec
from ..rowwriter import RowWriter
from ..runs import GDPath
from .backprop_sheet import ParamCells, PassColumns, data_columns, input_headers, write_pass, z_headers
from .book import Book
from .cells import print_setup, width
from .checks import sheet_name



def gd_rows_name(spec: ModelSpec) -> str:
    """The sheet of a model's per-epoch passes: ``gd-nnet``, ``gd-deep-10-10``."""
    return sheet_name(GD_ROWS_PREFIX + spec.kind, spec)


def setting_cell(label: str) -> str:
    """The absolute address of a setting's value (``$B$2`` for the learning rate)."""
    return fx.cell(1, 2 * SETTINGS.index(label) + 1, absolute=True)


def gd_sheet(book: Book) -> list[str]:
    """The sheet and each model's ``gd-<model>`` sheet; returns the README's lines on them."""
    config = book.run.config
    values = {LR: config.gd_lr, MOMENTUM: CONSTANTS["momentum"], BETA1: CONSTANTS["beta1"], BETA2: CONSTANTS["beta2"],
              EPS: CONSTANTS["eps"], L2: config.gd_l2, L1: config.l1}
    with book.sheet(GD_SHEET, "Gradient descent written in formulas: change the learning rate (B2), the optimizer's "
                              "constants or the starting parameters (row 0) and watch the spreadsheet train.") as ws:
        cells = book.cells
        cells.text(ws, 0, 0, f"Gradient descent in formulas: {config.gd_optimizer}, {config.gd_epochs} epochs, every row",
                   cells.title)
        for k, label in enumerate(SETTINGS):
            cells.text(ws, 1, 2 * k, label, cells.bold)
            ws.write_number(1, 2 * k + 1, values[label], cells.constant)
        cells.text(ws, 2, 0, OPTIMIZER, cells.bold)
        cells.text(ws, 2, 1, config.gd_optimizer)
        cells.text(ws, 2, 2, _rule(config.gd_optimizer))
        row, chart = 4, book.wb.add_chart({"type": "scatter", "subtype": "straight"})
        for name, path in book.run.gd_paths.items():
            spec = book.run.results[name].spec
            last = _section(book, ws, row, spec, path)
            chart.add_series({"name": f"{name} loss", "categories": [GD_SHEET, row + 2, 0, last, 0],
                              "values": [GD_SHEET, row + 2, 1, last, 1]})
            row = last + 5
        chart.set_title({"name": "Loss per epoch (recalculated by the spreadsheet)"})
        chart.set_x_axis({"name": "epoch"})
        chart.set_y_axis({"name": "loss"})
        ws.insert_chart(row, 0, chart)
        ws.set_column(0, 0, width(MAX_LOSS_DIFF, 8))
        ws.freeze_panes(0, 3)
    print_setup(ws)
    return [
        f"gradient descent: one row per epoch; the params of row 0 are the start (edit them), every later row's are the "
        f"row above's minus the learning rate (B2) times its step: {_rule(config.gd_optimizer)}",
        "gradient descent: dL/d<param> of a row is SUMPRODUCT(input column, dL/dz column)/N over that epoch's forward and "
        "backward pass on the model's gd-<model> sheet (one group of columns per epoch, as on the backprop sheet), plus "
        "L2 * param + L1 * SIGN(param)",
        "gradient descent: v (momentum) is Momentum * v of the row above + gradient; m and s (adam) are moving averages "
        "of the gradient and of its square, divided by 1 - beta^(epoch+1) in the step (bias correction)",
        "gradient descent: torch loss and the 'torch:' row are torch's own run from the same start (loss.backward() and "
        "the hand-written optimizer); 'Max |p - torch|:' is the largest difference of the last row's params",
    ]


def _rule(optimizer: str) -> str:
    return {
        "sgd": "sgd: param - lr * gradient",
        "momentum": "momentum: v = Momentum * v + gradient; param - lr * v",
        "adam": "adam: m = beta1 * m + (1 - beta1) * gradient; s = beta2 * s + (1 - beta2) * gradient^2; "
                "param - lr * (m / (1 - beta1^t)) / (SQRT(s / (1 - beta2^t)) + eps), t = epoch + 1",
    }[optimizer]


def _flat(spec: ModelSpec, z_heads: list[list[str]], in_heads: list[list[str]]) -> list[tuple[str, tuple, str, tuple]]:
    """Every parameter value in sheet order: (param name, index into it, header, (layer, unit, input) or (layer,))."""
    out = []
    for i, layer in enumerate(spec.chain):
        many = len(z_heads[i]) > 1
        for u, z in enumerate(z_heads[i]):
            for j, x in enumerate(in_heads[i]):
                index = (j,) if layer.vector else (j, u)
                out.append((layer.weight, index, f"{layer.weight}[{x},{z}]" if many else f"{layer.weight}[{x}]", (i, u, j)))
        if layer.const:
            out.append((layer.const, (), layer.const, (i,)))
    return out


def _section(book: Book, ws: RowWriter, top: int, spec: ModelSpec, path: GDPath) -> int:
    """One model's table from row ``top`` and its ``gd-<model>`` sheet; returns the table's last row."""
    cells, descent, optimizer = book.cells, path.sheet, path.optimizer
    epochs = len(descent.params) - 1
    rows_sheet = gd_rows_name(spec)
    features = book.tables[sheet_name(spec.model_kind.sheets[0].base, spec)].feature_names
    z_heads, in_heads = z_headers(spec, descent.passes[0]), input_headers(spec, descent.passes[0], features)
    flat = _flat(spec, z_heads, in_heads)
    n_p = len(flat)
    states = {"sgd": [], "momentum": ["v"], "adam": ["m", "s"]}[optimizer]
    p0, g0 = 3, 3 + n_p
    s0 = {name: g0 + n_p * (k + 1) for k, name in enumerate(states)}
    first, last = top + 2, top + 2 + epochs
    where = {key: q for q, (_, _, _, key) in enumerate(flat)}

    def value(params, q: int) -> float:
        name, index, _, _ = flat[q]
        return float(params[name][index])

    def params_at(e: int) -> ParamCells:
        r = first + e
        at = lambda q: fx.sheet_area(GD_SHEET, fx.cell(r, p0 + q, absolute=True))  # noqa: E731
        return ParamCells(
            lambda i, u: fx.sheet_area(GD_SHEET, fx.area(r, p0 + where[i, u, 0], r, p0 + where[i, u, len(in_heads[i]) - 1], absolute=True)),
            lambda i, u, j: at(where[i, u, j]),
            lambda i: at(where[(i,)]) if (i,) in where else None)

    # The passes, one group of columns per epoch, on the model's own sheet.
    with book.sheet(rows_sheet, f"Each epoch's forward and backward pass of {spec.name} for the 'gradient descent' sheet, "
                                "one group of columns per epoch.") as rows_ws:
        cells.text(rows_ws, 0, 0, f"{spec.name}: every epoch's pass over every row at that epoch's params (row "
                                  f"epoch + {first + 1} of '{GD_SHEET}')", cells.title)
        target_cells = _target_cells(book, rows_ws)
        x_cols, y_col, _ = data_columns(book, rows_ws, spec, GD_FIRST_ROW, target_cells)
        # the epochs' labels share row GD_EPOCH_ROW with the target's cells: right of the min's (D2) when there is one
        col, layouts = max(x_cols[-1] + 2, 5 if target_cells and target_cells[1] else 0), []
        for e, bp in enumerate(descent.passes):
            cells.text(rows_ws, GD_EPOCH_ROW, col, f"epoch {e}", cells.bold)
            layout: PassColumns = write_pass(book, rows_ws, spec, path.loss, params_at(e), bp, GD_FIRST_ROW, col, x_cols, y_col,
                                             rows_sheet)
            layouts.append(layout)
            col = max(layout.headers.values()) + 2
        rows_ws.freeze_panes(GD_FIRST_ROW, 1)
    print_setup(rows_ws)

    # The table: epoch, loss, torch loss, params, gradients, the optimizer's state.
    headers = [EPOCH, EPOCH_LOSS, EPOCH_TORCH_LOSS, *(h for _, _, h, _ in flat), *(gradient_header(h) for _, _, h, _ in flat)]
    headers += [f"{s} {h}" for s in states for _, _, h, _ in flat]
    facts = [(MODEL, spec.name), (ACTIVATION, spec.activation if spec.has_hidden else "none"), (LOSS, path.loss),
             (PASSES, rows_sheet)]
    for k, (label, text) in enumerate(facts):
        cells.text(ws, top, fact_cells(k)[0], label, cells.bold)
        cells.text(ws, top, fact_cells(k)[1], text)
    for c, h in enumerate(headers):
        cells.text(ws, top + 1, c, h, cells.header)
        ws.set_column(c, c, width(h, 10))
    lr, l2, l1 = setting_cell(LR), setting_cell(L2), setting_cell(L1)
    b1, b2, eps, mu = setting_cell(BETA1), setting_cell(BETA2), setting_cell(EPS), setting_cell(MOMENTUM)
    for e in range(epochs + 1):
        r = first + e
        ws.write_number(r, 0, e)
        cells.formula(ws, r, 1, layouts[e].mean_loss(), descent.losses[e], cells.num)
        ws.write_number(r, 2, path.torch_losses[e], cells.torch)
        for q, (name, index, _, key) in enumerate(flat):
            p, g = fx.cell(r, p0 + q), fx.cell(r, g0 + q)
            if e == 0:
                ws.write_number(r, p0 + q, value(descent.params[0], q), cells.param)
            else:
                above = lambda col: fx.cell(r - 1, col)  # noqa: E731
                if optimizer == "adam":
                    step = gx.adam_step(above(p0 + q), lr, above(s0["m"] + q), above(s0["s"] + q), f"({above(0)}+1)", b1, b2, eps)
                else:
                    step = fx.gd_step(above(p0 + q), lr, above((s0["v"] if optimizer == "momentum" else g0) + q))
                cells.formula(ws, r, p0 + q, step, value(descent.params[e], q), cells.num)
            grad = layouts[e].weight_gradient(*key) if len(key) == 3 else layouts[e].const_gradient(key[0])
            cells.formula(ws, r, g0 + q, gx.penalized(grad, p, l2, l1), value(descent.gradients[e], q), cells.num)
            prev = (lambda s: None) if e == 0 else (lambda s: fx.cell(r - 1, s0[s] + q))
            state = descent.states[e]
            if optimizer == "momentum":
                cells.formula(ws, r, s0["v"] + q, gx.velocity(prev("v"), mu, g), value(state["v"], q), cells.num)
            elif optimizer == "adam":
                cells.formula(ws, r, s0["m"] + q, gx.moment(prev("m"), b1, g), value(state["m"], q), cells.num)
                cells.formula(ws, r, s0["s"] + q, gx.moment(prev("s"), b2, f"{g}^2"), value(state["s"], q), cells.num)
    # torch's parameters after the last epoch, and the largest differences.
    cells.text(ws, last + 1, 0, TORCH_ROW, cells.bold)
    torch_last = np.array([value(path.torch_params[-1], q) for q in range(n_p)])
    for q in range(n_p):
        ws.write_number(last + 1, p0 + q, float(torch_last[q]), cells.torch)
    cells.text(ws, last + 2, 0, MAX_PARAM_DIFF, cells.bold)
    sheet_last = np.array([value(descent.params[-1], q) for q in range(n_p)])
    ws.write_dynamic_array_formula(last + 2, 1, last + 2, 1, "=" + fx.max_abs_diff(
        fx.area(last, p0, last, p0 + n_p - 1), fx.area(last + 1, p0, last + 1, p0 + n_p - 1)), cells.diff,
        float(np.abs(sheet_last - torch_last).max()))
    cells.text(ws, last + 3, 0, MAX_LOSS_DIFF, cells.bold)
    ws.write_dynamic_array_formula(last + 3, 1, last + 3, 1, "=" + fx.max_abs_diff(fx.area(first, 1, last, 1), fx.area(first, 2, last, 2)),
                                   cells.diff, float(np.abs(np.array(descent.losses) - np.array(path.torch_losses)).max()))
    return last


def _target_cells(book: Book, ws: RowWriter) -> tuple[str, str | None] | None:
    """A regression target's scale and smallest value as cells of the sheet (the model learns (target - min) / scale;
    the min's cell None without an offset); None for 0/1."""
    target = book.run.dataset.target
    if not target.is_regression:
        return None
    book.cells.text(ws, 1, 0, sl.TARGET_SCALE, book.cells.bold)
    ws.write_number(1, 1, target.divisor, book.cells.constant)
    if target.offset is None:
        return fx.cell(1, 1, absolute=True), None
    book.cells.text(ws, 1, 2, sl.TARGET_MIN, book.cells.bold)
    ws.write_number(1, 3, target.shift, book.cells.constant)
    return fx.cell(1, 1, absolute=True), fx.cell(1, 3, absolute=True)
