"""Cells: the formats, and writers of a cell or a column that store each formula's cached value.

Text from data is always written as text, never as a formula. :class:`_Worksheet` patches
two XlsxWriter internals: formulas are written verbatim, and Excel Tables are allowed in
``constant_memory`` mode.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import xlsxwriter
import xlsxwriter.worksheet

from ..features.dates import DATE_FORMAT
from ..rowwriter import RowWriter
from ..sheet_layout import FIRST_ROW

#: Leading characters that would let a spreadsheet treat text as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Worksheet(xlsxwriter.worksheet.Worksheet):
    """A worksheet that writes formulas verbatim.

    XlsxWriter scans every formula with ~30 regular expressions to add ``_xlfn.`` prefixes to
    functions newer than Excel 2007. ``titanic_lab.formulas`` uses none of those, so the scan
    (two thirds of the export time) is skipped; only the ``=`` and array braces are removed.
    """

    def _prepare_formula(self, formula: str, expand_future_functions: bool = False) -> str:
        formula = formula[1:] if formula.startswith("{") else formula
        formula = formula[1:] if formula.startswith("=") else formula
        return formula[:-1] if formula.endswith("}") else formula

    def add_table(self, first_row: int, first_col: int, last_row: int, last_col: int, options: dict) -> int:
        """An Excel Table in ``constant_memory`` mode, added when its header row is written.

        XlsxWriter refuses tables in that mode for two reasons that do not apply here: a
        table writes its header cells, which must come in row order (:class:`RowWriter` adds
        the table when its header row is reached), and it records every cell of its range to
        refuse overlapping tables (rows x columns entries; titanic-lab's tables never overlap).
        """
        streaming, cells = self.constant_memory, self.table_cells
        if streaming and first_row > self.previous_row:
            self._write_single_row(first_row)  # out with the row above, as any write to first_row would
        self.constant_memory, self.table_cells = 0, _Forgetful()
        try:
            result = super().add_table(first_row, first_col, last_row, last_col, options)
        finally:
            self.constant_memory, self.table_cells = streaming, cells
        # With the mode off, the headers went in as shared strings: write them again in line.
        for j, column in enumerate(options["columns"]):
            self.write_string(first_row, first_col + j, column["header"])
        return result


class _Forgetful(dict):
    """A dict that keeps nothing: stands in for XlsxWriter's record of table cells."""

    def __setitem__(self, key: object, value: object) -> None:
        pass


class Cells:
    """The workbook's formats, and the writers that use them.

    ``ws`` is a :class:`RowWriter` or, inside a column's rule, the XlsxWriter worksheet itself.
    """

    def __init__(self, wb: xlsxwriter.Workbook) -> None:
        add = wb.add_format
        self.bold = add({"bold": True})
        self.title = add({"bold": True, "font_size": 14})
        self.header = add({"bold": True, "bottom": 1})
        self.num = add({"num_format": "0.0000"})
        self.loss = add({"num_format": "0.000000"})  # losses and accuracies in README and history
        self.seconds = add({"num_format": "0.00"})
        self.wrap = add({"text_wrap": True, "valign": "top"})
        self.param = add({"num_format": "0.000000", "bg_color": "#FFF2CC"})
        self.constant = add({"bg_color": "#FFF2CC"})  # fitted preprocessing: fills and maxima
        self.date = add({"num_format": DATE_FORMAT})
        self.constant_date = add({"bg_color": "#FFF2CC", "num_format": DATE_FORMAT})
        self.torch = add({"num_format": "0.0000", "font_color": "#7F7F7F"})
        self.diff = add({"num_format": "0.00E+00", "bold": True})
        self.text_safe = add({"quote_prefix": True})

    def text(self, ws, row: int, col: int, value: str, fmt=None) -> None:
        """Write a string as text; one that starts like a formula gets a quote prefix."""
        value = str(value)
        if value.startswith(_FORMULA_START):
            fmt = self.text_safe
        ws.write_string(row, col, value, fmt)

    def value(self, ws, row: int, col: int, value: object, fmt=None) -> None:
        """A number, a text, or a blank for ``None`` and NaN."""
        if value is None or (isinstance(value, float) and np.isnan(value)):
            ws.write_blank(row, col, None, fmt)
        elif isinstance(value, str):
            self.text(ws, row, col, value, fmt)
        else:
            ws.write_number(row, col, float(value), fmt)

    @staticmethod
    def formula(ws, row: int, col: int, formula: str, value: object, fmt=None, cached: type = float) -> None:
        """A formula and its cached value (a number, or with ``cached=str`` a text)."""
        ws.write_formula(row, col, "=" + formula, fmt, cached(value))

    @staticmethod
    def array(ws: RowWriter, row: int, col: int, formula: str, values: np.ndarray, fmt=None) -> None:
        """One array formula over a block, each cell carrying its cached value.

        Written as a dynamic array (``cm="1"``), as the lesson's own MMULT: Excel 365 shows it as
        a spilled ``=MMULT(...)``, older Excel as the legacy ``{=MMULT(...)}``.
        """
        values = np.asarray(values, dtype=float).reshape(values.shape[0], -1)  # (block rows, block columns)
        last_row, last_col = row + values.shape[0] - 1, col + values.shape[1] - 1

        def rule(w, r: int, i: int) -> None:
            for j in range(values.shape[1]):
                if i == 0 and j == 0:
                    w.write_dynamic_array_formula(row, col, last_row, last_col, "=" + formula, fmt, float(values[0, 0]))
                else:
                    w.write_number(r, col + j, float(values[i, j]), fmt)

        ws.column(row, values.shape[0], rule)

    def column_values(self, ws: RowWriter, first_row: int, col: int, values: np.ndarray, fmt=None) -> None:
        """A column of values from ``first_row`` down: numbers, text, or blanks where missing."""
        ws.column(first_row, len(values), lambda w, r, i: self.value(w, r, col, values[i], fmt))

    def column_formulas(self, ws: RowWriter, col: int, build: Callable[[int], str], values: np.ndarray, fmt=None,
                        cached: type = float) -> None:
        """A data column of formulas, ``build(row)`` in each row, each with its cached value."""
        ws.column(FIRST_ROW, len(values), lambda w, r, i: self.formula(w, r, col, build(r), values[i], fmt, cached))


def width(text: str, minimum: float, extra: float = 2) -> float:
    """A column width that shows ``text`` whole (bold headers are a little wider than their letters)."""
    return max(minimum, round(len(text) * 1.1 + extra, 1))


def print_setup(ws: RowWriter, repeat: int | None = None) -> None:
    """Print the sheet's used range landscape, one page wide, repeating rows ``0..repeat`` on every page.

    Call once the sheet is written (its used range is known then).
    """
    ws.set_landscape()
    ws.fit_to_pages(1, 0)  # 0: as many pages tall as needed
    if repeat is not None:
        ws.repeat_rows(0, repeat)
    ws.print_area(0, 0, ws.worksheet.dim_rowmax, ws.worksheet.dim_colmax)
