"""Titanic's feature kinds: title dummies, woman or boy, and the ticket groups (the ``extended`` and
``groups`` presets). They read Titanic's raw columns (Name, Sex, Ticket) by name; the target they
learn from is the spec's (the preprocessor's ``target``), never a name of their own.

``title`` is dummies of the title group in Name (:func:`title_group`); ``woman_child`` is 1 for
a woman (``column`` Sex is female) or a boy (title Master in ``other``, the Name).
``group_size`` is how many training passengers share the row's ``column`` value (the ticket,
compared without case), the row included. ``wcg_rate`` and ``wcg_died`` are the
"woman-child-group" features, for women and boys only (0 for adult men and for those without a
group): the survival rate of the *other* women and boys of the training rows on the same ticket
(else, when there are none, with the same surname), and 1 where that rate is 0 (the whole rest of
the group died). A row never sees its own label.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import formulas as fx
from ..errors import TitanicLabError
from .categorical import NEEDS_PREFIX, kept_levels, level_words, text_key
from .kind import Cell, FeatureKind, HelperColumn, kind_of
from .numeric import group_key

if TYPE_CHECKING:
    from .steps import Feature

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
    woman = df["Sex"].map(text_key, na_action="ignore") == "female"  # without case, as its formula compares
    return (woman | (df["Name"].map(title_group) == "Master")).astype(float)


#: The raw columns that tell passengers apart when a name is blank: those the ``groups`` preset
#: reads (``tests/test_datasets.py`` checks that they are the preset's).
PASSENGER_COLUMNS: tuple[str, ...] = ("Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Ticket", "Cabin", "Embarked", "Name")


def _normalised(values: pd.Series) -> pd.Series:
    """Lower case, every run of characters other than letters and digits as one space.

    Kaggle's files and titanic3 write some names' quotes differently
    (``Mrs. Mariana (Miriam")"`` and ``Mrs. Mariana ("Miriam")``); this makes them equal.
    """
    return values.astype(str).str.lower().str.replace(r"[^a-z0-9]+", " ", regex=True).str.strip()


def passenger_keys(df: pd.DataFrame) -> pd.Series:
    """Each row's name and ticket, without case and punctuation: who a passenger is, across files."""
    return _normalised(df["Name"]) + "|" + _normalised(df["Ticket"])


#: A helper column of the groups preset's data table: each row's surname, ``LEFT(Name, ...)``.
SURNAME = "Surname"


def surnames(names: pd.Series) -> pd.Series:
    """The text of each name before its first comma (all of it without one; blank as ``""``):
    the workbook's ``LEFT(Name,FIND(",",Name&",")-1)``."""
    return names.astype(object).where(names.notna(), "").astype(str).str.split(",", n=1).str[0]


def _identities(df: pd.DataFrame) -> pd.Series:
    """Who each row is, to know the rows ``fit`` saw: name and ticket (:func:`passenger_keys`);
    for a blank name, every raw column's value."""
    signature = pd.Series("", index=df.index)
    for i, column in enumerate(c for c in PASSENGER_COLUMNS if c in df.columns):
        signature = group_key(df[column]) if i == 0 else signature + "|" + group_key(df[column])
    return passenger_keys(df).where(df["Name"].notna(), "no name|" + signature)


def _group_key(df: pd.DataFrame, by: str) -> pd.Series:
    """Each row's ticket, or surname, as :func:`group_key`."""
    return group_key(df["Ticket"] if by == "ticket" else surnames(df["Name"]))


def _target(fitted: Any) -> str | None:
    """The column of the answers: the preprocessor's ``target`` (the spec's)."""
    return getattr(fitted, "target", None)


def _labels(df: pd.DataFrame, y: object, feat: Feature, target: str | None) -> pd.Series:
    if target is not None and target in df.columns:
        labels = pd.to_numeric(df[target], errors="coerce")
    elif y is not None:
        labels = pd.Series(np.asarray(y, dtype=float), index=df.index)
    else:
        labels = pd.Series(dtype=float)
    if len(labels) != len(df) or labels.isna().any():
        raise TitanicLabError(f"feature {feat.output_name!r} learns group survival rates: fit it on rows with a complete "
                              f"{target or 'target'} column (or pass y)")
    return labels


def _learn_groups(feat: Feature, df: pd.DataFrame, y: object, fitted: Any) -> None:
    """Per group: its training passengers, and its women and boys with how many survived (once per fit)."""
    if fitted.groups_:
        return
    labels = _labels(df, y, feat, _target(fitted))
    fitted.fitted_labels_ = dict(zip(_identities(df), labels))
    wc = woman_child(df)
    for by in ("ticket", "surname"):
        stats = pd.DataFrame({"key": _group_key(df, by), "wc": wc, "saved": wc * labels}).groupby("key").agg(
            passengers=("wc", "size"), wc=("wc", "sum"), saved=("saved", "sum"))
        fitted.groups_[by] = {k: (int(r["passengers"]), float(r["wc"]), float(r["saved"])) for k, r in stats.iterrows()}


def _group_values(feat: Feature, filled: None, df: pd.DataFrame, fitted: Any) -> np.ndarray:
    """A group feature of every row; a training row's own label and count are taken away."""
    # A row fit saw counts itself in its groups, with its label: take both away, whether or not
    # this frame has the labels (scikit-learn's Pipeline fits with y and transforms without).
    keys = _identities(df)
    own = keys.isin(fitted.fitted_labels_.keys()).to_numpy()
    label = keys.map(fitted.fitted_labels_).astype(float).to_numpy()
    target = _target(fitted)
    if target is not None and target in df.columns:  # the row's own label where it has one
        label = pd.to_numeric(df[target], errors="coerce").fillna(pd.Series(label, index=df.index)).to_numpy(dtype=float)
    label = np.where(own, np.nan_to_num(label), 0.0)
    wc = woman_child(df).to_numpy()

    def others(by: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        found = np.array([fitted.groups_[by].get(k, (0, 0.0, 0.0)) for k in _group_key(df, by)], dtype=float).reshape(-1, 3)
        return found[:, 0] - own, found[:, 1] - own * wc, found[:, 2] - own * wc * label

    ticket_passengers, ticket_wc, ticket_saved = others("ticket")
    if feat.kind == "group_size":
        return ticket_passengers + 1
    _, surname_wc, surname_saved = others("surname")
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(ticket_wc > 0, ticket_saved / ticket_wc, np.where(surname_wc > 0, surname_saved / surname_wc, 0.0))
    counted = (wc == 1) & ((ticket_wc > 0) | (surname_wc > 0))
    return np.where(counted, rate if feat.kind == "wcg_rate" else (rate == 0).astype(float), 0.0)


def _wcg_formula(feat: Feature, ref: str, at: Cell) -> str:
    """The woman-child-group formula; the surnames compared are the ``Surname`` helper column's
    (engines other than LibreOffice do not apply LEFT/FIND to a whole column inside SUMPRODUCT)."""
    return fx.woman_child_group(feat.kind, f"({at.column('Ticket')}={ref})", f"({at.column(SURNAME)}={at.this_row(SURNAME)})",
                                at.this_row("WomanChild"), at.column("WomanChild"), at.this_row(at.target), at.column(at.target))


_SURNAME_COLUMN = HelperColumn(SURNAME, lambda at: fx.surname(at.this_row("Name")), lambda df: surnames(df["Name"]).to_numpy())


def _wcg(name: str) -> FeatureKind:
    return FeatureKind(name, kind_of, _wcg_formula, values=_group_values, source=None, scalable=False, learn=_learn_groups,
                       helpers=(_SURNAME_COLUMN,))


def _title_formula(feat: Feature, ref: str, at) -> str:
    return fx.one_of(fx.title(ref), [t for t, group in TITLE_GROUPS.items() if group == at.level])


KINDS = (
    # Dummies of the title group in a name (see title_group).
    FeatureKind("title", level_words, _title_formula, values=None, source=lambda df, f: df[f.column].map(title_group),
                levels=kept_levels, per_level=True, needs=NEEDS_PREFIX),
    # 1 for a woman (``column`` Sex is female) or a boy (title Master in ``other``, the Name).
    FeatureKind("woman_child", kind_of, lambda f, ref, at: f'IF(OR({ref}="female",{fx.title(at.this_row(f.other))}="Master"),1,0)',
                source=lambda df, f: woman_child(df)),
    FeatureKind("group_size", kind_of, lambda f, ref, at: fx.count_equal(at.column(f.column), ref), values=_group_values,
                source=None, learn=_learn_groups),
    _wcg("wcg_rate"),
    _wcg("wcg_died"),
)
