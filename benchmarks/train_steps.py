"""The default ``train`` on real tables, two checkouts side by side: same results, in how many epochs and seconds.

For each table of :mod:`benchmarks.datasets` (the 80% training split of benchmarks/any_csv.py) and the 5,000 x 20
table of benchmarks/fast_paths.py, a fresh Python per checkout (``--before DIR``, then this one, taking turns)
runs ``titanic_lab.runs.train_run`` with the defaults and reports, per model: its optimizer, epochs, the kept
parameters' training loss, the validation metrics, seconds; and the chosen sheet and the whole run's seconds.
``--drops`` compares this checkout with itself under the convergence rule's learning-rate drops for ``newton``
too (``titanic_lab.training.NO_LR_DROPS`` emptied: the rule before newton stopped at its first plateau).

    python benchmarks/train_steps.py (--before DIR | --drops) [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks")]

from any_csv import split  # noqa: E402
from datasets import available  # noqa: E402
from fast_paths import table  # noqa: E402

#: Run in a fresh Python with a checkout first on the path: one default train_run, its figures as JSON.
RUN = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
from titanic_lab import training
from titanic_lab.config import RunConfig
from titanic_lab.runs import prepare, train_run
if sys.argv[4] == "drops":
    training.NO_LR_DROPS = frozenset()
prepared = prepare(RunConfig(data=sys.argv[1], target=sys.argv[2], id_column=sys.argv[3] or None))
started = time.perf_counter()
run = train_run(prepared)
seconds = time.perf_counter() - started
print(json.dumps({"chosen": run.chosen, "seconds": seconds, "models": {
    name: {"optimizer": r.settings.optimizer, "epochs": len(r.history), "train_loss": r.train_loss,
           "validation": r.validation, "seconds": r.seconds} for name, r in run.results.items()}}))
"""


def train(checkout: Path, csv: Path, target: str, id_column: str | None, drops: bool = False) -> dict:
    # Run in the checkout: ``python -c`` puts the current folder before PYTHONPATH.
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    done = subprocess.run([sys.executable, "-c", RUN, str(csv), target, id_column or "", "drops" if drops else ""],
                          capture_output=True, text=True, env=env, check=True, cwd=checkout)
    return json.loads(done.stdout.strip().splitlines()[-1])


def rows(name: str, before: dict, after: dict) -> list[str]:
    out = []
    for model, a in after["models"].items():
        b = before["models"][model]
        rel = abs(a["train_loss"] - b["train_loss"]) / max(abs(b["train_loss"]), 1e-300)
        metrics = " / ".join(f"{k} {b['validation'][k]:.6g} -> {a['validation'][k]:.6g}" for k in a["validation"]
                             if k != "paired_se")
        out.append(f"| {name} | {model} ({a['optimizer']}) | {b['epochs']} -> {a['epochs']} | {b['train_loss']:.9g} | "
                   f"{a['train_loss']:.9g} | {rel:.1e} | {metrics} | {b['seconds']:.2f} -> {a['seconds']:.2f} |")
    out.append(f"| {name} | **train_run**, chosen {before['chosen']} -> {after['chosen']} | | | | | | "
               f"**{before['seconds']:.2f} -> {after['seconds']:.2f}** |")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    before = parser.add_mutually_exclusive_group(required=True)
    before.add_argument("--before", type=Path, help="the other checkout (a folder holding titanic_lab/)")
    before.add_argument("--drops", action="store_true", help="before: this checkout with newton's learning-rate drops")
    parser.add_argument("--out", type=Path, help="write the Markdown here (default: stdout)")
    args = parser.parse_args()
    loaded, skipped = available()
    lines = [
        f"Written by `python benchmarks/train_steps.py {'--drops' if args.drops else '--before DIR'}` on {time.strftime('%Y-%m-%d')}; load average at the "
        f"start {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores). Each table's default `train_run` "
        "in a fresh Python per checkout, before and after taking turns; seconds are train_run's own (data read, "
        "imports left out). rel. diff: of the kept restart's training loss.", "",
        "| table | model (optimizer) | epochs | train loss before | after | rel. diff | validation before -> after | "
        "seconds |", "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        tables = []
        for ds in loaded:
            folder = Path(tmp) / ds.name
            folder.mkdir()
            tables.append((ds.name, split(ds, folder).train_csv, ds.target, ds.id))
        tables.append(("5,000 x 20", table(Path(tmp))[0], "y", None))
        for i, (name, csv, target, id_column) in enumerate(tables):  # before first, then after first, in turn
            runs = [lambda: train(args.before or ROOT, csv, target, id_column, args.drops),
                    lambda: train(ROOT, csv, target, id_column)]
            before, after = (runs[0](), runs[1]()) if i % 2 == 0 else reversed([runs[1](), runs[0]()])
            lines += rows(name, before, after)
            print(lines[-1], file=sys.stderr)
    lines.append(f"\nLoad average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}.")
    if skipped:
        lines += ["", "Skipped: " + "; ".join(f"{k} ({v})" for k, v in skipped.items())]
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
