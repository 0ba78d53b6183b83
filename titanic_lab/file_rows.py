"""Where a row of a table read from a file is, after rows were left out.

A frame read from a CSV (:func:`titanic_lab.datasets.csv.read_csv`) has an index named :data:`FILE_ROW`: each
row's label is its position among the file's data rows (0 for the row under the header), as pandas numbers
them. Rows left out later (a blank target, the rows of ``--exclude-from``, incomplete rows, ``--sample``) keep
their labels, so a message names the row of the file, not its position among the rows left: data row
``label + 1``, line ``label + 2`` (line 1 is the header; blank lines, which pandas skips, are not counted).

A frame without that index (a notebook's) is named by position when its index is ``0, 1, 2...`` (a frame
read by pandas), else by its index label.
"""

from __future__ import annotations

import pandas as pd

#: The index name of a frame whose labels are data rows of a file (see the module's docstring).
FILE_ROW = "titanic_lab file row"


def mark(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` (rows as read, in file order) with its index named :data:`FILE_ROW`; returns ``df``."""
    df.index = pd.RangeIndex(len(df), name=FILE_ROW)
    return df


def data_row(values: pd.Series | pd.DataFrame, label: object) -> int | None:
    """The 0-based data row of the file that holds the row ``label`` of ``values``; None when unknown."""
    index = values.index
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
    or numbered from 0 as pandas reads one, else ``the row with index 'x'``."""
    row = data_row(values, label)
    if row is not None:
        return f"data row {row + 1} (line {row + 2} of a CSV)"
    return f"the row with index {label!r}"
