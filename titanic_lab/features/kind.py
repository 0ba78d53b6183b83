"""The feature kind record: how a raw column becomes a feature, in code and in the sheet.

A :class:`~titanic_lab.features.steps.Feature` step names its kind (``number``, ``log``,
``dummies``...). The kind's :class:`FeatureKind` record holds side by side:

* the maths: the values the step starts from (``source``), what ``fit`` learns of them
  (``learn``, ``levels``) and the feature's values (``values``);
* the spreadsheet: the Excel formula of a data row (``formula``, built from the small pure
  functions of :mod:`titanic_lab.formulas`), whether a divide-by-max divisor can be written as
  the formula of the column's ``MAX`` (``by_max``), and any helper column the formulas read;
* the words that describe the step (``describe``) and what a spec file must give for it
  (``needs``).

What every kind shares stays in :class:`~titanic_lab.preprocessing.TabularPreprocessor`: the
fill of blanks (learned per raw column), the scale (max or z-score) and the clip at
``SATURATION``. The kinds themselves live in the families (:mod:`.numeric`, :mod:`.categorical`,
:mod:`.bias`, :mod:`.titanic`) and are looked up in :data:`titanic_lab.features.registry.FEATURE_KINDS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd

from .. import file_rows
from .. import formulas as fx

if TYPE_CHECKING:
    from .steps import Feature


@dataclass(frozen=True)
class Cell:
    """Where a feature's formula is written: the data table's references, the row, and for a
    kind with a column per level, that column's level.

    Attributes
    ----------
    refs : titanic_lab.formulas.TableRefs
    row : int
        0-based, as in XlsxWriter.
    level : optional
    target : str
        The table's target column (the spec's): a kind that reads the answers of other rows
        (the woman-child-group features) reads this column, never a name of its own.
    """

    refs: fx.TableRefs
    row: int
    level: object = None
    target: str = ""

    def this_row(self, column: str) -> str:
        """This row's cell of another raw column: ``Data[[#This Row],[Parch]]`` or ``$G4``."""
        return self.refs.this_row(column, self.row)

    def column(self, column: str) -> str:
        """A whole data column: ``Data[Ticket]`` or ``$K$4:$K$894``."""
        return self.refs.column(column)


@dataclass(frozen=True)
class HelperColumn:
    """A column of the data table that a kind's formulas read (the groups' ``Surname``).

    Attributes
    ----------
    name : str
        Its header.
    formula : callable
        A :class:`Cell` -> the column's formula in that row.
    values : callable
        The rows -> the column's values (its cached values).
    """

    name: str
    formula: Callable[[Cell], str]
    values: Callable[[pd.DataFrame], np.ndarray]


def as_read(df: pd.DataFrame, feat: Feature) -> pd.Series:
    """The raw column as read: a kind's default ``source``."""
    return df[feat.column]


def as_floats(feat: Feature, filled: pd.Series, df: pd.DataFrame, fitted: Any) -> np.ndarray:
    """The filled values as floats: a kind's default ``values``."""
    return filled.to_numpy(dtype=float)


def named(feat: Feature, what: str) -> str:
    """``Age_N = Age (blank: median) / max``: a one-column feature in words, its scale included."""
    scaled = {"max": " / max", "zscore": " as a z-score (minus the mean, over the standard deviation)"}.get(feat.scale or "", "")
    return f"{feat.output_name} = {what}{scaled}"


def kind_of(feat: Feature, source: str) -> str:
    """``Family_N = family of SibSp and Parch / max``: a derived feature named by its kind."""
    return named(feat, f"{feat.kind} of {source}" + (f" and {feat.other}" if feat.other else ""))


@dataclass(frozen=True)
class FeatureKind:
    """One kind of feature step.

    Attributes
    ----------
    name : str
        As a spec writes it (``kind = "log"``).
    describe : callable
        ``(feat, source)`` -> the step in words; ``source`` is the raw column and its fill in
        words (``Age (blank: median)``).
    formula : callable or None
        ``(feat, ref, cell)`` -> the Excel formula of one row of the feature (no leading ``=``,
        before scaling); ``ref`` is the row's raw cell, already wrapped in the fill
        (``IF(ISBLANK(x),fill,x)``). None: the column is written as values (the bias's ones).
    values : callable, optional
        ``(feat, filled, df, fitted)`` -> the feature's values, (n_rows,), before scaling:
        ``filled`` is ``source`` with blanks filled (None for a kind without ``source``), ``df``
        the rows and ``fitted`` the preprocessor with what ``fit`` has learned. Not used by a
        kind with a column per level (its columns are ``filled == level``).
    source : callable or None
        ``(df, feat)`` -> the values the step starts from, before filling (blanks as NaN). None:
        the kind reads no single filled column (the bias; the group features).
    levels : callable, optional
        ``(feat, filled)`` -> the values ``fit`` keeps (in ``levels_[feat.name]``); a value
        outside them at ``transform`` is warned about.
    per_level : bool
        One 0/1 column ``name + level`` per level learned (dummies, titles).
    scalable : bool
        Whether a ``scale`` given to the step is learned and applied.
    by_max : bool
        The feature depends on its raw value alone and never decreases as it grows, so the
        largest feature is the feature of the largest raw value: a divide-by-max divisor is
        written as the kind's formula of ``MAX(column)`` (see :meth:`max_formula`).
    identity : bool
        The feature is its raw value (``number``): unscaled and under its column's name, it is
        written once, as data.
    reads : bool
        Whether the step reads raw columns (``column``, ``other``); False for the bias.
    learn : callable, optional
        ``(feat, df, y, fitted)``: learns, at ``fit``, what ``values`` needs besides fills,
        levels and scales, and stores it on ``fitted`` (``group_sizes_``, ``groups_``).
    helpers : tuple of HelperColumn
        Columns the data table needs for the formulas.
    needs : tuple of (key, message)
        Keys a spec's ``[[features]]`` entry of this kind must give, with the message when absent.
    raw : callable, optional
        The raw column -> the numbers its cells hold in the data table, when not the values as
        read (a date column: date serial numbers, shown as dates, that ``YEAR`` and the like read).
    """

    name: str
    describe: Callable[[Feature, str], str]
    formula: Callable[[Feature, str, Cell], str] | None
    values: Callable[[Feature, pd.Series | None, pd.DataFrame | None, Any], np.ndarray] | None = as_floats
    source: Callable[[pd.DataFrame, Feature], pd.Series] | None = as_read
    levels: Callable[[Feature, pd.Series], tuple] | None = None
    per_level: bool = False
    scalable: bool = True
    by_max: bool = False
    identity: bool = False
    reads: bool = True
    learn: Callable[[Feature, pd.DataFrame, object, Any], None] | None = None
    helpers: tuple[HelperColumn, ...] = ()
    needs: tuple[tuple[str, str], ...] = ()
    raw: Callable[[pd.Series], pd.Series] | None = None

    def columns(self, feat: Feature, levels: tuple = ()) -> list[tuple[str, object]]:
        """``(output column, level)`` per column the step writes: one per level, or one (level None)."""
        if self.per_level:
            return [(f"{feat.name}{level}", level) for level in levels]
        return [(feat.output_name, None)]

    def is_passthrough(self, feat: Feature) -> bool:
        """A feature that is its raw column unchanged (SibSp, Parch in the lesson): written once, as data."""
        return self.identity and feat.scale is None and feat.output_name == feat.column

    def max_formula(self, feat: Feature, raw: pd.Series, divisor: float, column: str) -> str | None:
        """The formula of a divide-by-max divisor, ``MAX`` over the sheet's raw column: the kind's
        formula of ``MAX(column)`` (``LOG10(MAX(Data[Fare])+1)``), when it gives the fitted
        ``divisor`` for these rows ``raw``; None when it would not (write the number).
        """
        if not self.by_max or self.formula is None or self.values is None:
            return None
        raw = self.raw(raw) if self.raw is not None else raw.astype(float)
        if raw.isna().all():
            return None
        largest = self.values(feat, pd.Series([float(raw.max())]), None, None)  # its raw value alone: no rows, nothing fitted
        if float(largest[0]) != divisor:
            return None
        return self.formula(feat, fx.column_max(column), Cell(fx.TableRefs("", {}, 0, 0), 0))


def row_named(values: pd.Series, label: object) -> str:
    """Where a bad value is: ``data row 4 (line 5 of a CSV)`` for a frame read from a file (its rows' places in
    the file kept through the rows left out, :mod:`titanic_lab.file_rows`) or numbered from 0, else ``the row
    with index 'x'``."""
    return file_rows.row_named(values, label)
