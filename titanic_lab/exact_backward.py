"""The training loss's gradient by hand, bit for bit what ``loss.backward()`` gives, for the lesson's models.

Autograd records a graph of some twenty nodes at every epoch and walks it back; on Titanic's 570
training rows that bookkeeping, and the copies between the layouts the graph passes through, cost
more than the arithmetic. For the linear model and the nnet (ReLU units summed), trained full batch
on the squared or the absolute error without a penalty, :func:`loss_and_gradients` computes the
same products as :func:`titanic_lab.models.forward` and then autograd's own steps back: for each op
the formula autograd's derivative of it uses (PyTorch's ``derivatives.yaml`` and
``FunctionsManual.cpp``), the same matrix products on operands of the same layout, and element-wise
steps that are single roundings (or none), so that every gradient equals autograd's to the last bit
and training by it gives the same figures (tests/test_exact_backward.py compares the gradients at
many points, and whole trainings epoch by epoch).

The steps, from the loss back:

- the mean over rows: each row's share ``1 / n``, computed as autograd computes it (a division in
  the tensor's dtype), times the loss's derivative record (:data:`titanic_lab.ops.LOSSES`),
  ``2 (p - y)`` or ``sign(p - y)``: autograd's ``grad * (2 * self)`` and ``grad * self.sgn()``;
- the units' sum ``A @ ones(K, 1)``: each unit's gradient is the row's times 1, exactly the row's;
- ReLU: ``threshold_backward(grad, result, 0)``, autograd's kernel: 0 where the unit's output is at most 0;
- the nnet's ``X @ W`` (the restarts' weights side by side, column-major, as
  :func:`titanic_lab.models.side_by_side` lays them out): ``mm_mat2_backward``, ``(grad.T @ X).T``;
- the linear model's ``w @ X.T``: ``mm_mat1_backward``, ``grad @ X``.

The nnet's units are kept as one (n_rows, n_restarts * n_units) matrix, the product's own layout, so
no step copies them into another: that and the graph are what is saved (benchmarks/fast_paths.md).
"""

from __future__ import annotations

import functools

import torch

from .models import ModelSpec, Params, side_by_side
from .ops import LOSSES

#: The losses whose derivative record is autograd's formula for them, element for element.
LOSSES_BY_HAND = ("mse", "mae")


def refusal(spec: ModelSpec, loss: str, *, batch_size: int | None = None, accumulate: int = 1, dropout: float = 0.0,
            l1: float = 0.0, l2: float = 0.0) -> str | None:
    """Why :func:`loss_and_gradients` cannot train ``spec`` this way (autograd then does), or None when it can."""
    if spec.kind not in ("linear", "nnet") or spec.outputs != 1 or spec.batchnorm or spec.activation != "relu":
        return f"{spec.description}: only the linear model and the nnet's ReLU units are written by hand"
    if spec.kind == "nnet" and spec.sizes[0] == 1:  # autograd's gradient of one unit's product comes column-major
        return "the nnet of one unit is not written by hand"
    if loss not in LOSSES_BY_HAND:
        return f"loss {loss}'s gradient is not written by hand (only {', '.join(LOSSES_BY_HAND)})"
    if batch_size is not None or accumulate != 1 or dropout or l1 or l2:
        return "only the full batch without dropout or a penalty is written by hand"
    return None


def loss_and_gradients(spec: ModelSpec, params: Params, X: torch.Tensor, y: torch.Tensor,
                       loss: str) -> tuple[torch.Tensor, Params]:
    """Each restart's mean ``loss`` over the rows and the gradient of their sum in the model's weight.

    Parameters
    ----------
    params : dict of Tensor
        With the restart dimension first, as training holds them; not modified.
    X : Tensor, (n_rows, n_features); y : Tensor, (n_rows,)

    Returns
    -------
    (Tensor (n_restarts,), dict of Tensor)
        What ``loss_fn(forward(spec, params, X), y)`` and, after ``loss.sum().backward()``, the
        weight's ``.grad`` hold, bit for bit (:func:`refusal` says for which models and losses).
    """
    (layer,) = spec.chain
    record, W = LOSSES[loss], params[layer.weight]
    if layer.vector:  # linear: w (R, F), preds w @ X.T as models._run computes them
        preds = W @ X.mT
    else:  # the nnet: X @ W side by side (n, R*K), its ReLU units, their sum per restart
        side = side_by_side(W)
        units = (X @ side).relu_()
        preds = spec.head(units.view(X.shape[0], W.shape[0], W.shape[2])).view(X.shape[0], -1).t().contiguous()  # (R, n)
    grad = _share(X.shape[0], preds.dtype) * record.derivative(preds, y)  # d(mean loss)/d(preds), (R, n)
    if layer.vector:  # mm_mat1_backward with mat1 = w, mat2 = X.T
        return record(preds, y), {layer.weight: X.mT.mm(grad.t()).t() if _column_major(W) else grad.mm(X)}
    # ReLU's backward (autograd's kernel) on each row's gradient repeated for its restart's K units: (n, R*K)
    delta = torch.ops.aten.threshold_backward(grad.t().repeat_interleave(W.shape[2], dim=1), units, 0)
    # mm_mat2_backward with mat2 = the side-by-side weights (F, R*K), then back to (R, F, K)
    if _column_major(side):
        gradient = delta.t().mm(X).view(W.shape[0], W.shape[2], -1).transpose(1, 2)  # (grad.T @ X).T, viewed as (R, F, K)
    else:
        gradient = X.t().mm(delta).reshape(-1, W.shape[0], W.shape[2]).transpose(0, 1)
    return record(preds, y), {layer.weight: gradient}


@functools.lru_cache(maxsize=None)
def _share(n_rows: int, dtype: torch.dtype) -> torch.Tensor:
    """The mean's backward, ``grad / n`` at grad 1, in ``dtype`` as autograd divides (made once per size and dtype)."""
    return torch.ones((), dtype=dtype) / n_rows


def _column_major(m: torch.Tensor) -> bool:
    """autograd's test in ``mm_mat1_backward`` and ``mm_mat2_backward``: was the matrix laid out column-major?"""
    return m.stride(0) == 1 and m.stride(1) == m.shape[0]
