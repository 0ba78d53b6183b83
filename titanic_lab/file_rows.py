"""Where a row of a table read from a file is, after rows were left out.

A frame read from a CSV (:func:`titanic_lab.datasets.csv.read_csv`) has an index named :data:`FILE_ROW`: each
row's label is its position among the file's data rows (0 for the row under the header), as pandas numbers
them. Rows left out later (a blank target, the rows of ``--exclude-from``, incomplete rows, ``--sample``) keep
their labels, so a message names the row of the file, not its position among the rows left: data row
``label + 1``, line ``label + 2`` (line 1 is the header; blank lines, which pandas skips, are not counted).

A frame whose rows are a workbook sheet's data rows (a model sheet's raw columns, read by
:func:`titanic_lab.workbook.layout.read_model_sheets`) has an index named by a :class:`SheetRows`: a message then
names the workbook's sheet and cell (``sheet 'linear' cell F4``), never a line of a CSV it did not come from.

A frame without that index (a notebook's) is named by position when its index is ``0, 1, 2...`` (a frame
read by pandas), else by its index label.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

#: The index name of a frame whose labels are data rows of a file (see the module's docstring).
FILE_ROW = "titanic_lab file row"


@dataclass(frozen=True)
class SheetRows:
    """The index name of a frame whose rows are a workbook sheet's data rows: row label ``i`` is the sheet's row
    ``first_row + i`` (0-based), and a raw column's cells are in the column ``columns`` gives it (0-based)."""

    book: str
    sheet: str
    first_row: int
    columns: tuple[tuple[str, int], ...]

    def cell(self, column: object, label: object) -> str:
        """``sheet 'linear' cell F4`` (the column's cell), or ``sheet 'linear' row 4`` when the column is not one of its own."""
        row = self.first_row + int(label)
        col = dict(self.columns).get(column)
        if col is None:
            return f"sheet {self.sheet!r} row {row + 1}"
        letters, n = "", col + 1
        while n:
            n, rest = divmod(n - 1, 26)
            letters = chr(65 + rest) + letters
        return f"sheet {self.sheet!r} cell {letters}{row + 1}"


def mark_sheet(df: pd.DataFrame, book: object, sheet: str, first_row: int, columns: dict[str, int]) -> pd.DataFrame:
    """``df`` (a sheet's data rows in order, from its ``first_row``, 0-based) with its index named by a :class:`SheetRows`;
    ``columns``: each raw column's column in the sheet (0-based). Returns ``df``."""
    where = SheetRows(str(book), sheet, int(first_row), tuple((str(c), int(i)) for c, i in columns.items()))
    df.index = pd.RangeIndex(len(df), name=where)
    return df


def sheet_rows(values: pd.Series | pd.DataFrame) -> SheetRows | None:
    """The :class:`SheetRows` of a frame (or one of its columns) read from a workbook sheet; None for any other."""
    name = values.index.name
    return name if isinstance(name, SheetRows) else None


def mark(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` (rows as read, in file order) with its index named :data:`FILE_ROW`; returns ``df``."""
    df.index = pd.RangeIndex(len(df), name=FILE_ROW)
    return df


def data_row(values: pd.Series | pd.DataFrame, label: object) -> int | None:
    """The 0-based data row of the file that holds the row ``label`` of ``values``; None when unknown."""
    index = values.index
    if isinstance(index.name, SheetRows):  # a sheet's row: it has a cell, not a line of a file (row_named names it)
        return None
    if index.name == FILE_ROW:
        return int(label)
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        return int(index.get_loc(label))
    return None


def line_of(values: pd.Series | pd.DataFrame, label: object) -> int:
    """The 1-based line of the file that holds row ``label`` (line 1 is the header); by position when unknown."""
    row = data_row(values, label)
    return (row if row is not None else int(values.index.get_loc(label))) + 2


def line_at(values: pd.Series | pd.DataFrame, position: int) -> int:
    """:func:`line_of` the row at ``position`` (0-based) of ``values``."""
    return line_of(values, values.index[position])


def row_named(values: pd.Series | pd.DataFrame, label: object) -> str:
    """Where a bad value is: ``data row 4 (line 5 of a CSV)`` for a frame read from a file (:data:`FILE_ROW`)
    or numbered from 0 as pandas reads one, ``sheet 'linear' cell F4`` for a sheet's row (:class:`SheetRows`; the cell of
    the column ``values`` is, a Series), else ``the row with index 'x'``."""
    where = sheet_rows(values)
    if where is not None:
        return where.cell(values.name if isinstance(values, pd.Series) else None, label)
    row = data_row(values, label)
    if row is not None:
        return f"data row {row + 1} (line {row + 2} of a CSV)"
    return f"the row with index {label!r}"
