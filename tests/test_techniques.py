"""The course's training techniques: each written by hand, checked against torch's own."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from titanic_lab.cli import app
from titanic_lab.config import RunConfig
from titanic_lab.models import ACTIVATIONS, LOSSES, forward, init_params, parse_model
from titanic_lab.recalc import find_soffice
from titanic_lab.runs import train_run
from titanic_lab.training import TrainSettings, fit

runner = CliRunner()
needs_soffice = pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) is not installed")


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    X = torch.cat([torch.rand(120, 5, generator=g, dtype=torch.float64), torch.ones(120, 1, dtype=torch.float64)], 1)
    y = (X[:, 0] + X[:, 1] > 1).to(torch.float64)
    return X, y


def test_gradient_accumulation_equals_the_full_batch_gradient(data):
    X, y = data
    spec = parse_model("nnet")
    start = init_params(spec, X.shape[1], torch.Generator().manual_seed(1))
    # 4 mini-batches of 30, accumulated into one update = one full-batch step on the same rows.
    accumulated = fit(spec, TrainSettings(epochs=1, lr=0.1, batch_size=30, accumulate=4), X, y, init=start)
    full = fit(spec, TrainSettings(epochs=1, lr=0.1), X, y, init=start)
    torch.testing.assert_close(accumulated.params["W"], full.params["W"], rtol=0, atol=1e-12)
    # Unequal batches (50, 50, 20) are weighted by their rows, so this holds for them too.
    uneven = fit(spec, TrainSettings(epochs=1, lr=0.1, batch_size=50, accumulate=3), X, y, init=start)
    torch.testing.assert_close(uneven.params["W"], full.params["W"], rtol=0, atol=1e-12)


def test_mini_batches_make_several_updates_per_epoch(data):
    X, y = data
    spec = parse_model("linear")
    start = {"w": torch.zeros(X.shape[1], dtype=torch.float64)}
    stochastic = fit(spec, TrainSettings(epochs=1, lr=0.01, batch_size=1), X, y, init=start)
    full = fit(spec, TrainSettings(epochs=1, lr=0.01), X, y, init=start)
    assert not torch.allclose(stochastic.params["w"], full.params["w"])
    again = fit(spec, TrainSettings(epochs=1, lr=0.01, batch_size=1), X, y, init=start)
    assert torch.equal(again.params["w"], stochastic.params["w"])  # the batch order is seeded


@pytest.mark.parametrize("optimizer, reference", [
    ("sgd", lambda p: torch.optim.SGD(p, lr=0.05, weight_decay=0.01)),
    ("adam", lambda p: torch.optim.Adam(p, lr=0.05, weight_decay=0.01)),
])
def test_l2_is_weight_decay(data, optimizer, reference):
    X, y = data
    spec = parse_model("linear")
    start = {"w": torch.linspace(-1, 1, X.shape[1], dtype=torch.float64)}
    ours = fit(spec, TrainSettings(epochs=100, lr=0.05, optimizer=optimizer, l2=0.01), X, y, init=start).params["w"]
    w = start["w"].clone().requires_grad_()
    opt = reference([w])
    for _ in range(100):
        opt.zero_grad()
        LOSSES["mse"](forward(spec, {"w": w}, X), y).backward()
        opt.step()
    torch.testing.assert_close(ours, w.detach(), rtol=0, atol=1e-12)


def test_l1_pulls_weights_to_zero(data):
    X, y = data
    spec = parse_model("linear")
    plain = fit(spec, TrainSettings(epochs=300, lr=0.05, optimizer="adam"), X, y).params["w"]
    sparse = fit(spec, TrainSettings(epochs=300, lr=0.05, optimizer="adam", l1=0.05), X, y).params["w"]
    assert sparse.abs().sum() < plain.abs().sum()


def test_dropout_is_inactive_at_evaluation(data):
    X, _ = data
    spec = parse_model("deep:8,8")
    params = init_params(spec, X.shape[1], torch.Generator().manual_seed(2))
    evaluated = forward(spec, params, X, dropout=0.5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(evaluated, forward(spec, params, X))
    trained = forward(spec, params, X, train=True, dropout=0.5, generator=torch.Generator().manual_seed(3))
    assert not torch.equal(trained, evaluated)


def test_batchnorm_matches_torch_batchnorm1d(data):
    X, _ = data
    spec = parse_model("nnet:3", batchnorm=True)
    params = init_params(spec, X.shape[1], torch.Generator().manual_seed(4))
    params["bn1_gamma"] = torch.tensor([1.5, 0.5, 2.0], dtype=torch.float64)
    params["bn1_beta"] = torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64)
    bn = torch.nn.BatchNorm1d(3, dtype=torch.float64)
    with torch.no_grad():
        bn.weight.copy_(params["bn1_gamma"])
        bn.bias.copy_(params["bn1_beta"])
    pre = X @ params["W"]
    expected = torch.relu(bn.train()(pre)).sum(1)
    got = forward(spec, params, X, train=True)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(params["bn1_mean"], bn.running_mean, rtol=0, atol=1e-12)
    torch.testing.assert_close(params["bn1_var"], bn.running_var, rtol=0, atol=1e-12)
    torch.testing.assert_close(forward(spec, params, X), torch.relu(bn.eval()(pre)).sum(1), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activations_match_torch(name):
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)
    reference = {"relu": torch.nn.ReLU(), "leaky_relu": torch.nn.LeakyReLU(0.01), "elu": torch.nn.ELU(),
                 "tanh": torch.nn.Tanh(), "sigmoid": torch.nn.Sigmoid()}[name]
    torch.testing.assert_close(ACTIVATIONS[name](x), reference(x), rtol=0, atol=1e-15)


def test_early_stopping_returns_the_best_epochs_parameters(data):
    X, y = data
    Xt, yt, Xv, yv = X[:80], y[:80], X[80:], y[80:]
    spec = parse_model("hidden:16")
    settings = TrainSettings(epochs=400, lr=2.0, optimizer="sgd", loss="mse", patience=10)
    stopped = fit(spec, settings, Xt, yt, Xv, yv)
    best = stopped.best_epoch
    valid = [h["valid_loss"] for h in stopped.history]
    assert len(stopped.history) == best + 10 < 400  # it stopped, patience epochs after the best
    assert valid[best - 1] == min(valid)
    assert stopped.valid_loss == pytest.approx(min(valid), abs=1e-12)
    replay = fit(spec, TrainSettings(epochs=best, lr=2.0, optimizer="sgd", loss="mse"), Xt, yt, Xv, yv)
    for k in stopped.params:
        torch.testing.assert_close(stopped.params[k], replay.params[k], rtol=0, atol=0)


def test_patience_needs_validation_rows():
    result = runner.invoke(app, ["train", "-m", "linear", "--patience", "3", "--valid-pct", "0", "--out", "x.json"])
    assert result.exit_code == 2 and "needs validation rows" in result.stderr


def test_every_option_has_help():
    text = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "200"}).stdout
    for option in ("--loss", "--activation", "--optimizer", "--batch-size", "--l1", "--l2", "--dropout",
                   "--batchnorm", "--accumulate", "--patience"):
        assert option in text


@pytest.mark.libreoffice
@needs_soffice
@pytest.mark.parametrize("activation, batchnorm", [(a, False) for a in ACTIVATIONS] + [("relu", True), ("tanh", True)])
def test_every_activation_exports_and_verifies(tmp_path, bundled, activation, batchnorm):
    book, small = tmp_path / f"{activation}.xlsx", tmp_path / "small.csv"
    bundled.head(200).to_csv(small, index=False)  # 200 rows keep LibreOffice quick
    config = RunConfig(data=str(small), preset="notebook", models=("nnet:3", "hidden:4", "deep:3,2"), activation=activation,
                       batchnorm=batchnorm, epochs=5, batch_size=256, dropout=0.1, l2=0.001)
    from titanic_lab.workbook import write_workbook

    write_workbook(train_run(config), book)
    verified = runner.invoke(app, ["verify", str(book)])
    assert verified.exit_code == 0, verified.output
    compared = runner.invoke(app, ["compare", str(book), "--json"])
    assert compared.exit_code == 0, compared.output
