"""Where a model sheet's data table sits: its name, columns, rows and the references to its cells.

The sheet writers (:mod:`.data_table` writes the table, :mod:`.book` keeps each sheet's) share it. A table
whose features are on another sheet's table (``features_at``, with ``--features-once``) holds the raw columns
only; its feature references name that sheet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .. import formulas as fx
from ..sheet_layout import FIRST_ROW


@dataclass
class Table:
    """Where a sheet's data table sits."""

    name: str
    columns: list[str]
    n_rows: int
    feature_names: list[str]
    portable: bool = False
    #: The sheet the table is on.
    sheet: str = ""
    #: The table holding the features as formulas, when not this one (the first model sheet's).
    features_at: Table | None = None
    #: References to the table's cells: structured, or plain A1 with ``--portable``.
    refs: fx.TableRefs = field(init=False)

    def __post_init__(self) -> None:
        columns = {name: i for i, name in enumerate(self.columns)}
        self.refs = fx.TableRefs(self.name, columns, FIRST_ROW, self.last_row, self.portable)

    @property
    def col(self) -> dict[str, int]:
        return self.refs.columns

    @property
    def last_row(self) -> int:
        return FIRST_ROW + self.n_rows - 1

    def feature_area(self) -> str:
        """Every row's features: ``U4:FA5003``, or ``linear!$U$4:$FA$5003`` when they are on another sheet."""
        held = self.features_at
        if held is None:
            first, last = self.col[self.feature_names[0]], self.col[self.feature_names[-1]]
            return fx.area(FIRST_ROW, first, self.last_row, last)
        first, last = held.col[self.feature_names[0]], held.col[self.feature_names[-1]]
        return fx.sheet_area(held.sheet, fx.area(FIRST_ROW, first, held.last_row, last, absolute=True))

    def feature_formula(self, build: Callable[[str], str]) -> Callable[[int], str]:
        """Row -> a formula of the row's features (``build`` takes their span): ``Data[[#This Row],[x]:[Ones]]``,
        ``$U4:$FA4``, or ``linear!$U4:$FA4`` when they are on another sheet."""
        first, last = self.feature_names[0], self.feature_names[-1]
        if self.features_at is None:
            return self.refs.per_row(lambda r: build(self.refs.this_row_span(first, last, r)))
        held = self.features_at
        start, stop = held.col[first], held.col[last]
        return lambda r: build(fx.sheet_area(held.sheet, f"{fx.column_fixed(r, start)}:{fx.column_fixed(r, stop)}"))

    def feature_cell(self, name: str, row: int) -> str:
        """Row ``row``'s cell of feature ``name`` on the sheet that holds it: ``linear!U4``."""
        held = self.features_at or self
        return fx.sheet_area(held.sheet, fx.cell(row, held.col[name]))
