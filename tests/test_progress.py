"""Long commands are not silent when their output goes to a file or a pipe.

Under CliRunner stderr is not a terminal, as in ``titanic-lab leaderboard > scores.txt 2> log``:
the commands print ``command: progress, N s`` lines on stderr (every PROGRESS_EVERY seconds;
set to 0 here so that every step prints one).
"""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from titanic_lab import cli
from titanic_lab.cli import app

runner = CliRunner()
LINE = re.compile(r"^(\w+): (.+), (\d+) s$")


@pytest.fixture
def every_step(monkeypatch):
    monkeypatch.setattr(cli, "PROGRESS_EVERY", 0.0)


def _progress(stderr: str, command: str) -> list[str]:
    return [m.group(2) for m in map(LINE.match, stderr.splitlines()) if m and m.group(1) == command]


def test_leaderboard_reports_folds(every_step, bundled, tmp_path):
    data = tmp_path / "small.csv"
    bundled.head(120).to_csv(data, index=False)
    result = runner.invoke(app, ["leaderboard", "--data", str(data), "--folds", "2", "--repeats", "1", "-m", "gender", "-m", "logistic"])
    assert result.exit_code == 0, result.output
    assert _progress(result.stderr, "leaderboard") == [
        "1/8 folds (gender rule)", "2/8 folds (gender rule)",
        "3/8 folds (gender rule, grouped)", "4/8 folds (gender rule, grouped)",
        "5/8 folds (LogisticRegression (notebook))", "6/8 folds (LogisticRegression (notebook))",
        "7/8 folds (LogisticRegression (notebook), grouped)", "8/8 folds (LogisticRegression (notebook), grouped)",
    ]


def test_train_reports_epochs(every_step, tmp_path):
    result = runner.invoke(app, ["train", "-m", "linear", "--epochs", "3", "--out", str(tmp_path / "run.json")])
    assert result.exit_code == 0, result.output
    assert _progress(result.stderr, "train") == ["linear epoch 1/3", "linear epoch 2/3", "linear epoch 3/3"]


def test_submit_reports_folds_then_epochs(every_step, bundled, tmp_path):
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    bundled.head(200).to_csv(train, index=False)
    bundled.tail(50).drop(columns="Survived").assign(PassengerId=range(1, 51)).to_csv(test, index=False)
    args = ["submit", "--data", str(train), "--test", str(test), "--model", "linear", "--folds", "2", "--out", str(tmp_path / "s.csv")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    steps = _progress(result.stderr, "submit")
    assert steps[:2] == ["1/2 folds (linear (spreadsheet))", "2/2 folds (linear (spreadsheet))"]
    # Then every epoch until the model converges (the cap, 20000, is the total shown).
    epochs = len(steps) - 2
    assert 100 < epochs < 20000 and steps[2:] == [f"linear epoch {e}/20000" for e in range(1, epochs + 1)]

