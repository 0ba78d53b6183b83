"""The gradient by hand (titanic_lab.exact_backward) is autograd's to the last bit, and training by it
gives every figure autograd's training gives: equality, no tolerance."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
import torch

from titanic_lab import training
from titanic_lab.config import RunConfig
from titanic_lab.exact_backward import loss_and_gradients, refusal
from titanic_lab.models import forward, parse_model
from titanic_lab.ops import LOSSES
from titanic_lab.runs import prepare
from titanic_lab.training import TrainSettings, default_settings, fit


@pytest.fixture(scope="module")
def rows():
    """The bundled rows' training and validation tensors, as ``train`` splits them."""
    p = prepare(RunConfig())
    return p.X[p.train_idx], p.y[p.train_idx], p.X[p.valid_idx], p.y[p.valid_idx]


def _autograd(spec, params, X, y, loss):
    leaves = {k: v.clone().requires_grad_() for k, v in params.items()}
    value = LOSSES[loss](forward(spec, leaves, X, train=True), y)
    value.sum().backward()
    return value.detach(), {k: v.grad for k, v in leaves.items()}


@pytest.mark.parametrize("model, restarts, dtype, loss", itertools.product(
    ("linear", "nnet", "nnet:3"), (1, 16), (torch.float64, torch.float32), ("mse", "mae")))
def test_the_gradient_by_hand_is_autograds_bit_for_bit(rows, model, restarts, dtype, loss):
    X, y = rows[0].to(dtype), rows[1].to(dtype)
    spec = parse_model(model)
    for seed in range(3):  # the notebook's starts, then stretched and shifted: units dead, alive, mixed
        start = training._initial(spec, TrainSettings(lr=0.1, restarts=restarts, seed=seed), X.shape[1], dtype, None)
        params = {k: v * (1 + 2 * seed) - 0.4 * seed for k, v in start.items()}
        expected_loss, expected = _autograd(spec, params, X, y, loss)
        with torch.no_grad():
            got_loss, got = loss_and_gradients(spec, params, X, y, loss)
        assert torch.equal(got_loss, expected_loss)
        assert got.keys() == expected.keys()
        for name in got:
            assert got[name].shape == expected[name].shape
            assert torch.equal(got[name], expected[name]), (name, (got[name] - expected[name]).abs().max().item())


def _fit_both_ways(monkeypatch, *args, **kwargs):
    by_hand = fit(*args, **kwargs)
    with monkeypatch.context() as m:
        m.setattr(training, "_by_hand", lambda spec, settings: False)
        by_autograd = fit(*args, **kwargs)
    return by_hand, by_autograd


def _same(a, b) -> None:
    assert a.history == b.history  # every epoch's training loss, validation loss and accuracy, as floats
    assert (a.train_loss, a.valid_loss, a.valid_accuracy, a.train_accuracy) == (b.train_loss, b.valid_loss, b.valid_accuracy,
                                                                                b.train_accuracy)
    assert (a.restart, a.restart_losses, a.stop_reason) == (b.restart, b.restart_losses, b.stop_reason)
    assert a.params.keys() == b.params.keys() and all(torch.equal(a.params[k], b.params[k]) for k in a.params)


@pytest.mark.parametrize("model", ["linear", "nnet"])
def test_the_lessons_default_training_is_the_same_by_hand(rows, monkeypatch, model):
    spec = parse_model(model)
    settings = default_settings(spec)
    assert training._by_hand(spec, settings)
    if model == "nnet":
        settings = replace(settings, max_epochs=400)  # its 16 restarts' first 400 epochs (linear runs to convergence)
    by_hand, by_autograd = _fit_both_ways(monkeypatch, spec, settings, *rows)
    _same(by_hand, by_autograd)
    assert len(by_hand.history) > 300


@pytest.mark.parametrize("settings", [
    TrainSettings(lr=0.05, optimizer="sgd", epochs=150, restarts=3, seed=7),
    TrainSettings(lr=0.05, optimizer="momentum", loss="mae", epochs=150, restarts=2, dtype="float32"),
])
def test_other_optimizers_losses_and_dtypes_train_the_same_by_hand(rows, monkeypatch, settings):
    by_hand, by_autograd = _fit_both_ways(monkeypatch, parse_model("nnet:3"), settings, *rows)
    _same(by_hand, by_autograd)


@pytest.mark.parametrize("model, settings", [
    ("sigmoid", dict(loss="mae")),
    ("hidden", dict(loss="mae")),
    ("nnet:1", {}),
    ("linear", dict(loss="bce")),
    ("nnet", dict(batch_size=64)),
    ("nnet", dict(l2=0.01)),
    ("nnet", dict(dropout=0.1)),
    ("linear", dict(optimizer="newton")),
])
def test_what_is_not_written_by_hand_trains_by_autograd(model, settings):
    spec, full = parse_model(model), dict(lr=0.1, **settings)
    assert not training._by_hand(spec, TrainSettings(**full))
    if full.get("optimizer") != "newton":
        assert refusal(spec, full.get("loss", "mse"), **{k: v for k, v in full.items() if k not in ("lr", "loss", "optimizer")})
