from __future__ import annotations

import json
import math
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from typer.testing import CliRunner

from conftest import LEAST_SQUARES_OPTIMUM
from titanic_lab.cli import app
from titanic_lab.engines import ENGINES
from titanic_lab.reading import sheet_values
from titanic_lab.verify import verify_workbook
from titanic_lab.recalc import find_soffice

runner = CliRunner()
needs_soffice = pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) is not installed")


def _need(engine: str) -> None:
    if not ENGINES[engine].available():
        pytest.skip(f"{ENGINES[engine].title} ({ENGINES[engine].program}) is not installed")


@pytest.mark.libreoffice
@needs_soffice
def test_lesson_figures_verify_in_libreoffice(kaggle_train, tmp_path):
    book = tmp_path / "X.xlsx"
    result = runner.invoke(app, ["train", "--preset", "spreadsheet", "--data", str(kaggle_train), "--valid-pct", "0", "--out", str(book)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["verify", str(book), "--engine", "libreoffice", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and report["cells"] > 20_000 and report["engine"] == "libreoffice"
    assert {c["sheet"] for c in report["columns"]} == {"linear", "nnet", "mmult"}
    assert all(c["max_diff"] <= 1e-9 for c in report["columns"])
    total = sheet_values(book)["linear"][6][26]  # the lesson's AA7
    assert abs(total - LEAST_SQUARES_OPTIMUM) < 1e-6


@pytest.mark.libreoffice
@needs_soffice
def test_notebook_models_verify_in_libreoffice(tmp_path):
    book = tmp_path / "nb.xlsx"
    args = ["train", "--preset", "notebook", "-m", "sigmoid", "-m", "deep", "-m", "hidden:4", "--epochs", "5", "--out", str(book)]
    assert runner.invoke(app, args).exit_code == 0
    result = runner.invoke(app, ["verify", str(book), "--engine", "libreoffice"])
    assert result.exit_code == 0, result.output
    assert "formula cells within 1e-09" in result.stdout


@pytest.mark.parametrize("engine", list(ENGINES))
def test_a_wrong_cached_value_is_caught(engine, tmp_path):
    _need(engine)
    book = tmp_path / "wrong.xlsx"
    wb = xlsxwriter.Workbook(str(book))
    ws = wb.add_worksheet("s")
    ws.write_number(0, 0, 2)
    ws.write_number(0, 1, 3)
    ws.write_formula(0, 2, "=A1*B1", None, 999)  # the true value is 6
    wb.close()
    result = runner.invoke(app, ["verify", str(book), "--engine", engine, "--json"])
    assert result.exit_code == 1
    (column,) = json.loads(result.stdout)["columns"]
    assert column["worst_cell"] == "C1" and column["max_diff"] == pytest.approx(993 / 999)


@pytest.mark.parametrize("engine", list(ENGINES))
def test_formulas_without_cached_values_are_reported(engine, tmp_path):
    _need(engine)
    book = tmp_path / "openpyxl.xlsx"
    wb = openpyxl.Workbook()
    wb.active["A1"], wb.active["B1"] = 2, "=A1*3"
    wb.save(book)
    result = runner.invoke(app, ["verify", str(book), "--engine", engine])
    assert result.exit_code == 1
    assert "store no cached value" in result.stdout


@pytest.mark.parametrize("engine", list(ENGINES))
def test_a_formula_cell_without_its_value_element_is_reported(engine, tmp_path):
    """``<c r="C1"><f>A1*B1</f></c>``: IronCalc prints "Unexpected type (empty) in s!C1" on its standard output,
    which once corrupted the result its process sends back ("IronCalc stopped while recalculating it", exit 2)."""
    import zipfile

    _need(engine)
    made, book = tmp_path / "made.xlsx", tmp_path / "edited.xlsx"
    wb = xlsxwriter.Workbook(str(made))
    ws = wb.add_worksheet("s")
    ws.write_number(0, 0, 2)
    ws.write_number(0, 1, 3)
    ws.write_formula(0, 2, "=A1*B1", None, 6)
    ws.write_formula(1, 2, "=A1+B1", None, 5)
    wb.close()
    with zipfile.ZipFile(made) as zin, zipfile.ZipFile(book, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info, data.replace(b"<f>A1*B1</f><v>6</v>", b"<f>A1*B1</f>") if info.filename.endswith("sheet1.xml")
                          else data)
    result = runner.invoke(app, ["verify", str(book), "--engine", engine])
    assert result.exit_code == 1, result.output
    assert "1 formula cells store no cached value" in result.stdout


def test_a_workbook_of_many_sheets_is_read_in_one_pass_past_the_first(tmp_path):
    """Past verify.MANY_SHEETS the sheets' values are read together (each read opened the workbook again: 1,000
    sheets took 21 s); a wrong cell among them is still found."""
    from titanic_lab.verify import MANY_SHEETS

    book = tmp_path / "many.xlsx"
    wb = xlsxwriter.Workbook(str(book))
    for i in range(MANY_SHEETS + 10):
        ws = wb.add_worksheet(f"s{i}")
        ws.write_number(0, 0, i)
        ws.write_formula(0, 1, "=A1*2", None, 2.0 * i + (1 if i == MANY_SHEETS + 5 else 0))
    wb.close()
    result = runner.invoke(app, ["verify", str(book), "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["worst"] == f"s{MANY_SHEETS + 5}!B1" and len(report["columns"]) == MANY_SHEETS + 10


def test_a_zip_of_too_many_files_says_so(tmp_path, monkeypatch):
    import titanic_lab.reading as reading

    monkeypatch.setattr(reading, "MAX_MEMBERS", 5)
    book = tmp_path / "b.xlsx"
    wb = xlsxwriter.Workbook(str(book))
    wb.add_worksheet("s").write_number(0, 0, 1)
    wb.close()
    result = runner.invoke(app, ["verify", str(book)])
    assert result.exit_code == 2 and "files, more than the 5 a workbook this tool reads may hold" in result.stderr


def test_missing_libreoffice_exits_2(tmp_path, monkeypatch):
    book = tmp_path / "b.xlsx"
    openpyxl.Workbook().save(book)
    monkeypatch.setattr("titanic_lab.recalc.find_soffice", lambda: None)
    result = runner.invoke(app, ["verify", str(book), "--engine", "libreoffice"])
    assert result.exit_code == 2
    assert "LibreOffice (soffice) is not installed" in result.stderr


def test_not_a_workbook_exits_2(tmp_path):
    fake = tmp_path / "data.xlsx"
    fake.write_text("PassengerId,Survived\n1,0\n")
    result = runner.invoke(app, ["verify", str(fake)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {fake}: not an .xlsx workbook (not a zip file, or a truncated one)"


def test_the_default_engine_is_ironcalc_and_verifies_the_lessons_workbook(lesson_workbook):
    result = runner.invoke(app, ["verify", str(lesson_workbook), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["engine"] == "ironcalc" and report["cells"] > 20_000
    assert {c["sheet"] for c in report["columns"]} == {"linear", "nnet", "mmult"}
    assert all(c["max_diff"] <= 1e-9 for c in report["columns"])


def test_compare_groups_cells_under_their_header_and_names_the_first_worst_cell():
    """Cells under a header form its column; a cell a label names stands alone; the worst cell is the first with
    the largest difference; a cell without a cached value is counted, a text or NaN compared as relative_diff does."""
    from titanic_lab.verify import compare_cached

    nan = float("nan")
    cached = [["Total loss:", 0.5, "", ""],
              ["", "", "", ""],
              ["Preds", "Loss", "x", ""],
              [1.0, 2.0, 1.0, ""],
              [1.0, "", "b", nan],
              [1.0, 2.0, "", ""]]
    fresh = {(0, 1): 0.5, (3, 0): 1.5, (4, 0): 1.0, (5, 0): 1.5, (3, 1): 2.0, (5, 1): 2.0, (3, 2): 1.0, (4, 2): "c",
             (4, 3): 1.0}
    formulas = {"s": dict.fromkeys([(0, 1), (3, 0), (4, 0), (5, 0), (3, 1), (4, 1), (5, 1), (3, 2), (4, 2), (4, 3)], "=1")}
    report = compare_cached("b.xlsx", {"s": fresh}, 1e-9, formulas, {"s": cached})
    got = {c.label: (c.cells, c.max_diff, c.worst, c.missing_cached) for c in report.columns}
    assert list(got) == ["Preds (A3)", "B1 Total loss:", "Loss (B3)", "x (C3)", "D5"]
    assert got["Preds (A3)"] == (3, 0.5, "A4", 0)  # A4 and A6 both 0.5 off: the first
    assert got["B1 Total loss:"] == (1, 0.0, "B1", 0)
    assert got["Loss (B3)"] == (3, 0.0, "B4", 1)  # B5 has no cached value
    assert got["x (C3)"] == (2, math.inf, "C5", 0)  # "b" recalculated as "c"
    assert got["D5"][2] == "D5" and got["D5"][1] != got["D5"][1]  # NaN cached: its difference is NaN, as before
    assert not report.ok


def test_compare_reads_short_rows_cells_past_the_stored_area_and_numbers_that_are_not_floats():
    """python-calamine's rows may be short, a formula cell may lie past them (no cached value), and an int or a
    bool is compared as relative_diff compares it, not as a float: each column as the cell-by-cell rule says."""
    from titanic_lab.verify import compare_cached, relative_diff

    cached = [["a", "b", "c"],
              [1.0, 3, True],
              [2.0]]  # a short row: B3 and C3 are empty
    fresh = {(1, 0): 1.0, (2, 0): 2.5, (1, 1): 3.0, (2, 1): 4.0, (1, 2): 1.0, (2, 2): 1.0, (9, 0): 7.0}
    formulas = {"s": dict.fromkeys([(1, 0), (2, 0), (9, 0), (1, 1), (2, 1), (1, 2), (2, 2)], "=1")}
    report = compare_cached("b.xlsx", {"s": fresh}, 1e-9, formulas, {"s": cached})
    got = {c.label: (c.cells, c.max_diff, c.worst, c.missing_cached) for c in report.columns}
    assert got["a (A1)"] == (3, 0.25, "A3", 1)  # A10 lies past the stored rows: no cached value
    assert got["b (B1)"] == (2, relative_diff(3, 3.0), "B2", 1)  # the int 3 against 3.0; B3 empty
    assert got["c (C1)"] == (2, relative_diff(True, 1.0), "C2", 1)  # a bool is not a number to compare


def test_a_column_of_predicted_classes_is_one_row_of_the_report(tmp_path):
    from titanic_lab.config import RunConfig
    from titanic_lab.runs import train_run
    from titanic_lab.workbook import write_workbook

    data = Path(__file__).resolve().parents[1] / "titanic_lab" / "datasets" / "penguins.csv"
    out = tmp_path / "species.xlsx"
    write_workbook(train_run(RunConfig(data=str(data), target="species", models=("linear",))), out)
    report = verify_workbook(out)
    # The predicted class is a formula whose value is text ("Adelie"): it is no header of the cell below it.
    predicted = [c for c in report.columns if c.label.startswith("Predicted")]
    assert report.ok and len(predicted) == 1 and predicted[0].cells == 344
    assert len(report.columns) < 60


def test_an_engines_values_in_the_order_asked_compare_as_the_same_mapping():
    """IronCalc's values come in the order the cells were asked for (None: an empty cell); read in that order, or
    as a mapping of the non-empty ones (in another order, or for other cells), the report is the same."""
    from titanic_lab.engines import AskedValues
    from titanic_lab.verify import compare_cached

    cached = [["a", "b"], [1.0, "x"], [2.0, ""], [3.0, 4.0]]
    formulas = {"s": dict.fromkeys([(1, 0), (2, 0), (3, 0), (1, 1), (2, 1), (3, 1)], "=1")}
    asked = list(formulas["s"])
    values = [1.0, 2.5, None, "x", "", 4.0]  # A4 and B3 empty now
    as_dict = {cell: v for cell, v in zip(asked, values) if v is not None and v != ""}
    expected = compare_cached("b.xlsx", {"s": as_dict}, 1e-9, formulas, {"s": cached}).to_dict()
    for fresh in (AskedValues(asked, values), AskedValues(asked[::-1], values[::-1]), AskedValues(asked[:3], values[:3])):
        report = compare_cached("b.xlsx", {"s": fresh}, 1e-9, formulas, {"s": cached}).to_dict()
        assert report == compare_cached("b.xlsx", {"s": dict(fresh)}, 1e-9, formulas, {"s": cached}).to_dict()
        if len(fresh.asked) == len(asked):
            assert dict(fresh) == as_dict and report == expected
    assert [(c["worst_cell"], c["max_diff"], c["missing_cached"]) for c in expected["columns"]] == [
        ("A4", math.inf, 0), ("B2", 0.0, 1)]  # A4 is empty now; B3 has no cached value


def test_compare_reads_tuples_sequences_and_a_str_subclass_as_cell_values():
    """Rows may be tuples of different lengths, a cell may hold a sequence, a header may be a str subclass: each
    is one cell's value, as the cell-by-cell rule reads it."""
    from titanic_lab.verify import compare_cached

    class Text(str):
        pass

    cached = [(Text("p"), "q"), (1.0, [1, 2]), (2.0,)]
    fresh = {(1, 0): 1.0, (2, 0): 2.0, (1, 1): 3.0}
    formulas = {"s": dict.fromkeys([(1, 0), (2, 0), (1, 1)], "=1")}
    got = {c.label: (c.cells, c.max_diff, c.worst, c.missing_cached)
           for c in compare_cached("b.xlsx", {"s": fresh}, 1e-9, formulas, {"s": cached}).columns}
    assert got == {"p (A1)": (2, 0.0, "A2", 0), "q (B1)": (1, math.inf, "B2", 0)}


def test_a_failure_while_finding_the_formula_cells_is_raised_as_it_is(tmp_path, monkeypatch):
    """verify's own error (here in its scan of the second sheet) reaches the caller with its own traceback, not the
    engine thread's, and IronCalc is stopped."""
    import traceback

    import xlsxwriter

    from titanic_lab import verify

    book = tmp_path / "b.xlsx"
    with xlsxwriter.Workbook(book) as wb:
        for name in ("a", "b"):
            wb.add_worksheet(name).write_formula(0, 0, "=1+1", None, 2)

    def failing(path, sheets=None):
        yield "a", {(0, 0): "1+1"}
        raise ValueError("the scan failed")

    monkeypatch.setattr(verify, "sheet_formula_cells", failing)
    with pytest.raises(ValueError, match="the scan failed") as caught:
        verify.verify_workbook(book)
    frames = [frame.name for frame in traceback.extract_tb(caught.value.__traceback__)]
    assert "_as_found" not in frames and "_ironcalc_values" not in frames and frames[-1] == "failing"
