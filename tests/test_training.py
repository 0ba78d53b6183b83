from __future__ import annotations

import pytest
import torch

from conftest import LEAST_SQUARES_OPTIMUM
from titanic_lab.config import RunConfig
from titanic_lab.data import bundled_path, read_titanic
from titanic_lab.errors import TrainingError
from titanic_lab.models import LOSSES, forward, parse_model
from titanic_lab.preprocessing import TitanicPreprocessor, select_complete_rows
from titanic_lab.runs import train_run
from titanic_lab.training import TrainSettings, _update, fit, split_indices


def _spreadsheet_tensors(df):
    rows = select_complete_rows(df)
    X = torch.tensor(TitanicPreprocessor().fit_transform(rows).to_numpy())
    y = torch.tensor(rows["Survived"].to_numpy(dtype=float))
    return X, y


def test_one_manual_step_equals_the_analytic_step(bundled):
    X, y = _spreadsheet_tensors(bundled)
    w0 = torch.linspace(-0.5, 0.5, X.shape[1], dtype=torch.float64)
    lr = 0.05
    result = fit(parse_model("linear"), TrainSettings(epochs=1, lr=lr, optimizer="sgd"), X, y, init={"w": w0})
    analytic = w0 - lr * 2 / len(X) * X.T @ (X @ w0 - y)
    torch.testing.assert_close(result.params["w"], analytic, rtol=0, atol=1e-12)


def test_same_seed_gives_identical_parameters(bundled):
    X, y = _spreadsheet_tensors(bundled)
    settings = TrainSettings(epochs=50, lr=0.01, optimizer="adam", restarts=3, seed=7)
    a = fit(parse_model("nnet"), settings, X, y)
    b = fit(parse_model("nnet"), settings, X, y)
    assert torch.equal(a.params["W"], b.params["W"])
    c = fit(parse_model("nnet"), TrainSettings(epochs=50, lr=0.01, optimizer="adam", restarts=3, seed=8), X, y)
    assert not torch.equal(a.params["W"], c.params["W"])


def test_divergence_stops_with_a_clear_message(bundled):
    X, y = _spreadsheet_tensors(bundled)
    with pytest.raises(TrainingError, match="try a smaller learning rate"):
        fit(parse_model("linear"), TrainSettings(epochs=100, lr=1e6, optimizer="sgd"), X, y)


def test_restarts_keep_the_best(bundled):
    X, y = _spreadsheet_tensors(bundled)
    r = fit(parse_model("nnet"), TrainSettings(epochs=200, lr=0.01, optimizer="adam", restarts=5), X, y)
    assert len(r.restart_losses) == 5 and r.train_loss == min(r.restart_losses)
    assert r.train_loss == pytest.approx(LOSSES["mse"](forward(r.spec, r.params, X), y).item(), abs=1e-15)


def test_split_is_fastais_random_splitter():
    torch.manual_seed(42)
    perm = torch.randperm(891)  # fastai RandomSplitter(seed=42): first 20% are validation
    train_idx, valid_idx = split_indices(891, 0.2, 42)
    assert torch.equal(valid_idx, perm[:178]) and torch.equal(train_idx, perm[178:])
    assert len(split_indices(10, 0.0)[1]) == 0


@pytest.mark.parametrize("optimizer, reference", [
    ("momentum", lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9)),
    ("adam", lambda p, lr: torch.optim.Adam(p, lr=lr)),
    ("sgd", lambda p, lr: torch.optim.SGD(p, lr=lr)),
])
def test_hand_written_optimizers_match_torch_optim(bundled, optimizer, reference):
    X, y = _spreadsheet_tensors(bundled)
    spec, lr = parse_model("nnet"), 0.01
    start = {"W": torch.randn(X.shape[1], 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)}
    ours = fit(spec, TrainSettings(epochs=100, lr=lr, optimizer=optimizer), X, y, init=start).params["W"]
    W = start["W"].clone().requires_grad_()
    opt = reference([W], lr)
    for _ in range(100):
        opt.zero_grad()
        LOSSES["mse"](forward(spec, {"W": W}, X), y).backward()
        opt.step()
    torch.testing.assert_close(ours, W.detach(), rtol=0, atol=1e-6)


def test_update_directions_by_hand():
    g = torch.tensor([2.0])
    state: dict = {}
    assert _update("momentum", g, state).item() == 2.0
    assert _update("momentum", g, state).item() == pytest.approx(3.8)
    assert state["t"] == 2
    adam: dict = {}
    assert _update("adam", g, adam).item() == pytest.approx(1.0, abs=1e-7)  # first Adam step is sign(g)


# The "good defaults": no flags, the lesson's data, every row used for training.
def test_good_defaults_on_the_lessons_rows(kaggle_train):
    run = train_run(RunConfig(data=str(kaggle_train), valid_pct=0))
    assert len(run.frame) == 712
    assert abs(run.results["linear"].train_loss - LEAST_SQUARES_OPTIMUM) < 1e-6
    assert run.results["nnet"].train_loss <= 0.135


def test_good_defaults_on_bundled_data(bundled):
    X, y = _spreadsheet_tensors(bundled)
    optimum = ((X @ torch.linalg.lstsq(X, y).solution - y) ** 2).mean().item()
    run = train_run(RunConfig(data=str(bundled_path()), valid_pct=0))
    assert len(run.frame) == 1044
    assert abs(run.results["linear"].train_loss - optimum) < 1e-6
    assert run.results["nnet"].train_loss <= optimum - 0.005  # two ReLUs beat the best linear fit


@pytest.mark.parametrize("model, overrides, final_mae, accuracy", [
    ("linear", dict(epochs=18, lr=0.2, optimizer="sgd", loss="mae"), 0.2894, 0.7865),
    # The notebook trains 30 epochs; without --epochs the models train until converged.
    ("sigmoid", dict(epochs=30), 0.1937, 0.8258),
    ("hidden", dict(epochs=30), 0.1923, 0.8258),
    ("deep", dict(epochs=30), 0.1951, 0.8258),
])
def test_notebook_figures(kaggle_train, model, overrides, final_mae, accuracy):
    run = train_run(RunConfig(data=str(kaggle_train), preset="notebook", models=(model,), **overrides))
    result = run.results[model]
    assert (len(run.train_idx), len(run.valid_idx)) == (713, 178)
    assert result.history[-1]["train_loss"] == pytest.approx(final_mae, abs=5e-5)
    assert result.valid_accuracy == pytest.approx(accuracy, abs=5e-5)


def test_default_data_is_the_bundled_titanic3(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    run = train_run(RunConfig(models=("linear",), epochs=5))
    assert run.data_path.name == "titanic3.csv"
    assert read_titanic(run.data_path).shape[0] == 1309
