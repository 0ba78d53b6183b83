"""A second built-in dataset is one module and one registry line: Palmer penguins (datasets/penguins.py),
chosen with ``train --dataset palmer-penguins``, flows through train, the workbook, verify, compare and predict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from titanic_lab.cli import app
from titanic_lab.config import RunConfig
from titanic_lab.datasets import penguins, registry
from titanic_lab.errors import OptionError
from titanic_lab.workbook.layout import read_model_sheets
from titanic_lab.reading import sheet_values

runner = CliRunner()


def test_penguins_is_registered_and_chosen_by_name():
    assert registry.named("palmer-penguins") is penguins.DATASET
    assert registry.named(None) is registry.default()
    assert RunConfig(dataset="palmer-penguins").preset == "lesson"  # its own first preset by default
    with pytest.raises(OptionError, match="--preset notebook: palmer-penguins's presets are lesson"):
        RunConfig(dataset="palmer-penguins", preset="notebook")
    with pytest.raises(OptionError, match="unknown built-in dataset 'puffins'; choose from titanic, palmer-penguins"):
        RunConfig(dataset="puffins")
    with pytest.raises(OptionError, match="--dataset chooses a built-in dataset"):
        RunConfig(dataset="palmer-penguins", target="sex")


def test_train_help_lists_every_built_in_dataset():
    result = runner.invoke(app, ["train", "--help"], terminal_width=200)
    assert all(name in result.stdout for name in registry.DATASETS)


def test_penguins_flow_through_train_verify_compare_and_predict(tmp_path):
    book, preds = tmp_path / "penguins.xlsx", tmp_path / "preds.csv"
    trained = runner.invoke(app, ["train", "--dataset", "palmer-penguins", "-m", "linear", "-m", "nnet", "--epochs", "300",
                                  "--out", str(book)])
    assert trained.exit_code == 0, trained.output
    assert "333 rows" in trained.stdout  # 344 penguins less 2 without a body mass and 9 more without a sex
    readme = sheet_values(book, ["README"])["README"]
    assert any(penguins.DATASET.title in str(cell) for row in readme[:3] for cell in row if cell)
    sheets = read_model_sheets(book)
    assert {s.dataset.name for s in sheets} == {"palmer-penguins"}
    assert set(sheets[0].features) == set(penguins.LESSON.feature_names)
    for command in ("verify", "compare"):
        checked = runner.invoke(app, [command, str(book)])
        assert checked.exit_code == 0, checked.output
    predicted = runner.invoke(app, ["predict", "--model", str(book), "--data", str(penguins.bundled_path()),
                                    "--out", str(preds)])
    assert predicted.exit_code == 0, predicted.output
    assert "body_mass_g predicted from" in predicted.stdout
    out = pd.read_csv(preds)
    truth = pd.read_csv(penguins.bundled_path())["body_mass_g"]
    assert list(out.columns) == ["row", "body_mass_g"] and len(out) == 344
    known = truth.notna() & out["body_mass_g"].notna()
    rmse = float(np.sqrt(((out["body_mass_g"][known] - truth[known]) ** 2).mean()))
    assert rmse < 0.5 * truth.std()  # learned something: well under the spread of the masses


def test_any_penguins_csv_with_a_target_stays_any_csv():
    from titanic_lab.datasets.infer import open_table

    _, spec = open_table(penguins.bundled_path(), "body_mass_g")
    assert spec.name == "penguins" and registry.builtin(spec) is None
