"""The nnet's training on real tables, before and after its fast path (issue 29).

    python benchmarks/nnet_fit.py [--datasets fair diabetes ...] [--before DIR] [--out benchmarks/nnet_fit.md]

Two tables, both on each dataset of ``benchmarks/datasets.py`` split as ``any_csv.py`` splits it
(seeded 80/20, seed 0; the 80% is the training file):

1. **Same rows, same process.** The default nnet (16 restarts) on the training file's own 80/20
   validation split, trained the old way (Adam at 0.03, the convergence rule at
   ``TABLE_TOL``) and the new way (``newton`` with its line search, the table default), then
   with the weight decay chosen on the validation rows (``choose_decay``): epochs (steps),
   seconds, the training loss (mean squared error of ``target / scale``) and the validation
   metric of each.
2. **End to end** (``--before DIR``: a checkout of the code before, e.g.
   ``git archive <commit> | tar -x -C DIR``): ``titanic-lab train`` with its defaults (linear and
   nnet, 20% validation, the chosen model refit on every row) and ``predict`` on the held-out
   20%, by the old code and the new, alternated, each beside the floor (a fresh Python importing
   torch and pandas and reading the CSV) in the same run: train seconds, the nnet's epochs, the
   sheet predict chose and its held-out score.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from any_csv import floor_seconds, score, split  # noqa: E402
from datasets import available  # noqa: E402

from titanic_lab.config import RunConfig  # noqa: E402
from titanic_lab.runs import _metrics_on, _validation, model_settings, prepare  # noqa: E402
from titanic_lab.training import TABLE_TOL, choose_decay, default_settings, fit  # noqa: E402

DEFAULT_DATASETS = ("fair", "breast_cancer", "diabetes", "penguins_sex", "anes96", "seattle_weather", "grunfeld", "cars",
                    "penguins_mass", "star98")


def _metric(validation: dict) -> str:
    return " / ".join(f"{k} {v:.4g}" for k, v in validation.items())


def same_rows(ds, train_csv: Path) -> str:
    """One row of the same-rows table: Adam (before) and newton (after) on the training file's 80%."""
    p = prepare(RunConfig(data=train_csv, target=ds.target, id_column=ds.id, models=("nnet",)))
    spec, newton = model_settings(p.config, p.dataset.target.n_outputs)["nnet"]
    X, y, Xv, yv = p.X[p.train_idx], p.y[p.train_idx], p.X[p.valid_idx], p.y[p.valid_idx]
    classify = not p.dataset.target.is_regression
    cells = []
    for settings in (replace(default_settings(spec), tol=TABLE_TOL), newton):
        started = time.perf_counter()
        result = fit(spec, settings, X, y, Xv, yv, classify=classify)
        seconds = time.perf_counter() - started
        cells += [f"{len(result.history):,}", f"{seconds:.2f}", f"{result.train_loss:.6g}", _metric(_validation(p, result))]
    started = time.perf_counter()
    decayed = choose_decay(result, X, y, Xv, yv, lambda r, rows, target: _metrics_on(p, r, rows, target),
                           p.dataset.target.task)
    seconds = time.perf_counter() - started + result.seconds
    cells += [f"{decayed.settings.l2:g}", f"{seconds:.2f}", _metric(_validation(p, decayed))]
    return f"| {ds.name} | {len(X)}/{len(Xv)} | " + " | ".join(cells) + " |"


def end_to_end(ds, s, code: Path) -> dict:
    """``train`` (defaults) and ``predict`` with the code in ``code``: seconds, the nnet's epochs, the held-out score."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    with tempfile.TemporaryDirectory() as tmp:
        book, preds = Path(tmp) / "w.xlsx", Path(tmp) / "preds.csv"
        train = [sys.executable, "-m", "titanic_lab.cli", "train", "--data", str(s.train_csv), "--target", ds.target,
                 *(["--id", ds.id] if ds.id else []), "--out", str(book), "--json"]
        started = time.perf_counter()
        done = subprocess.run(train, capture_output=True, text=True, env=env, cwd=tmp)  # not this checkout's folder first
        seconds = time.perf_counter() - started
        if done.returncode:
            return {"error": done.stderr.strip().splitlines()[-1]}
        report = json.loads(done.stdout[done.stdout.index("{"):done.stdout.rindex("}") + 1])
        done = subprocess.run([sys.executable, "-m", "titanic_lab.cli", "predict", "--model", str(book), "--data",
                               str(s.test_csv), "--out", str(preds)], capture_output=True, text=True, env=env, cwd=tmp)
        if done.returncode:
            return {"error": done.stderr.strip().splitlines()[-1]}
        nnet = report["models"].get("nnet", {})
        assert Path(json.loads(subprocess.run([sys.executable, "-c", "import json, titanic_lab; print(json.dumps(titanic_lab.__file__))"],
                                              capture_output=True, text=True, env=env, cwd=tmp).stdout)).is_relative_to(code)
        return {"seconds": seconds, "epochs": nnet.get("epochs_run"), "chosen": report.get("chosen"),
                "score": score(ds.task, s.truth, pd.read_csv(preds)[ds.target])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=list(DEFAULT_DATASETS))
    parser.add_argument("--before", type=Path, help="a checkout of the code before (end to end skipped without it)")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("nnet_fit.md"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    loaded, skipped = available(args.datasets)
    load = " ".join(open("/proc/loadavg").read().split()[:3]) if Path("/proc/loadavg").exists() else "?"
    lines = [f"Written by `python benchmarks/nnet_fit.py` on {datetime.date.today()} ({platform.machine()}, "
             f"{os.cpu_count()} cores, Python {platform.python_version()}; load average at the start {load}).", "",
             "Same rows, same process: the default nnet (16 restarts) on the 80% training file's own 80/20 split. "
             "Train loss: mean squared error of target / scale on the training rows; valid: the task's metrics "
             "(titanic_lab.choosing).", "",
             "| dataset | rows train/valid | Adam epochs | Adam s | Adam train loss | Adam valid | newton steps | newton s "
             "| newton train loss | newton valid | decay chosen | newton + decay s | valid with decay |",
             "| --- " * 13 + "|"]
    splits = {}
    folder = Path(tempfile.mkdtemp())
    for ds in loaded:
        (folder / ds.name).mkdir()
        splits[ds.name] = split(ds, folder / ds.name)
        lines.append(same_rows(ds, splits[ds.name].train_csv))
        print(lines[-1], flush=True)
    if args.before:
        lines += ["", f"End to end: `titanic-lab train` (defaults) then `predict` on the held-out 20%, the code before "
                  f"(`{args.before}`) and after, alternated; floor: a fresh Python importing torch and pandas and "
                  "reading the training CSV, in the same run.", "",
                  "| dataset | rows | floor s | train s before | train s after | nnet epochs before | after "
                  "| chosen before | after | held-out before | after |", "| --- " * 11 + "|"]
        for ds in loaded:
            s = splits[ds.name]
            floor = floor_seconds(s.train_csv)
            before, after = end_to_end(ds, s, args.before), end_to_end(ds, s, ROOT)
            if "error" in before or "error" in after:
                lines.append(f"| {ds.name} | {len(s.train)} | {floor:.1f} | {before.get('error', '')} | {after.get('error', '')} "
                             "| | | | | | |")
            else:
                lines.append(f"| {ds.name} | {len(s.train)} | {floor:.1f} | {before['seconds']:.1f} | {after['seconds']:.1f} | "
                             f"{before['epochs']} | {after['epochs']} | {before['chosen']} | {after['chosen']} | "
                             f"{before['score']:.4g} | {after['score']:.4g} |")
            print(lines[-1], flush=True)
    load = " ".join(open("/proc/loadavg").read().split()[:3]) if Path("/proc/loadavg").exists() else "?"
    lines += ["", f"Load average at the end: {load}." + (f" Not run: {skipped}." if skipped else "")]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
