"""What a student prints: the sheet tools/render_sheet.py renders is the one named, and the
README's figures about the default workbook (its pages in LibreOffice, its formula cells) are true."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from titanic_lab.config import RunConfig
from titanic_lab.reading import formula_cells
from titanic_lab.recalc import convert, find_soffice
from titanic_lab.runs import train_run
from titanic_lab.workbook import write_workbook

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
needs_pdf = pytest.mark.skipif(find_soffice() is None or shutil.which("pdftotext") is None,
                               reason="LibreOffice (soffice) or poppler's pdftotext is not installed")


def _tool():
    spec = importlib.util.spec_from_file_location("render_sheet", ROOT / "tools" / "render_sheet.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _text(pdf: Path, first: int, last: int) -> str:
    return subprocess.run(["pdftotext", "-f", str(first), "-l", str(last), "-layout", str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout


def _pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


@pytest.fixture(scope="module")
def default_book(tmp_path_factory):
    """The README's default workbook: ``titanic-lab train`` with every default."""
    return write_workbook(train_run(RunConfig()), tmp_path_factory.mktemp("default") / "titanic.xlsx")


@pytest.mark.libreoffice
@needs_pdf
@pytest.mark.parametrize("sheet, shows, not_shown", [
    ("nnet", ["Lin1 weights", "ReLU1", "Preds"], ["Linear", "Column"]),
    ("linear", ["weights", "Linear", "Total loss:"], ["ReLU1", "Lin1 weights"]),
    ("mmult", ["Column", "Param1", "ReLU2"], ["Lin1 weights", "Linear"]),
])
def test_the_rendered_sheet_is_the_one_named(default_book, tmp_path, sheet, shows, not_shown):
    pdf = _tool().sheet_pdf(default_book, sheet, tmp_path)
    text = _text(pdf, 1, 3)  # a model sheet's three pages: data table, params, model
    assert all(s in text for s in shows) and not any(s in text for s in not_shown), (sheet, text[:400])
    png = _tool().page_png(pdf, 2, tmp_path / "page.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.libreoffice
@needs_pdf
def test_the_readmes_page_count_is_measured(default_book, tmp_path):
    stated = int(re.search(r"The default workbook\s+\(`titanic-lab train`\) prints on (\d+) pages in LibreOffice", README).group(1))
    assert _pages(convert(default_book, tmp_path, "pdf")) == stated


def test_the_readmes_formula_cell_count_is_counted(default_book):
    stated = int(re.search(r"the ([\d,]+) formula cells of the default workbook", README).group(1).replace(",", ""))
    assert sum(len(cells) for cells in formula_cells(default_book).values()) == stated
