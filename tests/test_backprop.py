"""Backpropagation in the spreadsheet: the derivative records, the chain rule by hand, the backprop and
gradient descent sheets recalculated by every engine from poisoned caches, compare and --init-epoch.

Tolerances: gradients and parameters within 1e-12 of torch's relative to max(1, |value|).
"""

from __future__ import annotations

import json
import re

import openpyxl
import pytest
import torch
from typer.testing import CliRunner

from titanic_lab import gradient_formulas as gx
from titanic_lab import gradient_layout as gl
from titanic_lab.backprop import autograd_gradients, backprop, descend
from titanic_lab.cli import app
from titanic_lab.config import RunConfig
from titanic_lab.gradient_compare import gd_params, read_backprop_sheet, read_gd_sections
from titanic_lab.workbook.layout import overlay
from titanic_lab.models import forward, init_params, parse_model
from titanic_lab.ops import ACTIVATIONS, LOSSES
from titanic_lab.reading import formula_cells, sheet_values
from titanic_lab.recalc import find_soffice, recalculate
from titanic_lab.runs import train_run
from titanic_lab.training import TrainSettings, fit, gradients
from titanic_lab.workbook import write_workbook

from test_engines import _engine, _poison

runner = CliRunner()
TOL = 1e-12
PENGUINS = "titanic_lab/datasets/penguins.csv"
KINDS = ("linear", "nnet:2", "sigmoid", "hidden:3", "deep:3,2")
#: The losses with a derivative record (multiclass cross-entropy has none yet: its sheets are refused).
DIFFERENTIABLE = [name for name, loss in LOSSES.items() if loss.derivative_formula is not None]
COMBOS = [(a, loss) for a in ACTIVATIONS for loss in DIFFERENTIABLE]


def _close(got: torch.Tensor, expected: torch.Tensor) -> float:
    """The largest |got - expected| / max(1, |expected|)."""
    return float(((got - expected).abs() / expected.abs().clamp(min=1)).max())


def _models(loss: str) -> tuple[str, ...]:
    """Every kind the loss is offered for: log loss needs a sigmoid output."""
    return tuple(m for m in KINDS if loss != "bce" or parse_model(m).has_sigmoid)


# ---- the records and the chain rule, in torch ------------------------------------------------
def test_every_derivative_record_is_torchs_backward():
    z = torch.tensor([-3.0, -0.5, -1e-9, 0.0, 1e-9, 0.7, 4.0], dtype=torch.float64)
    for act in ACTIVATIONS.values():
        leaf = z.clone().requires_grad_()
        act(leaf).sum().backward()
        assert _close(act.derivative(z), leaf.grad) <= 1e-15, act.name
    p = torch.tensor([0.0, 1e-8, 0.2, 0.5, 0.9, 1 - 1e-8, 1.0, 1.3], dtype=torch.float64)
    for y in (torch.zeros_like(p), torch.ones_like(p)):
        for loss in (LOSSES[name] for name in DIFFERENTIABLE):
            leaf = p.clone().requires_grad_()
            loss(leaf, y).backward()  # the mean: each row's derivative / N
            assert _close(loss.derivative(p, y) / len(p), leaf.grad) <= 1e-15, loss.name


def test_every_derivative_formula_as_text():
    assert [a.derivative_formula("Z", "A") for a in ACTIVATIONS.values()] == [
        "IF(Z>0,1,0)", "IF(Z>0,1,0.01)", "IF(Z>0,1,EXP(Z))", "1-A^2", "A*(1-A)"]
    assert DIFFERENTIABLE == ["mse", "mae", "bce"]
    assert [LOSSES[name].derivative_formula("P", "Y") for name in DIFFERENTIABLE] == [
        "2*(P-Y)", "SIGN(P-Y)", "IF(AND(P>=1E-07,P<=1-1E-07),(1-Y)/(1-P)-Y/P,0)"]


def test_gradient_formulas_as_strings():
    assert gx.pre_activation("B11:K11", "$B$6:$K$6") == "SUMPRODUCT(B11:K11,$B$6:$K$6)"
    assert gx.pre_activation("B11:K11", "$B$6:$K$6", "$B$8") == "SUMPRODUCT(B11:K11,$B$6:$K$6)+$B$8"
    assert gx.back_through([("AB5", "$C$9"), ("AC5", "$C$10")]) == "AB5*$C$9+AC5*$C$10"
    assert gx.times_slope("AB5", "IF(M5>0,1,0)") == "AB5*IF(M5>0,1,0)"
    assert gx.times_slope("AB5*$C$9+AC5*$C$10", "AA5*(1-AA5)") == "(AB5*$C$9+AC5*$C$10)*(AA5*(1-AA5))"
    assert gx.weight_gradient("$B$11:$B$65", "$R$11:$R$65", 55) == "SUMPRODUCT($B$11:$B$65,$R$11:$R$65)/55"
    assert gx.const_gradient("$R$11:$T$65", 55) == "SUM($R$11:$T$65)/55"
    assert gx.penalized("G", "D7", "$L$2", "$N$2") == "G+$L$2*D7+$N$2*SIGN(D7)"
    assert gx.velocity(None, "$D$2", "N7") == "N7" and gx.velocity("X6", "$D$2", "N7") == "$D$2*X6+N7"
    assert gx.moment(None, "$F$2", "N7") == "(1-$F$2)*N7" and gx.moment("X6", "$F$2", "N7^2") == "$F$2*X6+(1-$F$2)*N7^2"
    assert gx.adam_step("D6", "$B$2", "X6", "Y6", "(A6+1)", "$F$2", "$H$2", "$J$2") == \
        "D6-$B$2*((X6/(1-$F$2^(A6+1)))/(SQRT(Y6/(1-$H$2^(A6+1)))+$J$2))"


@pytest.mark.parametrize("activation, loss", COMBOS)
def test_the_chain_rule_by_hand_is_loss_backward(activation, loss):
    g = torch.Generator().manual_seed(3)
    X = torch.rand(37, 5, generator=g, dtype=torch.float64) * 2 - 0.5
    y = (torch.rand(37, generator=g) > 0.5).double()
    for model in _models(loss):
        spec = parse_model(model, activation)
        params = init_params(spec, 5, torch.Generator().manual_seed(1))
        by_hand, by_torch = backprop(spec, params, X, y, loss).gradients, autograd_gradients(spec, params, X, y, loss)
        assert by_hand.keys() == by_torch.keys()
        assert max(_close(by_hand[k], by_torch[k]) for k in by_torch) <= TOL, model


# ---- the backprop sheets, recalculated from poisoned caches -------------------------------------
@pytest.fixture(scope="module")
def books(tmp_path_factory, bundled):
    """Workbooks with a backprop sheet of every kind, built on first use, per (table, activation, loss, portable)."""
    folder = tmp_path_factory.mktemp("backprop")
    lesson = folder / "lesson.csv"
    bundled.head(60).to_csv(lesson, index=False)
    built = {}

    def book(table: str, activation: str, loss: str, portable: bool):
        key = (table, activation, loss, portable)
        if key not in built:
            data = dict(data=str(lesson)) if table == "lesson" else dict(data=PENGUINS, target="sex", sample=40)
            config = RunConfig(**data, models=_models(loss), activation=activation, loss=loss, epochs=2, restarts=1, lr=0.01,
                               valid_pct=0, portable=portable, backprop_sheet=True)
            if table == "lesson":
                run = train_run(config)
            else:
                with pytest.warns(UserWarning, match="left out 11 row"):  # penguins whose sex is blank
                    run = train_run(config)
            built[key] = run, write_workbook(run, folder / f"{'-'.join(map(str, key))}.xlsx")
        return built[key]

    return book


def _sheet_gradients_match_torch(run, book, fresh) -> int:
    """Check every backprop sheet's recalculated gradients against loss.backward(); returns how many were checked."""
    values, formulas = sheet_values(book), formula_cells(book)
    X, y = torch.tensor(run.features.to_numpy(), dtype=torch.float64), torch.tensor(run.target, dtype=torch.float64)
    checked = 0
    for name, result in run.results.items():
        sheet_name = next(s for s in values if s.startswith(gl.BACKPROP_PREFIX) and read_backprop_sheet(s, values[s]).spec == result.spec)
        rows = [list(r) for r in values[sheet_name]]
        overlay(rows, formulas[sheet_name], fresh[sheet_name])
        sheet = read_backprop_sheet(sheet_name, rows)
        params = {k: v.to(torch.float64) for k, v in result.params.items()}
        expected = gradients(result.spec, params, X, y, result.settings.loss)
        for k, grad in expected.items():
            where = sheet.param_cells[k].reshape(-1, 2)
            got = torch.tensor([float(rows[r][c + sheet.gradient_offset]) for r, c in where], dtype=torch.float64)
            assert _close(got, grad.reshape(-1)) <= TOL, (sheet_name, k)
            checked += len(got)
        assert float(rows[2][gl.fact_cells(3)[1]]) <= TOL  # the sheet's own max |gradient - torch .grad|
    return checked


@pytest.mark.parametrize("engine", ["ironcalc", "libreoffice", "gnumeric"])
@pytest.mark.parametrize("table", ["lesson", "penguins"])
@pytest.mark.parametrize("activation, loss", COMBOS)
def test_backprop_gradients_recalculated_are_torchs(engine, table, activation, loss, books, tmp_path):
    engine = _engine(engine)
    run, book = books(table, activation, loss, portable=True)
    poisoned = tmp_path / "poisoned.xlsx"
    assert len(_poison(book, poisoned)) > 1000
    assert _sheet_gradients_match_torch(run, book, engine.recalculate(poisoned)) > 50


@pytest.mark.parametrize("engine", ["ironcalc", "libreoffice"])
@pytest.mark.parametrize("activation, loss", [("relu", "mse"), ("tanh", "bce")])
def test_structured_references_too(engine, activation, loss, books, tmp_path):
    engine = _engine(engine)
    run, book = books("lesson", activation, loss, portable=False)
    poisoned = tmp_path / "poisoned.xlsx"
    _poison(book, poisoned)
    assert _sheet_gradients_match_torch(run, book, engine.recalculate(poisoned)) > 50


def test_the_sheet_reads_right_to_left(books):
    run, book = books("lesson", "relu", "mse", portable=False)
    f, values = formula_cells(book)["backprop-nnet"], sheet_values(book)["backprop-nnet"]
    header = next(r for r, row in enumerate(values) if row and row[0] == gl.Y)
    heads = {h: c for c, h in enumerate(values[header]) if h}
    r = header + 1
    cell = lambda h: f"{openpyxl.utils.get_column_letter(heads[h] + 1)}{r + 1}"  # noqa: E731
    assert f[(r, heads["dL/dPreds"])] == f"2*({cell('Preds')}-{cell('y')})"
    assert f[(r, heads["dL/dLin1"])] == f"{cell('dL/dPreds')}*IF({cell('Lin1')}>0,1,0)"
    assert heads["dL/dLin1"] < heads["dL/dPreds"]  # each delta reads cells to its right
    deep, deep_values = formula_cells(book)["backprop-deep-3-2"], sheet_values(book)["backprop-deep-3-2"]
    r = 1 + next(r for r, row in enumerate(deep_values) if row and row[0] == gl.Y)
    text = next(t for (row, _), t in deep.items() if row == r and t.startswith("(") and "IF(" in t)
    assert text.count("*$") == 2  # a first-layer delta: the two deltas above times the weights joining them
    readme = [str(row[0]) for row in sheet_values(book)["README"]]
    assert any(line.startswith("backprop sheets: each parameter's gradient is SUMPRODUCT(") for line in readme)


def test_compare_covers_the_backprop_sheets(books, tmp_path):
    run, book = books("lesson", "tanh", "bce", portable=True)
    result = runner.invoke(app, ["compare", str(book), "--json"])
    assert result.exit_code == 0, result.output
    names = [s["sheet"] for s in json.loads(result.stdout)["sheets"]]
    assert {"backprop-sigmoid", "backprop-hidden-3", "backprop-deep-3-2"} <= set(names)
    wb = openpyxl.load_workbook(book)
    wb["backprop-hidden-3"]["B6"] = 0.5  # a first-layer weight: every gradient below it is stale
    edited = tmp_path / "edited.xlsx"
    wb.save(edited)
    result = runner.invoke(app, ["compare", str(edited), "--recalc", "--json"])
    assert result.exit_code == 0, result.output  # recalculated, the sheet's gradients are torch's at the new weight
    poisoned = tmp_path / "poisoned.xlsx"
    _poison(book, poisoned, only="backprop-hidden-3!" + next(
        f"{openpyxl.utils.get_column_letter(c + 1)}{r + 1}" for (r, c) in formula_cells(book)["backprop-hidden-3"] if r == 5))
    result = runner.invoke(app, ["compare", str(poisoned), "--json"])
    assert result.exit_code == 1
    bad = [s["sheet"] for s in json.loads(result.stdout)["sheets"] if not s["ok"]]
    assert bad == ["backprop-hidden-3"]


def test_a_regression_target_learns_target_over_scale(tmp_path):
    out = tmp_path / "regression.xlsx"
    result = runner.invoke(app, ["train", "--data", PENGUINS, "--target", "body_mass_g", "--sample", "50", "-m", "linear",
                                 "-m", "nnet:2", "--activation", "leaky_relu", "--loss", "mae", "--epochs", "5", "--lr", "0.01",
                                 "--restarts", "1", "--backprop-sheet", "--gd-sheet", "--gd-optimizer", "momentum",
                                 "--gd-epochs", "10", "--out", str(out)])
    assert result.exit_code == 0, result.output
    y = formula_cells(out)["backprop-nnet"]
    # y = (body_mass_g - Target mean:) / Target scale:, both facts of row 2
    assert any(re.fullmatch(r"\(\(nnet!A\d+-\$U\$2\)/\$R\$2\)", t) for t in y.values()), sorted(set(y.values()))[:3]
    result = runner.invoke(app, ["compare", str(out), "--recalc", "--json"])
    assert result.exit_code == 0, result.output
    sheets = [s["sheet"] for s in json.loads(result.stdout)["sheets"]]
    assert sheets.count("gradient descent") == 2 and "backprop-linear" in sheets


def test_multiclass_is_refused_until_its_records_exist():
    from titanic_lab.backprop import refusal
    from titanic_lab.models import multiclass_model

    spec = multiclass_model(parse_model("hidden:3"), 3)
    assert "multiclass" in refusal(spec, "ce") and refusal(parse_model("hidden:3"), "ce") is not None


def test_backprop_sheet_refuses_batch_norm(tmp_path):
    result = runner.invoke(app, ["train", "-m", "nnet", "--batchnorm", "--backprop-sheet", "--out", str(tmp_path / "x.xlsx")])
    assert result.exit_code == 2 and "--backprop-sheet with --model nnet" in result.stderr
    assert not (tmp_path / "x.xlsx").exists()


# ---- the gradient descent sheet: 30 epochs of sgd, momentum and adam ----------------------------
GD_MODELS = ("linear", "sigmoid", "hidden:3", "deep:3,2")
PENALTIES = {"sgd": (0.0, 0.0), "momentum": (0.0, 0.01), "adam": (0.001, 0.01)}  # (l1, l2)


@pytest.fixture(scope="module")
def gd_books(tmp_path_factory, bundled):
    folder = tmp_path_factory.mktemp("gd-optimizers")
    data = folder / "rows.csv"
    bundled.head(50).to_csv(data, index=False)
    out = {}
    for optimizer, (l1, l2) in PENALTIES.items():
        run = train_run(RunConfig(data=str(data), preset="notebook", models=GD_MODELS, activation="tanh", epochs=1, restarts=1,
                                  valid_pct=0, portable=True, gd_sheet=True, gd_epochs=30, gd_lr=0.05, gd_optimizer=optimizer,
                                  l1=l1, l2=l2))
        out[optimizer] = run, write_workbook(run, folder / f"{optimizer}.xlsx")
    return out


def _torch_optim(spec, start, X, y, loss, optimizer, lr, epochs, l1, l2):
    """``torch.optim``'s SGD, SGD(momentum=0.9) or Adam on ``loss + l1 * sum|p|`` with weight decay l2."""
    params = {k: v.clone().requires_grad_() for k, v in start.items()}
    make = {"sgd": lambda p: torch.optim.SGD(p, lr=lr, weight_decay=l2),
            "momentum": lambda p: torch.optim.SGD(p, lr=lr, momentum=0.9, weight_decay=l2),
            "adam": lambda p: torch.optim.Adam(p, lr=lr, weight_decay=l2)}[optimizer]
    opt = make(list(params.values()))
    for _ in range(epochs):
        opt.zero_grad()
        objective = LOSSES[loss](forward(spec, params, X), y) + l1 * sum(p.abs().sum() for p in params.values())
        objective.backward()
        opt.step()
    return {k: v.detach() for k, v in params.items()}


@pytest.mark.parametrize("engine", ["ironcalc", "libreoffice", "gnumeric"])
@pytest.mark.parametrize("optimizer", list(PENALTIES))
def test_gd_sheet_after_30_epochs_is_torchs_optimizer(engine, optimizer, gd_books, tmp_path):
    engine = _engine(engine)
    run, book = gd_books[optimizer]
    poisoned = tmp_path / "poisoned.xlsx"
    _poison(book, poisoned)
    fresh = engine.recalculate(poisoned)
    values = sheet_values(book)
    rows = [list(r) for r in values[gl.GD_SHEET]]
    overlay(rows, formula_cells(book)[gl.GD_SHEET], fresh[gl.GD_SHEET])
    _, sections = read_gd_sections(rows)
    assert [s.spec.name for s in sections] == list(GD_MODELS) and all(s.epochs == 30 for s in sections)
    X, y = torch.tensor(run.features.to_numpy(), dtype=torch.float64), torch.tensor(run.target, dtype=torch.float64)
    l1, l2 = PENALTIES[optimizer]
    for section in sections:
        spec, loss = section.spec, run.results[section.spec.name].settings.loss
        start = init_params(spec, X.shape[1], torch.Generator().manual_seed(run.config.seed))
        # The start as written: XlsxWriter stores numbers with 16 significant digits, within 1e-16 of torch's.
        assert max(_close(gd_params(rows, section, 0)[k], start[k]) for k in start) <= 1e-15
        got = gd_params(rows, section, -1)
        settings = TrainSettings(epochs=30, lr=0.05, optimizer=optimizer, loss=loss, l1=l1, l2=l2)
        hand = fit(spec, settings, X, y, init=start).params  # training's hand-written optimizer on loss.backward()
        official = _torch_optim(spec, start, X, y, loss, optimizer, 0.05, 30, l1, l2)
        for k in start:
            assert _close(got[k], hand[k]) <= TOL, (spec.name, k, "hand-written")
            assert _close(got[k], official[k]) <= TOL, (spec.name, k, "torch.optim")


def test_the_replay_is_the_hand_written_optimizer():
    g = torch.Generator().manual_seed(5)
    X, y = torch.rand(30, 4, generator=g, dtype=torch.float64), (torch.rand(30, generator=g) > 0.5).double()
    spec = parse_model("deep:3,2", "elu")
    start = init_params(spec, 4, torch.Generator().manual_seed(0))
    for optimizer in ("sgd", "momentum", "adam"):
        path = descend(spec, start, X, y, loss="bce", optimizer=optimizer, lr=0.1, epochs=30, l1=0.001, l2=0.01)
        hand = fit(spec, TrainSettings(epochs=30, lr=0.1, optimizer=optimizer, loss="bce", l1=0.001, l2=0.01), X, y, init=start)
        assert len(path.params) == 31  # the start, then after each of the 30 updates
        assert max(_close(path.params[-1][k], hand.params[k]) for k in start) <= TOL, optimizer


@pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) is not installed")
def test_edit_the_start_let_the_sheet_train_and_continue_from_its_last_row(gd_books, tmp_path):
    run, book = gd_books["adam"]
    wb = openpyxl.load_workbook(book)
    ws = wb[gl.GD_SHEET]
    model_col = gl.fact_cells(0)[1] + 1  # openpyxl counts from 1
    top = next(r for r in range(1, 80) if ws.cell(r, 1).value == gl.MODEL and ws.cell(r, model_col).value == "hidden:3")
    ws.cell(top + 2, 4).value = 0.25  # epoch 0's first weight of hidden:3
    ws["B2"] = 0.02  # the learning rate
    edited = tmp_path / "edited.xlsx"
    wb.save(edited)
    trained = recalculate(edited, tmp_path / "lo")  # the spreadsheet trains 30 epochs from the edited start
    out = tmp_path / "continued.xlsx"
    result = runner.invoke(app, ["train", "--data", run.config.data, "-p", "notebook", "-m", "hidden:3", "--activation", "tanh",
                                 "--valid-pct", "0", "--epochs", "0", "--init-from", str(trained), "--init-epoch", "-1",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    X, y = torch.tensor(run.features.to_numpy(), dtype=torch.float64), torch.tensor(run.target, dtype=torch.float64)
    spec = parse_model("hidden:3", "tanh")
    start = init_params(spec, X.shape[1], torch.Generator().manual_seed(run.config.seed))
    start["W1"][0, 0] = 0.25
    expected = descend(spec, start, X, y, loss="mae", optimizer="adam", lr=0.02, epochs=30, l1=0.001, l2=0.01).params[-1]
    from titanic_lab.workbook.layout import read_model_sheets

    (continued,) = [s for s in read_model_sheets(out) if s.name == "hidden-3"]
    assert max(_close(torch.as_tensor(continued.params[k]), expected[k]) for k in expected) <= 1e-9


def test_init_epoch_needs_init_from(tmp_path):
    result = runner.invoke(app, ["train", "--init-epoch", "3", "--out", str(tmp_path / "x.xlsx")])
    assert result.exit_code == 2 and "--init-epoch" in result.stderr
