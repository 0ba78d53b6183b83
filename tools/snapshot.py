"""Record what the command line does, to prove a refactor changes nothing a user sees.

Runs a fixed list of ``titanic-lab`` commands (:data:`COMMANDS`) on the bundled data, Kaggle's
files (when ``/work/shared/data/kaggle`` or ``$TITANIC_LAB_KAGGLE`` holds them; the commands
that need them are skipped otherwise) and the bundled penguins, each in a fresh folder under
``SOURCE_DATE_EPOCH`` (so workbooks carry no timings or dates). For each command it records
the exit code, stdout and stderr (with wall-clock timings masked: a table's ``seconds`` or
``fit s`` column and ``N.NNs`` figures) and the bytes of every file the command wrote.

Usage::

    python tools/snapshot.py DIR               # record into DIR (emptied first)
    python tools/snapshot.py --compare OLD NEW # diff two recorded folders; exit 1 when they differ
    python tools/snapshot.py DIR --only train  # only the commands whose name starts with 'train'

Run it from the checkout to record (``PYTHONPATH`` is set to that checkout).
"""

from __future__ import annotations

import argparse
import filecmp
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KAGGLE = Path(os.environ.get("TITANIC_LAB_KAGGLE", "/work/shared/data/kaggle"))
PENGUINS = ROOT / "titanic_lab" / "datasets" / "penguins.csv"
SHORT = ["--epochs", "60"]

#: (name, arguments, what it needs: "" or "kaggle"). Commands run in order in one folder per
#: command; ``@name/file`` is a file an earlier command ``name`` wrote.
COMMANDS: list[tuple[str, list[str], str]] = [
    ("train-default", ["train", "--out", "run.xlsx"], ""),
    *[(f"train-preset-{p}", ["train", "--preset", p, *SHORT, "--out", "run.xlsx"], "")
      for p in ("spreadsheet", "notebook", "extended", "groups")],
    *[(f"train-model-{m}", ["train", "-m", m, *SHORT, "--out", "run.xlsx"], "")
      for m in ("linear", "nnet", "sigmoid", "hidden", "deep")],
    ("train-gd-sheet", ["train", "--gd-sheet", *SHORT, "--out", "run.xlsx"], ""),
    ("train-portable", ["train", "--portable", *SHORT, "--out", "run.xlsx"], ""),
    ("train-optimizers", ["train", "-m", "linear", "--optimizer", "sgd", *SHORT, "--out", "run.xlsx"], ""),
    ("train-momentum", ["train", "-m", "nnet", "--optimizer", "momentum", *SHORT, "--out", "run.xlsx"], ""),
    ("train-newton", ["train", "-m", "linear", "--optimizer", "newton", "--loss", "mse", "--out", "run.xlsx"], ""),
    ("train-kaggle", ["train", "--data", "{kaggle}/train.csv", "--exclude-from", "{kaggle}/test.csv", *SHORT,
                      "--out", "run.xlsx"], "kaggle"),
    ("train-penguins-regression", ["train", "--data", "{penguins}", "--target", "body_mass_g", "--spec-out", "spec.toml",
                                   "--out", "run.xlsx"], ""),
    ("train-penguins-binary", ["train", "--data", "{penguins}", "--target", "sex", "--gd-sheet", *SHORT,
                               "--out", "run.xlsx"], ""),
    ("features-default", ["features"], ""),
    ("features-groups", ["features", "--preset", "groups"], ""),
    ("features-penguins", ["features", "--data", "{penguins}", "--target", "body_mass_g"], ""),
    ("predict-kaggle", ["predict", "--model", "@train-default/run.xlsx", "--data", "{kaggle}/test.csv",
                        "--out", "sub.csv", "--allow-overlap"], "kaggle"),
    ("predict-penguins", ["predict", "--model", "@train-penguins-regression/run.xlsx", "--data", "{penguins}",
                          "--out", "pred.csv", "--allow-overlap"], ""),
    ("compare-default", ["compare", "@train-default/run.xlsx"], ""),
    ("compare-penguins", ["compare", "@train-penguins-binary/run.xlsx"], ""),
    ("compare-reference", ["compare", "/work/shared/reference/titanic.xlsx"], "kaggle"),
    ("verify-default", ["verify", "@train-default/run.xlsx"], ""),
    ("verify-penguins", ["verify", "@train-penguins-regression/run.xlsx"], ""),
    ("lr-find", ["lr-find", "-m", "linear"], ""),
    ("leaderboard", ["leaderboard", "--folds", "2", "--repeats", "1", "-m", "linear", "-m", "gender",
                     "-m", "logistic"], ""),
    ("leaderboard-penguins", ["leaderboard", "--data", "{penguins}", "--target", "body_mass_g", "--folds", "2",
                              "--repeats", "1", "-m", "linear", "-m", "mean", "-m", "ridge"], ""),
    ("submit", ["submit", "--data", "{kaggle}/train.csv", "--test", "{kaggle}/test.csv", "--model", "linear",
                "--out", "sub.csv"], "kaggle"),
]

#: Wall-clock figures that differ between two runs of the same code.
_TIMING = re.compile(r"\b\d+(\.\d+)?\s?(s|ms|seconds)\b")
_TIMED_HEADERS = ("seconds", "fit s/fold", "time")


def _mask(text: str) -> str:
    """Blank every timing: a table column headed by a time, and ``1.23s`` figures."""
    lines, spans = text.splitlines(), []
    for i, line in enumerate(lines):
        cells = re.split(r"[│┃|]", line)
        if any(c.strip() in _TIMED_HEADERS for c in cells):
            spans = [k for k, c in enumerate(cells) if c.strip() in _TIMED_HEADERS]
        if spans and len(cells) > max(spans):
            seps = re.findall(r"[│┃|]", line)
            cells = [(" " * len(c) if k in spans and not c.strip() in _TIMED_HEADERS else c) for k, c in enumerate(cells)]
            lines[i] = "".join(c + (seps[k] if k < len(seps) else "") for k, c in enumerate(cells))
    return _TIMING.sub("<time>", "\n".join(lines))


def record(final: Path, only: str | None) -> None:
    """Run the commands in a fresh temporary folder, then move it to ``final``.

    The folder is new for each run, so two recordings at once do not collide; its name always has
    the same length (``titanic-lab-`` and eight random characters), because a path's length
    changes how a table centres its title.
    """
    if final.exists():
        shutil.rmtree(final)
    out = Path(tempfile.mkdtemp(prefix="titanic-lab-"))
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000", PYTHONPATH=str(ROOT), COLUMNS="120", NO_COLOR="1",
               TERM="dumb", PYTHONHASHSEED="0")
    for name, args, needs in COMMANDS:
        if only and not name.startswith(only):
            continue
        if needs == "kaggle" and not (KAGGLE / "train.csv").is_file():
            print(f"skip {name}: no Kaggle files in {KAGGLE}")
            continue
        here = out / name
        with tempfile.TemporaryDirectory(prefix="snapshot-") as cwd:
            argv = [a.format(kaggle=KAGGLE, penguins=PENGUINS) for a in args]
            argv = [str(out / a[1:]) if a.startswith("@") else a for a in argv]
            done = subprocess.run([shutil.which("titanic-lab") or "titanic-lab", *argv],
                                  cwd=cwd, env=env, capture_output=True, text=True)
            here.mkdir()
            for written in sorted(Path(cwd).rglob("*")):
                if written.is_file():
                    shutil.copy(written, here / written.name)
        (here / "_exit").write_text(f"{done.returncode}\n")
        (here / "_stdout").write_text(_mask(done.stdout).replace(str(out), "<snapshot>").replace(str(ROOT), "<root>"))
        progress = "\n".join(line for line in _mask(done.stderr).splitlines() if "<time>" not in line)  # progress lines
        (here / "_stderr").write_text(progress.replace(str(out), "<snapshot>").replace(str(ROOT), "<root>").replace(cwd, "<cwd>"))
        print(f"{name}: exit {done.returncode}, {len(list(here.iterdir())) - 3} file(s)")
    shutil.move(str(out), str(final))


def compare(old: Path, new: Path) -> int:
    """Print every file that differs or exists on one side only; 0 when the folders agree."""
    differ = 0
    names = sorted({p.relative_to(old) for p in old.rglob("*") if p.is_file()}
                   | {p.relative_to(new) for p in new.rglob("*") if p.is_file()})
    for rel in names:
        a, b = old / rel, new / rel
        if not a.exists() or not b.exists():
            print(f"only in {old if a.exists() else new}: {rel}")
            differ += 1
        elif not filecmp.cmp(a, b, shallow=False):
            print(f"differs: {rel}")
            differ += 1
    print(f"{len(names)} files compared, {differ} differ")
    return 1 if differ else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", nargs="?", type=Path, help="the folder to record into (emptied first)")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("OLD", "NEW"), help="diff two recorded folders")
    parser.add_argument("--only", help="only the commands whose name starts with this")
    args = parser.parse_args()
    if args.compare:
        return compare(*args.compare)
    if args.dir is None:
        parser.error("give DIR to record into, or --compare OLD NEW")
    record(args.dir, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
