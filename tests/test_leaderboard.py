from __future__ import annotations

import json

from typer.testing import CliRunner

from titanic_lab.cli import app
from titanic_lab.leaderboard import ENTRIES, cross_validate, find_entries, plot_leaderboard

runner = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n"


def _small(bundled, tmp_path, n=300):
    path = tmp_path / "small.csv"
    bundled.head(n).to_csv(path, index=False)
    return path


def test_every_model_is_on_the_leaderboard():
    names = {e.name for e in ENTRIES}
    for expected in ("linear (spreadsheet)", "nnet (spreadsheet)", "sigmoid (notebook)", "hidden (notebook)", "deep (notebook)",
                     "gender rule", "LogisticRegression (notebook)", "RandomForest (notebook)", "GradientBoosting (notebook)"):
        assert expected in names


def test_same_folds_for_every_model(bundled):
    df = bundled.head(200)
    entries = find_entries(["gender rule", "LogisticRegression (notebook)"])
    scores = cross_validate(df, entries, folds=4, repeats=2, seed=1)
    assert [len(s.accuracies) for s in scores] == [8, 8]
    gender = next(s for s in scores if s.name == "gender rule")
    # The gender rule learns nothing, so its fold accuracies are a fingerprint of the folds themselves.
    again = cross_validate(df, find_entries(["gender rule"]), folds=4, repeats=2, seed=1)[0]
    assert gender.accuracies == again.accuracies
    assert scores[0].accuracy >= scores[1].accuracy  # sorted best first


def test_leaderboard_json_and_plot(bundled, tmp_path):
    data, plot = _small(bundled, tmp_path), tmp_path / "lb.png"
    models = ["gender rule", "linear (spreadsheet)", "sigmoid (notebook)", "RandomForest (notebook)"]
    args = ["leaderboard", "--data", str(data), "--folds", "3", "--repeats", "1", "--json", "--plot", str(plot)]
    for m in models:
        args += ["-m", m]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert sorted(m["name"] for m in report["models"]) == sorted(models)
    for m in report["models"]:
        assert m["folds"] == 3 and 0 <= m["accuracy"] <= 1 and m["accuracy_std"] >= 0 and m["fit_seconds"] >= 0
    accuracies = [m["accuracy"] for m in report["models"]]
    assert accuracies == sorted(accuracies, reverse=True)
    assert plot.read_bytes()[:8] == PNG


def test_plot_labels_every_model(bundled, tmp_path):
    scores = cross_validate(bundled.head(150), find_entries(["gender rule", "LogisticRegression (notebook)"]), folds=3, repeats=1)
    labels = plot_leaderboard(scores, tmp_path / "p.png")
    assert sorted(labels) == sorted(s.name for s in scores)


def test_unknown_leaderboard_model():
    result = runner.invoke(app, ["leaderboard", "-m", "xgboost"])
    assert result.exit_code == 2 and "unknown leaderboard model" in result.stderr
