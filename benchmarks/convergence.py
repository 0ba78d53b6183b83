"""Training to convergence, and training beside a busy process (issue 15).

    python benchmarks/convergence.py [--repeats 5]

Writes benchmarks/convergence.md, which benchmarks/run.py includes in BENCHMARKS.md:

* epochs and seconds to convergence per model and preset, with the stop reason, on Kaggle's
  train.csv when ../shared is there (else the bundled titanic3), every row used for training;
* the contention ratio: the default nnet (891 rows, 16 restarts, 300 epochs) trained while
  another process keeps one core busy, with titanic-lab's own thread choice and with one
  thread forced, alternated run by run in the same load; and, for context, torch's default of
  one thread per core forced by lifting the small-product limit.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from titanic_lab import training  # noqa: E402
from titanic_lab.config import RunConfig  # noqa: E402
from titanic_lab.models import parse_model  # noqa: E402
from titanic_lab.runs import prepare  # noqa: E402
from titanic_lab.training import default_settings, fit  # noqa: E402

KAGGLE_TRAIN = ROOT.parent / "shared" / "data" / "kaggle" / "train.csv"
PRESETS = {"linear": ("spreadsheet", "extended", "groups"), "nnet": ("spreadsheet", "extended", "groups"),
           "sigmoid": ("notebook",), "hidden": ("notebook",), "deep": ("notebook",)}


def convergence_rows(data: str | None) -> list[str]:
    rows = ["| model | preset | epochs | seconds | train loss | stopped |", "| --- | --- | --- | --- | --- | --- |"]
    for model, presets in PRESETS.items():
        for preset in presets:
            p = prepare(RunConfig(data=data, preset=preset, valid_pct=0, complete_rows=False, models=(model,)))
            spec = parse_model(model)
            started = time.perf_counter()
            result = fit(spec, default_settings(spec), p.X, p.y)
            seconds = time.perf_counter() - started
            rows.append(f"| {model} | {preset} | {len(result.history)} | {seconds:.2f} | {result.train_loss:.6f} | {result.stop_reason} |")
            print(rows[-1], flush=True)
    return rows


def contention(data: str | None, repeats: int) -> list[str]:
    p = prepare(RunConfig(data=data, valid_pct=0, models=("nnet",)))
    spec = parse_model("nnet")
    settings = replace(default_settings(spec), epochs=300)
    cores = torch.get_num_threads()

    def run(threads: int | None, lift: bool = False) -> float:
        torch.set_num_threads(threads or cores)
        limit = training.PARALLEL_WORK
        training.PARALLEL_WORK = 0 if lift else limit
        try:
            started = time.perf_counter()
            fit(spec, settings, p.X, p.y)
            return time.perf_counter() - started
        finally:
            training.PARALLEL_WORK = limit
            torch.set_num_threads(cores)

    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        times: dict[str, list[float]] = {"auto": [], "one": [], "every": []}
        kinds = {"auto": lambda: run(None), "one": lambda: run(1), "every": lambda: run(None, lift=True)}
        order = list(kinds)
        for i in range(repeats):  # alternated, each round starting with another kind, so each sees the same load
            for name in order[i % 3:] + order[:i % 3]:
                times[name].append(kinds[name]())
        auto, one, every = times["auto"], times["one"], times["every"]
    finally:
        busy.kill()
    a, o, e = (statistics.median(x) for x in (auto, one, every))
    return [
        f"Default nnet, {len(p.X)} rows, 16 restarts, 300 epochs, beside a process spinning on one of {cores} cores "
        f"(medians of {repeats} alternated runs, each round starting with another):",
        "",
        "| threads | seconds | ratio to one thread | target |",
        "| --- | --- | --- | --- |",
        f"| titanic-lab's choice (threads_for) | {a:.3f} | {a / o:.2f}x | <= 1.2x: {'yes' if a / o <= 1.2 else '**no**'} |",
        f"| one thread forced | {o:.3f} | 1.00x | - |",
        f"| torch's default, {cores} threads forced | {e:.3f} | {e / o:.2f}x | - |",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    data = str(KAGGLE_TRAIN) if KAGGLE_TRAIN.exists() else None
    lines = [f"Data: {data or 'the bundled titanic3'}, every row, float64, default settings, "
             f"{torch.get_num_threads()} torch threads allowed.", "", *convergence_rows(data), "", *contention(data, args.repeats)]
    out = Path(__file__).with_name("convergence.md")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines[-7:]))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
