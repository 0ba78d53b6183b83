"""Categorical feature kinds: one 0/1 column for a value, dummies, titles, present or missing, woman or boy."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .. import formulas as fx
from . import FeatureKind, kind_of, named

if TYPE_CHECKING:
    from ..preprocessing import Feature

#: Title groups of the ``extended`` preset: every other title (Dr, Rev, Col, Countess...) is "rare".
TITLE_GROUPS = {"Mr": "Mr", "Mrs": "Mrs", "Mme": "Mrs", "Miss": "Miss", "Mlle": "Miss", "Ms": "Miss", "Master": "Master"}
_TITLES_BY_CASELESS = {title.lower(): group for title, group in TITLE_GROUPS.items()}


def title_group(name: object) -> str:
    """The title group of a passenger's name: ``"Braund, Mr. Owen Harris"`` -> ``"Mr"``.

    The title is the text between the first ``", "`` and the next ``"."`` (as the workbook's
    ``MID``/``FIND`` formula reads it), compared without case as the spreadsheet's ``=``
    compares it; titles outside :data:`TITLE_GROUPS` are ``"rare"``.
    """
    text = "" if not isinstance(name, str) else name
    comma = text.find(", ")
    dot = text.find(".", comma) if comma >= 0 else -1
    return _TITLES_BY_CASELESS.get(text[comma + 2 : dot].lower(), "rare") if dot >= 0 else "rare"


def woman_child(df: pd.DataFrame) -> pd.Series:
    """1.0 for a woman (Sex female) or a boy (title Master in Name), else 0.0."""
    return ((df["Sex"] == "female") | (df["Name"].map(title_group) == "Master")).astype(float)


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


def _kept_levels(feat: Feature, filled: pd.Series) -> tuple:
    """The levels given (else the sorted levels seen in ``fit``), less the baseline."""
    levels = feat.levels if feat.levels is not None else tuple(sorted(filled.dropna().unique()))
    return tuple(level for level in levels if level != feat.baseline)


def _level_words(feat: Feature, source: str) -> str:
    levels = ", ".join(map(str, feat.levels)) if feat.levels is not None else "every level seen"
    baseline = "" if feat.baseline is None else f", baseline {feat.baseline!r} (no column)"
    return f"{feat.name}<level> = 1 where {source} is the level, for {levels}{baseline}"


def _title_formula(feat: Feature, ref: str, at) -> str:
    return fx.one_of(fx.title(ref), [t for t, group in TITLE_GROUPS.items() if group == at.level])


_NEEDS_PREFIX = (("name", 'dummies need name = "PREFIX_" (the start of each column\'s name)'),)

KINDS = (
    # 1 where the value equals ``positive``; fit keeps the values it saw, to warn of others.
    FeatureKind("binary", lambda f, source: named(f, f"1 where {source} is {f.positive!r}, else 0"),
                lambda f, ref, at: fx.indicator(ref, f.positive), values=lambda f, filled, df, fitted: (filled == f.positive).to_numpy(dtype=float),
                source=lambda df, f: as_written(df[f.column]) if isinstance(f.positive, str) else df[f.column],
                levels=lambda f, filled: tuple(sorted({f.positive, *filled.dropna().unique()})), scalable=False,
                needs=(("positive", "a binary feature needs positive = VALUE (the value that gives 1)"),)),
    # One 0/1 column per level, less the baseline's.
    FeatureKind("dummies", _level_words, lambda f, ref, at: fx.indicator(ref, at.level), values=None, source=_dummy_source,
                levels=_kept_levels, per_level=True, needs=_NEEDS_PREFIX),
    # Dummies of the title group in a name (see title_group).
    FeatureKind("title", _level_words, _title_formula, values=None, source=lambda df, f: df[f.column].map(title_group),
                levels=_kept_levels, per_level=True, needs=_NEEDS_PREFIX),
    FeatureKind("present", kind_of, lambda f, ref, at: f"IF(ISBLANK({ref}),0,1)",
                source=lambda df, f: df[f.column].notna().astype(float)),
    FeatureKind("missing", lambda f, source: named(f, f"1 where {f.column} is blank, else 0"),
                lambda f, ref, at: f"IF(ISBLANK({ref}),1,0)", source=lambda df, f: df[f.column].isna().astype(float)),
    # 1 for a woman (``column`` Sex is female) or a boy (title Master in ``other``, the Name).
    FeatureKind("woman_child", kind_of, lambda f, ref, at: f'IF(OR({ref}="female",{fx.title(at.this_row(f.other))}="Master"),1,0)',
                source=lambda df, f: woman_child(df)),
)
