"""``titanic-lab verify`` with each spreadsheet engine, side by side, on three workbooks.

    python benchmarks/engines.py [--repeats 3] [--out benchmarks/engines.md]

Workbooks: the default (``train``), ``--preset extended`` and ``--gd-sheet``, each in both
flavours (structured references, and ``--portable``, the only one Gnumeric computes). Every
figure is the median wall time of ``titanic-lab verify BOOK --engine E`` as a fresh process;
the engines take turns within each repeat, so that all see the same moments of a machine
whose speed drifts. Target: the default engine (IronCalc) at most 0.5x LibreOffice's time.
``benchmarks/run.py`` puts the table into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KAGGLE_TRAIN = ROOT.parent / "shared" / "data" / "kaggle" / "train.csv"
CLI = [sys.executable, "-m", "titanic_lab.cli"]
WORKBOOKS = {"default": [], "--preset extended": ["--preset", "extended"], "--gd-sheet": ["--gd-sheet"]}
TARGET = 0.5


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True)


def timed_verify(book: Path, engine: str) -> float:
    start = time.perf_counter()
    done = run("verify", str(book), "--engine", engine)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"verify --engine {engine} {book} exited {done.returncode}: {done.stdout[-500:]}{done.stderr}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description="verify time per engine")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("engines.md"))
    args = parser.parse_args()
    from titanic_lab.data import bundled_path
    from titanic_lab.engines import ENGINES

    data = KAGGLE_TRAIN if KAGGLE_TRAIN.exists() else bundled_path()
    found = [name for name, engine in ENGINES.items() if engine.available()]
    # (column title, engine, portable flavour?)
    columns = [(f"{ENGINES[e].title}", e, False) for e in found if ENGINES[e].reads_tables]
    columns += [(f"{ENGINES[e].title} (--portable)", e, True) for e in found]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, options in WORKBOOKS.items():
            books = {}
            for portable in (False, True):
                book = Path(tmp) / f"{len(rows)}-{portable}.xlsx"
                done = run("train", "--data", str(data), *options, *(["--portable"] if portable else []), "--out", str(book))
                if done.returncode != 0:
                    raise SystemExit(f"train {options} failed: {done.stderr}")
                books[portable] = book
            times: dict[str, list[float]] = {title: [] for title, _, _ in columns}
            for _ in range(args.repeats):
                for title, engine, portable in columns:
                    times[title].append(timed_verify(books[portable], engine))
            medians = {title: statistics.median(t) for title, t in times.items()}
            rows.append((label, medians))
            print(label, ", ".join(f"{t}: {m:.2f} s" for t, m in medians.items()), flush=True)
    titles = [title for title, _, _ in columns]
    lines = ["| workbook | " + " | ".join(titles) + " | IronCalc / LibreOffice | <= 0.5x |",
             "| --- | " + " | ".join("---" for _ in titles) + " | --- | --- |"]
    for label, medians in rows:
        ratio = medians.get("IronCalc", float("nan")) / medians.get("LibreOffice", float("nan"))
        holds = "yes" if ratio <= TARGET else "**no**"
        lines.append(f"| {label} | " + " | ".join(f"{medians[t]:.2f} s" for t in titles) + f" | {ratio:.2f}x | {holds} |")
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
