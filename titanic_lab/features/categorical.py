"""Categorical feature kinds: one 0/1 column for a value, dummies, present or missing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd

from .. import formulas as fx
from .kind import FeatureKind, kind_of, named

if TYPE_CHECKING:
    from .steps import Feature

def _dummy_source(df: pd.DataFrame, feat: Feature) -> pd.Series:
    raw = df[feat.column]
    if feat.levels is not None and all(isinstance(v, (int, float)) for v in feat.levels):
        # Numeric levels (Pclass 1/2/3) compare as numbers whether the column holds ints or floats.
        return pd.to_numeric(raw, errors="coerce").where(raw.notna())
    if feat.levels is not None and all(isinstance(v, str) for v in feat.levels):
        return as_written(raw)  # text levels ("2", "A") compare as text, however a file's column was read
    return raw


def as_written(values: pd.Series) -> pd.Series:
    """A column as text, numbers as a file writes them (``2``, not ``2.0``); blanks stay blank.

    A test file whose column holds only ``2`` and ``3`` is read as numbers, while the training
    file's ``A``, ``2``, ``3`` were text: compared as text, ``2`` is the level ``"2"`` in both."""
    def text(value: object) -> object:
        if isinstance(value, str):
            return value
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            return str(int(value))
        return str(value.item() if isinstance(value, np.generic) else value)

    return values.map(text, na_action="ignore").astype(object).where(values.notna(), np.nan)


def text_key(value: object) -> object:
    """What a spreadsheet compares of a value: a text without case (``"MIT Press"="MIT press"`` is TRUE in
    Excel, LibreOffice, Gnumeric and IronCalc), any other value as it is."""
    return value.lower() if isinstance(value, str) else value


def spellings(present: pd.Series) -> dict[str, int]:
    """A text column's levels as a spreadsheet compares them, without case (``IF(cell="yes",1,0)`` is 1 for
    ``Yes`` too): one spelling per level, its most common, with the level's row count, the most common first."""
    counts = present.astype(str).value_counts()  # each spelling's rows, the most common first
    keys = counts.index.str.lower()
    totals = counts.groupby(keys, sort=False).sum().sort_values(ascending=False, kind="stable")
    first = ~keys.duplicated()  # each level's most common spelling
    spelling = dict(zip(keys[first], counts.index[first]))
    return {spelling[key]: int(n) for key, n in totals.items()}


def level_columns(filled: pd.Series, levels: Sequence) -> list[np.ndarray]:
    """Per level, 1.0 where ``filled`` is that level as the sheet's ``IF(cell="level",1,0)`` finds it (a text
    without case), else 0.0."""
    keys = filled.map(text_key, na_action="ignore") if any(isinstance(level, str) for level in levels) else filled
    return [(keys == text_key(level)).to_numpy(dtype=float) for level in levels]


def kept_levels(feat: Feature, filled: pd.Series | None) -> tuple:
    """The levels given (else the sorted levels seen in ``fit``, one spelling of a text however its case
    varies), less the baseline (a text in any case)."""
    if feat.levels is not None:
        levels = feat.levels
    else:
        first: dict[object, object] = {}
        for level in sorted(filled.dropna().unique()):
            first.setdefault(text_key(level), level)
        levels = tuple(first.values())
    return tuple(level for level in levels if text_key(level) != text_key(feat.baseline))


def level_words(feat: Feature, source: str) -> str:
    levels = ", ".join(map(str, feat.levels)) if feat.levels is not None else "every level seen"
    baseline = "" if feat.baseline is None else f", baseline {feat.baseline!r} (no column)"
    return f"{feat.name}<level> = 1 where {source} is the level, for {levels}{baseline}"


def _type_then_value(value: object) -> tuple[str, object]:
    """A sort key for values of mixed types (a spec's ``positive = 1`` on a column of text): by type, then value."""
    return type(value).__name__, value


NEEDS_PREFIX = (("name", 'dummies need name = "PREFIX_" (the start of each column\'s name)'),)

KINDS = (
    # 1 where the value equals ``positive``; fit keeps the values it saw, to warn of others.
    FeatureKind("binary", lambda f, source: named(f, f"1 where {source} is {f.positive!r}, else 0"),
                lambda f, ref, at: fx.indicator(ref, f.positive), values=lambda f, filled, df, fitted: level_columns(filled, [f.positive])[0],
                source=lambda df, f: as_written(df[f.column]) if isinstance(f.positive, str) else df[f.column],
                levels=lambda f, filled: tuple(sorted({f.positive, *filled.dropna().unique()}, key=_type_then_value)),
                scalable=False,
                needs=(("positive", "a binary feature needs positive = VALUE (the value that gives 1)"),)),
    # One 0/1 column per level, less the baseline's.
    FeatureKind("dummies", level_words, lambda f, ref, at: fx.indicator(ref, at.level), values=None, source=_dummy_source,
                levels=kept_levels, per_level=True, needs=NEEDS_PREFIX),
    FeatureKind("present", kind_of, lambda f, ref, at: f"IF(ISBLANK({ref}),0,1)",
                source=lambda df, f: df[f.column].notna().astype(float)),
    FeatureKind("missing", lambda f, source: named(f, f"1 where {f.column} is blank, else 0"),
                lambda f, ref, at: f"IF(ISBLANK({ref}),1,0)", source=lambda df, f: df[f.column].isna().astype(float)),
)
