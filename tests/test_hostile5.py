"""Hostile and careless input, fifth round (session 20's sweep, continued): headers and classes in another case,
hand-edited workbook cells named by workbook, sheet and cell, `features --fit-on` another table, True/False for a
yes/no column, time-zoned datetimes in a notebook and a workbook without its `all_rows` sheet.

Each refusal is checked as in tests/test_hostile3.py (:func:`test_hostile3._refused`): exit 2, one line on stderr
naming the thing, no traceback, nothing left beside the inputs or in TMPDIR, every input unchanged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import test_hostile3
from test_hostile3 import _refused, _table
from test_hostile4 import _work  # a copy of the fixture's data.csv, rows.csv and w.xlsx
from titanic_lab.cli import app

runner = CliRunner()
tmpdir_env = test_hostile3.tmpdir_env  # a fixture: a private TMPDIR, checked empty by each refusal


@pytest.fixture(scope="module")
def house(tmp_path_factory):
    """data.csv (an id, numbers, a category, a date, a yes/no column), rows.csv to predict, w.xlsx trained on them."""
    folder = tmp_path_factory.mktemp("h5")
    df = _table()
    df.insert(0, "rid", np.arange(len(df)) + 5001)
    df["sold"] = pd.date_range("2020-01-01", periods=len(df), freq="5D").strftime("%Y-%m-%d")
    df["garden"] = np.where(np.arange(len(df)) % 3 == 0, "yes", "no")
    df.to_csv(folder / "data.csv", index=False)
    rows = df.drop(columns=["y"]).assign(rid=df["rid"] + 1000)
    rows.to_csv(folder / "rows.csv", index=False)
    result = runner.invoke(app, ["train", "--data", str(folder / "data.csv"), "--target", "y", "--id", "rid", "-m", "linear",
                                 "--out", str(folder / "w.xlsx")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["predict", "--model", str(folder / "w.xlsx"), "--data", str(folder / "rows.csv"),
                                 "--out", str(folder / "p.csv")])
    assert result.exit_code == 0 and "warning" not in result.output, result.output
    return folder


def _predict(work, rows="rows.csv", model="w.xlsx", *more):
    return runner.invoke(app, ["predict", "--model", str(work / model), "--data", str(work / rows), *more,
                               "--out", str(work / "p.csv")])


# ---- 1. headers in another case (rows_header_upper) ----------------------------------------------------------------

def test_predict_matches_headers_without_case_as_the_rest_of_the_tool(house, tmp_path):
    work = _work(house, tmp_path / "w")
    rows = pd.read_csv(work / "rows.csv")
    rows.rename(columns=lambda c: f" {c.upper()} ").to_csv(work / "upper.csv", index=False)  # RID, A, ..., SOLD, GARDEN
    result = _predict(work, "upper.csv")
    assert result.exit_code == 0, result.output  # before: missing column(s) a, b, c, sold, garden that the spec's features read
    assert "warning" not in result.output
    got, expected = pd.read_csv(work / "p.csv"), pd.read_csv(house / "p.csv")
    assert list(got.columns) == ["rid", "y"] and got.equals(expected)


def test_features_fit_on_matches_headers_without_case(house, tmp_path):
    work = _work(house, tmp_path / "w")
    pd.read_csv(work / "rows.csv").rename(columns=str.upper).to_csv(work / "upper.csv", index=False)
    out = {}
    for name in ("rows.csv", "upper.csv"):
        result = runner.invoke(app, ["features", "--data", str(work / name), "--fit-on", str(work / "data.csv"),
                                     "--target", "y", "--id", "rid", "--out", str(work / f"f_{name}")])
        assert result.exit_code == 0, result.output
        out[name] = pd.read_csv(work / f"f_{name}")
    assert out["upper.csv"].equals(out["rows.csv"]) and "rid" in out["upper.csv"].columns


def test_two_headers_that_match_a_spec_column_without_case_are_refused_naming_both(house, tmp_path, tmpdir_env):
    work = _work(house, tmp_path / "w")
    pd.read_csv(work / "rows.csv").assign(B=1.0).to_csv(work / "both.csv", index=False)  # b and B
    _refused(work, tmpdir_env, ["predict", "--model", str(work / "w.xlsx"), "--data", str(work / "both.csv"),
                                "--out", str(work / "p.csv")], "both.csv", "'b'", "'B'")


# ---- 2. a known class in another case (species_rows_target_other_case) ---------------------------------------------

def test_predict_takes_a_known_class_written_in_another_case(tmp_path, tmpdir_env):
    rng = np.random.default_rng(1)
    kind = np.array(["Red", "Green", "Blue"] * 20)
    df = pd.DataFrame({"a": rng.normal(0, 1, 60) + (kind == "Red") * 3, "b": rng.normal(0, 1, 60), "kind": kind})
    df.to_csv(tmp_path / "data.csv", index=False)
    result = runner.invoke(app, ["train", "--data", str(tmp_path / "data.csv"), "--target", "kind", "-m", "linear",
                                 "--out", str(tmp_path / "w.xlsx")])
    assert result.exit_code == 0, result.output
    df.head(6).assign(kind=lambda d: d["kind"].str.upper()).to_csv(tmp_path / "rows.csv", index=False)  # RED, GREEN, BLUE
    result = _predict(tmp_path)
    assert result.exit_code == 0, result.output  # before: target kind holds class 'RED' (line 2), which the model never learned
    df.head(6).assign(kind="Purple").to_csv(tmp_path / "purple.csv", index=False)
    (tmp_path / "p.csv").unlink()
    _refused(tmp_path, tmpdir_env, ["predict", "--model", str(tmp_path / "w.xlsx"), "--data", str(tmp_path / "purple.csv"),
                                    "--out", str(tmp_path / "p.csv")], "purple.csv", "'Purple'", "never learned")


# ---- 3. a label cell that holds no number (wb_valid_rmse_blank, wb_valid_folds_text) -------------------------------

def _edit(work, change):
    """w.xlsx with ``change(sheet)`` applied to its linear sheet (openpyxl)."""
    import openpyxl

    wb = openpyxl.load_workbook(work / "w.xlsx")
    address = change(wb["linear"])
    wb.save(work / "w.xlsx")
    return address


def _right_of(label):
    def change(ws, value):
        found = next(c for row in ws.iter_rows(max_row=3) for c in row if c.value == label)
        right = ws.cell(found.row, found.column + 1)
        right.value = value
        return right.coordinate
    return change


@pytest.mark.parametrize("label, value, shown", [("Valid RMSE:", None, "''"), ("Valid folds:", "five", "'five'")])
def test_a_label_cell_that_holds_no_number_is_named_by_workbook_sheet_cell_and_label(house, tmp_path, tmpdir_env,
                                                                                       label, value, shown):
    work = _work(house, tmp_path / "w")
    if label == "Valid folds:":  # written only by a run that chose by cross-validation: add the label beside RMSE's
        def change(ws):
            rmse = next(c for row in ws.iter_rows(max_row=3) for c in row if c.value == "Valid RMSE:")
            ws.cell(rmse.row + 1, rmse.column).value = label
            return _right_of(label)(ws, value)
    else:
        def change(ws):
            return _right_of(label)(ws, value)
    address = _edit(work, change)
    stderr = _refused(work, tmpdir_env, ["predict", "--model", str(work / "w.xlsx"), "--data", str(work / "rows.csv"),
                                         "--out", str(work / "p.csv")],
                      "w.xlsx: sheet 'linear' cell", f"cell {address} ({label}): {shown} is not a number")
    assert "param" not in stderr  # before: "param Valid RMSE: at AN1 is '', not a number", no file, no sheet


# ---- 4. a data cell of a workbook that holds a bad value (wb_data_date_text) ---------------------------------------

def test_a_date_cell_of_the_workbook_holding_text_is_named_by_workbook_sheet_and_cell(house, tmp_path, tmpdir_env):
    work = _work(house, tmp_path / "w")

    def change(ws):
        header = next(c for row in ws.iter_rows(max_row=10) for c in row if c.value == "sold")
        cell = ws.cell(header.row + 1, header.column)
        cell.value = "yesterday"
        return cell.coordinate

    address = _edit(work, change)
    stderr = _refused(work, tmpdir_env, ["predict", "--model", str(work / "w.xlsx"), "--data", str(work / "rows.csv"),
                                         "--out", str(work / "p.csv")],
                      "w.xlsx: ", f"sheet 'linear' cell {address}", "'yesterday'", "not a date")
    assert "line " not in stderr and "CSV" not in stderr  # before: "in data row 1 (line 2 of a CSV)", no file named


def test_a_sheet_row_is_named_by_its_cell_wherever_a_message_names_a_row():
    from titanic_lab.file_rows import data_row, mark_sheet, row_named

    frame = mark_sheet(pd.DataFrame({"sold": ["2020-01-01", "x"], "b": [1.0, 2.0]}), "w.xlsx", "linear", 3, {"sold": 5})
    picked = frame[frame["b"] > 1]  # rows kept keep their labels, as the file's rows do
    assert row_named(picked["sold"], picked.index[0]) == "sheet 'linear' cell F5"
    assert row_named(picked, picked.index[0]) == "sheet 'linear' row 5" and data_row(picked, picked.index[0]) is None


# ---- 5. features --fit-on another table (feat_fit_on_other_table) ---------------------------------------------------

def test_features_fit_on_another_table_is_one_line_naming_both_files(house, tmp_path, tmpdir_env):
    work = _work(house, tmp_path / "w")
    pd.DataFrame({"kind": ["x", "y"] * 5, "size": np.arange(10.0)}).to_csv(work / "other.csv", index=False)
    _refused(work, tmpdir_env, ["features", "--data", str(work / "other.csv"), "--fit-on", str(work / "data.csv"),
                                "--target", "y", "--out", str(work / "f.csv")],
             "other.csv: missing column(s) a, b, c", f"that the features fitted on {work / 'data.csv'} read")
    # one line: the description of the features fitted (16 lines before) is not printed before the refusal


# ---- 6. True/False where the training file wrote yes/no (rows_garden_bool) ------------------------------------------

def test_an_unseen_true_false_value_is_named_as_the_file_writes_it(house, tmp_path):
    work = _work(house, tmp_path / "w")
    rows = pd.read_csv(work / "rows.csv")
    rows.assign(garden=rows["garden"].map({"yes": "True", "no": "False"})).to_csv(work / "bool.csv", index=False)
    result = _predict(work, "bool.csv")
    assert result.exit_code == 0, result.output
    warning = next(line for line in result.stderr.splitlines() if "column garden" in line)
    assert "unseen value(s) 'False', 'True'" in warning and "'0'" not in warning, warning  # before: '0', '1'


# ---- 7. a time-zoned datetime column in a notebook (api_datetime_tz) ------------------------------------------------

@pytest.mark.parametrize("tz", ["Europe/Oslo", "America/New_York"])
def test_a_time_zoned_datetime_column_is_a_date_in_its_local_time(tz):
    from titanic_lab.preprocessing import TabularPreprocessor

    df = pd.DataFrame({"y": [1.0, 2.5, 3.1, 4.2, 5.0, 6.1, 7.3, 8.0], "c": list("xyxzyxzx")})
    naive = df.assign(t=pd.date_range("2021-01-01 23:30", periods=8, freq="7D"))
    zoned = df.assign(t=naive["t"].dt.tz_localize(tz))  # the same wall times, in a time zone
    expected = TabularPreprocessor(target="y").fit_transform(naive)
    pre = TabularPreprocessor(target="y")
    got = pre.fit_transform(zoned)
    assert "t" not in pre.left_out_ and {"t_month", "t_days"} <= set(got.columns)  # before: left out silently
    pd.testing.assert_frame_equal(got, expected)


# ---- 8. a workbook without its all_rows sheet (tw_no_all_rows_overlap) ----------------------------------------------

def test_predict_warns_when_the_workbook_cannot_tell_which_rows_it_was_trained_on(house, tmp_path):
    import openpyxl

    work = _work(house, tmp_path / "w")
    wb = openpyxl.load_workbook(work / "w.xlsx")
    del wb["all_rows"]
    wb.save(work / "w.xlsx")
    result = _predict(work, "data.csv")  # the very rows it was trained on: the guard refused them before the sheet went
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "w.xlsx: has no all_rows sheet" in warnings[0] and "cannot check" in warnings[0], warnings
    result = _predict(work, "data.csv", "w.xlsx", "--allow-overlap")  # said not to matter: no warning
    assert result.exit_code == 0 and "warning" not in result.stderr, result.output


def _drop_sheet(book, name):
    """Delete sheet ``name`` from ``book`` in its zip, every other member (and cached value) left as it is."""
    import re
    import zipfile

    with zipfile.ZipFile(book) as zf:
        members = {m: zf.read(m) for m in zf.namelist()}
    workbook = members["xl/workbook.xml"].decode("utf-8")
    entry = re.search(rf'<sheet name="{name}" sheetId="\d+" r:id="(rId\d+)"/>', workbook)
    rels = members["xl/_rels/workbook.xml.rels"].decode("utf-8")
    rel = re.search(rf'<Relationship Id="{entry.group(1)}" [^>]*Target="([^"]+)"/>', rels)
    members["xl/workbook.xml"] = workbook.replace(entry.group(0), "").encode("utf-8")
    members["xl/_rels/workbook.xml.rels"] = rels.replace(rel.group(0), "").encode("utf-8")
    part = "xl/" + rel.group(1).removeprefix("/xl/")
    del members[part]
    members.pop(part.replace("worksheets/", "worksheets/_rels/") + ".rels", None)
    types = members["[Content_Types].xml"].decode("utf-8")
    members["[Content_Types].xml"] = re.sub(rf'<Override PartName="/{part}"[^>]*/>', "", types).encode("utf-8")
    with zipfile.ZipFile(book, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in members.items():
            zf.writestr(member, data)


def test_predict_warns_for_titanic_rows_with_a_workbook_without_all_rows(tmp_path):
    from conftest import KAGGLE_HEADER, KAGGLE_ROWS, write_csv

    result = runner.invoke(app, ["train", "-m", "linear", "--epochs", "3", "--out", str(tmp_path / "w.xlsx")])
    assert result.exit_code == 0, result.output
    rows = write_csv(tmp_path, KAGGLE_HEADER + KAGGLE_ROWS, "rows.csv")
    result = _predict(tmp_path)
    assert result.exit_code == 2 and "training on the answers" in result.stderr, result.output  # all_rows there: the guard
    _drop_sheet(tmp_path / "w.xlsx", "all_rows")
    result = _predict(tmp_path, rows.name)
    assert result.exit_code == 0, result.output  # before: exit 0 and no note, the documented guard skipped silently
    assert "warning: " in result.stderr and "has no all_rows sheet" in result.stderr and "cannot check" in result.stderr
