"""Every feature kind, by name: adding a kind is one record in a family module and one name here.

The families: :mod:`.numeric` (number, log, family, alone, per_ticket), :mod:`.categorical`
(binary, dummies, present, missing), :mod:`.bias` (ones) and :mod:`.titanic` (title,
woman_child, group_size, wcg_rate, wcg_died: Titanic's passengers, titles and groups).
"""

from __future__ import annotations

from ..errors import OptionError
from . import bias, categorical, numeric, titanic
from .kind import FeatureKind

#: Every feature kind, by name, in the order a spec's comment lists them.
FEATURE_KINDS: dict[str, FeatureKind] = {k.name: k for k in (*numeric.KINDS, *categorical.KINDS, *bias.KINDS, *titanic.KINDS)}


def feature_kind(name: str) -> FeatureKind:
    """The record of the kind called ``name``; :class:`OptionError` for a name not in :data:`FEATURE_KINDS`."""
    if name not in FEATURE_KINDS:
        raise OptionError(f"unknown feature kind {name!r}; choose from {', '.join(FEATURE_KINDS)}")
    return FEATURE_KINDS[name]
