"""Choose the best model by experiment: repeated stratified k-fold, the same folds for every model.

Every model sees the same rows (all rows of the training file; missing values filled by each
preset from the training folds) and the same folds. Within a fold the preprocessing is fitted
on the training part only, so no statistic of the held-out part leaks into the model.

Any CSV (a :class:`~titanic_lab.dataset.DatasetSpec`) has its own board, :data:`ANY_CSV_ENTRIES`:
titanic-lab's models and the mean or majority predictor, Ridge or LogisticRegression and
HistGradientBoosting, all on the spec's features; repeated k-fold for a regression target,
scored by RMSE in the target's units.
"""

from __future__ import annotations

import re
import statistics
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch

from .config import RunConfig, check_cv
from .cost import check_cross_validation, feature_count
from .datasets import registry
from .datasets.infer import infer_spec
from .datasets.spec import DatasetSpec, Entry, Target
from .errors import DataError, OptionError
from .file_rows import line_at
from .files import check_outputs
from .finite import check_features
from .models import KINDS, forward, multiclass_model, parse_model
from .preprocessing import TabularPreprocessor, choose_logs
from .runs import data_path, describe_data, load_rows, model_settings, penalised
from .tasks import get_task
from .training import fit


#: Any CSV's board per task: titanic-lab's models with default settings, then the baselines
#: (``majority`` predicts the training part's share of the positive class, so its accuracy is
#: the majority class's; ``mean`` predicts the training part's mean).
ANY_CSV_ENTRIES: dict[str, tuple[Entry, ...]] = {
    "binary": (
        Entry("linear", "linear", "", True),
        Entry("nnet", "nnet", "", True),
        Entry("sigmoid", "sigmoid", "", True),
        Entry("majority class", "majority", "", False),
        Entry("LogisticRegression", "logistic", "", False),
        Entry("HistGradientBoosting", "histboosting", "", False),
    ),
    "regression": (
        Entry("linear", "linear", "", True),
        Entry("nnet", "nnet", "", True),
        Entry("mean", "mean", "", False),
        Entry("RidgeCV", "ridge", "", False),
        Entry("HistGradientBoosting", "histboosting", "", False),
    ),
    # Multiclass: the models that end in a column per class; ``majority`` predicts the training
    # part's class shares (its accuracy is the majority class's), LogisticRegression is multinomial.
    "multiclass": (
        Entry("linear", "linear", "", True),
        Entry("hidden", "hidden", "", True),
        Entry("deep", "deep", "", True),
        Entry("majority class", "majority", "", False),
        Entry("LogisticRegression", "logistic", "", False),
        Entry("HistGradientBoosting", "histboosting", "", False),
    ),
}


def _spread(values: list[float]) -> float:
    """The standard deviation over folds (0 for one fold)."""
    return statistics.stdev(values) if len(values) > 1 else 0.0


@dataclass
class Score:
    """One model's cross-validated results (accuracy and Brier loss on the held-out folds)."""

    name: str
    own: bool
    accuracies: list[float]
    losses: list[float]
    seconds: list[float]
    #: Per fold, whether training converged (always true for the rule and scikit-learn's models).
    converged: list[bool] = field(default_factory=list)
    #: Accuracies on folds grouped by ticket (no ticket on both sides of a split), when asked for.
    grouped_accuracies: list[float] = field(default_factory=list)
    #: A regression target's RMSE (in the target's units) and R^2 per fold; then ``accuracies`` are empty.
    rmses: list[float] = field(default_factory=list)
    r2s: list[float | None] = field(default_factory=list)
    #: ``losses`` are log losses (a multiclass target's) rather than Brier scores.
    log_loss: bool = False

    @property
    def is_regression(self) -> bool:
        return bool(self.rmses)

    @property
    def rmse(self) -> float:
        return statistics.fmean(self.rmses)

    @property
    def rmse_std(self) -> float:
        return _spread(self.rmses)

    @property
    def r2(self) -> float | None:
        """The mean R^2 over the folds whose held-out target is not constant (None when none is)."""
        known = [r for r in self.r2s if r is not None]
        return statistics.fmean(known) if known else None

    @property
    def grouped_accuracy(self) -> float | None:
        return statistics.fmean(self.grouped_accuracies) if self.grouped_accuracies else None

    @property
    def all_converged(self) -> bool:
        return all(self.converged)

    @property
    def accuracy(self) -> float:
        return statistics.fmean(self.accuracies)

    @property
    def accuracy_std(self) -> float:
        return _spread(self.accuracies)

    def to_dict(self) -> dict:
        out = asdict(self)
        if out.pop("log_loss"):
            out["loss_name"] = "log loss"
        if self.is_regression:
            for key in ("accuracies", "losses", "grouped_accuracies"):
                del out[key]
            out.update(rmse=self.rmse, rmse_std=self.rmse_std, r2=self.r2, fit_seconds=statistics.fmean(self.seconds),
                       folds=len(self.rmses))
            return out
        del out["rmses"], out["r2s"]
        out.update(accuracy=self.accuracy, accuracy_std=self.accuracy_std, grouped_accuracy=self.grouped_accuracy,
                   loss=statistics.fmean(self.losses),
                   fit_seconds=statistics.fmean(self.seconds), folds=len(self.accuracies))
        return out


def find_entries(names: list[str] | None, task: str | None = None) -> list[Entry]:
    """The entries ``names`` select (all of them when None), in the order given, without repeats.

    With ``task`` (``binary`` or ``regression``: any CSV), from that task's board
    (:data:`ANY_CSV_ENTRIES`), by name or model (``mean``, ``ridge``, ``histboosting``...), or a
    model as train takes it (``nnet:4``; a sigmoid output only for a binary target). Without
    it, Titanic's board:

    A name is an entry's full name (``"nnet (extended)"``), or a model as ``titanic-lab train
    -m`` takes it: ``nnet`` selects every nnet entry, ``nnet:4`` (not on the board) is added on
    the preset its kind uses there, and ``nnet:4 (extended)`` or ``linear (notebook)`` name the
    preset. Baselines go by their model too: ``gender``, ``logistic``, ``forest``, ``boosting``.
    Names are matched without regard to case.

    Raises
    ------
    OptionError
        A name that is none of these, or a preset that does not exist.
    """
    if not names:
        return list(registry.default().board if task is None else ANY_CSV_ENTRIES[task])
    found: list[Entry] = []
    for name in names:
        found += [e for e in (_resolve(name) if task is None else _resolve_any(name, task)) if e not in found]
    return found


def _resolve_any(name: str, task: str) -> list[Entry]:
    board = ANY_CSV_ENTRIES[task]
    text = name.strip()
    same = [e for e in board if text.lower() in (e.name.lower(), e.model)]
    if same:
        return same
    if text.split(":")[0] not in KINDS:
        raise OptionError(f"unknown leaderboard model {name!r} for a {task} target; give a model as train takes it "
                          f"({', '.join(KINDS)}, nnet:3...) or one of: {', '.join(f'{e.name} ({e.model})' for e in board)}")
    spec = parse_model(text)  # raises on bad sizes such as nnet:0
    if get_task(task).per_class:
        multiclass_model(spec, 3)  # refuses a model that cannot end in a column per class
    if task == "regression" and spec.has_sigmoid:
        raise OptionError(f"leaderboard model {name!r}: a sigmoid output predicts between 0 and 1 only, and the target "
                          "is a regression target; choose linear or nnet")
    return [e for e in board if e.model == spec.name] or [Entry(spec.name, spec.name, "", True)]  # nnet:2 is nnet


def _short_name(entry: Entry) -> str:
    """The entry's name without its preset: ``nnet``, ``LogisticRegression``, ``gender rule``."""
    return entry.name.removesuffix(f" ({entry.preset})")


def _resolve(name: str) -> list[Entry]:
    """An entry of the default dataset's board (Titanic's), as :func:`find_entries` describes."""
    dataset = registry.default()
    board = dataset.board
    text = name.strip()
    exact = [e for e in board if e.name.lower() == text.lower()]
    if exact:
        return exact
    with_preset = re.fullmatch(r"(.+?)\s*\((\w+)\)", text)
    base, preset = with_preset.groups() if with_preset else (text, None)
    if preset is not None and preset not in dataset.presets:
        raise OptionError(f"leaderboard model {name!r}: unknown preset {preset!r}; choose one of: {', '.join(dataset.presets)}")
    same = [e for e in board if base.lower() in (e.model, _short_name(e).lower())]
    if same:
        if preset is None:
            return same
        first = same[0]
        return [Entry(f"{_short_name(first)} ({preset})", first.model, preset, first.own)]
    if base.split(":")[0] not in KINDS:
        baselines = ", ".join(e.model for e in board if not e.own)
        raise OptionError(f"unknown leaderboard model {name!r}; give a model as train takes it ({', '.join(KINDS)}, nnet:3...), "
                          f"a baseline ({baselines}) or an entry's name: {', '.join(e.name for e in board)}")
    kind = parse_model(base).kind  # raises on bad sizes such as nnet:0
    preset = preset or next(e.preset for e in board if e.model == kind)
    return [Entry(f"{base} ({preset})", base, preset, True)]


def fit_predict(entry: Entry, train: pd.DataFrame, test: pd.DataFrame, seed: int = 442,
                dataset: DatasetSpec | None = None) -> tuple[np.ndarray, bool]:
    """Fit ``entry`` on ``train``; return its outputs for ``test`` and whether its training converged.

    Outputs are probabilities (or scores) of the positive class for a binary target (Titanic's:
    survival), predictions in the target's units for a regression target, and each class's
    probability, (n_rows, n_classes), for a multiclass target.

    Parameters
    ----------
    dataset : DatasetSpec, optional
        Any CSV's description: its feature steps, fitted on ``train`` only
        (:class:`~titanic_lab.preprocessing.TabularPreprocessor`), and its target (a
        regression target is learned as ``(target - min) / scale``, both learned from ``train``).
        None: Titanic, with ``entry``'s preset.
    """
    known = registry.builtin(dataset) if dataset is not None else registry.default()
    if known is not None and entry.model in known.rules:  # a built-in dataset's rule (Titanic's gender rule)
        return known.rules[entry.model](test), True
    dataset = dataset or registry.default().spec(entry.preset)
    target = dataset.target.learn_scale(train[dataset.target.column])
    pre = TabularPreprocessor(dataset.features, target.column).fit(train)
    X_train, X_test = pre.transform(train), pre.transform(test)
    check_features(X_train, "the fold's training rows")
    check_features(X_test, "the fold's held-out rows")
    y_train = target.learned(target.values(train[target.column]))
    if not entry.own:
        classes = target.n_outputs if target.record.per_class else 0
        return target.in_units(_baseline(entry.model, seed, X_train, y_train, X_test, not target.record.classifies, classes)), True
    config = entry_config(entry, dataset, seed)
    ((spec, settings),) = model_settings(config, target.n_outputs, X_train.shape[1]).values()
    X, y = torch.tensor(X_train.to_numpy()), torch.tensor(y_train)
    result = fit(spec, penalised(config, spec, settings, X, y)[0], X, y, classify=target.record.classifies)
    with torch.no_grad():
        return target.in_units(forward(spec, result.params, torch.tensor(X_test.to_numpy())).numpy()), result.converged


def entry_config(entry: Entry, dataset: DatasetSpec | None = None, seed: int = RunConfig.seed) -> RunConfig:
    """The ``train`` options that train ``entry`` (one of titanic-lab's models) in a fold: its model and
    options, and ``--target`` on any table, so that each fold takes ``train``'s settings
    (:func:`~titanic_lab.runs.model_settings`) and its penalty chosen by data on the fold's training
    rows (:func:`~titanic_lab.runs.penalised`). A built-in dataset (Titanic) keeps its lesson's recipe.
    """
    any_table = dataset is not None and registry.builtin(dataset) is None
    return RunConfig(models=(entry.model,), seed=seed, target=dataset.target.column if any_table else None,
                     **dict(entry.options))


def _baseline(kind: str, seed: int, X_train: pd.DataFrame, y_train: np.ndarray, X_test: pd.DataFrame,
              regression: bool, classes: int = 0) -> np.ndarray:
    """A baseline's outputs for ``X_test``: the training mean (``mean``, ``majority``) or scikit-learn's model.

    With ``classes`` (a multiclass target's number), each class's probability, (n_rows, classes):
    the training part's class shares (``majority``), or the model's, a class it never saw at 0.
    """
    if kind in ("mean", "majority") and classes:
        return np.tile(np.bincount(y_train.astype(int), minlength=classes) / len(y_train), (len(X_test), 1))
    if kind in ("mean", "majority"):
        return np.full(len(X_test), float(np.mean(y_train)))
    from threadpoolctl import threadpool_limits

    model = _sklearn(kind, seed, regression)
    # One OpenMP thread (HistGradientBoosting's): after torch's training, on a busy machine, a
    # fit on 80 rows took 0.25 to 7.5 s on two threads and 0.1 to 0.6 s on one.
    with threadpool_limits(1, user_api="openmp"):
        if regression:
            return model.fit(X_train, y_train).predict(X_test)
        probs = model.fit(X_train, y_train.astype(int)).predict_proba(X_test)
        if not classes:
            return probs[:, 1]
        out = np.zeros((len(X_test), classes))
        out[:, model.classes_] = probs
        return out


def _sklearn(kind: str, seed: int, regression: bool = False):
    from sklearn.ensemble import (GradientBoostingClassifier, HistGradientBoostingClassifier, HistGradientBoostingRegressor,
                                  RandomForestClassifier)
    from sklearn.linear_model import LogisticRegression, RidgeCV

    if kind == "logistic":
        return LogisticRegression(max_iter=1000)
    if kind == "forest":
        return RandomForestClassifier(n_estimators=200, min_samples_leaf=2, random_state=seed, n_jobs=1)
    if kind == "ridge":
        return RidgeCV(alphas=np.logspace(-4, 3, 15))
    if kind == "histboosting":
        return (HistGradientBoostingRegressor if regression else HistGradientBoostingClassifier)(random_state=seed)
    return GradientBoostingClassifier(random_state=seed)


def _fold_spec(rows: pd.DataFrame, dataset: DatasetSpec, target: Target) -> DatasetSpec:
    """The table's description inferred from a fold's training ``rows``, as ``train`` infers it from its own
    (a skewed column's log then chosen by the leave-one-out error, :func:`~titanic_lab.preprocessing.choose_logs`)."""
    spec = infer_spec(rows, target.column, dataset.id_column, name=dataset.name, known=target)
    if target.record.per_class:
        return spec
    answers = pd.Series(target.values(rows[target.column]), index=rows.index)
    return replace(spec, features=choose_logs(spec.features, rows, answers))


def cross_validate(
    df: pd.DataFrame,
    entries: list[Entry],
    folds: int = 5,
    repeats: int = 3,
    seed: int = 42,
    on_fold: Callable[[str], None] | None = None,
    grouped: bool = False,
    dataset: DatasetSpec | None = None,
    infer_per_fold: bool = False,
) -> list[Score]:
    """Repeated stratified k-fold for every entry on the same folds; best accuracy first.

    Parameters
    ----------
    df : pandas.DataFrame
        Training rows with ``Survived`` (or ``dataset``'s target).
    folds, repeats, seed
        ``sklearn.model_selection.RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats,
        random_state=seed)``; ``RepeatedKFold`` for a regression target, whose scores are the
        RMSE in the target's units and R^2, lowest RMSE first.
    on_fold : callable, optional
        Called with the entry's name after each fold (progress bars).
    grouped : bool
        Also score every entry on folds grouped by ticket (``StratifiedGroupKFold``, reshuffled
        per repeat): no ticket has passengers on both sides of a split, so a feature that
        only pays off through shared tickets (the ``groups`` preset's rates) shows it.
    dataset : DatasetSpec, optional
        Any CSV's description (see :func:`fit_predict`); None: Titanic.
    infer_per_fold : bool
        With ``dataset`` inferred rather than given: infer the feature steps again from each
        fold's training part, so that no choice (the log of a skewed column follows the target)
        looks at the held-out rows' answers.
    """
    from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold

    if folds < 2 or repeats < 1:
        raise OptionError(f"--folds must be at least 2 and --repeats at least 1, got {folds} and {repeats}")
    _check_work(df, entries, folds, repeats, grouped, dataset)  # before the splits are made
    target = (dataset or registry.default().default_spec()).target
    y = target.values(df[target.column])
    if not target.record.classifies:
        if len(df) < 2 * folds:
            raise OptionError(f"{folds}-fold cross-validation needs at least {2 * folds} rows (two per fold); the data has "
                              f"{len(df)} (use fewer --folds or more rows)")
        splits = list(RepeatedKFold(n_splits=folds, n_repeats=repeats, random_state=seed).split(df))
    else:
        smallest = int(np.bincount(y.astype(int), minlength=max(2, target.n_outputs)).min())
        if smallest < folds:
            classes = "survivors and non-survivors" if dataset is None else f"rows of each value of {target.column}"
            raise OptionError(f"{folds}-fold cross-validation needs at least {folds} {classes}; "
                              f"the data has {smallest} of one of them (use fewer --folds or more rows)")
        splits = list(RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed).split(df, y.astype(int)))
    grouped_splits = group_splits(df, folds, repeats, seed) if grouped else []
    fold_specs = [dataset] * len(splits)
    if dataset is not None and infer_per_fold:
        fold_specs = [_fold_spec(df.iloc[train_idx], dataset, target) for train_idx, _ in splits]
    scores = []
    for entry in entries:
        score = Score(entry.name, entry.own, [], [], [], [], log_loss="log_loss" in target.record.metrics)
        for (train_idx, test_idx), fold_spec in zip(splits, fold_specs):
            started = time.perf_counter()
            probs, done = fit_predict(entry, df.iloc[train_idx], df.iloc[test_idx], dataset=fold_spec)
            score.seconds.append(time.perf_counter() - started)
            score.converged.append(done)
            if target.is_regression:  # predictions in the target's units
                found = Target(target.column, "regression").scores(probs, y[test_idx])
                score.rmses.append(found["rmse"])
                score.r2s.append(found["r2"])
            elif target.task == "multiclass":  # each class's probability: accuracy and log loss
                found = target.scores(probs, y[test_idx])
                score.accuracies.append(found["accuracy"])
                score.losses.append(found["log_loss"])
            else:
                score.accuracies.append(float(((probs > 0.5) == (y[test_idx] > 0.5)).mean()))
                score.losses.append(float(((np.clip(probs, 0, 1) - y[test_idx]) ** 2).mean()))  # Brier score
            if on_fold is not None:
                on_fold(entry.name)
        for train_idx, test_idx in grouped_splits:
            probs, _ = fit_predict(entry, df.iloc[train_idx], df.iloc[test_idx])
            score.grouped_accuracies.append(float(((probs > 0.5) == (y[test_idx] > 0.5)).mean()))
            if on_fold is not None:
                on_fold(f"{entry.name}, grouped")
        scores.append(score)
    return sorted(scores, key=lambda s: s.rmse if s.is_regression else -s.accuracy)


def _check_work(df: pd.DataFrame, entries: list[Entry], folds: int, repeats: int, grouped: bool,
                dataset: DatasetSpec | None) -> None:
    """Refuse, before any fit, a board whose estimated work is over the limit (:mod:`titanic_lab.cost`)."""
    def width(entry: Entry) -> int:
        steps = (dataset or registry.default().spec(entry.preset)).features.features
        return feature_count(steps, df)

    def settings_of(entry: Entry):
        ((spec, settings),) = model_settings(entry_config(entry, dataset)).values()
        return spec, settings

    check_cross_validation(entries, len(df), [width(e) for e in entries], folds, repeats, grouped, settings_of)


def any_csv_rows(config: RunConfig) -> tuple[Path, pd.DataFrame, int, DatasetSpec]:
    """Any CSV's rows for the leaderboard, as ``train`` reads them (:func:`~titanic_lab.runs.load_rows`):
    the file's path, every row kept, how many rows ``config.exclude_from`` removed, and the
    table's description (inferred once from every row, or read from ``config.spec``).

    Raises
    ------
    DataError
        A target value that is not one of the spec's two labels.
    """
    path, _, rows, excluded, dataset = load_rows(config)
    target = dataset.target
    unknown = np.isnan(target.values(rows[target.column]))
    if unknown.any():
        raise DataError(path, f"target {target.column} has value {rows[target.column].iloc[unknown.argmax()]!r} on line "
                              f"{line_at(rows, int(unknown.argmax()))}, which is not one of its {target.describe().split(': ', 1)[1]} values")
    return path, rows, excluded, dataset


@dataclass
class Board:
    """A leaderboard ready to run (:func:`prepare_board`): its rows, entries and folds, and the lines a
    person reads about them.

    ``dataset`` is None for a built-in dataset's own board (each entry on its preset's features),
    else the table's description every entry uses.
    """

    path: Path
    rows: pd.DataFrame
    entries: list[Entry]
    folds: int
    repeats: int
    seed: int
    grouped: bool
    dataset: DatasetSpec | None
    infer_per_fold: bool
    notes: list[str]

    @property
    def total_folds(self) -> int:
        """How many fits :meth:`run` makes (its ``on_fold`` calls)."""
        return len(self.entries) * self.folds * self.repeats * (2 if self.grouped else 1)

    def run(self, on_fold: Callable[[str], None] | None = None) -> list[Score]:
        """:func:`cross_validate` every entry on the board's folds; best first."""
        return cross_validate(self.rows, self.entries, self.folds, self.repeats, self.seed, on_fold, self.grouped,
                              dataset=self.dataset, infer_per_fold=self.infer_per_fold)

    def to_dict(self, scores: list[Score]) -> dict:
        """The JSON ``leaderboard --json`` prints."""
        if self.dataset is None:
            return {"data": str(self.path), "folds": self.folds, "repeats": self.repeats, "seed": self.seed,
                    "grouped": self.grouped, "models": [s.to_dict() for s in scores]}
        return {"data": str(self.path), "target": self.dataset.target.column, "task": self.dataset.target.task,
                "rows": len(self.rows), "folds": self.folds, "repeats": self.repeats, "seed": self.seed,
                "models": [s.to_dict() for s in scores]}


def prepare_board(config: RunConfig, names: list[str] | None = None, folds: int = 5, repeats: int = 3, seed: int = 42,
                  grouped: bool | None = None, plot: Path | None = None) -> Board:
    """Read ``config``'s data and choose the entries ``names`` select (:func:`find_entries`), checking every
    option and output first.

    A built-in dataset with a board (Titanic's, without ``--target``) is scored on its own board, by
    default also on grouped folds (``grouped``: its ``groups``, Titanic's tickets). Any other table,
    and a built-in dataset without a board, is scored on its task's board (:data:`ANY_CSV_ENTRIES`)
    with its spec's features, every row its own group.

    Raises
    ------
    OptionError
        A bad option: folds, repeats, seed, an entry's name, ``grouped`` where rows have no groups.
    DataError
        A data file that cannot be read, or a target value the spec does not know.
    """
    known = None if (config.target or config.spec) else registry.named(config.dataset)
    path = data_path(config)
    exclude_from = config.exclude_from
    if known is not None and known.board:
        grouped = known.groups is not None if grouped is None else grouped
        check_cv(folds, repeats, seed)
        entries = find_entries(names)
        check_outputs({"--data": path, "--exclude-from": exclude_from}, {"--plot": plot})
        df, notes = known.read(path), []
        if exclude_from is not None:
            overlap = known.same_rows(df, known.read(exclude_from, require_target=False))
            df, dropped = df[~overlap].reset_index(drop=True), int(overlap.sum())
            notes.append(f"left out {dropped} rows that are {known.row_word} of {exclude_from}")
        elif known.source_note(path):
            notes.append(known.source_note(path))
        notes.append(f"data: {known.describe_source(path)}, {len(df)} rows; {folds} folds x {repeats} repeats")
        return Board(path, df, entries, folds, repeats, seed, grouped, None, False, notes)
    if grouped is not None:
        raise OptionError("--grouped/--no-grouped: folds grouped by ticket are Titanic's; with --target or --spec "
                          "every row is its own group (leave the option out)" if known is None else
                          f"--grouped/--no-grouped: {known.name} has no groups of rows to keep on one side of a split "
                          "(leave the option out)")
    check_cv(folds, repeats, seed)
    check_outputs({"--data": path, "--exclude-from": exclude_from, "--spec": config.spec}, {"--plot": plot})
    path, df, excluded, dataset = any_csv_rows(config)
    entries = find_entries(names, dataset.target.task)
    notes = [f"data: {describe_data(config, path)}, {len(df)} rows; {folds} folds x {repeats} repeats",
             *(f"  {line}" for line in dataset.describe())]
    if exclude_from is not None:
        notes.append(f"left out {excluded} rows whose {dataset.id_column} is in {exclude_from}")
    return Board(path, df, entries, folds, repeats, seed, False, dataset, bool(config.target) and config.spec is None, notes)


def group_splits(df: pd.DataFrame, folds: int, repeats: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds grouped by the default dataset's groups (Titanic's tickets, compared without
    case), reshuffled per repeat: no group has rows on both sides of a split."""
    from sklearn.model_selection import StratifiedGroupKFold

    dataset = registry.default()
    y = df[dataset.default_spec().target.column].to_numpy(dtype=int)
    tickets = dataset.groups(df)
    splits: list[tuple[np.ndarray, np.ndarray]] = []
    for r in range(repeats):
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed + r)
        splits += list(splitter.split(df, y, groups=tickets))
    return splits


def leaderboard_figure(scores: list[Score]):
    """A matplotlib Figure: one row per model, named on the y axis, best on top.

    Left, the mean accuracy (RMSE for a regression target) with the standard deviation over folds
    as an error bar; right, the mean fit seconds per fold (log scale). Circles are titanic-lab's
    models, squares baselines.
    """
    from .plots import pyplot

    rows = list(range(len(scores)))[::-1]  # the best (first) score on top
    fig, (acc_ax, time_ax) = pyplot().subplots(1, 2, sharey=True, figsize=(10, 1.2 + 0.38 * len(scores)), dpi=110,
                                          gridspec_kw={"width_ratios": (2, 1)})
    for y, s in zip(rows, scores):
        style = {"fmt": "o", "color": "C0"} if s.own else {"fmt": "s", "color": "C3"}
        acc_ax.errorbar(*((s.rmse, y, s.rmse_std) if s.is_regression else (s.accuracy, y, s.accuracy_std)), capsize=3, **style)
        time_ax.plot(statistics.fmean(s.seconds), y, style["fmt"], color=style["color"])
    acc_ax.set_yticks(rows, [s.name for s in scores])
    metric, folds = ("RMSE", len(scores[0].rmses)) if scores[0].is_regression else ("accuracy", len(scores[0].accuracies))
    acc_ax.set_xlabel(f"cross-validated {metric}, mean +- std over {folds} folds")
    time_ax.set_xscale("log")
    time_ax.set_xlabel("fit seconds per fold (log scale)")
    for ax in (acc_ax, time_ax):
        ax.grid(alpha=0.3)
    acc_ax.set_title("circles: titanic-lab, squares: baselines", fontsize=9)
    fig.tight_layout()
    return fig


def plot_leaderboard(scores: list[Score], path: str | Path) -> list[str]:
    """Write :func:`leaderboard_figure` as a PNG; returns the model names on its y axis, top first."""
    from .plots import save_png

    fig = leaderboard_figure(scores)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()][::-1]
    save_png(fig, path)
    return labels
