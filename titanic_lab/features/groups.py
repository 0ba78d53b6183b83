"""Group feature kinds (the ``groups`` preset), computed from the training rows' groups.

``group_size`` is how many training passengers share the row's ``column`` value (the ticket,
compared without case), the row included. ``wcg_rate`` and ``wcg_died`` are the
"woman-child-group" features, for women and boys only (0 for adult men and for those without a
group): the survival rate of the *other* women and boys of the training rows on the same ticket
(else, when there are none, with the same surname), and 1 where that rate is 0 (the whole rest of
the group died). A row never sees its own label.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import formulas as fx
from ..data import TARGET, passenger_keys
from ..errors import TitanicLabError
from . import Cell, FeatureKind, HelperColumn, kind_of
from .categorical import woman_child

if TYPE_CHECKING:
    from ..preprocessing import Feature

#: A helper column of the groups preset's data table: each row's surname, ``LEFT(Name, ...)``.
SURNAME = "Surname"


def surnames(names: pd.Series) -> pd.Series:
    """The text of each name before its first comma (all of it without one; blank as ``""``):
    the workbook's ``LEFT(Name,FIND(",",Name&",")-1)``."""
    return names.astype(object).where(names.notna(), "").astype(str).str.split(",", n=1).str[0]


def group_key(values: pd.Series) -> pd.Series:
    """A group's key, as the spreadsheet's ``=`` compares cells: the text without case, a blank as ``""``."""
    return values.astype(object).where(values.notna(), "").astype(str).str.lower()


def _identities(df: pd.DataFrame) -> pd.Series:
    """Who each row is, to know the rows ``fit`` saw: name and ticket (:func:`passenger_keys`);
    for a blank name, every raw column's value."""
    from ..preprocessing import GROUPS  # the preset's raw columns; it imports this package

    signature = functools.reduce(lambda a, b: a + "|" + b, (group_key(df[c]) for c in GROUPS.raw_columns if c in df.columns))
    return passenger_keys(df).where(df["Name"].notna(), "no name|" + signature)


def _group_key(df: pd.DataFrame, by: str) -> pd.Series:
    """Each row's ticket, or surname, as :func:`group_key`."""
    return group_key(df["Ticket"] if by == "ticket" else surnames(df["Name"]))


def _labels(df: pd.DataFrame, y: object, feat: Feature) -> pd.Series:
    if TARGET in df.columns:
        labels = pd.to_numeric(df[TARGET], errors="coerce")
    elif y is not None:
        labels = pd.Series(np.asarray(y, dtype=float), index=df.index)
    else:
        labels = pd.Series(dtype=float)
    if len(labels) != len(df) or labels.isna().any():
        raise TitanicLabError(f"feature {feat.output_name!r} learns group survival rates: fit it on rows with a complete "
                              f"{TARGET} column (or pass y)")
    return labels


def _learn_groups(feat: Feature, df: pd.DataFrame, y: object, fitted: Any) -> None:
    """Per group: its training passengers, and its women and boys with how many survived (once per fit)."""
    if fitted.groups_:
        return
    labels = _labels(df, y, feat)
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
    if TARGET in df.columns:  # the row's own label where it has one
        label = pd.to_numeric(df[TARGET], errors="coerce").fillna(pd.Series(label, index=df.index)).to_numpy(dtype=float)
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
                                at.this_row("WomanChild"), at.column("WomanChild"), at.this_row(TARGET), at.column(TARGET))


_SURNAME_COLUMN = HelperColumn(SURNAME, lambda at: fx.surname(at.this_row("Name")), lambda df: surnames(df["Name"]).to_numpy())


def _wcg(name: str) -> FeatureKind:
    return FeatureKind(name, kind_of, _wcg_formula, values=_group_values, source=None, scalable=False, learn=_learn_groups,
                       helpers=(_SURNAME_COLUMN,))


KINDS = (
    FeatureKind("group_size", kind_of, lambda f, ref, at: fx.count_equal(at.column(f.column), ref), values=_group_values,
                source=None, learn=_learn_groups),
    _wcg("wcg_rate"),
    _wcg("wcg_died"),
)
