"""Features written once (``--features-once``): the first model sheet holds them as formulas, the later model sheets
keep their raw columns and read the features there. The same predictions, the same cached values, a fraction of
the formula cells; verify, compare and predict read such a workbook; the default takes it only for large tables.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from titanic_lab import sheet_layout as sl
from titanic_lab.cli import app
from titanic_lab.config import RunConfig
from titanic_lab.engines import ENGINES
from titanic_lab.reading import formula_cells, sheet_values
from titanic_lab.runs import train_run
from titanic_lab.workbook import book as book_module
from titanic_lab.workbook.book import writes_features_once
from titanic_lab.workbook.layout import read_model_sheets
from titanic_lab.workbook.table import Table

runner = CliRunner()
MODELS = ["-m", "linear", "-m", "sigmoid", "-m", "nnet"]


def mixed(n: int, seed: int = 0) -> pd.DataFrame:
    """Numbers with blanks, two text columns (one with blanks), a binary target named ``y`` (as the backprop
    sheet's own target column is)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=n).round(3), "b": rng.lognormal(size=n).round(3),
                          "colour": rng.choice(["red", "green", "blue", "grey"], n), "size": rng.choice(["S", "M", "L"], n)})
    signal = frame.a + (frame.colour == "red") - 0.5 * (frame["size"] == "L") + rng.normal(scale=0.5, size=n)
    frame["y"] = (signal > 0.3).astype(int)
    frame.loc[rng.choice(n, 9, replace=False), "a"] = np.nan
    frame.loc[rng.choice(n, 5, replace=False), "colour"] = np.nan
    return frame


@pytest.fixture(scope="module")
def books(tmp_path_factory) -> dict[str, Path]:
    """The same run written both ways, with a backprop sheet; and a table to predict."""
    folder = tmp_path_factory.mktemp("once")
    data, test = folder / "train.csv", folder / "test.csv"
    frame = mixed(260)
    frame.iloc[:200].to_csv(data, index=False)
    frame.iloc[200:].drop(columns="y").to_csv(test, index=False)
    out = {"data": data, "test": test}
    for way in ("once", "every"):
        out[way] = folder / f"{way}.xlsx"
        args = ["train", "--data", str(data), "--target", "y", *MODELS, "--backprop-sheet", "--out", str(out[way]),
                "--features-once" if way == "once" else "--features-on-every-sheet"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    return out


def test_later_sheets_hold_no_features_and_name_the_sheet_that_does(books):
    heads = sheet_values(books["once"], ["linear", "sigmoid", "nnet", "mmult"])
    features = read_model_sheets(books["once"], ["linear"])[0].features
    assert len(features) >= 8 and heads["linear"][sl.HEADER_ROW][5:5 + len(features)] == features
    for name in ("sigmoid", "nnet", "mmult"):
        rows = heads[name]
        assert rows[sl.SCALE_ROW][1:3] == [sl.FEATURES_ON, "linear"]
        table_headers = rows[sl.HEADER_ROW][: rows[sl.HEADER_ROW].index("") if "" in rows[sl.HEADER_ROW] else None]
        assert table_headers == ["y", "a", "b", "colour", "size"], name  # raw columns only
    assert sl.FEATURES_ON not in heads["linear"][sl.SCALE_ROW]
    every = sheet_values(books["every"], ["sigmoid"])["sigmoid"]
    assert "a_Z" in every[sl.HEADER_ROW][:12]  # the other way: every sheet holds its features


def test_the_formulas_read_the_first_sheets_features(books):
    cells = formula_cells(books["once"], ["sigmoid", "nnet", "mmult", "backprop-nnet"])
    linear = formula_cells(books["once"], ["linear"])["linear"]
    first_row = {c: f for (r, c), f in linear.items() if r == sl.FIRST_ROW}
    assert sum(f.startswith("IF(") for f in first_row.values()) >= 6, first_row  # the dummies: on the first sheet
    assert not any(f.startswith("IF(") for (r, c), f in cells["sigmoid"].items()), cells["sigmoid"]  # nowhere else
    sumproduct = [f for (r, c), f in cells["sigmoid"].items() if r == sl.FIRST_ROW + 1 and "SUMPRODUCT" in f]
    assert len(sumproduct) == 1 and sumproduct[0].startswith("SUMPRODUCT(linear!$"), sumproduct
    assert sumproduct[0].split("!")[1].split(",")[0].endswith("5"), sumproduct  # the sheet's own row
    assert sum("SUMPRODUCT(linear!" in f for (r, c), f in cells["nnet"].items() if r == sl.FIRST_ROW) == 2
    assert any("MMULT(linear!$" in f for f in cells["mmult"].values())
    assert any(f.startswith("linear!") for f in cells["backprop-nnet"].values())  # its inputs: the features' cells


def test_fewer_formula_cells_and_the_same_values(books):
    once, every = (formula_cells(books[w]) for w in ("once", "every"))
    n_once, n_every = (sum(len(c) for c in book.values()) for book in (once, every))
    assert n_once < 0.75 * n_every, (n_once, n_every)
    a, b = (sheet_values(books[w], ["nnet"])["nnet"] for w in ("once", "every"))
    preds_a = [row[a[sl.HEADER_ROW].index(sl.PREDS)] for row in a[sl.FIRST_ROW:]]
    preds_b = [row[b[sl.HEADER_ROW].index(sl.PREDS)] for row in b[sl.FIRST_ROW:]]
    assert len(preds_a) == 200 and preds_a == preds_b


def test_verify_compare_and_predict_read_it(books, tmp_path):
    result = runner.invoke(app, ["verify", str(books["once"]), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and {"sigmoid", "nnet", "mmult", "backprop-nnet"} <= {c["sheet"] for c in report["columns"]}
    result = runner.invoke(app, ["compare", str(books["once"])])
    assert result.exit_code == 0, result.output
    for way in ("once", "every"):
        out = tmp_path / f"{way}.csv"
        result = runner.invoke(app, ["predict", "--model", str(books[way]), "--data", str(books["test"]), "--out", str(out)])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "once.csv").read_bytes() == (tmp_path / "every.csv").read_bytes()


def test_the_later_sheets_compute_from_the_first_sheets_rows(books, tmp_path):
    """A text and a number changed on the features' sheet change every sheet's predictions (a spreadsheet
    recalculates them from there); compare recomputes each sheet from that sheet's rows, not from its own copy."""
    if not ENGINES["ironcalc"].available():
        pytest.skip("IronCalc is not installed")
    edited = tmp_path / "edited.xlsx"
    wb = openpyxl.load_workbook(books["once"])
    ws = wb["linear"]
    header = [c.value for c in ws[sl.HEADER_ROW + 1]]
    colour = ws.cell(sl.FIRST_ROW + 1, header.index("colour") + 1)
    colour.value = "blue" if colour.value == "red" else "red"
    ws.cell(sl.FIRST_ROW + 2, header.index("a") + 1, 2.5)
    wb.save(edited)
    result = runner.invoke(app, ["compare", str(edited), "--recalc", "--json"])
    assert result.exit_code == 0, result.output
    report = {s["sheet"]: s for s in json.loads(result.stdout)["sheets"]}
    before = {s.name: s.total for s in read_model_sheets(books["once"])}
    for name in ("sigmoid", "nnet", "mmult"):  # the edit reached them, and compare agrees with what the engine made
        assert report[name]["ok"] and report[name]["total_loss"]["recomputed"] != before[name][1], name


def test_a_features_sheet_that_is_missing_is_one_line(books, tmp_path):
    wb = openpyxl.load_workbook(books["once"])
    wb["sigmoid"].cell(sl.SCALE_ROW + 1, 3, "no_such_sheet")
    bad = tmp_path / "bad.xlsx"
    wb.save(bad)
    result = runner.invoke(app, ["compare", str(bad), "--recalc"])  # openpyxl keeps no cached values
    assert result.exit_code == 2
    assert "'no_such_sheet'" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_the_default_writes_them_once_only_past_the_limit(monkeypatch, tmp_path):
    data = tmp_path / "t.csv"
    mixed(120).to_csv(data, index=False)
    run = train_run(RunConfig(data=str(data), models=("linear", "nnet"), target="y", epochs=3, restarts=1))
    later = sum(len(result.spec.model_kind.sheets) for result in run.results.values()) - 1
    assert later == 3  # linear's sheet first, then sigmoid's (a binary target's), nnet's and mmult's
    cells = len(run.frame) * run.features.shape[1] * later
    monkeypatch.setattr(book_module, "FEATURES_ONCE_CELLS", cells)
    assert not writes_features_once(run)
    monkeypatch.setattr(book_module, "FEATURES_ONCE_CELLS", cells - 1)
    assert writes_features_once(run)
    for asked in (True, False):
        monkeypatch.setattr(run, "config", RunConfig(models=("linear", "nnet"), target="y", features_once=asked))
        assert writes_features_once(run) is asked


def test_feature_references_as_strings():
    held = Table("Data_linear", ["y", "a", "a_Z", "Ones"], 5, ["a_Z", "Ones"], portable=True, sheet="linear")
    later = Table("Data_nnet", ["y", "a"], 5, ["a_Z", "Ones"], portable=True, sheet="nnet", features_at=held)
    assert held.feature_area() == "C4:D8"
    assert later.feature_area() == "linear!$C$4:$D$8"
    assert later.feature_formula(lambda span: f"SUM({span})")(4) == "SUM(linear!$C5:$D5)"
    assert held.feature_formula(lambda span: f"SUM({span})")(4) == "SUM($C5:$D5)"
    assert later.feature_cell("Ones", 3) == "linear!D4" and held.feature_cell("a_Z", 3) == "linear!C4"
    quoted = Table("Data_x", ["y"], 5, ["a_Z", "Ones"], portable=True, sheet="x", features_at=Table(
        "Data_nnet_relu", ["y", "a_Z", "Ones"], 5, ["a_Z", "Ones"], portable=True, sheet="nnet-relu"))
    assert quoted.feature_area() == "'nnet-relu'!$B$4:$C$8"


def test_read_model_sheets_names_where_the_features_are(books):
    sheets = {s.name: s for s in read_model_sheets(books["once"])}
    assert sheets["linear"].features_on is None
    assert {sheets[n].features_on for n in ("sigmoid", "nnet", "mmult")} == {"linear"}
    assert sheets["nnet"].frame.equals(sheets["linear"].frame)  # a copy: the target is the sheet's own
    assert "a_Z" not in sheets["nnet"].columns and "a_Z" in sheets["linear"].columns


def test_a_target_named_y_beside_a_backprop_sheet(books):
    """A backprop sheet heads its passes' target column ``y``: with a table's target named ``y`` too, the reader took
    the backprop sheet for a model sheet, and compare failed on every such workbook."""
    result = runner.invoke(app, ["compare", str(books["every"])])
    assert result.exit_code == 0, result.output
    assert "sheet(s) agree with torch" in result.output


@pytest.mark.libreoffice
def test_titanic_with_table_references_verifies_written_once(tmp_path):
    """Titanic's lesson run keeps structured references on its features' sheet; the later sheets reach it by plain
    A1 references, which IronCalc and LibreOffice compute beside the structured ones."""
    book = tmp_path / "t.xlsx"
    result = runner.invoke(app, ["train", "--features-once", "--epochs", "50", "--out", str(book)])
    assert result.exit_code == 0, result.output
    cells = formula_cells(book, ["linear", "nnet"])
    assert any("[#This Row]" in f for f in cells["linear"].values())
    assert any(f.startswith("SUMPRODUCT(linear!$") for f in cells["nnet"].values())
    engines = [e for e in ("ironcalc", "libreoffice") if ENGINES[e].available()]
    for engine in engines:
        result = runner.invoke(app, ["verify", str(book), "--engine", engine])
        assert result.exit_code == 0, (engine, result.output)
    result = runner.invoke(app, ["compare", str(book)])
    assert result.exit_code == 0, result.output


def _edited(book: Path, out: Path, edit) -> Path:
    wb = openpyxl.load_workbook(book)
    edit(wb)
    wb.save(out)  # openpyxl keeps no cached values: the commands below recalculate, or read values only
    return out


def _value_edited(book: Path, out: Path, column: str, row: int, value: float) -> Path:
    """``book`` with the number in ``column``'s cell of 0-based ``row`` on sheet ``linear`` replaced, every cached
    value kept (as a spreadsheet saves an edited input before it recalculates)."""
    header = sheet_values(book, ["linear"])["linear"][sl.HEADER_ROW]
    ref = f"{openpyxl.utils.get_column_letter(header.index(column) + 1)}{row + 1}"
    with zipfile.ZipFile(book) as source, zipfile.ZipFile(out, "w") as edited:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet2.xml":  # linear, after the README
                data, n = re.subn(rf'(<c r="{ref}"[^>]*><v>)[^<]*(</v>)'.encode(), rb"\g<1>%r\g<2>" % value, data)
                assert n == 1
            edited.writestr(item, data)
    return out


def test_predict_takes_a_z_scores_mean_and_sd_from_the_sheet(books, tmp_path):
    """The sheet's z-score reads its mean and standard deviation from the cells above the column: an edited number
    among the training rows changes no prediction (predict refitted them on the rows, and moved every one)."""
    book, out = tmp_path / "reg.xlsx", {}
    result = runner.invoke(app, ["train", "--data", str(books["data"]), "--target", "b", "-m", "linear", "--out", str(book)])
    assert result.exit_code == 0, result.output
    edited = _value_edited(book, tmp_path / "edited.xlsx", "a", sl.FIRST_ROW + 3, 40.0)
    rows = tmp_path / "rows.csv"
    pd.read_csv(books["test"]).assign(y=[0, 1] * 30).to_csv(rows, index=False)  # y is a feature here
    for name, path in (("before", book), ("after", edited)):
        out[name] = tmp_path / f"{name}.csv"
        result = runner.invoke(app, ["predict", "--model", str(path), "--data", str(rows), "--out", str(out[name])])
        assert result.exit_code == 0, result.output
    assert out["before"].read_bytes() == out["after"].read_bytes()


def test_each_sheet_keeps_its_own_target(books, tmp_path):
    """A later sheet's loss reads its own target column: an edited target on the first sheet changes that sheet's
    loss only, and compare agrees with what the engine computes on every sheet."""
    def edit(wb):
        wb["linear"].cell(sl.FIRST_ROW + 2, 1).value = 1 - wb["linear"].cell(sl.FIRST_ROW + 2, 1).value
    edited = _edited(books["once"], tmp_path / "target.xlsx", edit)
    result = runner.invoke(app, ["compare", str(edited), "--recalc"])
    assert result.exit_code == 0, result.output


def test_predict_from_a_later_sheet_reads_the_features_sheets_fills(books, tmp_path):
    """The later sheet's own Fill: cells feed no formula: an edited fill on the features' sheet is the one a
    prediction from any sheet takes, as the sheet computes."""
    from titanic_lab.predict import predict_from_workbook

    edited = _value_edited(books["once"], tmp_path / "fill.xlsx", "a", sl.FILL_ROW, 5.0)
    _, sheet = predict_from_workbook(edited, books["test"], "sigmoid")
    assert sheet.name == "sigmoid" and sheet.fills["a"] == 5.0
    result = runner.invoke(app, ["compare", str(edited), "--recalc"])
    assert result.exit_code == 0, result.output


def test_rows_that_differ_from_the_features_sheet_are_one_line(books, tmp_path):
    edited = _edited(books["once"], tmp_path / "rows.xlsx", lambda wb: wb["sigmoid"].delete_rows(sl.FIRST_ROW + 200))
    result = runner.invoke(app, ["compare", str(edited), "--recalc"])
    assert result.exit_code == 2, result.output
    assert "200 data rows against its 199" in result.output and "'linear'" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_without_its_spec_sheet_a_later_sheet_is_one_line(tmp_path):
    """Titanic's workbook is read without its spec sheet (the lesson's has none), so a later sheet must say why it
    cannot be: its params' headers are no features of its own."""
    book = tmp_path / "t.xlsx"
    result = runner.invoke(app, ["train", "--features-once", "--portable", "--epochs", "20", "--out", str(book)])
    assert result.exit_code == 0, result.output
    edited = _edited(book, tmp_path / "nospec.xlsx", lambda wb: wb.remove(wb["spec"]))
    result = runner.invoke(app, ["compare", str(edited), "--recalc"])
    assert result.exit_code == 2, result.output
    assert "no 'spec' sheet" in result.output and len(result.output.strip().splitlines()) == 1


def test_a_hostile_fill_on_the_features_sheet_is_one_line_in_predict(books, tmp_path):
    """predict from a later sheet reads the features sheet's first rows only: what it takes there is checked as a
    whole sheet's cells are."""
    edited = _value_edited(books["once"], tmp_path / "huge.xlsx", "a", sl.FILL_ROW, 1e200)
    result = runner.invoke(app, ["predict", "--model", str(edited), "--data", str(books["test"]), "--sheet", "sigmoid",
                                 "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 2, result.output
    assert "'linear'" in result.output and "1e+200" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "p.csv").exists()
