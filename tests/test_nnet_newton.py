"""The nnet's fast path on any table (issue 29): Newton steps on its squared error, and its weight decay
chosen on the validation rows, then kept by the refit.

Tolerances: the curvature equals autograd's Hessian to 1e-10 (relative to its largest entry);
restarts trained side by side equal each restart trained alone to 1e-10 (relative); Newton's
training loss is at most 1e-4 (relative) above Adam's converged default on the bundled penguins.
Titanic's lesson runs keep Adam (their figures are the lesson's).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from titanic_lab.choosing import validation_metrics
from titanic_lab.cli import app
from titanic_lab.config import RunConfig
from titanic_lab.models import forward, parse_model
from titanic_lab.ops import LOSSES
from titanic_lab.runs import model_settings, prepare, train_run
from titanic_lab.cost import fit_work
from titanic_lab import training
from titanic_lab.optim import OPTIMIZERS
from titanic_lab.training import (DECAY_HOLDOUT, DECAYS, LBFGS_MAX_EPOCHS, NEWTON_MAX_EPOCHS, NEWTON_UNITS_WEIGHTS, TABLE_TOL,
                                  _UnitsInverse, choose_decay, default_settings, fit, relu_units_curvature, split_indices,
                                  table_choices)

PENGUINS = Path(__file__).resolve().parents[1] / "titanic_lab" / "datasets" / "penguins.csv"
runner = CliRunner()


@pytest.fixture(scope="module")
def penguins():
    """The bundled penguins' body mass as any table: its training and validation tensors."""
    return prepare(RunConfig(data=PENGUINS, target="body_mass_g", models=("nnet",)))


def test_curvature_is_autograds_hessian():
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(50, 4, generator=gen, dtype=torch.float64)
    y = torch.rand(50, generator=gen, dtype=torch.float64)
    W = torch.randn(3, 4, 2, generator=gen, dtype=torch.float64)  # three restarts of two units
    spec = parse_model("nnet")
    H = relu_units_curvature(X, W, l2=0.1)
    for r in range(3):
        def objective(v):
            return LOSSES["mse"](forward(spec, {"W": v.reshape(4, 2)}, X), y) + 0.1 / 2 * v.pow(2).sum()
        expected = torch.autograd.functional.hessian(objective, W[r].reshape(-1))
        assert torch.allclose(H[r], expected, rtol=0, atol=1e-10 * expected.abs().max()), (H[r], expected)


def test_the_inverse_kept_between_steps_is_the_one_computed_again():
    """Only the restarts whose units' pattern changed are computed again; every restart's inverse is, bit for
    bit, the pseudo-inverse of the curvature at its current W."""
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(60, 4, generator=gen, dtype=torch.float64)
    W = torch.randn(3, 4, 2, generator=gen, dtype=torch.float64)  # three restarts of two units
    inverse = _UnitsInverse(X, W, 0.0)
    for moved in ([0, 1, 2], [1], [], [0, 2]):
        W[moved] += 0.3 * torch.randn(len(moved), 4, 2, generator=gen, dtype=torch.float64)
        expected = torch.linalg.pinv(relu_units_curvature(X, W), hermitian=True)
        assert torch.equal(inverse(), expected), moved
    W[1] *= 1.001  # a step within the same kinks: the pattern and the curvature stay
    assert torch.equal(inverse(), torch.linalg.pinv(relu_units_curvature(X, W), hermitian=True))


def test_epochs_that_move_nothing_are_not_computed_again_and_change_nothing(penguins, monkeypatch):
    """Once an epoch moves no parameter, its repeats at the same rate are not computed, and the history, the
    stopping epoch and the parameters are those of computing every epoch."""
    X, y = penguins.X[penguins.train_idx], penguins.y[penguins.train_idx]
    Xv, yv = penguins.X[penguins.valid_idx], penguins.y[penguins.valid_idx]
    spec, settings = model_settings(penguins.config)["nnet"]
    calls = []
    search = training._line_search
    monkeypatch.setattr(training, "_line_search", lambda *args: calls.append(1) or search(*args))
    skipping = fit(spec, settings, X, y, Xv, yv, classify=False)
    skipped = len(skipping.history) - len(calls)
    monkeypatch.setitem(OPTIMIZERS, "newton", replace(OPTIMIZERS["newton"], memoryless=False))
    calls.clear()
    every = fit(spec, settings, X, y, Xv, yv, classify=False)
    assert len(calls) == len(every.history) and skipped > 0  # the default nnet on penguins: its last epochs move nothing
    assert skipping.history == every.history and skipping.restart_losses == every.restart_losses
    assert all(torch.equal(skipping.params[k], every.params[k]) for k in every.params)


def test_newton_is_the_nnets_default_on_a_table_only():
    spec = parse_model("nnet")
    assert table_choices(spec, None, None) == ("newton", None)
    assert table_choices(spec, None, None, dropout=0.2) == (None, None)  # dropout's noise: Adam
    table = model_settings(RunConfig(data=PENGUINS, target="body_mass_g"))["nnet"][1]
    assert table.optimizer == "newton" and table.lr == 1.0 and table.tol == TABLE_TOL and table.max_epochs == NEWTON_MAX_EPOCHS
    # A wide table: a Newton step's Hessian grows as the weights squared, so L-BFGS.
    widest = NEWTON_UNITS_WEIGHTS // 2  # two units
    assert table_choices(spec, None, None, n_features=widest) == ("newton", None)
    assert table_choices(spec, None, None, n_features=widest + 1) == ("lbfgs", None)
    wide = model_settings(RunConfig(data=PENGUINS, target="body_mass_g"), 1, widest + 1)["nnet"][1]
    assert wide.optimizer == "lbfgs" and wide.max_epochs == LBFGS_MAX_EPOCHS and wide.restarts == 16
    lesson = model_settings(RunConfig())["nnet"][1]
    assert lesson == default_settings(spec) and lesson.optimizer == "adam"


def test_restarts_side_by_side_equal_each_alone(penguins):
    X, y = penguins.X[penguins.train_idx], penguins.y[penguins.train_idx]
    spec, settings = model_settings(penguins.config)["nnet"]
    together = fit(spec, replace(settings, restarts=4, epochs=15), X, y)
    for r in range(4):
        alone = fit(spec, replace(settings, restarts=1, seed=settings.seed + r, epochs=15), X, y)
        assert abs(alone.train_loss - together.restart_losses[r]) <= 1e-10 * alone.train_loss, (r, alone.train_loss,
                                                                                                 together.restart_losses)


def test_line_search_never_raises_the_loss(penguins):
    X, y = penguins.X[penguins.train_idx], penguins.y[penguins.train_idx]
    spec, settings = model_settings(penguins.config)["nnet"]
    result = fit(spec, replace(settings, restarts=1, epochs=30), X, y)
    losses = [h["train_loss"] for h in result.history]
    assert all(b <= a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.5 * losses[0]


def test_newton_reaches_adams_training_loss_in_fewer_steps(penguins):
    X, y = penguins.X[penguins.train_idx], penguins.y[penguins.train_idx]
    spec, newton = model_settings(penguins.config)["nnet"]
    adam = replace(default_settings(spec), tol=TABLE_TOL)
    fast, slow = fit(spec, newton, X, y), fit(spec, adam, X, y)
    assert fast.converged and slow.converged
    assert fast.train_loss <= slow.train_loss * (1 + 1e-4), (fast.train_loss, slow.train_loss)
    assert len(fast.history) * 10 < len(slow.history), (len(fast.history), len(slow.history))


def test_chosen_decay_is_the_best_on_rows_held_out_of_the_training_rows_and_the_refit_keeps_it(penguins):
    p = penguins
    X, y, Xv, yv = p.X[p.train_idx], p.y[p.train_idx], p.X[p.valid_idx], p.y[p.valid_idx]
    spec, settings = model_settings(p.config)["nnet"]

    def rmse(result, X, y):
        return validation_metrics("regression", forward(spec, result.params, X).numpy(), y.numpy(), p.dataset.target.divisor)

    def never(result, X, y):  # the run's validation rows must not be what the decay is chosen on
        assert len(X) != len(Xv) or not torch.equal(X, Xv)
        return rmse(result, X, y)

    first = fit(spec, settings, X, y, Xv, yv, classify=False)
    kept = choose_decay(first, X, y, Xv, yv, never, "regression")
    start = replace(settings, restarts=1, seed=settings.seed + first.restart)
    inner, held = split_indices(len(X), DECAY_HOLDOUT, start.seed)
    assert len(held) == int(DECAY_HOLDOUT * len(X)) and not set(inner.tolist()) & set(held.tolist())
    every = {d: rmse(fit(spec, replace(start, l2=d), X[inner], y[inner]), X[held], y[held])["rmse"] for d in DECAYS}
    best = min(every, key=every.get)
    assert kept.settings.l2 == best, every
    assert kept.penalty.startswith(f"l2 {best:g} (weight decay) chosen on {len(held)} of the {len(X)} training rows")
    if best:  # the chosen decay then trains on every training row, from the kept restart's start
        assert torch.equal(kept.params["W"], fit(spec, replace(start, l2=best), X, y).params["W"])

    run = train_run(p)  # the nnet alone: chosen, then refit on every row with the decay it chose
    nnet = run.results["nnet"]
    assert run.chosen == "nnet" and nnet.refit and nnet.settings.l2 == kept.settings.l2
    assert nnet.settings.restarts == 1 and nnet.settings.seed == kept.settings.seed + kept.restart
    assert nnet.penalty == kept.penalty


def test_dropout_refuses_newton_for_the_nnet(tmp_path):
    out = tmp_path / "w.xlsx"
    result = runner.invoke(app, ["train", "-m", "nnet", "--optimizer", "newton", "--dropout", "0.2", "--out", str(out)])
    assert result.exit_code == 2 and "no --dropout" in result.output, result.output
    assert not out.exists()


def test_the_work_estimate_counts_the_nnets_hessian_at_every_step():
    spec = parse_model("nnet")
    newton = default_settings(spec, "newton")
    weights = 40 * 2
    assert fit_work(spec, newton, 5_000, 40) >= NEWTON_MAX_EPOCHS * 16 * 2 * 5_000 * weights**2
    assert fit_work(spec, newton, 5_000, 40) < 2 * NEWTON_MAX_EPOCHS * 16 * (2 * 5_000 * weights**2 + 100 * weights**3)
