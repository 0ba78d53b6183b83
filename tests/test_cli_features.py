from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from titanic_lab.cli import app

runner = CliRunner()


def test_features_spreadsheet_complete_rows(tmp_path):
    out = tmp_path / "features.csv"
    result = runner.invoke(app, ["features", "--preset", "spreadsheet", "--complete-rows", "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert table.shape == (1044, 11)  # Survived + 10 features; titanic3 has no PassengerId
    assert list(table.columns)[:2] == ["Survived", "SibSp"]


def test_features_of_the_test_set_use_train_statistics(kaggle_train, kaggle_test, tmp_path):
    out = tmp_path / "test_features.csv"
    args = ["features", "--data", str(kaggle_test), "--fit-on", str(kaggle_train), "--preset", "notebook", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert table.shape == (418, 13) and table.columns[0] == "PassengerId"
    assert not table.isna().any().any()
    assert table["Age_N"].max() < 1  # divided by the training maximum (80), not the test set's (76)


def test_features_missing_file(tmp_path):
    result = runner.invoke(app, ["features", "--data", str(tmp_path / "none.csv"), "--out", str(tmp_path / "f.csv")])
    assert result.exit_code == 2
    assert "none.csv: no such file" in result.stderr
    assert not (tmp_path / "f.csv").exists()
