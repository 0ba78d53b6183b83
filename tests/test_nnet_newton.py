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
from titanic_lab.models import forward, parse_model, restarts_matmul
from titanic_lab.ops import LOSSES
from titanic_lab.runs import model_settings, prepare, train_run
from titanic_lab.cost import fit_work
from titanic_lab import training
from titanic_lab.optim import OPTIMIZERS
from titanic_lab.training import (DECAY_HOLDOUT, DECAYS, KEEP_AFTER, KEPT_RESTARTS, LBFGS_MAX_EPOCHS, NEWTON_MAX_EPOCHS, NEWTON_UNITS_WEIGHTS, TABLE_TOL,
                                  _UnitsInverse, choose_decay, default_settings, fit, relu_units_curvature, split_indices,
                                  TrainSettings, table_choices)

PENGUINS = Path(__file__).resolve().parents[1] / "titanic_lab" / "datasets" / "penguins.csv"
runner = CliRunner()


@pytest.fixture(scope="module")
def penguins():
    """The bundled penguins' body mass as any table: its training and validation tensors."""
    return prepare(RunConfig(data=PENGUINS, target="body_mass_g", models=("nnet",)))


@pytest.mark.parametrize("rows, units", [(50, 2), (50, 3)])
def test_curvature_is_autograds_hessian(rows, units):
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(rows, 4, generator=gen, dtype=torch.float64)
    y = torch.rand(rows, generator=gen, dtype=torch.float64)
    W = torch.randn(3, 4, units, generator=gen, dtype=torch.float64)  # three restarts
    spec = parse_model(f"nnet:{units}")
    H = relu_units_curvature(X, W, l2=0.1)
    for r in range(3):
        def objective(v):
            return LOSSES["mse"](forward(spec, {"W": v.reshape(4, units)}, X), y) + 0.1 / 2 * v.pow(2).sum()
        expected = torch.autograd.functional.hessian(objective, W[r].reshape(-1))
        assert torch.allclose(H[r], expected, rtol=0, atol=1e-10 * expected.abs().max()), (H[r], expected)


@pytest.mark.parametrize("updated_rows", [0.25, 0.0])  # a few rows crossing a kink update it; any recomputes it
def test_the_inverse_kept_between_steps_is_the_one_computed_again(updated_rows, monkeypatch):
    """Only the restarts whose units' pattern changed are computed again, each from the rows that changed (or
    from every row); every restart's inverse is the pseudo-inverse of the curvature at its current W."""
    monkeypatch.setattr(training, "UPDATED_ROWS", updated_rows)
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(60, 4, generator=gen, dtype=torch.float64)
    W = torch.randn(3, 4, 2, generator=gen, dtype=torch.float64)  # three restarts of two units
    inverse = _UnitsInverse(X, W, 0.0)
    for moved, scale in (([0, 1, 2], 0.3), ([1], 0.3), ([], 0.3), ([0, 2], 0.3), ([0, 1], 0.02), ([2], 0.05)):
        kept = inverse.inverse.clone() if inverse.inverse is not None else None
        before = restarts_matmul(X, W) > 0
        W[moved] += scale * torch.randn(len(moved), 4, 2, generator=gen, dtype=torch.float64)
        expected = torch.linalg.pinv(relu_units_curvature(X, W), hermitian=True)
        got = inverse()
        assert torch.allclose(got, expected, rtol=1e-9, atol=1e-12 * expected.abs().max()), moved
        if kept is not None:
            same = ((restarts_matmul(X, W) > 0) == before).flatten(1).all(-1)
            assert all(torch.equal(got[r], kept[r]) for r in range(3) if same[r]), moved  # not computed again
    W[1] *= 1.001  # a step within the same kinks: the pattern and the curvature stay
    kept = inverse.inverse.clone()
    assert torch.equal(inverse(), kept)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_a_restart_crossing_a_kink_on_a_few_rows_is_updated_by_those_rows(dtype, monkeypatch):
    """The update by the rows that changed is used (not a fresh computation) and agrees with one; in float32,
    whose sums drift, the curvature is computed again from every row."""
    gen = torch.Generator().manual_seed(3)
    X = torch.randn(400, 5, generator=gen, dtype=torch.float64).to(dtype)
    W = torch.randn(2, 5, 2, generator=gen, dtype=torch.float64).to(dtype)
    inverse = _UnitsInverse(X, W, 0.01)
    inverse()
    computed = []
    gauss_newton = training._gauss_newton
    monkeypatch.setattr(training, "_gauss_newton", lambda X, active: computed.append(len(X)) or gauss_newton(X, active))
    before = restarts_matmul(X, W) > 0
    W[0] += 0.01 * torch.randn(5, 2, generator=gen, dtype=torch.float64).to(dtype)
    crossed = ((restarts_matmul(X, W) > 0) != before)[0].any(-1).sum().item()
    assert 0 < crossed <= 0.25 * 400
    got = inverse()
    # float64: the changed rows' new and old terms, never all 400 rows; float32: every row, again
    assert computed == ([crossed, crossed] if dtype == torch.float64 else [400])
    W[1] *= 1.0001  # within its kinks: nothing computed
    assert inverse() is not None and computed == ([crossed, crossed] if dtype == torch.float64 else [400])
    expected = torch.linalg.pinv(relu_units_curvature(X, W, 0.01), hermitian=True)
    tol = 1e-9 if dtype == torch.float64 else 1e-4
    assert torch.allclose(got, expected, rtol=tol, atol=tol * 1e-3 * expected.abs().max())


def test_a_unit_that_dies_by_updates_leaves_the_curvature_it_would_have_computed_again():
    """A unit crossing kinks on a few rows at a time (many updates, features of very different scales) until it
    is active on none: its blocks are exact zeros, as computed again, not the updates' rounding (which moved the
    Newton direction by 1e-6 of its size)."""
    gen = torch.Generator().manual_seed(2)
    n, F, K = 2000, 6, 2
    X = torch.randn(n, F, generator=gen, dtype=torch.float64) * torch.tensor([1, 1e3, 1, 50, 1e-2, 7.0], dtype=torch.float64)
    X[:, 0] = 1.0
    W = torch.randn(1, F, K, generator=gen, dtype=torch.float64)
    pre, base = X @ W[0, :, 0], W[0, 0, 0].item()
    inverse = _UnitsInverse(X, W, 0.0)
    for q in torch.rand(200, generator=gen, dtype=torch.float64) * 0.1 + 0.85:  # unit 0 on 5-15% of the rows
        W[0, 0, 0] = base - torch.quantile(pre, q.item())
        inverse()
    W[0, 0, 0] -= 1e12  # dead on every row
    W[0, 1, 1] += 1e-3  # and unit 1 moves a little
    got, expected = inverse(), torch.linalg.pinv(relu_units_curvature(X, W), hermitian=True)
    assert (inverse.gauss_newton[0].view(F, K, F, K)[:, 0, :, :] == 0).all()  # unit 0's blocks: exact zeros
    grad = torch.randn(F, K, generator=gen, dtype=torch.float64)
    grad[:, 0] = 0  # a dead unit's gradient
    direction, expected_direction = got[0] @ grad.reshape(-1), expected[0] @ grad.reshape(-1)
    assert torch.allclose(direction, expected_direction, rtol=0, atol=1e-11 * expected_direction.abs().max())


def test_epochs_that_move_nothing_are_not_computed_again_and_change_nothing(penguins, monkeypatch):
    """Once an epoch moves no parameter, its repeats at the same rate are not computed, and the history, the
    stopping epoch and the parameters are those of computing every epoch. Newton stops at its first plateau
    (``NO_LR_DROPS``); with the learning-rate drops of the other optimizers, its epochs at a tenth of the rate
    move nothing on penguins."""
    monkeypatch.setattr(training, "NO_LR_DROPS", frozenset())
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
    assert len(calls) == len(every.history) and skipped > 0  # the nnet on penguins: its last epochs move nothing
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


@pytest.mark.parametrize("values", [training.SEARCH_VALUES, 1])  # every share at once; one share at a time
def test_line_search_takes_the_share_whose_forward_pass_is_lowest(penguins, values, monkeypatch):
    """The search's objectives come from two products (the units' inputs are linear in the weights): each
    restart's share is the one a full forward pass at every share ranks lowest."""
    monkeypatch.setattr(training, "SEARCH_VALUES", values)
    X, y = penguins.X[penguins.train_idx], penguins.y[penguins.train_idx]
    spec, settings = model_settings(penguins.config)["nnet"]
    settings = replace(settings, l2=0.01)
    gen = torch.Generator().manual_seed(1)
    W = torch.randn(8, X.shape[1], 2, generator=gen, dtype=torch.float64) * 0.5
    direction = torch.randn(8, X.shape[1], 2, generator=gen, dtype=torch.float64) * 0.5
    step = training._line_search(spec, settings, X, y, "W", W, direction)
    objectives = torch.stack([LOSSES["mse"](forward(spec, {"W": W - a * direction}, X), y)
                              + 0.01 / 2 * (W - a * direction).pow(2).flatten(1).sum(-1) for a in training.STEP_SHARES])
    expected = torch.tensor(training.STEP_SHARES, dtype=torch.float64)[objectives.argmin(0)]
    assert torch.allclose(step, direction * expected[:, None, None], rtol=0, atol=0), (expected, step)
    assert len(set(expected.tolist())) > 1  # restarts took different shares


@pytest.mark.parametrize("optimizer, lr, plateaus", [("newton", 1.0, 1), ("newton", 0.5, 1), ("newton", 2.0, 3),
                                                     ("adam", 1.0, 3)])
def test_newton_stops_at_its_first_plateau_the_others_drop_the_rate_twice(optimizer, lr, plateaus):
    """newton at a rate above 1 overshoots the step it searches: the drops stay for it."""
    settings = TrainSettings(optimizer=optimizer, lr=lr, window=3, tol=1e-6)
    rule = training._Convergence(settings, {"W": torch.zeros(1, 2)})
    epoch = 0
    while not rule.step(epoch := epoch + 1, torch.tensor([1.0]), {"W": torch.zeros(1, 2)}):
        assert epoch < 100
    assert rule.plateaus == plateaus and epoch == 4 * plateaus  # a plateau every window + 1 epochs of one loss


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
    after = KEEP_AFTER["newton"]  # every restart's steps, then the best few restarts'
    runs = after * 16 + (NEWTON_MAX_EPOCHS - after) * KEPT_RESTARTS
    assert fit_work(spec, newton, 5_000, 40) >= runs * 2 * 5_000 * weights**2
    assert fit_work(spec, newton, 5_000, 40) < 2 * runs * (2 * 5_000 * weights**2 + 100 * weights**3)
    assert fit_work(spec, replace(newton, epochs=NEWTON_MAX_EPOCHS), 5_000, 40) >= NEWTON_MAX_EPOCHS * 16 * 2 * 5_000 * weights**2


def test_after_some_steps_only_the_best_restarts_train_and_the_kept_one_is_as_without(penguins, monkeypatch):
    """After KEEP_AFTER steps the KEPT_RESTARTS restarts with the lowest objective train on: on penguins the
    restart kept is the one every restart trained to the end keeps, at the same loss; its number is its own
    (trained alone from its seed it ends where it ended)."""
    X, y = penguins.X[penguins.train_idx], penguins.y[penguins.train_idx]
    spec, settings = model_settings(penguins.config)["nnet"]
    assert settings.optimizer == "newton" and settings.restarts == 16 and settings.epochs is None
    widths = []
    pruned = fit(spec, settings, X, y, on_epoch=lambda epoch, params: widths.append(params["W"].shape[0]))
    after = KEEP_AFTER["newton"]
    assert len(widths) > after and widths[:after] == [16] * after and set(widths[after:]) == {KEPT_RESTARTS}, widths
    assert len(pruned.restart_losses) == 16 and pruned.restart_losses[pruned.restart] == min(pruned.restart_losses)
    assert all(h["train_loss"] == h["train_loss"] for h in pruned.history)  # the kept restart's: no gap
    monkeypatch.setattr(training, "KEEP_AFTER", {})
    every = fit(spec, settings, X, y)
    assert pruned.restart == every.restart
    assert abs(pruned.train_loss - every.train_loss) <= 1e-10 * every.train_loss, (pruned.train_loss, every.train_loss)
    alone = fit(spec, replace(settings, restarts=1, seed=settings.seed + pruned.restart), X, y)
    assert torch.allclose(alone.params["W"], pruned.params["W"], rtol=1e-8, atol=1e-10)
