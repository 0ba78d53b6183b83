"""Activations, output heads and losses, each one record: its torch side and its spreadsheet side together.

A record holds what training calls (the torch function), what the workbook writes (the Excel
formula, and for an activation the header of its columns) and what a reader recognises it by
(an activation by that header, a head by the block its outputs are written under, a loss by a
piece of text only its formula holds), and beside an activation and a loss its derivative, on
both sides: the torch function and the Excel text the ``backprop`` sheet writes
(:mod:`titanic_lab.backprop`, :mod:`titanic_lab.workbook.backprop_sheet`). The trainer
(:mod:`titanic_lab.models`, :mod:`titanic_lab.training`), the writer
(:mod:`titanic_lab.workbook`) and the readers (:mod:`titanic_lab.workbook.layout`,
:mod:`titanic_lab.compare`) all look them up here, so adding an activation, a head or a loss is one
entry in :data:`ACTIVATIONS`, :data:`HEADS` or :data:`LOSSES`.

An activation and a head also hold their numpy side (``array_function``): ``predict`` runs a
workbook's model in numpy (:mod:`titanic_lab.array_forward`) and never imports torch.

This module imports without torch or numpy (``titanic-lab --help`` lists these names): the torch
side works on the tensors it is given, the numpy side on arrays, and ``torch.nn.functional`` and
numpy are imported at their first call.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

from . import formulas as fx
from . import sheet_layout as sl
from .errors import OptionError

if TYPE_CHECKING:
    from numpy import ndarray
    from torch import Tensor


@dataclass(frozen=True)
class Activation:
    """A hidden layer's activation.

    Attributes
    ----------
    name : str
        As on the command line (``--activation leaky_relu``).
    header : str
        The sheet header of its columns (``ReLU1``, ``Tanh1_3``...); readers recognise it by it.
    function : callable
        Tensor -> tensor, element by element.
    formula : callable
        A cell reference -> the Excel formula of the activation of that cell (no leading ``=``).
    derivative : callable or None
        z -> the activation's slope at z, element by element, as torch's backward takes it (at a
        kink, the side torch takes: ReLU's slope at 0 is 0).
    derivative_formula : callable or None
        ``(z, a)`` cell references (the pre-activation and the activation) -> the Excel formula of
        the slope (``IF(z>0,1,0)``; ``a*(1-a)`` for the sigmoid). None: no backprop sheet for it.
    array_function : callable or None
        :attr:`function` on a numpy array (predict's forward). None: predict runs the model in torch.
    """

    name: str
    header: str
    function: Callable[[Tensor], Tensor]
    formula: Callable[[str], str]
    derivative: Callable[[Tensor], Tensor] | None = None
    derivative_formula: Callable[[str, str], str] | None = None
    array_function: Callable[[ndarray], ndarray] | None = None

    def __call__(self, x: Tensor) -> Tensor:
        return self.function(x)


@dataclass(frozen=True)
class Loss:
    """A loss: its mean over rows in torch and its per-row formula in the sheet.

    Attributes
    ----------
    name : str
        As on the command line (``--loss mae``).
    function : callable
        ``(preds, y)``, shapes (..., n_rows) -> the mean loss, shape (...,).
    formula : callable
        ``(pred, target)`` cell references -> the Excel formula of one row's loss.
    marker : str
        Text that this loss's per-row formula holds and no other loss's does (upper case):
        how a reader tells the loss of a sheet from its ``Loss`` column.
    derivative : callable or None
        ``(preds, y)`` -> d(one row's loss)/d(its prediction), element by element; the mean
        loss's gradient is this divided by the number of rows.
    derivative_formula : callable or None
        ``(pred, target)`` cell references -> the Excel formula of that derivative. A loss taken
        through its output head in one step (cross-entropy through softmax: ``p_k - [y = k]``)
        is one more record whose derivative is that of the head's input.
    """

    name: str
    function: Callable[[Tensor, Tensor], Tensor]
    formula: Callable[[str, str], str]
    marker: str
    derivative: Callable[[Tensor, Tensor], Tensor] | None = None
    derivative_formula: Callable[[str, str], str] | None = None

    def __call__(self, preds: Tensor, y: Tensor) -> Tensor:
        return self.function(preds, y)


@dataclass(frozen=True)
class Head:
    """An output head: what turns the last layer's columns into the model's predictions.

    Attributes
    ----------
    name : str
        As a model kind names its output (``identity``, ``sum``, ``sigmoid``, ``softmax``).
    function : callable
        The last layer's columns, shape (..., n_rows, width) -> the predictions, shape
        (..., n_rows, outputs): the identity, their sum (one column), the sigmoid of each, or the
        softmax across them (probabilities of the classes).
    formula : callable or None
        ``(cells, u)``: one row's last-layer cell references and an output's number -> the Excel
        formula of that output (no leading ``=``); None for the identity (no column is written).
    header : str or None
        The block its outputs are written under (``Preds``; ``P`` numbered per class: ``P1``...);
        a reader recognises the head by it. None for the identity.
    array_function : callable or None
        :attr:`function` on a numpy array (predict's forward). None: predict runs the model in torch.
    """

    name: str
    function: Callable[[Tensor], Tensor]
    formula: Callable[[Sequence[str], int], str] | None
    header: str | None
    array_function: Callable[[ndarray], ndarray] | None = None

    def __call__(self, x: Tensor) -> Tensor:
        return self.function(x)


def _functional():
    """``torch.nn.functional``, imported at the first call rather than with this module."""
    import torch.nn.functional as F

    return F


def _torch():
    """``torch``, imported at the first call rather than with this module."""
    import torch

    return torch


def _numpy():
    """numpy, imported at the first call rather than with this module."""
    import numpy

    return numpy


def _array_sigmoid(x: ndarray) -> ndarray:
    """The logistic sigmoid on an array: ``1 / (1 + exp(-x))`` (0 where ``exp(-x)`` overflows, as torch's)."""
    np = _numpy()
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


def _array_softmax(scores: ndarray) -> ndarray:
    """:func:`softmax` on an array: ``exp(s - max) / sum`` across the last axis."""
    shifted = _numpy().exp(scores - scores.max(-1, keepdims=True))
    return shifted / shifted.sum(-1, keepdims=True)


def _clamped(pred: str) -> str:
    """A prediction clamped into [1e-7, 1-1e-7], as :func:`_bce` clamps it."""
    return f"MAX(MIN({pred},1-1E-07),1E-07)"


def _bce(preds: Tensor, y: Tensor) -> Tensor:
    """Binary cross-entropy (log loss) of probabilities; meant for sigmoid outputs.

    Predictions are clamped into [1e-7, 1 - 1e-7] so a linear output outside (0, 1) gives a
    finite loss.
    """
    p = preds.clamp(1e-7, 1 - 1e-7)
    return -(y * p.log() + (1 - y) * (1 - p).log()).mean(-1)


def _bce_derivative(preds: Tensor, y: Tensor) -> Tensor:
    """d/dp of :func:`_bce`'s one row: ``(1-y)/(1-p) - y/p`` inside the clamp, 0 outside it (the clamp's slope)."""
    inside = (preds >= 1e-7) & (preds <= 1 - 1e-7)
    return _torch().where(inside, (1 - y) / (1 - preds) - y / preds, preds.new_zeros(()))


def softmax(scores: Tensor) -> Tensor:
    """Softmax across the last dimension, written by hand and stable: ``exp(s - max) / sum``.

    Subtracting each row's largest score first keeps ``exp`` at most 1, so no score overflows;
    the result equals ``torch.softmax(scores, -1)`` (tests/test_multiclass.py).
    """
    shifted = (scores - scores.max(-1, keepdim=True).values.detach()).exp()
    return shifted / shifted.sum(-1, keepdim=True)


def softmax_formula(cells: Sequence[str], u: int) -> str:
    """Class ``u``'s probability from one row's score cells, each score less the row's largest:
    ``EXP(B4-MAX(B4:D4))/(EXP(B4-MAX(B4:D4))+EXP(C4-MAX(B4:D4))+EXP(D4-MAX(B4:D4)))``.

    The denominator is written out term by term: Gnumeric computes no array expression such as
    ``SUMPRODUCT(EXP(B4:D4-...))`` outside an array formula.
    """
    top = f"MAX({cells[0]}:{cells[-1]})"
    terms = [f"EXP({c}-{top})" for c in cells]
    return f"{terms[u]}/({'+'.join(terms)})"


def _sum_of_units(x: Tensor) -> Tensor:
    """The units' sum as a product with a column of ones: torch's sum over a last dimension this
    narrow is about 20x slower than the matmul on a CPU (benchmarks/scale.py)."""
    return x @ _ones_column(x.shape[-1], x.dtype)


@functools.lru_cache(maxsize=None)
def _ones_column(units: int, dtype) -> Tensor:
    """A column of ``units`` ones, made once per size and dtype (training calls the sum at every epoch), never
    an inference tensor (autograd may save it for a backward)."""
    torch = _torch()
    with torch.inference_mode(False):
        return torch.ones(units, 1, dtype=dtype)


def _cross_entropy(probs: Tensor, y: Tensor) -> Tensor:
    """Categorical cross-entropy: the mean over rows of ``-log p`` of each row's true class.

    ``probs`` (..., n_rows, n_classes) are a softmax's; ``y`` (n_rows,) holds each row's class
    number (0, 1, ... as floats). A probability is kept above 1e-300 so that a class the model
    rules out costs a large finite loss (690.8) rather than an infinite one; equal to
    ``torch.nn.functional.cross_entropy`` of the scores otherwise (tests/test_multiclass.py).
    """
    index = y.long().unsqueeze(-1).expand(*probs.shape[:-1], 1)
    return 0.0 - probs.gather(-1, index).squeeze(-1).clamp_min(1e-300).log().mean(-1)  # 0.0 - : no -0.0


#: Every output head, by name: the linear's and the lesson's nnet's (the sum of its units), the
#: notebook's sigmoid, and the softmax of a multiclass target (one output per class).
HEADS: dict[str, Head] = {h.name: h for h in (
    Head("identity", lambda x: x, None, None, lambda x: x),
    Head("sum", _sum_of_units, lambda cells, u: "+".join(cells), sl.PREDS, lambda x: x.sum(-1, keepdims=True)),
    Head("sigmoid", lambda x: x.sigmoid(), lambda cells, u: fx.sigmoid(cells[u]), sl.PREDS, _array_sigmoid),
    Head("softmax", softmax, softmax_formula, sl.PROBS, _array_softmax),
)}

#: Every activation, by name, with its slope beside it; ``relu`` is the lesson's.
ACTIVATIONS: dict[str, Activation] = {a.name: a for a in (
    Activation("relu", "ReLU", lambda x: x.relu(), fx.relu,
               lambda z: (z > 0).to(z.dtype), lambda z, a: f"IF({z}>0,1,0)",
               lambda x: _numpy().maximum(x, 0.0)),
    Activation("leaky_relu", "LReLU", lambda x: _functional().leaky_relu(x, 0.01), lambda x: f"IF({x}<0,0.01*{x},{x})",
               lambda z: _torch().where(z > 0, z.new_ones(()), z.new_full((), 0.01)), lambda z, a: f"IF({z}>0,1,0.01)",
               lambda x: _numpy().where(x > 0, x, 0.01 * x)),
    Activation("elu", "ELU", lambda x: _functional().elu(x), lambda x: f"IF({x}<0,EXP({x})-1,{x})",
               lambda z: _torch().where(z > 0, z.new_ones(()), z.exp()), lambda z, a: f"IF({z}>0,1,EXP({z}))",
               lambda x: _numpy().where(x > 0, x, _numpy().expm1(_numpy().minimum(x, 0.0)))),
    Activation("tanh", "Tanh", lambda x: x.tanh(), lambda x: f"TANH({x})",
               lambda z: 1 - z.tanh() ** 2, lambda z, a: f"1-{a}^2", lambda x: _numpy().tanh(x)),
    Activation("sigmoid", "Sigm", lambda x: x.sigmoid(), fx.sigmoid,
               lambda z: z.sigmoid() * (1 - z.sigmoid()), lambda z, a: f"{a}*(1-{a})", _array_sigmoid),
)}

#: Every loss, by name, with its derivative beside it: the spreadsheet's mean squared error
#: (``AVERAGE((Preds - Survived)^2)``), the notebook's mean absolute error
#: (``torch.abs(preds - y).mean()``) and log loss.
LOSSES: dict[str, Loss] = {loss.name: loss for loss in (
    Loss("mse", lambda p, y: ((p - y) ** 2).mean(-1), lambda p, t: f"({p}-{t})^2", "^2",
         lambda p, y: 2 * (p - y), lambda p, t: f"2*({p}-{t})"),
    Loss("mae", lambda p, y: (p - y).abs().mean(-1), lambda p, t: f"ABS({p}-{t})", "ABS(",
         lambda p, y: (p - y).sign(), lambda p, t: f"SIGN({p}-{t})"),
    Loss("bce", _bce, lambda p, t: f"-({t}*LN({_clamped(p)})+(1-{t})*LN(1-{_clamped(p)}))", "LN(1-",
         _bce_derivative, lambda p, t: f"IF(AND({p}>=1E-07,{p}<=1-1E-07),(1-{t})/(1-{p})-{t}/{p},0)"),
    # Categorical cross-entropy: ``p`` is the true class's probability (an INDEX/MATCH of the row's P cells).
    # No derivative record yet: the backprop sheets refuse it (its softmax's slope is one record to add).
    Loss("ce", _cross_entropy, lambda p, t: f"-LN(MAX({p},1E-300))", "-LN(MAX("),
)}

#: The loss a reader assumes when a sheet's ``Loss`` column has no formula to recognise.
DEFAULT_LOSS = "mse"


def _lookup(registry: dict, what: str, name: str):
    if name not in registry:
        raise OptionError(f"unknown {what} {name!r}; choose from {', '.join(registry)}")
    return registry[name]


def get_activation(name: str) -> Activation:
    """The activation called ``name``; :class:`OptionError` for a name not in :data:`ACTIVATIONS`."""
    return _lookup(ACTIVATIONS, "activation", name)


def get_head(name: str) -> Head:
    """The head called ``name``; :class:`OptionError` for a name not in :data:`HEADS`."""
    return _lookup(HEADS, "output head", name)


def get_loss(name: str) -> Loss:
    """The loss called ``name``; :class:`OptionError` for a name not in :data:`LOSSES`."""
    return _lookup(LOSSES, "loss", name)


def loss_of_formula(formula: str) -> str:
    """The name of the loss whose per-row ``formula`` this is, told by its marker.

    :data:`DEFAULT_LOSS` when no loss's marker is in it (or there is no formula).
    """
    text = formula.upper()
    return next((loss.name for loss in LOSSES.values() if loss.marker in text), DEFAULT_LOSS)
