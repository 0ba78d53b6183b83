"""Model kinds, each one record: what the model is, as data.

A kind is a chain of layers and an output. Each :class:`Layer` is one matrix product: where its
width comes from (one of the model's sizes, or a fixed number of columns), whether it adds a
constant, whether the hidden activation follows (with batch norm and dropout when asked), its
parameters' names and how the notebook draws their starting values. The output turns the last
layer into predictions: an output head of :mod:`titanic_lab.ops` (the identity, the sum of the
units, or a sigmoid; a multiclass target's softmax replaces it, and the output layer then has a
column per class).

A record also holds what the rest of the toolkit needs to know of a kind: its default sizes
(how sizes parse follows from its layers), the sheets the workbook gives it (their style and
note) and its training defaults.
The forward pass (:mod:`titanic_lab.models`), the trainer (:mod:`titanic_lab.training`), the
writer (:mod:`titanic_lab.workbook`) and the reader (:mod:`titanic_lab.workbook.layout`) read these
records, so adding a model kind is one entry in :data:`KINDS`.

This module imports without torch (``titanic-lab --help`` lists the kinds): the draws work on
the generator they are given, and torch is imported at their first call.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Mapping

from . import sheet_layout as sl
from .errors import OptionError
from .ops import HEADS, Head

if TYPE_CHECKING:
    from torch import Generator, Tensor

#: Where a layer's width comes from: the model's next size, or one layer per size left
#: (an ``int`` width is that many columns: the output layer's 1).
SIZE, EACH_SIZE = "size", "each size"
#: Sheet styles: the params as rows under the feature headers with a SUMPRODUCT per cell
#: (``linear``; ``nnet``, a row per unit), as one block under ``Column | Param1 ...`` with an MMULT
#: array formula (``mmult``), or as ``W1``, ``c1``, ``W2`` ... blocks, one MMULT per layer (``chain``).
ROW, UNITS, MMULT, CHAIN = "params row", "unit rows", "mmult", "chain"
#: The family of a sheet style, which names a model's blocks: ``Linear``; ``Lin``, ``ReLU``
#: (the units' one layer, unnumbered); ``L1_``, ``ReLU1_`` ..., ``Out``.
STYLE_BLOCKS = {ROW: ROW, UNITS: UNITS, MMULT: UNITS, CHAIN: CHAIN}


@dataclass(frozen=True)
class Draw:
    """How the notebook draws a parameter: ``(U(0, 1) - offset) [/ width] * scale`` in float32.

    Attributes
    ----------
    offset : float
    scale : float
    per_width : bool
        Divided by the layer's width (its number of output columns) before the scale.
    """

    offset: float
    scale: float = 1.0
    per_width: bool = False

    def __call__(self, shape: tuple[int, ...], width: int, generator: Generator) -> Tensor:
        import torch

        x = torch.rand(*shape, generator=generator)
        x = x - self.offset if self.offset else x
        x = x / width if self.per_width else x
        return x * self.scale if self.scale != 1 else x


@dataclass(frozen=True)
class Layer:
    """One matrix product of a model's chain, ``inputs @ weight [+ const]``.

    Attributes
    ----------
    weight : str
        The weight's parameter name; ``{i}`` stands for the layer's number (``W{i}``: ``W1``...).
    width : int or str
        :data:`SIZE` (the model's next size), :data:`EACH_SIZE` (one layer per size left), or
        a number of columns (1 for an output layer).
    const : str or None
        The constant's parameter name (``c{i}``), None for a layer without one.
    activation : bool
        Whether the hidden activation follows (batch norm before it, dropout after it).
    draw, const_draw : Draw
        The starting values of the weight and the constant.
    vector : bool
        The weight is kept as a vector (n_in,) rather than a matrix (n_in, 1): the linear's ``w``.
    """

    weight: str
    width: int | str = SIZE
    const: str | None = None
    activation: bool = False
    draw: Draw = Draw(0.5)
    const_draw: Draw = Draw(0.5, 0.1)
    vector: bool = False


@dataclass(frozen=True)
class Sheet:
    """A sheet the workbook gives a model: its name before the sizes suffix, its style, its note."""

    base: str
    style: str
    note: str


@dataclass(frozen=True, eq=False)
class ModelKind:
    """What a kind of model is, as data.

    Attributes
    ----------
    name : str
        As on the command line (``--model deep:10,10``).
    layers : tuple of Layer
        The chain, from the features to the output layer.
    output : {"identity", "sum", "sigmoid"}
        Its output head's name in :data:`titanic_lab.ops.HEADS`.
    sheets : tuple of Sheet
        Its sheets in the workbook; their styles are of one family (:data:`STYLE_BLOCKS`).
    defaults : mapping
        Its training defaults: :class:`titanic_lab.training.TrainSettings` fields.
    default_sizes : tuple of int
        The sizes of the bare name (``nnet`` is ``nnet:2``).
    """

    name: str
    layers: tuple[Layer, ...]
    output: str
    sheets: tuple[Sheet, ...]
    defaults: Mapping[str, object] = field(default_factory=dict)
    default_sizes: tuple[int, ...] = ()

    @property
    def style(self) -> str:
        """The family of its sheets' styles, which names its blocks: ROW, UNITS or CHAIN."""
        return STYLE_BLOCKS[self.sheets[0].style]

    @property
    def has_hidden(self) -> bool:
        return any(layer.activation for layer in self.layers)

    @property
    def head(self) -> Head:
        """Its output head's record (:data:`titanic_lab.ops.HEADS`)."""
        return HEADS[self.output]

    @property
    def has_sigmoid(self) -> bool:
        return self.output == "sigmoid"

    @property
    def multiclass(self) -> bool:
        """Whether it can end in a column per class: its output layer is a product (not a sum of units)."""
        return self.layers[-1].width == 1

    @property
    def n_sizes(self) -> tuple[int, int | None]:
        """How many sizes it takes: (fewest, most), most None for any number."""
        fixed = sum(layer.width == SIZE for layer in self.layers)
        if any(layer.width == EACH_SIZE for layer in self.layers):
            return fixed + 1, None
        return fixed, fixed

    def takes(self, sizes: tuple[int, ...]) -> bool:
        """Whether ``sizes`` are sizes of this kind: as many as it takes, each at least 1."""
        fewest, most = self.n_sizes
        return len(sizes) >= fewest and (most is None or len(sizes) <= most) and all(s >= 1 for s in sizes)

    def chain(self, sizes: tuple[int, ...], outputs: int = 1) -> tuple[Layer, ...]:
        """The layers for these sizes, each with its number in its names and a whole-number width;
        with ``outputs`` > 1 (a class each) the one-column output layer is that wide, a matrix."""
        return _chain(self, tuple(sizes), outputs)

    def blocks(self, layer: int, activation_header: str) -> sl.HiddenBlocks:
        """The block names of hidden layer ``layer`` (1-based): ``Lin``, ``ReLU`` or ``L1_``, ``ReLU1_``."""
        return sl.hidden_blocks(layer if self.style == CHAIN else None, activation_header)

    @property
    def plain_block(self) -> str:
        """The block name of a layer no activation follows: ``Linear`` (params-row sheets), else ``Out``."""
        return sl.LINEAR if self.style == ROW else sl.OUT

    def sizes_text(self) -> str:
        """How many sizes it takes, in words, for messages."""
        fewest, most = self.n_sizes
        if most is None:
            return f"{'one' if fewest == 1 else fewest} or more"
        return {0: "none", 1: "one"}.get(fewest, str(fewest))


@functools.lru_cache(maxsize=256)
def _chain(kind: ModelKind, sizes: tuple[int, ...], outputs: int = 1) -> tuple[Layer, ...]:
    """:meth:`ModelKind.chain`, kept: the forward pass asks for it at every step."""
    sizes = list(sizes)
    repeated = len(sizes) - sum(layer.width == SIZE for layer in kind.layers)
    out: list[Layer] = []
    for layer in kind.layers:
        if layer.width == EACH_SIZE:
            widths = [sizes.pop(0) for _ in range(repeated)]
        elif layer.width == SIZE:
            widths = [sizes.pop(0)]
        else:
            widths = [int(layer.width) * outputs]
        for width in widths:
            i = len(out) + 1
            out.append(replace(layer, width=width, weight=layer.weight.format(i=i), vector=layer.vector and width == 1,
                               const=None if layer.const is None else layer.const.format(i=i)))
    return tuple(out)


_LINEAR = (Layer("w", 1, vector=True),)
_NOTEBOOK = dict(optimizer="sgd", loss="mae", tol=1e-4, max_epochs=5_000)

#: Every model kind, by name (the order of ``--help``). The defaults were tested on the lesson's,
#: the Kaggle and the bundled rows with every preset (tests/test_convergence.py); another
#: optimizer or loss than a kind's own gets ``lr="auto"``.
KINDS: dict[str, ModelKind] = {k.name: k for k in (
    ModelKind(
        "linear", _LINEAR, "identity",
        (Sheet("linear", ROW, "The lesson's linear model: Linear = SUMPRODUCT(features, params), the Ones column is the bias."),),
        dict(optimizer="adam", loss="mse", lr=0.1),
    ),
    ModelKind(
        "nnet", (Layer("W", SIZE, activation=True),), "sum",
        (Sheet("nnet", UNITS, "The lesson's neural net: ReLU units, each a SUMPRODUCT with its own row of params, summed."),
         Sheet("mmult", MMULT, "The same neural net with its params as one block and the layer as one MMULT array formula.")),
        dict(optimizer="adam", loss="mse", lr=0.03, restarts=16, max_epochs=10_000, tol=1e-8, window=300),
        default_sizes=(2,),
    ),
    # The notebook's models: its optimizer, loss and rates. Mean absolute error of a sigmoid keeps
    # falling slowly for tens of thousands of epochs, so their plateau is a 1e-4 gain over 100.
    ModelKind(
        "sigmoid", _LINEAR, "sigmoid",
        (Sheet("sigmoid", ROW, "The notebook's linear model with a sigmoid output: Preds = 1/(1+EXP(-Linear))."),),
        dict(_NOTEBOOK, lr=100.0),
    ),
    ModelKind(
        "hidden",
        (Layer("W1", SIZE, activation=True, draw=Draw(0.5, per_width=True)),
         Layer("w2", 1, const="c", draw=Draw(0.3), const_draw=Draw(0.0))),
        "sigmoid",
        (Sheet("hidden", CHAIN, "The notebook's one-hidden-layer net: MMULT, ReLU, MMULT + constant, sigmoid."),),
        dict(_NOTEBOOK, lr=20.0),
        default_sizes=(20,),
    ),
    ModelKind(
        "deep",
        (Layer("W{i}", EACH_SIZE, const="c{i}", activation=True, draw=Draw(0.3, 4.0, per_width=True)),
         Layer("W{i}", 1, const="c{i}", draw=Draw(0.3, 4.0, per_width=True))),
        "sigmoid",
        (Sheet("deep", CHAIN, "The notebook's deep net: a chain of MMULT + constant and ReLU layers, sigmoid output."),),
        dict(_NOTEBOOK, lr=4.0),
        default_sizes=(10, 10),
    ),
)}


def get_kind(name: str) -> ModelKind:
    """The kind called ``name``; :class:`OptionError` for a name not in :data:`KINDS`."""
    if name not in KINDS:
        raise OptionError(f"unknown model {name!r}; choose from {', '.join(KINDS)}")
    return KINDS[name]


def kind_of_sheet(style: str, widths: list[int], consts: list[bool], preds: bool,
                  outputs: int = 1) -> tuple[ModelKind, tuple[int, ...]] | None:
    """The kind, and its sizes, of a model read from a sheet; None when no kind has that shape.

    Parameters
    ----------
    style : {ROW, UNITS, CHAIN}
        The family of the sheet's blocks.
    widths, consts : list
        Each layer's width (the columns of its weight) and whether it has a constant.
    preds : bool
        Whether the sheet has a ``Preds`` column: a head that writes one (the sum or the sigmoid;
        kinds of one style and layers differ in more than that one). A multiclass sheet's
        softmax (``P1``...) stands for its kind's own head, which it replaces.
    outputs : int
        The classes of a multiclass sheet (its ``P`` columns), else 1.
    """
    for kind in KINDS.values():
        if kind.style != style or (outputs == 1 and (kind.head.header is not None) != preds):
            continue
        if outputs > 1 and (not kind.multiclass or kind.has_sigmoid and kind.layers == _LINEAR):
            continue
        for sizes in (tuple(widths), tuple(widths[:-1])):
            if not kind.takes(sizes):
                continue
            chain = kind.chain(sizes, outputs)
            if [layer.width for layer in chain] == widths and [layer.const is not None for layer in chain] == consts:
                return kind, sizes
    return None
