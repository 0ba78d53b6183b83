"""Formula strings of backpropagation and of the optimizers, small pure functions tested as strings.

The activations' and losses' own derivatives are in their records (:mod:`titanic_lab.ops`);
these put them together: a layer's pre-activation, the chain rule's delta, a gradient, and one
step of ``sgd``, ``momentum`` or ``adam`` with the penalties as terms of the gradient.
"""

from __future__ import annotations

from . import formulas as fx


def pre_activation(inputs: str, weights: str, const: str | None = None) -> str:
    """A unit's z: ``SUMPRODUCT(inputs,weights)[+c]`` over a row of inputs and the unit's row of weights."""
    return f"SUMPRODUCT({inputs},{weights})" + (f"+{const}" if const else "")


def back_through(deltas_and_weights: list[tuple[str, str]]) -> str:
    """dL/da of a unit: each delta of the layer above times the weight joining them, summed: ``AB5*$C$9+AC5*$C$10``."""
    return "+".join(f"{delta}*{weight}" for delta, weight in deltas_and_weights)


def times_slope(upstream: str, slope: str) -> str:
    """The chain rule's one step, upstream times the slope: ``AB5*IF(M5>0,1,0)``, ``(AB5*$C$9+...)*(AA5*(1-AA5))``."""
    return f"{fx.operand(upstream)}*{fx.operand(slope)}"


def weight_gradient(inputs: str, deltas: str, n: int) -> str:
    """dL/dw of the weight joining an input column to a unit: ``SUMPRODUCT(inputs,deltas)/N``."""
    return f"SUMPRODUCT({inputs},{deltas})/{n}"


def const_gradient(deltas: str, n: int) -> str:
    """dL/dc of a layer's constant, shared by its units: ``SUM(deltas)/N``."""
    return f"SUM({deltas})/{n}"


def penalized(gradient: str, param: str, l2: str, l1: str) -> str:
    """The gradient of the loss plus ``l2/2 * p^2 + l1 * |p|``: ``gradient+l2*p+l1*SIGN(p)``."""
    return f"{gradient}+{l2}*{param}+{l1}*SIGN({param})"


def velocity(previous: str | None, momentum: str, grad: str) -> str:
    """Momentum's velocity: ``mu*v+g`` (``g`` at the first epoch)."""
    return grad if previous is None else f"{momentum}*{previous}+{grad}"


def moment(previous: str | None, beta: str, value: str) -> str:
    """An exponential moving average of Adam: ``b*m+(1-b)*value`` (``(1-b)*value`` at the first epoch)."""
    return f"(1-{beta})*{value}" if previous is None else f"{beta}*{previous}+(1-{beta})*{value}"


def adam_step(param: str, lr: str, m: str, s: str, t: str, beta1: str, beta2: str, eps: str) -> str:
    """Adam's update with bias correction: ``p-lr*((m/(1-b1^t))/(SQRT(s/(1-b2^t))+eps))``."""
    return f"{param}-{lr}*(({m}/(1-{beta1}^{t}))/(SQRT({s}/(1-{beta2}^{t}))+{eps}))"
