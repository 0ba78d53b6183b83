"""predict runs a workbook's model in numpy (titanic_lab.array_forward), never importing torch: the same
predictions as torch's forward, for every model kind, activation, head and batch norm."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from titanic_lab.array_forward import predict_array
from titanic_lab.config import RunConfig
from titanic_lab.models import ACTIVATIONS, HEADS, KINDS, forward, init_params, multiclass_model, parse_model, tensors
from titanic_lab.predict import predict_from_workbook
from titanic_lab.runs import train_run
from titanic_lab.workbook import write_workbook
from titanic_lab.workbook.layout import read_model_sheets

#: Inputs from far below to far above every activation's bend, with exact zeros.
EDGES = torch.tensor([-1000.0, -700.0, -30.0, -1.0, -1e-5, -1e-10, 0.0, 1e-10, 1e-5, 0.5, 30.0, 800.0], dtype=torch.float64)
#: The largest difference allowed between numpy's and torch's predictions (summation order), relative to the
#: largest prediction (a prediction near 0 is a sum of larger terms: its own size is no measure of their rounding).
RTOL = 1e-13


def _close(got: np.ndarray, expected: np.ndarray) -> None:
    np.testing.assert_allclose(got, expected, rtol=0, atol=RTOL * max(1.0, float(np.abs(expected).max())))


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_each_activation_has_the_same_numpy_side(name):
    activation = ACTIVATIONS[name]
    np.testing.assert_allclose(activation.array_function(EDGES.numpy()), activation(EDGES).numpy(), rtol=1e-15, atol=0)


@pytest.mark.parametrize("name", list(HEADS))
def test_each_head_has_the_same_numpy_side(name):
    scores = torch.randn(40, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 40  # softmax far from even
    head = HEADS[name]
    expected = head(scores).numpy()
    got = head.array_function(scores.numpy())
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-15, atol=1e-300)


def _cases():
    for kind in KINDS.values():
        spec = parse_model(kind.name)
        yield spec
        if spec.has_hidden:
            yield from (parse_model(kind.name, activation=a) for a in ACTIVATIONS if a != "relu")
            yield parse_model(kind.name, batchnorm=True)
        if kind.multiclass and not (kind.has_sigmoid and not kind.has_hidden):
            yield multiclass_model(spec, 4)


@pytest.mark.parametrize("spec", list(_cases()), ids=lambda s: f"{s.description}x{s.outputs}")
def test_predictions_equal_torchs_forward(spec):
    generator = torch.Generator().manual_seed(0)
    params = init_params(spec, 6, generator)
    for name, p in params.items():  # batch norm away from its start (mean 0, var 1, gamma 1, beta 0)
        if name.startswith("bn"):
            params[name] = p + torch.rand(p.shape, generator=generator, dtype=p.dtype) * (0.5 if "var" not in name else 2.0)
    X = torch.randn(200, 6, generator=generator, dtype=torch.float64) * 3
    expected = forward(spec, params, X).numpy()
    got = predict_array(spec, {k: v.numpy() for k, v in params.items()}, X.numpy())
    assert got.shape == expected.shape
    _close(got, expected)


def test_a_head_without_a_numpy_side_runs_in_torch(monkeypatch):
    monkeypatch.setitem(HEADS, "sigmoid", replace(HEADS["sigmoid"], array_function=None))
    spec = parse_model("deep:3,2")
    params = init_params(spec, 4, torch.Generator().manual_seed(0))
    X = torch.randn(30, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    got = predict_array(spec, {k: v.numpy() for k, v in params.items()}, X.numpy())
    np.testing.assert_array_equal(got, forward(spec, params, X).numpy())


def test_an_activation_without_a_numpy_side_runs_in_torch(monkeypatch):
    softplus = ACTIVATIONS["relu"].__class__("softplus", "SoftP", lambda x: (1 + x.exp()).log(), lambda x: f"LN(1+EXP({x}))")
    monkeypatch.setitem(ACTIVATIONS, "softplus", softplus)
    spec = parse_model("hidden:3", activation="softplus")
    params = init_params(spec, 4, torch.Generator().manual_seed(0))
    X = torch.randn(30, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    got = predict_array(spec, {k: v.numpy() for k, v in params.items()}, X.numpy())
    np.testing.assert_array_equal(got, forward(spec, params, X).numpy())


@pytest.fixture(scope="module")
def table_book(tmp_path_factory):
    """A workbook of a seeded regression table (numbers with blanks, a text column), linear and nnet."""
    folder = tmp_path_factory.mktemp("table")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(0, 2, (300, 3)), columns=["a", "b", "c"])
    frame["kind"] = rng.choice(["x", "y", "z"], 300)
    frame["y"] = 30 + frame.a - 2 * frame.b.clip(lower=0) + (frame.kind == "y") * 3 + rng.normal(0, 0.5, 300)
    frame.loc[rng.choice(300, 20), "c"] = np.nan
    frame.iloc[:240].to_csv(folder / "train.csv", index=False)
    frame.iloc[240:].drop(columns="y").to_csv(folder / "test.csv", index=False)
    run = train_run(RunConfig(data=str(folder / "train.csv"), target="y", models=("linear", "nnet"), epochs=40, restarts=2))
    return write_workbook(run, folder / "table.xlsx"), folder / "test.csv"


@pytest.mark.parametrize("sheet", ["linear", "nnet", "mmult"])
def test_predict_gives_torchs_predictions(table_book, sheet, monkeypatch):
    book, test = table_book
    numpy_preds, used = predict_from_workbook(book, test, sheet)
    assert used.name == sheet

    def torch_forward(spec, params, X):
        return forward(spec, tensors(params), torch.tensor(X)).numpy()

    monkeypatch.setattr("titanic_lab.predict.predict_array", torch_forward)
    torch_preds, _ = predict_from_workbook(book, test, sheet)
    assert numpy_preds.columns.tolist() == ["row", "y"] and len(numpy_preds) == 60
    np.testing.assert_allclose(numpy_preds["y"], torch_preds["y"], rtol=RTOL, atol=1e-12)


def test_predict_imports_no_torch(table_book):
    """The whole command, in a Python where importing torch fails."""
    book, test = table_book
    out = book.parent / "predictions.csv"
    code = ("import sys; sys.modules['torch'] = None\n"
            "from titanic_lab.cli import app\n"
            f"app(['predict', '--model', {str(book)!r}, '--data', {str(test)!r}, '--out', {str(out)!r}])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    expected, _ = predict_from_workbook(book, test)
    written = pd.read_csv(out)
    assert written["row"].tolist() == expected["row"].tolist()
    np.testing.assert_allclose(written["y"], expected["y"], rtol=1e-15)


@pytest.fixture(scope="module")
def chain_books(tmp_path_factory, table_book):
    """Workbooks of hidden and deep models with batch norm and tanh: a binary target, and a 3-class one."""
    folder = tmp_path_factory.mktemp("chains")
    rows = pd.read_csv(table_book[0].parent / "train.csv")
    rows["big"] = (rows["y"] > rows["y"].median()).map({True: "yes", False: "no"})
    rows["band"] = pd.qcut(rows["y"], 3, labels=["low", "mid", "high"]).astype(str)
    books = []
    for target, models in (("big", ("hidden:4", "deep:3,2")), ("band", ("linear", "hidden:4", "deep:3,2"))):
        data = folder / f"{target}.csv"
        rows.drop(columns=[c for c in ("y", "big", "band") if c != target]).to_csv(data, index=False)
        run = train_run(RunConfig(data=str(data), target=target, models=models, epochs=25, restarts=1, activation="tanh",
                                  batchnorm=True))
        books.append(write_workbook(run, folder / f"{target}.xlsx"))
    return books


def test_the_params_read_from_every_sheet_predict_as_torch(table_book, chain_books):
    """Through a written workbook: each sheet's parameters as the reader gives them (0-d constants, batch norm's
    rows, a softmax's columns) predict in numpy what they predict in torch."""
    seen = set()
    for book in (table_book[0], *chain_books):
        for sheet in read_model_sheets(book, formulas=False):
            X = np.random.default_rng(0).normal(0, 2, (50, len(sheet.features)))
            expected = forward(sheet.spec, tensors(sheet.params), torch.tensor(X)).numpy()
            got = predict_array(sheet.spec, sheet.params, X)
            assert got.shape == expected.shape == ((50, sheet.spec.outputs) if sheet.spec.outputs > 1 else (50,))
            _close(got, expected)
            seen.add((sheet.spec.kind, sheet.spec.batchnorm, sheet.spec.activation, sheet.spec.outputs))
    assert {("hidden", True, "tanh", 1), ("deep", True, "tanh", 1), ("hidden", True, "tanh", 3), ("deep", True, "tanh", 3),
            ("linear", False, "relu", 3), ("nnet", False, "relu", 1)} <= seen
