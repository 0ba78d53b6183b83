"""titanic-lab benchmarks: each figure beside a reference measured in the same run.

    python benchmarks/run.py [--repeats 5] [--out BENCHMARKS.md]

Prints every figure and whether its target holds, and writes BENCHMARKS.md (machine, date,
versions, medians, ratios). Uses Kaggle's train.csv from ../shared when present (the lesson's
data), else the bundled titanic3. Targets are checked here, never in the test suite.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KAGGLE_TRAIN = ROOT.parent / "shared" / "data" / "kaggle" / "train.csv"
EXE = str(Path(sys.executable).with_name("titanic-lab"))  # the console script beside this Python


@dataclass
class Figure:
    name: str
    value: float  # median seconds
    unit: str
    reference_name: str = ""
    reference: float | None = None
    target: str = ""
    holds: bool | None = None

    @property
    def ratio(self) -> float | None:
        return None if not self.reference else self.value / self.reference


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def paired_medians(fn, reference, repeats: int) -> tuple[float, float]:
    """Median seconds of ``fn`` and of ``reference``, run alternately so that both see the same
    moments of a machine whose speed drifts."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for f, out in ((fn, times[0]), (reference, times[1])):
            start = time.perf_counter()
            f()
            out.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def run_command(*args: str) -> None:
    subprocess.run(list(args), check=True, capture_output=True)


def python_command(code: str) -> None:
    run_command(sys.executable, "-c", code)


def bench_help(repeats: int) -> Figure:
    value, floor = paired_medians(lambda: run_command(EXE, "--help"), lambda: python_command("pass"), repeats)
    return Figure("titanic-lab --help", value, "s", 'python -c "pass"', floor, "<= 0.3 s", value <= 0.3)


def bench_train_end_to_end(repeats: int) -> Figure:
    """``titanic-lab train`` with no options: read, train both models, write the workbook."""
    with tempfile.TemporaryDirectory() as tmp:
        value, floor = paired_medians(lambda: run_command(EXE, "train", "--out", str(Path(tmp) / "t.xlsx")),
                                      lambda: python_command("import torch, pandas"), repeats)
    return Figure("titanic-lab train, no options, end to end", value, "s", "python -c \"import torch, pandas\"", floor,
                  "<= 1.5x", value <= 1.5 * floor)


def bench_import_preprocessing(repeats: int) -> Figure:
    value, ref = paired_medians(lambda: python_command("import titanic_lab.preprocessing"),
                                lambda: python_command("import pandas, sklearn.base"), repeats)
    return Figure("import titanic_lab.preprocessing", value, "s", "import pandas, sklearn.base", ref, "<= 1.2x", value <= 1.2 * ref)


def bench_training(data: Path, repeats: int) -> Figure:
    """Training the two spreadsheet models with default settings on one CPU thread."""
    code = (
        "import torch, time; torch.set_num_threads(1)\n"
        "from titanic_lab import RunConfig, train_run\n"
        "from titanic_lab.runs import prepare\n"
        f"p = prepare(RunConfig(data={str(data)!r}, valid_pct=0))\n"
        "run = train_run(p)\n"
        "print(sum(r.seconds for r in run.results.values()), run.results['linear'].train_loss, run.results['nnet'].train_loss)\n"
    )
    outputs = [subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split() for _ in range(repeats)]
    seconds = statistics.median(float(o[0]) for o in outputs)
    linear, nnet = float(outputs[0][1]), float(outputs[0][2])
    return Figure(
        f"train linear + nnet, defaults, 1 thread (linear {linear:.10f}, nnet {nnet:.5f})",
        seconds, "s", target="< 5 s", holds=seconds < 5,
    )


def bench_export(data: Path, repeats: int) -> Figure:
    import torch

    from titanic_lab import RunConfig, train_run
    from titanic_lab.workbook import write_workbook

    torch.set_num_threads(1)
    run = train_run(RunConfig(data=str(data), complete_rows=False, valid_pct=0, epochs=50))
    with tempfile.TemporaryDirectory() as tmp:
        value = median_seconds(lambda: write_workbook(run, Path(tmp) / "b.xlsx"), repeats)
    return Figure(f"export workbook, {len(run.frame)} rows, linear + nnet", value, "s", target="< 1 s", holds=value < 1)


def bench_verify(repeats: int) -> Figure | None:
    from titanic_lab.recalc import convert, find_soffice

    if find_soffice() is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp) / "titanic.xlsx"
        run_command(EXE, "train", "--out", str(book))
        verify = lambda: run_command(EXE, "verify", str(book), "--engine", "libreoffice")  # noqa: E731
        value, ref = paired_medians(verify, lambda: convert(book, Path(tmp) / "out"), repeats)
    return Figure("titanic-lab verify --engine libreoffice, default workbook", value, "s", "one LibreOffice conversion", ref,
                  "<= 1.3x", value <= 1.3 * ref)


def bench_gd_recalc(repeats: int) -> Figure | None:
    """LibreOffice recalculating the default workbook with its gradient descent sheet."""
    from titanic_lab.recalc import convert, find_soffice

    if find_soffice() is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp) / "titanic.xlsx"
        run_command(EXE, "train", "--gd-sheet", "--out", str(book))
        value = median_seconds(lambda: convert(book, Path(tmp) / "out"), repeats)
    return Figure("LibreOffice recalculation, default workbook with --gd-sheet", value, "s", target="< 10 s", holds=value < 10)


def versions() -> str:
    import numpy
    import pandas
    import torch
    import xlsxwriter

    return f"Python {platform.python_version()}, torch {torch.__version__}, numpy {numpy.__version__}, pandas {pandas.__version__}, XlsxWriter {xlsxwriter.__version__}"


#: The reports other benchmark scripts write, included in BENCHMARKS.md in this order: file, section title, intro.
INCLUDED = (
    ("scale.md", "At scale: training, export, memory",
     "From `python benchmarks/scale.py`. Training: synthetic resampled and jittered Titanic rows, 20 epochs of "
     "full-batch SGD, median of the runs; the same model with `nn.Linear` + `torch.optim.SGD`, and a numpy loop "
     "with the analytic gradient, measured in the same run:"),
    ("convergence.md", "Training to convergence, and beside a busy process",
     "From `python benchmarks/convergence.py` (its docstring says how each figure is made):"),
    ("engines.md", "verify, engine by engine",
     "From `python benchmarks/engines.py`: the median wall time of `titanic-lab verify BOOK --engine E` as a "
     "fresh process, the engines taking turns in each repeat; Gnumeric computes the `--portable` flavour only. "
     "Target: the default engine (IronCalc) at most 0.5x LibreOffice's time."),
    ("backprop.md", "The backprop and gradient descent sheets: recalculation, size, write time",
     "From `python benchmarks/backprop.py` (its docstring says how each figure is made):"),
    ("any_csv.md", "Any CSV: real tables beside scikit-learn, and memory at 100,000 rows",
     "From `python benchmarks/any_csv.py` (its docstring says how each figure is made; the tables come from pip "
     "packages, loaded offline by `benchmarks/datasets.py`):"),
    ("fast_paths.md", "After training: train, predict and verify, before and after (issue 29)",
     "From `python benchmarks/fast_paths.py --before DIR` (its docstring says how each figure is made; `DIR` the "
     "code before the change):"),
    ("chosen.md", "Real tables: the model predict chooses, timed, beside its peers",
     "From `python benchmarks/any_csv.py --chosen --fastai-python PY` (issue 29; `PY` a Python where fastai is "
     "installed, e.g. a venv made with `--system-site-packages` and `pip install -c <(echo torch==2.13.0) fastai`):"),
    ("nnet_fit.md", "The nnet on real tables: Newton steps and a decay chosen by validation, before and after",
     "From `python benchmarks/nnet_fit.py --before DIR` (issue 29; its docstring says how each figure is made):"),
)


def render(figures: list[Figure], data: Path, repeats: int) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Written by `python benchmarks/run.py` on {datetime.date.today().isoformat()}. Every figure is the median of "
        f"{repeats} runs; a reference measured in the same run stands beside it where the target is a ratio.",
        "",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        f"- versions: {versions()}",
        f"- data: {data}",
        "",
        "| what | median | reference (same run) | ratio | target | holds |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for f in figures:
        ref = f"{f.reference_name}: {f.reference:.3f} s" if f.reference is not None else "-"
        ratio = f"{f.ratio:.2f}x" if f.ratio is not None else "-"
        holds = "-" if f.holds is None else ("yes" if f.holds else "**no**")
        lines.append(f"| {f.name} | {f.value:.3f} {f.unit} | {ref} | {ratio} | {f.target} | {holds} |")
    for name, title, intro in INCLUDED:
        part = Path(__file__).with_name(name)
        if part.exists():
            lines += ["", f"## {title}", "", intro, "", part.read_text(encoding="utf-8").strip()]
    notes = Path(__file__).with_name("notes.md")
    if notes.exists():
        lines += ["", notes.read_text(encoding="utf-8").strip()]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description="titanic-lab benchmarks")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    args = parser.parse_args()
    from titanic_lab.data import bundled_path

    data = KAGGLE_TRAIN if KAGGLE_TRAIN.exists() else bundled_path()
    figures = [bench_help(args.repeats), bench_import_preprocessing(args.repeats), bench_training(data, args.repeats),
               bench_train_end_to_end(args.repeats), bench_export(data, args.repeats)]
    for extra in (bench_verify(args.repeats), bench_gd_recalc(max(1, args.repeats // 2))):
        if extra is not None:
            figures.append(extra)
    for f in figures:
        status = "-" if f.holds is None else ("holds" if f.holds else "MISSED")
        ratio = f" ({f.ratio:.2f}x {f.reference_name})" if f.ratio is not None else ""
        print(f"{f.name}: {f.value:.3f} {f.unit}{ratio}; target {f.target}: {status}")
    args.out.write_text(render(figures, data, args.repeats), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
