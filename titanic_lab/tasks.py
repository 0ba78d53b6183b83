"""Tasks, each one record: regression, binary and multiclass classification.

A task says how a target column becomes the numbers a model learns and how a model's outputs
become predictions in the file's words again, which head and loss a model ends in, which
metrics a run reports and which baselines the leaderboard measures. A
:class:`~titanic_lab.datasets.spec.Target` names its task; what differs between tasks is looked up
here, so a new task is one entry in :data:`TASKS`.

===========  =============================  ==================  ===========================  ==========================
task         the model learns               predictions         metrics                      leaderboard baselines
===========  =============================  ==================  ===========================  ==========================
regression   (target - min) / scale         outputs*scale+min   RMSE, R^2                    mean, linear regression
binary       0/1 (labels mapped)            > 0.5 -> positive   accuracy                     majority, logistic regr.
multiclass   the class's number 0..K-1      the likeliest class accuracy, log loss           majority, multinomial LR,
                                                                                             gradient boosting
===========  =============================  ==================  ===========================  ==========================

Imports neither torch nor scikit-learn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np
import pandas as pd

from .errors import DataError
from .file_rows import line_at


class Target(Protocol):
    """What a task's functions read of a target (:class:`titanic_lab.datasets.spec.Target`, which imports this module)."""

    column: str
    labels: tuple | None
    scale: float | None
    offset: float | None

    @property
    def divisor(self) -> float: ...

    def in_units(self, outputs: np.ndarray) -> np.ndarray: ...

#: The most classes a multiclass target may have: a score column, a parameter block and a
#: probability column per class, and a confusion matrix of classes x classes.
MAX_CLASSES = 50
#: The control characters XML 1.0 refuses (all of C0 but tab, newline and carriage return).
_XML_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass(frozen=True)
class Task:
    """What a kind of target means for training, the workbook, predict and the leaderboard.

    Attributes
    ----------
    name : str
        As a spec writes it (``task = "multiclass"``) and ``--task`` takes it.
    head : str or None
        The output head every model ends in (a name in :data:`titanic_lab.ops.HEADS`); None keeps
        each model kind's own (identity, sum or sigmoid).
    loss : str or None
        The loss trained when none is given; None keeps each model kind's own.
    metrics : tuple of str
        The scores a run reports, as :meth:`scores` names them.
    baselines : tuple of str
        What the leaderboard measures titanic-lab's models against.
    values : callable
        ``(target, column)`` -> the numbers the model learns, before any scale (NaN for a value
        that is none of the target's).
    decode : callable
        ``(target, outputs)`` -> predictions in the file's words (labels) or the target's units.
    scores : callable
        ``(target, outputs, y)`` -> ``{metric: value}`` of outputs against what the model learned.
    shown : tuple of str
        The scores ``train``'s summary shows (``train_accuracy``, ``valid_rmse``...).
    choose_by : tuple of str
        The validation metrics every model sheet records whatever its loss, and by which ``train``
        and ``predict`` choose a model: the first decides, the next breaks a tie (names in
        :data:`titanic_lab.choosing.METRICS`).
    predictions : callable
        ``(target, column)`` -> what a column of predictions holds, in words, for ``predict``'s
        summary (a range, or a count per class).
    describe : callable
        ``target`` -> the target in words, after its column's name (``binary (0/1)``).
    classifies : bool
        The target is a class: models are trained and scored as classifiers, the leaderboard's
        folds are stratified by class, and there is an accuracy to plot.
    per_class : bool
        A model ends in a column per class (the softmax), a sheet's target column holds the class
        as the file writes it, and the run reports a confusion matrix.
    scaled : bool
        The model learns ``(target - offset) / scale`` (both learned from the training rows: the offset
        their smallest target), and its outputs times the scale plus the offset are predictions in the
        target's units.
    metric_title : str
        How a table heads the task's first metric (``RMSE``, ``accuracy``).
    """

    name: str
    head: str | None
    loss: str | None
    metrics: tuple[str, ...]
    baselines: tuple[str, ...]
    values: Callable[[Target, pd.Series], np.ndarray]
    decode: Callable[[Target, np.ndarray], np.ndarray]
    scores: Callable[[Target, np.ndarray, np.ndarray], dict[str, float | None]]
    shown: tuple[str, ...]
    choose_by: tuple[str, ...]
    predictions: Callable[[Target, pd.Series], str]
    describe: Callable[[Target], str]
    classifies: bool
    per_class: bool
    scaled: bool
    metric_title: str


def same(column: pd.Series, value: object, *, without_case: bool = False) -> np.ndarray:
    """Where ``column`` equals ``value``, numbers compared as numbers and text as text (``without_case``: as a
    spreadsheet's ``=`` and ``MATCH`` compare it, ``ADELIE`` equal to ``Adelie``)."""
    if isinstance(value, str):
        text = column.astype(object).where(column.notna(), None).astype(str)
        if without_case:
            return (text.str.lower() == value.lower()).to_numpy() & column.notna().to_numpy()
        return (text == value).to_numpy() & column.notna().to_numpy()
    return (pd.to_numeric(column, errors="coerce") == value).to_numpy()


# ---- regression ---------------------------------------------------------------------------


def _numbers(target: Target, column: pd.Series) -> np.ndarray:
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)


def _regression_scores(target: Target, outputs: np.ndarray, y: np.ndarray) -> dict[str, float | None]:
    """RMSE in the target's units and R^2 (None for a constant target)."""
    if not len(y):
        return {"rmse": None, "r2": None}
    error = (outputs - y) * target.divisor
    spread = float(np.sum((y * target.divisor - np.mean(y * target.divisor)) ** 2))
    return {"rmse": float(np.sqrt(np.mean(error**2))), "r2": None if spread == 0 else 1 - float(np.sum(error**2)) / spread}


def _regression_words(target: Target) -> str:
    if target.scale is None:
        return "regression"
    if target.offset:
        return f"regression, learned as ({target.column} - {target.offset:g}) / {target.scale:g}"
    return f"regression, learned as {target.column} / {target.scale:g}"


def _range(target: Target, predicted: pd.Series) -> str:
    return f"{target.column} predicted from {predicted.min():.4g} to {predicted.max():.4g}"


# ---- binary -------------------------------------------------------------------------------


def _zero_one(target: Target, column: pd.Series) -> np.ndarray:
    if target.labels is None:
        return _numbers(target, column)
    negative, positive = target.labels
    return np.where(same(column, positive), 1.0, np.where(same(column, negative), 0.0, np.nan))


def _binary_decode(target: Target, outputs: np.ndarray) -> np.ndarray:
    positive = np.asarray(outputs) > 0.5
    if target.labels is None:
        return positive.astype(int)
    negative_label, positive_label = target.labels
    return np.where(positive, positive_label, negative_label)


def _binary_words(target: Target) -> str:
    return "binary (0/1)" if target.labels is None else f"binary ({target.labels[0]} = 0, {target.labels[1]} = 1)"


def _positives(target: Target, predicted: pd.Series) -> str:
    positive = target.labels[1] if target.labels else 1
    return f"{int((predicted == positive).sum())} predicted {target.column} = {positive}"


def _binary_scores(target: Target, outputs: np.ndarray, y: np.ndarray) -> dict[str, float | None]:
    """Accuracy: an output above 0.5 is the positive class."""
    if not len(y):
        return {"accuracy": None}
    return {"accuracy": float(np.mean((outputs > 0.5) == (y > 0.5)))}


# ---- multiclass ---------------------------------------------------------------------------


def _class_numbers(target: Target, column: pd.Series) -> np.ndarray:
    """Each row's class as its number in ``target.labels`` (0, 1, ...), NaN for another value; text compared without
    case, as the sheet's ``MATCH`` compares it (:func:`check_classes` refuses classes that differ only in case)."""
    out = np.full(len(column), np.nan)
    for k, label in enumerate(target.labels or ()):
        out[same(column, label, without_case=True)] = k
    return out


def _likeliest(target: Target, outputs: np.ndarray) -> np.ndarray:
    """The label of each row's largest probability (the first, on a tie, as MATCH finds it)."""
    return np.asarray(target.labels, dtype=object)[np.asarray(outputs).argmax(-1)]


def _multiclass_words(target: Target) -> str:
    return f"multiclass, {len(target.labels)} classes in this order: {', '.join(map(str, target.labels))}"


def _per_class(target: Target, predicted: pd.Series) -> str:
    counts = predicted.value_counts()
    return "predicted " + ", ".join(f"{label} {int(counts.get(label, 0))}" for label in target.labels)


def _multiclass_scores(target: Target, outputs: np.ndarray, y: np.ndarray) -> dict[str, float | None]:
    """Accuracy (the likeliest class is right) and log loss (the mean of -ln p of the true class)."""
    if not len(y):
        return {"accuracy": None, "log_loss": None}
    outputs, index = np.asarray(outputs, dtype=float), np.asarray(y).astype(int)
    p_true = outputs[np.arange(len(index)), index]
    return {"accuracy": float(np.mean(outputs.argmax(-1) == index)),
            "log_loss": float(-np.mean(np.log(np.maximum(p_true, 1e-300))))}


def confusion(outputs: np.ndarray, y: np.ndarray, n_classes: int) -> np.ndarray:
    """The confusion matrix of class probabilities ``outputs`` (n_rows, n_classes) against class
    numbers ``y``: entry (i, j) counts the rows of class i whose likeliest class is j."""
    out = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(out, (np.asarray(y).astype(int), np.asarray(outputs).argmax(-1)), 1)
    return out


def check_classes(column: pd.Series, name: str, where: object) -> tuple:
    """The classes of a multiclass target column, in their stated order: numbers by value, then
    text in alphabetical order (as Python sorts text: capitals first).

    Raises
    ------
    DataError
        For fewer than 3 classes, more than :data:`MAX_CLASSES`, or a class with a single row
        (it could never be both learned from and checked).
    """
    counts = column.dropna().value_counts()
    classes = tuple(plain(v) for v in sorted(counts.index, key=lambda v: (isinstance(v, str), v)))
    if len(classes) > MAX_CLASSES:
        raise DataError(where, f"target {name} has {len(classes):,} classes, more than the {MAX_CLASSES} titanic-lab "
                               "learns (a score column, parameters and a probability column each); group them or "
                               "choose another --target")
    if len(classes) < 3:
        raise DataError(where, f"target {name} has {len(classes)} classes; a multiclass target needs 3 or more "
                               "(two values are binary: leave --task out)")
    control = [c for c in classes if isinstance(c, str) and _XML_CONTROL.search(c)]
    if control:
        raise DataError(where, f"target {name}: class {control[0]!r} holds a control character, which a workbook "
                               "cannot hold as the text a formula gives (it is not valid in the sheet's XML); "
                               "replace it in the column")
    seen: dict[str, str] = {}
    for c in classes:
        if isinstance(c, str) and seen.setdefault(c.lower(), c) != c:
            raise DataError(where, f"target {name}: classes {seen[c.lower()]!r} and {c!r} differ only in case, and a "
                                   "spreadsheet compares text without case (the sheet's MATCH and its confusion counts would take "
                                   "them for one class): write them alike in the column")
    single = [c for c, v in zip(classes, sorted(counts.index, key=lambda v: (isinstance(v, str), v))) if counts[v] == 1]
    if single:
        raise DataError(where, f"target {name}: class {single[0]!r} has a single row ({len(single)} class(es) do); a "
                               "class needs 2 rows or more to be learned and checked: drop or merge its rows")
    return classes


def check_known_classes(target: Target, column: pd.Series, where: object) -> None:
    """Refuse a multiclass target column that holds a class the model never learned, naming it and its line (a known
    class written in another case, ``ADELIE`` for ``Adelie``, is that class)."""
    unknown = column.notna().to_numpy() & np.isnan(_class_numbers(target, column))
    if unknown.any():
        first = int(unknown.argmax())
        raise DataError(where, f"target {target.column} holds class {plain(column.iloc[first])!r} (line {line_at(column, first)}), "
                               f"which the model never learned: its classes are {', '.join(map(str, target.labels))}")


def plain(value: object) -> object:
    """A numpy scalar as plain Python (a whole float as int), so it prints and serialises as written."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: Every task, by name (as a spec writes ``task = ...``).
TASKS: dict[str, Task] = {t.name: t for t in (
    Task("binary", None, None, ("accuracy",), ("majority", "logistic regression", "gradient boosting"),
         _zero_one, _binary_decode, _binary_scores, ("train_accuracy", "valid_accuracy"), ("accuracy", "log_loss"), _positives,
         _binary_words, classifies=True, per_class=False, scaled=False, metric_title="accuracy"),
    Task("regression", None, None, ("rmse", "r2"), ("mean", "linear regression", "gradient boosting"),
         _numbers, lambda target, outputs: target.in_units(np.asarray(outputs, dtype=float)), _regression_scores,
         ("train_rmse", "valid_rmse", "valid_r2"), ("rmse",), _range,
         _regression_words, classifies=False, per_class=False, scaled=True, metric_title="RMSE"),
    Task("multiclass", "softmax", "ce", ("accuracy", "log_loss"),
         ("majority", "multinomial logistic regression", "gradient boosting"),
         _class_numbers, _likeliest, _multiclass_scores, ("train_accuracy", "valid_accuracy", "valid_log_loss"),
         ("accuracy", "log_loss"), _per_class,
         _multiclass_words, classifies=True, per_class=True, scaled=False, metric_title="accuracy"),
)}


def get_task(name: str) -> Task:
    """The task called ``name``; :class:`KeyError` never reaches a user: specs and options check names first."""
    return TASKS[name]
