"""Backpropagation by hand, row by row: what the ``backprop`` and ``gradient descent`` sheets write.

:func:`backprop` runs the forward pass of a model and then the chain rule backwards, layer by
layer, with the derivative records of :mod:`titanic_lab.ops` (each activation's and loss's
slope), exactly as the sheets' formulas do: for every row the loss's derivative at the
prediction, through the output (the sigmoid's slope, or the sum's 1), then for each layer its
delta ``dL/dz = (delta above @ W above^T) * activation'(z)``; every weight's gradient is
``inputs^T @ delta / N`` and a layer's constant's ``sum(delta) / N``. ``loss.backward()`` gives
the same numbers (tests/test_backprop.py checks to 1e-12); this module does not use autograd.

:func:`descend` replays full-batch gradient descent with those gradients and the optimizers as
the ``gradient descent`` sheet writes them (``sgd``, ``momentum``, ``adam``; L2 and L1 as terms
of the gradient), so the sheet's every cell has its value and ``compare`` can recompute it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from . import sheet_layout as sl
from .errors import OptionError
from .models import ModelSpec, Params, sheet_columns
from .ops import ACTIVATIONS, LOSSES
from .training import gradients

#: The optimizers the gradient descent sheet writes as formulas.
GD_OPTIMIZERS = ("sgd", "momentum", "adam")
#: The optimizers' constants, the cells a person may change; the values of training's hand-written
#: optimizers and torch.optim's defaults (momentum 0.9, Adam's betas (0.9, 0.999) and eps 1e-8).
CONSTANTS = {"momentum": 0.9, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}


def refusal(spec: ModelSpec, loss: str) -> str | None:
    """Why the backprop sheet cannot write ``spec`` trained on ``loss``, or None when it can."""
    if spec.outputs > 1:
        return ("a multiclass model's softmax and cross-entropy have no derivative record yet (one record in "
                "titanic_lab.ops); train a 0/1 or a number target")
    if spec.batchnorm:
        return "batch norm's training statistics depend on every row at once, which the per-row chain rule does not show; leave out --batchnorm"
    if spec.has_hidden and ACTIVATIONS[spec.activation].derivative_formula is None:
        return f"activation {spec.activation} has no derivative in titanic_lab.ops"
    if LOSSES[loss].derivative_formula is None:
        return f"loss {loss} has no derivative in titanic_lab.ops"
    return None


@dataclass
class Backprop:
    """One forward and backward pass over every row, as the ``backprop`` sheet shows it.

    Attributes
    ----------
    forward : list of (str, Tensor)
        The forward blocks in sheet order (:func:`titanic_lab.models.sheet_columns`):
        ``(header prefix, (n_rows, width))``.
    loss : Tensor, (n_rows,)
        Each row's loss.
    d_preds : Tensor, (n_rows, 1)
        d(row's loss)/d(its prediction).
    deltas : list of Tensor
        Per layer, (n_rows, width): d(row's loss)/d(the layer's output before its activation).
    gradients : dict of Tensor
        d(mean loss)/d(parameter), each the parameter's shape.
    """

    forward: list[tuple[str, torch.Tensor]]
    loss: torch.Tensor
    d_preds: torch.Tensor
    deltas: list[torch.Tensor]
    gradients: Params = field(default_factory=dict)


def layer_blocks(spec: ModelSpec, forward: list[tuple[str, torch.Tensor]]) -> tuple[list[int], list[int | None], int]:
    """Where each layer's z and activation sit in ``forward`` (block indices), and the prediction's block."""
    zs, acts = [], []
    for b, (prefix, _) in enumerate(forward):
        role, _ = sl.block_role(prefix)
        if role == "layer":
            zs.append(b)
            acts.append(None)
        elif role == "activation":
            acts[-1] = b
    return zs, acts, len(forward) - 1


def backprop(spec: ModelSpec, params: Params, X: torch.Tensor, y: torch.Tensor, loss: str) -> Backprop:
    """The chain rule by hand over every row (see the module's docstring).

    Parameters
    ----------
    params : dict of Tensor
        Without a restart dimension.
    X : Tensor, (n_rows, n_features); y : Tensor, (n_rows,)

    Raises
    ------
    OptionError
        For a model or loss the sheet cannot write (:func:`refusal`).
    """
    why = refusal(spec, loss)
    if why:
        raise OptionError(f"--backprop-sheet with --model {spec.name}: {why}")
    act, record = ACTIVATIONS[spec.activation], LOSSES[loss]
    blocks = sheet_columns(spec, params, X)
    zs, acts, pred = layer_blocks(spec, blocks)
    n = X.shape[0]
    preds = blocks[pred][1]
    d_preds = record.derivative(preds, y.unsqueeze(-1))
    output = spec.model_kind.output
    if output == "sigmoid":  # through the sigmoid: its slope Preds * (1 - Preds), the sigmoid record's
        upstream = d_preds * ACTIVATIONS["sigmoid"].derivative(blocks[zs[-1]][1])
    elif output == "sum":  # Preds = the units' sum: each unit's slope is 1
        upstream = d_preds.expand_as(blocks[zs[-1]][1])
    else:
        upstream = d_preds
    chain, deltas, grads = spec.chain, [torch.empty(0)] * len(spec.chain), {}
    for i in reversed(range(len(chain))):
        layer, z = chain[i], blocks[zs[i]][1]
        delta = upstream * act.derivative(z) if layer.activation else upstream
        deltas[i] = delta
        inputs = X if i == 0 else blocks[acts[i - 1]][1]
        grad = inputs.T @ delta / n  # (n_in, width)
        grads[layer.weight] = grad[:, 0] if layer.vector else grad
        if layer.const:
            grads[layer.const] = delta.sum() / n
        weight = params[layer.weight]
        upstream = delta @ (weight.unsqueeze(-1) if layer.vector else weight).T
    per_row = record(preds, y.unsqueeze(-1))  # a one-row batch each: the row's loss
    return Backprop(blocks, per_row, d_preds, deltas, {k: grads[k] for k in params if k in grads})


def autograd_gradients(spec: ModelSpec, params: Params, X: torch.Tensor, y: torch.Tensor, loss: str) -> Params:
    """torch's own ``.grad`` after ``loss.backward()`` from ``params``: what the sheet shows beside its gradients."""
    return gradients(spec, params, X, y, loss)


@dataclass
class Descent:
    """Full-batch gradient descent as the ``gradient descent`` sheet computes it, epoch by epoch.

    Entry ``e`` of each list is epoch ``e`` (0 is the start): the parameters, the loss and the
    pass over the rows at them, the gradient (with the L2 and L1 terms), and the optimizer's
    state after that epoch's gradient (``v``; ``m`` and ``s``).
    """

    params: list[Params]
    losses: list[float]
    passes: list[Backprop]
    gradients: list[Params]
    states: list[dict[str, Params]]


def descend(spec: ModelSpec, start: Params, X: torch.Tensor, y: torch.Tensor, *, loss: str, optimizer: str, lr: float,
            epochs: int, l1: float = 0.0, l2: float = 0.0, constants: dict[str, float] | None = None) -> Descent:
    """Gradient descent as the sheet's formulas do it, in their order of operations.

    ``g = gradient + l2 * p + l1 * sign(p)``; sgd ``p -= lr * g``; momentum ``v = mu * v + g``,
    ``p -= lr * v``; adam ``m = b1 * m + (1 - b1) * g``, ``s = b2 * s + (1 - b2) * g^2``,
    ``p -= lr * (m / (1 - b1^t)) / (sqrt(s / (1 - b2^t)) + eps)`` with ``t`` the epoch + 1.
    """
    if optimizer not in GD_OPTIMIZERS:
        raise OptionError(f"--gd-optimizer must be one of {', '.join(GD_OPTIMIZERS)}, got {optimizer!r}")
    c = {**CONSTANTS, **(constants or {})}
    params = {k: v.detach().clone() for k, v in start.items()}
    out = Descent([], [], [], [], [])
    state: dict[str, Params] = {name: {} for name in ("v", "m", "s")}
    for e in range(epochs + 1):
        bp = backprop(spec, params, X, y, loss)
        grads = {k: g + l2 * params[k] + l1 * params[k].sign() for k, g in bp.gradients.items()}
        out.params.append(params)
        out.losses.append(float(bp.loss.mean()))
        out.passes.append(bp)
        out.gradients.append(grads)
        params = dict(params)
        for k, g in grads.items():
            if optimizer == "sgd":
                step = g
            elif optimizer == "momentum":
                state["v"][k] = step = c["momentum"] * state["v"].get(k, 0) + g
            else:
                state["m"][k] = m = c["beta1"] * state["m"].get(k, 0) + (1 - c["beta1"]) * g
                state["s"][k] = s = c["beta2"] * state["s"].get(k, 0) + (1 - c["beta2"]) * g**2
                step = (m / (1 - c["beta1"] ** (e + 1))) / ((s / (1 - c["beta2"] ** (e + 1))).sqrt() + c["eps"])
            params[k] = params[k] - lr * step
        out.states.append({name: dict(values) for name, values in state.items() if values})
    return out
