"""What a model is, without torch: its kind, sizes and hidden-layer design, parsed from the command line.

A :class:`ModelSpec` names a model; :mod:`titanic_lab.models` runs it in torch (training, the
workbook's columns) and :mod:`titanic_lab.array_forward` in numpy (``predict``, which imports no
torch). Both follow the layers of its kind (:mod:`titanic_lab.model_kinds`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .errors import OptionError
from .model_kinds import KINDS, Layer, ModelKind, get_kind
from .ops import ACTIVATIONS, HEADS, Head

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
        A name in :data:`titanic_lab.model_kinds.KINDS`.
    sizes : tuple of int
        ``nnet``: (number of units,); ``hidden``: (hidden size,); ``deep``: hidden sizes.
    activation : {"relu", "leaky_relu", "elu", "tanh", "sigmoid"}
        The hidden layers' activation (the lesson's is ReLU).
    batchnorm : bool
        Batch normalization before each hidden activation (running statistics at inference).
    outputs : int
        The model's outputs: 1, or a multiclass target's number of classes (the output layer
        then has a column per class and the head is the softmax).
    """

    kind: str
    sizes: tuple[int, ...] = ()
    activation: str = "relu"
    batchnorm: bool = False
    outputs: int = 1

    def __post_init__(self) -> None:
        get_kind(self.kind)
        if self.activation not in ACTIVATIONS:
            raise OptionError(f"unknown activation {self.activation!r}; choose from {', '.join(ACTIVATIONS)}")
        if (self.batchnorm or self.activation != "relu") and not self.has_hidden:
            raise OptionError(f"model {self.name!r} has no hidden layer, so --activation and --batchnorm do not apply to it")

    @property
    def model_kind(self) -> ModelKind:
        """The record of its kind: its layers, output, sheets and defaults."""
        return KINDS[self.kind]

    @property
    def chain(self) -> tuple[Layer, ...]:
        """Its layers, with their widths and parameter names for its sizes (and outputs)."""
        return self.model_kind.chain(self.sizes, self.outputs)

    @property
    def head(self) -> Head:
        """Its output head: its kind's own, or the softmax of a multiclass target's classes."""
        return HEADS["softmax"] if self.outputs > 1 else self.model_kind.head

    @property
    def name(self) -> str:
        """The model's name as written on the command line (``nnet``, ``deep:10,10``...)."""
        if self.sizes == self.model_kind.default_sizes:
            return self.kind
        return f"{self.kind}:{','.join(map(str, self.sizes))}"

    @property
    def description(self) -> str:
        extras = [self.activation] if self.has_hidden else []
        return self.name + (f" ({', '.join(extras + (['batchnorm'] if self.batchnorm else []))})" if extras else "")

    @property
    def has_sigmoid(self) -> bool:
        return self.model_kind.has_sigmoid

    @property
    def has_hidden(self) -> bool:
        return self.model_kind.has_hidden


def parse_model(text: str, activation: str = "relu", batchnorm: bool = False) -> ModelSpec:
    """Parse a model name: ``linear``, ``nnet``, ``nnet:3``, ``sigmoid``, ``hidden:20``, ``deep:10,10``.

    Raises
    ------
    OptionError
        For an unknown kind or sizes that are not positive integers.
    TypeError
        When ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"a model is named by text such as 'linear', 'nnet:3' or 'deep:10,10', not {text!r}")
    name, _, sizes_text = text.strip().partition(":")
    if name not in KINDS:
        raise OptionError(f"unknown model {text!r}; choose from {', '.join(KINDS)} (sizes as nnet:3, hidden:20, deep:10,10)")
    kind = KINDS[name]
    if not sizes_text:
        sizes = kind.default_sizes
    elif kind.n_sizes == (0, 0):
        raise OptionError(f"model {name!r} takes no sizes (got {text!r})")
    else:
        try:
            sizes = tuple(int(s) for s in sizes_text.split(","))
        except ValueError:
            sizes = ()
        if not sizes or not kind.takes(sizes):
            raise OptionError(f"model {text!r}: sizes must be positive whole numbers, {kind.sizes_text()} for {name}")
    return ModelSpec(name, sizes, activation if kind.has_hidden else "relu", batchnorm and kind.has_hidden)


def multiclass_model(spec: ModelSpec, outputs: int) -> ModelSpec:
    """``spec`` ending in ``outputs`` columns, one per class, and a softmax (unchanged for 1).

    ``linear`` becomes multinomial logistic regression and ``hidden``/``deep`` end in a column per
    class. The nnet sums its units into one output and ``sigmoid`` is ``linear`` once the softmax
    replaces its sigmoid: both are refused, naming the models that learn classes.
    """
    if outputs == 1:
        return spec
    if not spec.model_kind.multiclass or spec.has_sigmoid and not spec.has_hidden:
        able = ", ".join(k.name for k in KINDS.values() if k.multiclass and not (k.has_sigmoid and not k.has_hidden))
        raise OptionError(f"--model {spec.name}: a multiclass target needs a model that ends in a column per class "
                          f"({able}); {spec.kind} " + ("sums its units into one output" if not spec.model_kind.multiclass
                                                      else "is linear once the softmax replaces its sigmoid"))
    return replace(spec, outputs=outputs)


def hidden_sizes(spec: ModelSpec) -> tuple[int, ...]:
    """The width of each hidden layer (the nnet's units are its one hidden layer)."""
    return tuple(int(layer.width) for layer in spec.chain if layer.activation)


def is_buffer(name: str) -> bool:
    """Batch norm's running statistics: kept in the params dict, updated by forward, not learned."""
    return name.endswith(("_mean", "_var"))
