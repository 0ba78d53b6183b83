from __future__ import annotations

import json
import re
import zipfile

import openpyxl
import pytest
from typer.testing import CliRunner

from titanic_lab.cli import app
from titanic_lab.config import RunConfig
from titanic_lab.recalc import find_soffice, recalculate
from titanic_lab.runs import train_run
from titanic_lab.workbook import write_workbook

runner = CliRunner()
needs_soffice = pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) is not installed")
LESSON_TOTALS = {"linear": 0.14422714930851466, "nnet": 0.14315209641714463, "mmult": 0.14315209641014892}


@pytest.fixture(scope="module")
def our_book(tmp_path_factory):
    run = train_run(RunConfig(models=("linear", "nnet"), epochs=30, valid_pct=0.2))
    return write_workbook(run, tmp_path_factory.mktemp("cmp") / "ours.xlsx")


def _compare(*args: str):
    result = runner.invoke(app, ["compare", *args, "--json"])
    return result, (json.loads(result.stdout) if result.stdout.startswith("{") else None)


def test_the_lessons_workbook_agrees(lesson_workbook):
    result, report = _compare(str(lesson_workbook))
    assert result.exit_code == 0, result.output
    sheets = {s["sheet"]: s for s in report["sheets"]}
    assert set(sheets) == set(LESSON_TOTALS)
    for name, total in LESSON_TOTALS.items():
        s = sheets[name]
        assert s["ok"] and s["rows"] == 712
        assert s["total_loss"]["workbook"] == total
        assert abs(s["total_loss"]["recomputed"] - total) < 1e-12
    assert sheets["mmult"]["params_at"] == "S4:T13" and sheets["nnet"]["params_at"] == "R4:AA5"
    linear = {c["column"]: c for c in sheets["linear"]["columns"]}
    assert linear["Linear"]["cells"] == 712 and linear["Linear"]["max_abs_diff"] < 1e-12


def test_our_workbook_agrees(our_book):
    result, report = _compare(str(our_book))
    assert result.exit_code == 0, result.output
    assert [s["sheet"] for s in report["sheets"]] == ["linear", "nnet", "mmult"]
    assert all(s["ok"] for s in report["sheets"])


def test_notebook_models_agree(tmp_path):
    run = train_run(RunConfig(preset="notebook", models=("sigmoid", "hidden:3", "deep:4,3"), epochs=3))
    book = write_workbook(run, tmp_path / "nb.xlsx")
    result, report = _compare(str(book))
    assert result.exit_code == 0, result.output
    assert {s["model"] for s in report["sheets"]} == {"sigmoid", "hidden:3", "deep:4,3"}
    assert {s["loss"] for s in report["sheets"]} == {"mae"}


def _set_cached_value(book, out, sheet_index: int, address: str, value: str) -> None:
    """Rewrite one cell's cached <v> in the sheet XML, leaving everything else as it was."""
    member = f"xl/worksheets/sheet{sheet_index}.xml"
    with zipfile.ZipFile(book) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == member:
                text = data.decode()
                text, n = re.subn(rf'(<c r="{address}"[^>]*>(?:<f>[^<]*</f>)?<v>)[^<]*(</v>)', rf"\g<1>{value}\g<2>", text)
                assert n == 1
                data = text.encode()
            dst.writestr(item, data)


def test_a_tampered_cached_value_is_named(our_book, tmp_path):
    tampered = tmp_path / "tampered.xlsx"
    _set_cached_value(our_book, tampered, 2, "AC10", "0.5")  # sheet2 = linear, AC = Linear
    result, report = _compare(str(tampered))
    assert result.exit_code == 1
    linear = next(s for s in report["sheets"] if s["sheet"] == "linear")
    bad = [c for c in linear["columns"] if not c["ok"]]
    assert [(c["column"], c["worst_cell"]) for c in bad] == [("Linear", "AC10")]
    text = runner.invoke(app, ["compare", str(tampered)]).stdout
    assert "AC10" in text and "DIFFERS" in text


@pytest.mark.libreoffice
@needs_soffice
def test_an_edited_parameter_recalculated_in_libreoffice_still_agrees(our_book, tmp_path):
    edited = tmp_path / "edited.xlsx"
    wb = openpyxl.load_workbook(our_book)
    wb["linear"]["R4"] = 0.5  # the SibSp weight; openpyxl drops every cached value
    wb.save(edited)
    result, _ = _compare(str(edited))
    assert result.exit_code == 2 and "--recalc" in result.stderr  # never compared against empty cells
    result, report = _compare(str(edited), "--recalc")
    assert result.exit_code == 0, result.output
    linear = next(s for s in report["sheets"] if s["sheet"] == "linear")
    original = next(s for s in _compare(str(our_book))[1]["sheets"] if s["sheet"] == "linear")
    assert abs(linear["total_loss"]["recomputed"] - original["total_loss"]["recomputed"]) > 1e-3  # the new weight counts


@pytest.mark.libreoffice
@needs_soffice
def test_a_libreoffice_saved_workbook_is_read(our_book, tmp_path):
    saved = recalculate(our_book, tmp_path / "lo")
    result, report = _compare(str(saved))
    assert result.exit_code == 0, result.output
    assert len(report["sheets"]) == 3


def test_a_workbook_not_in_the_lesson_layout(tmp_path):
    book = tmp_path / "other.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["Survived", "SibSp", "Parch", "Age_N"])
    wb.active.append([1, 0, 0, 0.5])
    wb.save(book)
    result = runner.invoke(app, ["compare", str(book)])
    assert result.exit_code == 2
    assert "no sheet in the lesson layout" in result.stderr
    assert "missing feature header(s) log_Fare" in result.stderr and "row 1" in result.stderr


def test_not_a_workbook(tmp_path):
    fake = tmp_path / "x.xlsx"
    fake.write_bytes(b"not a zip")
    result = runner.invoke(app, ["compare", str(fake)])
    assert result.exit_code == 2 and "not an .xlsx workbook" in result.stderr


def test_an_edited_number_under_a_z_score_is_compared_as_the_sheet_computes_it(tmp_path):
    """A z-score's mean and standard deviation are values above its column, so a spreadsheet computes an edited
    number with them; compare used to refit them on the edited rows and report every row of the column as differing."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"a": rng.normal(size=80).round(3), "colour": rng.choice(["red", "blue"], 80)})
    frame["y"] = (frame.a + (frame.colour == "red") + rng.normal(size=80) > 0.5).astype(int)
    data, book, edited = tmp_path / "t.csv", tmp_path / "t.xlsx", tmp_path / "edited.xlsx"
    frame.to_csv(data, index=False)
    result = runner.invoke(app, ["train", "--data", str(data), "--target", "y", "-m", "linear", "--epochs", "5",
                                 "--out", str(book)])
    assert result.exit_code == 0, result.output
    wb = openpyxl.load_workbook(book)
    ws = wb["linear"]
    header = [c.value for c in ws[3]]
    assert "a_Z" in header and ws.cell(2, header.index("a_Z") + 1).value is not None  # the mean, a value
    ws.cell(5, header.index("a") + 1, 40.0)  # far from the others: refitting would move the mean and SD a lot
    wb.save(edited)
    result, report = _compare(str(edited), "--recalc")
    assert result.exit_code == 0, result.output
    a_z = next(c for s in report["sheets"] if s["sheet"] == "linear" for c in s["columns"] if c["column"] == "a_Z")
    assert a_z["ok"] and a_z["max_abs_diff"] < 1e-9


@pytest.mark.parametrize("model", ["nnet", "deep:3,2"])
def test_data_values_named_like_the_params_labels_are_not_read_as_them(tmp_path, model):
    """A text column whose levels are ``Column``, ``c1``, ``W2``, ``mean1`` holds them in its data cells, above the
    params' own labels: the reader looks for the params' corners and labels outside the data table's cells (and a
    chain's in its params' column). The nnet's sheet was refused (a ``Column`` block of the wrong labels), a hidden or
    deep one read with a constant of the data (compare disagreed, predict silently used another model)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)
    a, g = rng.normal(0, 1, 80), rng.choice(["Column", "c1", "W2", "mean1"], 80)
    data, book, out = tmp_path / "g.csv", tmp_path / "g.xlsx", tmp_path / "p.csv"
    pd.DataFrame({"a": a, "g": g, "y": (a + (g == "c1") > 0.3).astype(int)}).to_csv(data, index=False)
    trained = runner.invoke(app, ["train", "--data", str(data), "--target", "y", "-m", model, "--batchnorm",
                                  "--epochs", "5", "--out", str(book)])
    assert trained.exit_code == 0, trained.output
    result, report = _compare(str(book))
    assert result.exit_code == 0 and report and all(s["ok"] for s in report["sheets"]), result.output
    predicted = runner.invoke(app, ["predict", "--model", str(book), "--data", str(data), "--out", str(out)])
    assert predicted.exit_code == 0 and f", {model}, " in predicted.stdout, predicted.output
