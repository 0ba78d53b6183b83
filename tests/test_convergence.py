"""Training off the lesson's path: converged defaults, the learning-rate finder, threads, and
submissions that never train on their answers (issue 15)."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from conftest import KAGGLE_TRAIN
from titanic_lab.choices import LOSS_NAMES, MODEL_KINDS, OPTIMIZER_NAMES
from titanic_lab.cli import app
from titanic_lab.config import RunConfig
from titanic_lab.data import read_titanic, same_passengers
from titanic_lab.errors import OptionError
from titanic_lab.models import LOSSES, parse_model
from titanic_lab.runs import prepare
from titanic_lab.training import VALLEY_FACTOR, TrainSettings, default_settings, fit, lr_find, exact_refusal, threads_for

runner = CliRunner()

# Every dataset the project knows, with every preset; Kaggle's rows when ../shared is there.
DATASETS = [None] + ([str(KAGGLE_TRAIN)] if KAGGLE_TRAIN.exists() else [])
CASES = [(d, p, c) for d in DATASETS for p, c in (("spreadsheet", True), ("spreadsheet", False), ("notebook", None), ("extended", None))]


def _least_squares(X: torch.Tensor, y: torch.Tensor) -> float:
    # gelsd (SVD) copes with the notebook preset's collinear dummies; the default gelsy does not.
    w = torch.linalg.lstsq(X, y.unsqueeze(1), driver="gelsd").solution[:, 0]
    return ((X @ w - y) ** 2).mean().item()


@pytest.mark.parametrize("data, preset, complete", CASES)
def test_linear_default_reaches_least_squares(data, preset, complete):
    p = prepare(RunConfig(data=data, preset=preset, complete_rows=complete, valid_pct=0, models=("linear",)))
    spec = parse_model("linear")
    result = fit(spec, default_settings(spec), p.X, p.y)
    optimum = _least_squares(p.X, p.y)
    assert result.converged and result.stop_reason.startswith("converged at epoch")
    assert abs(result.train_loss - optimum) <= 1e-6 * optimum, (result.train_loss, optimum)


@pytest.mark.parametrize("data, preset, complete", CASES)
def test_newton_lands_on_least_squares(data, preset, complete):
    # The notebook preset's all-level dummies make the Hessian singular: its pseudo-inverse still lands on the optimum.
    p = prepare(RunConfig(data=data, preset=preset, complete_rows=complete, valid_pct=0, models=("linear",)))
    spec = parse_model("linear")
    result = fit(spec, default_settings(spec, "newton"), p.X, p.y)
    optimum = _least_squares(p.X, p.y)
    assert result.converged and abs(result.train_loss - optimum) <= 1e-10 * optimum, (result.train_loss, optimum)
    assert abs(result.history[0]["train_loss"] - optimum) > 1e-3 and len(result.history) < 50  # from a random start, at once


@pytest.mark.parametrize("model, options, message", [
    ("nnet", ["--activation", "tanh"], "nnet's loss is not a quadratic of its parameters"),
    ("sigmoid", [], "needs --loss bce"),  # logistic regression: newton on its log loss only
    ("hidden", ["--loss", "bce"], "hidden's loss is not a quadratic"),
    ("linear", ["--loss", "mae"], "needs --loss mse"),
    ("linear", ["--l1", "0.1"], "no --l1"),
    ("linear", ["--batch-size", "32"], "the full batch"),
    ("linear", ["--lr", "auto"], "leave --lr out"),
])
def test_newton_is_refused_where_its_curvature_changes(tmp_path, model, options, message):
    out = tmp_path / "w.xlsx"
    result = runner.invoke(app, ["train", "-m", model, "--optimizer", "newton", *options, "--out", str(out)])
    assert result.exit_code == 2 and message in result.output and "data:" not in result.output, result.output
    assert not out.exists()


def test_nnet_default_gains_nothing_from_four_times_the_epochs():
    p = prepare(RunConfig(preset="spreadsheet", valid_pct=0, models=("nnet",)))
    spec = parse_model("nnet")
    default = fit(spec, default_settings(spec), p.X, p.y)
    longer = fit(spec, replace(default_settings(spec), epochs=4 * len(default.history)), p.X, p.y)
    assert default.converged
    assert default.train_loss - longer.train_loss <= 1e-4, (default.train_loss, longer.train_loss)


def test_epochs_means_exactly_that_many():
    p = prepare(RunConfig(valid_pct=0, models=("linear",)))
    result = fit(parse_model("linear"), TrainSettings(epochs=7, lr=0.1, optimizer="adam"), p.X, p.y)
    assert len(result.history) == 7 and result.stop_reason == "ran the 7 epochs asked for" and not result.converged


def test_convergence_keeps_the_lowest_loss_epoch():
    # Adam at lr 0.1 jumps now and then near the optimum; the kept parameters are the best epoch's.
    p = prepare(RunConfig(preset="extended", valid_pct=0, models=("linear",)))
    result = fit(parse_model("linear"), default_settings(parse_model("linear")), p.X, p.y)
    assert result.train_loss <= min(h["train_loss"] for h in result.history) + 1e-15


@pytest.fixture(scope="module")
def small():
    p = prepare(RunConfig(valid_pct=0, models=("linear",), complete_rows=False, sample=200))
    return p.X, p.y


# ce is a multiclass target's loss: its combinations are tests/test_multiclass.py's.
COMBINATIONS = [(k, o, l) for k, o, l in itertools.product(MODEL_KINDS, OPTIMIZER_NAMES, LOSS_NAMES) if l != "ce"
                and (l != "bce" or parse_model(k).has_sigmoid)
                and (o not in ("newton", "lbfgs") or not exact_refusal(o, parse_model(k), l))]


@pytest.mark.parametrize("kind, optimizer, loss", COMBINATIONS)
def test_default_lr_never_diverges_nor_loses_to_the_mean(small, kind, optimizer, loss):
    X, y = small
    spec = parse_model(kind)
    settings = replace(default_settings(spec, optimizer, loss), max_epochs=3000, restarts=min(2, default_settings(spec).restarts))
    result = fit(spec, settings, X, y)
    mean_loss = LOSSES[loss](y.mean().expand_as(y), y).item()
    assert math.isfinite(result.train_loss) and result.train_loss <= mean_loss, (result.settings.lr, result.train_loss, mean_loss)
    own = default_settings(spec)
    assert (result.lr_source == "given") == (optimizer in ("newton", "lbfgs") or (optimizer == own.optimizer and loss == own.loss))


@pytest.mark.parametrize("kind", ["linear", "nnet"])
def test_bce_without_a_sigmoid_output_is_refused(kind):
    with pytest.raises(OptionError, match="--loss bce needs a model with a sigmoid output"):
        default_settings(parse_model(kind), loss="bce")


def test_lr_find_suggests_a_rate_below_divergence(small):
    X, y = small
    spec = parse_model("linear")
    found = lr_find(spec, TrainSettings(lr="auto", optimizer="sgd"), X, y)
    assert found.lrs == sorted(found.lrs) and len(found.lrs) == len(found.losses) >= 10
    assert found.lrs[0] <= found.valley <= found.minimum
    assert found.suggestion == min(max(found.valley, found.minimum / 10), VALLEY_FACTOR * found.valley)
    # The loss at the suggested rate is well below where it started, and the finder stopped at divergence.
    assert min(found.losses) < 0.5 * found.losses[0] and len(found.lrs) < 100
    # Full-batch SGD on squared error diverges above 2 / (largest eigenvalue of 2 X'X / n).
    edge = 2 / torch.linalg.eigvalsh(2 * X.T @ X / len(X)).max().item()
    assert found.suggestion < edge < found.lrs[-1] * 4


def test_the_cap_says_how_far_from_converged_and_what_to_do(small):
    X, y = small
    spec = parse_model("linear")
    result = fit(spec, replace(default_settings(spec), max_epochs=40), X, y)
    assert not result.converged
    reason = result.stop_reason
    assert reason.startswith("reached the cap of 40 epochs without converging (its lowest loss still fell by ")
    fall = float(reason.split("fell by ")[1].split()[0])
    losses = [h["train_loss"] for h in result.history]
    assert fall == pytest.approx((min(losses[:-39]) - min(losses)) / min(losses[:-39]), rel=0.05)
    assert "over the last 39 epochs, more than the rule's 1e-12" in reason and "--epochs 80" in reason


def test_lr_find_suggests_within_its_stated_factor_of_the_valley_or_says_why():
    from titanic_lab.training import LRFind

    far = LRFind([1e-4, 1e-3, 1e-2, 1], [1.0, 0.5, 0.4, 0.3], valley=0.00285, minimum=10.0)
    assert far.suggestion == pytest.approx(VALLEY_FACTOR * 0.00285)
    assert f"351x the valley 0.00285: capped at {VALLEY_FACTOR:g}x the valley" in far.why
    near = LRFind([1e-4, 1e-3], [1.0, 0.5], valley=0.01, minimum=0.5)
    assert near.suggestion == 0.05 and near.why.startswith("a tenth of the lowest loss's rate")
    assert LRFind([1e-4, 1e-3], [1.0, 0.5], valley=0.01, minimum=0.05).suggestion == 0.01


def test_lr_find_cli_writes_a_plot(tmp_path):
    plot = tmp_path / "lr.png"
    result = runner.invoke(app, ["lr-find", "-m", "linear", "--optimizer", "sgd", "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    assert "suggested lr" in result.stdout and plot.read_bytes()[:4] == b"\x89PNG"


def test_train_lr_auto_and_bad_lr(tmp_path):
    out = tmp_path / "run.json"
    ok = runner.invoke(app, ["train", "-m", "linear", "--lr", "auto", "--out", str(out), "--json"])
    assert ok.exit_code == 0, ok.output
    import json

    model = json.loads(ok.stdout)["models"]["linear"]
    assert model["lr_source"].startswith("lr-find") and model["lr"] > 0 and model["converged"]
    bad = runner.invoke(app, ["train", "-m", "linear", "--lr", "fast", "--out", str(out)])
    assert bad.exit_code == 2 and "--lr must be a positive finite number or auto, got 'fast'" in bad.stderr


def test_threads_for_small_products_is_one_and_restored():
    before = torch.get_num_threads()
    with threads_for(891, 10, parse_model("nnet"), 16):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_not_fitted_error_is_sklearns_when_sklearn_is_loaded():
    code = (
        "import sys\n"
        "from titanic_lab.preprocessing import TitanicPreprocessor, NotFittedError\n"
        "try:\n    TitanicPreprocessor().transform(None)\nexcept NotFittedError as e:\n    first = e\n"
        "assert 'sklearn' not in sys.modules, 'importing or raising loaded scikit-learn'\n"
        "import sklearn.exceptions\n"
        "try:\n    TitanicPreprocessor().get_feature_names_out()\n"
        "except sklearn.exceptions.NotFittedError as e:\n    assert isinstance(e, NotFittedError)\n"
        "else:\n    raise SystemExit('not raised')\n"
        "assert not isinstance(first, sklearn.exceptions.NotFittedError)\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def _test_rows(tmp_path: Path, rows) -> Path:
    """A test.csv of passengers taken from the bundled titanic3, without their labels."""
    path = tmp_path / "test.csv"
    rows.drop(columns=["Survived"]).assign(PassengerId=range(2000, 2000 + len(rows))).to_csv(path, index=False)
    return path


def test_submit_leaves_out_the_passengers_it_predicts(tmp_path, bundled):
    test = _test_rows(tmp_path, bundled.iloc[::10])
    out, book = tmp_path / "sub.csv", tmp_path / "sub.xlsx"
    result = runner.invoke(app, ["submit", "--test", str(test), "--model", "linear", "--out", str(out), "--folds", "2"])
    assert result.exit_code == 0, result.output
    assert f"left out {len(bundled.iloc[::10])} of {len(bundled)} training rows" in result.stderr
    from titanic_lab.predict import training_passengers

    trained_on = training_passengers(book)
    assert len(trained_on) == len(bundled) - len(bundled.iloc[::10])
    assert not same_passengers(trained_on, read_titanic(test, require_target=False)).any()
    assert "expected accuracy" in result.stdout and "folds from" in result.stdout


def test_predict_refuses_a_workbook_trained_on_its_passengers(tmp_path, bundled):
    test = _test_rows(tmp_path, bundled.iloc[:50])
    book = tmp_path / "book.xlsx"
    assert runner.invoke(app, ["train", "-m", "linear", "--epochs", "5", "--out", str(book)]).exit_code == 0
    refused = runner.invoke(app, ["predict", "--model", str(book), "--data", str(test), "--out", str(tmp_path / "p.csv")])
    assert refused.exit_code == 2 and "50 of its passengers are among the rows" in refused.stderr
    assert not (tmp_path / "p.csv").exists()
    allowed = runner.invoke(app, ["predict", "--model", str(book), "--data", str(test), "--out", str(tmp_path / "p.csv"), "--allow-overlap"])
    assert allowed.exit_code == 0, allowed.output
    clean = tmp_path / "clean.xlsx"
    assert runner.invoke(app, ["train", "-m", "linear", "--epochs", "5", "--exclude-from", str(test), "--out", str(clean)]).exit_code == 0
    assert runner.invoke(app, ["predict", "--model", str(clean), "--data", str(test), "--out", str(tmp_path / "q.csv")]).exit_code == 0


def test_bundled_titanic3_holds_every_kaggle_test_passenger(kaggle_test, bundled):
    test = read_titanic(kaggle_test, require_target=False)
    assert same_passengers(test, bundled).sum() == len(test) == 418


def test_submission_never_trains_on_kaggle_test_passengers(tmp_path, kaggle_test, bundled):
    out = tmp_path / "sub.csv"
    result = runner.invoke(app, ["submit", "--test", str(kaggle_test), "--model", "linear", "--out", str(out), "--folds", "2"])
    assert result.exit_code == 0, result.output
    assert "left out 418 of 1309 training rows" in result.stderr
    from titanic_lab.predict import training_passengers

    trained_on = training_passengers(tmp_path / "sub.xlsx")
    assert len(trained_on) == 891 and not same_passengers(trained_on, read_titanic(kaggle_test, require_target=False)).any()


def test_leaderboard_and_features_leave_out_the_passengers_to_predict(tmp_path, bundled):
    test = _test_rows(tmp_path, bundled.iloc[:40])
    board = runner.invoke(app, ["leaderboard", "--exclude-from", str(test), "-m", "gender", "--folds", "2", "--repeats", "1",
                                "--no-grouped"])
    assert board.exit_code == 0, board.output
    assert "left out 40 rows that are passengers of" in board.output
    plain = runner.invoke(app, ["leaderboard", "-m", "gender", "--folds", "2", "--repeats", "1", "--no-grouped"])
    assert "pass --exclude-from test.csv" in plain.output  # the bundled data holds Kaggle's test passengers
    train = tmp_path / "train.csv"
    bundled.to_csv(train, index=False)
    out = tmp_path / "f.csv"
    made = runner.invoke(app, ["features", "--data", str(test), "--fit-on", str(train), "--preset", "groups", "--out", str(out)])
    assert made.exit_code == 0, made.output
    assert "left out of the fit 40 rows" in made.stderr
