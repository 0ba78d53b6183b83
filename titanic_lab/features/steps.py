"""The vocabulary of a feature step: a :class:`Feature` (one raw column to named float columns), with
small constructors for the common kinds. Steps gather into a :class:`~titanic_lab.features.preset.Preset`.

What a step's kind computes, and its formula and words, is the kind's record
(:mod:`titanic_lab.features.kind`, looked up in :mod:`titanic_lab.features.registry`); this module
imports none of them, so every kind can name ``Feature``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

FillStrategy = Literal["mode", "median", "constant"]
ScaleMethod = Literal["max", "zscore"]


@dataclass(frozen=True)
class Feature:
    """One step of a preset: a raw column turned into named float column(s).

    Parameters
    ----------
    column : str
        The raw column read (empty for ``kind="ones"``).
    kind : str
        The name of a record of :data:`titanic_lab.features.FEATURE_KINDS`, which holds the
        kind's maths, formula and words. ``number`` keeps the value; ``log`` is ``log(x + 1)`` in ``base``; ``binary`` is 1 where
        the value equals ``positive``; ``dummies`` is one 0/1 column per level, less the
        ``baseline`` level if given; ``ones`` is the constant bias column. Derived (the
        ``extended`` preset): ``title`` dummies of the title in Name (see :func:`title_group`);
        ``family`` is ``column + other + 1``; ``alone`` is 1 where ``column + other == 0``;
        ``present`` / ``missing`` are 1 where the raw value is present / missing;
        ``per_ticket`` is ``log(column / n + 1)`` with n the passengers sharing ``other``
        (the ticket) in the training data. The ``groups`` preset's: ``woman_child`` is 1 for a
        woman (``column`` Sex is female) or a boy (title Master in ``other``, the Name);
        ``group_size`` is how many training passengers share the row's ``column`` value (the
        ticket, compared without case), the row included. ``wcg_rate`` and ``wcg_died`` are the
        "woman-child-group" features, for women and boys only (0 for adult men and for those
        without a group): the survival rate of the *other* women and boys of the training rows
        on the same ticket (else, when there are none, with the same surname), and 1 where
        that rate is 0 (the whole rest of the group died). A row never sees its own label.
    name : str
        The output column name; for ``dummies``, the prefix before each level.
    fill : {"mode", "median", "constant"} or None
        How to fill missing values, learned on the training data. None: missing is an error.
    fill_value : float or str, optional
        The value for ``fill="constant"``.
    base : float
        Log base (10 or ``math.e``).
    positive : str
        The value that ``binary`` maps to 1.
    levels : tuple, optional
        Dummy levels in output order. None: the sorted levels seen in ``fit``.
    baseline : optional
        The dummy level that gets no column (n-1 dummies). None: all levels.
    scale : {"max", "zscore"} or None
        ``max`` divides by the training maximum; ``zscore`` subtracts the mean and divides by
        the standard deviation.
    other : str
        The second raw column of ``family``, ``alone`` and ``per_ticket``.
    """

    column: str
    kind: str = "number"
    name: str = ""
    fill: FillStrategy | None = "mode"
    fill_value: float | str | None = None
    base: float = 10.0
    positive: str | None = None
    levels: tuple | None = None
    baseline: object | None = None
    scale: ScaleMethod | None = None
    other: str = ""

    @property
    def output_name(self) -> str:
        return self.name or self.column


def number(column: str, name: str = "", *, scale: ScaleMethod | None = None, **kw: object) -> Feature:
    """A numeric column kept as it is (optionally scaled)."""
    return Feature(column, "number", name, scale=scale, **kw)


def log1p(column: str, name: str, *, base: float = 10.0, scale: ScaleMethod | None = None, **kw: object) -> Feature:
    """``log(column + 1)`` in ``base`` (10 in the workbook, e in the notebook)."""
    return Feature(column, "log", name, base=base, scale=scale, **kw)


def binary(column: str, positive: str, name: str, **kw: object) -> Feature:
    """A two-valued categorical as one 0/1 column: 1 where ``column == positive``."""
    return Feature(column, "binary", name, positive=positive, **kw)


def dummies(column: str, prefix: str, *, levels: Sequence | None = None, baseline: object | None = None, **kw: object) -> Feature:
    """Dummy variables ``prefix + level``: all levels, or n-1 when ``baseline`` is given."""
    return Feature(column, "dummies", prefix, levels=None if levels is None else tuple(levels), baseline=baseline, **kw)


def ones(name: str = "Ones") -> Feature:
    """The constant 1 column that carries the bias."""
    return Feature("", "ones", name, fill=None)
