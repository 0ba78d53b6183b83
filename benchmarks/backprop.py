"""The backprop and gradient descent sheets: recalculation time, size and write time.

    python benchmarks/backprop.py [--repeats 3] [--out benchmarks/backprop.md]

On the lesson's data (Kaggle's train.csv from ../shared, 712 complete rows; else the bundled
titanic3), in one run:

* IronCalc's recalculation of a ``-m deep:10,10 --backprop-sheet`` workbook against today's
  default workbook (``titanic-lab train``, linear + nnet): the median wall time of
  ``Engine.recalculate`` (a child process loading and evaluating the file), the two taking turns
  in each repeat. Target: at most 2x the default workbook's time.
* Each workbook's size, and the time to write it (``write_workbook``, in process, median),
  beside the same run written without the backprop sheet.
* The same for ``--gd-sheet`` (30 epochs, adam) on the default models, for scale.

``benchmarks/run.py`` includes the table in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KAGGLE_TRAIN = ROOT.parent / "shared" / "data" / "kaggle" / "train.csv"
TARGET = 2.0


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description="backprop and gradient descent sheets: recalculation, size, write time")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("backprop.md"))
    args = parser.parse_args()
    import torch

    from titanic_lab import RunConfig, train_run
    from titanic_lab.data import bundled_path
    from titanic_lab.engines import ENGINES
    from titanic_lab.workbook import write_workbook

    torch.set_num_threads(1)
    data = KAGGLE_TRAIN if KAGGLE_TRAIN.exists() else bundled_path()
    ironcalc = ENGINES["ironcalc"]
    runs = {
        "default (linear + nnet)": train_run(RunConfig(data=str(data))),
        "-m deep:10,10 --backprop-sheet": train_run(RunConfig(data=str(data), models=("deep:10,10",), epochs=30, backprop_sheet=True)),
        "--gd-sheet --gd-optimizer adam (linear + nnet, 30 epochs)": train_run(
            RunConfig(data=str(data), gd_sheet=True, gd_optimizer="adam")),
    }
    rows, recalc = [], {name: [] for name in runs}
    with tempfile.TemporaryDirectory() as tmp:
        books = {}
        for k, (name, run) in enumerate(runs.items()):
            path = Path(tmp) / f"{k}.xlsx"
            written = statistics.median(timed(lambda: write_workbook(run, path)) for _ in range(args.repeats))
            plain = dataclasses.replace(run, config=dataclasses.replace(run.config, backprop_sheet=False, gd_sheet=False))
            plain_path = Path(tmp) / f"{k}-plain.xlsx"
            plain_written = statistics.median(timed(lambda: write_workbook(plain, plain_path)) for _ in range(args.repeats))
            books[name] = path
            rows.append((name, len(run.frame), path.stat().st_size, plain_path.stat().st_size, written, plain_written))
        for _ in range(args.repeats):  # the workbooks take turns, so all see the same moments of the machine
            for name, path in books.items():
                recalc[name].append(timed(lambda: ironcalc.recalculate(path)))
    seconds = {name: statistics.median(times) for name, times in recalc.items()}
    reference = seconds["default (linear + nnet)"]
    lines = ["| workbook | rows | IronCalc recalculation | ratio to default | size | size without the sheet | write time | "
             "write time without the sheet |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, n, size, plain_size, written, plain_written in rows:
        lines.append(f"| {name} | {n:,} | {seconds[name]:.2f} s | {seconds[name] / reference:.2f}x | {size / 1e6:.2f} MB | "
                     f"{plain_size / 1e6:.2f} MB | {written:.2f} s | {plain_written:.2f} s |")
    ratio = seconds["-m deep:10,10 --backprop-sheet"] / reference
    lines += ["", f"Target: the deep:10,10 backprop workbook recalculates in IronCalc within {TARGET:g}x the default "
                  f"workbook's time: {ratio:.2f}x, {'holds' if ratio <= TARGET else '**missed**'} "
                  f"(median of {args.repeats}, data {data.name})."]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
