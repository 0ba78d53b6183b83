"""RowWriter: cells gathered in any order, written in row order for constant_memory streaming."""

from __future__ import annotations

import openpyxl
import pytest
import xlsxwriter

from titanic_lab.rowwriter import RowWriter
from titanic_lab.workbook.cells import _Worksheet


def _streaming_book(path):
    return xlsxwriter.Workbook(str(path), {"constant_memory": True})


def test_cells_written_bottom_up_all_arrive(tmp_path):
    wb = _streaming_book(tmp_path / "book.xlsx")
    ws = RowWriter(wb.add_worksheet("s"))
    for row in reversed(range(20)):
        ws.write_number(row, row % 3, row * 1.5)
        ws.write_string(row, 5, f"r{row}")
    ws.write()
    wb.close()
    sheet = openpyxl.load_workbook(tmp_path / "book.xlsx")["s"]
    assert [sheet.cell(row + 1, row % 3 + 1).value for row in range(20)] == [row * 1.5 for row in range(20)]
    assert [sheet.cell(row + 1, 6).value for row in range(20)] == [f"r{row}" for row in range(20)]


def test_without_it_constant_memory_drops_cells(tmp_path):
    """The reason RowWriter exists: a cell written above the current row is lost."""
    wb = _streaming_book(tmp_path / "book.xlsx")
    ws = wb.add_worksheet("s")
    ws.write_number(5, 0, 1.0)
    ws.write_number(0, 0, 2.0)
    wb.close()
    sheet = openpyxl.load_workbook(tmp_path / "book.xlsx")["s"]
    assert sheet["A6"].value == 1.0 and sheet["A1"].value is None


def test_column_rules_and_single_cells_interleave(tmp_path):
    wb = _streaming_book(tmp_path / "book.xlsx")
    ws = RowWriter(wb.add_worksheet("s"))
    values = [0.5 * i for i in range(10)]
    ws.column(3, 10, lambda w, r, i: w.write_formula(r, 1, f"=A{r + 1}*2", None, values[i] * 2))
    ws.column(3, 10, lambda w, r, i: w.write_number(r, 0, values[i]))
    ws.column(5, 2, lambda w, r, i: w.write_number(r, 4, i))  # a shorter rule inside the others
    ws.write_string(0, 1, "header above the rules")
    ws.write_number(4, 6, 7.0)  # a single cell inside the rules' rows
    ws.write()
    wb.close()
    sheet = openpyxl.load_workbook(tmp_path / "book.xlsx")["s"]
    assert [sheet.cell(4 + i, 1).value for i in range(10)] == values
    assert [sheet.cell(4 + i, 2).value for i in range(10)] == [f"=A{4 + i}*2" for i in range(10)]
    assert [sheet.cell(r, 5).value for r in range(5, 9)] == [None, 0, 1, None]
    assert sheet["B1"].value == "header above the rules" and sheet["G5"].value == 7.0


def test_one_row_in_memory_at_a_time(tmp_path):
    wb = _streaming_book(tmp_path / "book.xlsx")
    worksheet = wb.add_worksheet("s")
    ws = RowWriter(worksheet)
    held = []

    def rule(w, r, i):
        w.write_number(r, 0, i)
        w.write_number(r, 1, -i)
        held.append(len(w.table))

    ws.column(1, 500, rule)
    ws.write_string(0, 0, "x")
    ws.write()
    wb.close()
    assert len(held) == 500 and max(held) == 1


def test_table_in_constant_memory_mode(tmp_path):
    wb = _streaming_book(tmp_path / "book.xlsx")
    ws = RowWriter(wb.add_worksheet("s", worksheet_class=_Worksheet))
    ws.add_table(2, 0, 12, 1, {"name": "Data", "columns": [{"header": "Age"}, {"header": "Twice"}]})
    ws.column(3, 10, lambda w, r, i: w.write_number(r, 0, i))
    ws.column(3, 10, lambda w, r, i: w.write_formula(r, 1, "=Data[[#This Row],[Age]]*2", None, 2 * i))
    ws.write_string(0, 0, "title above the table")
    ws.write()
    wb.close()
    sheet = openpyxl.load_workbook(tmp_path / "book.xlsx")["s"]
    table = sheet.tables["Data"]
    assert table.ref == "A3:B13"
    assert [c.name for c in table.tableColumns] == ["Age", "Twice"]
    assert (sheet["A3"].value, sheet["B3"].value, sheet["A1"].value) == ("Age", "Twice", "title above the table")
    assert sheet["B13"].value == "=Data[[#This Row],[Age]]*2"


def test_only_known_settings_pass_through(tmp_path):
    wb = _streaming_book(tmp_path / "book.xlsx")
    ws = RowWriter(wb.add_worksheet("s"))
    ws.set_column(0, 0, 12)
    with pytest.raises(AttributeError, match="write_rich_string"):
        ws.write_rich_string(0, 0, "a")
    wb.close()
