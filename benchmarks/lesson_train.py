"""Titanic's default ``titanic-lab train`` end to end against the import floor, this checkout beside another (issue 29).

    python benchmarks/lesson_train.py --before DIR [--repeats 5]

``DIR`` is another checkout of titanic-lab (``git archive COMMIT titanic_lab | tar -x -C DIR``).
Each command runs as a fresh ``python -m titanic_lab`` process with ``PYTHONPATH`` set to one
checkout; the floor (a fresh Python importing torch and pandas and reading Kaggle's train.csv),
before and after take turns in every repeat, so that all three see the same moments of a loaded
machine. Then, in this process, the default run's two ``fit`` calls (linear, the nnet's 16
restarts) with the gradient by hand (:mod:`titanic_lab.exact_backward`) and by autograd, taking
turns. Prints a markdown section (medians and minima, the load average before and after) to
append to benchmarks/fast_paths.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fast_paths import ROOT, seconds  # noqa: E402  (a fresh process's wall seconds, from one checkout)

KAGGLE = Path(os.environ.get("TITANIC_LAB_KAGGLE", "/work/shared/data/kaggle")) / "train.csv"


def fit_seconds(repeats: int) -> dict[tuple[str, str], list[float]]:
    """The default Kaggle run's ``fit`` per model, the gradient by hand and by autograd taking turns."""
    sys.path.insert(0, str(ROOT))
    from titanic_lab import training
    from titanic_lab.config import RunConfig
    from titanic_lab.runs import prepare

    p = prepare(RunConfig(data=str(KAGGLE)))
    rows = p.X[p.train_idx], p.y[p.train_idx], p.X[p.valid_idx], p.y[p.valid_idx]
    by_hand, times = training._by_hand, {}
    for _ in range(repeats):
        for way in ("autograd", "by hand"):
            training._by_hand = by_hand if way == "by hand" else (lambda spec, settings: False)
            for name, (spec, settings) in p.models.items():
                started = time.perf_counter()
                training.fit(spec, settings, *rows)
                times.setdefault((name, way), []).append(time.perf_counter() - started)
    training._by_hand = by_hand
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    floor = f"import torch, pandas; pandas.read_csv({str(KAGGLE)!r})"
    steps = {  # name -> arguments, given the folder to write in
        f"`titanic-lab train --data {KAGGLE.name}`": lambda d: ["train", "--data", str(KAGGLE), "--out", str(d / "t.xlsx")],
        "`titanic-lab train` (bundled titanic3)": lambda d: ["train", "--out", str(d / "t.xlsx")],
    }
    sides = {"before": args.before.resolve(), "after": ROOT}
    times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            times.setdefault(("floor", ""), []).append(seconds(None, [floor]))
            for name, step in steps.items():
                for side, checkout in sides.items():
                    times.setdefault((name, side), []).append(seconds(checkout, step(Path(tmp))))
    fits = fit_seconds(args.repeats)
    load_after = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    floor_med, floor_min = statistics.median(times[("floor", "")]), min(times[("floor", "")])
    lines = [
        f"### Titanic's default train against the floor ({datetime.date.today().isoformat()}, `benchmarks/lesson_train.py`)",
        "",
        f"`python benchmarks/lesson_train.py --before DIR --repeats {args.repeats}`; load average {load} at the start, "
        f"{load_after} at the end (2 cores). Fresh processes, floor, before and after taking turns; median (min) of "
        f"{args.repeats}. Floor (`{floor}`): {floor_med:.2f} s ({floor_min:.2f} s).",
        "",
        "| command | before | after | after / before | before / floor | after / floor |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name in steps:
        before, after = times[(name, "before")], times[(name, "after")]
        b, a = statistics.median(before), statistics.median(after)
        lines.append(f"| {name} | {b:.2f} s ({min(before):.2f} s) | {a:.2f} s ({min(after):.2f} s) | {a / b:.2f}x | "
                     f"{b / floor_med:.2f}x | {a / floor_med:.2f}x ({min(after) / floor_min:.2f}x of the minima) |")
    lines += ["", "In one process, the Kaggle run's `fit` (the same settings, the same figures both ways):", "",
              "| model | autograd | by hand | by hand / autograd |", "| --- | --- | --- | --- |"]
    for name in dict.fromkeys(k[0] for k in fits):
        auto, hand = fits[(name, "autograd")], fits[(name, "by hand")]
        lines.append(f"| {name} | {statistics.median(auto):.3f} s ({min(auto):.3f} s) | {statistics.median(hand):.3f} s "
                     f"({min(hand):.3f} s) | {statistics.median(hand) / statistics.median(auto):.2f}x |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
