"""A spec for any CSV, inferred from its columns: the target's task and a feature step per usable column.

:func:`open_table` reads a CSV (:func:`~titanic_lab.datasets.csv.read_table`) and describes it,
from a spec file when one is given, else inferred (:func:`infer_spec`).
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, OptionError, TitanicLabError
from ..file_rows import data_row
from ..features.dates import EPOCH, FIRST_DATE, date_format, first_date, serials
from ..features.preset import Preset
from ..features.categorical import spellings
from ..features.steps import Feature, binary, dummies, log1p, number, ones
from .. import csv_dialect
from .csv import TRUE_FALSE, read_table
from .registry import read_spec
from ..tasks import check_classes
from .spec import DatasetSpec, Target, check_columns, matched_columns, plain

#: A text column with at most this many levels becomes dummies; more, and it is left out. US states (56
#: levels in vega's airports) are a table's usual many-valued column: at 20 they were left out and the
#: held-out RMSE of latitude was 5.86 against scikit-learn's one-hot RidgeCV's 1.84; at 100, 1.82
#: (BENCHMARKS.md, session 15). The cap bounds a workbook's width: each level is a formula column on
#: every model sheet.
MAX_LEVELS = 100
#: A text column whose values are unique in more than this share of rows is free text or an id.
FREE_TEXT_SHARE = 0.5
#: A positive column whose skewness is above this gets log10(x + 1), as the lesson does for Fare.
SKEWED = 1.0
#: Values read as the positive class of a two-valued target, compared without case.
POSITIVE_WORDS = ("1", "yes", "y", "true", "t", "positive", "pos")  # text only: of two numbers the larger is 1


def infer_target(df: pd.DataFrame, column: str, where: object = "the data", task: str | None = None) -> Target:
    """The task of ``column``: two values -> binary (mapped to 0/1 unless they are 0 and 1);
    numeric otherwise -> regression; text with 3 or more values -> multiclass (its classes in
    the order of :func:`titanic_lab.tasks.check_classes`). ``task`` (``--task``, a spec's
    ``task``) overrides the inference: ``multiclass`` makes whole numbers with few values classes."""
    values = df[column].dropna()
    levels = sorted(values.unique(), key=lambda v: (str(type(v)), v))
    numeric = pd.api.types.is_numeric_dtype(values)
    if task is None and not numeric and len(levels) > 2:
        _refuse_stray_text(values, column, where)
    if task == "multiclass" or (task is None and not numeric and len(levels) > 2):
        return Target(column, "multiclass", check_classes(df[column], column, where))
    if task == "regression" and not numeric:
        raise DataError(where, f"--task regression: target {column} holds text ({', '.join(map(str, levels[:3]))}...), "
                               "not numbers")
    if task == "regression":
        return infer_target(df, column, where) if len(levels) < 2 else Target(column, "regression")
    if task == "binary" and len(levels) != 2:
        raise DataError(where, f"--task binary: target {column} has {len(levels)} values, not 2")
    if len(levels) == 2:
        if numeric and {float(v) for v in levels} == {0.0, 1.0}:
            return Target(column, "binary")
        positive = _positive(levels)
        negative = levels[0] if positive == levels[1] else levels[1]
        return Target(column, "binary", (plain(negative), plain(positive)))
    if numeric:
        if len(levels) < 2:
            raise DataError(where, f"target {column} has one value ({plain(levels[0]) if levels else 'none'}); nothing to learn")
        return Target(column, "regression")
    shown = ", ".join(map(str, levels[:5])) + (", ..." if len(levels) > 5 else "")
    raise DataError(where, f"target {column} has {len(levels)} text values ({shown}): titanic-lab learns a two-valued target "
                           "(binary classification) or a numeric one (regression); choose another --target, or "
                           "make it two-valued (for example one class against the rest)")


#: A regression target of whole numbers with at most this many values may be codes of classes: train says so.
CODE_LEVELS = 10


def class_codes_hint(values: pd.Series, column: str) -> str | None:
    """A hint for a numeric target inferred as regression whose values are a few whole numbers (``0, 1, 2``):
    codes of classes, perhaps, which ``--task multiclass`` learns as such; None otherwise."""
    present = pd.to_numeric(values, errors="coerce").dropna()
    levels = np.unique(present.to_numpy(dtype=float))
    if not 2 < len(levels) <= CODE_LEVELS or not np.all(levels == np.round(levels)):
        return None
    shown = ", ".join(str(plain(v)) for v in levels)
    return (f"hint: {column} holds {len(levels)} whole numbers ({shown}), learned as a regression; if they name "
            "classes, pass --task multiclass")


#: A text target whose values are all numbers but this share (at most) is a numeric target with stray text.
STRAY_TEXT = 0.05
#: ... when its numbers have more distinct values than this (fewer: codes of classes, as "1", "2", "3", "other").
STRAY_TEXT_LEVELS = 10


def _stray_text(values: pd.Series) -> tuple[str, int] | None:
    """For numbers read as text because a few values are not numbers (``abc``, a header pasted again): the first
    such value with where it is (``'abc' on line 7``), and how many there are; None for any other column."""
    present = values.dropna()
    distinct = pd.Series(present.unique())  # each distinct value once: a category of 4 levels is 4 conversions
    numbers = pd.to_numeric(distinct.astype(str).str.strip(), errors="coerce")
    if numbers.notna().sum() <= STRAY_TEXT_LEVELS or numbers.isna().sum() > STRAY_TEXT * len(present):
        return None
    stray = present.isin(set(distinct[numbers.isna()]))
    if not stray.any() or stray.mean() > STRAY_TEXT:
        return None
    first = stray.idxmax()
    row = data_row(values, first)  # the row's place in the file, whatever rows were left out before
    line = f" on line {row + 2}" if row is not None else ""
    return f"{present[first]!r}{line}", int(stray.sum())


def _refuse_stray_text(values: pd.Series, column: str, where: object) -> None:
    """Refuse a target read as text because a few of its values are not numbers: learned as classes, each
    number would be a class of one row."""
    stray = _stray_text(values)
    if stray is not None:
        raise DataError(where, f"target {column} has value {stray[0]} where its other values are numbers "
                               f"({stray[1]} of {len(values.dropna())} are not); fix or blank it, or pass --task "
                               "multiclass if its values are classes")


def infer_spec(df: pd.DataFrame, target: str, id_column: str | None = None, *, name: str = "data",
               where: object = "the data", task: str | None = None, known: Target | None = None) -> DatasetSpec:
    """A spec for any table: its target's task (:func:`infer_target`, or ``known``) and its
    features (:func:`infer_features`, every column but the target and the id)."""
    found = known or infer_target(df, target, where, task)
    # The target-led choice (a skewed column's log) follows a number; a class's number orders nothing.
    answers = None if found.record.per_class else pd.Series(found.values(df[target]), index=df.index)
    preset, left_out = infer_features(df, exclude=(target, id_column), name=name, where=where, target=answers)
    return DatasetSpec(name, found, preset, id_column, left_out)


def infer_features(df: pd.DataFrame, exclude: tuple = (), *, name: str = "inferred",
                   where: object = "the data", target: pd.Series | None = None) -> tuple[Preset, dict[str, str]]:
    """A feature step per usable column; the rest left out, each with the reason.

    Numeric columns: blanks filled with the median (and a ``<column>_missing`` 0/1 column when
    there are blanks), then divided by the maximum; ``log10(x + 1)`` first for a skewed positive
    column (as the lesson does for Fare) when, given ``target``, the log follows it at least as
    closely as the column itself (:func:`_log_fits`; a training run then turns a choice over where that
    lowers a ridge fit's leave-one-out error, :func:`titanic_lab.preprocessing.choose_logs`); a z-score instead when the column has negative values
    or its values sit far from 0 (a year: dividing by the maximum would leave them all near 1).
    Two-valued columns: one 0/1 column. Text columns with at most :data:`MAX_LEVELS` levels:
    dummies, one per level, none left out as a baseline (blanks filled with the most common): a
    value unseen in training is then no level at all, its dummies all 0, where a baseline would
    have given it the baseline's effect; the penalty chosen by data keeps the columns apart
    from ``Ones``, as scikit-learn's ``OneHotEncoder`` beside ``RidgeCV`` does. Ids, free text,
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
        if date_format(df[column]) is not None:
            why = _date_steps(df[column], column, steps, new_name)
            if why:
                left_out[column] = why
            elif df[column].isna().any():
                steps.append(Feature(column, "missing", new_name(f"{column}_missing"), fill=None))
            continue
        why = _left_out_reason(df[column], column)
        if why:
            left_out[column] = why
            continue
        values = df[column]
        present = values.dropna()
        distinct = list(spellings(present)) if _all_text(present) else present.unique()
        if len(distinct) == 2:
            positive = _positive(sorted(distinct, key=lambda v: (str(type(v)), v)))
            steps.append(binary(column, plain(positive), new_name(f"{column}_{plain(positive)}"), fill="mode"))
        elif pd.api.types.is_numeric_dtype(values):
            low, high = float(present.min()), float(present.max())
            if low < 0 or low > high / 2:
                steps.append(number(column, new_name(f"{column}_Z"), scale="zscore", fill="median"))
            elif _skewed_positive(present) and _log_fits(present, target):
                steps.append(_as_log(column, new_name(f"log_{column}")))
            else:
                steps.append(_as_number(column, new_name(f"{column}_N")))
        else:
            counted = spellings(present)  # the most common first
            kept = tuple(sorted(counted))
            prefix = f"{column}_"
            while any(f"{prefix}{level}".lower() in taken for level in kept):
                prefix += "_"
            taken.update(f"{prefix}{level}".lower() for level in kept)
            steps.append(dummies(column, prefix, levels=kept, fill="mode"))
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


def _as_log(column: str, name: str) -> Feature:
    """A column from 0 up as ``log10(x + 1)`` over its maximum, blanks the median: one of a skewed column's two steps."""
    return log1p(column, name, base=10.0, scale="max", fill="median")


def _as_number(column: str, name: str) -> Feature:
    """A column from 0 up over its maximum, blanks the median: a skewed column's other step, and any other such column."""
    return number(column, name, scale="max", fill="median")


def _skewed_positive(present: pd.Series) -> bool:
    """A numeric column from 0 up (not one for a z-score) whose skewness is above :data:`SKEWED`: its log is a choice."""
    low, high = float(present.min()), float(present.max())
    return not (low < 0 or low > high / 2) and high > 0 and float(present.skew()) > SKEWED


def log_alternatives(preset: Preset, df: pd.DataFrame) -> dict[int, tuple[Feature, Feature]]:
    """The steps of an inferred ``preset`` whose log is a choice (a skewed column from 0 up), by position:
    ``(its log, the column itself)`` as :func:`infer_features` names them, one of them the step. A step whose
    other name a column or another step already has is left out."""
    taken = {str(c).lower() for c in df.columns} | {f.output_name.lower() for f in preset.features}
    out = {}
    for i, feat in enumerate(preset.features):
        if feat.kind not in ("log", "number") or feat.scale != "max" or feat.column not in df.columns:
            continue
        present = df[feat.column].dropna()
        if not pd.api.types.is_numeric_dtype(present) or present.empty or not _skewed_positive(present):
            continue
        logged, plain_step = _as_log(feat.column, f"log_{feat.column}"), _as_number(feat.column, f"{feat.column}_N")
        if feat not in (logged, plain_step) or (plain_step if feat == logged else logged).output_name.lower() in taken:
            continue
        out[i] = (logged, plain_step)
    return out


def _hashable(value: object) -> bool:
    """Whether pandas can hash ``value`` (a tuple holding a list is a Hashable that cannot)."""
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _all_text(present: pd.Series) -> bool:
    return pd.api.types.infer_dtype(present, skipna=True) == "string"


def _positive(levels: list) -> object:
    """Of two sorted values, the one that is 1: a word such as Yes or True, else the larger."""
    return next((v for v in levels if isinstance(v, str) and v.strip().lower() in POSITIVE_WORDS), levels[1])


def _left_out_reason(values: pd.Series, column: str) -> str | None:
    """Why a column gives no feature, or None when it does."""
    present = values.dropna()
    if present.empty:
        return "blank in every row"
    if pd.api.types.is_complex_dtype(present):
        return "complex numbers, which no spreadsheet cell holds"
    try:
        distinct = present.astype(str).str.lower().nunique() if _all_text(present) else present.nunique()
    except TypeError:  # values pandas cannot hash: lists, dicts, sets
        odd = next((v for v in present if not _hashable(v)), present.iloc[0])
        return f"Python {type(odd).__name__}s (such as {str(odd)[:40]}), not numbers or text"
    if distinct == 1:
        return f"the same value ({plain(present.iloc[0])}) in every row"
    unique_per_row = distinct == len(values) and len(values) > 2
    if pd.api.types.is_numeric_dtype(values):
        if values.notna().all() and _counts_rows(present):
            return "an id: it counts the rows (1, 2, 3... in file order), whatever its name"
        if unique_per_row and bool((present % 1 == 0).all()) and _looks_like_id(column):
            return "an id (a different whole number in every row)"
        return None
    if distinct == 2:
        return None
    stray = _stray_text(present)
    if stray is not None:
        return f"numbers but for {stray[0]} ({stray[1]} not a number), so read as text; fix or blank it to use the column"
    if unique_per_row or distinct > FREE_TEXT_SHARE * len(present):
        return f"free text or an id ({distinct} different values in {len(present)} rows)"
    if distinct > MAX_LEVELS:
        return f"{distinct} different values, more than the {MAX_LEVELS} that become dummy columns"
    return None


def _counts_rows(present: pd.Series) -> bool:
    """Whether whole numbers count the rows: increasing in file order, from 0 or 1 (or a little
    above, when first rows were left out), each step 1 but where rows were left out (an R export's
    ``rownames``, a fold's rows of it): at most a third of the numbers skipped."""
    n = len(present)
    if n < 3 or not (present % 1 == 0).all() or not present.is_monotonic_increasing or not present.is_unique:
        return False
    low, high = float(present.iloc[0]), float(present.iloc[-1])
    return 0 <= low <= max(1, n // 10) and high - low + 1 <= 1.5 * n


def _date_steps(values: pd.Series, column: str, steps: list[Feature], new_name) -> str | None:
    """Add a date column's steps (year, month, day of the week, days since its first date: each that
    varies), blanks filled with the median date; or say why it gives none."""
    when = serials(values).dropna()
    if (when < (FIRST_DATE - EPOCH).days).any():
        return "dates before 1900-03-01, which spreadsheets number differently"
    stamps = EPOCH + pd.to_timedelta(when.to_numpy(), unit="D")
    parts = [("year", stamps.year, "zscore"), ("month", stamps.month, "max"), ("weekday", stamps.day_of_week, "max"),
             ("days", when.to_numpy(), "max")]
    origin = first_date(values)
    for kind, seen, scale in parts:
        if len(np.unique(seen)) > 1:
            steps.append(Feature(column, kind, new_name(f"{column}_{kind}"), fill="median", scale=scale,
                                 origin=origin if kind == "days" else None))
    if not any(f.column == column for f in steps):
        return f"the same date ({plain(values.dropna().iloc[0])}) in every row"
    return None


def _looks_like_id(column: str) -> bool:
    return bool(re.search(r"(^|[^a-z])id$|^id|Id$|ID$", column.strip(), flags=re.IGNORECASE)) or column.lower().endswith("id")


def open_table(path: str | os.PathLike[str], target: str | None, id_column: str | None = None,
               spec: str | os.PathLike[str] | None = None, *, require_target: bool = True,
               task: str | None = None) -> tuple[pd.DataFrame, DatasetSpec]:
    """Read any CSV and describe it: from ``spec`` (a TOML file) when given, else inferred.

    ``target`` and ``id_column`` override the spec's (a different target than the spec's is
    refused); ``task`` (``--task``) overrides the inferred task or the spec's. A spec's binary
    target without labels takes the file's two values, and a multiclass one without classes the
    file's classes, as inferred.

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
    if given is None:
        rows = read_table(path, target, id_column, require_target=require_target)
        return rows, infer_spec(rows, target, id_column, name=path.stem, where=path, task=task)
    found = replace(given, id_column=id_column)
    rows = read_rows(path, found, require_target=require_target)  # headers matched to the spec's names without case
    check_columns(given, rows, path)
    if task is not None and task != given.target.task and target in rows.columns:
        found = replace(found, target=infer_target(rows, target, path, task))
    elif given.target.task in ("binary", "multiclass") and given.target.labels is None and target in rows.columns:
        inferred = infer_target(rows, target, path, "multiclass" if given.target.task == "multiclass" else None)
        found = replace(found, target=inferred) if inferred.task == given.target.task else found
    return rows, found


def read_rows(path: str | os.PathLike[str], spec: DatasetSpec, *, with_id: bool = True,
              require_target: bool = False) -> pd.DataFrame:
    """The rows of a CSV for an existing ``spec`` (``predict``, ``features --fit-on``, ``--spec``): read as any CSV is
    (:func:`~.csv.read_table`, the spec's target and, ``with_id``, its id column checked), each header that names one of
    the spec's columns without case or surrounding spaces (``SIZE`` for ``size``) renamed to the spec's name, as
    Titanic's reader and a spreadsheet's table match headers.

    Raises
    ------
    DataError
        As :func:`~.csv.read_table`; two headers that both name one of the spec's columns (``SIZE`` and ``size``).
    """
    path = Path(path)
    target, id_column = spec.target.column, spec.id_column if with_id else None
    # The file's own names for the target and the id, which the reader checks: from its header, read first.
    written = {name: header for header, name in matched_columns(spec, _header(path), path).items()}
    rows = read_table(path, written.get(target, target), written.get(id_column, id_column) if id_column else None,
                      require_target=require_target)
    renames = matched_columns(spec, rows.columns, path)
    if not renames:
        return rows
    out = rows.rename(columns=renames)
    out.attrs = {**rows.attrs}
    if TRUE_FALSE in rows.attrs:  # the columns read as True/False, by their new names (a number step refuses them)
        out.attrs[TRUE_FALSE] = [renames.get(c, c) for c in rows.attrs[TRUE_FALSE]]
    return out


def _header(path: Path) -> list[str]:
    """The header of a CSV as written (spaces around names removed), from its first bytes in their detected dialect;
    empty when it cannot be read here (:func:`~.csv.read_table` then says why)."""
    try:
        if not path.is_file():  # a device or a pipe is never read here
            return []
        with path.open("rb") as fh:
            head = fh.read(csv_dialect.HEAD_BYTES)
            complete = not fh.read(1)
        dialect = csv_dialect.detect(head, complete, **csv_dialect.current())
        text = csv_dialect.decode_head(head, dialect.encoding).lstrip("\ufeff")
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=dialect.sep, skipinitialspace=True):
            if any(field.strip() for field in row):  # the first line that is not blank, as pandas takes it
                return [field.strip() for field in row]
    except (OSError, UnicodeError, ValueError, LookupError, csv.Error, TitanicLabError):
        pass
    return []
