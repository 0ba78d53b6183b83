"""Where a model sheet's data table sits: its name, columns, rows and the references to its cells.

The sheet writers (:mod:`.data_table` writes the table, :mod:`.book` keeps each sheet's) share it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
        first, last = self.col[self.feature_names[0]], self.col[self.feature_names[-1]]
        return fx.area(FIRST_ROW, first, self.last_row, last)
