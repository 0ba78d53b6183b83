"""The workbook reads well: numbers formatted, headers whole, print setup per sheet; formats only, full precision kept."""

from __future__ import annotations

import re
import zipfile

import openpyxl
import pytest

from titanic_lab.config import RunConfig
from titanic_lab.runs import train_run
from titanic_lab.workbook import GD_SHEET, write_workbook
from titanic_lab.workbook.cells import MIN_SCALE, PRINT_ROWS


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
    """Headers in ``row`` (1-based) wider than their column, unless wrapped in a row tall enough for their lines."""
    cut = []
    height = ws.row_dimensions[row].height or 15
    for cell in ws[row]:
        if isinstance(cell.value, str) and cell.font.b and len(cell.value) > _width(ws, cell.column - 1):
            words_fit = all(len(w) <= _width(ws, cell.column - 1) for w in cell.value.split())
            lines = -(-len(cell.value) // int(_width(ws, cell.column - 1)))
            if not (cell.alignment.wrap_text and words_fit and height >= 15 * lines):
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


def test_loss_chart_scales_show_the_curves(book):
    run, path = book
    with zipfile.ZipFile(path) as zf:
        charts = [zf.read(n).decode() for n in zf.namelist() if n.startswith("xl/charts/chart")]
    readme_chart = next(c for c in charts if "Loss per epoch<" in c or ">Loss per epoch" in c)
    assert readme_chart.count('<c:logBase val="10"/>') == 2  # epochs and loss
    y_axis = readme_chart.split("<c:valAx>")[2]  # the second value axis: the loss's
    y_low, y_high = (float(re.search(rf'<c:{bound} val="([^"]+)"/>', y_axis).group(1)) for bound in ("min", "max"))
    losses = [h[k] for r in run.results.values() for h in r.history for k in ("train_loss", "valid_loss") if h[k]]
    # Round bounds just outside the losses: at most one 1-2-5 step beyond, so the curves fill the chart.
    assert y_low <= min(losses) < 2.5 * y_low and y_high / 2.5 < max(losses) <= y_high, (y_low, y_high, losses[:3])


def _breaks(path, sheet_index: int) -> list[int]:
    with zipfile.ZipFile(path) as zf:
        xml = zf.read(f"xl/worksheets/sheet{sheet_index}.xml").decode()
    return [int(b) for b in re.findall(r'<brk id="(\d+)"', xml)]


def test_every_sheet_prints_its_top_landscape_at_a_readable_scale(book):
    _, path = book
    wb = openpyxl.load_workbook(path)
    for sheet in ("linear", "nnet", "mmult", GD_SHEET, "history", "all_rows"):
        ws = wb[sheet]
        assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9, sheet
        assert not ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.scale >= MIN_SCALE, sheet
        area = ws.print_area[0] if isinstance(ws.print_area, list) else ws.print_area
        last_row = int(re.search(r"(\d+)$", area).group(1))
        assert last_row <= 3 + PRINT_ROWS, (sheet, area)  # the top rows, not 1,000 rows of numbers
    for index, sheet in enumerate(("linear", "nnet", "mmult"), start=2):
        ws = wb[sheet]
        assert ws.print_title_rows == "$1:$3"
        area = ws.print_area[0] if isinstance(ws.print_area, list) else ws.print_area
        last_col = re.search(r":\$?([A-Z]+)\$?\d+$", area).group(1)
        headers = {}
        for c in ws[3]:
            if c.value:
                headers.setdefault(c.value, c.column)  # the data table's column, not the params' copy
        headers["Valid"] = max(c.column for c in ws[3] if c.value == "Valid")
        # The print area reaches the model's last columns (Loss, torch, Valid), not only the raw data.
        assert openpyxl.utils.column_index_from_string(last_col) >= headers["Valid"]
        # A page ends with the data table: the params and the model start the next one.
        assert headers["Ones"] in _breaks(path, index), sheet
    readme = wb["README"]
    assert readme.sheet_properties.pageSetUpPr.fitToPage and readme.page_setup.fitToWidth in (None, 1)


def test_labels_sit_beside_what_they_name(book):
    run, path = book
    wb = openpyxl.load_workbook(path)
    ws = wb["linear"]
    header = [c.value for c in ws[3]]
    fare, age_n = header.index("Fare") + 1, header.index("Age_N") + 1
    assert ws.cell(2, fare).number_format.startswith('"Fill: "') and ws.cell(2, fare).value == run.preprocessor.fill_values_["Fare"]
    assert ws.cell(1, age_n).number_format.startswith('"Max: "')
    params = [j for j, h in enumerate(header, start=1) if h == "SibSp"][1]  # the params' copy of the headers
    assert ws.cell(4, params - 1).value == "weights"
    ones = header.index("Ones", params - 1) + 1
    assert ws.cell(2, ones).value == "constant" and ws.cell(3, ones).value == "Ones"
    nnet = wb["nnet"]
    assert [nnet.cell(r, params - 1).value for r in (4, 5)] == ["Lin1 weights", "Lin2 weights"]


def test_names_are_not_cut_and_the_data_file_is_named_not_pathed(book):
    run, path = book
    wb = openpyxl.load_workbook(path)
    ws = wb["all_rows"]
    name = [c.value for c in ws[1]].index("Name")
    longest = max(len(str(v)) for v in run.source["Name"])
    assert _width(ws, name) >= min(60, longest)
    facts = {r[0].value: r[1].value for r in wb["README"].iter_rows(max_row=20) if r[0].value}
    assert facts["data file"] == run.data_path.name
