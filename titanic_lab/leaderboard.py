"""Choose the best model by experiment: repeated stratified k-fold, the same folds for every model.

Every model sees the same rows (all rows of the training file; missing values filled by each
preset from the training folds) and the same folds. Within a fold the preprocessing is fitted
on the training part only, so no statistic of the held-out part leaks into the model.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch

from .data import TARGET
from .errors import OptionError
from .models import forward, parse_model
from .preprocessing import TitanicPreprocessor
from .training import default_settings, fit, with_overrides


@dataclass(frozen=True)
class Entry:
    """A model on the leaderboard.

    ``model`` is one of titanic-lab's models (``linear``, ``nnet``...) trained by hand on
    ``preset``'s features, or a baseline: ``gender`` (female survives), ``logistic``,
    ``forest``, ``boosting`` (scikit-learn, on ``preset``'s features).
    """

    name: str
    model: str
    preset: str
    own: bool


ENTRIES: tuple[Entry, ...] = (
    Entry("linear (spreadsheet)", "linear", "spreadsheet", True),
    Entry("nnet (spreadsheet)", "nnet", "spreadsheet", True),
    Entry("sigmoid (notebook)", "sigmoid", "notebook", True),
    Entry("hidden (notebook)", "hidden", "notebook", True),
    Entry("deep (notebook)", "deep", "notebook", True),
    Entry("linear (extended)", "linear", "extended", True),
    Entry("nnet (extended)", "nnet", "extended", True),
    Entry("gender rule", "gender", "notebook", False),
    Entry("LogisticRegression (notebook)", "logistic", "notebook", False),
    Entry("RandomForest (notebook)", "forest", "notebook", False),
    Entry("GradientBoosting (notebook)", "boosting", "notebook", False),
)


@dataclass
class Score:
    """One model's cross-validated results (accuracy and Brier loss on the held-out folds)."""

    name: str
    own: bool
    accuracies: list[float]
    losses: list[float]
    seconds: list[float]

    @property
    def accuracy(self) -> float:
        return statistics.fmean(self.accuracies)

    @property
    def accuracy_std(self) -> float:
        return statistics.stdev(self.accuracies) if len(self.accuracies) > 1 else 0.0

    def to_dict(self) -> dict:
        out = asdict(self)
        out.update(accuracy=self.accuracy, accuracy_std=self.accuracy_std, loss=statistics.fmean(self.losses),
                   fit_seconds=statistics.fmean(self.seconds), folds=len(self.accuracies))
        return out


def find_entries(names: list[str] | None) -> list[Entry]:
    """The entries called ``names`` (all of them when None)."""
    if not names:
        return list(ENTRIES)
    by_name = {e.name: e for e in ENTRIES}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise OptionError(f"unknown leaderboard model(s) {', '.join(map(repr, unknown))}; choose from: {', '.join(by_name)}")
    return [by_name[n] for n in names]


def fit_predict(entry: Entry, train: pd.DataFrame, test: pd.DataFrame, seed: int = 442) -> np.ndarray:
    """Fit ``entry`` on ``train`` and return its survival probabilities (or scores) for ``test``."""
    if entry.model == "gender":
        return (test["Sex"] == "female").to_numpy(dtype=float)
    pre = TitanicPreprocessor(entry.preset).fit(train)
    X_train, X_test = pre.transform(train), pre.transform(test)
    y_train = train[TARGET].to_numpy(dtype=float)
    if not entry.own:
        return _sklearn(entry.model, seed).fit(X_train, y_train.astype(int)).predict_proba(X_test)[:, 1]
    spec = parse_model(entry.model)
    settings = with_overrides(default_settings(spec), seed=seed)
    result = fit(spec, settings, torch.tensor(X_train.to_numpy()), torch.tensor(y_train))
    with torch.no_grad():
        return forward(spec, result.params, torch.tensor(X_test.to_numpy())).numpy()


def _sklearn(kind: str, seed: int):
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    if kind == "logistic":
        return LogisticRegression(max_iter=1000)
    if kind == "forest":
        return RandomForestClassifier(n_estimators=200, min_samples_leaf=2, random_state=seed, n_jobs=1)
    return GradientBoostingClassifier(random_state=seed)


def cross_validate(
    df: pd.DataFrame,
    entries: list[Entry],
    folds: int = 5,
    repeats: int = 3,
    seed: int = 42,
    on_fold: Callable[[str], None] | None = None,
) -> list[Score]:
    """Repeated stratified k-fold for every entry on the same folds; best accuracy first.

    Parameters
    ----------
    df : pandas.DataFrame
        Training rows with ``Survived``.
    folds, repeats, seed
        ``sklearn.model_selection.RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats,
        random_state=seed)``.
    on_fold : callable, optional
        Called with the entry's name after each fold (progress bars).
    """
    from sklearn.model_selection import RepeatedStratifiedKFold

    if folds < 2 or repeats < 1:
        raise OptionError(f"--folds must be at least 2 and --repeats at least 1, got {folds} and {repeats}")
    y = df[TARGET].to_numpy(dtype=float)
    smallest = int(min((y == 0).sum(), (y == 1).sum()))
    if smallest < folds:
        raise OptionError(f"{folds}-fold cross-validation needs at least {folds} survivors and {folds} non-survivors; "
                          f"the data has {smallest} of one of them (use fewer --folds or more rows)")
    splits = list(RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed).split(df, y.astype(int)))
    scores = []
    for entry in entries:
        accs, losses, secs = [], [], []
        for train_idx, test_idx in splits:
            started = time.perf_counter()
            probs = fit_predict(entry, df.iloc[train_idx], df.iloc[test_idx])
            secs.append(time.perf_counter() - started)
            accs.append(float(((probs > 0.5) == (y[test_idx] > 0.5)).mean()))
            losses.append(float(((np.clip(probs, 0, 1) - y[test_idx]) ** 2).mean()))  # Brier score
            if on_fold is not None:
                on_fold(entry.name)
        scores.append(Score(entry.name, entry.own, accs, losses, secs))
    return sorted(scores, key=lambda s: -s.accuracy)


def plot_leaderboard(scores: list[Score], path: str | Path) -> list[str]:
    """A PNG of accuracy (mean, error bar = std) against fit seconds per fold; returns the labels drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .files import atomic_output

    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=110)
    labels = []
    for s in scores:
        x = statistics.fmean(s.seconds)
        ax.errorbar(x, s.accuracy, yerr=s.accuracy_std, fmt="o" if s.own else "s", color="C0" if s.own else "C3", capsize=3)
        labels.append(ax.annotate(s.name, (x, s.accuracy), textcoords="offset points", xytext=(6, 4), fontsize=8).get_text())
    ax.set_xscale("log")
    ax.set_xlabel("fit seconds per fold (log scale)")
    ax.set_ylabel("cross-validated accuracy")
    ax.set_title(f"Accuracy against fit time ({len(scores[0].accuracies)} folds; circles: titanic-lab, squares: baselines)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return labels
