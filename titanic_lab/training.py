"""Gradient descent written by hand: ``loss.backward()``, then updates under ``torch.no_grad()``.

No ``torch.optim`` and no ``nn.Module``: the optimizers are records of a few lines each in
:mod:`titanic_lab.optim`, and the training loop in :func:`fit` fits on one screen. The lesson's
models (linear, the nnet) trained full batch take the same gradient, bit for bit, from
:mod:`titanic_lab.exact_backward` instead of autograd's graph (:func:`_backward`).
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Iterator

import torch

from .choosing import choose
from .config import MAX_EPOCHS, SEED_MAX
from .errors import OptionError, TrainingError
from .exact_backward import loss_and_gradients, refusal
from .models import KINDS, ModelSpec, Params, accuracy, forward, hidden_sizes, init_params, is_buffer, restarts_matmul
from .ops import ACTIVATIONS, LOSSES, softmax
from .optim import LBFGS_MEMORY, OPTIMIZERS, two_loop

#: The convergence rule's window for ``newton``: after its first step nothing is left to improve.
NEWTON_WINDOW = 10
#: On a convex loss newton stops once its full step promises to take at most this share of the objective off
#: (:func:`titanic_lab.optim.newton_promise`). The promise is quadratic in the parameters' distance from their
#: optimum, so they are then within about 1e-10 of it (relative), and the steps converge quadratically: the step
#: before promised about 1e-10. Before, the window's 10 epochs of no fall followed, each computing a softmax's
#: curvature again.
NEWTON_PROMISE = 1e-20
DTYPES = {"float64": torch.float64, "float32": torch.float32}


#: How default training decides it is done: the lowest training loss so far has improved by
#: less than ``tol`` (relative) over the last ``window`` epochs; ``max_epochs`` caps it.
CONVERGENCE_RULE = (
    "a plateau is when the lowest training loss so far has improved by less than tol (relative) over the last "
    "window epochs; at the first two plateaus the learning rate is divided by 10, at the third training stops "
    "(converged; newton at a rate of at most 1 stops at the first: its steps are exact or searched along their line, "
    "so a smaller rate finds nothing; on a convex loss (least squares, a sigmoid's or softmax's log loss) newton also "
    "stops once its full step promises to take at most 1e-20 of the objective off, half the Newton decrement), "
    "and at max_epochs in any case; the parameters of the epoch with the lowest training loss are kept"
)
#: Plateaus at which the convergence rule divides the learning rate by 10 before it stops at the next.
LR_DROPS = 2
#: The optimizers whose convergence stops at the first plateau at a rate of at most 1 (``newton``'s is 1): its step
#: is exact (a quadratic loss) or searched along its line (:func:`_line_search`, :func:`_backtrack`), so a tenth of
#: the rate only searches a shorter stretch of the same line. Above 1 a step overshoots, and the drops stay. Measured: on 17 tables no model's training loss moved by more than 2e-14 in the
#: epochs the drops took (benchmarks/lr_drops.md).
NO_LR_DROPS = frozenset({"newton"})
#: Multiply-adds per matrix product above which torch may use more than one thread (:func:`threads_for`).
#: On this project's 2-core machine with other work running, two threads were slower than one at
#: every size measured, up to 400,000 rows x 16 restarts (benchmarks/notes.md).
PARALLEL_WORK = 1_000_000_000


@dataclass(frozen=True, kw_only=True)
class TrainSettings:
    """How one model is trained.

    Parameters
    ----------
    epochs : int or None
        None (the default): train until converged (see :data:`CONVERGENCE_RULE`), at most
        ``max_epochs``. An int: exactly that many passes over the training rows, keeping the
        last parameters; 0 evaluates the starting parameters.
    lr : float or "auto"
        Learning rate; ``"auto"`` takes the suggestion of :func:`lr_find` on the training rows
        (and, should training from it diverge or end worse than predicting the mean, a tenth
        of it, up to three times).
    optimizer : {"sgd", "momentum", "adam", "newton"}
        ``sgd`` is the lesson's ``p -= lr * p.grad``; ``momentum`` (0.9) and ``adam``
        (0.9, 0.999, 1e-8) follow ``torch.optim``'s definitions. ``newton`` divides the gradient
        by the loss's curvature, ``p -= lr * pinv(H) @ p.grad`` with H the Hessian from autograd:
        for the squared error of a model linear in its parameters (``linear``) H is constant and
        one step at lr 1 lands on the least-squares solution (full batch, mse, no l1 only).
    loss : {"mse", "mae", "bce"}
    restarts : int
        Seeded random starts trained side by side; the one with the lowest final training
        loss is kept. Restart ``r`` is initialised from seed ``seed + r``.
    seed : int
        Seed of the initial parameters (442 is the notebook's), the batch order and dropout.
    dtype : {"float64", "float32"}
    batch_size : int or None
        Rows per gradient; None is full batch (the lesson's), 1 is stochastic.
    accumulate : int
        Mini-batches whose gradients are summed (weighted by their rows) before one update.
    l1, l2 : float
        Penalties ``l1 * sum|p|`` and ``l2 / 2 * sum p^2`` over the learned parameters, added
        to the loss being minimised (``l2`` equals torch's ``weight_decay``). The losses
        reported are the data losses alone.
    dropout : float
        Probability of dropping a hidden unit in training; the identity at evaluation.
    patience : int or None
        Early stopping: stop when the validation loss has not improved for this many epochs
        and restore the best epoch's parameters.
    max_epochs, window, tol : int, int, float
        The convergence rule of ``epochs=None``: stop once the lowest training loss has
        improved by less than ``tol`` relative to itself over the last ``window`` epochs.
    """

    epochs: int | None = None
    lr: float | str
    optimizer: str = "sgd"
    loss: str = "mse"
    restarts: int = 1
    seed: int = 442
    dtype: str = "float64"
    batch_size: int | None = None
    accumulate: int = 1
    l1: float = 0.0
    l2: float = 0.0
    dropout: float = 0.0
    patience: int | None = None
    max_epochs: int = 20_000
    window: int = 100
    tol: float = 1e-12

    def __post_init__(self) -> None:
        if self.epochs is not None and not 0 <= self.epochs <= MAX_EPOCHS:
            raise OptionError(f"--epochs must be between 0 and {MAX_EPOCHS:,}, got {self.epochs}")
        if self.lr != "auto" and not (isinstance(self.lr, (int, float)) and self.lr > 0 and math.isfinite(self.lr)):
            raise OptionError(f"--lr must be a positive finite number or auto, got {self.lr}")
        if self.optimizer not in OPTIMIZERS:
            raise OptionError(f"--optimizer: unknown optimizer {self.optimizer!r}; choose from {', '.join(OPTIMIZERS)}")
        if self.loss not in LOSSES:
            raise OptionError(f"--loss: unknown loss {self.loss!r}; choose from {', '.join(LOSSES)}")
        if self.restarts < 1:
            raise OptionError(f"--restarts must be at least 1, got {self.restarts}")
        if self.dtype not in DTYPES:
            raise OptionError(f"--dtype: unknown dtype {self.dtype!r}; choose from {', '.join(DTYPES)}")
        if self.batch_size is not None and self.batch_size < 1:
            raise OptionError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.accumulate < 1:
            raise OptionError(f"--accumulate must be at least 1, got {self.accumulate}")
        for option, value in (("--l1", self.l1), ("--l2", self.l2)):
            if not (value >= 0 and math.isfinite(value)):
                raise OptionError(f"{option} must be a non-negative finite number, got {value}")
        if not 0 <= self.seed <= SEED_MAX - (self.restarts - 1):
            raise OptionError(f"--seed must be a whole number from 0 to {SEED_MAX - (self.restarts - 1)}, got {self.seed}")
        if not 0 <= self.dropout < 1:
            raise OptionError(f"--dropout must be in [0, 1), got {self.dropout}")
        if self.patience is not None and self.patience < 1:
            raise OptionError(f"--patience must be at least 1, got {self.patience}")
        if not (1 <= self.max_epochs <= MAX_EPOCHS and self.window >= 1 and 0 <= self.tol < 1):
            raise OptionError(f"the convergence rule needs 1 <= max_epochs <= {MAX_EPOCHS:,}, window >= 1 and 0 <= tol < 1")


def default_settings(spec: ModelSpec, optimizer: str | None = None, loss: str | None = None) -> TrainSettings:
    """Defaults per model: good results with no flags.

    Every model trains until converged (:data:`CONVERGENCE_RULE`). The spreadsheet models use
    squared error and Adam; the nnet trains 16 seeded restarts side by side because plain
    descent from one random start often stalls near 0.1439. The notebook's models use its
    optimizer, loss and learning rates (its 30 epochs are ``--epochs 30``).

    Parameters
    ----------
    optimizer, loss : str, optional
        When either differs from the model's own, the learning rate is ``"auto"``: the
        tabled rate was tested with the model's own optimizer and loss only.

    Raises
    ------
    OptionError
        For ``loss="bce"`` on a model without a sigmoid output.
    """
    if (loss == "ce") != (spec.outputs > 1) and loss is not None:
        raise OptionError(f"--loss ce is categorical cross-entropy, for a multiclass target's softmax; {spec.name} has one "
                          "output here (whole numbers are classes with --task multiclass)"
                          if loss == "ce" else f"--loss {loss}: a multiclass target trains with ce (categorical "
                          "cross-entropy of its softmax); leave --loss out")
    if loss == "bce" and not spec.has_sigmoid:
        raise OptionError(
            f"--loss bce needs a model with a sigmoid output ({', '.join(k for k, v in KINDS.items() if v.has_sigmoid)}), "
            f"not {spec.name}: log loss of an "
            "output clamped into (0, 1) has no gradient outside it, so training stalls; use mse or mae"
        )
    own = spec.model_kind.defaults  # each kind's own optimizer, loss and rate (titanic_lab.model_kinds)
    chosen = {"optimizer": optimizer or own["optimizer"], "loss": loss or own["loss"]}
    if _exact(chosen["optimizer"]) and not _exact(own["optimizer"]):
        # Newton's step is exact at lr 1 (lbfgs's line search sets its own); the plateau then comes soon, so a short
        # window (and for the hidden layers, a short cap).
        cap = {"max_epochs": LBFGS_MAX_EPOCHS if chosen["optimizer"] == "lbfgs" else NEWTON_MAX_EPOCHS} if spec.has_hidden else {}
        return TrainSettings(**{**own, **chosen, "lr": 1.0, "window": NEWTON_WINDOW, **cap})
    changed = any(chosen[k] != own[k] for k in chosen)
    return TrainSettings(**{**own, **chosen, "lr": "auto" if changed else own["lr"]})


def _exact(optimizer: str) -> bool:
    return optimizer in OPTIMIZERS and OPTIMIZERS[optimizer].exact


@dataclass
class TrainResult:
    """What :func:`fit` learned and measured.

    Attributes
    ----------
    settings : TrainSettings
        As trained: ``lr`` is the rate used (the finder's, for ``lr="auto"``).
    params : dict of Tensor
        The kept restart's parameters (no batch dimension, detached).
    history : list of dict
        Per epoch: ``epoch``, ``train_loss`` (before that epoch's update), ``valid_loss`` and
        ``valid_accuracy`` (None without validation rows).
    train_loss, valid_loss, valid_accuracy : float
        Of the kept parameters.
    restart : int
        Which restart was kept; ``restart_losses`` has every restart's training loss: its final one, or for a
        restart that stopped after :data:`KEEP_AFTER` steps the loss it stopped at (a data loss: with a penalty
        it may be below the kept one's, which had the lowest objective then).
    stop_reason : str
        Why training stopped: ``converged at epoch k``, ``reached the cap of N epochs``,
        ``ran the N epochs asked for`` or ``early stopping: ...``.
    lr_source : str
        Where the learning rate came from: ``given`` (the model's table or ``--lr``), ``lr-find``,
        or ``lr-find / 10``, ``/ 100``... when the finder's rate had to be divided.
    """

    spec: ModelSpec
    settings: TrainSettings
    params: Params
    history: list[dict]
    train_loss: float
    valid_loss: float | None
    valid_accuracy: float | None
    train_accuracy: float | None
    restart: int
    restart_losses: list[float]
    seconds: float
    stop_reason: str = ""
    converged: bool = False
    best_epoch: int | None = None
    lr_source: str = "given"
    #: The validation metrics of :mod:`titanic_lab.choosing` (the same for every model whatever its loss),
    #: measured on the validation rows by the parameters learned without them; {} without validation rows.
    validation: dict = field(default_factory=dict)
    #: Whether these parameters were refit on every row after the model was chosen (``validation``
    #: then stays the estimate of the fit that did not see the validation rows).
    refit: bool = False
    #: How the l2 penalty was chosen by data (:mod:`titanic_lab.penalty`), "" when it was not.
    penalty: str = ""

    def summary(self) -> dict:
        return {
            "model": self.spec.name,
            "train_loss": self.train_loss,
            "train_accuracy": self.train_accuracy,
            "valid_loss": self.valid_loss,
            "valid_accuracy": self.valid_accuracy,
            "epochs": self.settings.epochs,
            "seconds": self.seconds,
            "restart": self.restart,
            "epochs_run": len(self.history),
            "best_epoch": self.best_epoch,
            "stop_reason": self.stop_reason,
            "converged": self.converged,
            "lr": self.settings.lr,
            "lr_source": self.lr_source,
            "validation": self.validation,
            "refit": self.refit,
            "penalty": self.penalty,
            "settings": asdict(self.settings),
        }


def _update(name: str, grad: torch.Tensor, state: dict) -> torch.Tensor:
    """The step direction of optimizer ``name`` (:mod:`titanic_lab.optim`); the caller does
    ``p -= lr * direction``. ``state`` keeps the step count ``t`` and the optimizer's own state."""
    state["t"] = state.get("t", 0) + 1
    return OPTIMIZERS[name].update(grad, state)


def fit(
    spec: ModelSpec,
    settings: TrainSettings,
    X: torch.Tensor,
    y: torch.Tensor,
    X_valid: torch.Tensor | None = None,
    y_valid: torch.Tensor | None = None,
    *,
    init: Params | None = None,
    on_epoch: Callable[[int, Params], None] | None = None,
    classify: bool = True,
) -> TrainResult:
    """Train one model by gradient descent written by hand.

    Parameters
    ----------
    spec, settings
        The model and how to train it.
    X : Tensor, shape (n_rows, n_features)
    y : Tensor, shape (n_rows,)
    X_valid, y_valid : Tensor, optional
        Validation rows, evaluated after every epoch.
    init : dict of Tensor, optional
        Starting parameters instead of random ones (then there is one restart).
    on_epoch : callable, optional
        Called as ``on_epoch(epoch, params)`` after every epoch (progress bars, recording the
        parameters' path); ``params`` carry the restart dimension and must not be modified.
    classify : bool
        A 0/1 target, whose accuracy is measured (a prediction above 0.5 is 1); False for
        regression, whose accuracies are None.

    Raises
    ------
    TrainingError
        When the loss becomes NaN or infinite (with ``lr="auto"``: at every rate tried).
    OptionError
        When early stopping is asked for without validation rows.
    """
    with threads_for(X.shape[0], X.shape[1], spec, settings.restarts if init is None else 1):
        if settings.lr != "auto":
            result = _descend(spec, settings, X, y, X_valid, y_valid, init, on_epoch, classify)
            result.lr_source = "given"
            return result
        lr, failures = lr_find(spec, settings, X, y, init=init).suggestion, []
        for _ in range(4):  # the finder's rate, then a tenth of it, up to three times
            try:
                result = _descend(spec, replace(settings, lr=lr), X, y, X_valid, y_valid, init, on_epoch, classify)
            except TrainingError as exc:
                failures.append(f"lr {lr:.3g}: {exc}")
            else:
                mean_loss = LOSSES[settings.loss](_guess(spec, y), y).item()
                if result.train_loss <= mean_loss:
                    result.lr_source = "lr-find" + (f" / {10 ** len(failures)}" if failures else "")
                    return result
                failures.append(f"lr {lr:.3g} ends at loss {result.train_loss:.4g}, worse than predicting the mean ({mean_loss:.4g})")
            lr /= 10
        raise TrainingError(f"{spec.name}: no learning rate from the finder trains it ({'; '.join(failures)}); give --lr")


def _guess(spec: ModelSpec, y: torch.Tensor) -> torch.Tensor:
    """The prediction a model must beat: the mean of ``y``, or each class's frequency in every row."""
    if spec.outputs == 1:
        return y.mean().expand_as(y)
    shares = torch.bincount(y.long(), minlength=spec.outputs).to(y.dtype) / len(y)
    return shares.expand(len(y), spec.outputs)


def _descend(spec, settings, X, y, X_valid, y_valid, init, on_epoch, classify=True) -> TrainResult:
    """The training loop: every epoch the loss's gradient (:func:`_backward`), then ``p -= lr * direction`` for each parameter."""
    dtype = DTYPES[settings.dtype]
    X, y = X.to(dtype), y.to(dtype)
    has_valid = X_valid is not None and len(X_valid) > 0
    if settings.patience is not None and not has_valid:
        raise OptionError("early stopping (--patience) needs validation rows; use --valid-pct > 0")
    if has_valid:
        X_valid, y_valid = X_valid.to(dtype), y_valid.to(dtype)
    params = _initial(spec, settings, X.shape[1], dtype, init)
    by_hand = _by_hand(spec, settings)  # autograd's gradients, bit for bit, without its graph (titanic_lab.exact_backward)
    learned = {k: p if by_hand else p.requires_grad_() for k, p in params.items() if not is_buffer(k)}
    states = _states(spec, settings, X, y, learned)
    loss_fn, rng = LOSSES[settings.loss], torch.Generator().manual_seed(settings.seed)
    stopper = _EarlyStopping(settings.patience, params) if settings.patience else None
    convergence = _Convergence(settings, params) if settings.epochs is None else None
    history: list[tuple] = []
    # An epoch that moved no parameter repeats itself at the same rate when it is a function of the parameters and
    # the rate alone: the full batch, no dropout, an optimizer without memory. ``still`` is such an epoch's (lr, loss).
    # Only under the convergence rule (its snapshot tells whether the epoch moved): ``--epochs N`` computes every epoch.
    repeats = settings.batch_size is None and not settings.dropout and OPTIMIZERS[settings.optimizer].memoryless
    still: tuple[float, torch.Tensor] | None = None
    n_restarts = next(iter(params.values())).shape[0]
    survivors = torch.arange(n_restarts)  # the restarts still training (all of them until :data:`KEPT_RESTARTS`' epoch)
    prune_at = keep_after(settings) if n_restarts > KEPT_RESTARTS else 0
    started = time.perf_counter()
    for epoch in range(1, (settings.epochs if convergence is None else settings.max_epochs) + 1):
        epoch_loss, at_start = 0, convergence and convergence.snapshot(params)
        lr = settings.lr * (convergence.lr_scale if convergence else 1.0)
        if still is not None and still[0] == lr:  # the last epoch moved no parameter at this rate: this one repeats it
            epoch_loss = still[1]
        else:
            for group in _batches(len(X), settings.batch_size, settings.accumulate, rng):
                for idx, weight, share in group:  # the group's mini-batch gradients add up before one update
                    loss = _backward(spec, settings, params, learned, X[idx], y[idx], weight, rng, by_hand)  # (n_restarts,)
                    if not torch.isfinite(loss).all():
                        raise TrainingError(
                            f"{spec.name}: the loss became {loss.max().item()} at epoch {epoch} with lr={settings.lr}; "
                            "training diverged, try a smaller learning rate (--lr, or --lr auto)"
                        )
                    epoch_loss = epoch_loss + loss * share  # the epoch's mean loss over its rows
                with torch.no_grad():
                    for name, p in learned.items():
                        p -= lr * _update(settings.optimizer, p.grad, states[name])
                        p.grad.zero_()
            unmoved = repeats and at_start and all(torch.equal(v, at_start[k]) for k, v in params.items())
            still = (lr, epoch_loss) if unmoved else None
        with torch.no_grad():
            if has_valid:
                valid_preds = forward(spec, params, X_valid)
                valid_loss = loss_fn(valid_preds, y_valid)
                valid_accuracy = accuracy(valid_preds, y_valid, spec.outputs > 1).tolist() if classify else None
                history.append(_widened((epoch_loss.tolist(), valid_loss.tolist(), valid_accuracy), survivors, n_restarts))
            else:
                history.append(_widened((epoch_loss.tolist(), None, None), survivors, n_restarts))
        if on_epoch is not None:
            on_epoch(epoch, params)
        if stopper is not None and stopper.step(epoch, valid_loss, params):
            break
        if convergence is not None and convergence.step(epoch, epoch_loss + _penalty(at_start, settings), at_start,
                                                        _promised(states)):
            break
        if epoch == prune_at:  # the best few restarts train on; the others stop where they are
            keep = convergence.loss.argsort()[:KEPT_RESTARTS].sort().values
            survivors, still = survivors[keep], None
            convergence.keep(keep)
            params = {k: v[keep].detach().clone() for k, v in params.items()}
            learned = {k: p if by_hand else p.requires_grad_() for k, p in params.items() if not is_buffer(k)}
            states = _kept_states(states, _states(spec, settings, X, y, learned), keep)
    if stopper is not None:
        stopper.restore(params)
    elif convergence is not None:
        convergence.restore(params)
    seconds = time.perf_counter() - started
    result = _result(spec, settings, params, history, X, y, X_valid, y_valid, seconds, classify, survivors)
    result.stop_reason, result.converged = _stop_reason(settings, history, stopper, convergence, result.restart)
    if stopper is not None:
        result.best_epoch = stopper.epoch[result.restart].item()
    return result


def _promised(states: dict[str, dict]) -> torch.Tensor | None:
    """What this epoch's newton steps promised to take off the objective on a convex loss (their one parameter's
    :func:`titanic_lab.optim.newton_promise`), else None: any other optimizer or loss."""
    promised = [state["promised"] for state in states.values() if "promised" in state]
    return promised[0] if len(promised) == len(states) == 1 else None


def _kept_states(states: dict[str, dict], fresh: dict[str, dict], restarts: torch.Tensor) -> dict[str, dict]:
    """``fresh``, the optimizer's states made for the parameters of the restarts kept (positions ``restarts``), given
    what ``states`` remembered of them: step counts, lbfgs's pairs, the nnet's curvatures. The kept restarts then
    step as they would have beside the others."""
    carried: set[int] = set()
    for name, state in fresh.items():
        old = states[name]
        if "t" in old:
            state["t"] = old["t"]
        for key in ("joint", "curvature"):  # one joint state is shared by every parameter: carried once
            if key in state and hasattr(state[key], "keep") and id(state[key]) not in carried:
                state[key].keep(old[key], restarts)
                carried.add(id(state[key]))
    return fresh


def _widened(row: tuple, survivors: torch.Tensor, n_restarts: int) -> tuple:
    """An epoch's per-restart lists (training loss, validation loss and accuracy) with a value for every
    restart: NaN for a restart that no longer trains (:data:`KEPT_RESTARTS`)."""
    if len(survivors) == n_restarts:
        return row
    wide = []
    for values in row:
        if values is not None:
            full = [math.nan] * n_restarts
            for r, value in zip(survivors.tolist(), values):
                full[r] = value
            values = full
        wide.append(values)
    return tuple(wide)


def _by_hand(spec: ModelSpec, settings: TrainSettings) -> bool:
    """Whether :func:`_backward` takes the gradients by hand: the lesson's models, full batch, not by an exact optimizer."""
    return not OPTIMIZERS[settings.optimizer].exact and refusal(
        spec, settings.loss, batch_size=settings.batch_size, accumulate=settings.accumulate, dropout=settings.dropout,
        l1=settings.l1, l2=settings.l2) is None


def _backward(spec, settings, params, learned, X, y, weight, rng, by_hand) -> torch.Tensor:
    """One batch's loss (n_restarts,), its gradient (times ``weight``) added to each learned parameter's ``.grad``.

    By autograd, ``loss.backward()``: restarts are independent, so the gradient of their sum is each
    restart's own. ``by_hand`` (:func:`_by_hand`): :func:`titanic_lab.exact_backward.loss_and_gradients`,
    the same bits, added to ``.grad`` as autograd adds them (the first taken as it is, then ``+=``); it takes
    the full batch only, whose ``weight`` is 1.
    """
    if not by_hand:
        loss = LOSSES[settings.loss](forward(spec, params, X, train=True, dropout=settings.dropout, generator=rng), y)
        ((loss + _penalty(learned, settings)) * weight).sum().backward()
        return loss.detach()
    with torch.no_grad():
        loss, grads = loss_and_gradients(spec, params, X, y, settings.loss)
        for name, p in learned.items():
            p.grad = grads[name].contiguous() if p.grad is None else p.grad.add_(grads[name])
    return loss


def _stop_reason(settings, history, stopper, convergence, restart) -> tuple[str, bool]:
    epochs_run = len(history)
    if convergence is not None and convergence.converged:
        return f"converged at epoch {epochs_run}", True
    if stopper is not None and epochs_run < (settings.epochs or settings.max_epochs):
        return f"early stopping at epoch {epochs_run}: kept epoch {stopper.epoch[restart].item()}", True
    if convergence is None:
        return f"ran the {settings.epochs} epochs asked for", False
    losses = [h[0][restart] if isinstance(h[0], list) else h[0] for h in history]
    window = min(settings.window, len(losses) - 1)
    before, now = min(losses[: len(losses) - window]), min(losses)
    fall = (before - now) / abs(before) if window > 0 and before else 0.0
    return (f"reached the cap of {settings.max_epochs:,} epochs without converging (its lowest loss still fell by "
            f"{fall:.1e} over the last {window} epochs, more than the rule's {settings.tol:g}); the sheet holds the best "
            f"epoch's parameters; train longer (--epochs {2 * settings.max_epochs}) for a converged result, or take "
            "this one"), False


def _result(spec, settings, params, history, X, y, X_valid, y_valid, seconds, classify, survivors) -> TrainResult:
    """The kept restart's result; ``params`` are those of the restarts ``survivors`` (their numbers), the history
    every restart's."""
    dtype = DTYPES[settings.dtype]
    with torch.no_grad():
        preds = forward(spec, params, X)  # (n_survivors, n_rows)
        final = LOSSES[settings.loss](preds, y)  # (n_survivors,)
        if not torch.isfinite(final).all():
            raise TrainingError(f"{spec.name}: the final loss is not finite; try a smaller learning rate (--lr)")
        at = int(final.argmin())
        kept = {k: v[at].detach().clone() for k, v in params.items()}
        train_preds = preds[at]
        best = int(survivors[at])
        restart_losses = final.tolist()
        if history and len(history[0][0]) > len(restart_losses):  # restarts that stopped early: their last epoch's loss
            restart_losses = [next(h[0][r] for h in reversed(history) if not math.isnan(h[0][r])) for r in range(len(history[0][0]))]
            for r, loss in zip(survivors.tolist(), final.tolist()):
                restart_losses[r] = loss
        valid_loss = valid_acc = None
        if X_valid is not None and len(X_valid) > 0:
            vp = forward(spec, kept, X_valid.to(dtype))
            valid_loss = LOSSES[settings.loss](vp, y_valid.to(dtype)).item()
            valid_acc = accuracy(vp, y_valid.to(dtype), spec.outputs > 1).item() if classify else None
    rows = [
        {
            "epoch": i,
            "train_loss": tl[best],
            "valid_loss": None if vl is None else vl[best],
            "valid_accuracy": None if va is None else va[best],
        }
        for i, (tl, vl, va) in enumerate(history, start=1)
    ]
    return TrainResult(
        spec=spec,
        settings=settings,
        params=kept,
        history=rows,
        train_loss=final[at].item(),
        valid_loss=valid_loss,
        valid_accuracy=valid_acc,
        train_accuracy=accuracy(train_preds, y, spec.outputs > 1).item() if classify else None,
        restart=best,
        restart_losses=restart_losses,
        seconds=seconds,
    )


def _initial(spec: ModelSpec, settings: TrainSettings, n_features: int, dtype, init: Params | None) -> Params:
    """The starting parameters, restarts side by side: each with a leading (n_restarts,) dimension."""
    starts = [_start(spec, settings, n_features, r, dtype, init) for r in range(1 if init is not None else settings.restarts)]
    return {k: torch.stack([s[k] for s in starts]) for k in starts[0]}


def _start(spec: ModelSpec, settings: TrainSettings, n_features: int, restart: int, dtype, init: Params | None) -> Params:
    if init is None:
        return init_params(spec, n_features, torch.Generator().manual_seed(settings.seed + restart), dtype)
    start = {k: v.detach().to(dtype) for k, v in init.items()}
    missing = sorted(set(init_params(spec, n_features, torch.Generator(), dtype)) - set(start))
    if missing:
        raise OptionError(f"{spec.name}: the starting parameters lack {', '.join(missing)}")
    return start


def _batches(n_rows: int, batch_size: int | None, accumulate: int, rng: torch.Generator) -> list[list[tuple]]:
    """Update groups, each a list of (row indices, weight in the group, share of the epoch's rows).

    Full batch (the default) is one group of every row, in order. Otherwise the rows are
    shuffled each epoch and cut into mini-batches, ``accumulate`` of them per update.
    """
    if batch_size is None:
        return [[(slice(None), 1.0, 1.0)]]
    chunks = list(torch.randperm(n_rows, generator=rng).split(batch_size))
    groups = [chunks[i : i + accumulate] for i in range(0, len(chunks), accumulate)]
    return [[(idx, len(idx) / sum(len(c) for c in group), len(idx) / n_rows) for idx in group] for group in groups]


#: The convergence rule's tolerance for models with hidden layers on any table (``--target``): a plateau
#: is an improvement under 1e-6 relative over the window, not 1e-12. Measured with the default nnet (16
#: restarts) on 80% of each table (benchmarks/notes.md): penguins_sex 3,719 -> 2,427 epochs, diabetes
#: 10,000 (the cap) -> 7,500, the training loss within 1e-5 relative of 1e-12's and the validation
#: metric unchanged to 4 digits; breast_cancer ran to the cap either way. Titanic's lesson runs keep
#: 1e-12 (their figures are the lesson's).
TABLE_TOL = 1e-6


#: The nnet takes ``newton`` on a table up to this many weights (features x units). A step's Hessian
#: and its pseudo-inverse cost about ``2 n P^2 + 100 P^3`` per restart, Adam's epoch ``3 n P``: with
#: Newton's ~50 steps against Adam's thousands of epochs (benchmarks/nnet_fit.md) Newton is the
#: cheaper below about 125 weights; 100 keeps a margin. Above it the nnet takes ``lbfgs``, whose step
#: costs about an Adam epoch and a forward pass: on a 60-feature table (122 weights, 16 restarts) it
#: converged in 136 steps against Adam's 2,292 epochs, its training loss lower (benchmarks/lbfgs_fit.md).
NEWTON_UNITS_WEIGHTS = 100
#: How many restarts an exact optimizer trains to the end: after :data:`KEEP_AFTER` steps the restarts with
#: the lowest objective so far go on, each as it would beside the others (:func:`_kept_states`), and the others
#: stop. Against every restart trained to the end (benchmarks/restarts.md): newton kept the same restart at the
#: same loss on 12 of 13 real tables and the 5,000 x 20 table (seattle_weather another, the same loss to 6 digits);
#: lbfgs on four of five synthetic tables of 77 to 135 features, the fifth's loss 2.3% higher. The nnet's fit
#: took 0.88 -> 0.55 s on the 5,000 x 20 table, 1.76-3.99 -> 0.85-1.59 s on the wide ones.
KEPT_RESTARTS = 4
#: The step after which :data:`KEPT_RESTARTS` restarts go on, per optimizer (another trains every restart).
KEEP_AFTER = {"newton": 20, "lbfgs": 50}


def keep_after(settings: TrainSettings) -> int:
    """The step after which only :data:`KEPT_RESTARTS` restarts train on (0: never): an exact optimizer's under the
    convergence rule (not ``--epochs N``, not early stopping)."""
    if settings.epochs is not None or settings.patience is not None or settings.restarts <= KEPT_RESTARTS:
        return 0
    return KEEP_AFTER.get(settings.optimizer, 0)


def restart_epochs(settings: TrainSettings, epochs: int) -> int:
    """How many restart-epochs (one restart's epoch each) ``epochs`` epochs of ``settings`` train (:func:`keep_after`)."""
    after = keep_after(settings)
    if not after or epochs <= after:
        return epochs * settings.restarts
    return after * settings.restarts + (epochs - after) * KEPT_RESTARTS


#: The nnet's cap of Newton steps: it converged in 42 to 65 steps on ten real tables.
NEWTON_MAX_EPOCHS = 300
#: The cap of lbfgs's steps for a model with hidden layers. ``hidden`` on iris converged in 250 steps at
#: weight decay 1e-2 and ended 0.2% above Adam's objective at 1e-3; on a 5,000-row table 300 steps end
#: 0.3 to 1.0% above it, in a fifth of Adam's time (benchmarks/lbfgs_fit.md). Without decay a separable
#: table's loss falls towards 0 for ever.
LBFGS_MAX_EPOCHS = 300


def table_choices(spec: ModelSpec, optimizer: str | None, loss: str | None, l1: float = 0.0,
                  batch_size: int | None = None, accumulate: int = 1, dropout: float = 0.0,
                  n_features: int | None = None) -> tuple[str | None, str | None]:
    """The optimizer and loss a model trains with on any table (``--target``) when none is given.

    The tabled defaults were tuned on Titanic's presets; on a table whose features titanic-lab
    inferred, a model linear in its parameters takes ``newton`` (the least-squares solution,
    however ill-conditioned the features), and a sigmoid output Adam on the log loss
    (``bce``, convex for ``sigmoid``: the notebook's SGD on the absolute error at lr 100 can
    stall at predicting the majority class). A multiclass model trains on categorical
    cross-entropy (``ce``): ``linear`` (multinomial logistic regression, convex) with ``newton``,
    its curvature computed again at every step, and ``hidden``/``deep`` with ``lbfgs`` (Adam where
    :func:`lbfgs_refusal` refuses it: dropout, batch norm, mini-batches). The nnet takes ``newton``
    too (its Hessian computed again at every step) when its weights, ``n_features`` (None: not yet
    known) times its units, are at most :data:`NEWTON_UNITS_WEIGHTS`, and ``lbfgs`` above (a Newton
    step's Hessian grows as the weights squared). Anything given is kept.
    """
    if spec.outputs > 1:
        if optimizer is None:
            optimizer = "newton" if not newton_refusal(spec, "ce", l1, batch_size, accumulate) else (
                "adam" if lbfgs_refusal(spec, "ce", l1, batch_size, accumulate, dropout) else "lbfgs")
        return optimizer, loss or "ce"
    if optimizer is not None or loss is not None:  # a sigmoid output keeps its log loss whatever optimizer is asked for
        return optimizer, loss or ("bce" if spec.has_sigmoid else None)
    wide = spec.has_hidden and n_features is not None and n_features * sum(hidden_sizes(spec)) > NEWTON_UNITS_WEIGHTS
    if not newton_refusal(spec, loss, l1, batch_size, accumulate, dropout):
        return ("lbfgs" if wide else "newton"), None
    if spec.has_sigmoid:  # logistic regression (sigmoid) by newton, as the softmax's; hidden layers by adam
        return "adam" if newton_refusal(spec, "bce", l1, batch_size, accumulate) else "newton", "bce"
    return None, None


def newton_refusal(spec: ModelSpec, loss: str | None, l1: float = 0.0, batch_size: int | None = None, accumulate: int = 1,
                   dropout: float = 0.0) -> str | None:
    """Why ``newton`` cannot train ``spec`` this way, or None when it can: its loss must be a
    quadratic of its parameters (the squared error of a model linear in them, the full batch),
    or the cross-entropy of a softmax or a sigmoid of them (logistic regression, whose curvature
    :func:`softmax_curvature` or :func:`sigmoid_curvature` computes at every step)."""
    if spec.head.name in ("softmax", "sigmoid") and not spec.has_hidden and len(spec.chain) == 1:
        own = "ce" if spec.head.name == "softmax" else "bce"
        if loss not in (own, None if own == "ce" else own) or l1 or batch_size is not None or accumulate != 1:
            return f"it needs --loss {own}, no --l1 and the full batch (no --batch-size, --accumulate)"
        return None
    if _relu_units(spec):
        if loss not in (None, "mse") or l1 or dropout or batch_size is not None or accumulate != 1:
            return ("it needs --loss mse, no --l1, no --dropout and the full batch (no --batch-size, --accumulate): only then "
                    "is the nnet's squared error a quadratic between its ReLUs' kinks")
        return None
    if spec.head.name != "identity" or spec.has_hidden or len(spec.chain) != 1:
        return f"{spec.name}'s loss is not a quadratic of its parameters, so its curvature changes at every step; use adam"
    if loss not in (None, "mse") or l1 or batch_size is not None or accumulate != 1:
        return "it needs --loss mse, no --l1 and the full batch (no --batch-size, --accumulate): only then is the curvature the same at every step"
    return None


def _relu_units(spec: ModelSpec) -> bool:
    """The nnet's design: one layer of ReLU units without batch norm, summed (:func:`relu_units_curvature`)."""
    return spec.head.name == "sum" and spec.activation == "relu" and not spec.batchnorm and len(spec.chain) == 1


def _states(spec: ModelSpec, settings: TrainSettings, X: torch.Tensor, y: torch.Tensor, learned: Params) -> dict[str, dict]:
    """Every learned parameter's optimizer state as the optimizer's record starts it.

    An exact optimizer (``newton``) takes the loss's Hessian once, at restart 0's parameters,
    where a loss quadratic in the parameters has one Hessian everywhere (the squared error, plus
    the l2 penalty, of a model linear in its one parameter tensor, over the full batch); for a
    softmax's or a sigmoid's cross-entropy it takes :func:`softmax_curvature` (:func:`sigmoid_curvature`)
    anew at every step, each step halved until it does not raise the objective (:func:`_backtrack`), and
    for the nnet's squared error :func:`relu_units_curvature` (its pseudo-inverse kept per restart while
    the restart's ReLU pattern stays, :class:`_UnitsInverse`), each step shortened by :func:`_line_search`.
    ``lbfgs`` shares one :class:`_QuasiNewton` between every parameter.

    Raises
    ------
    OptionError
        For an exact optimizer and any other model, loss or batching.
    """
    optimizer = OPTIMIZERS[settings.optimizer]
    if optimizer.name == "lbfgs":
        why = lbfgs_refusal(spec, settings.loss, settings.l1, settings.batch_size, settings.accumulate, settings.dropout)
        if why:
            raise OptionError(f"--optimizer lbfgs: {why}")
        joint = _QuasiNewton(spec, settings, X, y, learned)
        return {name: {"joint": joint, "name": name} for name in learned}
    if optimizer.exact:
        why = newton_refusal(spec, settings.loss, settings.l1, settings.batch_size, settings.accumulate, settings.dropout)
        if why:
            raise OptionError(f"--optimizer {optimizer.name}: {why}")
        if spec.has_hidden:  # the curvature changes with the parameters: the update takes it anew at every step
            ((name, p),) = learned.items()
            # a step may cross the ReLUs' kinks, past the quadratic it was the minimum of
            return {name: {"curvature": _UnitsInverse(X, p.detach(), settings.l2),
                           "search": lambda direction: _line_search(spec, settings, X, y, name, p.detach(), direction)}}
        curvature = {"softmax": softmax_curvature, "sigmoid": sigmoid_curvature}.get(spec.head.name)
        if curvature is not None:
            ((name, p),) = learned.items()
            # far from its optimum a cross-entropy's full Newton step can overshoot (weak l2, nearly separable classes)
            return {name: {"curvature": lambda: torch.linalg.pinv(curvature(X, p.detach(), settings.l2), hermitian=True),
                           "search": lambda direction: _backtrack(spec, settings, X, y, name, p.detach(), direction),
                           "convex": True}}

    def loss_at(name: str, v: torch.Tensor) -> torch.Tensor:
        return LOSSES[settings.loss](forward(spec, {name: v}, X), y) + settings.l2 / 2 * v.pow(2).sum()

    return optimizer.init(learned, loss_at)


def lbfgs_refusal(spec: ModelSpec, loss: str | None, l1: float = 0.0, batch_size: int | None = None, accumulate: int = 1,
                  dropout: float = 0.0) -> str | None:
    """Why ``lbfgs`` cannot train ``spec`` this way, or None when it can: its line search compares the
    objective of the full batch at several points of a step, so the objective must be the same function
    at each (no dropout, no batch norm, whose running statistics would move at every point tried, the
    full batch) and smooth enough for its curvature estimate (no ``--l1``, no ``mae``)."""
    if spec.batchnorm or dropout or batch_size is not None or accumulate != 1 or l1 or loss == "mae":
        return ("it needs the full batch (no --batch-size, --accumulate), no --dropout, no --batchnorm, no --l1 and a smooth "
                "loss (not mae): its line search compares one objective at several points of each step")
    return None


def exact_refusal(optimizer: str, spec: ModelSpec, loss: str | None, l1: float = 0.0, batch_size: int | None = None,
                  accumulate: int = 1, dropout: float = 0.0) -> str | None:
    """Why the exact optimizer ``optimizer`` (``newton`` or ``lbfgs``) cannot train ``spec`` this way, or None."""
    refusal = lbfgs_refusal if optimizer == "lbfgs" else newton_refusal
    return refusal(spec, loss, l1, batch_size, accumulate, dropout)


#: Armijo's sufficient decrease in lbfgs's line search: a share of the step is taken when the objective
#: falls by at least this fraction of the fall its gradient promises (Nocedal and Wright's 1e-4).
ARMIJO = 1e-4


class _QuasiNewton:
    """L-BFGS (:func:`titanic_lab.optim.two_loop`) over every learned tensor of a model, restarts side by side.

    The loop asks each parameter for its step in turn; at step ``t`` the first to ask computes the step
    of them all from their positions and gradients (of the data loss plus the penalty, from the loop's
    ``backward``), and each takes its part. The line search tries the shares of :data:`STEP_SHARES`,
    the largest first, and takes the first whose objective falls by Armijo's sufficient decrease
    (:data:`ARMIJO`); a restart where none does stays where it is (share 0), so no step raises a
    restart's objective, and forgets its pairs (its next step follows the gradient).
    """

    def __init__(self, spec: ModelSpec, settings: TrainSettings, X: torch.Tensor, y: torch.Tensor, learned: Params) -> None:
        self.spec, self.settings, self.X, self.y, self.learned = spec, settings, X, y, learned
        self.t, self.parts, self.pairs, self.previous, self.reached = 0, {}, [], None, None

    def direction(self, name: str, t: int) -> torch.Tensor:
        if t != self.t:
            self.t, self.parts = t, self._step()
        return self.parts[name]

    def keep(self, old: _QuasiNewton, restarts: torch.Tensor) -> None:
        """Take ``old``'s memory of the restarts at positions ``restarts`` (this one trains only those)."""
        self.t, self.parts = old.t, {}
        self.pairs = [(s[restarts], change[restarts], rho[restarts]) for s, change, rho in old.pairs]
        self.previous = None if old.previous is None else tuple(v[restarts] for v in old.previous)
        self.reached = None if old.reached is None else tuple(v[restarts] for v in old.reached)

    def _objective(self, x: torch.Tensor) -> torch.Tensor:
        params = self._unflat(x)
        return LOSSES[self.settings.loss](forward(self.spec, params, self.X), self.y) + _penalty(params, self.settings)

    def _unflat(self, x: torch.Tensor) -> Params:
        sizes = [p[0].numel() for p in self.learned.values()]
        return {name: part.reshape(p.shape) for (name, p), part in zip(self.learned.items(), x.split(sizes, -1))}

    def _step(self) -> Params:
        x = torch.cat([p.detach().reshape(p.shape[0], -1) for p in self.learned.values()], -1)  # (n_restarts, n)
        g = torch.cat([p.grad.reshape(p.shape[0], -1) for p in self.learned.values()], -1)
        if self.previous is not None:
            s, change = x - self.previous[0], g - self.previous[1]
            sy = (s * change).sum(-1, keepdim=True)
            positive = sy > 1e-10 * s.norm(dim=-1, keepdim=True) * change.norm(dim=-1, keepdim=True)
            self.pairs = [*self.pairs, (s, change, torch.where(positive, 1 / sy.where(positive, 1.0), 0.0))][-LBFGS_MEMORY:]
        d = two_loop(g, self.pairs)
        slope = (g * d).sum(-1)  # how fast the objective falls along -d
        descent = (slope > 0)[:, None]
        d = d.where(descent, g * (1 / g.abs().sum(-1, keepdim=True)).clamp(max=1.0))
        slope = (g * d).sum(-1)
        start = self.reached[1] if self.reached is not None and torch.equal(self.reached[0], x) else self._objective(x)
        share, searching = torch.zeros_like(slope), torch.ones_like(slope, dtype=torch.bool)
        reached = start.clone()
        for a in STEP_SHARES[:-1]:
            objective = self._objective(x - a * d)
            taken = searching & (objective <= start - ARMIJO * a * slope)
            share, searching = torch.where(taken, a, share), searching & ~taken
            reached = torch.where(taken, objective, reached)
            if not searching.any():
                break
        moved = (share > 0)[:, None]
        self.pairs = [(s, change, rho.where(moved, 0.0)) for s, change, rho in self.pairs]
        self.previous, step = (x, g), d * share[:, None]
        self.reached = (x - step, reached)  # where a step at lr 1 lands, and its objective: the next step's start
        return self._unflat(step)


def softmax_curvature(X: torch.Tensor, W: torch.Tensor, l2: float = 0.0) -> torch.Tensor:
    """The Hessian of the mean cross-entropy of ``softmax(X @ W)`` (plus ``l2 / 2 * sum W^2``) in ``W``.

    Entry ((f, k), (g, l)) is ``mean over rows of x_f x_g (p_k [k = l] - p_k p_l)``, for each
    restart's W (n_features, n_classes), flattened as ``W.reshape(-1)``. Returns
    (n_restarts, n_features * n_classes, n_features * n_classes). Checked against autograd's
    Hessian in tests/test_multiclass.py.
    """
    n, F = X.shape
    probs = softmax(X @ W)  # (R, n, K)
    K = probs.shape[-1]
    weighted = (X[:, :, None] * probs[:, :, None, :]).reshape(-1, n, F * K)  # x_f p_k, (R, n, F*K)
    H = -(weighted.mT @ weighted)  # (R, F*K, F*K)
    blocks = (probs.mT[..., None] * X).mT @ X  # per class k, X^T diag(p_k) X: (R, K, F, F)
    torch.diagonal(H.view(-1, F, K, F, K), dim1=2, dim2=4).add_(blocks.permute(0, 2, 3, 1))  # on k = l
    return H / n + l2 * torch.eye(F * K, dtype=X.dtype)


def _objective(spec: ModelSpec, settings: TrainSettings, X: torch.Tensor, y: torch.Tensor, name: str,
               v: torch.Tensor) -> torch.Tensor:
    """What a Newton step's search lowers, per restart (n_restarts,): the data loss of ``spec`` with its one
    parameter tensor ``name`` at ``v`` (n_restarts, ...), plus ``l2 / 2 * sum v^2``."""
    return LOSSES[settings.loss](forward(spec, {name: v}, X), y) + settings.l2 / 2 * v.pow(2).flatten(1).sum(-1)


#: The share of the rows above which a restart's curvature is computed again rather than updated by the rows
#: whose units' pattern changed (:class:`_UnitsInverse`).
UPDATED_ROWS = 0.25
#: The shares of a Newton step the nnet's line search tries (:func:`_line_search`).
STEP_SHARES = (1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0)
#: The units' values (shares x restarts x rows x units) :func:`_line_search` computes at once: 32 MB in float64.
SEARCH_VALUES = 1 << 22


def _line_search(spec: ModelSpec, settings: TrainSettings, X: torch.Tensor, y: torch.Tensor, name: str, p: torch.Tensor,
                 direction: torch.Tensor) -> torch.Tensor:
    """``direction`` (n_restarts, ...) times, per restart, the share of :data:`STEP_SHARES` whose step
    ``p - share * direction`` has the lowest objective (the data loss plus the l2 penalty), the first of
    equals: at lr 1 no step raises a restart's objective (share 0 stays where it is).

    The nnet's units' inputs are linear in its weights, ``X @ (p - share * direction) = X @ p - share *
    (X @ direction)``: two products, then every share's objective at once (the units, their sum, the loss).
    """
    shares = torch.tensor(STEP_SHARES, dtype=p.dtype)
    pre, along = restarts_matmul(X, p), restarts_matmul(X, direction)  # (n_restarts, n_rows, n_units)

    def objective(group: torch.Tensor) -> torch.Tensor:  # (len(group), n_restarts)
        units = ACTIVATIONS[spec.activation](pre - group[:, None, None, None] * along)
        steps = p - group.view(-1, *[1] * p.dim()) * direction
        return LOSSES[settings.loss](spec.head(units).squeeze(-1), y) + settings.l2 / 2 * steps.pow(2).flatten(2).sum(-1)

    size = max(1, SEARCH_VALUES // pre.numel())  # shares side by side, within SEARCH_VALUES units' values
    objectives = torch.cat([objective(shares[i:i + size]) for i in range(0, len(shares), size)])
    chosen = shares[objectives.nan_to_num(nan=math.inf, posinf=math.inf, neginf=-math.inf).argmin(0)]  # the first lowest; NaN never
    chosen = chosen.where(objectives.isfinite().any(0), 0.0)  # no finite objective: stay
    return direction * chosen.view(-1, *([1] * (direction.dim() - 1)))


#: The shares of a Newton step :func:`_backtrack` tries, halving (as :func:`titanic_lab.penalty.logistic_fit`).
HALVINGS = tuple(0.5**k for k in range(34))


def _backtrack(spec: ModelSpec, settings: TrainSettings, X: torch.Tensor, y: torch.Tensor, name: str, p: torch.Tensor,
               direction: torch.Tensor) -> torch.Tensor:
    """``direction`` (n_restarts, ...) times, per restart, the first share of :data:`HALVINGS` (1, 1/2, 1/4...)
    whose step ``p - share * direction`` does not raise the objective (the data loss plus the l2 penalty),
    0 when none: damped Newton, which takes the full step wherever that step descends."""
    start = _objective(spec, settings, X, y, name, p)
    chosen = torch.zeros(p.shape[0], dtype=p.dtype)
    searching = torch.ones(p.shape[0], dtype=torch.bool)
    for share in HALVINGS:
        taken = searching & (_objective(spec, settings, X, y, name, p - share * direction) <= start)
        chosen, searching = torch.where(taken, share, chosen), searching & ~taken
        if not searching.any():
            break
    return direction * chosen.view(-1, *([1] * (direction.dim() - 1)))


def relu_units_curvature(X: torch.Tensor, W: torch.Tensor, l2: float = 0.0) -> torch.Tensor:
    """The Hessian of the mean squared error of the nnet's ``relu(X @ W).sum(-1)`` (plus ``l2 / 2 * sum W^2``) in ``W``.

    Between the kinks of its ReLUs the nnet is linear in ``W`` (unit k's output is ``x . w_k`` where
    positive, else 0), so its squared error is a quadratic there and the Hessian is
    ``2 / n * J^T J`` with ``J[i, (f, k)] = x_if [x_i . w_k > 0]``: the Gauss-Newton matrix, exact
    (ReLU's second derivative is 0). For each restart's W (n_features, n_units), flattened as
    ``W.reshape(-1)``. Returns (n_restarts, n_features * n_units, n_features * n_units). Checked
    against autograd's Hessian in tests/test_nnet_newton.py.
    """
    return _curvature(_gauss_newton(X, restarts_matmul(X, W) > 0), len(X), l2)


def _gauss_newton(X: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    """``J^T J`` (n_restarts, F * K, F * K) over the rows of ``X`` (n_rows, F), ``J[i, (f, k)] = x_if a_ik`` for the units'
    pattern ``active`` (n_restarts, n_rows, K), ``X @ W > 0``: the Hessian depends on W through that pattern alone."""
    n, F = X.shape
    J = (X[:, :, None] * active.to(X.dtype)[:, :, None, :]).reshape(-1, n, F * active.shape[-1])  # (R, n, F*K)
    return J.mT @ J


def _curvature(gauss_newton: torch.Tensor, n_rows: int, l2: float) -> torch.Tensor:
    """:func:`relu_units_curvature` from ``J^T J`` over ``n_rows`` rows (:func:`_gauss_newton`)."""
    return 2 / n_rows * gauss_newton + l2 * torch.eye(gauss_newton.shape[-1], dtype=gauss_newton.dtype)


class _UnitsInverse:
    """The pseudo-inverse of :func:`relu_units_curvature` at each restart's current W, for the nnet's Newton steps.

    The curvature depends on W only through the units' pattern (which rows each unit is active on,
    ``X @ W > 0``). A call computes the pattern, and the curvature and its pseudo-inverse only for the
    restarts whose pattern changed since the last call; the others keep theirs. Late in training most
    restarts stay between the same kinks from step to step, and one that crosses a kink does so on a few
    rows: its ``J^T J`` is updated by those rows alone (their new ``j j^T`` added, their old taken away),
    unless more than :data:`UPDATED_ROWS` of the rows changed, or in float32, when it is computed again.

    Parameters
    ----------
    X : Tensor, shape (n_rows, n_features)
    W : Tensor, shape (n_restarts, n_features, n_units)
        The weights being trained, read at every call (updated in place between calls).
    l2 : float
    """

    def __init__(self, X: torch.Tensor, W: torch.Tensor, l2: float) -> None:
        self.X, self.W, self.l2 = X, W, l2
        self.active: torch.Tensor | None = None
        self.gauss_newton: torch.Tensor | None = None
        self.inverse: torch.Tensor | None = None

    def keep(self, old: _UnitsInverse, restarts: torch.Tensor) -> None:
        """Take ``old``'s patterns, curvatures and inverses of the restarts at positions ``restarts``."""
        if old.active is not None:
            self.active, self.gauss_newton, self.inverse = old.active[restarts], old.gauss_newton[restarts], old.inverse[restarts]

    def __call__(self) -> torch.Tensor:
        """Every restart's pseudo-inverse, (n_restarts, n_features * n_units, n_features * n_units)."""
        X, n = self.X, len(self.X)
        active = restarts_matmul(X, self.W) > 0
        if self.active is None:
            self.gauss_newton = _gauss_newton(X, active)
            changed = torch.ones(len(active), dtype=torch.bool)
        else:
            rows = (active != self.active).any(-1)  # (n_restarts, n_rows): the rows whose pattern changed
            counts = rows.sum(-1)
            changed = counts > 0
            # float32 sums drift as a float64 one does not (a few ulps per update): computed again at every change
            again = changed & ((counts > UPDATED_ROWS * n) | (X.dtype != torch.float64))
            if again.any():
                self.gauss_newton[again] = _gauss_newton(X, active[again])
            F, K = X.shape[1], active.shape[-1]
            for r in (changed & ~again).nonzero().flatten().tolist():
                at = rows[r].nonzero().flatten()
                self.gauss_newton[r] += (_gauss_newton(X[at], active[r, at].unsqueeze(0))
                                         - _gauss_newton(X[at], self.active[r, at].unsqueeze(0)))[0]
                # Two units active on no row together (a unit active on none) have a block of exact zeros, not
                # what the updates' rounding left: its pseudo-inverse would be huge where the curvature is 0.
                a = active[r].to(X.dtype)
                apart = (a.T @ a) == 0  # (K, K): units k and l share no active row
                if apart.any():
                    self.gauss_newton[r].view(F, K, F, K).permute(1, 3, 0, 2)[apart] = 0.0
        if changed.any():
            fresh = torch.linalg.pinv(_curvature(self.gauss_newton[changed], n, self.l2), hermitian=True)
            self.inverse = fresh if self.inverse is None else self.inverse.index_put((changed,), fresh)
        self.active = active
        return self.inverse


def sigmoid_curvature(X: torch.Tensor, w: torch.Tensor, l2: float = 0.0) -> torch.Tensor:
    """The Hessian of the mean log loss of ``sigmoid(X @ w)`` (plus ``l2 / 2 * sum w^2``) in ``w``:
    ``X.T @ diag(p (1 - p)) @ X / n + l2 I``, for each restart's w (n_restarts, n_features)."""
    p = torch.sigmoid(w @ X.T)  # (R, n)
    return torch.einsum("rn,nf,ng->rfg", p * (1 - p), X, X) / X.shape[0] + l2 * torch.eye(X.shape[1], dtype=X.dtype)


def _penalty(params: Params, settings: TrainSettings) -> torch.Tensor | float:
    """``l1 * sum|p| + l2 / 2 * sum p^2`` over the learned parameters, per restart, (n_restarts,)."""
    if not settings.l1 and not settings.l2:
        return 0.0
    total = 0.0
    for name, p in params.items():
        if is_buffer(name):
            continue
        flat = p.reshape(p.shape[0], -1)  # (n_restarts, n_values)
        total = total + settings.l1 * flat.abs().sum(-1) + settings.l2 / 2 * (flat**2).sum(-1)
    return total


class _Best:
    """Per restart: the lowest loss so far, its epoch and a copy of its parameters."""

    def keep(self, restarts: torch.Tensor) -> None:
        """Go on with the restarts at positions ``restarts`` only."""
        self.loss, self.epoch = self.loss[restarts], self.epoch[restarts]
        self.params = {k: v[restarts] for k, v in self.params.items()}

    def __init__(self, params: Params) -> None:
        n = next(iter(params.values())).shape[0]
        self.loss = torch.full((n,), math.inf, dtype=torch.float64)
        self.epoch = torch.zeros(n, dtype=torch.long)
        self.params = {k: v.detach().clone() for k, v in params.items()}

    def step(self, epoch: int, loss: torch.Tensor, params: Params) -> None:
        """Keep ``params`` for the restarts whose ``loss`` (n_restarts,) is their lowest yet."""
        loss = loss.detach().to(torch.float64)
        improved = loss < self.loss
        if not improved.any():
            return
        if improved.all():  # every restart: no selection to make
            self.loss, self.epoch = loss, torch.full_like(self.epoch, epoch)
            self.params = {k: v.detach().clone() for k, v in params.items()}
            return
        self.loss = torch.where(improved, loss, self.loss)
        self.epoch = torch.where(improved, torch.tensor(epoch), self.epoch)
        for k, v in params.items():
            mask = improved.view(-1, *([1] * (v.dim() - 1)))
            self.params[k] = torch.where(mask, v.detach(), self.params[k])

    def restore(self, params: Params) -> None:
        with torch.no_grad():
            for k, v in params.items():
                v.copy_(self.params[k])


class _EarlyStopping(_Best):
    """Stop when every restart has waited ``patience`` epochs for a better validation loss."""

    def __init__(self, patience: int, params: Params) -> None:
        super().__init__(params)
        self.patience = patience

    def step(self, epoch: int, valid_loss: torch.Tensor, params: Params) -> bool:
        """Record this epoch; True when every restart has waited ``patience`` epochs in vain."""
        super().step(epoch, valid_loss, params)
        return bool((epoch - self.epoch >= self.patience).all())


class _Convergence(_Best):
    """The convergence rule (:data:`CONVERGENCE_RULE`) on the training objective, kept per restart.

    The loss of an epoch is that of the parameters it started from (exactly so in full batch),
    so :meth:`snapshot` copies them before the epoch's updates.
    """

    def __init__(self, settings: TrainSettings, params: Params) -> None:
        super().__init__(params)
        self.window, self.tol = settings.window, settings.tol
        # (newton at a rate above 1 overshoots the step it searches: its drops stay)
        self.drops = 0 if settings.optimizer in NO_LR_DROPS and settings.lr <= 1 else LR_DROPS
        self.lowest: list[float] = []  # per epoch, the lowest objective of any restart so far
        self.plateaus, self.since = 0, 0  # plateaus met, and the epoch of the last one
        self.converged = False

    @property
    def lr_scale(self) -> float:
        """What the learning rate is multiplied by now: 1, then 0.1 and 0.01 after plateaus."""
        return 0.1 ** min(self.plateaus, self.drops)

    @staticmethod
    def snapshot(params: Params) -> Params:
        return {k: v.detach().clone() for k, v in params.items()}

    def step(self, epoch: int, objective: torch.Tensor, params: Params, promised: torch.Tensor | None = None) -> bool:
        """Record an epoch's objective (n_restarts,) and the parameters it belongs to; True once converged.
        ``promised`` (n_restarts,) is what a convex newton's full step from those parameters promised to take off
        the objective (:func:`titanic_lab.optim.newton_promise`): at most :data:`NEWTON_PROMISE` of it on every
        restart, the parameters are at the minimum to about 1e-10 (relative), and training stops there."""
        super().step(epoch, objective, params)
        self.lowest.append(self.loss.min().item())
        if epoch - self.since > self.window:
            before, now = self.lowest[-1 - self.window], self.lowest[-1]
            if before - now <= self.tol * abs(now):
                self.plateaus, self.since = self.plateaus + 1, epoch
        optimal = promised is not None and bool((promised <= NEWTON_PROMISE * objective.detach().abs()).all())
        self.converged = self.plateaus > self.drops or optimal
        return self.converged


def gradients(spec: ModelSpec, params: Params, X: torch.Tensor, y: torch.Tensor, loss: str = "mse") -> Params:
    """The gradient of the loss at ``params``, from ``loss.backward()``: what a step follows.

    Returns
    -------
    dict of Tensor
        One gradient per learned parameter, its shape.
    """
    leaves = {k: v.detach().clone().requires_grad_(not is_buffer(k)) for k, v in params.items()}
    LOSSES[loss](forward(spec, leaves, X), y).backward()
    return {k: v.grad for k, v in leaves.items() if not is_buffer(k)}


def split_indices(n_rows: int, valid_pct: float, seed: int = 42) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded random split, as fastai's ``RandomSplitter(valid_pct, seed)`` makes it.

    ``torch.manual_seed(seed)``; ``perm = torch.randperm(n_rows)``; the first
    ``int(valid_pct * n_rows)`` indices are validation, the rest training.

    Returns
    -------
    (train_idx, valid_idx) : tuple of Tensor
    """
    if not 0 <= valid_pct < 1:
        raise OptionError(f"valid-pct must be in [0, 1), got {valid_pct}")
    perm = torch.randperm(n_rows, generator=torch.Generator().manual_seed(seed))
    cut = int(valid_pct * n_rows)
    return perm[cut:], perm[:cut]


#: The nnet's weight decays (``l2``) tried by :func:`choose_decay`, none first.
DECAYS = (0.0, 1e-4, 1e-3, 1e-2, 1e-1)
#: The share of the training rows :func:`choose_decay` holds out to choose the decay on.
DECAY_HOLDOUT = 0.2
#: On lbfgs's path of decays, each after the first continues from the last one's weights for at most
#: this many steps, to rank the decays; the chosen one then trains on. On benchmarks/lbfgs_fit.py's
#: 5,000-row classes5k the validation accuracy after 100 steps was within 0.1 point of that after
#: 1,000 (decays 0 and 1e-3; one run, not in its tables).
DECAY_PATH_STEPS = 100


def choose_decay(result: TrainResult, X: torch.Tensor, y: torch.Tensor, X_valid: torch.Tensor, y_valid: torch.Tensor,
                 metrics: Callable[[TrainResult, torch.Tensor, torch.Tensor], dict[str, float]], task: str) -> TrainResult:
    """The nnet's weight decay chosen among :data:`DECAYS` on rows held out of its training rows.

    The run's validation rows stay out of the choice: they choose between models afterwards, and a
    decay chosen on them would make the nnet's validation score the best of five tries, an estimate
    biased in its favour. So :data:`DECAY_HOLDOUT` of the training rows ``X, y`` (a seeded split) are
    held out; from the start of ``result``'s kept restart (one restart, ``seed + restart``) each decay
    trains on the rest and is scored on them by the task's metric (:func:`titanic_lab.choosing.choose`;
    no decay wins a tie). The chosen decay then trains on every training row (``result`` itself when
    no decay wins), its ``penalty`` saying which decay and why; a refit (:func:`refit_settings`) keeps it.
    Trained by ``lbfgs``, the decays are a path: the largest first from that start, each next one
    from the last one's weights for at most :data:`DECAY_PATH_STEPS` steps, and the chosen decay
    continues from its own on every training row.

    Parameters
    ----------
    metrics : callable
        ``(result, X, y)`` -> a trained result's metrics on those rows
        (:func:`titanic_lab.choosing.validation_metrics` of its outputs).
    """
    start = replace(result.settings, restarts=1, seed=result.settings.seed + result.restart)
    classify = result.train_accuracy is not None
    inner, held = split_indices(len(X), DECAY_HOLDOUT, start.seed)
    path = start.optimizer == "lbfgs"  # each decay from the last one's weights, the largest first (a regularisation path)
    trained, seconds = {}, result.seconds
    for decay in sorted(DECAYS, reverse=True) if path else DECAYS:
        init, tried = (trained[min(trained)].params, replace(start, l2=decay, max_epochs=DECAY_PATH_STEPS)) if path and trained \
            else (None, replace(start, l2=decay))
        trained[decay] = fit(result.spec, tried, X[inner], y[inner], init=init, classify=classify)
        seconds += trained[decay].seconds
    scored = {f"decay {decay:g}": metrics(trained[decay], X[held], y[held]) for decay in DECAYS}
    name, why = choose(task, scored)
    decay = DECAYS[list(scored).index(name)]
    kept = result if decay == 0.0 else fit(result.spec, replace(start, l2=decay), X, y, X_valid, y_valid,
                                           init=trained[decay].params if path else None, classify=classify)
    kept.penalty = f"l2 {decay:g} (weight decay) chosen on {len(held)} of the {len(X)} training rows held out: the {why}"
    kept.seconds = seconds + (kept.seconds if kept is not result else 0.0)
    return kept


def refit_settings(result: TrainResult) -> TrainSettings:
    """The settings that retrain a chosen model on every row: its own, with the rate it used, from the
    start of the restart it kept (one restart), and early stopping's best epoch as a fixed count."""
    st = result.settings
    refit = replace(st, restarts=1, seed=st.seed + result.restart, patience=None)
    return replace(refit, epochs=result.best_epoch) if st.patience is not None else refit


def refit_start(result: TrainResult) -> Params | None:
    """Where a refit of ``result`` on every row starts: ``lbfgs``'s from the parameters it learned (a few
    steps from the optimum with the validation rows added), the others from the start of the restart
    they kept (None: :func:`refit_settings`'s seed)."""
    return result.params if result.settings.optimizer == "lbfgs" else None


def with_overrides(settings: TrainSettings, **overrides: object) -> TrainSettings:
    """``settings`` with every override that is not None applied."""
    return replace(settings, **{k: v for k, v in overrides.items() if v is not None})


#: The learning-rate finder never suggests more than this many times its valley.
VALLEY_FACTOR = 50.0


@dataclass
class LRFind:
    """What :func:`lr_find` saw: the rate and the loss of every step, and its suggestions.

    ``valley`` is the rate halfway along the longest stretch of falling losses; ``minimum``
    the rate of the lowest loss (already near divergence); ``suggestion`` the larger of
    ``valley`` and ``minimum / 10``, but at most :data:`VALLEY_FACTOR` times the valley (a
    lowest loss far beyond the valley is a rate at the edge of divergence; ``why`` says so).
    """

    lrs: list[float]
    losses: list[float]
    valley: float
    minimum: float

    @property
    def suggestion(self) -> float:
        return min(max(self.valley, self.minimum / 10), VALLEY_FACTOR * self.valley)

    @property
    def why(self) -> str:
        """How the suggestion was chosen, in words."""
        if self.minimum / 10 > VALLEY_FACTOR * self.valley:
            return (f"a tenth of the lowest loss's rate, {self.minimum / 10:.3g}, is {self.minimum / 10 / self.valley:.0f}x the "
                    f"valley {self.valley:.3g}: capped at {VALLEY_FACTOR:g}x the valley")
        if self.minimum / 10 > self.valley:
            return f"a tenth of the lowest loss's rate ({self.minimum:.3g} / 10), above the valley {self.valley:.3g}"
        return f"the valley, at least a tenth of the lowest loss's rate {self.minimum:.3g}"

    def to_dict(self) -> dict:
        return {**asdict(self), "suggestion": self.suggestion, "why": self.why}


def lr_find(
    spec: ModelSpec,
    settings: TrainSettings,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    init: Params | None = None,
    start_lr: float = 1e-6,
    end_lr: float = 1e3,
    steps: int = 100,
) -> LRFind:
    """A learning-rate finder written by hand, after fastai's ``lr_find``.

    From the model's starting parameters, ``steps`` updates with the learning rate growing
    exponentially from ``start_lr`` to ``end_lr``, the loss before each update recorded (with
    mini-batches smoothed, as fastai does: an exponential moving average, beta 0.98,
    debiased; a full batch's loss has no noise to smooth). The run stops once the loss
    exceeds four times its lowest (divergence). Suggestions: the "valley", halfway along the
    longest stretch of steps over which the loss keeps falling, and the rate of the lowest
    loss (see :class:`LRFind`).

    Returns
    -------
    LRFind
    """
    if not 0 < start_lr < end_lr or steps < 3:
        raise OptionError(f"lr-find needs 0 < start_lr < end_lr and 3 or more steps, got {start_lr}, {end_lr}, {steps}")
    if OPTIMIZERS[settings.optimizer].exact:
        raise OptionError(f"--optimizer {settings.optimizer}: its step needs no learning rate to be found (at lr 1 it "
                          f"is exact); lr-find is for {', '.join(n for n, o in OPTIMIZERS.items() if not o.exact)}")
    dtype = DTYPES[settings.dtype]
    X, y = X.to(dtype), y.to(dtype)
    params = _initial(spec, settings, X.shape[1], dtype, init)
    learned = {k: p.requires_grad_() for k, p in params.items() if not is_buffer(k)}
    states = _states(spec, settings, X, y, learned)
    loss_fn, rng = LOSSES[settings.loss], torch.Generator().manual_seed(settings.seed)
    lrs, losses, average, lowest = [], [], 0.0, math.inf
    batches: list = []
    for step in range(steps):
        lr = start_lr * (end_lr / start_lr) ** (step / (steps - 1))
        batches = batches or [g for group in _batches(len(X), settings.batch_size, 1, rng) for g in group]
        idx, _, _ = batches.pop(0)
        loss = loss_fn(forward(spec, params, X[idx], train=True, dropout=settings.dropout, generator=rng), y[idx]).mean()
        if not torch.isfinite(loss):
            break
        beta = 0.0 if settings.batch_size is None else 0.98
        average = beta * average + (1 - beta) * loss.item()
        smoothed = average / (1 - beta ** (step + 1))
        if smoothed > 4 * lowest:
            break
        lowest = min(lowest, smoothed)
        lrs.append(lr)
        losses.append(smoothed)
        (loss + _penalty(learned, settings).mean() if settings.l1 or settings.l2 else loss).backward()
        with torch.no_grad():
            for name, p in learned.items():
                p -= lr * _update(settings.optimizer, p.grad, states[name])
                p.grad.zero_()
    if len(lrs) < 2:
        raise TrainingError(f"{spec.name}: the loss diverged at once, even at lr {start_lr:g}; check the data's scale")
    return LRFind(lrs, losses, valley=lrs[_valley(losses)], minimum=lrs[losses.index(min(losses))])


def _valley(losses: list[float]) -> int:
    """The step halfway along the longest run of steps whose losses keep falling.

    ``falling[i]`` is the length of the longest strictly decreasing sequence of losses that
    ends at step ``i`` (steps may be skipped); its longest one spans ``start..end``.
    """
    falling = [1] * len(losses)
    for i in range(1, len(losses)):
        falling[i] = 1 + max((falling[j] for j in range(i) if losses[j] > losses[i]), default=0)
    end = max(range(len(losses)), key=lambda i: (falling[i], -i))
    start = end - falling[end] + 1
    return max(start, 0) + (end - max(start, 0)) // 2


@contextlib.contextmanager
def threads_for(n_rows: int, n_features: int, spec: ModelSpec, restarts: int) -> Iterator[None]:
    """Run torch on one thread when the products are small; restore the thread count after.

    torch's intra-op threads cost more than they save on small products: with another process
    busy on the machine, the default nnet on 891 rows took 6 to 34 s on two threads and 0.7 to
    1.0 s on one (benchmarks/convergence.py measures the ratio). Above :data:`PARALLEL_WORK`
    multiply-adds per product, torch keeps its own thread count.
    """
    widest = max([1, *hidden_sizes(spec)]) * restarts
    before = torch.get_num_threads()
    if n_rows * max(n_features, widest) * widest < PARALLEL_WORK and before > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
