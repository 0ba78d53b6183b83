"""Every command README.md shows runs as written, so the README and the code cannot drift apart.

The commands run in README order, through CliRunner, in one working directory (later examples
read what earlier ones wrote, as they would for a reader). The README's example files are
copied there from ../shared under the README's names (``train.csv``, ``test.csv``,
``lesson-titanic.xlsx``); a command that needs one skips when ../shared is absent, and a
command that recalculates in LibreOffice skips without ``soffice``. There is no
``./data/train.csv`` there, so a command without ``--data`` uses the bundled titanic3, as on a
fresh clone.

The two cross-validating commands, ``leaderboard`` (165 fits as written) and ``submit``, run
with a loose convergence rule for every titanic-lab model (a 1e-3 plateau over 20 epochs, at
most 400) and a single restart (the baselines are unchanged): the flags, the files they write and the exit code are checked here, not the
scores, which would take minutes on two cores.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import KAGGLE_TEST, KAGGLE_TRAIN, LESSON_WORKBOOK
from titanic_lab.cli import app
from titanic_lab.recalc import find_soffice

README = Path(__file__).resolve().parents[1] / "README.md"
#: The README's names for the reference files, and where ../shared keeps them.
EXAMPLE_FILES = {"train.csv": KAGGLE_TRAIN, "test.csv": KAGGLE_TEST, "lesson-titanic.xlsx": LESSON_WORKBOOK}
#: Example files that ship with titanic-lab, copied under the README's names.
BUNDLED_FILES = {"penguins.csv": Path(__file__).resolve().parents[1] / "titanic_lab" / "datasets" / "penguins.csv"}
MAIN_WORKBOOK = Path("workbooks/titanic.xlsx")
#: Options whose value is a file the command writes (every other .csv/.xlsx is read).
OUTPUT_OPTIONS = {"--out", "-o", "--plot", "--workbook"}
QUICK = {"leaderboard", "submit"}

runner = CliRunner()


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of every fenced code block in ``text``."""
    return re.findall(r"^```(\w*)\n(.*?)^```", text, re.S | re.M)


def readme_commands() -> list[str]:
    """Every ``titanic-lab ...`` line of README.md's shell code blocks, in order."""
    return [line.strip() for lang, code in code_blocks(README.read_text(encoding="utf-8")) if lang in ("bash", "sh", "")
            for line in code.splitlines() if line.startswith("titanic-lab ")]


def _inputs(args: list[str]) -> list[str]:
    """The files a command reads: every .csv/.xlsx argument that is not an output option's value."""
    return [a for prev, a in zip(["", *args], args) if a.endswith((".csv", ".xlsx")) and prev not in OUTPUT_OPTIONS]


def _marks(command: str) -> list[pytest.MarkDecorator]:
    args = shlex.split(command, comments=True)[1:]
    marks = []
    if any(a in EXAMPLE_FILES for a in _inputs(args)):
        marks.append(pytest.mark.shared)
    if args[0] == "verify" or "--recalc" in args:
        marks.append(pytest.mark.libreoffice)
    return marks


COMMANDS = readme_commands()


def test_the_readme_shows_commands():
    """The extraction finds what it should: every command, each in a shell block."""
    shown = set(re.findall(r"^titanic-lab ([\w-]+)", README.read_text(encoding="utf-8"), re.M))
    assert {"train", "verify", "compare", "predict", "leaderboard", "submit", "features", "lr-find"} <= shown
    assert {shlex.split(c, comments=True)[1] for c in COMMANDS} == shown


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("readme")
    for name, source in {**EXAMPLE_FILES, **BUNDLED_FILES}.items():
        if source.exists():
            shutil.copyfile(source, folder / name)  # copies: nothing an example writes can reach ../shared
    return folder


@pytest.fixture
def quick_models(monkeypatch):
    """titanic-lab's models with a loose convergence rule and one restart (the cross-validating commands only)."""
    from titanic_lab import runs
    from titanic_lab.training import default_settings, with_overrides

    def quick(spec, optimizer=None, loss=None):
        return with_overrides(default_settings(spec, optimizer, loss), window=20, tol=1e-3, max_epochs=400, restarts=1)

    monkeypatch.setattr(runs, "default_settings", quick)  # train's and the leaderboard's (runs.model_settings)


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


@pytest.mark.parametrize("command", [pytest.param(c, marks=_marks(c), id=f"{i:02d}-{c.split()[1]}") for i, c in enumerate(COMMANDS)])
def test_readme_command_runs_as_written(command, workdir, monkeypatch, request):
    args = shlex.split(command, comments=True)[1:]
    monkeypatch.chdir(workdir)
    for name in _inputs(args):
        if not Path(name).exists():
            where = f"../shared ({EXAMPLE_FILES[name]})" if name in EXAMPLE_FILES else "an earlier README command (not run, skipped or failed)"
            pytest.skip(f"{command!r} reads {name}, which comes from {where}")
    if request.node.get_closest_marker("libreoffice") and find_soffice() is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    if args[0] in QUICK:
        request.getfixturevalue("quick_models")
    main_before = _digest(MAIN_WORKBOOK)

    result = runner.invoke(app, args)

    assert result.exit_code == 0, f"{command}\n{result.output}"
    outputs = [a for prev, a in zip(["", *args], args) if prev in OUTPUT_OPTIONS]
    assert [o for o in outputs if not Path(o).is_file()] == []
    if args == ["train"]:
        assert MAIN_WORKBOOK.is_file()  # the main job writes the main workbook ...
    else:
        assert _digest(MAIN_WORKBOOK) == main_before  # ... and no other example replaces it


PYTHON_BLOCKS = [pytest.param(i, marks=[pytest.mark.shared] if "/kaggle/input/titanic/" in code else [], id=f"block{i}")
                 for i, (lang, code) in enumerate(code_blocks(README.read_text(encoding="utf-8"))) if lang == "python"]


@pytest.mark.parametrize("index", PYTHON_BLOCKS)
def test_readme_python_runs(index, workdir, monkeypatch, capsys):
    """The README's Python blocks run; Kaggle's input folder is the example files' folder here."""
    code = code_blocks(README.read_text(encoding="utf-8"))[index][1]
    if "/kaggle/input/titanic/" in code:
        if not all((workdir / name).exists() for name in ("train.csv", "test.csv")):
            pytest.skip(f"needs Kaggle's train.csv and test.csv from ../shared ({KAGGLE_TRAIN.parent})")
        code = code.replace("/kaggle/input/titanic/", "")
    monkeypatch.chdir(workdir)
    exec(compile(code, f"README.md python block {index}", "exec"), {})
