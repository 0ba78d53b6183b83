"""The commands' wall time after training (issue 29), this checkout beside another one, in the same run.

    python benchmarks/fast_paths.py --before DIR [--repeats 3] [--out benchmarks/fast_paths.md]

``DIR`` is another checkout of titanic-lab (e.g. ``git archive main | tar -x -C DIR``). Each
command runs as a fresh ``python -m titanic_lab`` process with ``PYTHONPATH`` set to one
checkout, the two checkouts (and the floors) taking turns in every repeat so that both see the
same moments of a loaded machine; the table gives medians, with the load average at the start
and the end. The section is appended to ``--out`` under a dated heading.

Tables: Titanic (the bundled titanic3, ``titanic-lab train`` with no options); a seeded
synthetic table of 5,000 training rows and 20 columns (15 numeric with blanks, 4 text, a
numeric target: the first columns of ``any_csv.synthetic_table``), 1,000 rows to predict; and
statsmodels' ``fair`` (5,092 training rows, 9 columns, binary; 1,274 to predict: the 80/20
split of ``benchmarks/any_csv.py``, seed 0); and a seeded binary table of 5,000 training rows and
20 columns whose 9 text columns of 15 levels make 135 features (``any_csv.wide_table``), 1,000 to
predict; and one of 12 numeric and 7 text columns of 8 levels (62 features, ``categories``). A table's floor is a fresh Python importing torch and pandas and reading its training CSV.
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from any_csv import synthetic_table, wide_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def table(folder: Path) -> tuple[Path, Path]:
    """The 5,000 x 20 training file and the 1,000 rows to predict."""
    frame = synthetic_table(6000)
    frame = frame[[f"x{j:02d}" for j in range(15)] + [f"cat{j}" for j in range(4)] + ["y"]]
    train, test = folder / "t20_train.csv", folder / "t20_test.csv"
    frame.iloc[:5000].to_csv(train, index=False)
    frame.iloc[5000:].drop(columns="y").to_csv(test, index=False)
    return train, test


def wide(folder: Path) -> tuple[Path, Path]:
    """A binary table of 5,000 training rows, 10 numeric and 9 text columns of 15 levels each (135 features),
    1,000 rows to predict: ``any_csv.wide_table``, the dummy columns that make a workbook large."""
    frame = wide_table(1, 6000, 10, 9, 15, "binary")
    train, test = folder / "wide_train.csv", folder / "wide_test.csv"
    frame.iloc[:5000].to_csv(train, index=False)
    frame.iloc[5000:].drop(columns="y").to_csv(test, index=False)
    return train, test


def categories(folder: Path) -> tuple[Path, Path]:
    """A binary table of 5,000 training rows and 20 columns, 12 numeric and 7 text columns of 8 levels each (62
    features), 1,000 rows to predict: ``any_csv.wide_table`` again, the size of many real tables of categories."""
    frame = wide_table(1, 6000, 12, 7, 8, "binary")
    train, test = folder / "cat62_train.csv", folder / "cat62_test.csv"
    frame.iloc[:5000].to_csv(train, index=False)
    frame.iloc[5000:].drop(columns="y").to_csv(test, index=False)
    return train, test


def fair_table(folder: Path) -> tuple[Path, Path]:
    """statsmodels' fair, split 80/20 (seed 0) as ``benchmarks/any_csv.py`` splits it: training and held-out files."""
    from datasets import fair
    from sklearn.model_selection import train_test_split

    train_rows, test_rows = train_test_split(fair().frame, test_size=0.2, random_state=0)
    train, test = folder / "fair_train.csv", folder / "fair_test.csv"
    train_rows.to_csv(train, index=False)
    test_rows.drop(columns="affair").to_csv(test, index=False)
    return train, test


def seconds(checkout: Path | None, args: list[str]) -> float:
    """Wall seconds of ``python -m titanic_lab ARGS`` from ``checkout`` (None: ``python -c ARGS[0]``)."""
    return timed(checkout, args)[0]


def timed(checkout: Path | None, args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, the command's own children included: IronCalc's) of
    ``python -m titanic_lab ARGS`` from ``checkout`` (None: ``python -c ARGS[0]``)."""
    env = {**os.environ, "PYTHONPATH": str(checkout or ROOT)}
    command = [sys.executable, "-m", "titanic_lab", *args] if checkout else [sys.executable, "-c", args[0]]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    # Run from the temporary folder: ``python -m`` puts the working directory first on sys.path, so run from a
    # checkout it would import that checkout's titanic_lab whatever PYTHONPATH says.
    subprocess.run(command, check=True, capture_output=True, env=env, cwd=tempfile.gettempdir())
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("fast_paths.md"))
    args = parser.parse_args()
    load = _load()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tables = {"5,000 x 20": (*table(work), "y"), "fair": (*fair_table(work), "affair"),
                  "5,000 x 20, 62 features": (*categories(work), "y"), "5,000 x 20, 135 features": (*wide(work), "y")}
        floors = {name: f"import torch, pandas; pandas.read_csv({str(train)!r})" for name, (train, _, _) in tables.items()}
        steps = {  # name -> (table whose floor it is measured against, arguments given the checkout's own folder)
            "Titanic: train (no options)": ("5,000 x 20", lambda d: ["train", "--out", str(d / "t.xlsx")]),
            "Titanic: verify (IronCalc)": ("5,000 x 20", lambda d: ["verify", str(d / "t.xlsx")]),
        }
        for name, (train, test, target) in tables.items():
            book = f"{name[:4].strip(',')}{len(name)}.xlsx"
            steps[f"{name}: train"] = (name, lambda d, train=train, target=target, book=book: [
                "train", "--data", str(train), "--target", target, "--out", str(d / book)])
            steps[f"{name}: predict"] = (name, lambda d, test=test, book=book: [
                "predict", "--model", str(d / book), "--data", str(test), "--out", str(d / "p.csv")])
            steps[f"{name}: verify (IronCalc)"] = (name, lambda d, book=book: ["verify", str(d / book)])
        sides = {"before": args.before.resolve(), "after": ROOT}
        times: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for _ in range(args.repeats):
            for name, floor in floors.items():
                times.setdefault((f"floor {name}", ""), []).append(timed(None, [floor]))
            for name, (_, step) in steps.items():
                for side, checkout in sides.items():
                    folder = work / side
                    folder.mkdir(exist_ok=True)
                    times.setdefault((name, side), []).append(timed(checkout, step(folder)))
    # Medians of wall and of CPU seconds, each on its own: on a loaded machine the CPU time is the steadier.
    median = {k: tuple(statistics.median(t[j] for t in v) for j in (0, 1)) for k, v in times.items()}
    floor_s = {name: median[(f"floor {name}", "")] for name in tables}
    lines = [
        f"### {datetime.date.today().isoformat()}: `python benchmarks/fast_paths.py --before DIR --repeats {args.repeats}`",
        "",
        f"Load average at the start {load}, at the end {_load()} (2 cores). Medians of {args.repeats} fresh processes, "
        "before and after taking turns; wall seconds, and CPU seconds (user + system, IronCalc's child process "
        "included), which a loaded machine disturbs less. Floors (a fresh Python importing torch and pandas and "
        "reading the table's training CSV), wall / CPU: "
        + ", ".join(f"{name} {w:.2f} / {c:.2f} s" for name, (w, c) in floor_s.items())
        + ". Titanic's commands are measured against the 5,000 x 20 table's floor.",
        "",
        "| command | wall before | wall after | CPU before | CPU after | CPU after / before | after / floor, wall | "
        "after / floor, CPU |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    def line(name: str, before: tuple[float, float], after: tuple[float, float], floor: tuple[float, float]) -> str:
        return (f"| {name} | {before[0]:.2f} s | {after[0]:.2f} s | {before[1]:.2f} s | {after[1]:.2f} s | "
                f"{after[1] / before[1]:.2f}x | {after[0] / floor[0]:.2f}x | {after[1] / floor[1]:.2f}x |")

    for name, (of, _) in steps.items():
        lines.append(line(name, median[(name, "before")], median[(name, "after")], floor_s[of]))
    for name in tables:  # the target: train + predict + verify within 5x the floor
        before, after = (tuple(sum(median[(f"{name}: {step}", side)][j] for step in ("train", "predict", "verify (IronCalc)"))
                               for j in (0, 1)) for side in sides)
        lines.append(line(f"**{name}: train + predict + verify**", before, after, floor_s[name]))
    text = "\n".join(lines) + "\n"
    with args.out.open("a", encoding="utf-8") as out:
        out.write("\n" + text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
