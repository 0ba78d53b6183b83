"""A model kind is one record: registering a new one (one entry in ``titanic_lab.model_kinds.KINDS``)
is enough for it to train, to be written as formulas, read back with its params, recomputed by
``compare`` and recalculated by a spreadsheet engine."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from titanic_lab import model_kinds as mk
from titanic_lab.cli import app
from titanic_lab.compare import compare_workbook
from titanic_lab.config import RunConfig
from titanic_lab.engines import ENGINES
from titanic_lab.formulas import cell
from titanic_lab.workbook.layout import LayoutError, read_model_sheets
from titanic_lab.models import forward, init_params, layers, parse_model, sheet_columns
from titanic_lab.reading import formula_cells, sheet_values
from titanic_lab.runs import train_run
from titanic_lab.sheet_layout import FIRST_ROW, HEADER_ROW
from titanic_lab.verify import verify_workbook
from titanic_lab.workbook import write_workbook

runner = CliRunner()
#: A regression-style net the toolkit does not have: one hidden layer with a constant, and a
#: plain output layer, no sigmoid: ``relu(X @ W1 + c1) @ W2 + c2``.
MLP = mk.ModelKind(
    "mlp",
    (mk.Layer("W{i}", mk.SIZE, const="c{i}", activation=True), mk.Layer("W{i}", 1, const="c{i}")),
    "identity",
    (mk.Sheet("mlp", mk.CHAIN, "A test's net: MMULT + constant, ReLU, MMULT + constant, no sigmoid."),),
    dict(optimizer="adam", loss="mse", lr=0.03),
    default_sizes=(3,),
)
ROWS = 120


@pytest.fixture(scope="module", autouse=True)
def mlp():
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(mk.KINDS, MLP.name, MLP)
        yield MLP


@pytest.fixture(scope="module")
def mlp_book(tmp_path_factory, bundled):
    folder = tmp_path_factory.mktemp("mlp")
    data = folder / "rows.csv"
    bundled.head(ROWS).to_csv(data, index=False)
    run = train_run(RunConfig(data=str(data), preset="notebook", models=("mlp:2", "linear"), epochs=40, restarts=1))
    return run, write_workbook(run, folder / "mlp.xlsx")


def test_its_sizes_parse_from_its_layers():
    assert (parse_model("mlp").sizes, parse_model("mlp").name) == ((3,), "mlp")
    spec = parse_model("mlp:2", activation="tanh")
    assert (spec.kind, spec.sizes, spec.name, spec.activation) == ("mlp", (2,), "mlp:2", "tanh")
    assert spec.has_hidden and not spec.has_sigmoid
    with pytest.raises(ValueError, match="one for mlp"):
        parse_model("mlp:2,2")


def test_it_draws_and_runs_as_its_layers_say():
    spec = parse_model("mlp:2")
    params = init_params(spec, 3, torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(0)  # every weight, then every constant, as the records' draws
    W1, W2 = torch.rand(3, 2, generator=g) - 0.5, torch.rand(2, 1, generator=g) - 0.5
    c1, c2 = [(torch.rand(1, generator=g)[0] - 0.5) * 0.1 for _ in range(2)]
    expected = {"W1": W1, "c1": c1, "W2": W2, "c2": c2}
    assert list(params) == list(expected)
    for name, value in expected.items():
        assert torch.equal(params[name], value.double()), name
    X = torch.tensor([[1.0, -2.0, 1.0], [0.5, 3.0, 1.0]], dtype=torch.float64)
    blocks = dict(sheet_columns(spec, params, X))
    assert list(blocks) == ["L1_", "ReLU1_", "Out"]
    hidden = (X @ params["W1"] + params["c1"]).relu()
    torch.testing.assert_close(blocks["ReLU1_"], hidden, rtol=0, atol=1e-15)
    out = (hidden @ params["W2"] + params["c2"])[:, 0]
    torch.testing.assert_close(forward(spec, params, X), out, rtol=0, atol=1e-15)
    assert [(w.shape, c is not None) for w, c in layers(spec, params)] == [((3, 2), True), ((2, 1), True)]


def test_it_trains_with_its_own_defaults(mlp_book):
    run, _ = mlp_book
    result = run.results["mlp:2"]
    assert (result.settings.optimizer, result.settings.loss, result.settings.lr) == ("adam", "mse", 0.03)
    assert result.train_loss < result.history[0]["train_loss"]
    assert set(result.params) == {"W1", "c1", "W2", "c2"}


def test_it_is_written_and_read_back_with_its_params(mlp_book):
    run, book = mlp_book
    result = run.results["mlp:2"]
    headers = sheet_values(book)["mlp-2"][HEADER_ROW]
    formulas = formula_cells(book)["mlp-2"]
    out, loss = headers.index("Out"), headers.index("Loss")
    assert "Preds" not in headers and loss == out + 1  # the identity output: Out is the prediction
    assert formulas[FIRST_ROW, loss].startswith(f"({cell(FIRST_ROW, out)}-")
    assert any(v == MLP.sheets[0].note for row in sheet_values(book)["README"] for v in row)
    (sheet,) = [s for s in read_model_sheets(book) if s.name == "mlp-2"]
    assert sheet.spec == result.spec
    assert set(sheet.params) == set(result.params)
    for name, value in result.params.items():
        np.testing.assert_allclose(sheet.params[name], value.double().numpy(), rtol=1e-15, atol=1e-15)


def test_it_passes_compare(mlp_book):
    _, book = mlp_book
    report = compare_workbook(book)
    assert report.ok
    (sheet,) = [s for s in report.sheets if s.sheet == "mlp-2"]
    assert sheet.model == "mlp:2"
    assert {"L1_1", "L1_2", "ReLU1_1", "ReLU1_2", "Out", "Loss"} <= {c.column for c in sheet.columns}
    result = runner.invoke(app, ["compare", str(book)])
    assert result.exit_code == 0, result.output


def test_without_its_record_the_sheet_is_no_model(mlp_book, monkeypatch):
    _, book = mlp_book
    monkeypatch.delitem(mk.KINDS, "mlp")
    with pytest.raises(LayoutError, match=r"mlp-2.*no model kind \(hidden, deep\) has 2 layer\(s\).*constants c1, c2 and no Preds"):
        read_model_sheets(book)


def test_it_is_recalculated_by_ironcalc(mlp_book):
    if not ENGINES["ironcalc"].available():
        pytest.skip("IronCalc is not installed")
    _, book = mlp_book
    verified = verify_workbook(book, engine="ironcalc")
    assert verified.ok, [(c.sheet, c.label, c.max_diff) for c in verified.columns if not c.ok(verified.tol)]
    assert any(c.sheet == "mlp-2" and c.label.startswith("Out") for c in verified.columns)
    recalculated = compare_workbook(book, recalc=True, engine="ironcalc")
    assert recalculated.ok and recalculated.engine == "ironcalc"
    (sheet,) = [s for s in recalculated.sheets if s.sheet == "mlp-2"]
    assert all(c.max_abs_diff <= 1e-9 for c in sheet.columns)


def test_it_gets_a_backprop_and_a_gradient_descent_sheet(tmp_path, bundled):
    """No entry but its record: the chain rule (identity output, constants) and the optimizers follow its layers."""
    data = tmp_path / "rows.csv"
    bundled.head(40).to_csv(data, index=False)
    run = train_run(RunConfig(data=str(data), preset="notebook", models=("mlp:2",), epochs=3, restarts=1, activation="tanh",
                              backprop_sheet=True, gd_sheet=True, gd_epochs=5, gd_optimizer="momentum"))
    book = write_workbook(run, tmp_path / "mlp-backprop.xlsx")
    assert {"backprop-mlp-2", "gd-mlp-2"} <= set(formula_cells(book))
    report = compare_workbook(book, recalc=True, engine="ironcalc")
    assert report.ok and {s.sheet for s in report.sheets} >= {"backprop-mlp-2", "gradient descent"}
