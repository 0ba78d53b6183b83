"""Choosing a model by one metric, the same for every model whatever loss it trained on.

Validation losses of different losses cannot be compared (a squared error of 0.078 is not better
than a log loss of 0.265), so every model's validation rows are scored with the same metrics:

==============  ======================================================  ===================
task            validation metrics (recorded on every model sheet)       chosen by
==============  ======================================================  ===================
binary,         accuracy; log loss of the outputs as probabilities       accuracy, then log
multiclass      (clipped into [PROB_EPS, 1 - PROB_EPS])                  loss on a tie
regression      RMSE in the target's units                               RMSE
==============  ======================================================  ===================

On any table (``--target``, ``--spec``) the choice follows the one-standard-error rule
(:func:`choose`): the simplest model (the first trained: the defaults are listed simplest first)
whose validation loss per row is within one paired standard error of the best model's, so that a
more complex model is chosen only when it is better by more than the noise of the validation rows.
The loss per row is the metric's own (:func:`row_losses`: an error 0/1 for accuracy, a squared error
for RMSE); each sheet records the paired standard error against the best (``Valid paired SE:``) so
that ``predict`` reaches the same choice from the sheets' first rows. A run or workbook without
those standard errors (Titanic's lesson runs) is chosen by the metric alone, as before.

Imports neither torch nor scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import sheet_layout as sl
from .tasks import TASKS

#: Where a linear model's outputs are clipped before their log loss (they may leave (0, 1)).
PROB_EPS = 1e-6


@dataclass(frozen=True)
class Metric:
    """One validation metric: its name, its sheet label, which way is better, how it is computed.

    ``compute(outputs, y, divisor)`` takes the model's outputs and what it learned (both
    ``(target - min) / scale``) and the target's scale; ``words`` names it in a sentence.
    """

    name: str
    label: str
    higher_is_better: bool
    compute: Callable[[np.ndarray, np.ndarray, float], float]
    words: str

    def better(self, a: float, b: float) -> bool:
        return a > b if self.higher_is_better else a < b


def _accuracy(outputs: np.ndarray, y: np.ndarray, divisor: float) -> float:
    if outputs.ndim == 2:  # a probability per class: the likeliest is right
        return float(np.mean(outputs.argmax(-1) == y.astype(int)))
    return float(np.mean((outputs > 0.5) == (y > 0.5)))


def _log_loss(outputs: np.ndarray, y: np.ndarray, divisor: float) -> float:
    if outputs.ndim == 2:  # -ln of the true class's probability
        p_true = outputs[np.arange(len(y)), y.astype(int)]
        return float(-np.mean(np.log(np.clip(p_true, PROB_EPS, 1.0))))
    p = np.clip(outputs, PROB_EPS, 1 - PROB_EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _rmse(outputs: np.ndarray, y: np.ndarray, divisor: float) -> float:
    return float(np.sqrt(np.mean(((outputs - y) * divisor) ** 2)))


ACCURACY = Metric("accuracy", sl.VALID_ACCURACY, True, _accuracy, "accuracy")
LOG_LOSS = Metric("log_loss", sl.VALID_LOG_LOSS, False, _log_loss, "log loss")
RMSE = Metric("rmse", sl.VALID_RMSE, False, _rmse, "RMSE")
METRICS = {m.name: m for m in (ACCURACY, LOG_LOSS, RMSE)}

#: Per task, the validation metrics every model sheet records: the first chooses, the next breaks a tie
#: (each task record's ``choose_by``, :mod:`titanic_lab.tasks`).
VALIDATION: dict[str, tuple[Metric, ...]] = {name: tuple(METRICS[m] for m in task.choose_by) for name, task in TASKS.items()}


def validation_metrics(task: str, outputs: np.ndarray, y: np.ndarray, divisor: float = 1.0) -> dict[str, float]:
    """The task's validation metrics of ``outputs`` against ``y`` (both ``(target - min) / scale``); {} without rows."""
    outputs, y = np.asarray(outputs, dtype=float), np.asarray(y, dtype=float)
    if not len(y):
        return {}
    return {m.name: m.compute(outputs, y, divisor) for m in VALIDATION[task]}


#: The key of a model's validation metrics holding the paired standard error of its mean loss per row
#: minus the best model's (:func:`paired_standard_errors`; 0 for the best itself).
PAIRED_SE = "paired_se"
#: The key of a model's validation metrics holding how many folds they are of, when more than one
#: (:func:`titanic_lab.runs.choice_folds`: every row scored by a fit that had not seen it); absent: one split.
FOLDS = "folds"
#: How many paired standard errors a more complex model must beat a simpler one by to be chosen.
SE_MULTIPLE = 1.0


def row_losses(task: str, outputs: np.ndarray, y: np.ndarray, divisor: float = 1.0) -> np.ndarray:
    """The loss per row whose mean the task's choosing metric is made of: a classification's error (0
    or 1; the mean is 1 - accuracy), a regression's squared error in the target's units (the mean is
    RMSE squared)."""
    outputs, y = np.asarray(outputs, dtype=float), np.asarray(y, dtype=float)
    if task == "regression":
        return ((outputs - y) * divisor) ** 2
    if outputs.ndim == 2:
        return (outputs.argmax(-1) != y.astype(int)).astype(float)
    return ((outputs > 0.5) != (y > 0.5)).astype(float)


def mean_loss(task: str, metrics: dict[str, float]) -> float:
    """The mean loss per row (:func:`row_losses`) that a model's recorded choosing metric stands for."""
    first = VALIDATION[task][0]
    value = metrics[first.name]
    return value ** 2 if first is RMSE else 1.0 - value


def paired_standard_errors(task: str, losses: dict[str, np.ndarray]) -> dict[str, float]:
    """Per model, the standard error of the mean of its loss per row minus the best model's, on the same rows.

    ``losses``: model name -> :func:`row_losses` on the validation rows, models listed simplest first.
    The best is the lowest mean loss (the first of a tie); its own standard error is 0.
    """
    best = min(losses, key=lambda name: losses[name].mean())
    out = {}
    for name, loss in losses.items():
        diff = loss - losses[best]
        out[name] = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.0
    return out


def _one_se(task: str, scored: dict[str, dict[str, float]], where: str) -> tuple[str, str]:
    """The one-standard-error rule (see the module's docstring)."""
    first = VALIDATION[task][0]
    losses = {name: mean_loss(task, values) for name, values in scored.items()}
    # A loss that is not a number (outputs that overflowed) is never the best nor within reach of it.
    best = min(losses, key=lambda n: (not np.isfinite(losses[n]), losses[n] if np.isfinite(losses[n]) else 0.0))
    chosen = next((n for n in scored if losses[n] - losses[best] <= SE_MULTIPLE * scored[n][PAIRED_SE] + 1e-12), best)
    shown = ", ".join(f"{name} {values[first.name]:.4g}" for name, values in scored.items())
    loss_words = "error rate" if first is not RMSE else "mean squared error"
    if chosen == best:
        simpler = list(scored)[:list(scored).index(best)]
        errors = ", ".join(f"{n} {scored[n][PAIRED_SE]:.3g}" for n in simpler)
        reason = (f"{best} is the best and beats each simpler model's {loss_words} by more than one paired standard "
                  f"error ({errors})" if simpler else f"{best} is the best and the simplest")
    else:
        reason = (f"{chosen} is within one paired standard error ({scored[chosen][PAIRED_SE]:.3g}) of the best, {best}, "
                  f"in {loss_words}, and simpler")
    return chosen, f"one-standard-error rule on {where} {first.words} ({shown}): {reason}"


def choose(task: str, scored: dict[str, dict[str, float]]) -> tuple[str, str]:
    """The model with the best validation metric of the task, and why, in one line.

    Parameters
    ----------
    scored : dict
        Model (or sheet) name -> its validation metrics (:func:`validation_metrics`); every one
        must hold the task's metrics, and :data:`FOLDS` where they are of several folds (the reason then
        says ``5-fold cross-validated`` where it says ``validation``).

    Returns
    -------
    (name, why) : tuple of str
        ``why`` names the metric and every model's value: ``"highest validation accuracy
        (linear 0.8889, sigmoid 0.9036)"``. The first name wins a full tie.

    When every model's metrics hold its :data:`PAIRED_SE` (any table), the one-standard-error
    rule chooses (models listed simplest first): the simplest model whose mean loss per row is
    within :data:`SE_MULTIPLE` paired standard errors of the best's, and ``why`` says so.
    """
    folds = {int(values.get(FOLDS, 1)) for values in scored.values()}
    where = f"{folds.pop()}-fold cross-validated" if len(folds) == 1 and max(folds) > 1 else "validation"
    if scored and all(PAIRED_SE in values for values in scored.values()):
        return _one_se(task, scored, where)
    metrics = VALIDATION[task]

    def key(name: str) -> tuple[float, ...]:
        return tuple(-scored[name][m.name] if m.higher_is_better else scored[name][m.name] for m in metrics)

    best = min(scored, key=key)
    first = metrics[0]
    shown = ", ".join(f"{name} {values[first.name]:.4g}" for name, values in scored.items())
    why = f"{'highest' if first.higher_is_better else 'lowest'} {where} {first.words} ({shown})"
    # Another sheet of the same model (nnet and mmult) has the same metrics: that is no tie.
    tied = [n for n in scored if scored[n][first.name] == scored[best][first.name] and scored[n] != scored[best]]
    if tied and len(metrics) > 1:
        tie = metrics[1]
        why += f"; tied with {', '.join(tied)}, so the {'highest' if tie.higher_is_better else 'lowest'} validation " \
               f"{tie.words} ({scored[best][tie.name]:.4g})"
    return best, why
