"""A spec for any CSV, inferred from its columns: the target's task and a feature step per usable column.

:func:`open_table` reads a CSV (:func:`~titanic_lab.datasets.csv.read_table`) and describes it,
from a spec file when one is given, else inferred (:func:`infer_spec`).
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, OptionError
from ..features.preset import Preset
from ..features.steps import Feature, binary, dummies, log1p, number, ones
from .csv import read_table
from .registry import read_spec
from .spec import DatasetSpec, Target, check_columns, plain

#: A text column with at most this many levels becomes dummies; more, and it is left out.
MAX_LEVELS = 20
#: A text column whose values are unique in more than this share of rows is free text or an id.
FREE_TEXT_SHARE = 0.5
#: A positive column whose skewness is above this gets log10(x + 1), as the lesson does for Fare.
SKEWED = 1.0
#: Values read as the positive class of a two-valued target, compared without case.
POSITIVE_WORDS = ("1", "yes", "y", "true", "t", "positive", "pos")  # text only: of two numbers the larger is 1


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
        return Target(column, "binary", (plain(negative), plain(positive)))
    if numeric:
        if len(levels) < 2:
            raise DataError(where, f"target {column} has one value ({plain(levels[0]) if levels else 'none'}); nothing to learn")
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
            steps.append(binary(column, plain(positive), new_name(f"{column}_{plain(positive)}"), fill="mode"))
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
        return f"the same value ({plain(present.iloc[0])}) in every row"
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
