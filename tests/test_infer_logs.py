"""A skewed column's log is kept where it lowers the linear model's leave-one-out error
(``preprocessing.choose_logs``), whichever way one column's correlation pointed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import RidgeCV

from titanic_lab.datasets.infer import log_alternatives
from titanic_lab.features.preset import Preset
from titanic_lab.features.steps import log1p, number, ones
from titanic_lab.leave_one_out import ALPHAS, best_loo_error
from titanic_lab.preprocessing import LOG_CHOICE_MAX_ROWS, choose_logs


def _table(truth_is_log: bool, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x, z = rng.lognormal(0, 1.2, 200), rng.normal(size=200)
    truth = np.log10(x + 1) if truth_is_log else x
    return pd.DataFrame({"x": x, "z": z, "y": 2 * truth / truth.max() + 0.5 * z + 0.05 * rng.normal(size=200)})


@pytest.mark.parametrize("truth_is_log", [False, True])
def test_the_log_is_kept_or_dropped_by_the_leave_one_out_error(truth_is_log):
    df = _table(truth_is_log)
    logged = log1p("x", "log_x", base=10.0, scale="max", fill="median")
    plain = number("x", "x_N", scale="max", fill="median")
    start = plain if truth_is_log else logged  # the wrong one first
    preset = Preset("t", (start, number("z", "z_Z", scale="zscore", fill="median"), ones("Ones")),
                    description="inferred from t.csv: " + ", ".join((start.output_name, "z_Z", "Ones")))
    assert log_alternatives(preset, df) == {0: (logged, plain)}
    got = choose_logs(preset, df, df["y"])
    assert got.features[0] == (logged if truth_is_log else plain) and got.features[1:] == preset.features[1:]
    assert got.description == "inferred from t.csv: " + ", ".join(f.output_name for f in got.features)
    hidden = df["y"].where(df.index < 20)  # 20 rows scored only: the choice is theirs
    assert choose_logs(preset, df, hidden).features[0] in (logged, plain)
    many = pd.concat([df] * (LOG_CHOICE_MAX_ROWS // len(df) + 1), ignore_index=True)
    assert choose_logs(preset, many, many["y"]) == preset  # a large table: the correlation's choice stands


def test_the_error_compared_is_ridgecvs_best_leave_one_out():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.normal(size=(80, 5)), np.ones(80)])
    y = X[:, :2] @ np.array([1.0, -1.0]) + rng.normal(size=80)
    ref = RidgeCV(alphas=ALPHAS[1:], fit_intercept=False, store_cv_results=True).fit(X, y)
    best = min(min(ref.cv_results_.mean(axis=0)), best_loo_error(X, y))  # alpha 0 is ours only
    assert best_loo_error(X, y) == pytest.approx(best, rel=1e-8)


def test_choices_that_would_cost_too_much_are_left_to_the_correlation(monkeypatch):
    import titanic_lab.preprocessing as preprocessing

    df = _table(False)
    logged = log1p("x", "log_x", base=10.0, scale="max", fill="median")
    preset = Preset("t", (logged, number("z", "z_Z", scale="zscore", fill="median"), ones("Ones")))
    assert choose_logs(preset, df, df["y"]).features[0] != logged  # the truth is x itself: the log turned over
    monkeypatch.setattr(preprocessing, "LOG_CHOICE_WORK", 10.0)
    assert choose_logs(preset, df, df["y"]) == preset
