"""The 'gradient descent' sheet: gradient descent written in formulas, recalculated by LibreOffice."""

from __future__ import annotations

import openpyxl
import pytest
import torch
from typer.testing import CliRunner

from titanic_lab import formulas as fx
from titanic_lab import gradient_layout as gl
from titanic_lab.cli import app
from titanic_lab.config import RunConfig
from titanic_lab.models import init_params, parse_model
from titanic_lab.reading import formula_cells, sheet_values
from titanic_lab.recalc import find_soffice, recalculate
from titanic_lab.runs import train_run
from titanic_lab.training import TrainSettings, fit
from titanic_lab.workbook import GD_SHEET, write_workbook

runner = CliRunner()
needs_soffice = pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) is not installed")
EPOCHS = 12


@pytest.fixture(scope="module")
def gd_book(tmp_path_factory, bundled):
    folder = tmp_path_factory.mktemp("gd")
    small = folder / "small.csv"
    bundled.head(300).to_csv(small, index=False)
    run = train_run(RunConfig(data=str(small), epochs=20, valid_pct=0, gd_sheet=True, gd_epochs=EPOCHS, gd_lr=0.1))
    return run, write_workbook(run, folder / "gd.xlsx")


def _losses(values, model_label: str) -> list[float]:
    """The loss column of one model's table: the rows under the 'epoch' header after its label."""
    rows = values[GD_SHEET]
    top = next(r for r, row in enumerate(rows) if row[0] == gl.MODEL and row[gl.fact_cells(0)[1]] == model_label)
    return [rows[top + 2 + e][1] for e in range(EPOCHS + 1)]


def _torch_losses(run, model: str, lr: float, start=None) -> list[float]:
    spec = parse_model(model)
    X = torch.tensor(run.features.to_numpy())
    y = torch.tensor(run.target)
    start = start or init_params(spec, X.shape[1], torch.Generator().manual_seed(run.config.seed))
    result = fit(spec, TrainSettings(epochs=EPOCHS, lr=lr, optimizer="sgd", loss="mse"), X, y, init=start)
    return [h["train_loss"] for h in result.history] + [result.train_loss]


def test_the_sheet_holds_formulas_and_torchs_run(gd_book):
    run, book = gd_book
    f = formula_cells(book)
    texts = list(f[GD_SHEET].values())
    n = len(run.frame)  # 261 of the 300 rows have Age and Embarked
    last = n + 4
    # The loss of epoch 0 is the mean of the Loss column of epoch 0's pass on gd-linear.
    assert f"AVERAGE('gd-linear'!$N$5:$N${last})" in texts
    # Each gradient is SUMPRODUCT(input column, delta column)/N plus the penalties' terms.
    assert f"SUMPRODUCT('gd-linear'!$B$5:$B${last},'gd-linear'!$O$5:$O${last})/{n}+$L$2*D7+$N$2*SIGN(D7)" in texts
    assert "D7-$B$2*N7" in texts  # the next row's params = params - lr * gradient
    rows = f["gd-nnet"]
    assert rows[(4, 12)] == "SUMPRODUCT(B5:K5,'gradient descent'!$D$26:$M$26)"  # epoch 0's Lin1 at row 0's W
    assert rows[(4, 18)] == "U5*IF(M5>0,1,0)"  # dL/dLin1 = dL/dPreds * ReLU'(Lin1)
    values = sheet_values(book)
    for model in ("linear", "nnet"):
        assert _losses(values, model) == pytest.approx(_torch_losses(run, model, 0.1), abs=1e-12)
    readme = [str(row[0]) for row in values["README"]]
    assert any(line.startswith("gradient descent: dL/d<param> of a row is SUMPRODUCT(") for line in readme)


@pytest.mark.libreoffice
@needs_soffice
def test_libreoffice_reproduces_torchs_losses(gd_book, tmp_path):
    run, book = gd_book
    result = runner.invoke(app, ["verify", str(book), "--json"])
    assert result.exit_code == 0, result.output
    fresh = sheet_values(recalculate(book, tmp_path))
    for model in ("linear", "nnet"):
        assert _losses(fresh, model) == pytest.approx(_torch_losses(run, model, 0.1), abs=1e-9)


@pytest.mark.libreoffice
@needs_soffice
def test_a_new_learning_rate_and_start_retrain_the_sheet(gd_book, tmp_path):
    run, book = gd_book
    edited = tmp_path / "edited.xlsx"
    wb = openpyxl.load_workbook(book)
    ws = wb[GD_SHEET]
    ws["B2"] = 0.05
    linear_top = next(r for r in range(1, 40) if ws.cell(r, 1).value == gl.MODEL and ws.cell(r, gl.fact_cells(0)[1] + 1).value == "linear")
    start_row = linear_top + 2  # epoch 0 of the linear table
    ws.cell(start_row, 4).value = 0.25  # the SibSp weight's starting value
    wb.save(edited)
    fresh = sheet_values(recalculate(edited, tmp_path / "lo"))
    spec = parse_model("linear")
    start = init_params(spec, 10, torch.Generator().manual_seed(run.config.seed))
    start["w"][0] = 0.25
    assert _losses(fresh, "linear") == pytest.approx(_torch_losses(run, "linear", 0.05, start), abs=1e-9)
    assert _losses(fresh, "nnet") == pytest.approx(_torch_losses(run, "nnet", 0.05), abs=1e-9)


def test_gd_sheet_refuses_batch_norm(tmp_path):
    result = runner.invoke(app, ["train", "-p", "notebook", "-m", "deep", "--batchnorm", "--gd-sheet", "--out", str(tmp_path / "x.xlsx")])
    assert result.exit_code == 2 and "--gd-sheet with --model deep" in result.stderr and "--batchnorm" in result.stderr
    assert not (tmp_path / "x.xlsx").exists()


def test_gradient_formulas_as_strings():
    assert fx.sheet_area("nnet-3", "$A$1") == "'nnet-3'!$A$1" and fx.sheet_area("linear", "A1") == "linear!A1"
    assert fx.gd_step("D5", "$B$2", "N5") == "D5-$B$2*N5"
