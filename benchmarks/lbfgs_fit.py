"""lbfgs against Adam on the models it now trains by default on any table (issue 29).

    python benchmarks/lbfgs_fit.py [--before DIR] [--out benchmarks/lbfgs_fit.md]

Tables: the multiclass tables of ``benchmarks/datasets.py`` (penguins_species, iris, wine), split as
``any_csv.py`` splits them (seeded 80/20, seed 0; the 80% is the training file), and two built
here from scikit-learn's generators (no file kept): ``classes5k``, ``make_classification`` with
6,250 rows (5,000 in the training file), 18 numeric columns (one with 5% blanks), two text columns
derived from them and 5 classes; ``friedman60``, ``make_friedman1`` with 2,500 rows and 60 features
(2,000 in the training file), a regression target, whose nnet (61 x 2 = 122 weights) is over
``NEWTON_UNITS_WEIGHTS``.

1. **Same rows, same process.** The model (``hidden`` for a multiclass target, else the nnet with
   its 16 restarts) on the training file's own 80/20 validation split: the way it trained before
   (Adam; for ``hidden`` at the finder's rate and at most 5,000 epochs, the nnet at 0.03 and 10,000),
   and by ``lbfgs`` (the default now), both under the table's convergence rule (``TABLE_TOL``),
   without decay and at weight decay 1e-3 and 1e-2; and, for ``hidden`` at the decays,
   ``torch.optim.LBFGS`` (strong Wolfe line search, 10 pairs, run until its own tolerances) from
   the same start. Shown: steps (epochs), seconds, the training objective (the data loss plus
   ``l2 / 2 * sum p^2``) and the validation accuracy (RMSE for regression).
2. **End to end** (``--before DIR``: a checkout of the code before, e.g.
   ``git archive <commit> | tar -x -C DIR``): ``titanic-lab train`` with its defaults, ``predict``
   on the held-out 20%, ``verify``, by the old code and the new, alternated per table, each beside
   the floor (a fresh Python importing torch and pandas and reading the CSV) in the same run.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from datasets import Dataset, iris, penguins_species, wine  # noqa: E402

from titanic_lab.config import RunConfig  # noqa: E402
from titanic_lab.models import accuracy, forward, init_params  # noqa: E402
from titanic_lab.ops import LOSSES  # noqa: E402
from titanic_lab.runs import prepare  # noqa: E402
from titanic_lab.training import TABLE_TOL, _penalty, default_settings, fit  # noqa: E402

SEED = 0


def classes5k() -> Dataset:
    """5 classes from ``make_classification``: 18 numeric columns, 5% blanks in one, two text columns."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=6250, n_features=18, n_informative=10, n_redundant=4, n_classes=5,
                               n_clusters_per_class=2, flip_y=0.03, random_state=SEED)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(18)])
    frame["color"] = np.where(X[:, 0] > 0.5, "red", np.where(X[:, 1] > 0, "green", "blue"))
    frame["size"] = pd.cut(X[:, 2], [-np.inf, -1, 0, 1, np.inf], labels=["S", "M", "L", "XL"]).astype(str)
    frame.loc[np.random.default_rng(SEED).random(len(frame)) < 0.05, "x3"] = np.nan
    frame["label"] = np.array(list("abcde"))[y]
    return Dataset("classes5k", frame, "label", None, "multiclass")


def friedman60() -> Dataset:
    """``make_friedman1`` with 60 features (5 matter), a regression target."""
    from sklearn.datasets import make_friedman1

    X, y = make_friedman1(n_samples=2500, n_features=60, noise=1.0, random_state=SEED)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(60)]).assign(y=y)
    return Dataset("friedman60", frame, "y", None, "regression")


def split(ds: Dataset, folder: Path) -> tuple[Path, Path, pd.Series]:
    """The seeded 80/20 split of ``any_csv.py``: train.csv, test.csv (no target) and the test rows' targets."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(ds.frame, test_size=0.2, random_state=SEED)
    train.to_csv(folder / "train.csv", index=False)
    test.drop(columns=ds.target).to_csv(folder / "test.csv", index=False)
    return folder / "train.csv", folder / "test.csv", test[ds.target].reset_index(drop=True)


def objective(spec, settings, params, X, y) -> float:
    """The training objective of one restart's parameters: the data loss plus the l2 penalty."""
    batched = {k: v[None] for k, v in params.items()}
    with torch.no_grad():
        return (LOSSES[settings.loss](forward(spec, batched, X), y) + _penalty(batched, settings)).item()


def torch_lbfgs(spec, settings, X, y) -> tuple[float, int, float]:
    """torch.optim.LBFGS (strong Wolfe, 10 pairs) from restart 0's start: objective, iterations, seconds."""
    drawn = init_params(spec, X.shape[1], torch.Generator().manual_seed(settings.seed))
    start = {k: v[None].clone().requires_grad_() for k, v in drawn.items()}
    opt = torch.optim.LBFGS(list(start.values()), max_iter=3_000, history_size=10, tolerance_grad=1e-10,
                            tolerance_change=1e-14, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        value = (LOSSES[settings.loss](forward(spec, start, X), y) + _penalty(start, settings)).sum()
        value.backward()
        return value

    started = time.perf_counter()
    opt.step(closure)
    seconds = time.perf_counter() - started
    return objective(spec, settings, {k: v[0].detach() for k, v in start.items()}, X, y), opt.state[opt._params[0]]["n_iter"], seconds


def same_rows(ds: Dataset, train_csv: Path) -> list[str]:
    """Part 1's rows for one table."""
    model = "hidden" if ds.task == "multiclass" else "nnet"
    p = prepare(RunConfig(data=str(train_csv), target=ds.target, models=(model,)))
    ((spec, table), ) = p.models.values()
    X, y, Xv, yv = p.X[p.train_idx], p.y[p.train_idx], p.X[p.valid_idx], p.y[p.valid_idx]
    classify = ds.task != "regression"
    before = replace(default_settings(spec, "adam", table.loss) if model == "hidden" else default_settings(spec), tol=TABLE_TOL)
    rows = []
    for l2 in (0.0, 1e-3, 1e-2):
        for name, settings in (("Adam (before)", replace(before, l2=l2)), ("lbfgs", replace(table, l2=l2))):
            started = time.perf_counter()
            r = fit(spec, settings, X, y, Xv, yv, classify=classify)
            seconds = time.perf_counter() - started
            with torch.no_grad():
                out = forward(spec, r.params, Xv)
                valid = accuracy(out, yv, spec.outputs > 1).item() if classify else (out - yv).pow(2).mean().sqrt().item()
            rows.append(f"| {ds.name} | {l2:g} | {name} | {len(r.history):,} | {seconds:.2f} | {objective(spec, settings, r.params, X, y):.6g} "
                        f"| {valid:.4g} | {r.stop_reason.split(' (')[0].split(';')[0]} |")
        if model == "hidden" and l2 > 0:
            value, steps, seconds = torch_lbfgs(spec, replace(table, l2=l2), X, y)
            rows.append(f"| {ds.name} | {l2:g} | torch.optim.LBFGS | {steps:,} | {seconds:.2f} | {value:.6g} | | its own tolerances |")
    return rows


def floor_seconds(csv: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import torch, pandas; pandas.read_csv({str(csv)!r})"], check=True)
    return time.perf_counter() - started


def end_to_end(ds: Dataset, folder: Path, train_csv: Path, test_csv: Path, truth: pd.Series, before: Path | None) -> list[str]:
    """Part 2's rows for one table: the old code and the new, alternated, each beside the floor."""
    rows = []
    for side, checkout in (("before", before), ("after", ROOT)):
        if checkout is None:
            continue
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        floor = floor_seconds(train_csv)
        book, preds = folder / f"{side}.xlsx", folder / f"{side}.csv"
        seconds = {}
        for step, args in (("train", ["train", "--data", str(train_csv), "--target", ds.target, "--out", str(book)]),
                           ("predict", ["predict", "--model", str(book), "--data", str(test_csv), "--out", str(preds)]),
                           ("verify", ["verify", str(book)])):
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "titanic_lab.cli", *args], env=env, capture_output=True, text=True)
            seconds[step] = time.perf_counter() - started
            if done.returncode != 0:
                raise SystemExit(f"{ds.name} {side} {step}: exit {done.returncode}: {done.stderr[-300:]}")
            if step == "predict":
                line = " ".join(done.stdout.split())
                sheet = line.split("sheet '", 1)[1].split("'", 1)[0] if "sheet '" in line else "?"
        predicted = pd.read_csv(preds)[ds.target]
        if ds.task == "regression":
            score = f"RMSE {float(np.sqrt(((predicted - truth) ** 2).mean())):.4g}"
        else:
            score = f"accuracy {float((predicted.astype(str) == truth.astype(str)).mean()):.4f}"
        total = sum(seconds.values())
        rows.append(f"| {ds.name} | {side} | {score} ({sheet}) | {floor:.1f} | {seconds['train']:.1f} | {seconds['predict']:.1f} "
                    f"| {seconds['verify']:.1f} | {total / floor:.1f}x |")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, default=None, help="a checkout of the code before, for the end-to-end table")
    parser.add_argument("--datasets", nargs="+", default=None)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("lbfgs_fit.md"))
    args = parser.parse_args()
    torch.set_num_threads(1)  # as fit runs products this small (training.threads_for), torch.optim's reference too
    tables = [f() for f in (penguins_species, iris, wine, classes5k, friedman60)]
    tables = [t for t in tables if args.datasets is None or t.name in args.datasets]
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    fits, runs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for ds in tables:
            folder = Path(tmp) / ds.name
            folder.mkdir()
            train_csv, test_csv, truth = split(ds, folder)
            fits += same_rows(ds, train_csv)
            print(*fits[-7:], sep="\n", flush=True)
            runs += end_to_end(ds, folder, train_csv, test_csv, truth, args.before)
            print(*runs[-2:], sep="\n", flush=True)
    end = " ".join(f"{x:.1f}" for x in os.getloadavg())
    text = [f"Written by `python benchmarks/lbfgs_fit.py{' --before DIR' if args.before else ''}` on {datetime.date.today()} "
            f"({platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; load average {load} at the "
            f"start, {end} at the end). See the script's docstring for what each column is.", "",
            "## Same rows, same process", "",
            "| table | l2 | how | steps | seconds | training objective | validation accuracy (RMSE) | stop |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |", *fits]
    if runs:
        text += ["", "## End to end (defaults: train, predict, verify)", "",
                 "| table | code | held-out score (sheet predict chose) | floor s | train s | predict s | verify s | all / floor |",
                 "| --- | --- | --- | --- | --- | --- | --- | --- |", *runs]
    args.out.write_text("\n".join(text) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
