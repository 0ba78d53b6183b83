"""What a table is: its target, its id column, its task and its feature steps.

A :class:`DatasetSpec` describes one table. Titanic (Kaggle's files and the bundled titanic3)
is one description, :func:`titanic_spec`, whose features are the chosen preset. Any other CSV
gets one inferred from its columns (:func:`infer_spec`), which can be written out as TOML,
edited and passed back (:func:`spec_to_toml`, :func:`read_spec`). A workbook stores the spec it
was trained with, so ``compare`` and ``predict`` read it rather than recognise a preset.

The target is a :class:`Target`: binary classification (0/1, or two values such as Yes/No
mapped to 0/1 with the mapping shown) or regression (a numeric target, learned as
``target / scale`` so that every model's default learning rate fits any unit; predictions and
RMSE are in the target's units).

Importing this module imports neither torch nor scikit-learn.
"""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
import warnings
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from .errors import DataError, OptionError
from .features import FEATURE_KINDS, feature_kind
from .finite import check_table
from .preprocessing import Feature, Preset, binary, dummies, get_preset, log1p, number, ones
from .spec_schema import SpecError, check_document, check_size, check_text
from .spec_schema import check_table as check_spec_table

Task = Literal["binary", "regression"]
TASKS: tuple[str, ...] = ("binary", "regression")
SPEC_FORMAT = "titanic-lab/spec-v1"
#: A text column with at most this many levels becomes dummies; more, and it is left out.
MAX_LEVELS = 20
#: A text column whose values are unique in more than this share of rows is free text or an id.
FREE_TEXT_SHARE = 0.5
#: A positive column whose skewness is above this gets log10(x + 1), as the lesson does for Fare.
SKEWED = 1.0
#: Values read as the positive class of a two-valued target, compared without case.
POSITIVE_WORDS = ("1", "yes", "y", "true", "t", "positive", "pos")  # text only: of two numbers the larger is 1


@dataclass(frozen=True)
class Target:
    """The column a model learns, and how its values become the numbers the model learns.

    Parameters
    ----------
    column : str
        The target's column.
    task : {"binary", "regression"}
        Binary classification (a prediction above 0.5 is the positive class) or regression.
    labels : tuple, optional
        Binary: the (negative, positive) values as the file writes them; None when they are 0 and 1.
    scale : float, optional
        Regression: the model learns ``target / scale``; None until learned (the root mean
        square of the training rows' target, so that what the model learns is about 1 in size
        whatever the unit, and 0 stays 0).
    """

    column: str
    task: Task = "binary"
    labels: tuple | None = None
    scale: float | None = None

    @property
    def is_regression(self) -> bool:
        return self.task == "regression"

    def values(self, column: pd.Series) -> np.ndarray:
        """The target as the sheet's target column holds it: 0/1 (binary), the number (regression)."""
        if self.task == "binary" and self.labels is not None:
            negative, positive = self.labels
            return np.where(_same(column, positive), 1.0, np.where(_same(column, negative), 0.0, np.nan))
        return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)

    def learn_scale(self, column: pd.Series) -> "Target":
        """This target with ``scale`` learned from ``column`` (kept when already set)."""
        if not self.is_regression or self.scale is not None:
            return self
        values = self.values(column)
        biggest = float(np.nanmax(np.abs(values))) if len(column) else 0.0
        # The root mean square, computed on values / their largest so that 1e-200 or 1e200 neither under- nor overflows.
        rms = biggest * float(np.sqrt(np.nanmean((values / biggest) ** 2))) if biggest > 0 and math.isfinite(biggest) else 0.0
        return replace(self, scale=rms if rms > 0 and math.isfinite(rms) else 1.0)

    @property
    def divisor(self) -> float:
        """What the model's outputs are multiplied by to be in the target's units."""
        return float(self.scale or 1.0) if self.is_regression else 1.0

    def decode(self, preds: np.ndarray) -> np.ndarray:
        """Model outputs -> predictions in the file's terms: labels (binary) or target units."""
        if self.is_regression:
            return np.asarray(preds, dtype=float) * self.divisor
        positive = np.asarray(preds) > 0.5
        if self.labels is None:
            return positive.astype(int)
        negative_label, positive_label = self.labels
        return np.where(positive, positive_label, negative_label)

    def scores(self, outputs: np.ndarray, y: np.ndarray) -> dict[str, float | None]:
        """How good model outputs are against what the model learned (both ``target / scale``).

        Binary: ``accuracy`` (a prediction above 0.5 is 1). Regression: ``rmse`` in the
        target's units and ``r2`` (1 - squared error / the target's variance; None for a
        constant target). Empty arrays give None.
        """
        outputs, y = np.asarray(outputs, dtype=float), np.asarray(y, dtype=float)
        if not len(y):
            return {"rmse": None, "r2": None} if self.is_regression else {"accuracy": None}
        if not self.is_regression:
            return {"accuracy": float(np.mean((outputs > 0.5) == (y > 0.5)))}
        error = (outputs - y) * self.divisor
        spread = float(np.sum((y * self.divisor - np.mean(y * self.divisor)) ** 2))
        return {"rmse": float(np.sqrt(np.mean(error**2))), "r2": None if spread == 0 else 1 - float(np.sum(error**2)) / spread}

    def describe(self) -> str:
        """One line: ``Survived: binary (0/1)``, ``Attrition: binary (No = 0, Yes = 1)``, ``price: regression``."""
        if self.is_regression:
            scale = "" if self.scale is None else f", learned as {self.column} / {self.scale:g}"
            return f"{self.column}: regression{scale}"
        if self.labels is None:
            return f"{self.column}: binary (0/1)"
        return f"{self.column}: binary ({self.labels[0]} = 0, {self.labels[1]} = 1)"


def _same(column: pd.Series, value: object) -> np.ndarray:
    """Where ``column`` equals ``value``, numbers compared as numbers and text as text."""
    if isinstance(value, str):
        return (column.astype(object).where(column.notna(), None).astype(str) == value).to_numpy() & column.notna().to_numpy()
    return (pd.to_numeric(column, errors="coerce") == value).to_numpy()


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
    def is_titanic(self) -> bool:
        return self.name == "titanic"

    @property
    def raw_columns(self) -> tuple[str, ...]:
        return self.features.raw_columns

    def describe(self) -> list[str]:
        """Lines a person reads: the target, the id, each feature step and each column left out."""
        lines = [f"target: {self.target.describe()}", f"id: {self.id_column or '(none: rows are numbered)'}"]
        lines += [f"feature {describe_feature(f)}" for f in self.features.features]
        lines += [f"left out {column}: {why}" for column, why in self.left_out.items()]
        return lines


def titanic_spec(preset: str | Preset = "spreadsheet") -> DatasetSpec:
    """The Titanic description: target ``Survived`` (0/1), id ``PassengerId``, the preset's features."""
    from .data import ID_COLUMN, TARGET

    return DatasetSpec("titanic", Target(TARGET, "binary"), get_preset(preset), ID_COLUMN)


def describe_feature(feat: Feature) -> str:
    """``Age_N = Age (blank: median) / max``: one feature step in words (its kind's record words it)."""
    fill = "" if feat.fill is None else f" (blank: {feat.fill if feat.fill != 'constant' else feat.fill_value})"
    return feature_kind(feat.kind).describe(feat, f"{feat.column}{fill}")


# ---- reading any CSV ----------------------------------------------------------------------


def read_table(path: str | os.PathLike[str], target: str | None, id_column: str | None = None, *,
               require_target: bool = True) -> pd.DataFrame:
    """Read any CSV for the general path, with the same checks as the Titanic reader.

    Headers lose surrounding spaces; two headers equal without case are refused (an Excel table
    cannot hold both); text cells lose surrounding spaces and an empty one is blank; True/False
    columns become 1/0. The target, when present, must have a value in every row that is kept:
    rows whose target is blank are left out with a warning (they have nothing to learn from).

    Parameters
    ----------
    path : path-like
    target : str or None
        The target column (checked when ``require_target``).
    id_column : str, optional
        Must be present, non-blank and unique when given.
    require_target : bool
        Whether the target column must be present (training) or may be absent (rows to predict).

    Raises
    ------
    DataError
        Naming the file, the column and, for a bad value, the line.
    """
    from .data import _check_text, _line, _read_csv, _show

    path = Path(path)
    df = _read_csv(path, (id_column,) if id_column else ())  # ids as written: 0001 is not 1
    df.columns = [str(c).strip() for c in df.columns]
    seen: dict[str, int] = {}
    for i, name in enumerate(df.columns):
        key = name.lower()
        if key in seen:
            raise DataError(path, f"columns {seen[key] + 1} and {i + 1} of the header are both named {name!r} (compared "
                                  "without case, as a spreadsheet table compares them); rename one")
        seen[key] = i
    _check_text(df, path)
    for column in df.columns:
        values = df[column]
        if values.dtype == bool:  # a True/False feature is 1/0; a True/False target keeps its words for predictions
            df[column] = values.astype(str) if column == target else values.astype(int)
        elif values.dtype == object:
            stripped = {v: (v.strip() or np.nan) if isinstance(v, str) else v for v in values.dropna().unique()}
            df[column] = values.map(stripped)
    check_table(df, path)  # every number finite and within +-1e100, named by column and line
    for option, column in (("--target", target), ("--id", id_column)):
        if column is not None and column not in df.columns and (require_target or option == "--id"):
            raise DataError(path, f"{option} {column!r}: no such column{_did_you_mean(column, df.columns)}")
    if id_column is not None:
        check_ids(df, id_column, path)
    if target is not None and target in df.columns:
        values = df[target]
        numeric = pd.to_numeric(values, errors="coerce")
        if pd.api.types.is_numeric_dtype(values) and (~np.isfinite(numeric) & numeric.notna()).any():
            first = (~np.isfinite(numeric) & numeric.notna()).idxmax()
            raise DataError(path, f"target {target} has non-finite value {_show(values[first])} on line {_line(df, first)}")
        blank = values.isna()
        if blank.any() and require_target:
            if blank.all():
                raise DataError(path, f"target {target} is blank in every row; nothing to learn from")
            warnings.warn(f"{path}: left out {int(blank.sum())} row(s) whose target {target} is blank (first on line "
                          f"{_line(df, blank.idxmax())})", UserWarning, stacklevel=2)
            df = df[~blank]
    return df.reset_index(drop=True)


def check_ids(df: pd.DataFrame, id_column: str, path: object) -> None:
    """Refuse a blank or repeated id, naming the file, the value and the line."""
    from .data import _line, _show

    ids = df[id_column]
    if ids.isna().any():
        raise DataError(path, f"id column {id_column} is blank on line {_line(df, ids.isna().idxmax())}")
    repeated = ids.duplicated()
    if repeated.any():
        first = repeated.idxmax()
        raise DataError(path, f"id column {id_column} repeats value {_show(ids[first])} on line {_line(df, first)}; "
                              "ids must be unique (leave --id out to number the rows)")


def _did_you_mean(name: str, columns: pd.Index) -> str:
    same = [c for c in columns if c.lower() == name.lower()]
    if same:
        return f"; did you mean {same[0]!r}? (names are compared with case)"
    shown = ", ".join(map(str, list(columns)[:30])) + (", ..." if len(columns) > 30 else "")
    return f"; the columns are: {shown}"


# ---- inferring a spec ---------------------------------------------------------------------


def infer_target(df: pd.DataFrame, column: str, where: object = "the data") -> Target:
    """The task of ``column``: two values -> binary (mapped to 0/1 unless they are 0 and 1);
    numeric otherwise -> regression; text with more than two values is refused."""
    values = df[column].dropna()
    levels = sorted(values.unique(), key=lambda v: (str(type(v)), v))
    numeric = pd.api.types.is_numeric_dtype(values)
    if len(levels) == 2:
        if numeric and {float(v) for v in levels} == {0.0, 1.0}:
            return Target(column, "binary")
        positive = _positive(levels)
        negative = levels[0] if positive == levels[1] else levels[1]
        return Target(column, "binary", (_plain(negative), _plain(positive)))
    if numeric:
        if len(levels) < 2:
            raise DataError(where, f"target {column} has one value ({_plain(levels[0]) if levels else 'none'}); nothing to learn")
        return Target(column, "regression")
    shown = ", ".join(map(str, levels[:5])) + (", ..." if len(levels) > 5 else "")
    raise DataError(where, f"target {column} has {len(levels)} text values ({shown}): titanic-lab learns a two-valued target "
                           "(binary classification) or a numeric one (regression); choose another --target, or "
                           "make it two-valued (for example one class against the rest)")


def infer_spec(df: pd.DataFrame, target: str, id_column: str | None = None, *, name: str = "data",
               where: object = "the data") -> DatasetSpec:
    """A spec for any table: its target's task (:func:`infer_target`) and its features
    (:func:`infer_features`, every column but the target and the id)."""
    found = infer_target(df, target, where)
    answers = pd.Series(found.values(df[target]), index=df.index)
    preset, left_out = infer_features(df, exclude=(target, id_column), name=name, where=where, target=answers)
    return DatasetSpec(name, found, preset, id_column, left_out)


def infer_features(df: pd.DataFrame, exclude: tuple = (), *, name: str = "inferred",
                   where: object = "the data", target: pd.Series | None = None) -> tuple[Preset, dict[str, str]]:
    """A feature step per usable column; the rest left out, each with the reason.

    Numeric columns: blanks filled with the median (and a ``<column>_missing`` 0/1 column when
    there are blanks), then divided by the maximum; ``log10(x + 1)`` first for a skewed positive
    column (as the lesson does for Fare) when, given ``target``, the log follows it at least as
    closely as the column itself (:func:`_log_fits`); a z-score instead when the column has negative values
    or its values sit far from 0 (a year: dividing by the maximum would leave them all near 1).
    Two-valued columns: one 0/1 column. Text columns with at most :data:`MAX_LEVELS` levels:
    dummies, the most common level the baseline (blanks filled with it). Ids, free text,
    constant, blank and high-cardinality columns are left out. A ``Ones`` column carries the
    bias. Feature names never repeat a column's name, without case.

    Returns
    -------
    (Preset, dict of column -> reason left out)
    """
    taken = {str(c).lower() for c in df.columns}
    steps: list[Feature] = []
    left_out: dict[str, str] = {}

    def new_name(base: str) -> str:
        text = re.sub(r"\s+", "_", base)
        candidate, k = text, 2
        while candidate.lower() in taken:
            candidate, k = f"{text}_{k}", k + 1
        taken.add(candidate.lower())
        return candidate

    for column in df.columns:
        if column in exclude:
            continue
        why = _left_out_reason(df[column], column)
        if why:
            left_out[column] = why
            continue
        values = df[column]
        present = values.dropna()
        levels = sorted(present.unique(), key=lambda v: (str(type(v)), v))
        if len(levels) == 2:
            positive = _positive(levels)
            steps.append(binary(column, _plain(positive), new_name(f"{column}_{_plain(positive)}"), fill="mode"))
        elif pd.api.types.is_numeric_dtype(values):
            low, high = float(present.min()), float(present.max())
            if low < 0 or low > high / 2:
                steps.append(number(column, new_name(f"{column}_Z"), scale="zscore", fill="median"))
            elif high > 0 and float(present.skew()) > SKEWED and _log_fits(present, target):
                steps.append(log1p(column, new_name(f"log_{column}"), base=10.0, scale="max", fill="median"))
            else:
                steps.append(number(column, new_name(f"{column}_N"), scale="max", fill="median"))
        else:
            counts = present.astype(str).value_counts()
            baseline = counts.index[0]
            kept = tuple(sorted(str(v) for v in counts.index if v != baseline))
            prefix = f"{column}_"
            while any(f"{prefix}{level}".lower() in taken for level in kept):
                prefix += "_"
            taken.update(f"{prefix}{level}".lower() for level in kept)
            steps.append(dummies(column, prefix, levels=kept, baseline=baseline, fill="mode"))
        if values.isna().any():
            steps.append(Feature(column, "missing", new_name(f"{column}_missing"), fill=None))
    if not steps:
        reasons = "; ".join(f"{c}: {w}" for c, w in left_out.items()) or "it has no column besides the target and id"
        raise DataError(where, f"no column gives a feature ({reasons})")
    steps.append(ones(new_name("Ones")))
    description = f"inferred from {where}: " + ", ".join(f.output_name for f in steps)
    return Preset(name, tuple(steps), description=description), left_out


def _log_fits(present: pd.Series, target: pd.Series | None) -> bool:
    """Whether ``log10(x + 1)`` of a skewed column follows the target at least as closely as ``x``
    (absolute correlation over the rows with both; True without a target): Fare's log does
    for survival, but a target that grows in proportion to a column (investment and capital)
    is better served by the column itself."""
    if target is None:
        return True
    rows = target.reindex(present.index).notna()
    x, y = present[rows].astype(float), target.reindex(present.index)[rows].astype(float)
    if len(x) < 3 or y.std() == 0:
        return True
    raw, logged = abs(np.corrcoef(x, y)[0, 1]), abs(np.corrcoef(np.log10(x + 1), y)[0, 1])
    return bool(np.nan_to_num(logged) >= np.nan_to_num(raw))


def _positive(levels: list) -> object:
    """Of two sorted values, the one that is 1: a word such as Yes or True, else the larger."""
    return next((v for v in levels if isinstance(v, str) and v.strip().lower() in POSITIVE_WORDS), levels[1])


def _left_out_reason(values: pd.Series, column: str) -> str | None:
    """Why a column gives no feature, or None when it does."""
    present = values.dropna()
    if present.empty:
        return "blank in every row"
    distinct = present.nunique()
    if distinct == 1:
        return f"the same value ({_plain(present.iloc[0])}) in every row"
    unique_per_row = distinct == len(values) and len(values) > 2
    if pd.api.types.is_numeric_dtype(values):
        whole = bool((present % 1 == 0).all())
        counts_rows = present.is_monotonic_increasing and bool((present.diff().dropna() == 1).all())
        if unique_per_row and whole and (_looks_like_id(column) or counts_rows):
            return "an id (a different whole number in every row)"
        return None
    if distinct == 2:
        return None
    if unique_per_row or distinct > FREE_TEXT_SHARE * len(present):
        return f"free text or an id ({distinct} different values in {len(present)} rows)"
    if distinct > MAX_LEVELS:
        return f"{distinct} different values, more than the {MAX_LEVELS} that become dummy columns"
    return None


def _looks_like_id(column: str) -> bool:
    return bool(re.search(r"(^|[^a-z])id$|^id|Id$|ID$", column.strip(), flags=re.IGNORECASE)) or column.lower().endswith("id")


def _plain(value: object) -> object:
    """A numpy scalar as plain Python (a whole float as int), so it prints and serialises as written."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# ---- TOML ---------------------------------------------------------------------------------

_FEATURE_DEFAULTS = {f.name: f.default for f in fields(Feature)}


def spec_to_toml(spec: DatasetSpec) -> str:
    """The spec as TOML a person can edit (:func:`read_spec` reads it back)."""
    lines = [
        "# titanic-lab dataset spec: what the model learns and from which columns.",
        "# Edit it and pass it back: titanic-lab train --data FILE.csv --spec THIS.toml",
        "# Feature kinds: number, log (log of x+1), binary, dummies, missing, ones (the bias);",
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
    if target.labels is not None:
        lines.append(f"labels = {_toml(list(target.labels))}  # negative, positive")
    if target.scale is not None:
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
        value = _plain(value)
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
    t = doc["target"]
    task = t.get("task", "binary")
    if task not in TASKS:
        raise SpecError(where, f"[target] task = {task!r}; write one of {', '.join(TASKS)}")
    labels = t.get("labels")
    if labels is not None and (task != "binary" or not isinstance(labels, list) or len(labels) != 2 or labels[0] == labels[1]):
        raise SpecError(where, "[target] labels = [negative, positive]: two different values, for task = \"binary\" only")
    scale = t.get("scale")
    if scale is not None and (task != "regression" or not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0):
        raise SpecError(where, "[target] scale must be a positive number, for task = \"regression\" only")
    target = Target(t["column"], task, None if labels is None else tuple(labels), None if scale is None else float(scale))
    steps = tuple(_feature(entry, i, where) for i, entry in enumerate(doc["features"], start=1))
    name = str(doc.get("name", "data"))
    left_out = doc.get("left_out", {})
    id_column = doc.get("id")
    from .data import ID_COLUMN, TARGET

    description = f"from {where}: " + ", ".join(f.output_name for f in steps)
    preset = Preset(str(doc.get("preset", name)), steps, description=description)
    spec = DatasetSpec(name, target, preset, id_column, {str(k): str(v) for k, v in left_out.items()})
    if spec.is_titanic and (target.column, id_column) != (TARGET, ID_COLUMN):
        raise SpecError(where, f"name = \"titanic\" is the flagship's: its target is {TARGET} and its id {ID_COLUMN}")
    return spec


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


def read_spec(path: str | os.PathLike[str]) -> DatasetSpec:
    """Read a spec file written by ``--spec-out`` (and perhaps edited)."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(path, "no such file" if not path.exists() else "is not a regular file")
    check_size(path.stat().st_size, path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(path, f"cannot be read as UTF-8 text ({exc})") from None
    return spec_from_toml(text, path)


def open_table(path: str | os.PathLike[str], target: str | None, id_column: str | None = None,
               spec: str | os.PathLike[str] | None = None, *, require_target: bool = True) -> tuple[pd.DataFrame, DatasetSpec]:
    """Read any CSV and describe it: from ``spec`` (a TOML file) when given, else inferred.

    ``target`` and ``id_column`` override the spec's (a different target than the spec's is
    refused). A spec's binary target without labels takes the file's two values, as inferred.

    Returns
    -------
    (rows, DatasetSpec)
    """
    path = Path(path)
    given = read_spec(spec) if spec else None
    if given is not None and target and target != given.target.column:
        raise OptionError(f"--target {target} differs from the target {given.target.column} of --spec {spec}")
    if given is None and not target:
        raise OptionError("give the column to learn with --target (or a spec with --spec)")
    target = target or given.target.column
    id_column = id_column or (given.id_column if given else None)
    rows = read_table(path, target, id_column, require_target=require_target)
    if given is None:
        return rows, infer_spec(rows, target, id_column, name=path.stem, where=path)
    check_columns(given, rows, path)
    found = replace(given, id_column=id_column)
    if given.target.task == "binary" and given.target.labels is None and target in rows.columns:
        inferred = infer_target(rows, target, path)  # two text values: mapped as inferred
        found = replace(found, target=inferred) if inferred.task == "binary" else found
    return rows, found


def write_spec(spec: DatasetSpec, path: str | os.PathLike[str]) -> Path:
    """Write :func:`spec_to_toml` to ``path`` atomically."""
    from .files import atomic_output

    with atomic_output(path) as tmp:
        Path(tmp).write_text(spec_to_toml(spec), encoding="utf-8")
    return Path(path)


def check_headers(names: list[str], where: object) -> None:
    """Refuse a column or feature whose name is one of the model sheet's own cells (``Loss``, ``Lin1``...):
    a reader would take one for the other."""
    from . import sheet_layout as sl
    from .ops import ACTIVATIONS

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


def check_columns(spec: DatasetSpec, df: pd.DataFrame, where: object) -> None:
    """Refuse data that lacks a column the spec reads, naming them (and a spec that cannot run on it)."""
    check_spec_table(spec, df.columns, where)  # first: a Titanic kind's missing columns are named with its step
    missing = [c for c in spec.raw_columns if c not in df.columns]
    if missing:
        raise DataError(where, f"missing column(s) {', '.join(missing)} that the spec's features read")
    answer = next((f for f in spec.features.features if spec.target.column in (f.column, f.other)), None)
    if answer is not None:
        raise DataError(where, f"feature {answer.output_name} reads the target column {spec.target.column}: the model would "
                               "see the answer; remove that [[features]] entry from the spec")


def resolved(spec: DatasetSpec, levels: dict[str, tuple], target: Target) -> DatasetSpec:
    """The spec as a fitted run used it: every dummy's levels pinned, the target's scale learned."""
    steps = tuple(replace(f, levels=levels[f.name]) if feature_kind(f.kind).per_level and f.levels is None else f
                  for f in spec.features.features)
    return replace(spec, target=target, features=replace(spec.features, features=steps))
