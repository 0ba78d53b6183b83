"""The ``gradient descent`` sheet (``--gd-sheet``): the run's gradient-descent path, written as formulas.

The path itself is computed in the run (:class:`titanic_lab.runs.GDPath`); this sheet writes
it next to the formulas that recompute it from the model sheets' data.
"""

from __future__ import annotations

import numpy as np

from .. import formulas as fx
from ..models import ModelSpec
from ..rowwriter import RowWriter
from ..runs import GDPath
from ..sheet_layout import FIRST_ROW
from .book import Book
from .cells import print_setup, width
from .checks import sheet_name

GD_SHEET = "gradient descent"


def gd_sheet(book: Book) -> list[str]:
    """Full-batch gradient descent for linear and nnet, one row of formulas per epoch.

    Row 0 of each table holds the starting parameters (values you can edit); every later
    row is ``previous - lr * gradient``, the gradient being the chain rule of the MSE
    written with SUMPRODUCT and MMULT over the model sheet's data; cell B2 is the learning
    rate. Torch's own run from the same start stands beside it. Returns the README lines.
    """
    config, cells = book.run.config, book.cells
    with book.sheet(GD_SHEET, "Gradient descent written in formulas: change the learning rate (B2) or the starting "
                              "parameters (row 0) and watch the spreadsheet train.") as ws:
        cells.text(ws, 0, 0, "Gradient descent in formulas", cells.title)
        cells.text(ws, 1, 0, "Learning rate:", cells.bold)
        ws.write_number(1, 1, config.gd_lr, cells.constant)
        cells.text(ws, 1, 3, f"Each row: the loss and gradient (MSE, every row of the model sheet) at that row's params; "
                             f"the next row's params are params - B2 * gradient. {config.gd_epochs} epochs.")
        lr_ref = fx.cell(1, 1, absolute=True)
        row, chart = 3, book.wb.add_chart({"type": "scatter", "subtype": "straight"})
        words = []
        for name, path in book.run.gd_paths.items():
            result = book.run.results[name]
            sheet = sheet_name(result.spec.model_kind.sheets[0].base, result.spec)
            loss_col, last = _gd_section(book, ws, row, sheet, result.spec, path, lr_ref)
            chart.add_series({"name": f"{name} loss", "categories": [GD_SHEET, row + 2, 0, last, 0],
                              "values": [GD_SHEET, row + 2, loss_col, last, loss_col]})
            words.append(result.spec.model_kind.gd_words.format(target=book.run.dataset.target.column))
            row = last + 3
        chart.set_title({"name": "Loss per epoch (recalculated by the spreadsheet)"})
        chart.set_x_axis({"name": "epoch"})
        chart.set_y_axis({"name": "MSE"})
        ws.insert_chart(row, 0, chart)
        ws.freeze_panes(0, 3)
    print_setup(ws)
    return words


def _gd_section(book: Book, ws: RowWriter, top: int, sheet: str, spec: ModelSpec, path: GDPath,
                lr_ref: str) -> tuple[int, int]:
    """One model's gradient-descent table from row ``top``; returns its loss column and last row."""
    cells, table = book.cells, book.tables[sheet]
    n, epochs = table.n_rows, len(path.losses) - 1
    torch_losses, W_path, grads = path.losses, path.weights, path.gradients  # (n_features, units) per epoch
    units = W_path[0].shape[1]
    features = table.feature_names
    param_headers = [f"{'w' if units == 1 else f'W{u + 1}'} {f}" for u in range(units) for f in features]
    headers = ["epoch", "loss", "torch loss", *param_headers, *[f"dL/d{h}" for h in param_headers]]
    header_row, first = top + 1, top + 2
    last = first + epochs
    cells.text(ws, top, 0, f"{spec.name}: data and params of sheet '{sheet}', {n} rows", cells.bold)
    ws.add_table(header_row, 0, last, len(headers) - 1, {"name": f"GD_{sheet.replace('-', '_')}",
                 "columns": [{"header": h} for h in headers], "style": "Table Style Light 9", "autofilter": False})
    X_all = fx.sheet_area(sheet, fx.area(FIRST_ROW, table.col[features[0]], table.last_row, table.col[features[-1]], absolute=True))
    target = table.col[book.run.dataset.target.column]
    y_all = fx.sheet_area(sheet, fx.area(FIRST_ROW, target, table.last_row, target, absolute=True))
    x_cols = [fx.sheet_area(sheet, fx.area(FIRST_ROW, table.col[f], table.last_row, table.col[f], absolute=True)) for f in features]
    p0, g0 = 3, 3 + len(param_headers)
    for e in range(epochs + 1):
        r = first + e
        ws.write_number(r, 0, e)
        unit_rows = [fx.area(r, p0 + u * len(features), r, p0 + (u + 1) * len(features) - 1) for u in range(units)]
        preds = fx.relu_units_output(X_all, unit_rows) if spec.has_hidden else fx.linear_output(X_all, unit_rows[0])
        cells.array(ws, r, 1, fx.mse_of(n, preds, y_all), np.array([[torch_losses[e]]]), cells.num)
        ws.write_number(r, 2, torch_losses[e], cells.torch)
        for u in range(units):
            gate = fx.linear_output(X_all, unit_rows[u]) if spec.has_hidden else None
            for j, x_col in enumerate(x_cols):
                c = u * len(features) + j
                value = float(W_path[e][j, u])
                if e == 0:
                    ws.write_number(r, p0 + c, value, cells.param)
                else:
                    step = fx.gd_step(fx.cell(r - 1, p0 + c), lr_ref, fx.cell(r - 1, g0 + c))
                    cells.formula(ws, r, p0 + c, step, value, cells.num)
                grad = fx.mse_gradient(n, preds, y_all, x_col, gate)
                cells.array(ws, r, g0 + c, grad, np.array([[float(grads[e][j, u])]]), cells.num)
    loss_area, torch_area = fx.area(first, 1, last, 1), fx.area(first, 2, last, 2)
    label = "Max |loss - torch loss|:"
    cells.text(ws, top, 4, label, cells.bold)
    ws.write_dynamic_array_formula(top, 5, top, 5, "=" + fx.max_abs_diff(loss_area, torch_area), cells.diff, 0.0)
    ws.set_column(0, 0, width("Learning rate:", 7))
    for j, h in enumerate(headers[1:], start=1):
        ws.set_column(j, j, width(label if j == 4 else h, 12))
    return 1, last
