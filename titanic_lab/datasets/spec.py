"""What a table is: its target, its id column, its task and its feature steps.

A :class:`DatasetSpec` describes one table. A built-in dataset (:mod:`.titanic`) gives one per
preset; any other CSV gets one inferred from its columns (:mod:`.infer`), which can be written
out as TOML, edited and passed back (:func:`spec_to_toml`, :func:`~.registry.read_spec`). A
workbook stores the spec it was trained with, so ``compare`` and ``predict`` read it rather
than recognise a preset.

The target is a :class:`Target`: binary classification (0/1, or two values such as Yes/No
mapped to 0/1 with the mapping shown) or regression (a numeric target, learned as
``(target - min) / scale`` so that every model's default learning rate fits any unit; predictions and
RMSE are in the target's units).

Importing this module imports neither torch nor scikit-learn.
"""

from __future__ import annotations

import json
import math
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Callable, Literal, Mapping

import numpy as np
import pandas as pd

from .. import sheet_layout as sl
from ..errors import DataError, TitanicLabError
from ..features.registry import FEATURE_KINDS, feature_kind
from ..features.preset import Preset
from ..features.steps import Feature
from ..files import atomic_output
from ..ops import ACTIVATIONS
from ..tasks import TASKS as TASK_RECORDS
from ..tasks import Task as TaskRecord
from ..tasks import get_task, plain
from ..spec_schema import SpecError, check_document, check_text
from ..spec_schema import check_table as check_spec_table

Task = Literal["binary", "regression", "multiclass"]
TASKS: tuple[str, ...] = tuple(TASK_RECORDS)
SPEC_FORMAT = "titanic-lab/spec-v1"


@dataclass(frozen=True)
class Target:
    """The column a model learns, and how its values become the numbers the model learns.

    What differs between tasks (the numbers learned, the predictions, the scores) is the task's
    record in :mod:`titanic_lab.tasks`.

    Parameters
    ----------
    column : str
        The target's column.
    task : {"binary", "regression", "multiclass"}
        Binary classification (a prediction above 0.5 is the positive class), regression, or
        multiclass classification (the likeliest class is the prediction).
    labels : tuple, optional
        Binary: the (negative, positive) values as the file writes them; None when they are 0 and 1.
        Multiclass: every class as the file writes it, in the order of the model's outputs.
    scale : float, optional
        Regression: the model learns ``(target - offset) / scale``; None until learned (the
        root mean square of the training rows' ``target - offset``, so that what the model
        learns is about 1 in size whatever the unit).
    offset : float, optional
        Regression: learned with ``scale``, the smallest target of the training rows, so that
        what the model learns starts at 0: every training value is at least 0, as the nnet's sum
        of ReLUs can reach, and the ``Ones`` weight, which the l2 penalty chosen by data shrinks
        like any other, carries the mean's distance from the smallest rather than the mean's
        from 0 (test scores near 650 with a spread of 19 made that weight 34 spreads large and
        the penalty chosen tiny; ``RidgeCV`` leaves its intercept unpenalised). None (0) when a
        spec gives a scale alone.
    """

    column: str
    task: Task = "binary"
    labels: tuple | None = None
    scale: float | None = None
    offset: float | None = None

    @property
    def record(self) -> TaskRecord:
        """The task's record: its head, loss, metrics, baselines."""
        return get_task(self.task)

    @property
    def is_regression(self) -> bool:
        return self.task == "regression"

    @property
    def n_outputs(self) -> int:
        """How many outputs a model of this target has: one per class (multiclass), else 1."""
        return len(self.labels) if self.record.per_class else 1

    def values(self, column: pd.Series) -> np.ndarray:
        """The target as the model learns it before any scale: 0/1 (binary), the number (regression),
        the class's number 0..K-1 (multiclass)."""
        return self.record.values(self, column)

    def sheet_values(self, column: pd.Series) -> np.ndarray:
        """The target as the sheet's target column holds it: the class as written (multiclass), else :meth:`values`."""
        return column.to_numpy(dtype=object) if self.record.per_class else self.values(column)

    def sheet_numbers(self, column: pd.Series) -> np.ndarray:
        """What the model learns (before any scale) from the sheet's target column, as :meth:`sheet_values` wrote it."""
        return self.values(column) if self.record.per_class else pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)

    def learn_scale(self, column: pd.Series) -> "Target":
        """This target with ``scale`` learned from ``column`` (kept when already set)."""
        if not self.record.scaled or self.scale is not None:
            return self
        values = self.values(column)
        with np.errstate(all="ignore"):
            smallest = float(np.nanmin(values)) if len(column) and np.isfinite(values).any() else 0.0
            smallest = smallest if math.isfinite(smallest) else 0.0
            above = values - smallest
            biggest = float(np.nanmax(np.abs(above))) if len(column) else 0.0
            # The root mean square, computed on values / their largest so that 1e-200 or 1e200 neither under- nor overflows.
            rms = biggest * float(np.sqrt(np.nanmean((above / biggest) ** 2))) if biggest > 0 and math.isfinite(biggest) else 0.0
        return replace(self, scale=rms if rms > 0 and math.isfinite(rms) else 1.0, offset=smallest)

    @property
    def divisor(self) -> float:
        """What the model's outputs are multiplied by to be in the target's units."""
        return float(self.scale or 1.0) if self.record.scaled else 1.0

    @property
    def shift(self) -> float:
        """What is added to the model's outputs times :attr:`divisor` to be in the target's units (the offset; 0 without)."""
        return float(self.offset or 0.0) if self.record.scaled else 0.0

    def learned(self, values: np.ndarray) -> np.ndarray:
        """The target's numbers (:meth:`values`) as the model learns them: ``(values - offset) / scale``."""
        return (values - self.shift) / self.divisor

    def in_units(self, outputs: np.ndarray) -> np.ndarray:
        """The model's outputs in the target's units: ``outputs * scale + offset``."""
        return outputs * self.divisor + self.shift

    def decode(self, preds: np.ndarray) -> np.ndarray:
        """Model outputs -> predictions in the file's terms: labels (binary, multiclass) or target units."""
        return self.record.decode(self, preds)

    def scores(self, outputs: np.ndarray, y: np.ndarray) -> dict[str, float | None]:
        """How good model outputs are against what the model learned (both ``(target - min) / scale``).

        Binary: ``accuracy`` (a prediction above 0.5 is 1). Regression: ``rmse`` in the
        target's units and ``r2`` (1 - squared error / the target's variance; None for a
        constant target). Multiclass: ``accuracy`` and ``log_loss``. Empty arrays give None.
        """
        return self.record.scores(self, np.asarray(outputs, dtype=float), np.asarray(y, dtype=float))

    def describe(self) -> str:
        """One line: ``Survived: binary (0/1)``, ``Attrition: binary (No = 0, Yes = 1)``, ``price: regression``,
        ``species: multiclass, 3 classes in this order: Adelie, Chinstrap, Gentoo``."""
        return f"{self.column}: {self.record.describe(self)}"


@dataclass(frozen=True)
class DatasetSpec:
    """A table's description: target, id column, feature steps and the columns left out.

    Parameters
    ----------
    name : str
        ``titanic`` for the flagship; else the data file's name.
    target : Target
    features : Preset
        The feature steps (for Titanic, the chosen preset).
    id_column : str, optional
        The column that names each row (predictions are written with it).
    left_out : dict of str to str
        Columns of the file that give no feature, each with the reason.
    """

    name: str
    target: Target
    features: Preset
    id_column: str | None = None
    left_out: dict[str, str] = field(default_factory=dict)

    @property
    def raw_columns(self) -> tuple[str, ...]:
        return self.features.raw_columns

    def describe(self) -> list[str]:
        """Lines a person reads: the target, the id, each feature step and each column left out."""
        lines = [f"target: {self.target.describe()}", f"id: {self.id_column or '(none: rows are numbered)'}"]
        lines += [f"feature {describe_feature(f)}" for f in self.features.features]
        lines += [f"left out {column}: {why}" for column, why in self.left_out.items()]
        return lines


@dataclass(frozen=True)
class Entry:
    """A model on the leaderboard (:mod:`titanic_lab.leaderboard`).

    ``model`` is one of titanic-lab's models (``linear``, ``nnet``...) trained by hand on
    ``preset``'s features, or a baseline: one of the dataset's :attr:`Dataset.rules` (Titanic's
    ``gender``: female survives), or scikit-learn's ``logistic``, ``forest``, ``boosting`` on
    ``preset``'s features. On any CSV (see :data:`titanic_lab.leaderboard.ANY_CSV_ENTRIES`)
    ``preset`` is empty: every entry uses the table's spec.
    """

    name: str
    model: str
    preset: str
    own: bool
    #: Training options on top of the model's defaults, as (name, value) pairs: (("l2", 0.01),).
    options: tuple[tuple[str, object], ...] = ()



@dataclass(frozen=True)
class Dataset:
    """A built-in dataset: what the general code needs of a table it knows by name.

    One module per dataset defines one (``titanic.DATASET``); the registry
    (:mod:`titanic_lab.datasets.registry`) lists them. A spec whose ``name`` is a dataset's
    is that dataset's.

    Attributes
    ----------
    name : str
        The spec's name (``titanic``).
    title : str
        The heading of a workbook's README sheet.
    presets : mapping of str to Preset
        Its feature presets, the first the default.
    spec : callable
        A preset (or its name) -> the :class:`DatasetSpec` that trains on it.
    read : callable
        ``(path, *, require_target)`` -> the rows, read and checked.
    default_path : callable
        ``()`` -> the file used when none is given.
    describe_source : callable
        A path -> how a "data: ..." line names it.
    select_rows : callable or None
        ``(rows, preset)`` -> the rows a preset's row selection keeps (``--complete-rows``).
    same_rows : callable or None
        ``(rows, others)`` -> which of ``rows`` are in ``others`` too (``--exclude-from``, predict's overlap check).
    raw_columns : tuple of str
        The raw columns every preset reads: a workbook without a stored spec shows them.
    sheet_order : tuple of str
        The order of raw columns in a model sheet (the lesson's), before the file's others.
    all_rows_order : tuple of str
        The order of columns in the "all rows" sheet.
    identity_columns : tuple of str
        The columns that tell rows apart across files (the ``all_rows`` sheet keeps them).
    same_rows_words : str
        How a refusal to predict rows the workbook was trained on words them (``{model}``: the workbook).
    same_rows_key : str
        What makes two rows the same for ``same_rows``, in words.
    count_words : str
        How ``predict``'s summary counts a binary target's positive predictions (``{n}``); empty:
        the general wording (``N predicted target = label``, or a regression's range).
    rules : mapping of str to callable
        Baselines that predict from the raw rows with nothing to fit, by leaderboard model name:
        ``rows -> outputs`` (Titanic's ``gender``: every woman survives).
    groups : callable or None
        ``rows -> keys``: rows sharing a key stay on one side of a grouped fold (Titanic's
        tickets; the leaderboard's ``--grouped``); None when the dataset has no such groups.
    board : tuple of Entry
        Its leaderboard (``titanic-lab leaderboard`` without ``--target``): its models on its
        presets and its baselines; ``submit`` chooses among its own entries. Empty: the board of
        its task (:data:`titanic_lab.leaderboard.ANY_CSV_ENTRIES`) on its default preset.
    source_note : callable
        ``path -> str``: a note for a leaderboard on ``path`` without ``--exclude-from`` (the bundled
        titanic3 holds Kaggle's test answers), or ``""``.
    row_word : str
        What a row is, in messages about rows matched across files (``passengers``).
    submission_words : str
        How ``submit``'s summary counts a submission's positive predictions (``{n} survive``).
        Empty: the dataset has no competition to submit to, and ``submit`` refuses it.
    """

    name: str
    title: str
    presets: Mapping[str, Preset]
    spec: Callable[..., "DatasetSpec"]
    read: Callable[..., pd.DataFrame]
    default_path: Callable[[], Path]
    describe_source: Callable[[Path], str]
    select_rows: Callable[[pd.DataFrame, object], pd.DataFrame] | None = None
    same_rows: Callable[[pd.DataFrame, pd.DataFrame], np.ndarray] | None = None
    raw_columns: tuple[str, ...] = ()
    sheet_order: tuple[str, ...] = ()
    all_rows_order: tuple[str, ...] = ()
    identity_columns: tuple[str, ...] = ()
    #: How a refusal to predict rows the workbook was trained on words them (``{model}``: the workbook).
    same_rows_words: str = ""
    same_rows_key: str = ""
    count_words: str = ""
    rules: Mapping[str, Callable[[pd.DataFrame], np.ndarray]] = field(default_factory=dict)
    groups: Callable[[pd.DataFrame], pd.Series] | None = None
    board: tuple[Entry, ...] = ()
    source_note: Callable[[Path], str] = lambda path: ""
    row_word: str = "rows"
    submission_words: str = ""

    def default_spec(self) -> "DatasetSpec":
        """The spec of its first (default) preset."""
        return self.spec(next(iter(self.presets)))

    def complete_rows(self, rows: pd.DataFrame, preset: str, path: object) -> pd.DataFrame:
        """The rows the preset's row selection keeps (``--complete-rows``): the dataset's own rule, else the
        rows with a value in every column of the preset's ``complete_rows``; an error names the file ``path``."""
        if self.select_rows is None:
            return rows.dropna(subset=list(self.presets[preset].complete_rows))
        try:
            return self.select_rows(rows, preset)
        except TitanicLabError as exc:
            raise DataError(path, str(exc)) from None


def describe_feature(feat: Feature) -> str:
    """``Age_N = Age (blank: median) / max``: one feature step in words (its kind's record words it)."""
    fill = "" if feat.fill is None else f" (blank: {feat.fill if feat.fill != 'constant' else feat.fill_value})"
    return feature_kind(feat.kind).describe(feat, f"{feat.column}{fill}")


# ---- TOML ---------------------------------------------------------------------------------

_FEATURE_DEFAULTS = {f.name: f.default for f in fields(Feature)}


def spec_to_toml(spec: DatasetSpec) -> str:
    """The spec as TOML a person can edit (:func:`read_spec` reads it back)."""
    lines = [
        "# titanic-lab dataset spec: what the model learns and from which columns.",
        "# Edit it and pass it back: titanic-lab train --data FILE.csv --spec THIS.toml",
        "# Feature kinds: number, log (log of x+1), binary, dummies, missing, ones (the bias);",
        "# of a date column: year, month, weekday (Monday 1 to Sunday 7), days (since origin); delete an entry to drop it;",
        "# fill: median, mode, constant (with fill_value) or none; scale: max, zscore or none.",
        f"format = {_toml(SPEC_FORMAT)}",
        f"name = {_toml(spec.name)}",
    ]
    if spec.features.name != spec.name:
        lines.append(f"preset = {_toml(spec.features.name)}")
    if spec.id_column is not None:
        lines.append(f"id = {_toml(spec.id_column)}")
    target = spec.target
    lines += ["", "[target]", f"column = {_toml(target.column)}", f"task = {_toml(target.task)}"]
    if target.record.per_class:
        lines.append(f"classes = {_toml(list(target.labels))}  # in this order: the model's outputs, P1, P2, ...")
    elif target.labels is not None:
        lines.append(f"labels = {_toml(list(target.labels))}  # negative, positive")
    if target.scale is not None and target.offset is not None:
        lines.append(f"scale = {_toml(target.scale)}  # the model learns ({target.column} - offset) / scale")
        lines.append(f"offset = {_toml(target.offset)}")
    elif target.scale is not None:
        lines.append(f"scale = {_toml(target.scale)}  # the model learns {target.column} / scale")
    for feat in spec.features.features:
        lines += ["", "[[features]]"]
        for key in ("column", "kind", "name"):
            lines.append(f"{key} = {_toml(getattr(feat, key))}")
        for key, default in _FEATURE_DEFAULTS.items():
            value = getattr(feat, key)
            if key in ("column", "kind", "name") or value == default or (not feature_kind(feat.kind).reads and key == "fill"):
                continue
            lines.append(f"{key} = {_toml('none' if value is None else list(value) if isinstance(value, tuple) else value)}")
    if spec.left_out:
        lines += ["", "[left_out]  # columns that give no feature, and why"]
        lines += [f"{_toml(column)} = {_toml(why)}" for column, why in spec.left_out.items()]
    return "\n".join(lines) + "\n"


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, np.integer, np.floating)):
        value = plain(value)
        return repr(value) if isinstance(value, int) else repr(float(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string


def spec_from_toml(text: str, where: object = "spec") -> DatasetSpec:
    """Parse :func:`spec_to_toml`'s format; every problem names ``where`` and the entry."""
    check_text(text, where)  # size and nesting, before the parser recurses
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(where, f"is not valid TOML ({exc})") from None
    check_document(doc, where, FEATURE_KINDS, set(_FEATURE_DEFAULTS))  # keys, types and bounds (spec_schema)
    if doc.get("format", SPEC_FORMAT) != SPEC_FORMAT:
        raise SpecError(where, f"format {doc['format']!r} is not {SPEC_FORMAT!r}")
    t = doc["target"]  # a table with a text column: check_document made sure
    task = t.get("task", "binary")
    if task not in TASKS:
        raise SpecError(where, f"[target] task = {task!r}; write one of {', '.join(TASKS)}")
    labels = t.get("labels")
    if labels is not None and (task != "binary" or not isinstance(labels, list) or len(labels) != 2 or labels[0] == labels[1]):
        raise SpecError(where, "[target] labels = [negative, positive]: two different values, for task = \"binary\" only")
    scale = t.get("scale")
    if scale is not None and (task != "regression" or not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0):
        raise SpecError(where, "[target] scale must be a positive number, for task = \"regression\" only")
    offset = t.get("offset")
    if offset is not None and (scale is None or not isinstance(offset, (int, float)) or not math.isfinite(offset)):
        raise SpecError(where, "[target] offset must be a number, beside a scale")
    classes = t.get("classes")
    if classes is not None and (task != "multiclass" or not isinstance(classes, list) or len(classes) < 3
                                or len(set(map(str, classes))) != len(classes)):
        raise SpecError(where, "[target] classes = [\"a\", \"b\", \"c\", ...]: 3 or more different values, for "
                               "task = \"multiclass\" only")
    if classes is not None:
        labels = classes
    target = Target(t["column"], task, None if labels is None else tuple(labels), None if scale is None else float(scale),
                    None if offset is None else float(offset))
    steps = tuple(_feature(entry, i, where) for i, entry in enumerate(doc["features"], start=1))
    name = str(doc.get("name", "data"))
    left_out = doc.get("left_out", {})
    id_column = doc.get("id")
    description = f"from {where}: " + ", ".join(f.output_name for f in steps)
    preset = Preset(str(doc.get("preset", name)), steps, description=description)
    return DatasetSpec(name, target, preset, id_column, {str(k): str(v) for k, v in left_out.items()})


def _feature(entry: object, i: int, where: object) -> Feature:
    at = f"[[features]] entry {i}"
    kind = entry.get("kind", "number")
    record = FEATURE_KINDS[kind]
    values = {"column": "", **entry}  # the bias reads no column
    if values.get("fill") == "none":
        values["fill"] = None
    if not record.reads:  # the bias: nothing to fill
        values["fill"] = None
    checks = {"fill": (None, "mode", "median", "constant"), "scale": (None, "none", "max", "zscore")}
    for key, allowed in checks.items():
        if values.get(key) not in allowed:
            raise SpecError(where, f"{at}: {key} = {values[key]!r}; write one of {', '.join(a for a in allowed if a)}")
    if values.get("scale") == "none":
        values["scale"] = None
    if "levels" in values:
        values["levels"] = tuple(values["levels"])
    for key, message in record.needs:  # what this kind cannot do without
        if values.get(key) is None or values.get(key) == "":
            raise SpecError(where, f"{at}: {message}")
    if kind == "constant" or (values.get("fill") == "constant" and "fill_value" not in values):
        raise SpecError(where, f"{at}: fill = \"constant\" needs fill_value")
    return Feature(**values)


def write_spec(spec: DatasetSpec, path: str | os.PathLike[str]) -> Path:
    """Write :func:`spec_to_toml` to ``path`` atomically."""
    with atomic_output(path) as tmp:
        Path(tmp).write_text(spec_to_toml(spec), encoding="utf-8")
    return Path(path)


def check_headers(names: list[str], where: object) -> None:
    """Refuse a column or feature whose name is one of the model sheet's own cells (``Loss``, ``Lin1``...):
    a reader would take one for the other."""
    headers = tuple(a.header for a in ACTIVATIONS.values())
    seen: dict[str, str] = {}
    for name in names:
        if str(name).lower() in seen:
            raise DataError(where, f"feature {name!r} has the name of the column or feature {seen[str(name).lower()]!r} "
                                   "(compared without case, as a spreadsheet table compares headers); give it its own name")
        seen[str(name).lower()] = str(name)
        if sl.is_reserved(str(name), headers):
            raise DataError(where, f"column {name!r} has the name of a cell of titanic-lab's model sheets; rename it "
                                   f"(for example {name}_x), or leave it out")


def spec_columns(spec: DatasetSpec) -> tuple[str, ...]:
    """Every column of a table that ``spec`` names: the columns its features read, its target and its id."""
    return tuple(dict.fromkeys((*spec.raw_columns, spec.target.column, *([spec.id_column] if spec.id_column else []))))


def _header_key(name: object) -> str:
    return str(name).strip().lower()


def matched_columns(spec: DatasetSpec, columns, where: object) -> dict[str, str]:
    """The headers of ``columns`` that name a column of ``spec`` (:func:`spec_columns`) without case and surrounding
    spaces but are not written as it is, each with the spec's name: ``{"SIZE": "size"}``. Headers are matched as a
    spreadsheet's table and Titanic's reader match them, and as ``read_table`` refuses two headers equal without case.

    Raises
    ------
    DataError
        Two headers both match one of the spec's names (``SIZE`` and ``size``): which one is meant is unknown.
    """
    names = spec_columns(spec)
    exact = {str(c) for c in columns}
    by_key: dict[str, list[str]] = {}
    for column in columns:
        by_key.setdefault(_header_key(column), []).append(str(column))
    found: dict[str, str] = {}
    for name in names:
        same = by_key.get(_header_key(name), [])
        if len(same) > 1:
            raise DataError(where, f"headers {same[0]!r} and {same[1]!r} both name column {name!r} of the spec (headers are "
                                   "compared without case, as a spreadsheet table compares them); rename or remove one")
        if same and same[0] != name and name not in exact and same[0] not in names:
            found[same[0]] = name
    return found


def check_columns(spec: DatasetSpec, df: pd.DataFrame, where: object, reader: str = "the spec's features") -> None:
    """Refuse data that lacks a column the spec reads, naming them (and a spec that cannot run on it); ``reader`` says
    whose features read them (``the features fitted on train.csv``)."""
    check_spec_table(spec, df.columns, where)  # first: a Titanic kind's missing columns are named with its step
    missing = [c for c in spec.raw_columns if c not in df.columns]
    if missing:
        raise DataError(where, f"missing column(s) {', '.join(missing)} that {reader} read")
    answer = next((f for f in spec.features.features if spec.target.column in (f.column, f.other)), None)
    if answer is not None:
        raise DataError(where, f"feature {answer.output_name} reads the target column {spec.target.column}: the model would "
                               "see the answer; remove that [[features]] entry from the spec")


def resolved(spec: DatasetSpec, levels: dict[str, tuple], target: Target) -> DatasetSpec:
    """The spec as a fitted run used it: every dummy's levels pinned, the target's scale learned."""
    steps = tuple(replace(f, levels=levels[f.name]) if feature_kind(f.kind).per_level and f.levels is None else f
                  for f in spec.features.features)
    return replace(spec, target=target, features=replace(spec.features, features=steps))
