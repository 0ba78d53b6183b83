from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from conftest import KAGGLE_HEADER, KAGGLE_ROWS, write_csv
from titanic_lab.cli import app
from titanic_lab.config import RunConfig
from titanic_lab.runs import train_run
from titanic_lab.workbook import write_workbook

runner = CliRunner()


def test_predict_with_the_lessons_workbook(lesson_workbook, kaggle_test, tmp_path):
    out = tmp_path / "submission.csv"
    result = runner.invoke(app, ["predict", "--model", str(lesson_workbook), "--data", str(kaggle_test), "--out", str(out)])
    assert result.exit_code == 0, result.output
    sub = pd.read_csv(out)
    test = pd.read_csv(kaggle_test)
    assert list(sub.columns) == ["PassengerId", "Survived"]
    assert len(sub) == 418 and sub["PassengerId"].tolist() == test["PassengerId"].tolist()
    assert set(sub["Survived"].unique()) <= {0, 1} and sub["Survived"].dtype.kind == "i"
    assert "sheet 'mmult'" in result.stdout  # the lowest total loss of the three


def test_predict_uses_the_chosen_sheet_of_our_workbook(tmp_path, kaggle_train):
    run = train_run(RunConfig(data=str(kaggle_train), models=("linear",), epochs=200, valid_pct=0))
    book = write_workbook(run, tmp_path / "ours.xlsx")
    out = tmp_path / "sub.csv"
    # Predicting the rows it trained on is refused unless asked for (tests/test_convergence.py).
    result = runner.invoke(app, ["predict", "--model", str(book), "--data", str(kaggle_train), "--sheet", "linear", "--out", str(out),
                                 "--allow-overlap"])
    assert result.exit_code == 0, result.output
    sub = pd.read_csv(out)
    # Predicting the training rows again reproduces the run's accuracy on them (all 891 rows here).
    assert len(sub) == 891
    assert (sub["Survived"] == pd.read_csv(kaggle_train)["Survived"]).mean() > 0.75


def test_input_without_passenger_id_writes_nothing(tmp_path):
    run = train_run(RunConfig(models=("linear",), epochs=5, valid_pct=0))
    book = write_workbook(run, tmp_path / "b.xlsx")
    data = write_csv(tmp_path, (KAGGLE_HEADER + KAGGLE_ROWS).replace("PassengerId,", "").replace("\n1,", "\n").replace("\n2,", "\n").replace("\n3,", "\n").replace("\n4,", "\n"))
    out = tmp_path / "sub.csv"
    result = runner.invoke(app, ["predict", "--model", str(book), "--data", str(data), "--out", str(out)])
    assert result.exit_code == 2
    assert "has no PassengerId column" in result.stderr
    assert not out.exists()


def test_init_from_the_lessons_solver_weights(lesson_workbook, kaggle_train, tmp_path):
    args = ["train", "--init-from", str(lesson_workbook), "--data", str(kaggle_train), "--preset", "spreadsheet",
            "--model", "linear", "--valid-pct", "0", "--epochs", "0", "--json", "--out", str(tmp_path / "i.xlsx")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    loss = json.loads(result.stdout)["models"]["linear"]["train_loss"]
    assert abs(loss - 0.14422714930851466) < 1e-12


def test_init_from_then_train_improves_the_nnet(lesson_workbook, kaggle_train, tmp_path):
    args = ["train", "--init-from", str(lesson_workbook), "--data", str(kaggle_train), "-m", "nnet",
            "--valid-pct", "0", "--epochs", "300", "--json", "--out", str(tmp_path / "n.json")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["models"]["nnet"]["train_loss"] < 0.14315209641714463


def test_init_from_a_workbook_with_other_features(lesson_workbook, tmp_path):
    args = ["train", "--init-from", str(lesson_workbook), "--preset", "notebook", "-m", "linear", "--out", str(tmp_path / "x.json")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "use the same --preset" in result.stderr
