"""The commands' wall time after training (issue 29), this checkout beside another one, in the same run.

    python benchmarks/fast_paths.py --before DIR [--repeats 3] [--out benchmarks/fast_paths.md]

``DIR`` is another checkout of titanic-lab (e.g. ``git archive main | tar -x -C DIR``). Each
command runs as a fresh ``python -m titanic_lab`` process with ``PYTHONPATH`` set to one
checkout, the two checkouts (and the floor) taking turns in every repeat so that both see the
same moments of a loaded machine; the table gives medians and the load average at the start.

Tables: Titanic (the bundled titanic3, ``titanic-lab train`` with no options), and a seeded
synthetic table of 5,000 training rows and 20 columns (15 numeric with blanks, 4 text, a
numeric target: the first columns of ``any_csv.synthetic_table``), 1,000 rows to predict.
The floor is a fresh Python importing torch and pandas and reading the training CSV.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from any_csv import synthetic_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def table(folder: Path) -> tuple[Path, Path]:
    """The 5,000 x 20 training file and the 1,000 rows to predict."""
    frame = synthetic_table(6000)
    frame = frame[[f"x{j:02d}" for j in range(15)] + [f"cat{j}" for j in range(4)] + ["y"]]
    train, test = folder / "t20_train.csv", folder / "t20_test.csv"
    frame.iloc[:5000].to_csv(train, index=False)
    frame.iloc[5000:].drop(columns="y").to_csv(test, index=False)
    return train, test


def seconds(checkout: Path | None, args: list[str]) -> float:
    """Wall seconds of ``python -m titanic_lab ARGS`` from ``checkout`` (None: ``python -c ARGS[0]``)."""
    env = {**os.environ, "PYTHONPATH": str(checkout or ROOT)}
    command = [sys.executable, "-m", "titanic_lab", *args] if checkout else [sys.executable, "-c", args[0]]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("fast_paths.md"))
    args = parser.parse_args()
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        train, test = table(work)
        floor = f"import torch, pandas; pandas.read_csv({str(train)!r})"
        steps = {  # name -> arguments, given the checkout's own folder
            "Titanic: train (no options)": lambda d: ["train", "--out", str(d / "t.xlsx")],
            "Titanic: verify (IronCalc)": lambda d: ["verify", str(d / "t.xlsx")],
            "5,000 x 20: train": lambda d: ["train", "--data", str(train), "--target", "y", "--out", str(d / "w.xlsx")],
            "5,000 x 20: predict 1,000 rows": lambda d: ["predict", "--model", str(d / "w.xlsx"), "--data", str(test),
                                                         "--out", str(d / "p.csv")],
            "5,000 x 20: verify (IronCalc)": lambda d: ["verify", str(d / "w.xlsx")],
        }
        sides = {"before": args.before.resolve(), "after": ROOT}
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.repeats):
            times.setdefault(("floor", ""), []).append(seconds(None, [floor]))
            for name, step in steps.items():
                for side, checkout in sides.items():
                    folder = work / side
                    folder.mkdir(exist_ok=True)
                    times.setdefault((name, side), []).append(seconds(checkout, step(folder)))
    median = {k: statistics.median(v) for k, v in times.items()}
    floor_s = median[("floor", "")]
    lines = [
        f"Written by `python benchmarks/fast_paths.py --before DIR --repeats {args.repeats}` on "
        f"{datetime.date.today().isoformat()}; load average at the start: {load} (2 cores). Medians of "
        f"{args.repeats} fresh processes, before and after taking turns. Floor (a fresh Python importing torch and "
        f"pandas and reading the 5,000-row CSV): {floor_s:.2f} s.",
        "",
        "| command | before | after | after / before | after / floor |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in steps:
        before, after = median[(name, "before")], median[(name, "after")]
        lines.append(f"| {name} | {before:.2f} s | {after:.2f} s | {after / before:.2f}x | {after / floor_s:.2f}x |")
    text = "\n".join(lines) + "\n"
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
