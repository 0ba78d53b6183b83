"""Optimizers, one record each: the words ``--help`` shows, the state it starts from, its update.

The training loop (:mod:`titanic_lab.training`) does ``p -= lr * direction`` with
``direction = OPTIMIZERS[name].update(p.grad, state)``, the step count ``state["t"]`` kept by
the loop. Each record works on the tensors it is given (no ``import torch`` here), so ``--help``
lists the names without importing torch, and a new optimizer is one entry in :data:`OPTIMIZERS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from torch import Tensor

    #: The loss of restart 0 as a function of one parameter tensor's values: ``loss_at(name, values)``.
    LossAt = Callable[[str, Tensor], Tensor]


def _fresh(learned: dict[str, Tensor], loss_at: LossAt) -> dict[str, dict]:
    """An empty state per parameter: the update fills it in on its first step."""
    return {name: {} for name in learned}


@dataclass(frozen=True)
class Optimizer:
    """One optimizer.

    Parameters
    ----------
    name : str
        Its ``--optimizer`` name.
    words : str
        What ``--help`` and the README say it does, in one phrase.
    update : callable
        ``update(grad, state) -> direction``: the step is ``p -= lr * direction``. ``state`` is
        the parameter's own dict, kept between steps; ``state["t"]`` is the step number (1 on
        the first), set by the loop before the call.
    init : callable
        ``init(learned, loss_at) -> {name: state}``: every learned parameter's starting state.
        ``loss_at(name, values)`` is restart 0's loss as a function of that parameter's values
        (``newton`` takes its Hessian from it); most optimizers start from empty dicts.
    exact : bool
        The step needs no learning rate (``newton``'s lands on the minimum at lr 1, ``lbfgs``'s
        line search sets its own length): there is no rate to find, and the convergence rule's
        window is short.
    memoryless : bool
        The direction depends on the parameters (and their gradient) alone, nothing carried from
        earlier steps (``sgd``, ``newton``): a full-batch epoch that moved no parameter would
        repeat itself at the same rate, so the training loop does not compute it again.
    """

    name: str
    words: str
    update: Callable[[Tensor, dict], Tensor]
    init: Callable[[dict[str, Tensor], LossAt], dict[str, dict]] = _fresh
    exact: bool = False
    memoryless: bool = False


def _zeros(state: dict, name: str, grad: Tensor) -> Tensor:
    """The state's ``name``, zeros like ``grad`` the first time (made once, not at every step)."""
    if name not in state:
        state[name] = grad.new_zeros(grad.shape)
    return state[name]


def _momentum(grad: Tensor, state: dict) -> Tensor:
    v = _zeros(state, "v", grad)
    return v.mul_(0.9).add_(grad)  # v = 0.9 v + g, as torch.optim.SGD(momentum=0.9)


def _adam(grad: Tensor, state: dict) -> Tensor:
    m, s = _zeros(state, "m", grad), _zeros(state, "s", grad)
    m.mul_(0.9).add_(grad, alpha=0.1)  # first moment
    s.mul_(0.999).addcmul_(grad, grad, value=0.001)  # second moment
    t = state["t"]  # bias-corrected m / (sqrt(s) + eps), as torch.optim.Adam
    return (m / (1 - 0.9**t)).div_((s / (1 - 0.999**t)).sqrt_().add_(1e-8))


def _newton_state(learned: dict[str, Tensor], loss_at: LossAt) -> dict[str, dict]:
    """The pseudo-inverse of the loss's Hessian in the (one) parameter tensor, from autograd at
    restart 0's values; eigenvalues below ``n * eps`` of the largest count as 0, so a step on
    collinear features (all-level dummies) is the minimum-norm one, as a least-squares solver's.
    The caller checks that the Hessian is the same everywhere (``training.newton_refusal``)."""
    import torch  # lazy: this module imports without torch so that --help starts fast

    ((name, p),) = learned.items()
    start = p.detach()[0]
    size = start.numel()
    hessian = torch.autograd.functional.hessian(lambda v: loss_at(name, v), start).reshape(size, size)
    return {name: {"inverse": torch.linalg.pinv(hessian, hermitian=True), "convex": True}}


def _newton(grad: Tensor, state: dict) -> Tensor:
    if "curvature" in state:  # a softmax's or the nnet's: each restart's gradient (1, n) times its Hessian's pseudo-inverse, now
        direction = (grad.reshape(grad.shape[0], 1, -1) @ state["curvature"]()).reshape(grad.shape)
    else:  # grad (..., n) times the pseudo-inverse of the (constant) Hessian (n, n)
        direction = (grad.reshape(*grad.shape[:-1], -1) @ state["inverse"]).reshape(grad.shape)
    if state.get("convex"):
        state["promised"] = newton_promise(grad, direction)
    return state["search"](direction) if "search" in state else direction  # the nnet's and a softmax's: a share of the step


def newton_promise(grad: Tensor, direction: Tensor) -> Tensor:
    """What a full Newton step promises to take off the objective, per restart: half the Newton decrement
    ``grad . H^-1 grad`` (``direction`` is ``H^-1 grad``), the quadratic model's fall. On a convex objective
    it also measures how far the objective is above its minimum (Boyd and Vandenberghe, section 9.5.1), so
    training may stop once it is a negligible share of the objective (``training._Convergence``)."""
    return (grad.reshape(grad.shape[0], -1) * direction.reshape(grad.shape[0], -1)).sum(-1) / 2


#: The pairs of steps and gradient changes L-BFGS keeps (torch.optim.LBFGS's ``history_size`` is 100, scipy's 10).
LBFGS_MEMORY = 10


def two_loop(grad: Tensor, pairs: list[tuple[Tensor, Tensor, Tensor]]) -> Tensor:
    """L-BFGS's direction: ``grad`` (n_restarts, n) times its estimate of the inverse Hessian.

    ``pairs`` holds, oldest first, each step ``s``, its change of gradient ``y`` and ``rho = 1 /
    (s . y)`` per restart (0 for a pair without positive curvature, which then counts for nothing),
    all (n_restarts, n) or (n_restarts, 1). The two-loop recursion (Nocedal and Wright, Algorithm
    7.4), scaled by ``s . y / y . y`` of the newest pair with positive curvature (without one:
    ``min(1, 1 / sum|grad|)``, torch.optim.LBFGS's first step).
    """
    q, alphas = grad.clone(), []
    for s, y, rho in reversed(pairs):
        alpha = rho * (s * q).sum(-1, keepdim=True)
        q -= alpha * y
        alphas.append(alpha)
    gamma = (1 / grad.abs().sum(-1, keepdim=True)).clamp(max=1.0)
    unset = gamma.new_ones(gamma.shape).bool()
    for s, y, rho in reversed(pairs):  # the newest pair with positive curvature sets it: as a rule the newest of all
        taken = unset & (rho > 0)
        gamma = (1 / (rho * (y * y).sum(-1, keepdim=True)).clamp(min=1e-300)).where(taken, gamma)
        unset = unset & ~taken
        if not unset.any():
            break
    r = gamma * q
    for (s, y, rho), alpha in zip(pairs, reversed(alphas)):
        beta = rho * (y * r).sum(-1, keepdim=True)
        r += s * (alpha - beta)
    return r


def _lbfgs(grad: Tensor, state: dict) -> Tensor:
    # every parameter's part of one step over them all, computed at the first parameter's call of step t
    return state["joint"].direction(state["name"], state["t"])


#: Every optimizer by name, in the order ``--help`` lists them.
OPTIMIZERS: dict[str, Optimizer] = {o.name: o for o in (
    Optimizer("sgd", "p -= lr * grad, the lesson's", lambda grad, state: grad, memoryless=True),
    Optimizer("momentum", "v = 0.9 v + grad, p -= lr * v, as torch.optim.SGD(momentum=0.9)", _momentum),
    Optimizer("adam", "betas 0.9, 0.999, eps 1e-8, as torch.optim.Adam", _adam),
    Optimizer("newton", "p -= lr * pinv(H) @ grad, exact at lr 1 for linear with mse", _newton, _newton_state, exact=True,
              memoryless=True),
    Optimizer("lbfgs", "L-BFGS (10 pairs) over every parameter, a line search sets each step; full batch", _lbfgs,
              exact=True),
)}
