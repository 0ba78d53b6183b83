"""The workbook reads well: numbers formatted, headers whole, print setup per sheet; formats only, full precision kept."""

from __future__ import annotations

import re
import zipfile

import openpyxl
import pytest

from titanic_lab.config import RunConfig
from titanic_lab.runs import train_run
from titanic_lab.workbook import GD_SHEET, write_workbook


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    run = train_run(RunConfig(models=("linear", "nnet"), epochs=20, restarts=1, gd_sheet=True, gd_epochs=3))
    return run, write_workbook(run, tmp_path_factory.mktemp("read") / "read.xlsx")


def _width(ws, col: int) -> float:
    """Column ``col``'s (0-based) width; XlsxWriter stores neighbours of equal width as one range."""
    for dim in ws.column_dimensions.values():
        if dim.min is not None and dim.min <= col + 1 <= dim.max and dim.customWidth:
            return dim.width
    return 8.43


def _headers_fit(ws, row: int) -> list[str]:
    """Headers in ``row`` (1-based) wider than their column."""
    cut = []
    for cell in ws[row]:
        if isinstance(cell.value, str) and cell.font.b and len(cell.value) > _width(ws, cell.column - 1):
            cut.append(cell.value)
    return cut


def test_numbers_are_formatted_and_keep_full_precision(book):
    run, path = book
    wb = openpyxl.load_workbook(path)
    readme, history = wb["README"], wb["history"]
    header_row = next(r for r in readme.iter_rows() if r[0].value == "model")
    linear = readme[header_row[0].row + 1]
    train_loss = linear[7]
    assert train_loss.number_format == "0.000000" and train_loss.value == pytest.approx(run.results["linear"].train_loss, rel=1e-15)
    first = history["B2"]
    assert first.number_format == "0.000000" and first.value == pytest.approx(run.results["linear"].history[0]["train_loss"], rel=1e-15)


def test_headers_are_not_cut(book):
    _, path = book
    wb = openpyxl.load_workbook(path)
    assert _headers_fit(wb["history"], 1) == []
    header_row = next(r for r in wb["README"].iter_rows() if r[0].value == "model")[0].row
    assert _headers_fit(wb["README"], header_row) == []
    for sheet in ("linear", "nnet", "mmult"):
        ws = wb[sheet]
        for cell in ws[3]:  # the table's and the params' headers; a table header also needs its filter button
            if isinstance(cell.value, str):
                assert len(cell.value) + 1 <= _width(ws, cell.column - 1), (sheet, cell.value)
    gd = wb[GD_SHEET]
    label = next(c for r in gd.iter_rows(max_row=20) for c in r if c.value == "Max |loss - torch loss|:")
    assert len(label.value) <= _width(gd, label.column - 1)
    assert len("Learning rate:") <= _width(gd, 0)


def test_readme_intro_wraps_within_the_page(book):
    _, path = book
    ws = openpyxl.load_workbook(path)["README"]
    assert "A2:F2" in {str(r) for r in ws.merged_cells.ranges}
    assert ws["A2"].alignment.wrap_text and ws.row_dimensions[2].height >= 45


def test_loss_chart_has_a_log_axis(book):
    _, path = book
    with zipfile.ZipFile(path) as zf:
        charts = [zf.read(n).decode() for n in zf.namelist() if n.startswith("xl/charts/chart")]
    readme_chart = next(c for c in charts if "Loss per epoch<" in c or ">Loss per epoch" in c)
    assert '<c:logBase val="10"/>' in readme_chart


def test_every_model_sheet_prints_landscape_one_page_wide_with_headers(book):
    _, path = book
    wb = openpyxl.load_workbook(path)
    for sheet in ("linear", "nnet", "mmult", GD_SHEET, "history"):
        ws = wb[sheet]
        assert ws.page_setup.orientation == "landscape", sheet
        assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth in (None, 1) and ws.page_setup.fitToHeight == 0
        assert ws.print_area, sheet
    for sheet in ("linear", "nnet", "mmult"):
        ws = wb[sheet]
        assert ws.print_title_rows == "$1:$3"
        area = ws.print_area[0] if isinstance(ws.print_area, list) else ws.print_area
        last_col = re.search(r":\$?([A-Z]+)\$?\d+$", area).group(1)
        headers = {c.value: c.column_letter for c in ws[3] if c.value}
        # The print area reaches the model's last columns (Loss, torch, Valid), not only the raw data.
        assert openpyxl.utils.column_index_from_string(last_col) >= openpyxl.utils.column_index_from_string(headers["Valid"])
