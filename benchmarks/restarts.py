"""The nnet's restarts: all 16 trained to the end, or the best four after the first steps (issue 29).

    python benchmarks/restarts.py [--datasets fair diabetes ...] [--out benchmarks/restarts.md]

On each table the default nnet (16 restarts, ``newton``, or ``lbfgs`` above 100 weights) trains on the
training file's own 80/20 validation split twice in one process, alternating: with every restart to the
end (``training.KEEP_AFTER`` emptied), and as ``train`` trains it (after ``KEEP_AFTER`` steps the
``KEPT_RESTARTS`` restarts with the lowest objective go on). The table gives each fit's seconds (the
lower of two), the restart each keeps, the rank at step ``KEEP_AFTER`` (0: the lowest objective; below
``KEPT_RESTARTS``: it would have gone on) of the restart the full run keeps, each fit's training loss
(mean squared error of ``target / scale``) and validation RMSE or accuracy.

Tables: the real ones of ``benchmarks/datasets.py`` whose target is a number or two classes (the
80% of ``any_csv.py``'s seeded split), the 5,000 x 20 table of ``fast_paths.py``, and five synthetic
tables of many dummy columns (``any_csv.wide_table``, 77 to 135 features: the nnet takes ``lbfgs``).
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from titanic_lab import training  # noqa: E402
from titanic_lab.choosing import validation_metrics  # noqa: E402
from titanic_lab.config import RunConfig  # noqa: E402
from titanic_lab.models import forward  # noqa: E402
from titanic_lab.ops import LOSSES  # noqa: E402
from titanic_lab.runs import prepare  # noqa: E402

#: The synthetic tables' shapes: seed, rows, numeric columns, text columns, levels, task.
WIDE = {"wide_a": (2, 4000, 8, 8, 12, "regression"), "wide_b": (3, 3000, 5, 12, 10, "binary"),
        "wide_c": (4, 5000, 12, 6, 18, "regression"), "wide_d": (5, 2000, 6, 10, 8, "binary"),
        "wide_e": (1, 5000, 10, 9, 15, "binary")}


def tables(folder: Path, names: list[str] | None) -> list[tuple[str, Path, str, str | None]]:
    """(name, training CSV, target, id column) of every table measured."""
    from any_csv import wide_table
    from datasets import available
    from fast_paths import table
    from sklearn.model_selection import train_test_split

    found = []
    for d in available([n for n in names if n not in WIDE and n != "t20"] if names else None)[0]:
        if d.task == "multiclass":
            continue
        train, _ = train_test_split(d.frame, test_size=0.2, random_state=0)
        path = folder / f"{d.name}.csv"
        train.to_csv(path, index=False)
        found.append((d.name, path, d.target, d.id))
    if names is None or "t20" in names:
        found.append(("t20", table(folder)[0], "y", None))
    for name, shape in WIDE.items():
        if names is None or name in names:
            wide_table(*shape).to_csv(folder / f"{name}.csv", index=False)
            found.append((name, folder / f"{name}.csv", "y", None))
    return found


def measure(path: Path, target: str, id_column: str | None) -> dict:
    p = prepare(RunConfig(data=path, target=target, id_column=id_column, models=("nnet",)))
    spec, settings = p.models["nnet"]
    X, y = p.X[p.train_idx], p.y[p.train_idx]
    Xv, yv = p.X[p.valid_idx], p.y[p.valid_idx]
    after = training.KEEP_AFTER[settings.optimizer]
    ranked: list[torch.Tensor] = []

    def rank(epoch: int, params: dict) -> None:
        if epoch == after - 1:  # where step ``after`` starts: what the restarts are ranked by
            ranked.append(LOSSES[settings.loss](forward(spec, params, X), y) + training._penalty(params, settings))

    keep_after, runs = dict(training.KEEP_AFTER), {"every": [], "best": []}
    for _ in range(2):
        for side in runs:
            training.KEEP_AFTER = {} if side == "every" else keep_after
            started = time.perf_counter()
            result = training.fit(spec, settings, X, y, on_epoch=rank if side == "every" and not ranked else None)
            runs[side].append((time.perf_counter() - started, result))
    training.KEEP_AFTER = keep_after
    row = {"features": X.shape[1], "rows": len(X), "optimizer": settings.optimizer, "after": after}
    for side, fits in runs.items():
        seconds, result = min(fits, key=lambda f: f[0])
        preds = forward(spec, result.params, Xv).detach().numpy()
        task, scale = p.dataset.target.task, p.dataset.target.scale or 1.0
        metric = "rmse" if task == "regression" else "accuracy"
        score = f"{metric} {validation_metrics(task, preds, yv.numpy(), scale)[metric]:.4g}"
        row[side] = (seconds, result.restart, result.train_loss, score, len(result.history))
    order = ranked[0].argsort().tolist()
    row["rank"] = order.index(runs["every"][0][1].restart)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", help="Names of tables (default: all).")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "restarts.md")
    args = parser.parse_args()
    lines = [f"## {datetime.date.today()}: python benchmarks/restarts.py ({platform.machine()}, {torch.get_num_threads()} "
             f"torch threads, Python {platform.python_version()})", "",
             "| table | rows x features | optimizer | every restart: s | best four: s | kept (every / best four) | "
             "rank at the step | train loss every / best four | valid every / best four | steps every / best four |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    with tempfile.TemporaryDirectory() as folder:
        for name, path, target, id_column in tables(Path(folder), args.datasets):
            r = measure(path, target, id_column)
            every, best = r["every"], r["best"]
            line = (f"| {name} | {r['rows']} x {r['features']} | {r['optimizer']} (after {r['after']}) | {every[0]:.2f} | "
                    f"{best[0]:.2f} | {every[1]} / {best[1]} | {r['rank']} | {every[2]:.6g} / {best[2]:.6g} | "
                    f"{every[3]} / {best[3]} | {every[4]} / {best[4]} |")
            print(line, flush=True)
            lines.append(line)
    previous = args.out.read_text() if args.out.exists() else ""
    args.out.write_text("\n".join(lines) + "\n\n" + previous)


if __name__ == "__main__":
    main()
