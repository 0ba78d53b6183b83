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

from test_hostile3 import _refused, _table
from titanic_lab.cli import app

runner = CliRunner()


@pytest.fixture
def tmpdir_env(tmp_path, monkeypatch):
    import tempfile

    private = tmp_path / "tmpdir"
    private.mkdir()
    monkeypatch.setenv("TMPDIR", str(private))
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    return private


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
