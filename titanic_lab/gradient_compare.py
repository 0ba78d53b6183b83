"""Read the ``backprop`` and ``gradient descent`` sheets back, and recompute them in torch.

``compare`` recomputes a backprop sheet from its own parameters and rows (every forward and
backward column, every gradient, and torch's ``loss.backward()`` at those parameters), and a
gradient descent sheet from its own start row, settings and rows (every epoch's loss,
parameters, gradients and optimizer state). ``train --init-from`` takes a row of a gradient
descent sheet as the start. The sheets are found by the labels of :mod:`titanic_lab.gradient_layout`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import gradient_layout as gl
from . import sheet_layout as sl
from .backprop import autograd_gradients, backprop, descend, layer_blocks
from .diffs import ColumnDiff, SheetDiff, within
from .formulas import cell
from .workbook.layout import LayoutError, overlay
from .models import ModelSpec, Params, init_params, parse_model
from .reading import formula_cells, sheet_parts, sheet_values, value_at
from .ops import ACTIVATIONS


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _facts(row: list[object]) -> dict[str, object]:
    """Label -> its value, the first cell right of it that is filled (its text may run into the one between)."""
    out = {}
    for c, label in enumerate(row):
        if isinstance(label, str) and label.endswith(":"):
            out[label] = next((v for v in row[c + 1 : c + 1 + gl.FACT_STRIDE - 1] if v not in ("", None)), "")
    return out


def _spec(facts: dict[str, object], where: str) -> ModelSpec:
    if gl.MODEL not in facts:
        raise LayoutError(f"{where}: no {gl.MODEL!r} label")
    activation = str(facts.get(gl.ACTIVATION, "relu"))
    return parse_model(str(facts[gl.MODEL]), "relu" if activation == "none" else activation)


def _rows(values: list[list[object]], header_row: int, col: int = 0) -> int:
    """How many data rows follow ``header_row``: while column ``col`` holds a number."""
    n = 0
    while _number(value_at(values, header_row + 1 + n, col)):
        n += 1
    return n


def _column(values, first: int, n: int, col: int) -> np.ndarray:
    out = np.array([value_at(values, first + i, col) for i in range(n)], dtype=object)
    return np.array([float(v) if _number(v) else np.nan for v in out])


@dataclass
class BackpropSheet:
    """A backprop sheet read back: the model, its loss, its params (with where each value sits), its rows."""

    name: str
    spec: ModelSpec
    loss: str
    params: Params
    param_cells: dict[str, np.ndarray]  # param name -> (row, col) of each value, the param's shape + (2,)
    gradient_offset: int  # gradient cell = param cell + this many columns
    X: torch.Tensor
    y: torch.Tensor
    header_row: int
    columns: dict[str, int]
    values: list[list[object]]

    @property
    def first_row(self) -> int:
        return self.header_row + 1


def read_backprop_sheet(name: str, values: list[list[object]], features: list[str] | None = None) -> BackpropSheet:
    """Read a backprop sheet from its values (cached, or recalculated and overlaid).

    Raises
    ------
    LayoutError
        A label or block is missing.
    """
    facts = _facts(values[1] if len(values) > 1 else [])
    spec, loss = _spec(facts, f"sheet {name!r}"), str(facts.get(gl.LOSS, ""))
    params, cells_of, row, offset = {}, {}, gl.PARAMS_ROW, None
    for layer in spec.chain:
        header = values[row] if row < len(values) else []
        if value_at(values, row, 0) != layer.weight:
            raise LayoutError(f"sheet {name!r}: no {layer.weight!r} block at {cell(row, 0)}")
        n_in = next((c for c in range(1, len(header)) if header[c] in ("", None)), len(header)) - 1
        offset = header.index(gl.gradient_header(layer.weight)) if offset is None else offset
        units = 0
        while isinstance(value_at(values, row + 1 + units, 0), str) and value_at(values, row + 1 + units, 0) not in ("", layer.const):
            units += 1
        W = torch.tensor([[float(value_at(values, row + 1 + u, 1 + j)) for u in range(units)] for j in range(n_in)], dtype=torch.float64)
        where = np.array([[(row + 1 + u, 1 + j) for u in range(units)] for j in range(n_in)])
        params[layer.weight], cells_of[layer.weight] = (W[:, 0], where[:, 0]) if layer.vector else (W, where)
        row += 1 + units
        if layer.const:
            params[layer.const] = torch.tensor(float(value_at(values, row, 1)), dtype=torch.float64)
            cells_of[layer.const] = np.array((row, 1))
            row += 1
        row += 1
    header_row = row + 1
    head = values[header_row] if header_row < len(values) else []
    columns = {h: c for c, h in reversed(list(enumerate(head))) if isinstance(h, str) and h}
    if gl.Y not in columns:
        raise LayoutError(f"sheet {name!r}: no {gl.Y!r} header in row {header_row + 1}")
    n = _rows(values, header_row, columns[gl.Y])
    first = spec.chain[0]
    prefix = spec.model_kind.blocks(1, ACTIVATIONS[spec.activation].header).layer if first.activation else spec.model_kind.plain_block
    x_cols = list(range(columns[gl.Y] + 1, columns[sl.unit_header(prefix, 0)]))
    X = torch.tensor(np.stack([_column(values, header_row + 1, n, c) for c in x_cols], axis=1), dtype=torch.float64)
    y = torch.tensor(_column(values, header_row + 1, n, columns[gl.Y]), dtype=torch.float64)
    return BackpropSheet(name, spec, loss, params, cells_of, offset, X, y, header_row, columns, values)


def compare_backprop_sheet(sheet: BackpropSheet, tol: float) -> SheetDiff:
    """Recompute a backprop sheet's every column and gradient from its params and rows; and torch's ``.grad``."""
    spec, values = sheet.spec, sheet.values
    bp = backprop(spec, sheet.params, sheet.X, sheet.y, sheet.loss)
    torch_grads = autograd_gradients(spec, sheet.params, sheet.X, sheet.y, sheet.loss)
    zs, _, _ = layer_blocks(spec, bp.forward)
    recomputed: dict[str, np.ndarray] = {}
    for prefix, block in bp.forward:
        for u, h in enumerate(sl.block_headers(prefix, block.shape[1])):
            recomputed[h] = block[:, u].numpy()
    recomputed[sl.LOSS] = bp.loss.numpy()
    for b, delta in zip(zs, bp.deltas):
        for u, h in enumerate(sl.block_headers(bp.forward[b][0], delta.shape[1])):
            recomputed[gl.delta_header(h)] = delta[:, u].numpy()
    if spec.model_kind.output != "identity":
        recomputed[gl.delta_header(sl.PREDS)] = bp.d_preds[:, 0].numpy()
    columns = []
    for header, fresh in recomputed.items():
        if header not in sheet.columns:
            continue
        col = sheet.columns[header]
        held = _column(values, sheet.first_row, len(fresh), col)
        columns.append(_diff(header, held, fresh, lambda i, col=col: cell(sheet.first_row + i, col), tol))
    for name, grad in bp.gradients.items():
        where = sheet.param_cells[name].reshape(-1, 2)
        held = np.array([value_at(values, r, c + sheet.gradient_offset) for r, c in where], dtype=object)
        held = np.array([float(v) if _number(v) else np.nan for v in held])
        address = lambda i, where=where: cell(int(where[i][0]), int(where[i][1]) + sheet.gradient_offset)  # noqa: E731
        columns.append(_diff(gl.gradient_header(name), held, grad.reshape(-1).numpy(), address, tol))
        columns.append(_diff(f"{gl.gradient_header(name)} vs loss.backward()", held, torch_grads[name].reshape(-1).numpy(), address, tol))
    mean = float(bp.loss.mean())
    mean_at = gl.fact_cells(0)[1]
    held_mean = value_at(values, 2, mean_at)
    return SheetDiff(sheet.name, spec.name, "-", sheet.loss, len(sheet.y), sum(p.numel() for p in sheet.params.values()),
                     cell(gl.PARAMS_ROW, 0), columns, cell(2, mean_at), held_mean if _number(held_mean) else None, mean,
                     _number(held_mean) and within(mean - held_mean, held_mean, tol))


def _diff(header: str, held: np.ndarray, fresh: np.ndarray, address, tol: float) -> ColumnDiff:
    diffs = np.abs(held - fresh)
    diffs[np.isnan(diffs)] = np.inf
    worst = int(np.argmax(diffs)) if len(diffs) else 0
    ok = all(within(d, v, tol) for d, v in zip(diffs, held))
    return ColumnDiff(header, len(fresh), float(diffs[worst]) if len(diffs) else 0.0, address(worst), ok)


@dataclass
class GDSection:
    """One model's table of a gradient descent sheet, read back."""

    spec: ModelSpec
    loss: str
    header_row: int
    epochs: int
    columns: dict[str, int]
    flat: list[tuple[str, tuple]]  # each param column's (param name, index)
    rows_sheet: str


def read_gd_sections(values: list[list[object]]) -> tuple[dict[str, object], list[GDSection]]:
    """The settings (label -> value) and every model's section of a gradient descent sheet."""
    settings = _facts(values[1] if len(values) > 1 else [])
    settings.update(_facts(values[2] if len(values) > 2 else []))
    sections = []
    for r, row in enumerate(values):
        if not (row and row[0] == gl.MODEL):
            continue
        facts = _facts(row)
        spec = _spec(facts, f"sheet {gl.GD_SHEET!r} row {r + 1}")
        head = values[r + 1]
        columns = {h: c for c, h in enumerate(head) if isinstance(h, str) and h}
        template = init_params(spec, _n_features(spec, head), torch.Generator().manual_seed(0))
        flat = _flat_keys(spec, template)
        sections.append(GDSection(spec, str(facts.get(gl.LOSS, "")), r + 1, _rows(values, r + 1) - 1, columns, flat,
                                  str(facts.get(gl.PASSES, ""))))
    return settings, sections


def _n_features(spec: ModelSpec, head: list[object]) -> int:
    first = spec.chain[0]
    names = [h for h in head[3:] if isinstance(h, str) and h.startswith(first.weight + "[")]
    units = 1 if first.vector else int(first.width)
    return len(names) // units


def _flat_keys(spec: ModelSpec, params: Params) -> list[tuple[str, tuple]]:
    """The params' values in the sheet's column order (a unit's weights together, then the constant)."""
    out = []
    for layer in spec.chain:
        w = params[layer.weight]
        if layer.vector:
            out += [(layer.weight, (j,)) for j in range(w.shape[0])]
        else:
            out += [(layer.weight, (j, u)) for u in range(w.shape[1]) for j in range(w.shape[0])]
        if layer.const:
            out.append((layer.const, ()))
    return out


def gd_params(values: list[list[object]], section: GDSection, epoch: int) -> Params:
    """The params of an epoch's row of a section (``-1``: its last row), in the models' shapes."""
    epoch = section.epochs if epoch < 0 else epoch
    if not 0 <= epoch <= section.epochs:
        raise LayoutError(f"sheet {gl.GD_SHEET!r}: {section.spec.name} has epochs 0 to {section.epochs}, not {epoch}")
    template = init_params(section.spec, _n_features(section.spec, values[section.header_row]), torch.Generator().manual_seed(0))
    out = {k: v.clone() for k, v in template.items()}
    for q, (name, index) in enumerate(section.flat):
        v = value_at(values, section.header_row + 1 + epoch, 3 + q)
        if not _number(v):
            raise LayoutError(f"sheet {gl.GD_SHEET!r}: cell {cell(section.header_row + 1 + epoch, 3 + q)} holds {v!r}, not a "
                              "number (a formula without a cached value: open and save the workbook in a spreadsheet, or "
                              "recalculate it)")
        out[name][index] = float(v)
    return out


def compare_gd_sheet(all_values: dict[str, list[list[object]]], tol: float) -> list[SheetDiff]:
    """Recompute every section of the gradient descent sheet from its start row, settings and rows."""
    values = all_values[gl.GD_SHEET]
    settings, sections = read_gd_sections(values)
    out = []
    for section in sections:
        rows = all_values.get(section.rows_sheet)
        if rows is None:
            raise LayoutError(f"sheet {gl.GD_SHEET!r}: its passes' sheet {section.rows_sheet!r} is missing")
        head = rows[gl.GD_FIRST_ROW - 1]
        y_col = head.index(gl.Y)
        n = _rows(rows, gl.GD_FIRST_ROW - 1, y_col)
        n_features = _n_features(section.spec, values[section.header_row])
        X = torch.tensor(np.stack([_column(rows, gl.GD_FIRST_ROW, n, y_col + 1 + j) for j in range(n_features)], axis=1))
        y = torch.tensor(_column(rows, gl.GD_FIRST_ROW, n, y_col))
        c = {k.rstrip(":").lower(): float(settings[k]) for k in gl.SETTINGS}
        path = descend(section.spec, gd_params(values, section, 0), X, y, loss=section.loss, optimizer=str(settings[gl.OPTIMIZER]),
                       lr=c["learning rate"], epochs=section.epochs, l1=c["l1"], l2=c["l2"],
                       constants={k: c[k] for k in ("momentum", "beta1", "beta2", "eps")})
        first, columns = section.header_row + 1, []
        losses = np.array(path.losses)
        columns.append(_diff(gl.EPOCH_LOSS, _column(values, first, len(losses), 1), losses, lambda i: cell(first + i, 1), tol))
        n_p = len(section.flat)
        blocks = [("", path.params), ("dL/d", path.gradients)]
        blocks += [(f"{s} ", [st[s] for st in path.states]) for s in ("v", "m", "s") if path.states and s in path.states[0]]
        for b, (prefix, series) in enumerate(blocks):
            for q, (name, index) in enumerate(section.flat):
                col = 3 + b * n_p + q
                fresh = np.array([float(p[name][index]) for p in series])
                held = _column(values, first, len(fresh), col)
                columns.append(_diff(str(value_at(values, section.header_row, col)), held, fresh, lambda i, col=col: cell(first + i, col), tol))
        held_last = value_at(values, first + section.epochs, 1)
        out.append(SheetDiff(gl.GD_SHEET, section.spec.name, "-", section.loss, n, n_p, cell(first, 3), columns,
                             cell(first + section.epochs, 1), held_last if _number(held_last) else None, float(losses[-1]),
                             _number(held_last) and within(float(losses[-1]) - held_last, held_last, tol)))
    return out


def params_from_gd_sheet(path: str | Path, models: dict[str, ModelSpec], n_features: int, epoch: int = -1) -> dict[str, Params]:
    """Starting parameters for each model of a run: row ``epoch`` (-1: the last) of its section of
    ``path``'s gradient descent sheet, as its cached values hold them.

    Raises
    ------
    LayoutError
        No gradient descent sheet, no section of a model, other features, or a cell without a number.
    """
    path = Path(path)
    if gl.GD_SHEET not in sheet_parts(path):
        raise LayoutError(f"{path}: no {gl.GD_SHEET!r} sheet to start from (train with --gd-sheet)")
    values = sheet_values(path, [gl.GD_SHEET])[gl.GD_SHEET]
    _, sections = read_gd_sections(values)
    out = {}
    for name, spec in models.items():
        section = next((s for s in sections if s.spec == spec), None)
        if section is None:
            raise LayoutError(f"{path}: its {gl.GD_SHEET!r} sheet has no {spec.description} model "
                              f"(it has {', '.join(s.spec.description for s in sections) or 'none'})")
        held = _n_features(spec, values[section.header_row])
        if held != n_features:
            raise LayoutError(f"{path}: sheet {gl.GD_SHEET!r} has {held} features for {spec.name}, the run has {n_features}; "
                              "use the same features")
        out[name] = gd_params(values, section, epoch)
    return out


def gradient_sheet_diffs(path: str | Path, tol: float, fresh: dict[str, dict[tuple[int, int], object]] | None = None) -> list[SheetDiff]:
    """Every backprop and gradient descent sheet of ``path`` recomputed and compared (none: an empty list).

    ``fresh`` (an engine's recalculated values) replaces the cached value of every formula cell.
    """
    path = Path(path)
    names = [n for n in sheet_parts(path) if gl.is_gradient_sheet(n)]
    if not names:
        return []
    values = sheet_values(path, names)
    if fresh is not None:
        for name, cells in formula_cells(path, names).items():
            overlay(values.setdefault(name, []), cells, fresh.get(name, {}))
    out = [compare_backprop_sheet(read_backprop_sheet(n, values[n]), tol) for n in names if n.startswith(gl.BACKPROP_PREFIX)]
    if gl.GD_SHEET in values:
        out += compare_gd_sheet(values, tol)
    return out
