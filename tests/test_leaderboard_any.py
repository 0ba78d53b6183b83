"""``leaderboard --target``: any CSV's board, its baselines on the same folds, and bad options.

The tables are made here, seeded and small; titanic-lab's models train with a loose
convergence rule and one restart (as tests/test_readme.py does) so the file runs fast.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from titanic_lab.cli import app
from titanic_lab.dataset import infer_spec, spec_to_toml
from titanic_lab.preprocessing import TabularPreprocessor

runner = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n"
FOLDS, REPEATS, SEED = 3, 2, 7


def table(n: int = 120, seed: int = 3) -> pd.DataFrame:
    """An id, numbers with blanks, a skewed number, text with three and two levels, free text,
    a numeric target (price) and a text one (expensive: Yes/No)."""
    rng = np.random.default_rng(seed)
    size = rng.uniform(20, 200, n)
    income = rng.lognormal(3, 1, n)
    colour = rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2])
    owner = rng.choice(["yes", "no"], n)
    price = 3 * size + 40 * np.log1p(income) + 50 * (colour == "green") + 90 * (owner == "yes") + rng.normal(0, 20, n)
    df = pd.DataFrame({"house_id": np.arange(501, 501 + n), "size": size, "income": income, "colour": colour,
                       "owner": owner, "note": [f"text {i}" for i in range(n)], "price": price})
    df.loc[rng.choice(n, 9, replace=False), "size"] = np.nan
    df.loc[rng.choice(n, 5, replace=False), "colour"] = np.nan
    df["expensive"] = np.where(price > np.median(price), "Yes", "No")
    return df


@pytest.fixture(autouse=True)
def quick_models(monkeypatch):
    """titanic-lab's models with a loose convergence rule and one restart."""
    from titanic_lab import runs
    from titanic_lab.training import default_settings, with_overrides

    def quick(spec, optimizer=None, loss=None):
        return with_overrides(default_settings(spec, optimizer, loss), window=20, tol=1e-3, max_epochs=400, restarts=1)

    monkeypatch.setattr(runs, "default_settings", quick)  # train's settings, which every fold takes


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lb_any")
    df = table()
    df.drop(columns=["expensive"]).to_csv(folder / "houses.csv", index=False)
    df.drop(columns=["price"]).to_csv(folder / "binary.csv", index=False)
    return folder


def _invoke(*args: str, repeats: int = REPEATS):
    return runner.invoke(app, ["leaderboard", "--folds", str(FOLDS), "--repeats", str(repeats), "--seed", str(SEED), *args])


def _folds(y: np.ndarray | None = None):
    """The folds computed here, independently: RepeatedKFold, or stratified on ``y``."""
    from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold

    if y is None:
        return list(RepeatedKFold(n_splits=FOLDS, n_repeats=REPEATS, random_state=SEED).split(np.zeros(len(table()))))
    return list(RepeatedStratifiedKFold(n_splits=FOLDS, n_repeats=REPEATS, random_state=SEED).split(np.zeros(len(y)), y))


def test_regression_board_and_its_baselines_on_the_same_folds(files):
    result = _invoke("--data", str(files / "houses.csv"), "--target", "price", "--id", "house_id", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["target"], report["task"], report["rows"]) == ("price", "regression", 120)
    assert "grouped" not in report and "target: price: regression" in result.stderr
    models = {m["name"]: m for m in report["models"]}
    assert set(models) == {"linear", "nnet", "mean", "RidgeCV", "HistGradientBoosting"}
    rmses = [m["rmse"] for m in report["models"]]
    assert rmses == sorted(rmses)  # lowest RMSE first
    for m in report["models"]:
        assert m["folds"] == FOLDS * REPEATS and "accuracy" not in m and "accuracies" not in m

    df = table()
    y = df["price"].to_numpy()
    # The mean predictor, recomputed on folds made here: the RMSE about the training part's mean.
    expected = [np.sqrt(np.mean((y[test] - y[train].mean()) ** 2)) for train, test in _folds()]
    assert models["mean"]["rmses"] == pytest.approx(expected, rel=1e-9)
    assert models["mean"]["rmse"] > 2 * models["RidgeCV"]["rmse"]  # the features carry the price
    assert models["linear"]["rmse"] < 0.6 * models["mean"]["rmse"]

    # RidgeCV, recomputed: the spec inferred from each fold's training part (a skewed column's log then chosen
    # by the leave-one-out error, as train chooses it), its medians, maxima and scales fitted there too.
    from sklearn.linear_model import RidgeCV

    from titanic_lab.preprocessing import choose_logs

    ridge = []
    for train, test in _folds():
        rows = df.iloc[train]
        spec = infer_spec(rows.drop(columns=["expensive"]), "price", "house_id")
        pre = TabularPreprocessor(choose_logs(spec.features, rows, rows["price"])).fit(rows)
        fitted = RidgeCV(alphas=np.logspace(-4, 3, 15)).fit(pre.transform(df.iloc[train]), y[train])
        ridge.append(np.sqrt(np.mean((fitted.predict(pre.transform(df.iloc[test])) - y[test]) ** 2)))
    assert models["RidgeCV"]["rmses"] == pytest.approx(ridge, rel=1e-6)


def test_binary_text_target_board(files):
    result = _invoke("--data", str(files / "binary.csv"), "--target", "expensive", "--id", "house_id", repeats=1)
    assert result.exit_code == 0, result.output
    assert "expensive: binary (No = 0, Yes = 1)" in result.stdout and f"{FOLDS}-fold x 1 cross-validation" in result.stdout
    for text in ("linear", "nnet", "sigmoid", "majority class", "LogisticRegression", "HistGradientBoosting",
                 "accuracy", "Brier loss"):
        assert text in result.stdout
    assert "RMSE" not in result.stdout and "by ticket" not in result.stdout


def test_binary_baselines_on_the_same_stratified_folds(files):
    result = _invoke("--data", str(files / "binary.csv"), "--target", "expensive", "-m", "majority", "-m", "logistic", "--json")
    assert result.exit_code == 0, result.output
    models = {m["name"]: m for m in json.loads(result.stdout)["models"]}
    assert set(models) == {"majority class", "LogisticRegression"}
    y = (table()["expensive"] == "Yes").to_numpy(dtype=int)
    # The majority class of each training part, scored on its held-out part.
    expected = [float(np.mean((y[train].mean() > 0.5) == y[test])) for train, test in _folds(y)]
    assert models["majority class"]["accuracies"] == pytest.approx(expected, abs=1e-12)
    assert models["LogisticRegression"]["accuracy"] > models["majority class"]["accuracy"] + 0.2
    assert all(0 <= m["loss"] <= 1 for m in models.values())


def test_model_choice_spec_exclude_and_plot(files, tmp_path):
    spec, plot, held = tmp_path / "spec.toml", tmp_path / "lb.png", tmp_path / "held.csv"
    spec.write_text(spec_to_toml(infer_spec(table().drop(columns=["expensive"]), "price", "house_id")))
    table().head(30)[["house_id", "size"]].to_csv(held, index=False)
    result = _invoke("--data", str(files / "houses.csv"), "--spec", str(spec), "-m", "ridge", "-m", "MEAN", "-m", "nnet:3", "-m", "nnet:2",
                     "--exclude-from", str(held), "--plot", str(plot), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert sorted(m["name"] for m in report["models"]) == ["RidgeCV", "mean", "nnet", "nnet:3"]
    assert report["rows"] == 90 and "left out 30 rows whose house_id is in" in result.stderr
    assert plot.read_bytes()[:8] == PNG


@pytest.mark.parametrize("args, message", [
    (["--target", "price", "--grouped"], "--grouped/--no-grouped: folds grouped by ticket are Titanic's"),
    (["--target", "price", "--no-grouped"], "--grouped/--no-grouped"),
    (["--target", "prize"], "--target 'prize': no such column"),
    (["--id", "house_id"], "--id names the id column of a table given with --target"),
    (["--target", "price", "-m", "forest"], "unknown leaderboard model 'forest' for a regression target"),
    (["--target", "price", "-m", "sigmoid"], "a sigmoid output predicts between 0 and 1 only"),
    (["--target", "price", "-m", "nnet:0"], "nnet:0"),
    (["--target", "price", "--folds", "1"], "--folds must be at least 2"),
    (["--target", "price", "--folds", "61"], "needs at least 122 rows"),
])
def test_bad_options_get_one_line(files, args, message):
    result = _invoke("--data", str(files / "houses.csv"), *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.output


def test_too_few_rows_of_a_class_is_refused(tmp_path):
    data = tmp_path / "rare.csv"
    df = table()
    df["rare"] = np.where(np.arange(len(df)) < 2, "Yes", "No")
    df.drop(columns=["expensive", "price"]).to_csv(data, index=False)
    result = _invoke("--data", str(data), "--target", "rare")
    assert result.exit_code == 2
    assert "needs at least 3 rows of each value of rare; the data has 2" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_each_fold_trains_with_trains_settings_and_chosen_penalty(files, monkeypatch):
    """The board's own training takes ``train``'s settings (its tolerance for hidden layers, the penalty
    chosen by data on the fold's training rows), or the entry's --l2 when it gives one."""
    from titanic_lab import leaderboard
    from titanic_lab.config import RunConfig
    from titanic_lab.leaderboard import Entry, fit_predict
    from titanic_lab.penalty import choose_penalty
    from titanic_lab.runs import model_settings
    from titanic_lab.training import TABLE_TOL

    df = pd.read_csv(files / "binary.csv")
    spec = infer_spec(df, "expensive", "house_id")
    seen = {}

    def recording_fit(model, settings, X, y, **kwargs):
        seen[model.name] = (settings, X, y)
        return real_fit(model, settings, X, y, **kwargs)

    real_fit = leaderboard.fit
    monkeypatch.setattr(leaderboard, "fit", recording_fit)
    train, test = df.iloc[:90], df.iloc[90:]
    for model in ("sigmoid", "linear", "nnet"):
        fit_predict(Entry(model, model, "", True), train, test, dataset=spec)
    for model in ("sigmoid", "linear", "nnet"):
        settings, X, y = seen[model]
        ((model_spec, trains),) = model_settings(RunConfig(target="expensive", models=(model,))).values()
        choice = choose_penalty(model_spec, trains, X, y)
        assert settings == (trains if choice is None else replace(trains, l2=choice.l2))
    assert seen["nnet"][0].tol == TABLE_TOL and seen["sigmoid"][0].l2 > 0 and seen["linear"][0].l2 >= 0
    fit_predict(Entry("sigmoid", "sigmoid", "", True, (("l2", 0.5),)), train, test, dataset=spec)
    assert seen["sigmoid"][0].l2 == 0.5  # the entry's own --l2 wins
