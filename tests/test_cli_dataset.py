"""``--dataset NAME`` on every command that reads a training CSV: train, lr-find, features, leaderboard, submit."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from titanic_lab.cli import app
from titanic_lab.datasets import penguins, registry

runner = CliRunner()


def test_features_of_penguins(tmp_path):
    out = tmp_path / "features.csv"
    result = runner.invoke(app, ["features", "--dataset", "palmer-penguins", "--out", str(out)])
    assert result.exit_code == 0, result.output
    names = [f.output_name for f in penguins.LESSON.features if f.kind != "dummies"]
    written = pd.read_csv(out)
    raw = pd.read_csv(penguins.bundled_path())
    assert len(written) == len(raw)  # every row: the target may be blank
    assert list(written.columns[:4]) == ["body_mass_g", "Bill_N", "Depth_N", "Flipper_N"]
    assert all(name in written.columns for name in names)
    assert written["Bill_N"].max() == 1.0  # divided by its max
    assert f"wrote {out}: {len(raw)} rows x {written.shape[1] - 1} features (Bill_N, " in result.stdout
    assert "(Palmer penguins)" in result.stderr


def test_features_of_penguins_complete_rows(tmp_path):
    out = tmp_path / "features.csv"
    result = runner.invoke(app, ["features", "--dataset", "palmer-penguins", "--complete-rows", "--out", str(out)])
    assert result.exit_code == 0, result.output
    complete = pd.read_csv(penguins.bundled_path()).dropna(subset=list(penguins.LESSON.complete_rows))
    assert len(pd.read_csv(out)) == len(complete) < 344


def test_features_dataset_titanic_is_the_default(tmp_path):
    named, default = tmp_path / "named.csv", tmp_path / "default.csv"
    assert runner.invoke(app, ["features", "--dataset", "titanic", "--out", str(named)]).exit_code == 0
    assert runner.invoke(app, ["features", "--out", str(default)]).exit_code == 0
    assert named.read_bytes() == default.read_bytes()


def test_leaderboard_of_penguins(tmp_path):
    result = runner.invoke(app, ["leaderboard", "--dataset", "palmer-penguins", "--folds", "2", "--repeats", "1",
                                 "-m", "linear", "-m", "mean", "--json"])
    assert result.exit_code == 0, result.output
    board = json.loads(result.stdout)
    assert (board["target"], board["task"], board["folds"]) == ("body_mass_g", "regression", 2)
    scores = {m["name"]: m for m in board["models"]}
    assert set(scores) == {"linear", "mean"}
    assert scores["linear"]["rmse"] < scores["mean"]["rmse"]  # the features say something about the mass
    assert "(Palmer penguins)" in result.stderr


def test_leaderboard_of_penguins_has_no_groups():
    result = runner.invoke(app, ["leaderboard", "--dataset", "palmer-penguins", "--grouped"])
    assert result.exit_code == 2
    assert result.stderr.strip() == ("error: --grouped/--no-grouped: palmer-penguins has no groups of rows to keep on one "
                                     "side of a split (leave the option out)")


def test_submit_refuses_a_dataset_without_a_submission(tmp_path):
    result = runner.invoke(app, ["submit", "--dataset", "palmer-penguins", "--test", str(tmp_path / "test.csv"),
                                 "--out", str(tmp_path / "sub.csv")])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: --dataset palmer-penguins: submit writes")
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_lr_find_on_penguins():
    result = runner.invoke(app, ["lr-find", "--dataset", "palmer-penguins"])
    assert result.exit_code == 0, result.output
    assert "data: " in result.stdout and "(Palmer penguins)" in result.stdout
    assert "suggested lr" in result.stdout


@pytest.mark.parametrize("command", [["features"], ["leaderboard"], ["lr-find"], ["train"],
                                     ["submit", "--test", "test.csv"]])
def test_unknown_dataset_is_one_line(command, tmp_path):
    result = runner.invoke(app, [*command, "--dataset", "nope"])
    assert result.exit_code == 2
    assert result.stderr == f"error: --dataset: unknown built-in dataset 'nope'; choose from {', '.join(registry.DATASETS)}\n"


@pytest.mark.parametrize("extra, codes, hinted", [
    ([], [0, 1, 2], True),  # a few whole numbers: classes, perhaps
    (["--task", "multiclass"], [0, 1, 2], False),  # asked for: classes, no hint
    ([], [0.5, 1.5, 2.5], False),  # not whole numbers
])
def test_a_target_of_a_few_whole_numbers_gets_a_hint(tmp_path, extra, codes, hinted):
    """R's pbc codes a patient's status 0/1/2: inferred as a regression, its accuracy as classes was 0."""
    rng = np.random.default_rng(0)
    data = tmp_path / "t.csv"
    pd.DataFrame({"x": rng.normal(size=60), "status": np.resize(codes, 60)}).to_csv(data, index=False)
    result = runner.invoke(app, ["train", "--data", str(data), "--target", "status", "-m", "linear", "--epochs", "2",
                                 "--out", str(tmp_path / "w.xlsx"), *extra])
    assert result.exit_code == 0, result.output
    hint = "  hint: status holds 3 whole numbers (0, 1, 2), learned as a regression; if they name classes, pass --task multiclass"
    assert (hint in result.stdout.splitlines()) == hinted, result.stdout
