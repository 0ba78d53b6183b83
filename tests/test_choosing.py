"""Choosing by one metric, then refitting: every sheet records the same validation metrics, predict
and train choose by the task's metric and say why, and the chosen model is refit on every row."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from titanic_lab.choosing import PAIRED_SE, choose, paired_standard_errors, row_losses, validation_metrics
from titanic_lab.cli import app
from titanic_lab.config import RunConfig
from titanic_lab.workbook.layout import read_model_sheets
from titanic_lab.models import forward
from titanic_lab.ops import LOSSES
from titanic_lab.predict import choose_sheet, predict_from_workbook
from titanic_lab.runs import train_run
from titanic_lab.workbook import write_workbook

PENGUINS = Path(__file__).resolve().parents[1] / "titanic_lab" / "datasets" / "penguins.csv"
runner = CliRunner()


def test_validation_metrics_are_the_same_whatever_the_loss():
    y = np.array([0.0, 1.0, 1.0, 0.0])
    linear = np.array([-0.2, 0.7, 1.3, 0.4])  # a squared-error model's outputs leave (0, 1): clipped for the log loss
    got = validation_metrics("binary", linear, y)
    assert got["accuracy"] == 1.0
    p = np.clip(linear, 1e-6, 1 - 1e-6)
    assert got["log_loss"] == pytest.approx(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)), rel=1e-12)
    assert validation_metrics("regression", np.array([1.0, 2.0]), np.array([1.5, 2.0]), divisor=10.0) == {
        "rmse": pytest.approx(np.sqrt(np.mean([25.0, 0.0])))}


def test_choose_by_accuracy_not_by_losses_of_different_kinds():
    # The case: linear's validation MSE 0.078 looked lower than sigmoid's log loss 0.265.
    scored = {"linear": {"accuracy": 0.8889, "log_loss": 0.41}, "sigmoid": {"accuracy": 0.9036, "log_loss": 0.265}}
    name, why = choose("binary", scored)
    assert name == "sigmoid"
    assert why == "highest validation accuracy (linear 0.8889, sigmoid 0.9036)"
    tied = {"a": {"accuracy": 0.9, "log_loss": 0.3}, "b": {"accuracy": 0.9, "log_loss": 0.2}}
    name, why = choose("binary", tied)
    assert name == "b" and "tied with a, so the lowest validation log loss (0.2)" in why
    assert choose("regression", {"linear": {"rmse": 3.0}, "nnet": {"rmse": 2.5}})[0] == "nnet"


@pytest.fixture(scope="module")
def penguin_run(tmp_path_factory):
    """Any table (--target): linear and sigmoid, chosen on one validation split (tests/test_choose_folds.py: by folds),
    refit by default."""
    folder = tmp_path_factory.mktemp("choosing")
    data = pd.read_csv(PENGUINS).dropna(subset=["sex"]).sample(frac=1, random_state=0)
    train = folder / "train.csv"
    data.iloc[:260].to_csv(train, index=False)
    data.iloc[260:].drop(columns="sex").to_csv(folder / "test.csv", index=False)
    run = train_run(RunConfig(data=str(train), target="sex", models=("linear", "sigmoid"), choose_folds=1))  # one split
    return run, write_workbook(run, folder / "p.xlsx"), folder


def test_every_sheet_records_the_metrics_and_predict_chooses_by_them(penguin_run):
    run, book, folder = penguin_run
    sheets = {s.name: s for s in read_model_sheets(book)}
    for name, result in run.results.items():
        assert set(sheets[name].validation) == {"accuracy", "log_loss", PAIRED_SE}
        assert sheets[name].validation == pytest.approx(result.validation, rel=1e-12)
    chosen, why = choose_sheet(book)
    assert chosen == run.chosen and why == run.chosen_why  # predict re-chooses from the sheets' cells, as train chose
    assert why.startswith("one-standard-error rule on validation accuracy")
    # The rule, from the validation rows themselves: linear unless sigmoid's error rate is lower by more than one SE.
    valid = run.valid_idx.numpy()
    y = run.y.to(torch.float64).numpy()[valid]
    with torch.no_grad():
        losses = {n: row_losses("binary", forward(r.spec, {k: v.to(torch.float64) for k, v in r.params.items()},
                                                  run.X[valid].to(torch.float64)).numpy(), y)
                  for n, r in run.results.items() if not r.refit}
    if "linear" in losses and "sigmoid" in losses:
        diff = losses["linear"] - losses["sigmoid"]
        expected = "sigmoid" if diff.mean() > diff.std(ddof=1) / np.sqrt(len(diff)) else "linear"
        assert run.chosen == expected


def test_the_chosen_model_is_refit_on_every_row(penguin_run):
    run, book, _ = penguin_run
    assert run.config.refits  # any table: on by default
    refit = run.results[run.chosen]
    others = [r for n, r in run.results.items() if n != run.chosen]
    assert refit.refit and not any(r.refit for r in others)
    # Its training loss is measured on every row, and is the minimum there: a fit on fewer rows ends higher.
    X, y = run.X.to(torch.float64), run.y.to(torch.float64)
    with torch.no_grad():
        every_row = LOSSES[refit.settings.loss](forward(refit.spec, refit.params, X), y).item()
    assert refit.train_loss == pytest.approx(every_row, rel=1e-9)
    assert refit.valid_loss is None  # no row was held out of it
    scores = run.scores(run.chosen)
    assert scores["valid_accuracy"] == pytest.approx(refit.validation["accuracy"], abs=1e-12)  # the estimate from before


def test_the_workbook_states_the_estimate_and_that_every_row_was_seen(penguin_run):
    run, book, _ = penguin_run
    sheet = next(s for s in read_model_sheets(book) if s.name == run.chosen)
    head = sheet.values[:2]
    flat = [v for row in head for v in row]
    assert "Fitted on:" in flat and "Valid" not in sheet.columns  # no validation column: every row trained it
    fitted = flat[flat.index("Fitted on:") + 1]
    assert fitted.startswith(f"every row ({len(run.frame)}), refit after choosing on {len(run.valid_idx)} validation rows")
    other = next(s for s in read_model_sheets(book) if s.name != run.chosen)
    flat = [v for row in other.values[:2] for v in row]
    assert flat[flat.index("Fitted on:") + 1] == f"the {len(run.train_idx)} training rows"


def test_predict_reads_only_the_chosen_sheet_and_predicts_as_the_full_reader(penguin_run):
    run, book, folder = penguin_run
    predictions, used = predict_from_workbook(book, folder / "test.csv")
    assert used.name == run.chosen and used.chosen_why == run.chosen_why
    full = next(s for s in read_model_sheets(book) if s.name == run.chosen)  # formulas parsed, every sheet
    for key, value in full.params.items():
        assert np.array_equal(used.params[key], value)
    result = runner.invoke(app, ["predict", "--model", str(book), "--data", str(folder / "test.csv"),
                                 "--out", str(folder / "pred.csv")])
    assert result.exit_code == 0, result.output
    assert f"chosen: {run.chosen_why}" in result.stdout.replace("\n", "")
    assert pd.read_csv(folder / "pred.csv")["sex"].tolist() == predictions["sex"].tolist()


def test_titanic_lesson_runs_keep_their_80_20_layout(tmp_path):
    run = train_run(RunConfig(models=("linear",), epochs=20))
    assert not run.config.refits and run.chosen == "linear"
    assert not run.results["linear"].refit and len(run.valid_idx) > 0
    assert train_run(RunConfig(models=("linear",), epochs=20, valid_pct=0)).chosen is None


def test_the_penalty_matches_ridgecv_leave_one_out():
    from sklearn.linear_model import RidgeCV

    from titanic_lab.leave_one_out import ALPHAS, loo_errors
    from titanic_lab.penalty import choose_l2

    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=(60, 8)), np.ones(60)])
    X[:, 7] = X[:, 6] + 1e-3 * rng.normal(size=60)  # nearly collinear: a penalty helps
    y = X[:, :3] @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=60)
    ours = loo_errors(X, y)
    ref = RidgeCV(alphas=ALPHAS[1:], fit_intercept=False, store_cv_results=True).fit(X, y)
    for j, alpha in enumerate(ALPHAS[1:]):
        assert ours[alpha] == pytest.approx(ref.cv_results_[:, j].mean(), rel=1e-8)
    choice = choose_l2(torch.tensor(X), torch.tensor(y))
    if choice.alpha:
        assert choice.alpha == ref.alpha_
    assert choice.l2 == pytest.approx(2 * choice.alpha / 60)


def test_linear_on_any_table_takes_the_penalty_the_data_chose(penguin_run):
    from titanic_lab.penalty import choose_l2, choose_logistic_l2

    run, _, _ = penguin_run
    linear = run.results["linear"]
    expected = choose_l2(run.X[run.train_idx], run.y[run.train_idx])
    assert linear.settings.l2 == pytest.approx(expected.l2, rel=1e-12) and linear.penalty == expected.describe()
    sigmoid = run.results["sigmoid"]  # logistic regression: its penalty by 5-fold cross-validation
    chosen = choose_logistic_l2(run.X[run.train_idx], run.y[run.train_idx], 2)
    assert sigmoid.settings.l2 == chosen.l2 and sigmoid.penalty == chosen.describe() and "5-fold" in sigmoid.penalty


def test_refit_is_asked_or_defaults_by_table():
    assert RunConfig(target="sex").refits and not RunConfig().refits  # any table / Titanic's lesson runs
    assert not RunConfig(target="sex", refit=False).refits and RunConfig(refit=True).refits
    assert not RunConfig(target="sex", valid_pct=0).refits  # nothing to choose on


def test_linear_lands_on_the_ridge_solution_of_the_chosen_penalty(penguin_run):
    run, _, _ = penguin_run
    linear = run.results["linear"]  # refit on every row, or fitted on the training rows
    idx = torch.arange(len(run.X)) if linear.refit else run.train_idx
    X, y = run.X[idx].to(torch.float64), run.y[idx].to(torch.float64)
    n, l2 = len(y), linear.settings.l2
    ridge = torch.linalg.solve(X.T @ X + n * l2 / 2 * torch.eye(X.shape[1], dtype=torch.float64), X.T @ y)
    assert torch.allclose(linear.params["w"].to(torch.float64), ridge, rtol=1e-6, atol=1e-9)


def test_multiclass_outputs_are_scored_by_their_likeliest_class():
    outputs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1]])
    got = validation_metrics("multiclass", outputs, np.array([0.0, 2.0, 1.0]))
    assert got["accuracy"] == pytest.approx(2 / 3)
    assert got["log_loss"] == pytest.approx(-np.mean(np.log([0.7, 0.6, 0.4])), rel=1e-12)


def test_a_multiclass_table_chooses_by_accuracy_and_refits(tmp_path):
    rng = np.random.default_rng(1)
    a = rng.normal(size=240)
    frame = pd.DataFrame({"a": a, "b": rng.normal(size=240), "cls": np.where(a > 0.5, "hi", np.where(a < -0.5, "lo", "mid"))})
    frame.to_csv(tmp_path / "mc.csv", index=False)
    run = train_run(RunConfig(data=str(tmp_path / "mc.csv"), target="cls", models=("linear", "hidden:4")))
    assert set(run.results["linear"].validation) == {"accuracy", "log_loss", PAIRED_SE}  # a class target: one split
    assert "cross-validated log loss" in run.results["linear"].penalty  # multinomial logistic regression's, by k-fold
    assert run.chosen_why.startswith("one-standard-error rule on validation accuracy") and run.results[run.chosen].refit
    book = write_workbook(run, tmp_path / "mc.xlsx")
    assert choose_sheet(book)[1] == run.chosen_why.replace("hidden:4", "hidden-4")


def _scored(task: str, outputs: dict[str, np.ndarray], y: np.ndarray) -> dict[str, dict[str, float]]:
    """Each model's validation metrics and paired standard error, as train records them."""
    se = paired_standard_errors(task, {n: row_losses(task, o, y) for n, o in outputs.items()})
    return {n: {**validation_metrics(task, o, y), PAIRED_SE: se[n]} for n, o in outputs.items()}


def test_the_one_standard_error_rule_keeps_the_simpler_model_unless_the_gain_beats_the_noise():
    y = np.zeros(100)
    right = np.full(100, 0.2)  # every row right
    # nnet right on 2 more rows than linear: a gain of 0.02 with a paired standard error of 0.0141
    linear = right.copy()
    linear[:2] = 0.8
    scored = _scored("binary", {"linear": linear, "nnet": right}, y)
    assert scored["nnet"][PAIRED_SE] == 0.0 and scored["linear"][PAIRED_SE] == pytest.approx(np.sqrt(0.02 * 0.98 / 99 * 100 / 100))
    name, why = choose("binary", scored)
    assert name == "nnet" and why.startswith("one-standard-error rule on validation accuracy (linear 0.98, nnet 1)")
    assert "nnet is the best and beats each simpler model's error rate by more than one paired standard error" in why
    # nnet right on 2 rows where linear is wrong, wrong on 1 where linear is right: 0.01 < one SE (0.0174)
    nnet = right.copy()
    nnet[2] = 0.8
    name, why = choose("binary", _scored("binary", {"linear": linear, "nnet": nnet}, y))
    assert name == "linear" and "linear is within one paired standard error (0.0174) of the best, nnet" in why
    # a tie (the same rows right): the simpler, whatever the log loss says
    confident = np.full(100, 0.01)
    assert choose("binary", _scored("binary", {"linear": right, "nnet": confident}, y))[0] == "linear"
    assert choose("binary", {"linear": {"accuracy": 1.0, "log_loss": 0.2}, "nnet": {"accuracy": 1.0, "log_loss": 0.01}})[0] \
        == "nnet"  # without standard errors (Titanic's lesson runs), the tie is broken by the log loss as before


def test_the_one_standard_error_rule_on_squared_errors():
    rng = np.random.default_rng(0)
    y = rng.normal(size=400)
    simple = y + rng.normal(scale=1.0, size=400)
    noisy = y + 0.999 * (simple - y)[::-1]  # the same errors on other rows, a hair smaller: a gain far inside the noise
    assert choose("regression", _scored("regression", {"linear": simple, "nnet": noisy}, y))[0] == "linear"
    better = y + rng.normal(scale=0.5, size=400)  # far better: chosen
    name, why = choose("regression", _scored("regression", {"linear": simple, "nnet": better}, y))
    assert name == "nnet" and "mean squared error by more than one paired standard error (linear " in why
    # three models, simplest first: the simplest within one SE of the best is chosen, not the best
    scored = {"linear": {"rmse": 2.0, PAIRED_SE: 0.1}, "sigmoid": {"rmse": 1.9, PAIRED_SE: 0.5}, "nnet": {"rmse": 1.8, PAIRED_SE: 0.0}}
    assert choose("regression", scored)[0] == "sigmoid"  # 3.61 - 3.24 = 0.37 <= 0.5; linear's 0.76 > 0.1


def test_the_one_standard_error_rule_passes_over_losses_that_are_not_numbers():
    overflowed = {"linear": {"rmse": float("inf"), PAIRED_SE: float("nan")}, "nnet": {"rmse": 3.0, PAIRED_SE: 0.0}}
    assert choose("regression", overflowed)[0] == "nnet"
    nothing = {"linear": {"rmse": float("nan"), PAIRED_SE: float("nan")}, "nnet": {"rmse": float("inf"), PAIRED_SE: 0.0}}
    assert choose("regression", nothing)[0] in nothing  # a choice, not a StopIteration


def test_train_and_predict_name_the_rule_and_agree(tmp_path):
    """Any binary table's defaults (linear, sigmoid, nnet), chosen by the rule; predict chooses the same sheet."""
    data = pd.read_csv(PENGUINS).dropna(subset=["sex"]).sample(frac=1, random_state=1)
    data.iloc[:250].to_csv(tmp_path / "train.csv", index=False)
    data.iloc[250:].drop(columns="sex").to_csv(tmp_path / "test.csv", index=False)
    book = tmp_path / "w.xlsx"
    trained = runner.invoke(app, ["train", "--data", str(tmp_path / "train.csv"), "--target", "sex", "--out", str(book),
                                  "--json"])
    assert trained.exit_code == 0, trained.output
    summary = json.loads(trained.stdout[trained.stdout.index("{"):])
    assert list(summary["models"]) == ["linear", "sigmoid", "nnet"]
    assert summary["chosen_by"].startswith("one-standard-error rule on validation accuracy")
    predicted = runner.invoke(app, ["predict", "--model", str(book), "--data", str(tmp_path / "test.csv"),
                                    "--out", str(tmp_path / "p.csv")])
    assert predicted.exit_code == 0, predicted.output
    line = " ".join(predicted.stdout.split())
    assert f"sheet '{summary['chosen']}'" in line and "chosen: one-standard-error rule on validation accuracy" in line
    assert choose_sheet(book)[0] == summary["chosen"]
