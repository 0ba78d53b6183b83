"""Choosing by folds on a small table (``--choose-folds``): every row is scored by a fit that had not seen
it, the one-standard-error rule runs on those scores, and the sheets record them so that predict chooses
the same; a table of more than 1,000 rows, or Titanic's lesson runs, choose on one split as before."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from titanic_lab.choosing import FOLDS, PAIRED_SE, choose, paired_standard_errors, row_losses
from titanic_lab.cli import app
from titanic_lab.config import CHOOSE_FOLDS, CHOOSE_FOLDS_MAX_ROWS, RunConfig
from titanic_lab.predict import choose_sheet
from titanic_lab.runs import choice_folds, train_run
from titanic_lab.workbook import write_workbook
from titanic_lab.workbook.layout import read_model_sheets

PENGUINS = Path(__file__).resolve().parents[1] / "titanic_lab" / "datasets" / "penguins.csv"
runner = CliRunner()


@pytest.fixture(scope="module")
def mass_run(tmp_path_factory):
    """Penguins' body mass (regression, 333 rows): linear and nnet chosen by the default folds."""
    folder = tmp_path_factory.mktemp("folds")
    train = folder / "train.csv"
    pd.read_csv(PENGUINS).dropna(subset=["body_mass_g"]).to_csv(train, index=False)
    run = train_run(RunConfig(data=str(train), target="body_mass_g"))
    return run, write_workbook(run, folder / "m.xlsx"), folder


def test_the_folds_hold_out_every_row_once_the_first_being_the_validation_split(mass_run):
    run, _, _ = mass_run
    folds = choice_folds(run)
    assert len(folds) == CHOOSE_FOLDS == run.choice_folds
    assert torch.equal(folds[0][0], run.train_idx) and torch.equal(folds[0][1], run.valid_idx)
    held = torch.cat([valid for _, valid in folds]).sort().values
    assert torch.equal(held, torch.arange(len(run.frame)))  # each row held out once
    for train, valid in folds:
        assert not set(train.tolist()) & set(valid.tolist()) and len(train) + len(valid) == len(run.frame)
    sizes = [len(valid) for _, valid in folds]
    assert max(sizes) - min(sizes) <= 2  # the same size, but for rounding


def test_linear_cross_validated_rmse_is_ridge_by_least_squares_on_each_fold(mass_run):
    # Reference: each fold's ridge fit at linear's l2 by numpy's least squares (the trainer's l2 on the mean is
    # alpha = l2 * n / 2 on the sum of squares), scored on the rows that fold holds out.
    run, _, _ = mass_run
    linear = run.results["linear"]
    X, y = run.X.to(torch.float64).numpy(), run.y.to(torch.float64).numpy()
    alpha = linear.settings.l2 * 0.5
    outputs = np.empty(len(y))
    for train, valid in choice_folds(run):
        tr, va = train.numpy(), valid.numpy()
        A = np.vstack([X[tr], np.sqrt(alpha * len(tr)) * np.eye(X.shape[1])])
        b = np.concatenate([y[tr], np.zeros(X.shape[1])])
        outputs[va] = X[va] @ np.linalg.lstsq(A, b, rcond=None)[0]
    rmse = np.sqrt(np.mean(((outputs - y) * run.dataset.target.divisor) ** 2))
    assert linear.validation["rmse"] == pytest.approx(rmse, rel=1e-6)
    assert linear.validation[FOLDS] == CHOOSE_FOLDS


def test_the_rule_runs_on_every_rows_out_of_fold_loss_and_says_so(mass_run):
    run, _, _ = mass_run
    assert run.chosen_why.startswith(f"one-standard-error rule on {CHOOSE_FOLDS}-fold cross-validated RMSE")
    assert {name: r.validation[PAIRED_SE] for name, r in run.results.items()}[run.chosen] >= 0
    # The same choice from the recorded figures: the rule itself is tested on one split in test_choosing.py.
    assert choose("regression", {n: r.validation for n, r in run.results.items()}) == (run.chosen, run.chosen_why)


def test_the_sheets_record_the_folds_and_predict_chooses_the_same(mass_run):
    run, book, _ = mass_run
    sheets = {s.name: s for s in read_model_sheets(book)}
    for name, result in run.results.items():
        assert sheets[name].validation == pytest.approx(result.validation, rel=1e-12)
        assert sheets[name].validation[FOLDS] == CHOOSE_FOLDS
    chosen, why = choose_sheet(book)  # the mmult sheet, the nnet's by MMULT, is listed beside it
    assert chosen == run.chosen and why.startswith(f"one-standard-error rule on {CHOOSE_FOLDS}-fold cross-validated RMSE")
    fitted = [v for row in sheets[run.chosen].values[:2] for v in row]
    assert f"its Valid figures are {CHOOSE_FOLDS}-fold cross-validated" in fitted[fitted.index("Fitted on:") + 1]


def test_one_fold_is_the_validation_split_alone(mass_run):
    run, _, folder = mass_run
    single = train_run(RunConfig(data=str(folder / "train.csv"), target="body_mass_g", choose_folds=1))
    assert single.choice_folds == 1 and FOLDS not in single.results["linear"].validation
    assert "on validation RMSE" in single.chosen_why
    # Then the losses are the validation rows' only, as before folds existed.
    valid = single.valid_idx.numpy()
    y = single.y.to(torch.float64).numpy()[valid]
    with torch.no_grad():
        losses = {n: row_losses("regression", _outputs(r, single.X[valid]), y, single.dataset.target.divisor)
                  for n, r in single.results.items() if not r.refit}
    if len(losses) == 2:
        assert paired_standard_errors("regression", losses) == pytest.approx(
            {n: single.results[n].validation[PAIRED_SE] for n in losses}, rel=1e-9)


def _outputs(result, X):
    from titanic_lab.models import forward

    return forward(result.spec, {k: v.to(torch.float64) for k, v in result.params.items()}, X.to(torch.float64)).numpy()


def test_folds_by_default_only_where_a_regression_table_is_small_and_choosing_has_rows():
    table = RunConfig(data="t.csv", target="y")
    assert table.folds_for(CHOOSE_FOLDS_MAX_ROWS, "regression") == CHOOSE_FOLDS
    assert table.folds_for(CHOOSE_FOLDS_MAX_ROWS + 1, "regression") == 1
    assert table.folds_for(100, "binary") == table.folds_for(100, "multiclass") == 1  # a class target: one split
    assert RunConfig(data="t.csv", target="y", choose_folds=3).folds_for(10**6, "binary") == 3
    assert RunConfig(data="t.csv", target="y", valid_pct=0).folds_for(100, "regression") == 1
    assert RunConfig().folds_for(100, "binary") == 1  # Titanic's lesson runs: their 80/20 split


def test_a_class_target_chooses_by_folds_when_asked(tmp_path):
    data = tmp_path / "sex.csv"
    pd.read_csv(PENGUINS).dropna(subset=["sex"]).to_csv(data, index=False)
    run = train_run(RunConfig(data=str(data), target="sex", models=("linear", "sigmoid"), choose_folds=4))
    assert run.choice_folds == 4 and run.results["linear"].validation[FOLDS] == 4
    assert run.chosen_why.startswith("one-standard-error rule on 4-fold cross-validated accuracy")
    held = torch.cat([valid for _, valid in choice_folds(run)]).sort().values
    assert torch.equal(held, torch.arange(len(run.frame)))


@pytest.mark.parametrize("args, words", [
    (["--choose-folds", "0"], "--choose-folds must be from 1 to 20, got 0"),
    (["--choose-folds", "21"], "--choose-folds must be from 1 to 20, got 21"),
])
def test_bad_folds_are_one_line_and_exit_2(tmp_path, args, words):
    data = tmp_path / "t.csv"
    pd.read_csv(PENGUINS).to_csv(data, index=False)
    result = runner.invoke(app, ["train", "--data", str(data), "--target", "body_mass_g", "--out", str(tmp_path / "w.xlsx"), *args])
    assert result.exit_code == 2, result.output
    assert words in result.output and "Traceback" not in result.output
    assert not (tmp_path / "w.xlsx").exists()


def test_folds_on_titanic_lesson_runs_are_refused(tmp_path):
    result = runner.invoke(app, ["train", "--choose-folds", "5", "--out", str(tmp_path / "w.xlsx")])
    assert result.exit_code == 2, result.output
    assert "--choose-folds is for a table given with --target or --spec" in result.output


@pytest.mark.parametrize("edited", [0.5, -3.0, 1e300, "five"])  # text: one line naming the cell, exit 2
def test_an_edited_folds_cell_that_is_no_count_is_read_as_one_split(mass_run, tmp_path, edited):
    import openpyxl

    run, book, folder = mass_run
    wb = openpyxl.load_workbook(book)
    for name in run.results:
        ws = wb[name]
        label = next(c for row in ws.iter_rows(max_row=2) for c in row if c.value == "Valid folds:")
        ws.cell(label.row, label.column + 1).value = edited
    wb.save(tmp_path / "edited.xlsx")
    if isinstance(edited, str):
        result = runner.invoke(app, ["predict", "--model", str(tmp_path / "edited.xlsx"), "--data", str(folder / "train.csv"),
                                     "--allow-overlap", "--out", str(tmp_path / "p.csv")])
        assert result.exit_code == 2 and "(Valid folds:): 'five' is not a number" in result.output, result.output
        assert "edited.xlsx: sheet 'linear' cell " in result.output  # the workbook, the sheet and the cell
        assert "Traceback" not in result.output and not (tmp_path / "p.csv").exists()
        return
    chosen, why = choose_sheet(tmp_path / "edited.xlsx")
    assert chosen == run.chosen and why.startswith("one-standard-error rule on validation RMSE")


def test_folds_without_validation_rows_are_refused(tmp_path):
    data = tmp_path / "t.csv"
    pd.read_csv(PENGUINS).to_csv(data, index=False)
    result = runner.invoke(app, ["train", "--data", str(data), "--target", "body_mass_g", "--valid-pct", "0",
                                 "--choose-folds", "5", "--out", str(tmp_path / "w.xlsx")])
    assert result.exit_code == 2 and "--choose-folds needs validation rows" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "w.xlsx").exists()


def test_the_tables_valid_column_says_it_is_the_splits(tmp_path):
    data = tmp_path / "t.csv"
    pd.read_csv(PENGUINS).dropna(subset=["body_mass_g"]).to_csv(data, index=False)
    result = runner.invoke(app, ["train", "--data", str(data), "--target", "body_mass_g", "--out", str(tmp_path / "w.xlsx")])
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "split RMSE" in flat and "valid RMSE" not in flat and "5-fold cross-validated RMSE" in flat


def test_a_five_row_regression_table_trains(tmp_path):
    # One validation row and four training rows: no row to hold out of them for the nnet's weight decay.
    rng = np.random.default_rng(0)
    x = rng.normal(size=5)
    pd.DataFrame({"x": x, "y": 3 * x + rng.normal(size=5)}).to_csv(tmp_path / "t.csv", index=False)
    run = train_run(RunConfig(data=str(tmp_path / "t.csv"), target="y"))
    assert run.chosen in ("linear", "nnet") and run.choice_folds == 5
