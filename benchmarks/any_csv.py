"""titanic-lab on real tables that pip packages ship, beside scikit-learn on the same split.

    python benchmarks/any_csv.py [--datasets NAME ...] [--models linear nnet] [--skip-memory | --memory-only | --chosen]
                                 [--memory-rows 100000] [--memory-train-args "--model linear --epochs 20"]
                                 [--out benchmarks/any_csv.md]

For each dataset of ``benchmarks/datasets.py`` (those whose package is installed):

1. a seeded 80/20 split (``train_test_split``, seed 0), written to ``train.csv`` and
   ``test.csv`` (the target column left out of the test file) in a temporary folder;
2. ``titanic-lab train --data train.csv --target T [--id ID] --valid-pct 0 --model M ...
   --out w.xlsx --json``, then ``titanic-lab predict --model w.xlsx --data test.csv --sheet M``
   per model; held-out RMSE (regression) or accuracy (binary, multiclass) from the predictions file;
3. scikit-learn on the same two files read back the same way: a standard ``ColumnTransformer``
   (numeric: median impute + scale; the rest: most-frequent impute + one-hot, unknown levels
   ignored) before ``RidgeCV`` / ``LogisticRegressionCV``, ``HistGradientBoosting`` and the mean /
   majority predictor;
4. ``titanic-lab verify w.xlsx`` (IronCalc): its largest relative difference;
5. least squares: the linear sheet's design matrix and target read back with
   ``titanic_lab.workbook.layout.read_model_sheets``; the sheet's mean squared error beside that of the
   optimum of the objective trained (least squares with the ridge penalty train chose by
   leave-one-out, ``numpy.linalg.lstsq`` on the augmented system) on the same matrix (relative gap). For a multiclass target, the
   sheet's log loss plus its penalty beside scikit-learn's multinomial ``LogisticRegression`` at the
   same penalty (``C = 1 / (l2 n)``, the l2 train chose by cross-validation) on the same matrix
   (unpenalized with ``--l2 0``: a separable table then has no finite optimum, both losses fall
   towards 0, and the gap is shown as ``separable``).

A multiclass target trains ``hidden`` where ``--models`` says ``nnet`` (the nnet sums its units
into one output), in the same column of the table.

``--chosen`` (issue 29) measures instead what a user gets with the defaults: ``train`` (20%
validation to choose on, the chosen model refit on every row), ``predict`` without ``--sheet``,
``verify``, each timed beside the floor (a fresh Python importing torch and pandas and reading
the CSV) in the same run, and the peers with their seconds: RidgeCV / LogisticRegressionCV,
HistGradientBoosting, the mean / majority, and fastai's ``tabular_learner`` with its defaults
(``--fastai-python``: a Python where fastai is installed; skipped with a note otherwise). Its
targets: the chosen model's RMSE at most 1.05x RidgeCV's, accuracy at least
LogisticRegressionCV's - 0.01, train + predict + verify at most 5x the floor. Writes
benchmarks/chosen.md.

Targets: RMSE at most 1.10x RidgeCV's; accuracy at least LogisticRegressionCV's - 0.02; verify
within 1e-9; linear's training objective within 1e-6 relative of its optimum at the penalty train
chose (ridge's least squares; multiclass: scikit-learn's penalised multinomial optimum).

Memory: a seeded synthetic table of ``--memory-rows`` rows and 50 columns (39 numeric with
blanks, skew and negative values, 10 text categoricals of 2 to 12 levels, a numeric target),
trained (with defaults, or ``--memory-train-args`` for both runs) and exported to .xlsx, beside a Titanic-shaped table of the same rows
(the bundled titanic3 resampled, as ``scale.py`` does) trained as Titanic, and
beside the floor of reading the synthetic CSV with pandas after importing torch. Each is a
command run by a fresh small Python parent, whose ``resource.getrusage(RUSAGE_CHILDREN)``
gives the peak RSS.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import LICENCES, NOTES, Dataset, available  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SEED = 0
TEST_SIZE = 0.2
#: Held-out RMSE at most this times RidgeCV's.
RMSE_RATIO = 1.10
#: Held-out accuracy at least LogisticRegressionCV's minus this.
ACCURACY_SLACK = 0.02
#: verify's tolerance (relative difference of a recalculated cell).
VERIFY_TOL = 1e-9
#: Linear's training MSE at most this relative gap above least squares'.
LSTSQ_REL = 1e-6

#: Runs ``titanic-lab ARGS``; returns (exit code, stdout, stderr).
Invoke = Callable[[Sequence[str]], tuple[int, str, str]]


def subprocess_invoke(args: Sequence[str]) -> tuple[int, str, str]:
    """``titanic-lab ARGS`` as ``python -m titanic_lab.cli`` with this checkout first on the path."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    done = subprocess.run([sys.executable, "-m", "titanic_lab.cli", *args], capture_output=True, text=True, env=env)
    return done.returncode, done.stdout, done.stderr


@dataclass
class Split:
    """One dataset's 80/20 split, on disk and read back as titanic-lab reads it."""

    dataset: Dataset
    train_csv: Path
    test_csv: Path
    train: pd.DataFrame
    test: pd.DataFrame  # without the target
    truth: pd.Series  # the test rows' targets, in the test file's order


def split(ds: Dataset, folder: Path, seed: int = SEED) -> Split:
    """Write ``ds`` as ``train.csv`` (80%) and ``test.csv`` (20%, no target) in ``folder``."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(ds.frame, test_size=TEST_SIZE, random_state=seed)
    train_csv, test_csv = folder / "train.csv", folder / "test.csv"
    train.to_csv(train_csv, index=False)
    test.drop(columns=[ds.target]).to_csv(test_csv, index=False)
    truth = pd.read_csv(io.StringIO(test[[ds.target]].to_csv(index=False)))[ds.target]  # as a CSV reader sees it
    return Split(ds, train_csv, test_csv, pd.read_csv(train_csv), pd.read_csv(test_csv), truth)


def score(task: str, truth: pd.Series, predicted: pd.Series) -> float:
    """RMSE (regression) or accuracy (binary, labels compared as read from CSV)."""
    if task == "regression":
        return float(np.sqrt(np.mean((truth.to_numpy(float) - predicted.to_numpy(float)) ** 2)))
    return float(np.mean(_labels(truth) == _labels(predicted)))


def _labels(values: pd.Series) -> np.ndarray:
    """Labels as comparable strings: 1 and 1.0 are the same label; text stays text."""
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().all():
        return numbers.map(lambda v: repr(float(v))).to_numpy()
    return values.astype(str).to_numpy()


def sklearn_scores(s: Split, names: Sequence[str] | None = None) -> dict[str, float]:
    """The baselines' held-out score on the split, each behind the standard ColumnTransformer.

    ``names`` picks some of them (``RidgeCV`` or ``LogisticRegressionCV``, ``HistGradientBoosting``,
    ``mean`` or ``majority``); default all.
    """
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegressionCV, RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    ds = s.dataset
    drop = [c for c in (ds.target, ds.id) if c]
    X, X_test, y = s.train.drop(columns=drop), s.test.drop(columns=[c for c in drop if c in s.test]), s.train[ds.target]

    def prep() -> ColumnTransformer:
        return ColumnTransformer([
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), make_column_selector(dtype_include=np.number)),
            ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
             make_column_selector(dtype_exclude=np.number)),
        ])

    if ds.task == "regression":
        models = {"RidgeCV": RidgeCV(alphas=np.logspace(-3, 3, 13)), "HistGradientBoosting": HistGradientBoostingRegressor(random_state=SEED),
                  "mean": DummyRegressor()}
    else:
        models = {"LogisticRegressionCV": LogisticRegressionCV(Cs=10, max_iter=5000),
                  "HistGradientBoosting": HistGradientBoostingClassifier(random_state=SEED),
                  "majority": DummyClassifier(strategy="most_frequent")}
    out = {}
    for name, model in models.items():
        if names is not None and name not in names:
            continue
        with warnings.catch_warnings():  # scikit-learn 1.9's notices of LogisticRegressionCV's coming defaults
            warnings.simplefilter("ignore", FutureWarning)
            pipe = make_pipeline(prep(), model).fit(X, y)
        out[name] = score(ds.task, s.truth, pd.Series(pipe.predict(X_test)))
    return out


@dataclass
class Outcome:
    """What titanic-lab did on one dataset (a failed step leaves its error and the later fields empty)."""

    name: str
    task: str
    rows: tuple[int, int]
    train_json: dict | None = None
    left_out: list[str] = field(default_factory=list)  # train's "left out COLUMN: why" lines
    scores: dict[str, float] = field(default_factory=dict)  # model sheet -> held-out score
    predictions_ok: dict[str, str] = field(default_factory=dict)  # model sheet -> "" or what is wrong
    verify: dict | None = None
    lstsq: tuple[float, float] | None = None  # (linear sheet's MSE, least squares' MSE)
    error: str = ""
    seconds: float = 0.0
    baselines: dict[str, float] = field(default_factory=dict)

    @property
    def lstsq_gap(self) -> float | None:
        if self.lstsq is None:
            return None
        ours, best = self.lstsq
        return (ours - best) / max(best, 1e-300)


def check_predictions(s: Split, preds: pd.DataFrame) -> str:
    """"" when ``preds`` has the id (or ``row``) column and the target column in the test file's order."""
    ds = s.dataset
    key = ds.id or "row"
    if list(preds.columns) != [key, ds.target]:
        return f"columns {list(preds.columns)}, expected {[key, ds.target]}"
    if len(preds) != len(s.test):
        return f"{len(preds)} rows, the test file has {len(s.test)}"
    expected = s.test[ds.id].astype(str).to_numpy() if ds.id else np.arange(1, len(s.test) + 1).astype(str)
    got = preds[key].astype(str).to_numpy() if ds.id else preds[key].astype(int).astype(str).to_numpy()
    if not (got == expected).all():
        return f"{key} column not in the test file's order (first difference at row {int(np.argmax(got != expected)) + 1})"
    return ""


def least_squares(book: Path, sheet: str = "linear", l2: float = 0.0) -> tuple[float, float]:
    """(the sheet's training MSE, the optimum's MSE) on the sheet's design matrix and target.

    Both are computed from the sheet's cached values: the features in the sheet's feature
    columns (the constant column included), the target as the sheet trains on it. The optimum
    is that of the objective trained, ``mean((Xw - y)²) + l2 / 2 |w|²`` (``l2``: the penalty
    train chose or was given): ``numpy.linalg.lstsq`` on ``[X; sqrt(n l2 / 2) I] w = [y; 0]``,
    plain least squares at ``l2 = 0``.
    """
    from titanic_lab.workbook.layout import read_model_sheets

    (ms,) = read_model_sheets(book, [sheet])
    X = np.column_stack([ms.column_values(f) for f in ms.features])
    y = _trained_target(ms)
    w = np.asarray(ms.params["w"], dtype=np.float64).reshape(-1)
    ours = float(np.mean((X @ w - y) ** 2))
    penalty = np.sqrt(len(y) * l2 / 2) * np.eye(X.shape[1])
    beta, *_ = np.linalg.lstsq(np.vstack([X, penalty]), np.concatenate([y, np.zeros(X.shape[1])]), rcond=None)
    best = float(np.mean((X @ beta - y) ** 2))
    return ours, best


def multinomial_optimum(book: Path, sheet: str = "linear", l2: float = 0.0) -> tuple[float, float]:
    """(the sheet's training objective, scikit-learn's) on the sheet's design matrix (its Ones column is the
    intercept) and classes: the mean log loss plus ``l2 / 2 |W|²``, the penalty train chose (or was given),
    scikit-learn's multinomial ``LogisticRegression(C=1 / (l2 n), fit_intercept=False)`` (unpenalized at 0)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    from titanic_lab.workbook.layout import read_model_sheets

    (ms,) = read_model_sheets(book, [sheet])
    X = np.column_stack([ms.column_values(f) for f in ms.features])
    target = ms.dataset.target
    y = target.values(ms.frame[target.column]).astype(int)
    labels = list(range(len(target.labels)))

    def objective(W: np.ndarray) -> float:
        scores = X @ W
        scores -= scores.max(axis=1, keepdims=True)
        probs = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
        return float(log_loss(y, probs, labels=labels) + l2 / 2 * (W**2).sum())

    ours = objective(np.asarray(ms.params["w"], dtype=np.float64))
    with warnings.catch_warnings():  # penalty=None's deprecation notice (scikit-learn 1.8)
        warnings.simplefilter("ignore", FutureWarning)
        model = (LogisticRegression(C=1 / (l2 * len(y)), fit_intercept=False, tol=1e-12, max_iter=1000, solver="newton-cholesky")
                 if l2 else LogisticRegression(penalty=None, fit_intercept=False, tol=1e-12, max_iter=100_000)).fit(X, y)
    return ours, objective(model.coef_.T)


def models_for(task: str, models: Sequence[str]) -> list[str]:
    """The models trained for a task: ``hidden`` in place of ``nnet`` for a multiclass target."""
    return [("hidden" if task == "multiclass" and m.split(":")[0] == "nnet" else m) for m in models]


def _trained_target(ms) -> np.ndarray:
    """The target the sheet's loss compares with: 0/1, or (target - the ``Min:`` cell) / the ``Target scale:`` cell."""
    target = ms.dataset.target
    y = ms.column_values(target.column)
    return target.learned(y) if target.is_regression else y


def run_dataset(ds: Dataset, models: Sequence[str] = ("linear", "nnet"), invoke: Invoke = subprocess_invoke,
                folder: Path | None = None, verify: bool = True, baselines: Sequence[str] | None = None) -> Outcome:
    """Split, train, predict per model, verify, least squares, and the baselines (``baselines``:
    see :func:`sklearn_scores`) for one dataset."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(folder or tmp)
        s = split(ds, work)
        out = Outcome(ds.name, ds.task, (len(s.train), len(s.test)))
        out.baselines = sklearn_scores(s, baselines)
        models = models_for(ds.task, models)
        book = work / "w.xlsx"
        args = ["train", "--data", str(s.train_csv), "--target", ds.target, "--valid-pct", "0", "--out", str(book), "--json"]
        if ds.id:
            args += ["--id", ds.id]
        for m in models:
            args += ["--model", m]
        started = time.perf_counter()
        code, stdout, stderr = invoke(args)
        out.seconds = time.perf_counter() - started
        if code != 0:
            out.error = f"train exit {code}: {_last_line(stderr or stdout)}"
            return out
        out.train_json = _json(stdout)
        out.left_out = [line.strip()[len("left out "):] for line in stderr.splitlines() if line.strip().startswith("left out ")]
        for m in models:
            preds_csv = work / f"preds-{m}.csv"
            code, stdout, stderr = invoke(["predict", "--model", str(book), "--data", str(s.test_csv), "--out", str(preds_csv),
                                           "--sheet", m])
            if code != 0:
                out.error = f"predict --sheet {m} exit {code}: {_last_line(stderr or stdout)}"
                return out
            preds = pd.read_csv(preds_csv)
            out.predictions_ok[m] = check_predictions(s, preds)
            if ds.target in preds:
                out.scores[m] = score(ds.task, s.truth, preds[ds.target])
        if verify:
            code, stdout, stderr = invoke(["verify", str(book), "--json"])
            out.verify = _json(stdout) or {"ok": False, "error": _last_line(stderr)}
        if "linear" in models:
            try:
                l2 = out.train_json["models"]["linear"]["settings"]["l2"]
                out.lstsq = multinomial_optimum(book, l2=l2) if ds.task == "multiclass" else least_squares(book, l2=l2)
            except Exception as exc:  # reported in the table, never hidden
                out.error = f"least squares from the linear sheet: {type(exc).__name__}: {exc}"
        return out


# ----------------------------------------------------------------------------- the chosen model, timed, with peers

#: The issue-29 targets for the model ``predict`` chooses (defaults: 20% validation, then refit on every row).
CHOSEN_RMSE_RATIO = 1.05
CHOSEN_ACCURACY_SLACK = 0.01
#: train + predict + verify at most this many times the floor (importing torch and pandas, reading the CSV).
CHOSEN_FLOOR_RATIO = 5.0

FASTAI_SCRIPT = """
import sys, time, warnings
import numpy as np, pandas as pd
from fastai.tabular.all import Categorify, FillMissing, Normalize, RandomSplitter, TabularDataLoaders, range_of, tabular_learner, accuracy, rmse
train, test, target, task, id_col = pd.read_csv(sys.argv[1]), pd.read_csv(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
drop = [c for c in (target, id_col) if c]
cont = [c for c in train.columns if c not in drop and pd.api.types.is_numeric_dtype(train[c])]
cat = [c for c in train.columns if c not in drop and c not in cont]
started = time.perf_counter()
if task == "binary":
    train[target] = train[target].astype(str)
dls = TabularDataLoaders.from_df(train, y_names=target, cat_names=cat, cont_names=cont, procs=[Categorify, FillMissing, Normalize],
                                 splits=RandomSplitter(valid_pct=0.2, seed=42)(range_of(train)),
                                 y_block=None if task == "binary" else __import__("fastai.tabular.all", fromlist=["RegressionBlock"]).RegressionBlock())
learn = tabular_learner(dls, metrics=accuracy if task == "binary" else rmse)
with learn.no_bar(), learn.no_logging(), warnings.catch_warnings():
    warnings.simplefilter("ignore")
    learn.fit_one_cycle(5)
dl = learn.dls.test_dl(test)
preds, _ = learn.get_preds(dl=dl)
out = preds.argmax(1).numpy() if task == "binary" else preds[:, 0].numpy()
if task == "binary":
    out = np.asarray(learn.dls.vocab)[out]
pd.DataFrame({"pred": out}).to_csv(sys.argv[6], index=False)
print(time.perf_counter() - started)
"""


def fastai_score(s: Split, python: str, folder: Path) -> tuple[float, float] | str:
    """fastai's ``tabular_learner`` with its defaults (layers 200, 100; Categorify, FillMissing, Normalize;
    20% validation, seed 42; ``fit_one_cycle(5)``) on the same files, run by ``python`` (where fastai is
    installed): (held-out score, seconds to fit and predict), or why it could not run."""
    ds, out = s.dataset, folder / "fastai.csv"
    done = subprocess.run([python, "-c", FASTAI_SCRIPT, str(s.train_csv), str(s.test_csv), ds.target, ds.task, ds.id or "",
                           str(out)], capture_output=True, text=True)
    if done.returncode != 0:
        return _last_line(done.stderr)
    return score(ds.task, s.truth, pd.read_csv(out)["pred"]), float(done.stdout.split()[-1])


@dataclass
class Chosen:
    """The model ``predict`` chooses on one dataset, timed, beside the floor and the peers (score, seconds)."""

    name: str
    task: str
    rows: tuple[int, int]
    sheet: str = ""
    why: str = ""
    score: float | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # floor, train, predict, verify
    peers: dict[str, tuple[float, float] | str] = field(default_factory=dict)
    error: str = ""


def floor_seconds(csv: Path) -> float:
    """Seconds of a fresh Python importing torch and pandas and reading ``csv``: the floor of any command."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import torch, pandas; pandas.read_csv({str(csv)!r})"], check=True)
    return time.perf_counter() - started


def run_chosen(ds: Dataset, fastai_python: str | None = None, invoke: Invoke = subprocess_invoke) -> Chosen:
    """Train with the defaults (choose on 20%, refit on every row), predict with the sheet predict chooses, verify;
    each timed beside the floor, and the peers on the same split."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        s = split(ds, work)
        out = Chosen(ds.name, ds.task, (len(s.train), len(s.test)))
        out.seconds["floor"] = floor_seconds(s.train_csv)
        book, preds_csv = work / "w.xlsx", work / "preds.csv"
        steps = {"train": ["train", "--data", str(s.train_csv), "--target", ds.target, *(["--id", ds.id] if ds.id else []),
                           "--out", str(book)],
                 "predict": ["predict", "--model", str(book), "--data", str(s.test_csv), "--out", str(preds_csv)],
                 "verify": ["verify", str(book)]}
        for step, args in steps.items():
            started = time.perf_counter()
            code, stdout, stderr = invoke(args)
            out.seconds[step] = time.perf_counter() - started
            if code != 0:
                out.error = f"{step} exit {code}: {_last_line(stderr or stdout)}"
                return out
            if step == "predict":
                line = " ".join(stdout.split())
                out.sheet = line.split("sheet '", 1)[1].split("'", 1)[0] if "sheet '" in line else "?"
                out.why = line.split("chosen: ", 1)[1][:-1] if "chosen: " in line else ""  # the line's last ")" closes "(model: ..."
                out.score = score(ds.task, s.truth, pd.read_csv(preds_csv)[ds.target])
        names = ("RidgeCV", "HistGradientBoosting", "mean") if ds.task == "regression" else (
            "LogisticRegressionCV", "HistGradientBoosting", "majority")
        for name in names:
            started = time.perf_counter()
            value = sklearn_scores(s, [name])[name]
            out.peers[name] = (value, time.perf_counter() - started)
        out.peers["fastai"] = fastai_score(s, fastai_python, work) if fastai_python else "not run (--fastai-python not given)"
        return out


def chosen_holds(o: Chosen) -> bool | None:
    """The quality target of the chosen model: RMSE <= 1.05x RidgeCV's, accuracy >= LogisticRegressionCV's - 0.01."""
    ref = o.peers.get(reference_name(o.task))
    if o.score is None or not isinstance(ref, tuple):
        return None
    return o.score <= CHOSEN_RMSE_RATIO * ref[0] if o.task == "regression" else o.score >= ref[0] - CHOSEN_ACCURACY_SLACK


def render_chosen(outcomes: list[Chosen], skipped: dict[str, str], load: str) -> str:
    """The chosen-model table: scores with seconds beside them, and train + predict + verify against the floor."""
    lines = [
        f"Written by `python benchmarks/any_csv.py --chosen` on {datetime.date.today().isoformat()} ({platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; load average at the start {load}). Seeded 80/20 split "
        f"(seed {SEED}); `titanic-lab train` with its defaults (linear and nnet; a binary table linear, sigmoid and nnet; a "
        "multiclass table linear and hidden; 20% validation to choose on by the one-standard-error rule, the chosen "
        "model refit on every row), `predict` without `--sheet` (the sheet it chooses), `verify` (IronCalc). Targets: the "
        f"chosen model's RMSE <= {CHOSEN_RMSE_RATIO:.2f}x RidgeCV, accuracy >= LogisticRegressionCV - {CHOSEN_ACCURACY_SLACK}; "
        f"train + predict + verify <= {CHOSEN_FLOOR_RATIO:g}x the floor (a fresh Python importing torch and pandas and "
        "reading the training CSV, same run). Each peer: held-out score (seconds to fit and predict).",
        "",
        "| dataset | task | rows | titanic-lab (sheet chosen) | Ridge / LogReg CV | HistGradientBoosting | fastai | mean / majority "
        "| target holds | floor s | train s | predict s | verify s | all / floor |",
        "| --- " * 14 + "|",
    ]
    for o in outcomes:
        cells = {k: f"{_fmt(o.task, v[0])} ({v[1]:.1f} s)" if isinstance(v, tuple) else "-" for k, v in o.peers.items()}
        ref, hgb, fastai = (cells.get(k, "-") for k in (reference_name(o.task), "HistGradientBoosting", "fastai"))
        base = cells.get("mean" if o.task == "regression" else "majority", "-")
        held = chosen_holds(o)
        sec = o.seconds
        total = sum(sec.get(k, 0.0) for k in ("train", "predict", "verify"))
        lines.append(
            f"| {o.name} | {o.task} | {o.rows[0]}/{o.rows[1]} | {_fmt(o.task, o.score)} ({o.sheet or '-'}) | {ref} | {hgb} | "
            f"{fastai} | {base} | {'-' if held is None else ('yes' if held else '**no**')} | {sec.get('floor', 0):.1f} | "
            f"{sec.get('train', 0):.1f} | {sec.get('predict', 0):.1f} | {sec.get('verify', 0):.1f} | "
            f"{total / sec['floor']:.1f}x |")
    notes = [f"- {o.name}: {o.error}" for o in outcomes if o.error]
    notes += [f"- {o.name}, fastai: {o.peers['fastai']}" for o in outcomes if isinstance(o.peers.get("fastai"), str)]
    notes += [f"- {o.name}: predict chose {o.sheet} by the {o.why}" for o in outcomes if o.why]
    if notes:
        lines += ["", *notes]
    if skipped:
        lines += ["", "Skipped: " + "; ".join(f"{k} ({v})" for k, v in skipped.items())]
    return "\n".join(lines) + "\n"


def _json(text: str) -> dict | None:
    start = text.find("{")
    try:
        return json.loads(text[start:]) if start >= 0 else None
    except json.JSONDecodeError:
        return None


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def reference_name(task: str) -> str:
    return "RidgeCV" if task == "regression" else "LogisticRegressionCV"


def holds(task: str, ours: float, reference: float) -> bool:
    """The quality target: RMSE <= 1.10x RidgeCV's, accuracy >= LogisticRegressionCV's - 0.02."""
    if task == "regression":
        return ours <= RMSE_RATIO * reference
    return ours >= reference - ACCURACY_SLACK


def max_verify_diff(report: dict | None) -> float | None:
    if not report or "columns" not in report:
        return None
    return max((c["max_diff"] for c in report["columns"]), default=0.0)


# ----------------------------------------------------------------------------- memory

def synthetic_table(n: int, seed: int = SEED) -> pd.DataFrame:
    """``n`` rows, 50 columns: 39 numeric (blanks, skewed, negative), 10 text categoricals, target ``y``."""
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray] = {}
    signal = np.zeros(n)
    for j in range(39):
        kind = j % 3
        x = rng.lognormal(0, 1, n) if kind == 0 else (rng.normal(0, 1, n) if kind == 1 else rng.uniform(0, 100, n))
        signal += (j % 5 - 2) * (np.log1p(x) if kind == 0 else (x if kind == 1 else x / 100))
        if j % 4 == 0:
            x = np.where(rng.random(n) < 0.05, np.nan, x)
        cols[f"x{j:02d}"] = np.round(x, 4)
    for j in range(10):
        levels = 2 + j
        codes = rng.integers(0, levels, n)
        signal += np.linspace(-1, 1, levels)[codes]
        cols[f"cat{j}"] = np.array([f"level_{k}" for k in range(levels)])[codes]
    cols["y"] = np.round(50 + 5 * signal + rng.normal(0, 3, n), 3)
    return pd.DataFrame(cols)


def wide_table(seed: int, n: int, n_numeric: int, n_text: int, levels: int, task: str) -> pd.DataFrame:
    """``n`` rows of numeric columns and text columns of ``levels`` levels each (uneven shares), target ``y``."""
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray] = {f"x{j}": rng.normal(size=n).round(3) for j in range(n_numeric)}
    names = [f"v{k}" for k in range(levels)]
    for j in range(n_text):
        cols[f"cat{j}"] = rng.choice(names, size=n, p=rng.dirichlet(np.ones(levels)))
    signal = sum(np.tanh(cols[f"x{j}"] * rng.normal()) for j in range(n_numeric)) + np.maximum(cols["x0"] * cols["x1"], 0)
    for j in range(n_text):
        signal = signal + pd.Series(cols[f"cat{j}"]).map(dict(zip(names, rng.normal(size=levels)))).to_numpy()
    y = signal + rng.normal(size=n) * 0.7
    cols["y"] = (y > np.median(y)).astype(int) if task == "binary" else (y * 10 + 50).round(2)
    return pd.DataFrame(cols)


def titanic_shaped(n: int, seed: int = SEED) -> pd.DataFrame:
    """The bundled titanic3 resampled with replacement to ``n`` rows (as ``scale.py`` exports)."""
    from titanic_lab import bundled_path, read_titanic

    rows = read_titanic(bundled_path()).dropna(subset=["Age", "Embarked"])
    return rows.sample(n, replace=True, random_state=seed)


def peak_rss_of(command: Sequence[str]) -> tuple[float, float, int]:
    """(peak RSS in MB, seconds, exit code) of ``command`` run by a fresh, small Python parent."""
    code = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter(); rc = subprocess.run(json.loads(sys.argv[1]), stdout=subprocess.DEVNULL, "
        "stderr=subprocess.DEVNULL).returncode\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, time.perf_counter() - t, rc)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code, json.dumps(list(command))], capture_output=True, text=True, check=True,
                         env=env).stdout.split()
    return float(out[0]), float(out[1]), int(out[2])


def memory_figures(n: int, train_args: Sequence[str] = ()) -> list[str]:
    """The memory table: the floor, the Titanic-shaped run and the synthetic run, each with ``train_args`` added."""
    cli = [sys.executable, "-m", "titanic_lab.cli"]
    extra = list(train_args)
    shown = f" {' '.join(extra)}" if extra else ""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        synth, titanic = work / "synthetic.csv", work / "titanic.csv"
        synthetic_table(n).to_csv(synth, index=False)
        titanic_shaped(n).to_csv(titanic, index=False)
        runs = [
            ("floor: `import torch, pandas` + `pandas.read_csv` of the synthetic table", [sys.executable, "-c",
             f"import torch, pandas; pandas.read_csv({str(synth)!r})"]),
            (f"Titanic-shaped, {n:,} rows: `titanic-lab train --data titanic.csv{shown} --out t.xlsx`",
             [*cli, "train", "--data", str(titanic), *extra, "--out", str(work / "t.xlsx")]),
            (f"synthetic, {n:,} rows x 50 columns (10 categoricals): `titanic-lab train --data synthetic.csv --target y{shown} "
             f"--out s.xlsx`", [*cli, "train", "--data", str(synth), "--target", "y", *extra, "--out", str(work / "s.xlsx")]),
        ]
        lines = ["| run | peak RSS | wall time | exit | workbook |", "| --- | --- | --- | --- | --- |"]
        for label, command in runs:
            mb, seconds, rc = peak_rss_of(command)
            book = next((Path(a) for a in command if a.endswith(".xlsx")), None)
            size = f"{book.stat().st_size / 1e6:,.1f} MB" if book is not None and book.exists() else "-"
            line = f"| {label} | {mb:,.0f} MB | {seconds:,.1f} s | {rc} | {size} |"
            print(line, flush=True)
            lines.append(line)
    return lines


# ----------------------------------------------------------------------------- report

def _fmt(task: str, value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4f}" if task != "regression" else f"{value:.4g}"


def render(outcomes: list[Outcome], skipped: dict[str, str], models: Sequence[str]) -> str:
    lines = [
        f"Written by `python benchmarks/any_csv.py` on {datetime.date.today().isoformat()} ({platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}). Seeded 80/20 split (seed {SEED}); held-out RMSE "
        f"(regression, target units) or accuracy (binary, multiclass) from `titanic-lab predict`'s file; scikit-learn behind "
        f"the standard ColumnTransformer on the same files. Targets: RMSE <= {RMSE_RATIO:.2f}x RidgeCV, accuracy >= "
        f"LogisticRegressionCV - {ACCURACY_SLACK}; verify (IronCalc) within {VERIFY_TOL:g}; linear's training MSE within "
        f"{LSTSQ_REL:g} relative of its optimum on the linear sheet's design matrix at the penalty train chose: "
        f"`numpy.linalg.lstsq` of the ridge system (multiclass: its log loss plus the penalty beside scikit-learn's "
        f"multinomial LogisticRegression's at C = 1 / (l2 n)). A multiclass target trains hidden in the nnet column.",
        "",
        "| dataset | task | rows train/test | " + " | ".join(f"titanic-lab {m}" for m in models)
        + " | Ridge / LogReg CV | HistGradientBoosting | mean / majority | target holds | verify max diff | linear vs its "
          "optimum (rel. gap) | train s |",
        "| --- " * (11 + len(models) - 1) + "|",
    ]
    for o in outcomes:
        ref_name = reference_name(o.task)
        ref = o.baselines.get(ref_name)
        ours = [o.scores.get(m) for m in models_for(o.task, models)]
        verdicts = []
        for m, v in zip(models_for(o.task, models), ours):
            if v is not None and ref is not None:
                verdicts.append(f"{m} {'yes' if holds(o.task, v, ref) else '**no**'}")
        vd = max_verify_diff(o.verify)
        verify_cell = "-" if o.verify is None else (f"{vd:.1e}" + ("" if o.verify.get("ok") else " **fails**") if vd is not None
                                                    else "**fails**")
        gap = o.lstsq_gap
        gap_cell = "-" if gap is None else f"{gap:.1e}" + ("" if gap <= LSTSQ_REL else " **no**")
        if o.task == "multiclass" and o.lstsq is not None and o.lstsq[1] < 1e-6:  # no finite optimum to meet
            gap_cell = f"separable ({o.lstsq[0]:.0e} vs {o.lstsq[1]:.0e})"
        other = next(k for k in o.baselines if k not in (ref_name, "HistGradientBoosting"))
        lines.append(
            f"| {o.name} | {o.task} | {o.rows[0]}/{o.rows[1]} | " + " | ".join(_fmt(o.task, v) for v in ours)
            + f" | {_fmt(o.task, ref)} | {_fmt(o.task, o.baselines.get('HistGradientBoosting'))} | {_fmt(o.task, o.baselines.get(other))} "
              f"| {', '.join(verdicts) or '-'} | {verify_cell} | {gap_cell} | {o.seconds:.1f} |"
        )
    problems = [(o.name, o.error) for o in outcomes if o.error] + [
        (o.name, f"predictions of {m}: {msg}") for o in outcomes for m, msg in o.predictions_ok.items() if msg]
    if problems:
        lines += ["", "Failures (the lead's notes: /work/notes/bugs-any-csv.md):", ""]
        lines += [f"- {name}: {msg}" for name, msg in problems]
    lines += ["", "Features titanic-lab inferred (from `train --json`), and what each loader changed:", ""]
    for o in outcomes:
        lines.append(f"- {o.name}: {NOTES.get(o.name, '')}; {_spec_summary(o)}. Source: {LICENCES.get(o.name, '')}.")
    if skipped:
        lines += ["", "Skipped: " + "; ".join(f"{k} ({v})" for k, v in skipped.items())]
    return "\n".join(lines) + "\n"


MEMORY_HEADING = "### Memory"


def render_memory(n: int, memory: list[str]) -> str:
    return "\n".join([
        f"{MEMORY_HEADING} at {n:,} rows", "",
        f"Written by `python benchmarks/any_csv.py --memory-only` on {datetime.date.today().isoformat()}. Peak RSS of each "
        "command, run by a fresh small Python parent (`resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`); the tables are "
        "generated at run time (seeded); wall times are those of a shared 2-core machine:", "", *memory]) + "\n"


def with_section(text: str, section: str | None) -> str:
    """``text`` (the datasets' part) followed by ``section`` (the memory part) when there is one."""
    return text.rstrip("\n") + "\n\n" + section if section else text


def memory_section(path: Path) -> str | None:
    """The memory part of an existing report, kept when a run measures only the datasets."""
    if not path.exists():
        return None
    text = path.read_text(encoding="utf-8")
    at = text.find(MEMORY_HEADING)
    return text[at:] if at >= 0 else None


def _spec_summary(o: Outcome) -> str:
    """The inferred features (``train --json``) and the columns left out (train's stderr)."""
    if not o.train_json:
        return "no summary"
    features = o.train_json.get("features") or []
    stops = "; ".join(f"{m}: {r.get('stop_reason')}" for m, r in (o.train_json.get("models") or {}).items())
    return (f"{len(features)} features ({', '.join(features)})" + (f"; left out {'; '.join(o.left_out)}" if o.left_out else "")
            + (f"; {stops}" if stops else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description="titanic-lab on real tables beside scikit-learn")
    parser.add_argument("--datasets", nargs="+", default=None)
    parser.add_argument("--models", nargs="+", default=["linear", "nnet"])
    parser.add_argument("--skip-memory", action="store_true", help="measure the datasets only (keep the report's memory part)")
    parser.add_argument("--memory-only", action="store_true", help="measure memory only (keep the report's datasets part)")
    parser.add_argument("--memory-rows", type=int, default=100_000)
    parser.add_argument("--memory-train-args", default="", help="extra train options for both memory runs, e.g. '--epochs 20'")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("any_csv.md"))
    parser.add_argument("--chosen", action="store_true", help="the model predict chooses with train's defaults, timed, "
                        "beside the floor and the peers (writes benchmarks/chosen.md)")
    parser.add_argument("--fastai-python", default=None, help="a Python where fastai is installed, for the fastai peer")
    args = parser.parse_args()
    if args.chosen:
        datasets, skipped = available(args.datasets)
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        outcomes = []
        for ds in datasets:
            o = run_chosen(ds, args.fastai_python)
            print(f"{o.name}: {o.score} ({o.sheet}) {o.peers} {o.seconds} {o.error}", flush=True)
            outcomes.append(o)
        target = args.out if args.out != parser.get_default("out") else Path(__file__).with_name("chosen.md")
        target.write_text(render_chosen(outcomes, skipped, load), encoding="utf-8")
        print(f"wrote {target}")
        return 0
    if args.memory_only:
        section = render_memory(args.memory_rows, memory_figures(args.memory_rows, args.memory_train_args.split()))
        old = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        at = old.find(MEMORY_HEADING)
        args.out.write_text(with_section(old[:at] if at >= 0 else old, section), encoding="utf-8")
        print(f"wrote {args.out}")
        return 0
    datasets, skipped = available(args.datasets)
    outcomes = []
    for ds in datasets:
        o = run_dataset(ds, args.models)
        stops = {m: r.get("stop_reason") for m, r in ((o.train_json or {}).get("models") or {}).items()}
        print(f"{o.name}: {o.scores} vs {o.baselines}; verify {max_verify_diff(o.verify)}; lstsq gap {o.lstsq_gap}; "
              f"{o.seconds:.1f} s; {stops} {o.error}", flush=True)
        outcomes.append(o)
    section = (memory_section(args.out) if args.skip_memory else
               render_memory(args.memory_rows, memory_figures(args.memory_rows, args.memory_train_args.split())))
    args.out.write_text(with_section(render(outcomes, skipped, args.models), section), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
