"""An optimizer is one record in titanic_lab/optim.py: RMSprop registered here, in the test only,
trains as torch.optim.RMSprop does and through ``train --optimizer``."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from titanic_lab.cli import app
from titanic_lab.models import LOSSES, forward, parse_model
from titanic_lab.optim import OPTIMIZERS, Optimizer
from titanic_lab.preprocessing import TitanicPreprocessor, select_complete_rows
from titanic_lab.reading import sheet_values
from titanic_lab.training import TrainSettings, fit


def _rmsprop(grad: torch.Tensor, state: dict) -> torch.Tensor:
    s = state.setdefault("s", grad.new_zeros(grad.shape))
    s.mul_(0.99).addcmul_(grad, grad, value=0.01)  # alpha 0.99, as torch.optim.RMSprop
    return grad / s.sqrt().add_(1e-8)


RMSPROP = Optimizer("rmsprop", "a running mean of grad^2 divides the step", _rmsprop)


@pytest.fixture
def rmsprop(monkeypatch):
    monkeypatch.setitem(OPTIMIZERS, "rmsprop", RMSPROP)


def test_every_optimizer_is_a_record():
    assert list(OPTIMIZERS) == ["sgd", "momentum", "adam", "newton", "lbfgs"]
    assert [o.name for o in OPTIMIZERS.values() if o.exact] == ["newton", "lbfgs"]


@pytest.mark.parametrize("model", ["linear", "nnet"])
def test_a_registered_rmsprop_matches_torch_optim(rmsprop, bundled, model):
    rows = select_complete_rows(bundled)
    X = torch.tensor(TitanicPreprocessor().fit_transform(rows).to_numpy())
    y = torch.tensor(rows["Survived"].to_numpy(dtype=float))
    spec, lr, steps = parse_model(model), 0.01, 60
    name = "w" if model == "linear" else "W"
    shape = (X.shape[1],) if model == "linear" else (X.shape[1], 2)
    start = {name: torch.randn(*shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)}
    ours = fit(spec, TrainSettings(epochs=steps, lr=lr, optimizer="rmsprop"), X, y, init=start).params[name]
    p = start[name].clone().requires_grad_()
    opt = torch.optim.RMSprop([p], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        LOSSES["mse"](forward(spec, {name: p}, X), y).backward()
        opt.step()
    assert not torch.equal(ours, start[name])
    torch.testing.assert_close(ours, p.detach(), rtol=0, atol=1e-12)


def test_train_takes_the_registered_optimizer(rmsprop, tmp_path):
    out = tmp_path / "run.xlsx"
    result = CliRunner().invoke(app, ["train", "-m", "linear", "--optimizer", "rmsprop", "--lr", "0.01", "--epochs", "30",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    readme = sheet_values(out, ["README"])["README"]
    assert ["linear", "rmsprop"] == [next(r for r in readme if r and r[0] == "linear")[k] for k in (0, 3)]
    unknown = CliRunner().invoke(app, ["train", "-m", "linear", "--optimizer", "rmsprop2", "--out", str(tmp_path / "x.xlsx")])
    assert unknown.exit_code == 2 and "rmsprop" in unknown.output and "unknown optimizer 'rmsprop2'" in unknown.output


@pytest.mark.parametrize("model, outputs, loss", [("linear", 3, "ce"), ("sigmoid", 1, "bce"), ("linear", 1, "mse")])
def test_newton_on_a_convex_loss_stops_where_its_step_promises_nothing_and_lands_where_the_window_does(
        monkeypatch, model, outputs, loss):
    from titanic_lab import training
    from titanic_lab.model_spec import multiclass_model
    from titanic_lab.training import default_settings

    g = torch.Generator().manual_seed(3)
    X = torch.cat([torch.randn(400, 5, generator=g, dtype=torch.float64), torch.ones(400, 1, dtype=torch.float64)], 1)
    scores = X @ torch.randn(6, max(outputs, 1), generator=g, dtype=torch.float64) + torch.randn(400, max(outputs, 1), generator=g,
                                                                                                 dtype=torch.float64)
    y = scores.argmax(1).double() if outputs > 1 else (scores[:, 0] > 0).double() if loss == "bce" else scores[:, 0]
    spec = multiclass_model(parse_model(model), outputs)
    settings = default_settings(spec, "newton", loss)
    promised = fit(spec, settings, X, y, classify=loss != "mse")
    monkeypatch.setattr(training, "NEWTON_PROMISE", 0.0)  # the window's rule alone, as before the promise
    windowed = fit(spec, settings, X, y, classify=loss != "mse")
    assert promised.converged and windowed.converged
    assert len(promised.history) < len(windowed.history) - settings.window / 2  # most of the window's idle epochs saved
    assert len(promised.history) <= (2 if loss == "mse" else 12)  # least squares: one exact step, then the promise of 0
    assert promised.train_loss == pytest.approx(windowed.train_loss, rel=1e-12)
    for name, p in promised.params.items():
        assert (p - windowed.params[name]).abs().max() <= 1e-8 * windowed.params[name].abs().max()
