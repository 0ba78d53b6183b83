from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from titanic_lab.cli import app
from titanic_lab.datasets import registry
from titanic_lab.errors import OptionError
from titanic_lab.leaderboard import Score, cross_validate, find_entries, leaderboard_figure, plot_leaderboard
from titanic_lab.models import parse_model
from titanic_lab.preprocessing import PRESETS

runner = CliRunner()
ENTRIES = registry.default().board  # Titanic's board, held by its dataset record
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


@pytest.mark.parametrize("names, expected", [
    (["nnet"], ["nnet (spreadsheet)", "nnet (extended)", "nnet (groups)"]),
    (["NNET (Extended)"], ["nnet (extended)"]),
    (["linear", "linear (spreadsheet)"],  # no repeats
     ["linear (spreadsheet)", "linear (extended)", "linear (groups)", "linear (groups, L2 0.01)"]),
    (["logistic", "gender"], ["LogisticRegression (notebook)", "gender rule"]),
    (["nnet:4"], ["nnet:4 (spreadsheet)"]),
    (["deep:8,4"], ["deep:8,4 (notebook)"]),
    (["nnet:4 (extended)", "sigmoid (spreadsheet)"], ["nnet:4 (extended)", "sigmoid (spreadsheet)"]),
])
def test_leaderboard_takes_model_names_as_train_does(names, expected):
    entries = find_entries(names)
    assert [e.name for e in entries] == expected
    for entry in entries:  # each one can be fitted: a real model on a real preset
        if entry.own:
            assert parse_model(entry.model).kind in entry.name
        assert entry.preset in PRESETS


@pytest.mark.parametrize("name, message", [
    ("xgboost", "unknown leaderboard model 'xgboost'"),
    ("nnet (fancy)", "unknown preset 'fancy'"),
    ("nnet:0", "nnet:0"),
])
def test_leaderboard_refuses_unknown_names(name, message):
    with pytest.raises(OptionError, match=re.escape(message)):
        find_entries([name])


def test_leaderboard_nnet_from_the_command_line(bundled, tmp_path):
    """``-m nnet`` works in leaderboard as it does in train; the table never cuts a name."""
    data = _small(bundled, tmp_path, n=120)
    args = ["leaderboard", "--data", str(data), "--folds", "2", "--repeats", "1", "-m", "nnet:1", "-m", "logistic"]
    result = runner.invoke(app, args, terminal_width=60)
    assert result.exit_code == 0, result.output
    for name in ("nnet:1 (spreadsheet)", "LogisticRegression (notebook)"):
        assert name in result.stdout


def test_plot_labels_do_not_overlap():
    """Every entry's name on its own row of the y axis, no two labels' boxes intersecting."""
    import matplotlib.pyplot as plt

    scores = [Score(e.name, e.own, [0.7 + 0.01 * i, 0.72], [0.2, 0.2], [0.01 * (i + 1)] * 2) for i, e in enumerate(ENTRIES)]
    fig = leaderboard_figure(scores)
    fig.canvas.draw()
    labels = fig.axes[0].get_yticklabels()
    assert sorted(t.get_text() for t in labels) == sorted(e.name for e in ENTRIES)
    boxes = [t.get_window_extent() for t in labels]
    overlapping = [(labels[i].get_text(), labels[j].get_text())
                   for i in range(len(boxes)) for j in range(i + 1, len(boxes)) if boxes[i].overlaps(boxes[j])]
    plt.close(fig)
    assert overlapping == []
