"""Hostile and careless input, fourth round (session 20's sweep of 500 cases): links, devices, option typos,
numpy values in run.json, the notebook API's types and dates written as numbers.

Each refusal is checked as in tests/test_hostile3.py (:func:`test_hostile3._refused`): exit 2, one line on
stderr naming the thing, no traceback, nothing left beside the inputs or in TMPDIR, every input unchanged.
"""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from test_hostile3 import _refused, _table, tmpdir_env  # noqa: F401  (tmpdir_env: a fixture)
from titanic_lab.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def dated(tmp_path_factory):
    """data.csv with a date column and a True/False column, rows.csv to predict, and w.xlsx trained on them."""
    folder = tmp_path_factory.mktemp("h4")
    df = _table()
    df["sold"] = pd.date_range("2020-01-01", periods=len(df), freq="5D").strftime("%Y-%m-%d")
    df["new"] = np.arange(len(df)) % 3 == 0
    df.to_csv(folder / "data.csv", index=False)
    df.drop(columns=["y"]).to_csv(folder / "rows.csv", index=False)
    result = runner.invoke(app, ["train", "--data", str(folder / "data.csv"), "--target", "y", "-m", "linear",
                                 "--out", str(folder / "w.xlsx")])
    assert result.exit_code == 0, result.output
    return folder


def _work(dated, tmp_path):
    tmp_path.mkdir()
    for name in ("rows.csv", "w.xlsx", "data.csv"):
        (tmp_path / name).write_bytes((dated / name).read_bytes())
    return tmp_path


def test_a_loop_of_symbolic_links_as_an_input_is_refused_in_one_line(dated, tmp_path, tmpdir_env):
    work = _work(dated, tmp_path / "w")
    (work / "a.xlsx").symlink_to(work / "b.xlsx")
    (work / "b.xlsx").symlink_to(work / "a.xlsx")
    _refused(work, tmpdir_env, ["predict", "--model", str(work / "a.xlsx"), "--data", str(work / "rows.csv"),
                                "--out", str(work / "p.csv")], "a.xlsx", "loop of symbolic links")
    _refused(work, tmpdir_env, ["train", "--data", str(work / "a.xlsx"), "--target", "y", "--out", str(work / "x.xlsx")],
             "loop of symbolic links")


def test_an_output_that_is_a_pipe_or_device_is_refused_and_left_as_it_is(dated, tmp_path, tmpdir_env):
    work = _work(dated, tmp_path / "w")
    os.mkfifo(work / "fifo")
    for args in (["predict", "--model", str(work / "w.xlsx"), "--data", str(work / "rows.csv"), "--out", str(work / "fifo")],
                 ["features", "--data", str(work / "data.csv"), "--target", "y", "--out", str(work / "fifo")]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.output
        assert "not a regular file" in result.stderr and "fifo" in result.stderr
        assert stat.S_ISFIFO(os.stat(work / "fifo").st_mode)  # before, a renamed file replaced it (/dev/null, as root)
    assert not [p for p in work.iterdir() if p.name.startswith(".")] and list(tmpdir_env.iterdir()) == []


@pytest.mark.parametrize("args, needle", [
    (["train", "--seed", "1.5"], "--seed"),
    (["train", "--epochs", "ten"], "--epochs"),
    (["predict", "--sheets", "linear"], "--sheets"),
    (["leaderboard", "--folds", "2.5"], "--folds"),
    (["bogus"], "bogus"),
])
def test_an_option_typo_or_a_value_of_the_wrong_type_is_one_line(args, needle):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr  # click wrote four
    assert needle in result.stderr and "--help" in result.stderr and "Usage:" not in result.output


def test_run_json_of_a_table_with_a_true_false_column(dated, tmp_path):
    out = tmp_path / "run.json"
    result = runner.invoke(app, ["train", "--data", str(dated / "data.csv"), "--target", "y", "-m", "linear", "--out", str(out)])
    assert result.exit_code == 0, result.output  # numpy's int64 levels of the True/False column failed json.dumps
    run = json.loads(out.read_text(encoding="utf-8"))
    assert sorted(run["preprocessing"]["levels"]["new_1"]) == [0, 1], run["preprocessing"]["levels"]


def test_the_notebook_api_says_what_type_it_takes(dated):
    from titanic_lab import parse_model, predict_from_workbook

    with pytest.raises(TypeError, match="to_csv"):
        predict_from_workbook(dated / "w.xlsx", pd.read_csv(dated / "rows.csv"))
    with pytest.raises(TypeError, match="nnet:3"):
        parse_model(None)


def test_a_date_written_as_a_number_past_9999_is_refused(dated, tmp_path, tmpdir_env):
    work = _work(dated, tmp_path / "w")
    rows = pd.read_csv(work / "rows.csv")
    rows["sold"] = rows["sold"].str.replace("-", "").astype(int)  # 20200101: before, read as a day number in year 57,000
    rows.to_csv(work / "rows.csv", index=False)
    _refused(work, tmpdir_env, ["predict", "--model", str(work / "w.xlsx"), "--data", str(work / "rows.csv"),
                                "--out", str(work / "p.csv")], "rows.csv", "column sold", "20200101", "9999-12-31")


def test_true_false_where_a_number_feature_reads_numbers_is_refused(dated, tmp_path, tmpdir_env):
    work = _work(dated, tmp_path / "w")
    rows = pd.read_csv(work / "rows.csv")
    rows["b"] = rows["b"] > 5  # a number step's column written True/False: pandas' 1/0 changed every prediction
    rows.to_csv(work / "rows.csv", index=False)
    _refused(work, tmpdir_env, ["predict", "--model", str(work / "w.xlsx"), "--data", str(work / "rows.csv"),
                                "--out", str(work / "p.csv")], "rows.csv", "column b", "True/False", "line 2")


def test_a_blank_answer_column_in_titanic_rows_to_predict_counts_as_absent(tmp_path):
    from conftest import KAGGLE_HEADER, KAGGLE_ROWS, write_csv

    result = runner.invoke(app, ["train", "-m", "linear", "--epochs", "3", "--out", str(tmp_path / "w.xlsx")])
    assert result.exit_code == 0, result.output
    rows = write_csv(tmp_path, KAGGLE_HEADER + KAGGLE_ROWS, "rows.csv")
    pd.read_csv(rows).assign(Survived=np.nan).to_csv(rows, index=False)  # a submission template's empty column
    result = runner.invoke(app, ["predict", "--model", str(tmp_path / "w.xlsx"), "--data", str(rows), "--allow-overlap",
                                 "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 0, result.output  # before: "column Survived must be 0 or 1, found blank on line 2"
    assert list(pd.read_csv(tmp_path / "p.csv")["PassengerId"]) == list(pd.read_csv(rows)["PassengerId"])


def test_columns_of_python_objects_or_complex_numbers_are_left_out_with_the_reason():
    from titanic_lab.preprocessing import TabularPreprocessor

    df = pd.DataFrame({"a": np.arange(8.0) % 5, "y": np.arange(8.0)})
    for column, values, reason in (("l", [[1, 2]] * 8, "Python lists"), ("d", [{"k": 1}] * 8, "Python dicts"),
                                   ("z", np.arange(8) + 1j, "complex numbers")):
        pre = TabularPreprocessor(target="y")
        assert list(pre.fit_transform(df.assign(**{column: values})).columns) == ["a_N", "Ones"]
        assert reason in pre.left_out_[column]


def test_an_old_xls_workbook_as_data_is_named(tmp_path, tmpdir_env):
    xls = tmp_path / "h.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4000))  # an OLE2 compound file's first bytes
    _refused(tmp_path, tmpdir_env, ["train", "--data", str(xls), "--target", "y", "--out", str(tmp_path / "w.xlsx")],
             "h.xls", "old Excel .xls workbook", "save it as CSV")


def test_compare_checks_a_max_cell_whose_cached_value_is_stale(dated, tmp_path):
    import re
    import zipfile

    from titanic_lab.reading import sheet_heads

    work = _work(dated, tmp_path / "w")
    result = runner.invoke(app, ["compare", str(work / "w.xlsx")])
    assert result.exit_code == 0, result.output
    assert "b_N divisor" in result.output
    # H1-style Max: cell of b_N keeps its formula, its cached value halved, as a program that does not recalculate leaves it
    with zipfile.ZipFile(work / "w.xlsx") as zf:
        members = {m: zf.read(m) for m in zf.namelist()}
    sheet, match = next((m, found) for m in sorted(members) if m.startswith("xl/worksheets/sheet")
                        for found in [re.search(r'<c r="([A-Z]+1)"[^>]*><f>MAX\([^<]*\)</f><v>([^<]+)</v>',
                                                members[m].decode("utf-8"))] if found)
    text = members[sheet].decode("utf-8")
    text = text.replace(match.group(0), match.group(0).replace(f"<v>{match.group(2)}</v>", f"<v>{float(match.group(2)) / 2!r}</v>"))
    members[sheet] = text.encode("utf-8")
    with zipfile.ZipFile(work / "w.xlsx", "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    result = runner.invoke(app, ["compare", str(work / "w.xlsx")])
    assert result.exit_code == 1, result.output  # before: every sheet agreed, and predict scaled by the stale value
    assert "divisor" in result.output and "DIFFERS" in result.output and match.group(1) in result.output


def test_the_bare_command_still_prints_its_help():
    result = runner.invoke(app, [])  # click 8.2 raises its help as a usage error, which stays several lines
    assert "Usage:" in result.output and "Commands" in result.output and not result.output.startswith("error:")


def test_a_column_of_tuples_holding_lists_is_left_out_with_the_reason():
    from titanic_lab.preprocessing import TabularPreprocessor

    pre = TabularPreprocessor(target="y")
    pre.fit_transform(pd.DataFrame({"a": np.arange(8.0) % 5, "y": np.arange(8.0), "t": [(i, [i]) for i in range(8)]}))
    assert "Python tuples" in pre.left_out_["t"]  # a Hashable that cannot be hashed: StopIteration before
