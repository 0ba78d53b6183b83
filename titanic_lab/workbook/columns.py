"""Data columns that are written a thousand rows at a time, each cell's XML as XlsxWriter writes it.

A model sheet is mostly columns (raw values, features, the model's formulas, the loss), each one
kind of cell in every row. Each column here is a :class:`~titanic_lab.rowwriter.RowWriter` rule:
called as ``column(ws, row, i)`` it writes its ``i``-th cell through XlsxWriter, as any rule; and
:meth:`Column.chunk` and :meth:`Column.xml` give many rows' cells at once, which
:meth:`~.cells._Worksheet.write_rows` joins into rows. A chunk says, per row, the kind of its
cell: ``BLANK`` (no cell), ``SLOW`` (a cell only XlsxWriter writes: a non-finite number, a
dynamic-array formula, an over-long text...), or a kind this module writes, with its format.
"""

from __future__ import annotations

import re
from math import isfinite
from typing import Any, Callable, Sequence, overload

import numpy as np
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet, _preserve_whitespace
from xlsxwriter.xmlwriter import XMLwriter

#: A row with no cell in this column.
BLANK = 0
#: A cell XlsxWriter writes itself (the rule's own path).
SLOW = 1
#: Cells written here: a number, a text, a text that starts like a formula (quote-prefixed), a formula.
NUMBER, TEXT, TEXT_SAFE, FORMULA, FORMULA_TEXT = 2, 3, 4, 5, 6

#: Leading characters that would let a spreadsheet treat text as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: The longest text a cell holds (XlsxWriter truncates a longer one, with a warning).
_MAX_TEXT = 32767
#: Cached formula texts that XlsxWriter writes as an error value (``t="e"``).
_ERRORS = frozenset({"#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!"})
#: The functions titanic-lab's formulas use, all in Excel 2007: none needs XlsxWriter's ``_xlfn.`` prefix or
#: makes a formula a dynamic array. A formula naming any other function is written by XlsxWriter itself.
PLAIN_FUNCTIONS = frozenset({
    "ABS", "AND", "AVERAGE", "AVERAGEIF", "DATE", "EXP", "FIND", "IF", "IFERROR", "INDEX", "ISBLANK", "LEFT", "LN",
    "LOG10", "MATCH", "MAX", "MID", "MIN", "MMULT", "MONTH", "OR", "ROW", "SIGN", "SQRT", "SUM", "SUMPRODUCT", "TANH",
    "WEEKDAY", "YEAR"})
#: A text literal (skipped: data's text may name a function) or a function's name before its bracket.
_FUNCTION_NAME = re.compile(r'"[^"]*"|\b([A-Za-z_][A-Za-z0-9._]*)\(')


def stripped_formula(formula: str) -> str:
    """A plain formula's text as XlsxWriter stores it: the ``=`` and array braces removed."""
    formula = formula[1:] if formula.startswith("{") else formula
    formula = formula[1:] if formula.startswith("=") else formula
    return formula[:-1] if formula.endswith("}") else formula


def plain_formula(formula: str) -> bool:
    """Does the formula use :data:`PLAIN_FUNCTIONS` only, outside array braces? Its text is then stored as
    written (``=`` dropped): XlsxWriter would not change it."""
    if formula.startswith("{") and formula.endswith("}"):
        return False
    return all(m.group(1) is None or m.group(1).upper() in PLAIN_FUNCTIONS for m in _FUNCTION_NAME.finditer(formula))


def escape(text: str) -> str:
    """``&``, ``<`` and ``>`` escaped, as XlsxWriter escapes a cell's text and formula."""
    return XMLwriter._escape_data(None, text)  # XlsxWriter's own function (it uses nothing of its writer)


def unescape(text: str) -> str:
    """:func:`escape` undone."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text_tail(text: str) -> str | None:
    """What follows the style in an inline text cell, as XlsxWriter writes ``text`` in ``constant_memory``
    mode; None for a text it writes another way (too long, or rich text markup)."""
    if len(text) > _MAX_TEXT:
        return None
    text = Worksheet._escape_control_characters(text)
    if text.startswith("<r>") and text.endswith("</r>"):
        return None
    space = ' xml:space="preserve"' if _preserve_whitespace(text) else ""
    return f' t="inlineStr"><is><t{space}>{escape(text)}</t></is></c>'


class NumberTexts:
    """Numbers as a cell's XML writes them, a chunk of a column at a time, each distinct chunk once per workbook.

    A model sheet repeats the data and the features of every other model sheet (each sheet stands on
    its own, as the lesson's): their texts are formatted for the first sheet and reused by the next
    ones. At most ``limit`` texts are kept; beyond, chunks are formatted every time.
    """

    def __init__(self, limit: int = 1 << 20) -> None:
        self.limit, self.kept = limit, 0
        self.cache: dict[tuple[str, bytes], list[str]] = {}

    def general(self, numbers: np.ndarray) -> list[str]:
        """``f"{x:.16G}"`` of each float64 (a number cell's value, as ``write_number`` writes it)."""
        return self._texts("%.16G", numbers)

    def shortest(self, numbers: np.ndarray) -> list[str]:
        """``str(x)`` of each float64 (a formula's cached number, as ``write_formula`` writes it)."""
        return self._texts("%r", numbers)

    def _texts(self, style: str, numbers: np.ndarray) -> list[str]:
        numbers = np.asarray(numbers, dtype=np.float64)  # the key is its bytes: as float64, whatever it came as
        key = (style, numbers.tobytes())
        texts = self.cache.get(key)
        if texts is None:
            floats = numbers.tolist()
            # One %-format of the whole chunk: the texts of f"{x:.16G}" and str(x), made in one call.
            texts = (style + "\n") * len(floats) % tuple(floats)
            texts = texts.split("\n")[:-1]
            if self.kept + len(texts) <= self.limit:
                self.cache[key] = texts
                self.kept += len(texts)
        return texts


class Column:
    """A data column at ``col`` from ``first_row``; each subclass says what its cells are with

    * ``column(ws, row, i)``: its ``i``-th cell, through the worksheet's own methods;
    * ``column.chunk(i0, i1, ws)``: cells ``i0..i1-1``, each one's kind (an int8 array) and what
      :meth:`xml` needs of it (a number as its text, :class:`NumberTexts`);
    * ``column.formats``: each kind of cell it writes -> that cell's format.
    """

    col: int
    first_row: int
    formats: dict[int, Format | None]

    def xml(self, kinds: np.ndarray, data: list, start: int, stop: int, row: int, letter: str,
            styles: dict[int, str], shared_index: Callable[[], int]) -> list[str]:
        """The ``<c>`` elements of a chunk's cells ``start..stop-1`` ("" where blank): ``row`` is the A1 row
        number of the chunk's first cell, ``letter`` the column's name (``AB``), ``styles`` each kind's style
        attribute (`` s="3"`` or ""), ``shared_index()`` a new shared formula's number on the sheet."""
        rows, part = range(row + start, row + stop), kinds[start:stop]
        if (part == NUMBER).all():
            style = styles[NUMBER]
            return [f'<c r="{letter}{r}"{style}><v>{x}</v></c>' for r, x in zip(rows, data[start:stop])]
        if (part == FORMULA).all():
            style = styles[FORMULA]
            return [f'<c r="{letter}{r}"{style}><f>{f}</f><v>{x}</v></c>' for r, (f, x) in zip(rows, data[start:stop])]
        out = []
        for i, kind in zip(range(start, stop), part.tolist()):
            if kind == BLANK:
                out.append("")
            elif kind == NUMBER:
                out.append(f'<c r="{letter}{row + i}"{styles[NUMBER]}><v>{data[i]}</v></c>')
            elif kind == FORMULA:
                formula, value = data[i]
                out.append(f'<c r="{letter}{row + i}"{styles[FORMULA]}><f>{formula}</f><v>{value}</v></c>')
            else:  # TEXT, TEXT_SAFE, FORMULA_TEXT: the rest of the cell after its style is ready
                out.append(f'<c r="{letter}{row + i}"{styles[kind]}{data[i]}')
        return out


class ValueColumn(Column):
    """:meth:`.cells.Cells.value` down a column: a number, a text (quote-prefixed where it starts like a
    formula: text from data is never a formula), or no cell for ``None`` and NaN."""

    def __init__(self, first_row: int, col: int, values: np.ndarray, fmt: Format | None, text_safe: Format,
                 write: Callable[..., None], texts: NumberTexts | None = None) -> None:
        self.first_row, self.col, self.values, self.fmt, self.write = first_row, col, values, fmt, write
        self.texts = NumberTexts(limit=0) if texts is None else texts
        self.formats = {NUMBER: fmt, TEXT: fmt, TEXT_SAFE: text_safe}
        self.tails: dict[str, str | None] = {}  # text -> its cell's tail (texts repeat: categories)

    def __call__(self, ws: Any, row: int, i: int) -> None:
        self.write(ws, row, self.col, self.values[i], self.fmt)

    def chunk(self, i0: int, i1: int, ws: Any) -> tuple[np.ndarray, list]:
        values = np.asarray(self.values[i0:i1])
        if values.dtype.kind in "iub" or values.dtype == np.float64:  # written as float(value); NaN (float64) blank
            numbers = values.astype(np.float64)
            kinds = np.full(len(numbers), NUMBER, dtype=np.int8)
            kinds[np.isinf(numbers)] = SLOW
            kinds[np.isnan(numbers)] = BLANK
            return kinds, self.texts.general(numbers)
        items = values.tolist()
        # (an object column's values: a float32 column's NaN stays for XlsxWriter to refuse, as cell by cell)
        distinct = dict.fromkeys(items) if values.dtype == object and set(map(type, items)) <= _TEXT_COLUMN else {}
        if distinct and not any(v == 0 for v in distinct if v.__class__ is float):
            # A text column repeats its categories: each one's cell made once.
            made = {v: self._cell(v) for v in distinct}  # (no 0.0 beside -0.0: equal keys whose texts differ)
            cells = [made[v] for v in items]
            return np.array([kind for kind, _ in cells], dtype=np.int8), [item for _, item in cells]
        kinds, data = np.empty(len(values), dtype=np.int8), []
        for i, value in enumerate(values):
            kind, item = self._cell(value)
            kinds[i] = kind
            data.append(item)
        return kinds, data

    def _cell(self, value: object) -> tuple[int, object]:
        """One value's kind and what its XML needs, as :meth:`.cells.Cells.value` writes it."""
        if value is None or (isinstance(value, float) and value != value):
            return BLANK, None
        if isinstance(value, str):
            text = str(value)
            tail = self.tails.get(text, False)
            if tail is False:
                if len(self.tails) > 4096:  # a column of names, not categories: keep the cache small
                    self.tails.clear()
                tail = self.tails[text] = _text_tail(text)
            if tail is None:
                return SLOW, None
            return (TEXT_SAFE if text.startswith(FORMULA_START) else TEXT), tail
        try:
            number = float(value)
        except (TypeError, ValueError):
            return SLOW, None
        return (NUMBER, f"{number:.16G}") if isfinite(number) else (SLOW, None)  # XlsxWriter refuses NaN and infinities


#: The types of a text column's values (blanks as None or NaN) whose cells :meth:`ValueColumn.chunk` makes once per value.
_TEXT_COLUMN = {str, type(None), float}


class NumberColumn(Column):
    """A number in every row (``write_number``: NaN and infinities are XlsxWriter's to refuse)."""

    def __init__(self, first_row: int, col: int, values: np.ndarray, fmt: Format | None,
                 texts: NumberTexts | None = None) -> None:
        self.first_row, self.col, self.values, self.fmt = first_row, col, values, fmt
        self.texts = NumberTexts(limit=0) if texts is None else texts
        self.formats = {NUMBER: fmt}

    def __call__(self, ws: Any, row: int, i: int) -> None:
        ws.write_number(row, self.col, float(self.values[i]), self.fmt)

    def chunk(self, i0: int, i1: int, ws: Any) -> tuple[np.ndarray, list]:
        numbers = np.asarray(self.values[i0:i1], dtype=np.float64)
        kinds = np.where(np.isfinite(numbers), NUMBER, SLOW).astype(np.int8)
        return kinds, self.texts.general(numbers)


class FormulaColumn(Column):
    """A formula in every row, ``build(row)``, with its cached value: a number, or with ``cached=str`` a text."""

    def __init__(self, first_row: int, col: int, build: Callable[[int], str], values: np.ndarray, fmt: Format | None,
                 cached: type, write: Callable[..., None], texts: NumberTexts | None = None) -> None:
        self.first_row, self.col, self.build, self.values, self.fmt = first_row, col, build, values, fmt
        self.cached, self.write = cached, write
        self.texts = NumberTexts(limit=0) if texts is None else texts
        self.formats = {FORMULA: fmt, FORMULA_TEXT: fmt}
        self.prepared: dict[str, str | None] = {}  # formula -> its escaped text in the cell, None: XlsxWriter's
        self.template: list[str] | None | bool = False  # not built yet
        self.shared = False  # whether the template is written as one shared formula per run of rows

    def xml(self, kinds: np.ndarray, data: list, start: int, stop: int, row: int, letter: str,
            styles: dict[int, str], shared_index: Callable[[], int]) -> list[str]:
        """As :meth:`Column.xml`; a run of two or more formulas of a :func:`shares` template is written as one
        shared formula, as Excel writes a formula filled down: its text in the run's first cell, which names
        the run (``<f t="shared" ref="D4:D1027" si="0">``), and ``<f t="shared" si="0"/>`` in the others (a
        shared column's ``data`` is a :class:`RowFormulas`: only the first cell's text is built)."""
        if not self.shared or stop - start < 2 or not (kinds[start:stop] == FORMULA).all():
            return super().xml(kinds, data, start, stop, row, letter, styles, shared_index)
        style, index, first, last = styles[FORMULA], shared_index(), row + start, row + stop - 1
        formula, value = data[start]
        out = [f'<c r="{letter}{first}"{style}><f t="shared" ref="{letter}{first}:{letter}{last}" si="{index}">'
               f'{formula}</f><v>{value}</v></c>']
        child = f'"{style}><f t="shared" si="{index}"/><v>'
        out += [f'<c r="{letter}{r}{child}{x}</v></c>' for r, x in zip(range(first + 1, last + 1), data.values[start + 1:stop])]
        return out

    def __call__(self, ws: Any, row: int, i: int) -> None:
        self.write(ws, row, self.col, self.build(row), self.values[i], self.fmt, self.cached)

    def chunk(self, i0: int, i1: int, ws: Any) -> tuple[np.ndarray, list]:
        values = self.values[i0:i1]
        rows = range(self.first_row + i0, self.first_row + i1)
        if self.cached is float:  # each cached number as its text
            values = self.texts.shortest(np.asarray(values, dtype=np.float64))
        else:
            values = values.tolist() if isinstance(values, np.ndarray) and values.dtype == np.float64 else list(values)
        parts = self._template_for(rows, ws)
        if parts is None:
            return self._chunk_by_row(rows, values, ws)
        if self.cached is float:
            return np.full(len(rows), FORMULA, dtype=np.int8), RowFormulas(parts, rows[0] + 1, values)
        return (np.full(len(rows), FORMULA_TEXT, dtype=np.int8),
                [_text_result(str(row + 1).join(parts), self.cached(value)) for row, value in zip(rows, values)])

    def _template_for(self, rows: range, ws: Any) -> list[str] | None:
        """The column's formula cut where its A1 row number goes (built once, with :class:`_ThisRow`),
        when it gives this chunk's first and last formulas exactly; None: build each row's."""
        if self.template is False:
            try:
                text = self._prepare("=" + self.build(_ThisRow()), ws)
            except Exception:  # a formula that does more with its row than write it: built row by row
                text = None
            self.template = None if text is None else text.split(_ROW_MARK)
            self.shared = self.template is not None and shares(self.template)
        parts = self.template
        if parts is not None and any(str(row + 1).join(parts) != self._prepare("=" + self.build(row), ws)
                                     for row in (rows[0], rows[-1])):
            parts = self.template = None
            self.shared = False
        return parts

    def _chunk_by_row(self, rows: range, values: list, ws: Any) -> tuple[np.ndarray, list]:
        kinds, data = np.empty(len(rows), dtype=np.int8), []
        if len(self.prepared) > 4096:  # portable references change every row: keep the cache small
            self.prepared.clear()
        for i, (row, value) in enumerate(zip(rows, values)):
            formula = "=" + self.build(row)
            text = self.prepared.get(formula, False)
            if text is False:
                text = self.prepared[formula] = self._prepare(formula, ws)
            if text is None:
                kinds[i] = SLOW
                data.append(None)
            elif self.cached is float:  # value: the number's text
                kinds[i] = FORMULA
                data.append((text, value))
            else:
                kinds[i] = FORMULA_TEXT
                data.append(_text_result(text, self.cached(value)))
        return kinds, data

    @staticmethod
    def _prepare(formula: str, ws: Any) -> str | None:
        """The formula's text in its cell (escaped), as ``ws.write_formula`` stores it; None for a formula
        XlsxWriter writes another way (a function outside :data:`PLAIN_FUNCTIONS`, an array formula in braces)."""
        if not plain_formula(formula):
            return None
        return escape(stripped_formula(formula))


class RowFormulas(Sequence):
    """A chunk's formulas of one template with their cached values' texts: item ``i`` is ``(text, value)``, the
    text (its A1 row number ``first + i`` put in the template) built only when asked for, since a shared
    formula's run writes the text of its first cell only (:meth:`FormulaColumn.xml`)."""

    __slots__ = ("parts", "first", "values")

    def __init__(self, parts: list[str], first: int, values: list[float]) -> None:
        self.parts, self.first, self.values = parts, first, values

    def __len__(self) -> int:
        return len(self.values)

    @overload
    def __getitem__(self, i: int) -> tuple[str, float]: ...

    @overload
    def __getitem__(self, i: slice) -> list[tuple[str, float]]: ...

    def __getitem__(self, i: int | slice) -> tuple[str, float] | list[tuple[str, float]]:
        if isinstance(i, slice):
            numbers = range(self.first, self.first + len(self.values))[i]
            return [(str(number).join(self.parts), value) for number, value in zip(numbers, self.values[i])]
        i = range(len(self.values))[i]  # a negative index counts from the end; IndexError beyond
        return str(self.first + i).join(self.parts), self.values[i]


def shares(template: list[str]) -> bool:
    """Whether a column's formula (its escaped text cut where the A1 row number goes) can be written as a
    shared formula: each row's text is the first row's with its relative references moved down, as Excel moves
    them. That holds when the row number (:data:`_ROW_MARK`) appears only as the row of a reference relative in
    its row (``A5``, ``$A5``), outside string literals, and every other reference is absolute in its row
    (``$U$1``, ``U$1``). Never shared: a row range (``4:5``); a reference Excel refuses in a shared formula (a
    structured one, ``[``, or one to another sheet, ``!``); outside literals, a character beyond ASCII, a ``\\``
    or a ``?``, which a name may hold beside a reference's letters (``ÉA5`` is a name). openpyxl's formula
    translator, which moves the first row's text down a row, agrees (``tests/test_formulas.py``), but importing
    it takes about 0.1 s of every ``train``."""
    text = unescape(_ROW_MARK.join(template))
    if "[" in text or "!" in text:
        return False
    outside = text.split('"')[::2]  # the text outside string literals ("a""b" is one literal: its "" splits in two)
    if sum(part.count(_ROW_MARK) for part in outside) != text.count(_ROW_MARK):
        return False  # the row in a string literal
    if not all(part.isascii() and "\\" not in part and "?" not in part for part in outside):
        return False  # a name may hold these beside a reference's letters (ÉA5 is a name): not written here
    marks = 0
    for part in outside:
        if _ROW_RANGE.search(part):
            return False
        for letters, row_dollar, row in _REFERENCE.findall(part):
            if not letters.isupper():
                return False  # a reference in small letters: not written here, so not shared
            if len(letters) == 3 and letters > "XFD":
                continue  # past the last column: a name, which Excel does not move
            if row == _ROW_MARK and not row_dollar:
                marks += 1
            elif not row_dollar:
                return False  # a relative reference to a fixed row: moving it down would move it
            elif row == _ROW_MARK:
                return False  # the row in an absolute reference: moving it down would not change it
    return marks == text.count(_ROW_MARK)  # else the row stands alone, as a number (ROW()-5)


#: A cell reference outside string literals, as a formula's tokenizer reads one (not a function's name: LOG10( ;
#: not a number's exponent: 1E5): its column's letters, its row's ``$`` and its row (digits, or :data:`_ROW_MARK`).
_REFERENCE = re.compile(r"(?<![A-Za-z0-9_.$])\$?([A-Za-z]{1,3})(\$?)([0-9]+|\x00)(?![A-Za-z0-9_(.])")
#: A range of whole rows (``4:5``, ``$4:$5``): never shared (a formula written here has none).
_ROW_RANGE = re.compile(r"(?<![A-Za-z0-9_.$])\$?(?:[0-9]+|\x00):\$?(?:[0-9]+|\x00)(?![A-Za-z0-9_(.])")


#: What ``row + 1`` of a :class:`_ThisRow` gives: where the A1 row number goes in a formula's template.
_ROW_MARK = "\x00"


class _ThisRow:
    """The row, while a column's formula is built once as a template: ``row + 1`` (its A1 number) gives
    :data:`_ROW_MARK`; any other use of it (a comparison, other arithmetic, its text) raises TypeError."""

    __slots__ = ()

    def __add__(self, other: object) -> str:
        if other.__class__ is int and other == 1:
            return _ROW_MARK
        raise TypeError("a template row is only written, as row + 1")

    def _refuse(self, *args: object) -> None:
        raise TypeError("a template row is only written, as row + 1")

    __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __floordiv__ = __truediv__ = __mod__ = _refuse
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __hash__ = __bool__ = __index__ = __int__ = _refuse
    __str__ = __repr__ = __format__ = _refuse


def _text_result(formula: str, value: str) -> str:
    """What follows the style in a formula cell whose cached value is text, as XlsxWriter writes it."""
    kind = "" if value == "" else ' t="e"' if value in _ERRORS else ' t="str"'
    return f"{kind}><f>{formula}</f><v>{escape(value)}</v></c>"
