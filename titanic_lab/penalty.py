"""Penalties chosen by data: ridge's in closed form, as scikit-learn's ``RidgeCV`` chooses its alpha, and
logistic regression's by k-fold cross-validation, as ``LogisticRegressionCV`` chooses its C
(:func:`choose_penalty` says which a model takes).

For the squared error of a model linear in its parameters, every penalty's fit and its
leave-one-out errors follow from one singular value decomposition of the training rows
(:func:`titanic_lab.leave_one_out.loo_errors`). The alpha with the lowest leave-one-out mean squared
error over :data:`~titanic_lab.leave_one_out.ALPHAS` (0, no penalty, among them) is kept.

An alpha on the sum of squares, ``|Xw - y|² + alpha |w|²``, is the trainer's ``l2`` on the mean,
``mean((Xw - y)²) + l2 / 2 |w|²``, at ``l2 = 2 alpha / n``; every parameter is penalised, the
bias (``Ones``) too, as :func:`titanic_lab.training.fit` penalises it.

A sigmoid's log loss or a softmax's cross-entropy has no closed-form leave-one-out: each penalty of
:data:`L2S` is fitted exactly (Newton's method, :func:`logistic_fit`) on k - 1 stratified folds and
scored by the log loss of the held-out fold; the lowest mean wins. scikit-learn's ``C`` on the sum,
``C sum(log loss) + |w|² / 2``, is the trainer's ``l2`` on the mean at ``l2 = 1 / (C n)``.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from .leave_one_out import ALPHAS, loo_errors
from .models import ModelSpec
from .training import PARALLEL_WORK, TrainSettings, softmax_curvature



@dataclass(frozen=True)
class PenaltyChoice:
    """What :func:`choose_l2` found: the penalty kept and every alpha's leave-one-out MSE."""

    l2: float
    alpha: float
    rows: int
    errors: dict[float, float]

    def describe(self) -> str:
        """One line for the README sheet and the summary."""
        none = self.errors.get(0.0)
        return (f"l2 {self.l2:.4g} (alpha {self.alpha:.4g} on the sum of squares): the lowest leave-one-out MSE, "
                f"{self.errors[self.alpha]:.6g}, of {len(self.errors)} alphas on the {self.rows} training rows"
                + (f" (no penalty: {none:.6g})" if none is not None and self.alpha != 0 else ""))


def choose_l2(X: torch.Tensor, y: torch.Tensor, alphas: tuple[float, ...] = ALPHAS) -> PenaltyChoice:
    """The ridge penalty with the lowest leave-one-out error on these rows, as the trainer's ``l2``."""
    errors = loo_errors(X.to(torch.float64).numpy(), y.to(torch.float64).numpy(), alphas)
    alpha = min(errors, key=errors.get)
    return PenaltyChoice(l2=2 * alpha / len(y), alpha=alpha, rows=len(y), errors=errors)


#: The l2 penalties (on the mean loss) tried for a logistic regression, strongest first: ten steps from 10
#: to 1e-6, the span of LogisticRegressionCV's ``Cs=10`` (``numpy.logspace(-4, 4, 10)``) on a few hundred
#: rows of standardised features (``l2 = 1 / (C n)``). No 0: separable classes have no unpenalised optimum.
L2S: tuple[float, ...] = tuple(np.logspace(1, -6, 10).tolist())

#: Folds of the cross-validation (LogisticRegressionCV's default ``cv=5``, stratified); fewer when a class
#: has fewer rows, and no choice below 2.
FOLDS = 5

#: Multiply-adds the cross-validation may spend, estimated as folds x penalties x 4 Newton steps x rows x
#: weights² (each step's curvature); above it, 3 folds and every other penalty (a wide multiclass table:
#: 200 one-hot columns x 10 classes on 5,000 rows would otherwise cost some 10^13).
CV_WORK = 5e10

#: Newton's stopping rule: a step whose largest change is under this (relative to the largest weight, at
#: least 1), or this many steps.
NEWTON_TOL, NEWTON_STEPS = 1e-10, 100


@dataclass(frozen=True)
class LogisticChoice:
    """What :func:`choose_logistic_l2` found: the penalty kept and every penalty's held-out log loss."""

    l2: float
    rows: int
    folds: int
    errors: dict[float, float]

    def describe(self) -> str:
        """One line for the README sheet and the summary."""
        weakest = min(self.errors)
        return (f"l2 {self.l2:.4g} (C {1 / (self.l2 * self.rows):.4g} as scikit-learn's, on the sum of log losses): "
                f"the lowest {self.folds}-fold cross-validated log loss, {self.errors[self.l2]:.6g}, of {len(self.errors)} "
                f"penalties on the {self.rows} training rows"
                + (f" (l2 {weakest:.0e}: {self.errors[weakest]:.6g})" if self.l2 != weakest else ""))


def logistic_fit(X: torch.Tensor, y: torch.Tensor, classes: int, l2: float, start: torch.Tensor | None = None) -> torch.Tensor:
    """The weights minimising the mean log loss of a logistic regression plus ``l2 / 2 * sum w^2``, by Newton's method.

    Every weight is penalised (the bias is a column of ones in ``X``), as the trainer penalises it.

    Parameters
    ----------
    X : Tensor, shape (n_rows, n_features)
    y : Tensor, shape (n_rows,)
        0/1 for ``classes == 2`` (``sigmoid(X @ w)``); the class index otherwise (``softmax(X @ W)``).
    classes : int
    l2 : float
        Positive: the objective is then strictly convex, its optimum unique.
    start : Tensor, optional
        Where Newton starts (a neighbouring penalty's weights); zeros by default.

    Returns
    -------
    Tensor
        ``w`` (n_features,) for two classes, else ``W`` (n_features, classes), in float64.
    """
    X, n = X.to(torch.float64), len(y)
    y, binary = y.to(torch.float64), classes == 2
    target = y if binary else torch.nn.functional.one_hot(y.long(), classes).to(torch.float64)
    w = torch.zeros(X.shape[1] if binary else (X.shape[1], classes), dtype=torch.float64) if start is None else start.clone()

    def objective(v: torch.Tensor) -> float:
        return float(log_losses(X @ v, y).mean() + l2 / 2 * v.pow(2).sum())

    current = objective(w)
    for _ in range(NEWTON_STEPS):
        scores = X @ w
        if binary:
            p = torch.sigmoid(scores)
            grad = X.T @ (p - target) / n + l2 * w
            hessian = (X * (p * (1 - p))[:, None]).T @ X / n + l2 * torch.eye(X.shape[1], dtype=torch.float64)
        else:
            grad = (X.T @ (torch.softmax(scores, -1) - target) / n + l2 * w).reshape(-1)
            hessian = softmax_curvature(X, w[None], l2)[0]
        step = torch.linalg.solve(hessian, grad.reshape(-1)).reshape(w.shape)
        rate = 1.0  # halved until the objective does not rise (Newton's full step can overshoot far from the optimum)
        while rate > 1e-10 and objective(w - rate * step) > current:
            rate /= 2
        w = w - rate * step
        current = objective(w)
        if float((rate * step).abs().max()) <= NEWTON_TOL * max(1.0, float(w.abs().max())):
            break
    return w


def stratified_folds(y: torch.Tensor, folds: int, seed: int = 0) -> torch.Tensor:
    """Each row's fold, 0 to ``folds - 1``: each class's rows shuffled (seeded) and dealt in turn, so
    every fold holds nearly the same share of each class (as scikit-learn's ``StratifiedKFold``)."""
    generator = torch.Generator().manual_seed(seed)
    labels = y.long()
    fold = torch.empty(len(y), dtype=torch.long)
    dealt = 0
    for value in labels.unique():
        rows = (labels == value).nonzero().flatten()
        rows = rows[torch.randperm(len(rows), generator=generator)]
        fold[rows] = (torch.arange(len(rows)) + dealt) % folds  # continue where the last class stopped
        dealt += len(rows)
    return fold


def logistic_errors(X: torch.Tensor, y: torch.Tensor, classes: int, l2s: tuple[float, ...] = L2S,
                    folds: int = FOLDS, seed: int = 0) -> tuple[dict[float, float], int]:
    """Each penalty's cross-validated log loss (every row's, held out, averaged), and the folds used.

    ``l2s`` are fitted strongest first, each from the last one's weights; above :data:`CV_WORK`, 3 folds
    and every other penalty. Returns ``({}, k)`` when a class has fewer than two rows (no two folds can
    both hold it).
    """
    X, y = X.to(torch.float64), y.to(torch.float64)
    weights = X.shape[1] * (1 if classes == 2 else classes)
    if folds * len(l2s) * 4 * len(y) * weights**2 > CV_WORK:  # a wide table: a coarser search
        folds, l2s = min(folds, 3), l2s[::2]
    smallest = int(torch.bincount(y.long(), minlength=classes).min())
    folds = min(folds, smallest)
    if folds < 2:
        return {}, folds
    fold = stratified_folds(y, folds, seed)
    losses = {l2: 0.0 for l2 in l2s}
    with _threads(len(y) * weights * weights):
        for k in range(folds):
            _fold_losses(X, y, classes, fold == k, losses)
    return {l2: total / len(y) for l2, total in losses.items()}, folds


@contextmanager
def _threads(work: int) -> Iterator[None]:
    """One torch thread when a Hessian's product (``work`` multiply-adds) is small, as the trainer's
    :func:`~titanic_lab.training.threads_for`: a 200-row, 6-feature choice took 0.08 s on one thread and
    1.7 to 6.9 s on two, with another process busy."""
    before = torch.get_num_threads()
    if work < PARALLEL_WORK and before > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _fold_losses(X: torch.Tensor, y: torch.Tensor, classes: int, held: torch.Tensor, losses: dict[float, float]) -> None:
    """Add each penalty's summed log loss on the ``held`` rows, fitted on the others, to ``losses``."""
    w = None
    for l2 in sorted(losses, reverse=True):
        w = logistic_fit(X[~held], y[~held], classes, l2, w)
        losses[l2] += float(log_losses(X[held] @ w, y[held]).sum())


def log_losses(scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Each row's log loss from its scores: ``log(1 + e^s) - y s`` for one score per row (a sigmoid's,
    ``y`` 0/1), ``logsumexp(s) - s_y`` for a score per class (a softmax's, ``y`` the class index)."""
    if scores.dim() == 1:
        return torch.nn.functional.softplus(scores) - y * scores
    return torch.logsumexp(scores, -1) - scores.gather(1, y.long()[:, None]).squeeze(1)


def choose_logistic_l2(X: torch.Tensor, y: torch.Tensor, classes: int, l2s: tuple[float, ...] = L2S,
                       folds: int = FOLDS, seed: int = 0) -> LogisticChoice | None:
    """The penalty with the lowest cross-validated log loss (the strongest on a tie), as the trainer's ``l2``;
    None when a class has too few rows to cross-validate."""
    errors, used = logistic_errors(X, y, classes, l2s, folds, seed)
    if not errors:
        return None
    best = min(sorted(errors, reverse=True), key=errors.get)
    return LogisticChoice(l2=best, rows=len(y), folds=used, errors=errors)


def choose_penalty(spec: ModelSpec, settings: TrainSettings, X: torch.Tensor, y: torch.Tensor) -> PenaltyChoice | LogisticChoice | None:
    """The l2 penalty chosen by data for a model without hidden layers on the training rows ``X``, ``y``.

    Linear with squared error: ridge's closed-form leave-one-out (:func:`choose_l2`); a sigmoid's log loss
    (``bce``) or a softmax's cross-entropy (``ce``): logistic regression's k-fold cross-validation
    (:func:`choose_logistic_l2`). None for any other model or loss (hidden layers, the notebook's
    absolute error), with an l1 penalty, or when a class has too few rows to cross-validate.
    """
    if spec.has_hidden or len(spec.chain) != 1 or settings.l1:
        return None
    head, loss = spec.head.name, settings.loss
    if head == "identity" and loss == "mse":
        return choose_l2(X, y)
    if (head, loss) in (("sigmoid", "bce"), ("softmax", "ce")):
        return choose_logistic_l2(X, y, max(2, spec.outputs))
    return None
