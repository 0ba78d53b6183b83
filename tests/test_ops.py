"""An activation is one record: registering a new one (one entry in ``titanic_lab.ops.ACTIVATIONS``)
is enough for it to train, to be written as formulas, recalculated by spreadsheet engines and read back."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from typer.testing import CliRunner

from conftest import written_formulas
from titanic_lab import ops
from titanic_lab.cli import app
from titanic_lab.compare import compare_workbook
from titanic_lab.config import RunConfig
from titanic_lab.engines import ENGINES
from titanic_lab.models import forward, init_params, parse_model, sheet_columns
from titanic_lab.formulas import cell
from titanic_lab.reading import sheet_values
from titanic_lab.runs import train_run
from titanic_lab.sheet_layout import FIRST_ROW, HEADER_ROW
from titanic_lab.verify import verify_workbook
from titanic_lab.workbook import write_workbook

runner = CliRunner()
#: softplus, log(1 + e^x): smooth, and nothing like any built-in activation.
SOFTPLUS = ops.Activation("softplus", "SoftP", lambda x: (1 + x.exp()).log(), lambda x: f"LN(1+EXP({x}))")


@pytest.fixture
def softplus(monkeypatch):
    monkeypatch.setitem(ops.ACTIVATIONS, SOFTPLUS.name, SOFTPLUS)
    return SOFTPLUS


@pytest.fixture
def softplus_book(softplus, tmp_path, bundled):
    data = tmp_path / "rows.csv"
    bundled.head(120).to_csv(data, index=False)
    run = train_run(RunConfig(data=str(data), preset="notebook", models=("nnet:2", "hidden:3", "deep:2,2"), epochs=3,
                              restarts=1, activation="softplus"))
    return run, write_workbook(run, tmp_path / "softplus.xlsx")


def test_the_registry_imports_without_torch():
    code = "import sys, titanic_lab.ops, titanic_lab.choices; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_a_new_activation_trains(softplus):
    spec = parse_model("hidden:3", activation="softplus")
    X = torch.tensor([[1.0, -2.0, 1.0], [0.5, 3.0, 1.0]], dtype=torch.float64)
    params = init_params(spec, 3, torch.Generator().manual_seed(0))
    blocks = dict(sheet_columns(spec, params, X))
    pre = X @ params["W1"]
    torch.testing.assert_close(blocks["L1_"], pre, rtol=0, atol=0)
    torch.testing.assert_close(blocks["SoftP1_"], torch.nn.functional.softplus(pre), rtol=0, atol=1e-15)
    expected = torch.sigmoid(torch.nn.functional.softplus(pre) @ params["w2"] + params["c"])[:, 0]
    torch.testing.assert_close(forward(spec, params, X), expected, rtol=0, atol=1e-15)


@pytest.mark.parametrize("sheet, before, after", [("nnet", "Lin1", "SoftP1"), ("mmult", "Lin2", "SoftP2"),
                                                  ("hidden-3", "L1_3", "SoftP1_3"), ("deep-2-2", "L2_1", "SoftP2_1")])
def test_a_new_activation_is_in_the_workbook(softplus_book, sheet, before, after):
    run, book = softplus_book
    assert {r.spec.activation for r in run.results.values()} == {"softplus"}
    headers = sheet_values(book)[sheet][HEADER_ROW]
    formulas = written_formulas(book, sheet)
    col, source = headers.index(after), headers.index(before)
    for row in (FIRST_ROW, FIRST_ROW + 119):
        assert formulas[row, col] == f"LN(1+EXP({cell(row, source)}))"


def test_a_new_activation_is_read_back_and_recomputed(softplus_book):
    run, book = softplus_book
    report = compare_workbook(book)
    assert report.ok
    by_sheet = {s.sheet: s for s in report.sheets}
    assert by_sheet["nnet"].model == "nnet" and by_sheet["hidden-3"].model == "hidden:3"
    columns = {s.sheet: {c.column for c in s.columns} for s in report.sheets}
    assert {"SoftP1", "SoftP2"} <= columns["nnet"] and {"SoftP1", "SoftP2"} <= columns["mmult"]
    assert {"SoftP1_1", "SoftP1_2", "SoftP1_3"} <= columns["hidden-3"]
    assert {"SoftP1_1", "SoftP1_2", "SoftP2_1", "SoftP2_2"} <= columns["deep-2-2"]
    result = runner.invoke(app, ["compare", str(book), "--json"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("engine", ["ironcalc", "libreoffice"])
def test_a_new_activation_is_recalculated_by_a_spreadsheet_engine(softplus_book, engine):
    if not ENGINES[engine].available():
        pytest.skip(f"{ENGINES[engine].title} is not installed")
    run, book = softplus_book
    verified = verify_workbook(book, engine=engine)
    assert verified.ok, [(c.sheet, c.label, c.max_diff) for c in verified.columns if not c.ok(verified.tol)]
    assert any(c.label.startswith("SoftP1_1") for c in verified.columns)
    # What the engine computed from the formulas, read back and recomputed in torch.
    recalculated = compare_workbook(book, recalc=True, engine=engine)
    assert recalculated.ok and recalculated.engine == engine
    softplus_columns = [c for s in recalculated.sheets for c in s.columns if c.column.startswith("SoftP")]
    assert len(softplus_columns) == 2 + 2 + 3 + 4 and all(c.max_abs_diff <= 1e-9 for c in softplus_columns)


def test_an_unknown_activation_is_refused():
    with pytest.raises(ValueError, match="unknown activation 'softplus'"):
        parse_model("hidden", activation="softplus")
