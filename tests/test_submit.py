from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from titanic_lab.cli import app
from titanic_lab.reading import sheet_values

runner = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n"


def test_submit_writes_the_kaggle_submission_and_workbook(kaggle_train, kaggle_test, tmp_path):
    out = tmp_path / "submission.csv"
    args = ["submit", "--data", str(kaggle_train), "--test", str(kaggle_test), "--model", "linear", "--preset", "extended",
            "--folds", "3", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    sub = pd.read_csv(out)
    assert list(sub.columns) == ["PassengerId", "Survived"] and len(sub) == 418
    assert sub["PassengerId"].tolist() == pd.read_csv(kaggle_test)["PassengerId"].tolist()
    assert set(sub["Survived"]) <= {0, 1}
    assert "expected accuracy 0." in result.stdout
    assert "linear" in sheet_values(tmp_path / "submission.xlsx")


def test_submit_chooses_among_its_own_models(bundled, tmp_path):
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    bundled.head(250).to_csv(train, index=False)
    bundled.iloc[250:300].drop(columns="Survived").assign(PassengerId=range(1, 51)).to_csv(test, index=False)
    result = runner.invoke(app, ["submit", "--data", str(train), "--test", str(test), "--preset", "notebook",
                                 "--folds", "2", "--out", str(tmp_path / "s.csv")])
    assert result.exit_code == 0, result.output
    assert "chose " in result.stdout and "(notebook)" in result.stdout
    assert len(pd.read_csv(tmp_path / "s.csv")) == 50


def test_submit_needs_passenger_ids(bundled, tmp_path):
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    bundled.head(100).to_csv(train, index=False)
    bundled.iloc[100:120].to_csv(test, index=False)  # titanic3 has no PassengerId
    result = runner.invoke(app, ["submit", "--data", str(train), "--test", str(test), "--model", "linear", "--out", str(tmp_path / "s.csv")])
    assert result.exit_code == 2 and "has no PassengerId column" in result.stderr
    assert not (tmp_path / "s.csv").exists()


def test_submit_with_the_training_file_as_test_says_so(bundled, tmp_path):
    """Every training row is then a passenger to predict and is left out; the error said 5 folds needed survivors."""
    train = tmp_path / "train.csv"
    bundled.head(100).assign(PassengerId=range(1, 101)).to_csv(train, index=False)
    result = runner.invoke(app, ["submit", "--data", str(train), "--test", str(train), "--model", "linear",
                                 "--out", str(tmp_path / "s.csv")])
    assert result.exit_code == 2, result.output
    assert "every training row of" in result.stderr and "--test names the rows to predict, not the training file" in result.stderr
    assert result.stderr.count("error:") == 1 and not (tmp_path / "s.csv").exists()


def test_train_plot(tmp_path):
    plot = tmp_path / "curves.png"
    result = runner.invoke(app, ["train", "-m", "linear", "--epochs", "20", "--plot", str(plot), "--out", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert plot.read_bytes()[:8] == PNG
