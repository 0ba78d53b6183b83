"""lbfgs (issue 29): the multiclass ``hidden`` (and ``deep``) trained by hand-written L-BFGS on any table.

Tolerances: the two-loop recursion equals the BFGS inverse-Hessian update written out as matrices
to 1e-10 (relative); no step raises the training objective (1e-12 relative, rounding); restarts
side by side equal each restart alone to 1e-10 (relative); at weight decay 1e-2, lbfgs's objective
is within 1e-4 (relative) of torch.optim.LBFGS's (strong Wolfe line search) from the same start and
at most 1e-3 (relative) above Adam's converged default on the bundled penguins' species.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from titanic_lab.cli import app
from titanic_lab.config import RunConfig
from titanic_lab.models import forward, init_params, multiclass_model, parse_model
from titanic_lab.ops import LOSSES
from titanic_lab.optim import two_loop
from titanic_lab import training
from titanic_lab.runs import model_settings, prepare
from titanic_lab.training import (KEEP_AFTER, KEPT_RESTARTS, LBFGS_MAX_EPOCHS, TABLE_TOL, _penalty, default_settings, fit, lbfgs_refusal,
                                  refit_settings, refit_start, table_choices)

PENGUINS = Path(__file__).resolve().parents[1] / "titanic_lab" / "datasets" / "penguins.csv"
runner = CliRunner()


@pytest.fixture(scope="module")
def species():
    """The bundled penguins' species as any table (three classes): the hidden model and its training rows."""
    p = prepare(RunConfig(data=PENGUINS, target="species", models=("hidden",)))
    ((spec, settings),) = p.models.values()
    return spec, settings, p.X[p.train_idx], p.y[p.train_idx]


def _objective(spec, settings, params, X, y) -> torch.Tensor:
    """The data loss plus the penalty, per restart."""
    return LOSSES[settings.loss](forward(spec, params, X), y) + _penalty(params, settings)


@pytest.mark.parametrize("skipped", [1, 3])  # restart 0 skips an older pair, or the newest (its scaling: the one before)
def test_two_loop_is_the_bfgs_inverse_update(skipped):
    gen = torch.Generator().manual_seed(0)
    n, R = 6, 2
    A = torch.randn(R, n, n, generator=gen, dtype=torch.float64)
    hessians = A @ A.mT + torch.eye(n, dtype=torch.float64)  # positive definite: every pair has s . y > 0
    pairs = []
    for _ in range(4):
        s = torch.randn(R, n, generator=gen, dtype=torch.float64)
        y = (hessians @ s[..., None])[..., 0]
        pairs.append((s, y, 1 / (s * y).sum(-1, keepdim=True)))
    pairs[skipped] = (pairs[skipped][0], pairs[skipped][1],
                      torch.tensor([[0.0], [pairs[skipped][2][1, 0]]], dtype=torch.float64))  # restart 0 skips it
    g = torch.randn(R, n, generator=gen, dtype=torch.float64)
    got = two_loop(g, pairs)
    eye = torch.eye(n, dtype=torch.float64)
    for r in range(R):
        kept = [(s[r], y[r], rho[r, 0]) for s, y, rho in pairs if rho[r, 0] > 0]
        s, y, rho = kept[-1]
        H = (s @ y) / (y @ y) * eye  # the newest pair's scaling
        for s, y, rho in kept:  # H <- (I - rho s y') H (I - rho y s') + rho s s', oldest pair first
            H = (eye - rho * torch.outer(s, y)) @ H @ (eye - rho * torch.outer(y, s)) + rho * torch.outer(s, s)
        expected = H @ g[r]
        assert torch.allclose(got[r], expected, rtol=0, atol=1e-10 * expected.abs().max()), (got[r], expected)


def test_lbfgs_is_the_multiclass_hidden_default_on_a_table_only():
    spec = multiclass_model(parse_model("hidden"), 3)
    assert table_choices(spec, None, None) == ("lbfgs", "ce")
    assert table_choices(spec, None, None, dropout=0.2) == ("adam", "ce")  # dropout's noise: Adam
    assert table_choices(multiclass_model(parse_model("hidden", "relu", True), 3), None, None) == ("adam", "ce")
    assert table_choices(multiclass_model(parse_model("linear"), 3), None, None) == ("newton", "ce")
    settings = model_settings(RunConfig(data=PENGUINS, target="species"), 3)["hidden"][1]
    assert settings.optimizer == "lbfgs" and settings.lr == 1.0 and settings.max_epochs == LBFGS_MAX_EPOCHS
    assert settings.tol == TABLE_TOL
    assert model_settings(RunConfig())["nnet"][1].optimizer == "adam"  # Titanic's lesson: unchanged
    assert lbfgs_refusal(spec, "mae") and lbfgs_refusal(spec, "ce", batch_size=32) and not lbfgs_refusal(spec, "ce")


def test_lbfgs_refused_in_one_line(tmp_path):
    out = tmp_path / "w.xlsx"
    result = runner.invoke(app, ["train", "--data", str(PENGUINS), "--target", "species", "-m", "hidden", "--optimizer", "lbfgs",
                                 "--batch-size", "32", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "--optimizer lbfgs" in result.output and "full batch" in result.output and not out.exists()


def test_no_step_raises_the_objective(species):
    spec, settings, X, y = species
    settings = replace(settings, l2=1e-3, restarts=3, epochs=150)
    objectives = []
    fit(spec, settings, X, y, on_epoch=lambda epoch, params: objectives.append(_objective(spec, settings, params, X, y)))
    for before, after in zip(objectives, objectives[1:]):
        assert (after <= before * (1 + 1e-12)).all(), (before, after)
    assert (objectives[-1] < 0.1 * objectives[0]).all()  # and it went somewhere


def test_restarts_side_by_side_equal_each_alone(species):
    spec, settings, X, y = species
    together = fit(spec, replace(settings, l2=1e-2, restarts=3, epochs=40), X, y)
    for r in range(3):
        alone = fit(spec, replace(settings, l2=1e-2, seed=settings.seed + r, epochs=40), X, y)
        assert abs(alone.train_loss - together.restart_losses[r]) <= 1e-10 * alone.train_loss, (r, alone.train_loss,
                                                                                                together.restart_losses)


def test_lbfgs_reaches_torch_lbfgs_and_adams_objective(species):
    spec, settings, X, y = species
    settings = replace(settings, l2=1e-2)
    ours = fit(spec, settings, X, y)
    assert ours.converged, ours.stop_reason
    adam = fit(spec, replace(default_settings(spec, "adam", "ce"), tol=TABLE_TOL, l2=1e-2), X, y)

    def objective(params):
        return _objective(spec, settings, {k: v[None] for k, v in params.items()}, X, y).item()

    drawn = init_params(spec, X.shape[1], torch.Generator().manual_seed(settings.seed))
    start = {k: v[None].clone().requires_grad_() for k, v in drawn.items()}  # one restart
    reference = torch.optim.LBFGS(list(start.values()), max_iter=2_000, history_size=10, tolerance_grad=1e-10,
                                  tolerance_change=1e-14, line_search_fn="strong_wolfe")

    def closure():
        reference.zero_grad()
        value = _objective(spec, settings, start, X, y).sum()
        value.backward()
        return value

    reference.step(closure)
    theirs = objective({k: v[0].detach() for k, v in start.items()})
    assert abs(objective(ours.params) - theirs) <= 1e-4 * theirs, (objective(ours.params), theirs)
    assert objective(ours.params) <= objective(adam.params) * (1 + 1e-3), (objective(ours.params), objective(adam.params))
    assert len(ours.history) < len(adam.history) / 3, (len(ours.history), len(adam.history))


def test_a_refit_by_lbfgs_starts_where_it_ended(species):
    spec, settings, X, y = species
    first = fit(spec, replace(settings, l2=1e-2), X[:-40], y[:-40])
    refit = fit(spec, refit_settings(first), X, y, init=refit_start(first))
    cold = fit(spec, refit_settings(first), X, y)  # from the start the first fit began at
    assert len(refit.history) < len(cold.history), (len(refit.history), len(cold.history))  # 54 against 87 when written
    assert refit.train_loss <= cold.train_loss * (1 + 1e-3), (refit.train_loss, cold.train_loss)
    newton = replace(first, settings=replace(first.settings, optimizer="newton"))
    assert refit_start(newton) is None  # the nnet's newton refits from its kept restart's start, as before


def test_after_its_first_steps_only_the_best_restarts_go_on(species, monkeypatch):
    """After KEEP_AFTER["lbfgs"] steps the KEPT_RESTARTS restarts with the lowest objective go on, with their pairs:
    each ends where it ends when every restart trains to the end (its loss within 1e-10 relative). The result
    names the kept restart by its own number, its history whole, every restart's loss."""
    spec, settings, X, y = species
    after = KEEP_AFTER["lbfgs"]
    settings = replace(settings, l2=1e-2, restarts=8, max_epochs=after + 20)
    widths, objectives = [], []

    def record(epoch, params):
        widths.append(params["W1"].shape[0])
        if epoch == after - 1:  # where step ``after`` starts: what the restarts are ranked by
            objectives.append(_objective(spec, settings, params, X, y))

    result = fit(spec, settings, X, y, on_epoch=record)
    assert widths[:after] == [8] * after and set(widths[after:]) == {KEPT_RESTARTS}, widths
    best_then = set(objectives[0].argsort()[:KEPT_RESTARTS].tolist())
    assert result.restart in best_then, (result.restart, best_then)
    assert len(result.restart_losses) == 8 and result.restart_losses[result.restart] == result.train_loss
    assert len(result.history) == after + 20 and all(h["train_loss"] == h["train_loss"] for h in result.history)
    assert "reached the cap" in result.stop_reason and not result.converged
    monkeypatch.setattr(training, "KEEP_AFTER", {})
    every = fit(spec, settings, X, y)
    for r in best_then:
        assert abs(every.restart_losses[r] - result.restart_losses[r]) <= 1e-10 * every.restart_losses[r], (
            r, every.restart_losses, result.restart_losses)
    assert result.restart == min(best_then, key=every.restart_losses.__getitem__)
