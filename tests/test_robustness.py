"""Bad input, interruptions, determinism, hostile workbooks: one test per row of docs/robustness.md."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import KAGGLE_HEADER, KAGGLE_ROWS, signal_when, write_csv
from titanic_lab.cli import app
from titanic_lab.reading import sheet_values

runner = CliRunner()
EXE = str(Path(sys.executable).with_name("titanic-lab"))


def _train(tmp_path: Path, data: Path, *extra: str):
    out = tmp_path / "out" / "book.xlsx"
    result = runner.invoke(app, ["train", "--data", str(data), "-m", "linear", "--epochs", "5", "--out", str(out), *extra])
    return result, out


def _fails_cleanly(result, out: Path, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert not out.exists() and not (out.parent.exists() and any(out.parent.iterdir()))


ROWS = KAGGLE_HEADER + KAGGLE_ROWS


@pytest.mark.parametrize("name, text, message", [
    ("empty file", "", "the file is empty"),
    ("header only", KAGGLE_HEADER, "has a header but no data rows"),
    ("wrong separator", ROWS, "--sep ',', or leave --sep out"),  # given --sep ';' below
    ("duplicated PassengerId", ROWS.replace("\n2,1,1", "\n1,1,1"), "column PassengerId repeats value 1 on line 3"),
    ("Survived 2", ROWS.replace("\n2,1,1", "\n2,2,1"), "column Survived must be 0 or 1, found 2 on line 3"),
    ("Survived -1", ROWS.replace("\n2,1,1", "\n2,-1,1"), "found -1 on line 3"),
    ("Survived blank", ROWS.replace("\n2,1,1", "\n2,,1"), "found blank on line 3"),
    ("Age abc", ROWS.replace(",38,", ",abc,"), "column Age has non-numeric value 'abc' on line 3"),
    ("Age negative", ROWS.replace(",38,", ",-38,"), "column Age has negative value -38 on line 3"),
    ("Age 1e308", ROWS.replace(",38,", ",1e308,"), "column Age has implausible value 1e+308 on line 3 (at most 150)"),
    ("Fare inf", ROWS.replace(",71.2833,", ",inf,"), "column Fare has non-finite value"),
])
def test_bad_csv(tmp_path, name, text, message):
    result, out = _train(tmp_path, write_csv(tmp_path, text), *(["--sep", ";"] if name == "wrong separator" else []))
    _fails_cleanly(result, out, message)


def test_missing_file(tmp_path):
    result, out = _train(tmp_path, tmp_path / "nope.csv")
    _fails_cleanly(result, out, "nope.csv: no such file")


def test_bytes_neither_utf8_nor_windows_1252(tmp_path):
    data = tmp_path / "binary.csv"
    data.write_bytes(ROWS.replace("Laina", "La\x81na").encode("latin-1"))  # 0x81: no character in Windows-1252
    result, out = _train(tmp_path, data)
    _fails_cleanly(result, out, "is neither UTF-8 nor Windows-1252 text (byte 0x81")


def test_xlsx_passed_as_csv(tmp_path):
    book = tmp_path / "book.xlsx"
    openpyxl.Workbook().save(book)
    result, out = _train(tmp_path, book)
    _fails_cleanly(result, out, "looks like an Excel workbook or other zip file, not a CSV")


def test_a_single_row_trains(tmp_path):
    result, out = _train(tmp_path, write_csv(tmp_path, KAGGLE_HEADER + KAGGLE_ROWS.splitlines(True)[0]))
    assert result.exit_code == 0, result.output
    rows = sheet_values(out)["linear"]
    assert rows[3][0] == 0.0 and rows[4][0] == ""  # the header, the one data row, nothing under it


def test_quoted_newlines_and_quotes_in_names(tmp_path):
    name = 'Smith, Mr. "Jack"\nthe second'
    rows = KAGGLE_ROWS.replace('"Braund, Mr. Owen Harris"', '"Smith, Mr. ""Jack""\nthe second"')
    result, out = _train(tmp_path, write_csv(tmp_path, KAGGLE_HEADER + rows), "--preset", "extended", "--all-rows")
    assert result.exit_code == 0, result.output
    values = sheet_values(out)["linear"]
    column = values[2].index("Name")
    assert values[3][column] == name


def test_all_passengers_of_one_class(tmp_path):
    rows = KAGGLE_ROWS.replace("1,0,3,", "1,0,1,").replace("3,1,3,", "3,1,1,").replace("4,0,2,", "4,0,1,")
    assert [line.split(",")[2] for line in rows.splitlines()] == ["1"] * 4
    result, out = _train(tmp_path, write_csv(tmp_path, KAGGLE_HEADER + rows))
    assert result.exit_code == 0, result.output
    assert out.exists()


@pytest.mark.parametrize("command", ["compare", "verify"])
def test_csv_passed_as_workbook(tmp_path, command):
    data = write_csv(tmp_path, ROWS, "data.xlsx")
    result = runner.invoke(app, [command, str(data)])
    assert result.exit_code == 2 and "not an .xlsx workbook" in result.stderr


def test_csv_passed_as_model(tmp_path):
    data = write_csv(tmp_path, ROWS)
    result = runner.invoke(app, ["predict", "--model", str(data), "--data", str(data), "--out", str(tmp_path / "s.csv")])
    assert result.exit_code == 2 and "not an .xlsx workbook" in result.stderr
    assert not (tmp_path / "s.csv").exists()


def test_truncated_workbook(tmp_path):
    _, book = _train(tmp_path, write_csv(tmp_path, ROWS))
    truncated = tmp_path / "truncated.xlsx"
    truncated.write_bytes(book.read_bytes()[: book.stat().st_size // 2])
    result = runner.invoke(app, ["compare", str(truncated)])
    assert result.exit_code == 2 and "not an .xlsx workbook (not a zip file, or a truncated one)" in result.stderr


def test_workbook_not_in_the_lesson_layout(tmp_path):
    book = tmp_path / "plain.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["a", "b"])
    wb.save(book)
    result = runner.invoke(app, ["compare", str(book)])
    assert result.exit_code == 2 and "no sheet in the lesson layout" in result.stderr


def test_formulas_without_cached_values(tmp_path):
    _, book = _train(tmp_path, write_csv(tmp_path, ROWS))
    resaved = tmp_path / "resaved.xlsx"
    openpyxl.load_workbook(book).save(resaved)  # openpyxl keeps formulas, drops every cached value
    result = runner.invoke(app, ["compare", str(resaved)])
    assert result.exit_code == 2 and "store no cached values" in result.stderr and "--recalc" in result.stderr
    assert result.stderr.startswith(f"error: {resaved}: sheet ")  # the file named, as every error names it


def test_a_workbook_without_a_formula_is_refused_by_verify(tmp_path):
    """Nothing to recalculate: exit 2 (not the 1 of a cell that differs), one line naming the file."""
    book = tmp_path / "plain.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["a", 1.5])
    wb.save(book)
    result = runner.invoke(app, ["verify", str(book)])
    assert result.exit_code == 2 and result.stderr == f"error: {book}: holds no formula cell; there is nothing to recalculate and compare\n"


def test_an_any_table_workbook_without_its_spec_sheet_says_so(tmp_path):
    """Without the spec sheet the reader looks for Titanic's target; the message says what is missing."""
    rng = np.random.default_rng(0)
    data = tmp_path / "t.csv"
    pd.DataFrame({"x": rng.normal(size=40), "y": rng.normal(size=40)}).to_csv(data, index=False)
    book = tmp_path / "w.xlsx"
    assert runner.invoke(app, ["train", "--data", str(data), "--target", "y", "-m", "linear", "--epochs", "2",
                               "--out", str(book)]).exit_code == 0
    wb = openpyxl.load_workbook(book)
    del wb["spec"]
    wb.save(book)
    result = runner.invoke(app, ["predict", "--model", str(book), "--data", str(data), "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 2 and "which this one lacks" in result.stderr and "'spec' sheet" in result.stderr


def test_too_many_rows_for_a_workbook_are_refused_before_training(tmp_path):
    line = '1,0,3,"A, Mr. B",male,22,1,0,T,7.25,,S\n'
    data = tmp_path / "big.csv"
    data.write_text(KAGGLE_HEADER + "".join(f"{i}{line[1:]}" for i in range(1, 1_100_001)))
    started = time.perf_counter()
    result, out = _train(tmp_path, data, "--epochs", "100000")
    _fails_cleanly(result, out, "1100000 rows do not fit in one Excel sheet")
    assert "--sample N" in result.stderr
    assert time.perf_counter() - started < 60  # refused before the 100,000 epochs


def test_output_under_a_file_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(app, ["train", "-m", "linear", "--epochs", "2", "--out", str(blocker / "book.xlsx")])
    assert result.exit_code == 2 and "cannot write there" in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_read_only_output_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    result = runner.invoke(app, ["train", "-m", "linear", "--epochs", "2", "--out", str(folder / "book.xlsx")])
    assert result.exit_code == 2 and "cannot write there" in result.stderr


def test_zip_bomb_is_refused(tmp_path):
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("xl/sharedStrings.xml", "w", force_zip64=True) as member:
            chunk = b"\0" * (1 << 20)
            for _ in range(300):  # 300 MB of zeros, a few hundred KB packed
                member.write(chunk)
    started = time.perf_counter()
    for command in (["compare", str(bomb)], ["verify", str(bomb)], ["compare", "--recalc", str(bomb)]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2 and "refused" in result.stderr, command
    assert time.perf_counter() - started < 10


def test_same_seed_gives_byte_identical_workbooks(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    books = []
    for name in ("a.xlsx", "b.xlsx"):
        result = runner.invoke(app, ["train", "--epochs", "30", "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        books.append((tmp_path / name).read_bytes())
    assert books[0] == books[1]


def _interrupt(tmp_path: Path, args: list[str], after: str) -> tuple[int, str]:
    """Run titanic-lab, send SIGINT once ``after`` appears on its stderr, return (exit code, stderr)."""
    proc = subprocess.Popen([EXE, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    seen = signal_when(proc, after, signal.SIGINT)
    rest = proc.stderr.read()
    return proc.wait(timeout=60), seen + rest


@pytest.mark.parametrize("moment", ["writing", "data:"])
def test_ctrl_c_leaves_the_previous_workbook(tmp_path, bundled, moment):
    data = tmp_path / "big.csv"
    bundled.sample(60_000, replace=True, random_state=0).to_csv(data, index=False)
    book = tmp_path / "book.xlsx"
    result = runner.invoke(app, ["train", "-m", "linear", "--epochs", "3", "--out", str(book)])
    assert result.exit_code == 0
    before = book.read_bytes()
    epochs = "1" if moment == "writing" else "100000"
    # --json keeps stdout for the summary and sends the progress lines ("data:", "writing") to stderr.
    code, stderr = _interrupt(tmp_path, ["train", "--data", str(data), "-m", "linear", "--epochs", epochs, "--all-rows",
                                         "--valid-pct", "0", "--json", "--out", str(book)], moment)
    assert code == 130 and "interrupted" in stderr and "Traceback" not in stderr
    assert book.read_bytes() == before and openpyxl.load_workbook(book, read_only=True).sheetnames
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv", "book.xlsx"]  # no temporary file left


@pytest.mark.parametrize("target", ["y", "k"])
def test_a_blank_row_inserted_among_the_data_rows_is_named(tmp_path, target):
    """The reader stopped at the blank row: predict fitted the features on the rows above it (6 of 40) and
    wrote other predictions, with exit 0."""
    rng = np.random.default_rng(0)
    data = tmp_path / "t.csv"
    pd.DataFrame({"x": rng.normal(size=40), "c": rng.choice(["a", "b", "c"], 40), "y": rng.normal(size=40),
                  "k": rng.choice(["p", "q", "r"], 40)}).to_csv(data, index=False)  # k: classes, written as text
    book = tmp_path / "w.xlsx"
    assert runner.invoke(app, ["train", "--data", str(data), "--target", target, "-m", "linear", "--epochs", "2",
                               "--out", str(book)]).exit_code == 0
    wb = openpyxl.load_workbook(book)
    wb["linear"].insert_rows(10)
    wb.save(book)
    result = runner.invoke(app, ["predict", "--model", str(book), "--data", str(data), "--out", str(tmp_path / "p.csv"),
                                 "--allow-overlap"])
    assert result.exit_code == 2, result.output
    assert f"sheet 'linear': row 10 is blank in the {target} column between data rows" in result.stderr
    assert not (tmp_path / "p.csv").exists()
