"""The fast paths (issue 29) give what the slow ones gave: formula cells scanned from a sheet's
XML as the XML parser reads them, and a faster writer's workbooks, byte for byte once its shared
formulas are written out whole in every cell (by openpyxl's translator, not the writer's code)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
import xlsxwriter
import xlsxwriter.utility
import xlsxwriter.worksheet

from openpyxl.formula.translate import Translator

from titanic_lab import RunConfig, reading, train_run
from titanic_lab.reading import _member_chunks, _open_zip, _parse_formulas, formula_cells, sheet_parts
from titanic_lab.workbook import cells, columns, write_workbook


@pytest.fixture(scope="module")
def default_book(tmp_path_factory) -> Path:
    """A default workbook (linear, nnet, mmult on the bundled data), trained briefly."""
    return write_workbook(train_run(RunConfig(epochs=20)), tmp_path_factory.mktemp("fast") / "titanic.xlsx")


def _parsed(path: Path) -> dict[str, dict[tuple[int, int], str]]:
    """Every sheet's formula cells as the XML parser reads them."""
    with _open_zip(path) as zf:
        return {name: _parse_formulas(_member_chunks(path, zf.getinfo(part)), name) for name, part in sheet_parts(path).items()}


def _scanned_only(monkeypatch) -> None:
    """Make a fallback to the XML parser fail the test: the scan must read the sheet itself."""
    def refuse(chunks, where):
        raise AssertionError(f"{where}: the scan fell back to the XML parser")
    monkeypatch.setattr(reading, "_parse_formulas", refuse)


def test_the_scan_reads_a_titanic_workbook_as_the_parser_does(default_book, monkeypatch):
    parsed = _parsed(default_book)
    _scanned_only(monkeypatch)
    scanned = formula_cells(default_book)
    assert scanned == parsed
    assert sum(len(cells) for cells in scanned.values()) > 30_000
    assert any(text.startswith("{") for cells in scanned.values() for text in cells.values())  # the MMULT block
    assert any("<" in text for cells in scanned.values() for text in cells.values())  # ReLU's IF(x<0,...), &lt; in the XML


def test_the_scan_reads_the_lessons_workbook_as_the_parser_does(lesson_workbook, monkeypatch):
    parsed = _parsed(lesson_workbook)
    _scanned_only(monkeypatch)
    assert formula_cells(lesson_workbook) == parsed


def _sheet_xml(path: Path, body: str) -> None:
    """A one-sheet workbook whose sheet data is ``body``, written as the XML says."""
    wb = xlsxwriter.Workbook(str(path))
    wb.add_worksheet("s").write_number(0, 0, 1)
    wb.close()
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    xml = members["xl/worksheets/sheet1.xml"].decode()
    start, end = xml.index("<sheetData>") + len("<sheetData>"), xml.index("</sheetData>")
    members["xl/worksheets/sheet1.xml"] = (xml[:start] + body + xml[end:]).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


@pytest.mark.parametrize("body, expected", [
    # entities and character references in a formula's text; a shared formula's other cell has no text
    ('<row r="1"><c r="A1"><f>IF(B1&lt;0,"a&amp;b",&quot;&#65;&#x42;&quot;)</f><v>1</v></c>'
     '<c r="B1"><f t="shared" ref="B1:B2" si="0">C1+1</f><v>2</v></c></row>'
     '<row r="2"><c r="B2"><f t="shared" si="0"/><v>3</v></c></row>',
     {(0, 0): 'IF(B1<0,"a&b","AB")', (0, 1): "C1+1", (1, 1): ""}),
    # an array formula covers its range
    ('<row r="1"><c r="C1" cm="1"><f t="array" ref="C1:D2">MMULT(A1:B2,A1:B2)</f><v>1</v></c></row>',
     {(r, c): "{MMULT(A1:B2,A1:B2)" for r in (0, 1) for c in (2, 3)}),
    # a comment: the scan leaves the sheet to the parser
    ('<row r="1"><!-- a note --><c r="A1" s="1"><f>1+1</f><v>2</v></c></row>', {(0, 0): "1+1"}),
    # a formula after the value (not the schema's order): the parser reads it
    ('<row r="1"><c r="A1"><v>2</v><f>1+1</f></c><c r="B1"><f>2+2</f><v>4</v></c></row>', {(0, 0): "1+1", (0, 1): "2+2"}),
    # a cell without its address: the parser refuses it by name
    ('<row r="1"><c><f>1+1</f><v>2</v></c></row>', None),
    # prefixed tags (the formula tags are counted by regular expression, not bytes.count)
    ('<row r="1" xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:c r="A1"><x:f>1+1</x:f><x:v>2</x:v>'
     '</x:c><c r="B1"><f>A1</f><v>2</v></c></row>', {(0, 0): "1+1", (0, 1): "A1"}),
    # tabs and newlines between attributes
    ('<row r="1"><c\nr="A1"\ts="1"><f\n>1+1</f><v>2</v></c><c r="B1"><f\tt="shared" ref="B1:B3" si="0">A1</f><v>2</v></c></row>'
     '<row r="2"><c r="B2"><f t="shared"\nsi="0"/><v>2</v></c></row>', {(0, 0): "1+1", (0, 1): "A1", (1, 1): ""}),
    # shared formulas' other cells, then one of them with a text of its own (the text is kept, as the parser keeps it)
    ('<row r="1"><c r="A1"><f t="shared" ref="A1:A4" si="0">B1</f><v>0</v></c></row>'
     '<row r="2"><c r="A2"><f t="shared" si="0"/><v>0</v></c></row><row r="3"><c r="A3"><f t="shared" si="0"/><v>0</v></c></row>'
     '<row r="4"><c r="A4"><f t="shared" si="0">B9</f><v>0</v></c></row>',
     {(0, 0): "B1", (1, 0): "", (2, 0): "", (3, 0): "B9"}),
])
def test_the_scan_or_the_parser_reads_any_sheet(tmp_path, body, expected):
    book = tmp_path / "b.xlsx"
    _sheet_xml(book, body)
    if expected is None:
        with pytest.raises(reading.WorkbookError, match="sheet 's' cannot be read"):
            formula_cells(book)
    else:
        assert formula_cells(book) == {"s": expected} == _parsed(book)


def test_an_unknown_entity_is_refused_as_the_parser_refuses_it(tmp_path):
    book = tmp_path / "b.xlsx"
    _sheet_xml(book, '<row r="1"><c r="A1"><f>"&nbsp;"</f><v>1</v></c></row>')
    with pytest.raises(reading.WorkbookError, match="cannot be read"):
        formula_cells(book)


@pytest.mark.parametrize("config", [RunConfig(epochs=20), RunConfig(epochs=5, portable=True, gd_sheet=True, gd_epochs=2)],
                         ids=["default", "portable-gd-sheet"])
def test_the_fast_cell_writer_writes_what_xlsxwriter_writes(config, tmp_path, monkeypatch):
    """The patched worksheet's numbers and formulas, its columns written many rows at a time and its tables
    added over one row, byte for byte as XlsxWriter's own methods write them cell by cell."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    run = train_run(config)
    fast = _members(write_workbook(run, tmp_path / "fast.xlsx"))
    _cell_by_cell(monkeypatch)
    slow = _members(write_workbook(run, tmp_path / "slow.xlsx"))
    assert any(b't="shared"' in xml for xml in fast.values())  # the A1 columns (ReLU, Preds...) are shared
    assert not any(b't="shared"' in xml for xml in slow.values())
    assert _written_out(fast) == slow


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


_SHARED = re.compile(rb'<c r="([A-Z]+[0-9]+)"([^>]*)><f t="shared" (?:ref="[A-Z0-9:]+" si="([0-9]+)">([^<]*)</f>|si="([0-9]+)"/>)')


def _written_out(members: dict[str, bytes]) -> dict[str, bytes]:
    """Every shared formula of the worksheets written out whole in each of its cells, as XlsxWriter writes a
    formula: the first cell's text moved to each cell by openpyxl's :class:`Translator`."""
    out = {}
    for name, xml in members.items():
        anchors: dict[bytes, tuple[str, str]] = {}

        def whole(match: re.Match) -> bytes:
            address, attrs = match.group(1).decode(), match.group(2)
            if match.group(3) is not None:
                anchors[match.group(3)] = (address, match.group(4).decode())
                text = match.group(4).decode()
            else:
                origin, first = anchors[match.group(5)]
                moved = Translator("=" + _unescape(first), origin=origin).translate_formula(address)[1:]
                text = moved.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            return b'<c r="' + address.encode() + b'"' + attrs + b"><f>" + text.encode() + b"</f>"

        out[name] = _SHARED.sub(whole, xml) if name.startswith("xl/worksheets/") else xml
    return out


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _cell_by_cell(monkeypatch) -> None:
    """Turn the patched worksheet's fast paths off: every cell through XlsxWriter's own methods."""
    for method in ("write_number", "write_formula", "_write_single_row"):
        monkeypatch.setattr(cells._Worksheet, method, getattr(xlsxwriter.worksheet.Worksheet, method))
    monkeypatch.setattr(cells._Worksheet, "write_rows", None)  # RowWriter then calls each column's rule row by row
    monkeypatch.setattr(cells._Worksheet, "_plain_table", lambda *args: False)


def test_the_fast_cell_writer_leaves_other_cells_to_xlsxwriter(tmp_path):
    """A1 notation, NaN, an integer, a text cached, an array formula: XlsxWriter's own paths, same cells."""
    book = tmp_path / "b.xlsx"
    wb = xlsxwriter.Workbook(str(book), {"constant_memory": True, "nan_inf_to_errors": True})
    ws = wb.add_worksheet("s", worksheet_class=cells._Worksheet)
    ws.write_number("A1", 1.5)
    ws.write_number(0, 1, float("nan"))
    ws.write_number(0, 2, 3)
    ws.write_formula(1, 0, "=A1&\"<b>\"", None, "1.5<b>")
    ws.write_formula(1, 1, "=A1*2", None, 3.0)
    ws.write_formula(1, 2, "{=SUM(A1:B1)}", None, 1.5)
    wb.close()
    assert formula_cells(book)["s"] == {(0, 1): "#NUM!", (1, 0): 'A1&"<b>"', (1, 1): "A1*2", (1, 2): "{SUM(A1:B1)"}
    values = reading.sheet_values(book)["s"]
    assert values[0][0] == 1.5 and values[0][2] == 3.0 and values[1][0] == "1.5<b>" and values[1][1] == 3.0


def test_a_formula_of_other_functions_is_written_as_xlsxwriter_writes_it(tmp_path):
    """Only :data:`~titanic_lab.workbook.columns.PLAIN_FUNCTIONS` skip XlsxWriter's formula scan: a future or
    dynamic-array function elsewhere gets its prefix and spill as XlsxWriter writes it (whatever its release),
    and a text literal naming one stays as written (XlsxWriter 3.3.1 itself prefixed and spilled it)."""
    formulas = ["=XLOOKUP(1,A1:C1,A1:C1)", "=STDEV.S(A1:B1)", "=_xlfn.IFS(A1>0,1)", "=SUM(A1:B1)+xlookup(1,A1:C1,A1:C1)",
                "=MAX(A1,2)"]
    literal = '=IF(A1>0,"SORT(","x")'
    xml = {}
    for name, worksheet_class in (("fast", cells._Worksheet), ("stock", xlsxwriter.worksheet.Worksheet)):
        book = tmp_path / f"{name}.xlsx"
        wb = xlsxwriter.Workbook(str(book), {"constant_memory": True})
        ws = wb.add_worksheet("s", worksheet_class=worksheet_class)
        ws.write_number(0, 0, 1.0)
        for row, formula in enumerate(formulas, start=1):
            ws.write_formula(row, 0, formula, None, 1.0)
        if name == "fast":
            wb.add_worksheet("t", worksheet_class=worksheet_class).write_formula(0, 0, literal, None, 1.0)
        wb.close()
        xml[name] = _members(book)["xl/worksheets/sheet1.xml"]
        if name == "fast":
            assert b'<c r="A1"><f>IF(A1&gt;0,"SORT(","x")</f><v>1.0</v></c>' in _members(book)["xl/worksheets/sheet2.xml"]
    assert xml["fast"] == xml["stock"]
    assert b"_xlfn.XLOOKUP(" in xml["fast"]
    assert [columns.plain_formula(f) for f in (*formulas, literal)] == [False, False, False, False, True, True]


def test_every_function_a_workbook_uses_is_a_plain_one(default_book):
    """The formulas titanic-lab writes all take the fast path: each function they name is in PLAIN_FUNCTIONS."""
    names = {m.group(1).upper() for sheet in formula_cells(default_book).values() for text in sheet.values()
             for m in re.finditer(r'"[^"]*"|\b([A-Za-z_][A-Za-z0-9._]*)\(', text) if m.group(1)}
    assert {"SUMPRODUCT", "MMULT", "IF", "MAX"} <= names
    assert names <= columns.PLAIN_FUNCTIONS


def test_each_sheet_is_bounded_once_until_the_file_changes(tmp_path, monkeypatch):
    """verify checks every sheet, then reads every sheet's values: each sheet's XML is scanned once."""
    scanned = []
    extent = reading.sheet_extent
    monkeypatch.setattr(reading, "sheet_extent", lambda path, zf, part: scanned.append(part) or extent(path, zf, part))
    book = tmp_path / "b.xlsx"
    wb = xlsxwriter.Workbook(str(book))
    for name in ("a", "b"):
        wb.add_worksheet(name).write_number(0, 0, 1)
    wb.close()
    reading.check_sheets(book)
    reading.sheet_values(book)
    reading.sheet_values(book, ["a"])
    assert sorted(scanned) == ["xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml"]
    wb = xlsxwriter.Workbook(str(book))
    wb.add_worksheet("a").write_number(0, 0, 2)
    wb.add_worksheet("b").write_number(1999, 0, 2)  # a new file: checked again, and refused when too large
    wb.close()
    monkeypatch.setenv("TITANIC_LAB_MAX_CELLS", "1000")
    assert reading.sheet_values(book, ["a"]) == {"a": [[2.0]]}
    with pytest.raises(reading.WorkbookError, match="sheet 'b' reaches row 2,000"):
        reading.sheet_values(book)
    with pytest.raises(reading.WorkbookError, match="sheet 'b' reaches row 2,000"):
        reading.check_sheets(book)  # a refusal is not remembered as checked


def test_checked_sheets_says_which_sheets_may_hold_formulas(default_book):
    """A sheet without a formula tag is flagged so (verify does not read its values); every sheet with formulas is not."""
    flags = dict(reading.checked_sheets(default_book))
    formulas = formula_cells(default_book)
    assert list(flags) == list(formulas)
    assert all(flags[name] for name, cells in formulas.items() if cells)
    assert not flags["README"] and not flags["all_rows"]


def test_verify_reads_a_sheet_with_formulas_that_was_not_flagged(default_book, monkeypatch):
    """The flag only saves time: a sheet with formulas flagged as without them is read when its formulas are found."""
    from titanic_lab import verify

    honest = verify.verify_workbook(default_book)
    monkeypatch.setattr(verify, "checked_sheets", lambda path: ((name, False) for name, _ in reading.checked_sheets(path)))
    unflagged = verify.verify_workbook(default_book)
    assert unflagged.ok and unflagged.to_dict()["columns"] == honest.to_dict()["columns"]


def test_verify_reads_no_sheet_after_a_refused_one(tmp_path, monkeypatch):
    """A sheet refused by the bound check stops verify before any engine starts: the sheets checked before it and
    still waiting to be read are not read."""
    import time

    from titanic_lab import verify

    book = tmp_path / "b.xlsx"
    wb = xlsxwriter.Workbook(str(book))
    for name in ("a", "b", "c"):
        wb.add_worksheet(name).write_formula(0, 0, "=1+1", None, 2)
    wb.add_worksheet("d").write_number(1999, 0, 2)
    wb.close()
    monkeypatch.setenv("TITANIC_LAB_MAX_CELLS", "1000")
    read = []

    def slow_values(path, sheets):
        read.extend(sheets)
        time.sleep(0.5)  # 'a' is being read while b and c wait and d is refused
        return {}

    monkeypatch.setattr(verify, "sheet_values", slow_values)
    monkeypatch.setattr(verify, "sheet_formula_cells", lambda path: pytest.fail("the formula cells were looked for"))
    with pytest.raises(reading.WorkbookError, match="sheet 'd' reaches row 2,000"):
        verify.verify_workbook(book)
    assert read == ["a"]


def test_verify_still_names_a_tampered_data_row_formula(default_book, tmp_path):
    """A data row's formula cell whose cached value was changed in the XML: verify (IronCalc) fails on that cell."""
    from titanic_lab.verify import verify_workbook

    book = tmp_path / "tampered.xlsx"
    part = sheet_parts(default_book)["nnet"]
    (row, col), _ = max(formula_cells(default_book, ["nnet"])["nnet"].items())  # the last formula cell of the last row
    address = f"{xlsxwriter.utility.xl_col_to_name(col)}{row + 1}"
    with zipfile.ZipFile(default_book) as zin, zipfile.ZipFile(book, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == part:
                start = data.index(f'<c r="{address}"'.encode())
                v = data.index(b"<v>", start) + 3
                end = data.index(b"</v>", v)
                data = data[:v] + repr(float(data[v:end]) + 0.01).encode() + data[end:]
            zout.writestr(info, data)
    report = verify_workbook(book)
    assert not report.ok and report.worst == f"nnet!{address}" and report.max_diff > 0.005
    assert verify_workbook(default_book).ok



class _CellByCell(cells._Worksheet):
    """The patched worksheet with its fast paths off (formulas still written verbatim): XlsxWriter's own cell writers."""

    write_number = xlsxwriter.worksheet.Worksheet.write_number
    write_formula = xlsxwriter.worksheet.Worksheet.write_formula
    _write_single_row = xlsxwriter.worksheet.Worksheet._write_single_row
    write_rows = None  # RowWriter calls each column's rule row by row


def _cells_book(path: Path, worksheet_class: type, last: tuple[float, float] = (2.0, 1.0)) -> dict[str, bytes]:
    """A sheet of every kind of data column over 2,500 rows (three chunks), written by
    :class:`~titanic_lab.workbook.cells.Cells` through a RowWriter over ``worksheet_class``; the file's members.
    ``last``: a two-row column's values."""
    import datetime

    import numpy as np

    from titanic_lab import formulas as fx
    from titanic_lab.rowwriter import RowWriter
    from titanic_lab.sheet_layout import FIRST_ROW

    n = 2500
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False,
                                         "strings_to_urls": False, "strings_to_numbers": False})
    wb.set_properties({"created": datetime.datetime(2026, 1, 1)})
    c = cells.Cells(wb)
    ws = RowWriter(wb.add_worksheet("s", worksheet_class=worksheet_class))
    mixed = np.array([1.5, None, "text", float("nan"), True, 3, "  spaced ", "a&b<c>", "_x0041_", "\x01ctrl",
                      np.float64(2.5), "<r>rich</r>", np.float32(0.1), "", -0.0, 1e300, 5e-324], dtype=object)
    values = np.resize(mixed, n)
    values[590:710][values[590:710] == "<r>rich</r>"] = "rich"  # no row XlsxWriter writes (rich text) near "+late"
    values[700] = "+late"  # the first text that starts like a formula, far down: formats are numbered as first used
    values[720:2520:40] = ["=1+1", "-x", "@home", "\tTab", "\r"] * 9
    numbers = np.linspace(-1, 1, n)
    numbers[::7] = np.nan  # blanks
    c.text(ws, 0, 0, "Data", c.bold)
    c.column_values(ws, FIRST_ROW, 0, numbers, c.center)
    c.column_values(ws, FIRST_ROW, 1, np.arange(n), None)  # no format of its own: its column's (set below)
    ws.set_column(1, 1, 12, c.seconds)
    c.column_values(ws, FIRST_ROW, 2, values, c.num)
    c.column_formulas(ws, 3, lambda r: f"IF({fx.cell(r, 0)}<0,0,{fx.cell(r, 0)})", np.abs(numbers), c.num)
    c.column_formulas(ws, 4, lambda r: 'Data[[#This Row],[x]]&"<b>"', values.astype(str), cached=str)
    c.column_formulas(ws, 5, lambda r: "SORT(A4:A9)" if r == 900 else f"{fx.cell(r, 1)}*2", 2.0 * np.arange(n), c.num)
    c.column_values(ws, FIRST_ROW + 10, 6, np.array(["#N/A", "", "x"] * 100, dtype=object))
    c.array(ws, FIRST_ROW, 8, "MMULT(A4:B2503,K1:L2)", np.ones((n, 2)), c.num)
    later = np.full(n, np.nan)
    later[600:] = 1.0  # a format first used above "+late", in a column right of it: numbered before it
    c.column_values(ws, FIRST_ROW, 10, later, c.torch)
    # Text columns with blanks (each value's cell made once): one with numbers among its texts, one with 0.0 and -0.0
    # (equal, but written "0" and "-0": cell by cell).
    c.column_values(ws, FIRST_ROW, 11, np.resize(np.array(["b", None, float("nan"), "=no", "b", 2.5, "<t>"], dtype=object), n))
    c.column_values(ws, FIRST_ROW, 12, np.resize(np.array(["z", 0.0, -0.0, None], dtype=object), n))
    ws.write_number(FIRST_ROW + 1, 7, 0.25, c.param)  # a single cell among the columns' rows
    ws.set_row(FIRST_ROW + 1200, 30)  # a row with a height of its own
    c.column_values(ws, FIRST_ROW + 1500, 7, np.array(last), None)
    ws.write()
    wb.close()
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def test_columns_written_many_rows_at_a_time_are_what_xlsxwriter_writes_cell_by_cell(tmp_path):
    """Numbers, blanks, texts (one that starts like a formula gets the quote-prefix format: text from data is never
    a formula), booleans, formulas with number and text cached values, a dynamic array function, array formulas,
    a single cell, a row with a height, a column's format: the whole file byte for byte as cell by cell."""
    fast = _cells_book(tmp_path / "fast.xlsx", cells._Worksheet)
    slow = _cells_book(tmp_path / "slow.xlsx", _CellByCell)
    assert fast.keys() == slow.keys()
    whole = _written_out(fast)
    for name in fast:
        assert whole[name] == slow[name], name
    sheet = fast["xl/worksheets/sheet1.xml"].decode()
    assert re.search(r'<f t="shared" ref="D(\d+):D\d+" si="\d+">IF\(A\1&lt;0,0,A\1\)</f>', sheet)  # D: shared
    spans = [(int(a), int(b)) for a, b in re.findall(r'<f t="shared" ref="F(\d+):F(\d+)"', sheet)]
    assert not any(a <= 901 <= b for a, b in spans)  # F: never shared over SORT in F901
    assert not re.search(r'<c r="E[0-9]+"[^>]*><f t="shared"', sheet)  # E: structured references, never shared
    late, text = (re.search(f'<c r="{address}"[^>]*>.*?</c>', sheet).group(0) for address in ("C704", "C706"))
    assert 't="inlineStr"' in late and ">+late<" in late and "<f>" not in late  # text, never a formula
    assert late.split('"')[3] != text.split('"')[3]  # ... with the quote prefix: a style of its own
    assert 'cm="1"' in re.search('<c r="F901"[^>]*>', sheet).group(0)  # SORT: a dynamic array, as XlsxWriter writes it


def test_a_shared_columns_chunk_builds_each_text_only_when_asked_and_as_row_by_row(tmp_path):
    """A shared column's chunk holds its cached values' texts and builds a formula's text only when asked for (the
    writer asks for a run's first cell only): each one, by index, negative index or slice, is the text that
    building that row's formula gives."""
    import numpy as np

    from titanic_lab import formulas as fx
    from titanic_lab.workbook.columns import FORMULA, FormulaColumn, RowFormulas

    wb = xlsxwriter.Workbook(str(tmp_path / "s.xlsx"), {"constant_memory": True})
    ws = wb.add_worksheet("s", worksheet_class=cells._Worksheet)
    values = np.linspace(-1, 1, 50)
    column = FormulaColumn(3, 3, lambda r: f"IF({fx.cell(r, 0)}<0,0,{fx.cell(r, 0)})", values, None, float, cells.Cells.formula)
    kinds, data = column.chunk(10, 40, ws)
    assert column.shared and isinstance(data, RowFormulas) and (kinds == FORMULA).all()
    eager = [(FormulaColumn._prepare("=" + column.build(row), ws), str(float(x))) for row, x in zip(range(13, 43), values[10:40])]
    assert eager[0][0] == "IF(A14&lt;0,0,A14)"
    assert len(data) == 30 and list(data) == eager and data[-1] == eager[-1] and data[5:9] == eager[5:9]
    assert data[::-7] == eager[::-7] and data[-3:] == eager[-3:]
    with pytest.raises(IndexError):
        data[30]
    wb.close()


def test_a_column_with_an_infinity_is_refused_as_cell_by_cell(tmp_path):
    for worksheet_class in (cells._Worksheet, _CellByCell):
        with pytest.raises(TypeError, match="NAN/INF"):
            _cells_book(tmp_path / "inf.xlsx", worksheet_class, last=(float("inf"), 1.0))


def test_verify_stops_ironcalc_when_it_cannot_read_the_formulas(tmp_path, monkeypatch):
    """IronCalc waits, after recalculating, to be told the formula cells; a workbook whose formulas cannot be read
    is refused by name, and the engine's process is stopped (not left waiting)."""
    import subprocess as sp

    from titanic_lab import engines
    from titanic_lab.verify import verify_workbook

    book = tmp_path / "b.xlsx"
    _sheet_xml(book, '<row r="1"><c><f>1+1</f><v>2</v></c></row>')  # a formula cell without its address
    started = []
    popen = sp.Popen

    class Recorded(popen):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(engines.subprocess, "Popen", Recorded)
    with pytest.raises(reading.WorkbookError, match="sheet 's' cannot be read"):
        verify_workbook(book)
    assert len(started) == 1 and started[0].returncode is not None  # the child ended, and was waited for


def _extent_parsed(xml: bytes) -> reading.Extent:
    """:func:`reading.sheet_extent`'s rule, by the XML parser: the furthest ``r`` of a row or a cell, and the rows
    and cells without one counted as if they followed it."""
    from xml.etree import ElementTree

    root = ElementTree.fromstring(xml)
    rows = [e for e in root.iter() if e.tag.rpartition("}")[2] == "row"]
    cells = [e for e in root.iter() if e.tag.rpartition("}")[2] == "c"]
    refs = [re.fullmatch(r"([A-Z]{0,4})([0-9]+)", e.get("r")).groups() for e in cells if e.get("r")]
    max_row = max([int(e.get("r")) for e in rows if e.get("r")] + [int(r) for _, r in refs], default=0)
    max_col = max((int(xlsxwriter.utility.xl_cell_to_rowcol(c + "1")[1]) + 1 for c, _ in refs), default=0)
    return reading.Extent(max_row + sum(1 for e in rows if not e.get("r")), max_col + len(cells) - len(refs), len(cells))


MAIN = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
SHEETS = {
    "spaces only": f'<worksheet {MAIN}><sheetData><row r="1"><c r="A1"><v>1</v></c><c r="C1" t="inlineStr">'
                   '<is><t>ratio:c and :row</t></is></c></row><row r="4"><c r="AB4"><f>A1</f><v>1</v></c></row>'
                   '</sheetData></worksheet>',
    "newlines and tabs": f'<worksheet {MAIN}>\n<sheetData>\n<row\tr="2">\n<c\nr="B2"\ts="1"><v>1</v></c>'
                         '<c\r\nr="D7"/><c/></row><row>\n<c r="E3"/></row></sheetData></worksheet>',
    "prefixed tags": '<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData>'
                     '<x:row r="3"><x:c r="F3"><x:v>2</x:v></x:c><x:c><x:v>3</x:v></x:c></x:row><x:row/></x:sheetData>'
                     '</x:worksheet>',
    "cells without a reference": f'<worksheet {MAIN}><sheetData><row><c><v>1</v></c><c><v>2</v></c></row>'
                                 '<row r="9"><c r="B9"/></row><row/></sheetData></worksheet>',
}


@pytest.mark.parametrize("name", list(SHEETS))
def test_a_sheets_extent_is_the_xml_parsers_whatever_its_whitespace_and_prefixes(name, tmp_path):
    """The bound check counts tags with ``bytes.count`` where only spaces separate attributes and no tag has a
    prefix, and with regular expressions otherwise: the same extent as the XML parser's either way."""
    xml = SHEETS[name].encode()
    book = tmp_path / "b.zip"
    with zipfile.ZipFile(book, "w") as zf:
        zf.writestr("xl/worksheets/sheet1.xml", xml)
    with _open_zip(book) as zf:
        assert reading.sheet_extent(book, zf, "xl/worksheets/sheet1.xml") == _extent_parsed(xml)


def test_the_workbook_is_zipped_at_its_level_and_xlsxwriter_is_left_as_it_was(default_book):
    """Every member is deflated at book.ZIP_LEVEL (its compressed size is zlib's at that level, not at the default
    level 6), and XlsxWriter's own ZipFile is restored after the write."""
    import zlib

    import xlsxwriter.workbook

    from titanic_lab.workbook import book

    def deflated(data: bytes, level: int) -> int:
        packer = zlib.compressobj(level, zlib.DEFLATED, -15)
        return len(packer.compress(data) + packer.flush())

    with zipfile.ZipFile(default_book) as zf:
        sizes = {info.filename: (info.compress_size, zf.read(info)) for info in zf.infolist()}
    largest = max(sizes, key=lambda name: len(sizes[name][1]))
    assert deflated(sizes[largest][1], 6) != deflated(sizes[largest][1], book.ZIP_LEVEL)  # the test can tell them apart
    assert all(size == deflated(data, book.ZIP_LEVEL) for size, data in sizes.values())
    assert xlsxwriter.workbook.ZipFile is zipfile.ZipFile


@pytest.mark.parametrize("held", [1 << 30, 100_000])
def test_the_workbook_zip_deflated_in_threads_is_zipfiles_own_bytes(tmp_path, monkeypatch, held):
    """Members deflated in threads and written in the order given are byte for byte what zipfile writes itself
    at book.ZIP_LEVEL: headers, deflate streams, CRCs, sizes, order; also when the bytes held run over the
    bound (the oldest written first) and a member larger than it takes zipfile's own way."""
    import os
    import random

    from titanic_lab.workbook import book

    monkeypatch.setattr(book, "DEFLATING_BYTES", held)
    deflated = []
    monkeypatch.setattr(book, "_deflated", lambda data, deflate=book._deflated: deflated.append(len(data)) or deflate(data))
    rng = random.Random(0)
    sizes = {"a.xml": 60_000, "big.xml": 300_000, "empty.xml": 0, "b.xml": 90_000, "c.xml": 5, "d.xml": 120_000}
    files = []
    for name, size in sizes.items():
        path = tmp_path / name
        path.write_bytes(bytes(rng.choice(b"<c r=\"A1\"><v>0123456789.</v></c>") for _ in range(size)))
        os.utime(path, (315_532_800, 315_532_800))  # 1980-01-01
        files.append((path, f"xl/{name}"))
    with zipfile.ZipFile(tmp_path / "own.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=book.ZIP_LEVEL) as zf:
        for path, arcname in files:
            zf.write(path, arcname)
    with book._ZipFile(tmp_path / "threads.zip", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path, arcname in files:
            zf.write(path, arcname)
    assert (tmp_path / "threads.zip").read_bytes() == (tmp_path / "own.zip").read_bytes()
    assert sorted(deflated) == sorted(size for size in sizes.values() if size <= held)  # in threads, but the largest
    with zipfile.ZipFile(tmp_path / "threads.zip") as zf:
        assert zf.testzip() is None and [info.filename for info in zf.infolist()] == [a for _, a in files]


def test_number_texts_are_python_s_and_each_chunk_is_formatted_once(monkeypatch):
    """NumberTexts gives f"{x:.16G}" and str(x) of every float64, edge values too; a chunk seen before is not
    formatted again, and beyond its limit nothing more is kept."""
    import numpy as np

    from titanic_lab.workbook.columns import NumberTexts

    numbers = np.array([1.5, -0.0, 0.1 + 0.2, 1e300, 5e-324, 123456789012345678.0, np.nan, np.inf, -np.inf, 3.0])
    texts = NumberTexts()
    assert texts.general(numbers) == [f"{x:.16G}" for x in numbers.tolist()]
    assert texts.shortest(numbers) == [str(x) for x in numbers.tolist()]
    assert texts.general(numbers[:0]) == [] and texts.shortest(numbers[:0]) == []
    assert texts.general(numbers.copy()) is texts.general(numbers)  # the same chunk: its texts again
    assert texts.general(numbers[::-1].copy()) is not texts.general(numbers)
    assert texts.shortest(numbers.astype(np.float32)) == [str(x) for x in numbers.astype(np.float32).astype(np.float64).tolist()]
    small = NumberTexts(limit=5)
    assert small.shortest(numbers) is not small.shortest(numbers) and small.kept == 0


def test_a_float32_columns_nan_is_left_for_xlsxwriter_to_refuse_as_cell_by_cell():
    """Only an object column's values are made once per distinct value: a float32 column's NaN is a cell
    XlsxWriter refuses (SLOW), as the per-row loop found it, not a blank."""
    import numpy as np

    from titanic_lab.workbook.columns import BLANK, NUMBER, SLOW, ValueColumn

    column = ValueColumn(3, 0, np.array([1.5, np.nan], dtype=np.float32), None, None, lambda *a: None)
    kinds, _ = column.chunk(0, 2, None)
    assert kinds.tolist() == [NUMBER, SLOW]
    texts = ValueColumn(3, 0, np.array(["a", None, float("nan")], dtype=object), None, None, lambda *a: None)
    assert texts.chunk(0, 3, None)[0].tolist()[1:] == [BLANK, BLANK]
