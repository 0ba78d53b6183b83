"""Write a worksheet in row order, so that XlsxWriter can stream it to disk.

In ``constant_memory`` mode XlsxWriter keeps only the current row in memory and silently
drops a cell written to a row above it. titanic-lab's sheets are laid out in blocks
(parameters beside the data, totals above it, one column after another), so a sheet is
planned first and written afterwards:

* single cells (headers, parameters, totals: a few per column) are recorded as they come;
* a data column is recorded as a rule ``write(ws, row, i)`` for its ``i``-th row, holding only
  a reference to its values and building each formula string when its row is written.

:meth:`RowWriter.write` then emits row 0, row 1, ..., so the workbook's memory stays one row
of cells whatever the number of rows. A stretch of rows whose rules can also give many rows'
cells at once (a ``chunk`` method: :mod:`titanic_lab.workbook.columns`) goes to the worksheet's
``write_rows`` when it has one, which holds a chunk of rows instead of one.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable

import xlsxwriter.worksheet

#: ``rule(ws, row, i)`` writes the cells of a column (or block of columns) for its ``i``-th row.
Rule = Callable[[xlsxwriter.worksheet.Worksheet, int, int], None]


class RowWriter:
    """A worksheet's cells, gathered in any order and written in row order.

    It takes XlsxWriter's cell methods with their own signatures (``write_string``,
    ``write_number``, ``write_blank``, ``write_formula``, ``write_dynamic_array_formula``,
    ``merge_range``, ``add_table``, and ``set_row``, which goes out with its row) and records
    them; sheet settings that are not cells (``set_column``, ``freeze_panes``, ``autofilter``,
    ``insert_chart``, ``activate``, and the print setup) go straight through.
    """

    _SETTINGS = frozenset({
        "set_column", "freeze_panes", "autofilter", "insert_chart", "activate",
        "set_landscape", "fit_to_pages", "repeat_rows", "print_area", "set_paper", "set_margins", "set_print_scale",
        "set_v_pagebreaks",
    })

    def __init__(self, worksheet: xlsxwriter.worksheet.Worksheet) -> None:
        self.worksheet = worksheet
        self._cells: dict[int, list[tuple[Callable[..., Any], tuple]]] = defaultdict(list)
        self._rules: list[tuple[int, int, Rule]] = []

    def __getattr__(self, name: str) -> Any:
        if name in self._SETTINGS:
            return getattr(self.worksheet, name)
        raise AttributeError(f"RowWriter does not record {name!r}")

    def _record(self, row: int, method: Callable[..., Any], *args: Any) -> None:
        self._cells[row].append((method, args))

    def write_string(self, row: int, col: int, *args: Any) -> None:
        self._record(row, self.worksheet.write_string, row, col, *args)

    def write_number(self, row: int, col: int, *args: Any) -> None:
        self._record(row, self.worksheet.write_number, row, col, *args)

    def write_blank(self, row: int, col: int, *args: Any) -> None:
        self._record(row, self.worksheet.write_blank, row, col, *args)

    def write_formula(self, row: int, col: int, *args: Any) -> None:
        self._record(row, self.worksheet.write_formula, row, col, *args)

    def write_dynamic_array_formula(self, first_row: int, first_col: int, last_row: int, last_col: int, *args: Any) -> None:
        # The formula sits in the first cell; the rest of its range is written by the caller.
        self._record(first_row, self.worksheet.write_dynamic_array_formula, first_row, first_col, last_row, last_col, *args)

    def merge_range(self, first_row: int, first_col: int, last_row: int, last_col: int, *args: Any) -> None:
        self._record(first_row, self.worksheet.merge_range, first_row, first_col, last_row, last_col, *args)

    def set_row(self, row: int, *args: Any) -> None:
        # In constant_memory mode a row's height is written with the row, so it is set just before its cells.
        self._record(row, self.worksheet.set_row, row, *args)

    def add_table(self, first_row: int, first_col: int, last_row: int, last_col: int, options: dict) -> None:
        # The table writes its header cells, so it is added when its header row is written.
        self._record(first_row, self.worksheet.add_table, first_row, first_col, last_row, last_col, options)

    def column(self, first_row: int, n_rows: int, rule: Rule) -> None:
        """Record ``rule(ws, row, i)`` for rows ``first_row + i``, ``i`` in ``range(n_rows)``."""
        if n_rows > 0:
            self._rules.append((first_row, first_row + n_rows, rule))

    def write(self) -> None:
        """Write every recorded cell, row after row, into the worksheet; the record is emptied."""
        ws = self.worksheet
        stop = max([row + 1 for row in self._cells] + [end for _, end, _ in self._rules], default=0)
        # Rows are written in stretches where the same rules apply, so the inner loop does no tests.
        bounds = sorted({0, stop, *(b for first, end, _ in self._rules for b in (first, end))})
        write_rows = getattr(ws, "write_rows", None)
        for lo, hi in zip(bounds, bounds[1:]):
            active = [(first, rule) for first, end, rule in self._rules if first <= lo and hi <= end]

            def write_row(row: int, active=active) -> None:
                for method, args in self._cells.pop(row, ()):
                    method(*args)
                for first, rule in active:
                    rule(ws, row, row - first)

            if write_rows is not None and active and all(hasattr(rule, "chunk") for _, rule in active):
                write_rows(lo, hi, active, {row for row in self._cells if lo <= row < hi}, write_row)
            else:
                for row in range(lo, hi):
                    write_row(row)
        self._cells.clear()
        self._rules.clear()
