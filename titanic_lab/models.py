"""Models made of matrix multiplication and ReLU, as plain tensors, and their losses.

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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .errors import OptionError

Params = dict[str, torch.Tensor]

KINDS = ("linear", "nnet", "sigmoid", "hidden", "deep")
#: The models the lesson's workbook holds; the others come from the lesson's notebook.
SPREADSHEET_KINDS = ("linear", "nnet")
_DEFAULT_SIZES = {"nnet": (2,), "hidden": (20,), "deep": (10, 10)}


@dataclass(frozen=True)
class ModelSpec:
    """What a model is: its kind and sizes.

    Parameters
    ----------
    kind : {"linear", "nnet", "sigmoid", "hidden", "deep"}
    sizes : tuple of int
        ``nnet``: (number of ReLU units,); ``hidden``: (hidden size,); ``deep``: hidden sizes.
    """

    kind: str
    sizes: tuple[int, ...] = ()

    @property
    def name(self) -> str:
        """The model's name as written on the command line (``nnet``, ``deep:10,10``...)."""
        if self.sizes == _DEFAULT_SIZES.get(self.kind, ()):
            return self.kind
        return f"{self.kind}:{','.join(map(str, self.sizes))}"

    @property
    def is_spreadsheet(self) -> bool:
        """True for the lesson workbook's models (squared error, float64, no sigmoid)."""
        return self.kind in SPREADSHEET_KINDS

    @property
    def has_sigmoid(self) -> bool:
        return self.kind in ("sigmoid", "hidden", "deep")


def parse_model(text: str) -> ModelSpec:
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
        return ModelSpec(kind, _DEFAULT_SIZES.get(kind, ()))
    if kind in ("linear", "sigmoid"):
        raise OptionError(f"model {kind!r} takes no sizes (got {text!r})")
    try:
        sizes = tuple(int(s) for s in sizes_text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or any(s < 1 for s in sizes) or (kind != "deep" and len(sizes) != 1):
        raise OptionError(f"model {text!r}: sizes must be positive whole numbers, one for {kind}" + (", several for deep" if kind == "deep" else ""))
    return ModelSpec(kind, sizes)


def init_params(spec: ModelSpec, n_features: int, generator: torch.Generator, dtype: torch.dtype = torch.float64) -> Params:
    """Random initial parameters, drawn as the lesson's notebook draws them.

    Numbers are drawn in float32 (as the notebook does) and then cast, so a seed gives the
    notebook's starting point whatever ``dtype`` the model trains in.

    Returns
    -------
    dict of str to Tensor
        ``linear``/``sigmoid``: ``w`` (n_features,); ``nnet``: ``W`` (n_features, K);
        ``hidden``: ``W1`` (n_features, H), ``w2`` (H, 1), ``c`` (); ``deep``: ``W1``, ``c1``, ...
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
    return {name: p.to(dtype) for name, p in params.items()}


def forward(spec: ModelSpec, params: Params, X: torch.Tensor) -> torch.Tensor:
    """Predictions for every row.

    Parameters
    ----------
    X : Tensor, shape (n_rows, n_features)
    params : dict of Tensor
        As from :func:`init_params`, optionally with leading batch dims ``(R, ...)``.

    Returns
    -------
    Tensor, shape (..., n_rows)
    """
    if spec.kind in ("linear", "sigmoid"):
        out = (X @ params["w"].unsqueeze(-1)).squeeze(-1)  # (..., n_rows)
    elif spec.kind == "nnet":
        out = torch.relu(X @ params["W"]).sum(-1)  # (..., n_rows, K) -> (..., n_rows)
    elif spec.kind == "hidden":
        hidden = torch.relu(X @ params["W1"])  # (..., n_rows, H)
        out = (hidden @ params["w2"]).squeeze(-1) + params["c"].unsqueeze(-1)
    else:
        n_layers = len(spec.sizes) + 1
        out = X
        for i in range(1, n_layers + 1):
            out = out @ params[f"W{i}"] + params[f"c{i}"][..., None, None]
            if i < n_layers:
                out = torch.relu(out)
        out = out.squeeze(-1)
    return torch.sigmoid(out) if spec.has_sigmoid else out


def sheet_columns(spec: ModelSpec, params: Params, X: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    """Every column the workbook shows for a model, in sheet order, ending with the prediction.

    Returns
    -------
    list of (header prefix, Tensor of shape (n_rows, width))
        A block of width 1 is headed by its prefix (``Linear``, ``Out``, ``Preds``); a wider one
        by prefix + unit number (``Lin1``, ``Lin2``, ``ReLU1``...; ``L1_1``... for layer chains).
        ``linear``: Linear; ``nnet``: Lin, ReLU, Preds; ``sigmoid``: Linear, Preds;
        ``hidden``/``deep``: per hidden layer i ``L{i}_`` and ``ReLU{i}_``, then Out, Preds.
    """
    if spec.kind in ("linear", "sigmoid"):
        linear = X @ params["w"].unsqueeze(-1)  # (n_rows, 1)
        return [("Linear", linear)] + ([("Preds", torch.sigmoid(linear))] if spec.has_sigmoid else [])
    if spec.kind == "nnet":
        lin = X @ params["W"]  # (n_rows, K)
        return [("Lin", lin), ("ReLU", torch.relu(lin)), ("Preds", torch.relu(lin).sum(-1, keepdim=True))]
    blocks: list[tuple[str, torch.Tensor]] = []
    out = X
    for i, (weight, const) in enumerate(layers(spec, params), start=1):
        out = out @ weight + (0 if const is None else const)
        if i <= len(spec.sizes):
            blocks.append((f"L{i}_", out))
            out = torch.relu(out)
            blocks.append((f"ReLU{i}_", out))
    return blocks + [("Out", out), ("Preds", torch.sigmoid(out))]


def layers(spec: ModelSpec, params: Params) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """A ``hidden`` or ``deep`` model as a chain of (weight (n_in, n_out), constant or None).

    ``hidden`` is ``relu(X @ W1) @ w2 + c``: its first layer has no constant.
    """
    if spec.kind == "hidden":
        return [(params["W1"], None), (params["w2"], params["c"])]
    if spec.kind == "deep":
        return [(params[f"W{i}"], params[f"c{i}"]) for i in range(1, len(spec.sizes) + 2)]
    raise ValueError(f"model {spec.name} is not a layer chain")


def mse(preds: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error, the spreadsheet's ``AVERAGE((Preds - Survived)^2)``; shape (...,)."""
    return ((preds - y) ** 2).mean(-1)


def mae(preds: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean absolute error, the notebook's ``torch.abs(preds - y).mean()``; shape (...,)."""
    return (preds - y).abs().mean(-1)


def bce(preds: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy (log loss) of probabilities; meant for sigmoid outputs.

    Predictions are clamped into [1e-7, 1 - 1e-7] so a linear output outside (0, 1) gives a
    finite loss.
    """
    p = preds.clamp(1e-7, 1 - 1e-7)
    return -(y * p.log() + (1 - y) * (1 - p).log()).mean(-1)


LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {"mse": mse, "mae": mae, "bce": bce}


def accuracy(preds: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Share of rows where ``preds > 0.5`` matches ``y``; shape (...,)."""
    return ((preds > 0.5) == (y > 0.5)).to(preds.dtype).mean(-1)
