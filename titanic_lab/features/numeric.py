"""Numeric feature kinds: a number as it is, ``log(x + 1)``, family size, travelling alone, fare per person."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import formulas as fx
from ..datasets.csv import TRUE_FALSE
from ..errors import TitanicLabError
from .kind import FeatureKind, kind_of, named, row_named

if TYPE_CHECKING:
    from .steps import Feature


def group_key(values: pd.Series) -> pd.Series:
    """A group's key, as the spreadsheet's ``=`` compares cells: the text without case, a blank as ``""``."""
    return values.astype(object).where(values.notna(), "").astype(str).str.lower()


def numbers(df: pd.DataFrame, feat: Feature) -> pd.Series:
    """The raw column as floats, an infinite value as missing; text that is not a number is refused."""
    raw = df[feat.column]
    values = pd.to_numeric(raw, errors="coerce")
    truth = _truth_values(df, feat.column)  # True/False is no number, though pandas reads 1/0
    bad = values.isna() & raw.notna() | truth
    if bad.any():
        first = bad.idxmax()
        shown = "True/False" if truth[first] else repr(raw[first])
        raise TitanicLabError(
            f"column {feat.column} has non-numeric value {shown} in {row_named(raw, first)}; "
            "the feature reads numbers, so clean the value (or make the column's step another kind)"
        )
    values = values.astype(float)
    return values.where(np.isfinite(values))  # an infinite value is treated as missing, then filled


def _truth_values(df: pd.DataFrame, column: str) -> pd.Series:
    """Where ``df[column]`` holds True or False: a bool column, bools among objects, or a column of a CSV written
    True/False (:func:`titanic_lab.datasets.csv.read_table` makes it 1/0 for a binary step)."""
    raw = df[column]
    if pd.api.types.is_bool_dtype(raw) or column in df.attrs.get(TRUE_FALSE, ()):
        return raw.notna()
    if raw.dtype == object:
        return raw.map(lambda v: isinstance(v, (bool, np.bool_))).astype(bool)
    return pd.Series(False, index=raw.index)


def _numeric(df: pd.DataFrame, column: str) -> pd.Series:
    values = pd.to_numeric(df[column], errors="coerce")
    bad = values.isna() & df[column].notna()
    if bad.any():
        first = bad.idxmax()
        raise TitanicLabError(f"column {column} has non-numeric value {df[column][first]!r} at row {first!r}")
    return values.astype(float)


def _family_total(df: pd.DataFrame, feat: Feature) -> pd.Series:
    """``column + other``, a missing count as 0 (as a blank cell is in the workbook's SibSp+Parch+1)."""
    return _numeric(df, feat.column).fillna(0) + _numeric(df, feat.other).fillna(0)


def log1p(values: np.ndarray, base: float) -> np.ndarray:
    """``log(x + 1)`` in ``base``, a negative x as 0 (it would have no logarithm): the lesson's
    ``LOG10(Fare+1)`` and the notebook's ``np.log(Fare+1)``."""
    values = np.maximum(values, 0)
    return np.log10(values + 1) if base == 10 else np.log(values + 1) / math.log(base)


def _per_ticket(feat: Feature, filled: pd.Series, df: pd.DataFrame, fitted: Any) -> np.ndarray:
    """``log(column / n + 1)``, n the training rows sharing the row's ticket (1 for a ticket fit never saw)."""
    sizes = fitted.group_sizes_[feat.output_name]
    n = group_key(df[feat.other]).map(lambda t: sizes.get(t, 1)).to_numpy(dtype=float)
    return log1p(filled.to_numpy(dtype=float) / n, feat.base)


def _learn_ticket_sizes(feat: Feature, df: pd.DataFrame, y: object, fitted: Any) -> None:
    """How many rows of the training data share each ticket (compared as :func:`group_key` does)."""
    fitted.group_sizes_[feat.output_name] = group_key(df[feat.other]).value_counts().to_dict()


KINDS = (
    FeatureKind("number", lambda f, source: named(f, source), lambda f, ref, at: ref, source=numbers, by_max=True,
                identity=True),
    FeatureKind("log", lambda f, source: named(f, f"log10({source} + 1)" if f.base == 10 else f"ln({source} + 1)"),
                lambda f, ref, at: fx.log1p(ref, f.base), values=lambda f, filled, df, fitted: log1p(filled.to_numpy(dtype=float), f.base),
                source=numbers, by_max=True),
    # column + other + 1: SibSp + Parch + 1.
    FeatureKind("family", kind_of, lambda f, ref, at: f"{ref}+{at.this_row(f.other)}+1",
                source=lambda df, f: _family_total(df, f) + 1),
    # 1 where column + other == 0.
    FeatureKind("alone", kind_of, lambda f, ref, at: f"IF({ref}+{at.this_row(f.other)}=0,1,0)",
                source=lambda df, f: (_family_total(df, f) == 0).astype(float)),
    FeatureKind("per_ticket", kind_of,
                lambda f, ref, at: fx.log1p(f"{ref}/{fx.count_equal(at.column(f.other), at.this_row(f.other))}", f.base),
                values=_per_ticket, source=numbers, learn=_learn_ticket_sizes),
)
