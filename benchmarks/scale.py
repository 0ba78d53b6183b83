"""Training throughput and memory at scale, beside torch.optim and a numpy loop in the same run.

    python benchmarks/scale.py [--sizes 10000 100000 1000000] [--epochs 20] [--out benchmarks/scale.md]

Synthetic rows: the bundled titanic3's spreadsheet features, resampled with replacement and
jittered (Age_N and log_Fare get Gaussian noise of 0.01), so every size has the lesson's
10 columns. Each model trains full batch with plain SGD (lr 0.05) for the same epochs:

* titanic-lab: ``titanic_lab.training.fit`` (hand-written, ``loss.backward()``);
* torch.optim: ``nn.Linear`` (no bias; the Ones column is the bias) + ``torch.optim.SGD``;
* numpy: the analytic gradient written out.

Throughput is rows x epochs per second (median of --repeats runs). Peak RSS of training on the
largest size is measured in a fresh process.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

LR = 0.05


def peak_rss_self_mb() -> float:
    """This process's peak resident memory (VmHWM). Not ru_maxrss: on Linux a child started by
    fork and exec inherits its parent's ru_maxrss, so small children would report the parent's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> float:
    """Reset this process's VmHWM to its current RSS (Linux ``clear_refs`` 5); return that RSS in MB."""
    Path("/proc/self/clear_refs").write_text("5")
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from titanic_lab import TitanicPreprocessor, bundled_path, read_titanic, select_complete_rows

    rows = select_complete_rows(read_titanic(bundled_path()))
    X0 = TitanicPreprocessor().fit_transform(rows).to_numpy()
    y0 = rows["Survived"].to_numpy(dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(X0), n)
    X = X0[idx].copy()
    X[:, 2:4] += rng.normal(0, 0.01, (n, 2))  # Age_N, log_Fare
    return X, y0[idx]


def ours(model: str, X: torch.Tensor, y: torch.Tensor, epochs: int) -> None:
    from titanic_lab.models import parse_model
    from titanic_lab.training import TrainSettings, fit

    fit(parse_model(model), TrainSettings(epochs=epochs, lr=LR, optimizer="sgd"), X, y)


def torch_optim(model: str, X: torch.Tensor, y: torch.Tensor, epochs: int) -> None:
    torch.manual_seed(0)
    layer = torch.nn.Linear(X.shape[1], 1 if model == "linear" else 2, bias=False, dtype=X.dtype)
    opt = torch.optim.SGD(layer.parameters(), lr=LR)
    for _ in range(epochs):
        opt.zero_grad()
        out = layer(X)
        preds = out.squeeze(-1) if model == "linear" else torch.relu(out).sum(-1)
        ((preds - y) ** 2).mean().backward()
        opt.step()


def numpy_loop(model: str, X: np.ndarray, y: np.ndarray, epochs: int) -> None:
    rng = np.random.default_rng(0)
    n = len(X)
    if model == "linear":
        w = rng.random(X.shape[1]) - 0.5
        for _ in range(epochs):
            w -= LR * 2 / n * (X.T @ (X @ w - y))
        return
    W = rng.random((X.shape[1], 2)) - 0.5
    for _ in range(epochs):
        Z = X @ W  # (n, 2)
        err = np.maximum(Z, 0).sum(1) - y
        W -= LR * 2 / n * (X.T @ (err[:, None] * (Z > 0)))


def median_rate(fn, n: int, epochs: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return n * epochs / statistics.median(times)


def peak_rss_mb(n: int, epochs: int) -> float:
    code = (
        "import torch, sys; sys.path.insert(0, %r)\n"
        "from scale import synthetic, ours\n"
        "X, y = synthetic(%d)\n"
        "ours('nnet', torch.tensor(X), torch.tensor(y), %d)\n"
        "from scale import peak_rss_self_mb; print(peak_rss_self_mb())\n" % (str(Path(__file__).parent), n, epochs)
    )
    return float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()[-1])


def export_child(n: int, bare: bool) -> None:
    """In a fresh process: export a linear run on ``n`` synthetic rows, or the bare reference dump."""
    import xlsxwriter

    from titanic_lab import RunConfig, bundled_path, read_titanic
    from titanic_lab.runs import train_run
    from titanic_lab.workbook import write_workbook

    rows = read_titanic(bundled_path()).dropna(subset=["Age", "Embarked"])
    rows = rows.sample(n, replace=True, random_state=0)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "rows.csv"
        rows.to_csv(data, index=False)
        if not bare:
            run = train_run(RunConfig(data=str(data), models=("linear",), epochs=2, valid_pct=0))
            before = reset_peak_rss()
            started = time.perf_counter()
            write_workbook(run, Path(tmp) / "book.xlsx")
        else:
            # The same cells, row by row with constant_memory: 8 raw values, 7 feature formulas and
            # 3 constants, a SUMPRODUCT, a loss formula and a plain value per row, plus all_rows.
            frame = read_titanic(data)
            before = reset_peak_rss()
            started = time.perf_counter()
            wb = xlsxwriter.Workbook(str(Path(tmp) / "bare.xlsx"), {"constant_memory": True})
            ws = wb.add_worksheet("linear")
            raw = ["Survived", "Embarked", "Pclass", "Sex", "Age", "Fare", "SibSp", "Parch"]
            frame = frame.astype(object).where(frame.notna(), None)  # blanks, as the exporter writes them
            for i, rec in enumerate(frame[raw].itertuples(index=False), start=3):
                for j, v in enumerate(rec):
                    ws.write(i, j, v)
                for j in range(7):
                    ws.write_formula(i, 8 + j, f"=IF(C{i + 1}={j},1,0)", None, 0.0)
                ws.write_number(i, 15, 1)
                ws.write_formula(i, 28, f"=SUMPRODUCT(G{i + 1}:P{i + 1},$R$4:$AA$4)", None, 0.5)
                ws.write_formula(i, 29, f"=(AC{i + 1}-A{i + 1})^2", None, 0.25)
                ws.write_number(i, 31, 0.5)
            all_rows = wb.add_worksheet("all_rows")
            for i, rec in enumerate(frame[raw].itertuples(index=False), start=1):
                for j, v in enumerate(rec):
                    all_rows.write(i, j, v)
            wb.close()
        print(time.perf_counter() - started, before, peak_rss_self_mb())


def export_figures(sizes: list[int]) -> list[str]:
    lines = ["| rows | titanic-lab export | RSS before -> peak during the export | bare XlsxWriter constant_memory dump | "
             "RSS before -> peak during the dump | time ratio | <= 1.5x |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for n in sizes:
        results = []
        for bare in (False, True):
            code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); from scale import export_child; export_child({n}, {bare})"
            out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
            results.append((float(out[-3]), float(out[-2]), float(out[-1])))
        (ours_s, ours_before, ours_mb), (bare_s, bare_before, bare_mb) = results
        ratio = ours_s / bare_s
        line = (f"| {n:,} | {ours_s:.2f} s | {ours_before:,.0f} -> {ours_mb:,.0f} MB | {bare_s:.2f} s | "
                f"{bare_before:,.0f} -> {bare_mb:,.0f} MB | {ratio:.2f}x | {'yes' if ratio <= 1.5 else '**no**'} |")
        print(line, flush=True)
        lines.append(line)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description="titanic-lab training at scale")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--export-sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("scale.md"))
    args = parser.parse_args()
    lines = [
        "| rows | model | titanic-lab (rows x epochs / s) | torch.optim | ratio | numpy | ratio to numpy | >= 0.9x torch.optim |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for n in args.sizes:
        X_np, y_np = synthetic(n)
        X, y = torch.tensor(X_np), torch.tensor(y_np)
        for model in ("linear", "nnet"):
            r_ours = median_rate(lambda: ours(model, X, y, args.epochs), n, args.epochs, args.repeats)
            r_torch = median_rate(lambda: torch_optim(model, X, y, args.epochs), n, args.epochs, args.repeats)
            r_np = median_rate(lambda: numpy_loop(model, X_np, y_np, args.epochs), n, args.epochs, args.repeats)
            ratio = r_ours / r_torch
            line = (f"| {n:,} | {model} | {r_ours:,.0f} | {r_torch:,.0f} | {ratio:.2f}x | {r_np:,.0f} | {r_ours / r_np:.2f}x | "
                    f"{'yes' if ratio >= 0.9 else '**no**'} |")
            print(line, flush=True)
            lines.append(line)
    lines += ["", "Workbook export (README, the linear sheet, history and all_rows, in a fresh process per figure) beside a "
              "bare XlsxWriter `constant_memory` dump of comparable cells. Memory: the process's resident set just before "
              "the export (data read, model trained) and its peak during the export (VmHWM reset at the start):", ""]
    lines += export_figures([n for n in args.export_sizes])
    rss = peak_rss_mb(max(args.sizes), args.epochs)
    verdict = "holds" if rss < 2048 else "MISSED"
    lines.append("")
    lines.append(f"Peak RSS training nnet on {max(args.sizes):,} rows x 10 features ({args.epochs} epochs, float64), "
                 f"data generation included: {rss:,.0f} MB (target < 2 GB: {verdict}).")
    print(lines[-1])
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
