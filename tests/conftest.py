"""Shared fixtures. Reference material lives in ../shared beside the project; tests that
need it skip with a reason when it is absent (a user's fresh clone does not have it)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

SHARED = Path(os.environ.get("TITANIC_LAB_SHARED", Path(__file__).resolve().parents[2] / "shared"))
KAGGLE_TRAIN = SHARED / "data" / "kaggle" / "train.csv"
KAGGLE_TEST = SHARED / "data" / "kaggle" / "test.csv"
LESSON_WORKBOOK = SHARED / "reference" / "titanic.xlsx"

#: The lesson's figures (../shared/docs/lesson-spreadsheet.md).
LEAST_SQUARES_OPTIMUM = 0.1442271493073191


#: The fixtures that read ../shared; a test using any of them is marked ``shared``.
SHARED_FIXTURES = frozenset({"kaggle_train", "kaggle_test", "lesson_workbook"})


@pytest.hookimpl(tryfirst=True)  # before ``-m`` selects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs ../shared, so ``pytest -m shared`` selects them and ``-m "not shared"`` the rest."""
    for item in items:
        if SHARED_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.shared)


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"reference file {path} is absent (../shared is not beside this checkout)")
    return path


@pytest.fixture
def kaggle_train() -> Path:
    return _need(KAGGLE_TRAIN)


@pytest.fixture
def kaggle_test() -> Path:
    return _need(KAGGLE_TEST)


@pytest.fixture
def lesson_workbook() -> Path:
    return _need(LESSON_WORKBOOK)


@pytest.fixture(scope="session")
def bundled():
    from titanic_lab.data import bundled_path, read_titanic

    return read_titanic(bundled_path())


def write_csv(tmp_path: Path, text: str, name: str = "train.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def written_formulas(path: Path, sheet: str) -> dict[tuple[int, int], str]:
    """A sheet's formulas ``{(row, col): text}`` (0-based, no ``=``) with each shared formula written out in
    every cell it covers, as openpyxl's reader translates it (``formula_cells`` gives those cells empty text)."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True)
    try:
        return {(r, c): value[1:] for r, row in enumerate(book[sheet].iter_rows(values_only=True))
                for c, value in enumerate(row) if isinstance(value, str) and value.startswith("=")}
    finally:
        book.close()


KAGGLE_HEADER = "PassengerId,Survived,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked\n"
KAGGLE_ROWS = (
    '1,0,3,"Braund, Mr. Owen Harris",male,22,1,0,A/5 21171,7.25,,S\n'
    '2,1,1,"Cumings, Mrs. John Bradley (Florence Briggs Thayer)",female,38,1,0,PC 17599,71.2833,C85,C\n'
    '3,1,3,"Heikkinen, Miss. Laina",female,26,0,0,STON/O2. 3101282,7.925,,S\n'
    '4,0,2,"Allen, Mr. William Henry",male,,0,0,373450,8.05,,Q\n'
)


def signal_when(proc: subprocess.Popen, text: str, signum: int, delay: float = 0.5) -> str:
    """Read ``proc``'s stderr until ``text`` appears (fail after 120 s), wait ``delay`` s, send ``signum``.

    Returns what was read.
    """
    seen = ""
    deadline = time.monotonic() + 120
    while text not in seen:
        line = proc.stderr.readline()
        if not line or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"{text!r} never appeared on stderr: {seen}")
        seen += line
    time.sleep(delay)
    proc.send_signal(signum)
    return seen
