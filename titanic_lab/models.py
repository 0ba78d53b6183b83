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
of :mod:`titanic_lab.ops` (``ACTIVATIONS``, ``LOSSES``, re-exported here).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import sheet_layout as sl
from .choices import MODEL_KINDS
from .errors import OptionError
from .ops import ACTIVATIONS, LOSSES  # noqa: F401  (re-exported: the registries, records callable on tensors)

Params = dict[str, torch.Tensor]

KINDS = MODEL_KINDS
_DEFAULT_SIZES = {"nnet": (2,), "hidden": (20,), "deep": (10, 10)}
BN_EPS = 1e-5
BN_MOMENTUM = 0.1  # running = (1 - m) * running + m * batch statistic, as torch's BatchNorm1d
#: Batch norm's parameters of hidden layer i are ``bn{i}_{part}``; the workbook labels its rows ``{part}{i}``.
BN_PARTS = ("mean", "var", "gamma", "beta")


@dataclass(frozen=True)
class ModelSpec:
    """What a model is: its kind, sizes and hidden-layer design.

    Parameters
    ----------
    kind : {"linear", "nnet", "sigmoid", "hidden", "deep"}
    sizes : tuple of int
        ``nnet``: (number of units,); ``hidden``: (hidden size,); ``deep``: hidden sizes.
    activation : {"relu", "leaky_relu", "elu", "tanh", "sigmoid"}
        The hidden layers' activation (the lesson's is ReLU).
    batchnorm : bool
        Batch normalization before each hidden activation (running statistics at inference).
    """

    kind: str
    sizes: tuple[int, ...] = ()
    activation: str = "relu"
    batchnorm: bool = False

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise OptionError(f"unknown activation {self.activation!r}; choose from {', '.join(ACTIVATIONS)}")
        if (self.batchnorm or self.activation != "relu") and not self.has_hidden:
            raise OptionError(f"model {self.name!r} has no hidden layer, so --activation and --batchnorm do not apply to it")

    @property
    def name(self) -> str:
        """The model's name as written on the command line (``nnet``, ``deep:10,10``...)."""
        if self.sizes == _DEFAULT_SIZES.get(self.kind, ()):
            return self.kind
        return f"{self.kind}:{','.join(map(str, self.sizes))}"

    @property
    def description(self) -> str:
        extras = [self.activation] if self.has_hidden else []
        return self.name + (f" ({', '.join(extras + (['batchnorm'] if self.batchnorm else []))})" if extras else "")

    @property
    def has_sigmoid(self) -> bool:
        return self.kind in ("sigmoid", "hidden", "deep")

    @property
    def has_hidden(self) -> bool:
        return self.kind in ("nnet", "hidden", "deep")


def parse_model(text: str, activation: str = "relu", batchnorm: bool = False) -> ModelSpec:
    """Parse a model name: ``linear``, ``nnet``, ``nnet:3``, ``sigmoid``, ``hidden:20``, ``deep:10,10``.

    Raises
    ------
    OptionError
        For an unknown kind or sizes that are not positive integers.
    """
    kind, _, sizes_text = text.strip().partition(":")
    if kind not in KINDS:
        raise OptionError(f"unknown model {text!r}; choose from {', '.join(KINDS)} (sizes as nnet:3, hidden:20, deep:10,10)")
    if not sizes_text:
        sizes = _DEFAULT_SIZES.get(kind, ())
    elif kind in ("linear", "sigmoid"):
        raise OptionError(f"model {kind!r} takes no sizes (got {text!r})")
    else:
        try:
            sizes = tuple(int(s) for s in sizes_text.split(","))
        except ValueError:
            sizes = ()
        if not sizes or any(s < 1 for s in sizes) or (kind != "deep" and len(sizes) != 1):
            raise OptionError(f"model {text!r}: sizes must be positive whole numbers, one for {kind}" + (", several for deep" if kind == "deep" else ""))
    has_hidden = kind in ("nnet", "hidden", "deep")
    return ModelSpec(kind, sizes, activation if has_hidden else "relu", batchnorm and has_hidden)


def hidden_sizes(spec: ModelSpec) -> tuple[int, ...]:
    """The width of each hidden layer (the nnet's units are its one hidden layer)."""
    return spec.sizes if spec.has_hidden else ()


def is_buffer(name: str) -> bool:
    """Batch norm's running statistics: kept in the params dict, updated by forward, not learned."""
    return name.endswith(("_mean", "_var"))


def init_params(spec: ModelSpec, n_features: int, generator: torch.Generator, dtype: torch.dtype = torch.float64) -> Params:
    """Random initial parameters, drawn as the lesson's notebook draws them.

    Numbers are drawn in float32 (as the notebook does) and then cast, so a seed gives the
    notebook's starting point whatever ``dtype`` the model trains in. Batch norm starts at
    gamma 1, beta 0, running mean 0 and variance 1, and draws nothing.

    Returns
    -------
    dict of str to Tensor
        ``linear``/``sigmoid``: ``w`` (n_features,); ``nnet``: ``W`` (n_features, K);
        ``hidden``: ``W1`` (n_features, H), ``w2`` (H, 1), ``c`` (); ``deep``: ``W1``, ``c1``, ...;
        with batch norm, per hidden layer i: ``bn{i}_gamma``, ``bn{i}_beta``, ``bn{i}_mean``, ``bn{i}_var``.
    """

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator)

    f = n_features
    if spec.kind in ("linear", "sigmoid"):
        params = {"w": rand(f) - 0.5}
    elif spec.kind == "nnet":
        params = {"W": rand(f, spec.sizes[0]) - 0.5}
    elif spec.kind == "hidden":
        (h,) = spec.sizes
        params = {"W1": (rand(f, h) - 0.5) / h, "w2": rand(h, 1) - 0.3, "c": rand(1)[0]}
    else:
        sizes = (f, *spec.sizes, 1)
        layers = [(rand(sizes[i], sizes[i + 1]) - 0.3) / sizes[i + 1] * 4 for i in range(len(sizes) - 1)]
        consts = [(rand(1)[0] - 0.5) * 0.1 for _ in layers]
        params = {}
        for i, (layer, const) in enumerate(zip(layers, consts), start=1):
            params[f"W{i}"], params[f"c{i}"] = layer, const
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
    Tensor, shape (..., n_rows)
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

    def hidden(pre: torch.Tensor, i: int, names: sl.HiddenBlocks) -> torch.Tensor:  # (..., n_rows, units)
        keep(names.layer, pre)
        if spec.batchnorm:
            pre = keep(names.batchnorm, _batchnorm(pre, params, i, train))
        out = keep(names.activation, activation(pre))
        if train and dropout > 0:
            keep_mask = torch.rand(out.shape, generator=generator, dtype=out.dtype) >= dropout
            out = out * keep_mask / (1 - dropout)
        return out

    if spec.kind in ("linear", "sigmoid"):
        # w (..., n_features) times X's columns: one plain matrix product forward and backward
        # for any number of restarts (1.3x faster than X @ w at a million rows).
        out = keep(sl.LINEAR, (params["w"] @ X.mT).unsqueeze(-1))  # (..., n_rows, 1)
    elif spec.kind == "nnet":
        units = hidden(_matmul(X, params["W"]), 1, sl.hidden_blocks(None, activation.header))  # (..., n_rows, K)
        # The units' sum as a product with a column of ones: torch's sum over a last dimension
        # this narrow is about 20x slower than the matmul on a CPU (benchmarks/scale.py).
        out = keep(sl.PREDS, units @ torch.ones(units.shape[-1], 1, dtype=units.dtype))
    else:
        n_hidden = len(spec.sizes)
        out = X
        for i, (weight, const) in enumerate(layers(spec, params), start=1):
            out = _matmul(out, weight) + (0 if const is None else const[..., None, None])
            if i <= n_hidden:
                out = hidden(out, i, sl.hidden_blocks(i, activation.header))
        keep(sl.OUT, out)
    if spec.has_sigmoid:
        out = keep(sl.PREDS, torch.sigmoid(out))
    return out.squeeze(-1)


def _matmul(X: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
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
    n_restarts, n_in, n_out = W.shape
    side_by_side = W.transpose(0, 1).reshape(n_in, n_restarts * n_out).T.contiguous().T  # (n_in, n_restarts * n_out)
    return (X @ side_by_side).reshape(X.shape[0], n_restarts, n_out).transpose(0, 1).contiguous()


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
    """A ``hidden`` or ``deep`` model as a chain of (weight (n_in, n_out), constant or None).

    ``hidden`` is ``relu(X @ W1) @ w2 + c``: its first layer has no constant.
    """
    if spec.kind == "hidden":
        return [(params["W1"], None), (params["w2"], params["c"])]
    if spec.kind == "deep":
        return [(params[f"W{i}"], params[f"c{i}"]) for i in range(1, len(spec.sizes) + 2)]
    raise ValueError(f"model {spec.name} is not a layer chain")


def accuracy(preds: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Share of rows where ``preds > 0.5`` matches ``y``; shape (...,)."""
    return ((preds > 0.5) == (y > 0.5)).to(preds.dtype).mean(-1)
