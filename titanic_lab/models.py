"""Models made of matrix multiplication and ReLU, as plain tensors.

No ``nn.Module``: a model is a :class:`ModelSpec` (what it is) plus a dict of parameter
tensors (what was learned). Every parameter may carry leading batch dimensions, so several
seeded restarts train side by side as one tensor; ``forward`` broadcasts over them.

=========  ==========================================  ===============================
name       forward pass                                the lesson's
=========  ==========================================  ===============================
linear     ``X @ w``                                   ``linear`` sheet (SUMPRODUCT)
nnet:K     ``relu(X @ W).sum(-1)``, K units (K=2)      ``nnet`` / ``mmult`` sheets
sigmoid    ``sigmoid(X @ w)``                          notebook, linear + sigmoid
hidden:H   ``sigmoid(relu(X @ W1) @ w2 + c)``, H=20    notebook, one hidden layer
deep:A,B   ``sigmoid(... relu(X @ W1 + c1) ...)``       notebook, deep net [10, 10]
=========  ==========================================  ===============================

Hidden layers (the nnet's units included) may use another activation, batch normalization
before the activation, and dropout after it in training. The activations and losses are records
of :mod:`titanic_lab.ops` (``ACTIVATIONS``, ``LOSSES``, re-exported here); the model kinds are
records of :mod:`titanic_lab.model_kinds` (``KINDS``, re-exported here): each a chain of layers
and an output, which :func:`init_params` and :func:`forward` follow.
"""

from __future__ import annotations

import torch

from . import sheet_layout as sl
from .model_kinds import KINDS  # noqa: F401  (re-exported)
# Re-exported: what a model is (torch-free, in model_spec) and the registries, records callable on tensors.
from .model_spec import (BN_EPS, BN_MOMENTUM, BN_PARTS, ModelSpec, hidden_sizes, is_buffer, multiclass_model,  # noqa: F401
                         parse_model)
from .ops import ACTIVATIONS, HEADS, LOSSES, Head  # noqa: F401

Params = dict[str, torch.Tensor]


def tensors(params: dict[str, object]) -> Params:
    """Parameters held as numpy arrays (a workbook's, read by :mod:`titanic_lab.workbook.layout`) as float64 tensors."""
    return {name: torch.as_tensor(values, dtype=torch.float64) for name, values in params.items()}


def init_params(spec: ModelSpec, n_features: int, generator: torch.Generator, dtype: torch.dtype = torch.float64) -> Params:
    """Random initial parameters, drawn as the lesson's notebook draws them.

    Numbers are drawn in float32 (as the notebook does) and then cast, so a seed gives the
    notebook's starting point whatever ``dtype`` the model trains in: each layer's weight in
    turn, then each layer's constant, by the layers' :class:`~titanic_lab.model_kinds.Draw`.
    Batch norm starts at gamma 1, beta 0, running mean 0 and variance 1, and draws nothing.

    Returns
    -------
    dict of str to Tensor
        ``linear``/``sigmoid``: ``w`` (n_features,); ``nnet``: ``W`` (n_features, K);
        ``hidden``: ``W1`` (n_features, H), ``w2`` (H, 1), ``c`` (); ``deep``: ``W1``, ``c1``, ...;
        with batch norm, per hidden layer i: ``bn{i}_gamma``, ``bn{i}_beta``, ``bn{i}_mean``, ``bn{i}_var``.
    """

    chain = spec.chain
    inputs = (n_features, *(int(layer.width) for layer in chain[:-1]))
    weights = [layer.draw((n_in,) if layer.vector else (n_in, layer.width), layer.width, generator)
               for layer, n_in in zip(chain, inputs)]
    consts = [layer.const_draw((1,), layer.width, generator)[0] if layer.const else None for layer in chain]
    params = {}
    for layer, weight, const in zip(chain, weights, consts):
        params[layer.weight] = weight
        if layer.const:
            params[layer.const] = const
    if spec.batchnorm:
        for i, width in enumerate(hidden_sizes(spec), start=1):
            params.update({f"bn{i}_gamma": torch.ones(width), f"bn{i}_beta": torch.zeros(width),
                           f"bn{i}_mean": torch.zeros(width), f"bn{i}_var": torch.ones(width)})
    return {name: p.to(dtype) for name, p in params.items()}


def forward(
    spec: ModelSpec,
    params: Params,
    X: torch.Tensor,
    *,
    train: bool = False,
    dropout: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Predictions for every row.

    Parameters
    ----------
    X : Tensor, shape (n_rows, n_features)
    params : dict of Tensor
        As from :func:`init_params`, optionally with leading batch dims ``(R, ...)``.
    train : bool
        Training mode: batch norm uses (and updates the running copies of) the batch's
        statistics, and dropout is active. At evaluation both are the identity map and the
        running statistics.
    dropout : float
        Probability of zeroing a hidden unit in training (inverted dropout: survivors are
        scaled by 1/(1-p)).

    Returns
    -------
    Tensor, shape (..., n_rows), or (..., n_rows, n_classes) for a multiclass model
    """
    return _run(spec, params, X, train, dropout, generator, None)


def sheet_columns(spec: ModelSpec, params: Params, X: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    """Every column the workbook shows for a model (evaluation mode), in sheet order.

    Returns
    -------
    list of (header prefix, Tensor of shape (n_rows, width))
        ``Linear``, ``Out`` and ``Preds`` are one column each; other blocks are numbered by
        unit (see :func:`titanic_lab.sheet_layout.block_headers`). ``linear``: Linear; ``nnet``: Lin, [BN], ReLU, Preds;
        ``sigmoid``: Linear, Preds; ``hidden``/``deep``: per hidden layer i ``L{i}_``,
        [``BN{i}_``], ``ReLU{i}_``; then Out, Preds. Activation blocks are named after the
        activation (``ReLU``, ``LReLU``, ``ELU``, ``Tanh``, ``Sigm``).
    """
    blocks: list[tuple[str, torch.Tensor]] = []
    _run(spec, params, X, False, 0.0, None, blocks)
    return blocks


def _run(spec, params, X, train, dropout, generator, blocks) -> torch.Tensor:
    def keep(prefix: str, values: torch.Tensor) -> torch.Tensor:
        if blocks is not None:
            blocks.append((prefix, values))
        return values

    activation = ACTIVATIONS[spec.activation]
    kind = spec.model_kind

    def hidden(pre: torch.Tensor, i: int, names: sl.HiddenBlocks) -> torch.Tensor:  # (..., n_rows, units)
        keep(names.layer, pre)
        if spec.batchnorm:
            pre = keep(names.batchnorm, _batchnorm(pre, params, i, train))
        out = keep(names.activation, activation(pre))
        if train and dropout > 0:
            keep_mask = torch.rand(out.shape, generator=generator, dtype=out.dtype) >= dropout
            out = out * keep_mask / (1 - dropout)
        return out

    out = X
    for i, layer in enumerate(spec.chain, start=1):  # out: (..., n_rows, width)
        if layer.vector:
            # w (..., n_features) times X's columns: one plain matrix product forward and backward
            # for any number of restarts (1.3x faster than X @ w at a million rows).
            out = (params[layer.weight] @ out.mT).unsqueeze(-1)
        else:
            out = restarts_matmul(out, params[layer.weight])
        if layer.const:
            out = out + params[layer.const][..., None, None]
        if layer.activation:
            out = hidden(out, i, kind.blocks(i, activation.header))
        else:
            keep(kind.plain_block, out)
    head = spec.head
    if head.header is not None:
        out = keep(head.header, head(out))
    return out if spec.outputs > 1 else out.squeeze(-1)


def restarts_matmul(X: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """``X @ W`` for rows X (n_rows, n_in) and weights W (n_in, n_out) or (n_restarts, n_in, n_out).

    With restarts, torch would broadcast X into a batched product; one 2-D product with the
    restarts' weights side by side, (n_in, n_restarts * n_out), is 2-3x faster (16 restarts,
    from 836 to 1,000,000 rows). The weights are laid out column-major because the product's
    backward then computes ``grad.T @ X`` rather than ``X.T @ grad``, about 3x faster with a
    million rows (benchmarks/scale.py). The result is made contiguous: ReLU's backward on the
    transposed view took 4x longer. Returns (..., n_rows, n_out).
    """
    if X.dim() != 2 or W.dim() != 3:
        return X @ W
    n_restarts, _, n_out = W.shape
    return (X @ side_by_side(W)).reshape(X.shape[0], n_restarts, n_out).transpose(0, 1).contiguous()


def side_by_side(W: torch.Tensor) -> torch.Tensor:
    """The restarts' weights W (n_restarts, n_in, n_out) side by side, (n_in, n_restarts * n_out), column-major:
    column ``r * n_out + k`` is restart r's unit k (:func:`restarts_matmul`)."""
    n_restarts, n_in, n_out = W.shape
    return W.transpose(0, 1).reshape(n_in, n_restarts * n_out).T.contiguous().T


def _batchnorm(pre: torch.Tensor, params: Params, i: int, train: bool) -> torch.Tensor:
    """Batch norm of a hidden layer's pre-activations, (..., n_rows, units)."""
    mean, var = params[f"bn{i}_mean"], params[f"bn{i}_var"]
    if train:
        batch_mean, batch_var = pre.mean(-2), pre.var(-2, unbiased=False)
        with torch.no_grad():  # running statistics, as torch: the variance's running copy is unbiased
            n = pre.shape[-2]
            mean.mul_(1 - BN_MOMENTUM).add_(BN_MOMENTUM * batch_mean)
            var.mul_(1 - BN_MOMENTUM).add_(BN_MOMENTUM * batch_var * n / max(n - 1, 1))
        mean, var = batch_mean, batch_var
    normalized = (pre - mean.unsqueeze(-2)) / torch.sqrt(var.unsqueeze(-2) + BN_EPS)
    return normalized * params[f"bn{i}_gamma"].unsqueeze(-2) + params[f"bn{i}_beta"].unsqueeze(-2)


def layers(spec: ModelSpec, params: Params) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """A model as a chain of (weight (n_in, n_out), constant or None), one per layer.

    ``hidden`` is ``relu(X @ W1) @ w2 + c``: its first layer has no constant; ``linear``'s
    ``w`` is one layer of one column.
    """
    return [(params[layer.weight].unsqueeze(-1) if layer.vector else params[layer.weight],
             params[layer.const] if layer.const else None) for layer in spec.chain]


def accuracy(preds: torch.Tensor, y: torch.Tensor, classes: bool = False) -> torch.Tensor:
    """Share of rows where ``preds > 0.5`` matches ``y``; shape (...,).

    With ``classes``, ``preds`` (..., n_rows, n_classes) hold each class's probability and ``y``
    each row's class number: the likeliest class must be the row's.
    """
    hits = preds.argmax(-1) == y.long() if classes else (preds > 0.5) == (y > 0.5)
    return hits.to(preds.dtype).mean(-1)
