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
    ``target / scale``) and the target's scale; ``words`` names it in a sentence.
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
    """The task's validation metrics of ``outputs`` against ``y`` (both ``target / scale``); {} without rows."""
    outputs, y = np.asarray(outputs, dtype=float), np.asarray(y, dtype=float)
    if not len(y):
        return {}
    return {m.name: m.compute(outputs, y, divisor) for m in VALIDATION[task]}


def choose(task: str, scored: dict[str, dict[str, float]]) -> tuple[str, str]:
    """The model with the best validation metric of the task, and why, in one line.

    Parameters
    ----------
    scored : dict
        Model (or sheet) name -> its validation metrics (:func:`validation_metrics`); every one
        must hold the task's metrics.

    Returns
    -------
    (name, why) : tuple of str
        ``why`` names the metric and every model's value: ``"highest validation accuracy
        (linear 0.8889, sigmoid 0.9036)"``. The first name wins a full tie.
    """
    metrics = VALIDATION[task]

    def key(name: str) -> tuple[float, ...]:
        return tuple(-scored[name][m.name] if m.higher_is_better else scored[name][m.name] for m in metrics)

    best = min(scored, key=key)
    first = metrics[0]
    shown = ", ".join(f"{name} {values[first.name]:.4g}" for name, values in scored.items())
    why = f"{'highest' if first.higher_is_better else 'lowest'} validation {first.words} ({shown})"
    # Another sheet of the same model (nnet and mmult) has the same metrics: that is no tie.
    tied = [n for n in scored if scored[n][first.name] == scored[best][first.name] and scored[n] != scored[best]]
    if tied and len(metrics) > 1:
        tie = metrics[1]
        why += f"; tied with {', '.join(tied)}, so the {'highest' if tie.higher_is_better else 'lowest'} validation " \
               f"{tie.words} ({scored[best][tie.name]:.4g})"
    return best, why
