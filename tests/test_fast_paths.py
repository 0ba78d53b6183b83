"""The fast paths (issue 29) give what the slow ones gave: formula cells scanned from a sheet's
XML as the XML parser reads them, and a faster writer's workbooks, byte for byte."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import xlsxwriter
import xlsxwriter.utility
import xlsxwriter.worksheet

from titanic_lab import RunConfig, reading, train_run
from titanic_lab.reading import _member_chunks, _open_zip, _parse_formulas, formula_cells, sheet_parts
from titanic_lab.workbook import cells, write_workbook


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
    """The patched worksheet's numbers and formulas, byte for byte as XlsxWriter's own methods write them."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    run = train_run(config)
    fast = write_workbook(run, tmp_path / "fast.xlsx").read_bytes()
    for method in ("write_number", "write_formula", "_write_single_row"):
        monkeypatch.setattr(cells._Worksheet, method, getattr(xlsxwriter.worksheet.Worksheet, method))
    assert write_workbook(run, tmp_path / "slow.xlsx").read_bytes() == fast


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
