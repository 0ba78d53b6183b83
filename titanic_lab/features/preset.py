"""A :class:`Preset`: a named tuple of feature steps, the columns it reads and the names it writes."""

from __future__ import annotations

from dataclasses import dataclass, field

from .categorical import kept_levels
from .registry import feature_kind
from .steps import Feature


@dataclass(frozen=True)
class Preset:
    """A named feature spec.

    Parameters
    ----------
    name : str
        The preset's name (``--preset``).
    features : tuple of Feature
        The steps, in output column order.
    complete_rows : tuple of str
        Columns that :func:`select_complete_rows` requires present when the preset's
        row selection is asked for (the lesson keeps rows with Age and Embarked).
    description : str
        One line for help texts.
    """

    name: str
    features: tuple[Feature, ...]
    complete_rows: tuple[str, ...] = ()
    description: str = ""
    raw_columns: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        raw = tuple(dict.fromkeys(c for f in self.features if feature_kind(f.kind).reads for c in (f.column, f.other) if c))
        object.__setattr__(self, "raw_columns", raw)

    @property
    def feature_names(self) -> tuple[str, ...] | None:
        """The output column names, known before ``fit`` when every dummy's levels are pinned."""
        names: list[str] = []
        for f in self.features:
            kind = feature_kind(f.kind)
            if kind.per_level and f.levels is None:
                return None
            names.extend(name for name, _ in kind.columns(f, kept_levels(f, None) if kind.per_level else ()))
        return tuple(names)
