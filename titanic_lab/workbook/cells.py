"""Cells: the formats, and writers of a cell or a column that store each formula's cached value.

Text from data is always written as text, never as a formula. :class:`_Worksheet` patches
XlsxWriter's worksheet: formulas are written verbatim, data columns (:mod:`.columns`) many rows
at a time, and Excel Tables are allowed in ``constant_memory`` mode; every cell's XML is what
XlsxWriter's own methods write, byte for byte (tests/test_fast_paths.py).
"""

from __future__ import annotations

from math import isinf, isnan
from typing import Callable

import numpy as np
import xlsxwriter
import xlsxwriter.worksheet
from xlsxwriter.utility import xl_col_to_name, xl_range, xl_rowcol_to_cell_fast
from xlsxwriter.worksheet import CellFormulaTuple, CellNumberTuple

from ..features.dates import DATE_FORMAT
from ..rowwriter import RowWriter
from ..sheet_layout import FILL, FILL_DATE, FIRST_ROW, MAX, MEAN, MIN, SD
from .columns import (BLANK, FORMULA_START, SLOW, Column, FormulaColumn, NumberColumn, NumberTexts, ValueColumn,
                      plain_formula, stripped_formula)

#: Rows a data column gives at a time to :meth:`_Worksheet.write_rows` (its memory: a chunk's cells).
CHUNK = 1024


class _Worksheet(xlsxwriter.worksheet.Worksheet):
    """A worksheet that writes formulas verbatim.

    XlsxWriter scans every formula to add ``_xlfn.`` prefixes to functions newer than Excel 2007
    (before 3.3.4 with ~30 regular expressions, two thirds of the export time; since, with one, as
    :func:`.columns.plain_formula` does, once per distinct formula text here).
    ``titanic_lab.formulas`` uses none of those, so a formula of :data:`.columns.PLAIN_FUNCTIONS`
    skips the scan; only the ``=`` and array braces are removed. Any other goes to XlsxWriter.
    """

    def _prepare_formula(self, formula: str, expand_future_functions: bool = False) -> str:
        if not plain_formula(formula):
            return super()._prepare_formula(formula, expand_future_functions)
        return stripped_formula(formula)

    # The writer's inner loop, cell by cell, for the two cells a sheet is made of: a number, and a
    # formula with a number cached. Each stores and writes exactly what XlsxWriter's own methods
    # would (the same XML, byte for byte), without their argument conversion, their formula scan
    # (done once per distinct formula text) and their generic attribute escaping; anything else
    # (A1 notation, NaN, an array or a dynamic array formula, a text cached) goes to XlsxWriter.

    def write_number(self, row, *args, **options):
        if options or row.__class__ is not int or not 2 <= len(args) <= 3:
            return super().write_number(row, *args, **options)
        col, number, cell_format = (*args, None)[:3]
        if col.__class__ is not int or number.__class__ is not float or isinf(number) or isnan(number):
            return super().write_number(row, *args)
        if self._check_dimensions(row, col):
            return -1
        if self.constant_memory and row > self.previous_row:
            self._write_single_row(row)
        self.table[row][col] = CellNumberTuple(number, cell_format)
        return 0

    def write_formula(self, row, *args, **options):
        if options or row.__class__ is not int or len(args) != 4:
            return super().write_formula(row, *args, **options)
        col, formula, cell_format, value = args
        prepared = self._prepared.get(formula) if formula.__class__ is str else None
        if prepared is None:
            if formula.__class__ is not str or not formula or not plain_formula(formula):
                return super().write_formula(row, *args)
            if len(self._prepared) > 4096:  # portable references change every row: keep the cache small
                self._prepared.clear()
            prepared = self._prepared[formula] = stripped_formula(formula)  # plain: checked just above
        if col.__class__ is not int or value.__class__ is not float:
            return super().write_formula(row, *args)
        if self._check_dimensions(row, col):
            return -1
        if self.constant_memory and row > self.previous_row:
            self._write_single_row(row)
        self.table[row][col] = CellFormulaTuple(prepared, cell_format, value)
        return 0

    @property
    def _prepared(self) -> dict[str, str]:
        """Formula text -> the text stored (checked once: plain functions only, no braces)."""
        cache = self.__dict__.get("_prepared_formulas")
        if cache is None:
            cache = self.__dict__["_prepared_formulas"] = {}
        return cache

    def _shared_index(self) -> int:
        """A new shared formula's number (``si``) on this sheet: 0, 1, 2..."""
        index = self.__dict__.get("_shared_formulas", 0)
        self.__dict__["_shared_formulas"] = index + 1
        return index

    def _write_single_row(self, current_row_num: int = 0) -> None:
        """Write the row held (``constant_memory``), its cells' XML joined into one write."""
        row_num = self.previous_row
        cells = self.table.get(row_num)
        if not cells:  # a row with a height or format only: XlsxWriter's own
            return super()._write_single_row(current_row_num)
        self.previous_row = current_row_num
        self._write_row(row_num, None, self.row_info.get(row_num))
        parts = []
        for col in sorted(cells):  # every cell is within the sheet's dimensions, as XlsxWriter's loop takes them
            xml = self._cell_xml(row_num, col, cells[col])
            if xml is None:
                self.fh.write("".join(parts))
                parts = []
                super()._write_cell(row_num, col, cells[col])
            else:
                parts.append(xml)
        parts.append("</row>")
        self.fh.write("".join(parts))
        self.table.clear()

    def _cell_xml(self, row: int, col: int, cell) -> str | None:
        """A number's or a formula's ``<c>`` element as XlsxWriter writes it; None for any other cell."""
        kind = cell.__class__
        if kind is not CellNumberTuple and (kind is not CellFormulaTuple or cell.value.__class__ is not float):
            return None
        if cell.format:
            style = f' s="{cell.format._get_xf_index()}"'
        elif row in self.row_info and self.row_info[row].row_format:
            style = f' s="{self.row_info[row].row_format._get_xf_index()}"'
        elif col in self.col_info and self.col_info[col].column_format is not None:
            style = f' s="{self.col_info[col].column_format._get_xf_index()}"'
        else:
            style = ""
        address = xl_rowcol_to_cell_fast(row, col)
        if kind is CellNumberTuple:
            return f'<c r="{address}"{style}><v>{cell.number:.16G}</v></c>'
        formula = cell.formula
        if "&" in formula or "<" in formula or ">" in formula:
            formula = formula.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return f'<c r="{address}"{style}><f>{formula}</f><v>{cell.value}</v></c>'

    def write_rows(self, lo: int, hi: int, columns: list[tuple[int, Column]], single: set[int],
                   write_row: Callable[[int], None]) -> None:
        """Rows ``lo..hi-1``, each holding a cell of every column (``(first_row, column)``), written
        :data:`CHUNK` rows at a time, each row's XML joined from the columns' (the same XML, byte for byte).

        ``write_row(row)`` writes a row cell by cell through XlsxWriter: rows in ``single`` (which hold
        single cells too), rows with a height or format, rows with a cell only XlsxWriter writes, and
        the row where a format is first used (formats are numbered in the order of first use).
        """
        columns = sorted(columns, key=lambda fc: fc[1].col)
        cols = [c.col for _, c in columns]
        if (not self.constant_memory or self.default_row_height != self.original_row_height
                or self.excel_version == 2010 or len(set(cols)) < len(cols) or cols[-1] >= self.xls_colmax):
            for row in range(lo, hi):
                write_row(row)
            return
        letters = [xl_col_to_name(col) for col in cols]
        for start in range(lo, min(hi, self.xls_rowmax), CHUNK):
            stop = min(hi, self.xls_rowmax, start + CHUNK)
            chunks = [c.chunk(start - first, stop - first, self) for first, c in columns]
            slow = np.zeros(stop - start, dtype=bool)
            for kinds, _ in chunks:
                slow |= kinds == SLOW
            for row in (*single, *self.row_info, *self.comments):
                if start <= row < stop:
                    slow[row - start] = True
            at = 0
            while at < len(slow):
                # A row up to the one held (which may have cells already) goes cell by cell, as XlsxWriter takes it.
                end = at if start + at <= self.previous_row else self._fast_rows_end(columns, chunks, slow, at)
                if end == at:
                    write_row(start + at)
                    at += 1
                else:
                    self._write_fast_rows(start, at, end, columns, chunks, letters)
                    at = end
        for row in range(min(hi, self.xls_rowmax), hi):  # beyond the sheet: XlsxWriter refuses them
            write_row(row)

    def _fast_rows_end(self, columns: list[tuple[int, Column]], chunks: list, slow: np.ndarray, at: int) -> int:
        """The end of the run of a chunk's rows from ``at`` that :meth:`_write_fast_rows` can write:
        up to the next slow row, or the next row using a format not yet numbered."""
        stops = slow[at:].copy()
        for (_, column), (kinds, _) in zip(columns, chunks):
            new = [kind for kind, fmt in column.formats.items() if not _numbered(self._format(fmt, column.col))]
            if new:
                stops |= np.isin(kinds[at:], new)
        return at + int(np.argmax(stops)) if stops.any() else len(slow)

    def _write_fast_rows(self, start: int, at: int, end: int, columns: list[tuple[int, Column]], chunks: list,
                         letters: list[str]) -> None:
        """Rows ``start+at..start+end-1`` (no single cells, no row settings, formats all numbered)."""
        first_row, last_row = start + at, start + end - 1
        if first_row > self.previous_row:
            self._write_single_row(first_row)  # out with the row held
        cells = []
        for (_, column), (kinds, data), letter in zip(columns, chunks, letters):
            written = np.flatnonzero(kinds[at:end] != BLANK)
            if len(written):
                self._check_dimensions(first_row + int(written[0]), column.col)
                self._check_dimensions(first_row + int(written[-1]), column.col)
            present = set(np.unique(kinds[at:end]).tolist())  # only these: asking numbers a format not yet used
            styles = {kind: _style(self._format(fmt, column.col)) for kind, fmt in column.formats.items() if kind in present}
            cells.append(column.xml(kinds, data, at, end, start + 1, letter, styles, self._shared_index))
        rows = []
        for number, row in zip(range(first_row + 1, last_row + 2), zip(*cells)):
            body = "".join(row)
            if body:  # a row without cells is not written
                rows.append(f'<row r="{number}">{body}</row>')
        self.fh.write("".join(rows))
        self.previous_row = last_row

    def _format(self, fmt: xlsxwriter.format.Format | None, col: int) -> xlsxwriter.format.Format | None:
        """A cell's format: its own, else its column's (rows with a format of their own are not written fast)."""
        if fmt:
            return fmt
        info = self.col_info.get(col)
        return None if info is None else info.column_format

    def add_table(self, first_row: int, first_col: int, last_row: int, last_col: int, options: dict) -> int:
        """An Excel Table in ``constant_memory`` mode, added when its header row is written.

        XlsxWriter refuses tables in that mode for two reasons that do not apply here: a
        table writes its header cells, which must come in row order (:class:`RowWriter` adds
        the table when its header row is reached), and it records every cell of its range to
        refuse overlapping tables (rows x columns entries; titanic-lab's tables never overlap).
        A table of plain columns (no filter, totals, data or formulas given to XlsxWriter) over no
        merged cell is added over its first data row, then given its whole range: XlsxWriter's
        check of every cell of the range against merged cells would find nothing.
        """
        streaming, cells = self.constant_memory, self.table_cells
        if streaming and first_row > self.previous_row:
            self._write_single_row(first_row)  # out with the row above, as any write to first_row would
        plain = self._plain_table(first_row, first_col, last_row, last_col, options)
        self.constant_memory, self.table_cells = 0, _Forgetful()
        try:
            result = super().add_table(first_row, first_col, min(last_row, first_row + 1) if plain else last_row,
                                       last_col, options)
        finally:
            self.constant_memory, self.table_cells = streaming, cells
        if plain and result == 0:
            self.tables[-1]["range"] = self.tables[-1]["a_range"] = xl_range(first_row, first_col, last_row, last_col)
        # With the mode off, the headers went in as shared strings: write them again in line.
        for j, column in enumerate(options["columns"]):
            self.write_string(first_row, first_col + j, column["header"], column.get("header_format"))
        return result

    def _plain_table(self, first_row: int, first_col: int, last_row: int, last_col: int, options: dict) -> bool:
        """A table of plain columns (no filter, totals, data or formulas for XlsxWriter to write) within the
        sheet, over no merged cell."""
        return (options.get("autofilter") is False and not {"total_row", "data"} & set(options)
                and not any({"formula", "total_function", "total_string"} & set(c) for c in options["columns"])
                and last_row < self.xls_rowmax
                and not any(first_row <= r <= last_row and first_col <= c <= last_col for r, c in self.merged_cells))


def _numbered(fmt: xlsxwriter.format.Format | None) -> bool:
    """Has the format its index in the workbook's list of cell formats yet (assigned at its first use)?"""
    return fmt is None or fmt.xf_index is not None or fmt._get_format_key() in fmt.xf_format_indices


def _style(fmt: xlsxwriter.format.Format | None) -> str:
    """A cell's style attribute: `` s="3"``, or "" without a format."""
    return "" if fmt is None else f' s="{fmt._get_xf_index()}"'


class _Forgetful(dict):
    """A dict that keeps nothing: stands in for XlsxWriter's record of table cells."""

    def __setitem__(self, key: object, value: object) -> None:
        pass


class Cells:
    """The workbook's formats, and the writers that use them.

    ``ws`` is a :class:`RowWriter` or, inside a column's rule, the XlsxWriter worksheet itself.
    """

    def __init__(self, wb: xlsxwriter.Workbook) -> None:
        #: The numbers' texts of the workbook's data columns, shared by its sheets (a model sheet repeats the others' data).
        self.number_texts = NumberTexts()
        add = wb.add_format
        self.bold = add({"bold": True})
        self.title = add({"bold": True, "font_size": 14})
        self.header = add({"bold": True, "bottom": 1})
        self.header_wrap = add({"bold": True, "bottom": 1, "text_wrap": True, "valign": "bottom"})
        self.num = add({"num_format": "0.0000"})
        self.loss = add({"num_format": "0.000000", "valign": "top"})  # losses and accuracies in README and history
        self.seconds = add({"num_format": "0.00", "valign": "top"})
        self.wrap = add({"text_wrap": True, "valign": "top"})
        self.top = add({"valign": "top"})
        self.bold_top = add({"bold": True, "valign": "top", "text_wrap": True})
        self.param = add({"num_format": "0.000000", "bg_color": "#FFF2CC"})
        self.constant = add({"bg_color": "#FFF2CC"})  # fitted preprocessing: fills and maxima
        self.date = add({"num_format": DATE_FORMAT, "align": "center"})
        self.center = add({"align": "center"})
        self.num_center = add({"num_format": "0.0000", "align": "center"})
        self.header_center = add({"bold": True, "align": "center"})
        self.right = add({"align": "right", "italic": True})  # a row's label, against the row it names
        self.note = add({"italic": True, "align": "center"})  # a data table's raw cells: text and numbers alike
        # Fitted preprocessing, each value with its label in its own cell's format: "Fill: 28", "Max: 80".
        self.labelled = {label: add({"bg_color": "#FFF2CC", "num_format": labelled_format(label.split()[0], number),
                                     "align": "right"})
                         for label, number in ((FILL, "General"), (MAX, "General"), (MEAN, "General"), (SD, "General"), (MIN, "General"),
                                               (FILL_DATE, DATE_FORMAT))}
        self.torch = add({"num_format": "0.0000", "font_color": "#7F7F7F"})
        self.diff = add({"num_format": "0.00E+00", "bold": True})
        self.text_safe = add({"quote_prefix": True})

    def text(self, ws, row: int, col: int, value: str, fmt=None) -> None:
        """Write a string as text; one that starts like a formula gets a quote prefix."""
        value = str(value)
        if value.startswith(FORMULA_START):
            fmt = self.text_safe
        ws.write_string(row, col, value, fmt)

    def value(self, ws, row: int, col: int, value: object, fmt=None) -> None:
        """A number, a text, or nothing for ``None`` and NaN (no cell: ``ISBLANK`` is true in every engine,
        also after a program that rewrites a styled empty cell as an empty value)."""
        if value is None or (isinstance(value, float) and value != value):  # None or NaN
            return
        elif isinstance(value, str):
            self.text(ws, row, col, value, fmt)
        else:
            ws.write_number(row, col, float(value), fmt)

    def merged(self, ws, row: int, first_col: int, last_col: int, value: str, fmt=None) -> None:
        """Text across ``first_col..last_col`` of ``row`` (a merged cell), written as :meth:`text` writes it."""
        ws.merge_range(row, first_col, row, last_col, "", fmt)
        self.text(ws, row, first_col, value, fmt)

    @staticmethod
    def formula(ws, row: int, col: int, formula: str, value: object, fmt=None, cached: type = float) -> None:
        """A formula and its cached value (a number, or with ``cached=str`` a text)."""
        ws.write_formula(row, col, "=" + formula, fmt, cached(value))

    def array(self, ws: RowWriter, row: int, col: int, formula: str, values: np.ndarray, fmt=None) -> None:
        """One array formula over a block, each cell carrying its cached value.

        Written as a dynamic array (``cm="1"``), as the lesson's own MMULT: Excel 365 shows it as
        a spilled ``=MMULT(...)``, older Excel as the legacy ``{=MMULT(...)}``.
        """
        values = np.asarray(values, dtype=float).reshape(values.shape[0], -1)  # (block rows, block columns)
        last_row, last_col = row + values.shape[0] - 1, col + values.shape[1] - 1
        ws.write_dynamic_array_formula(row, col, last_row, last_col, "=" + formula, fmt, float(values[0, 0]))
        for j in range(values.shape[1]):
            below = 0 if j else 1  # the formula's own cell holds the first value
            ws.column(row + below, values.shape[0] - below, NumberColumn(row + below, col + j, values[below:, j], fmt, self.number_texts))

    def column_values(self, ws: RowWriter, first_row: int, col: int, values: np.ndarray, fmt=None) -> None:
        """A column of values from ``first_row`` down: numbers, text, or blanks where missing."""
        ws.column(first_row, len(values), ValueColumn(first_row, col, values, fmt, self.text_safe, self.value,
                                                         self.number_texts))

    def column_formulas(self, ws: RowWriter, col: int, build: Callable[[int], str], values: np.ndarray, fmt=None,
                        cached: type = float) -> None:
        """A data column of formulas, ``build(row)`` in each row, each with its cached value."""
        ws.column(FIRST_ROW, len(values), FormulaColumn(FIRST_ROW, col, build, values, fmt, cached, self.formula,
                                                                self.number_texts))


def labelled_format(label: str, number: str) -> str:
    """A number format showing ``label`` before the value, a number's (positive, negative, zero) or a text's:
    ``"Fill: "General;"Fill: "-General;"Fill: "General;"Fill: "@``."""
    prefix = f'"{label} "'
    return f"{prefix}{number};{prefix}-{number};{prefix}{number};{prefix}@"


def width(text: str, minimum: float, extra: float = 2) -> float:
    """A column width that shows ``text`` whole (bold headers are a little wider than their letters)."""
    return max(minimum, round(len(text) * 1.1 + extra, 1))


#: The data rows a long sheet prints: its top, what a student prints to follow it (the screen shows every row).
PRINT_ROWS = 40
#: The printable width of a landscape A4 page with :func:`print_setup`'s 0.5-inch margins, in points.
PAGE_WIDTH = (11.69 - 2 * 0.5) * 72
#: A default column's width in pixels (8.43 characters of Calibri 11).
DEFAULT_COLUMN = 64


def column_pixels(ws: RowWriter, col: int) -> int:
    """Column ``col``'s width in pixels, as set (XlsxWriter keeps it in pixels)."""
    info = ws.worksheet.col_info.get(col)
    return DEFAULT_COLUMN if info is None or info.width is None else int(info.width)


#: LibreOffice prints a column about this much wider than its pixels (at 0.75 point each) say: measured on
#: rendered pages (a 16-column table at 75% took 12 columns' page), and kept with a margin.
PRINTED_WIDTH = 1.4
#: The smallest print scale (percent) a page is printed at: 11-point text at 65% is about 7 points.
MIN_SCALE = 65


def _points(ws: RowWriter, first: int, last: int) -> float:
    """The printed width at 100% of columns ``first..last``, in points."""
    return sum(column_pixels(ws, c) for c in range(first, last + 1)) * 0.75 * PRINTED_WIDTH


def page_starts(ws: RowWriter, last_col: int, pages: list[int]) -> list[int]:
    """The first column of each printed page: 0, each of ``pages``, and more wherever a page's columns
    would not fit its width at :data:`MIN_SCALE`."""
    starts = []
    for first, end in zip([0, *pages], [*pages, last_col + 1]):
        starts.append(first)
        for col in range(first + 1, end):
            if _points(ws, starts[-1], col) * MIN_SCALE / 100 > PAGE_WIDTH:
                starts.append(col)
    return starts


def print_setup(ws: RowWriter, repeat: int | None = None, pages: list[int] | None = None, rows: int | None = PRINT_ROWS,
                below: int = 0, one_page_wide: bool = False) -> int:
    """Print the sheet landscape on A4: its first ``rows`` rows after the repeated ones (None: all, and
    ``below`` more, under a chart), each group of columns on its own page, at the one scale at which
    the widest group fits (at least :data:`MIN_SCALE`: a wider group is cut into pages); return that scale.

    ``pages``: the first column of each page after the first (a page break before it). Rows
    ``0..repeat`` repeat on every page. ``one_page_wide``: every column on one page, at whatever
    scale that takes (a sheet of wrapped text). Call once the sheet is written.
    """
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    last_col = ws.worksheet.dim_colmax
    starts = page_starts(ws, last_col, [p for p in pages or () if 0 < p <= last_col])
    ends = [s - 1 for s in starts[1:]] + [last_col]
    if one_page_wide:
        starts, ends = [0], [last_col]
    scale = max(10, min(100, min(int(100 * PAGE_WIDTH / _points(ws, a, b)) for a, b in zip(starts, ends))))
    if one_page_wide:
        ws.fit_to_pages(1, 0)
    else:
        ws.set_print_scale(scale)
    if len(starts) > 1:
        ws.set_v_pagebreaks(starts[1:])
    if repeat is not None:
        ws.repeat_rows(0, repeat)
    last_row = ws.worksheet.dim_rowmax + below if rows is None else min(ws.worksheet.dim_rowmax, (repeat or 0) + rows)
    ws.print_area(0, 0, last_row, last_col)
    return scale
