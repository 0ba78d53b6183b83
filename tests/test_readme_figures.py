"""Every figure README.md states is checked by a test, or marked *(example)* (measured once, not checked).

A figure is a number with a decimal point, a power of ten (``1e-8``) or thousands separators
(``36,555``) outside code blocks. It passes when its paragraph (or table, with the paragraph
before it) is marked *(example)*, or when a test file names it; the defaults table is checked
here against the model kinds' own defaults.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from titanic_lab.models import parse_model
from titanic_lab.training import default_settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
FIGURE = re.compile(r"(?<![\w.`/-])(\d+\.\d+(?:e-?\d+)?|\d+e-?\d+|\d{1,3}(?:,\d{3})+)(?![\w`/])")
#: Not figures: versions of what titanic-lab needs.
NOT_FIGURES = {"3.10", "2.13"}
#: Figures a test checks without writing them: what checks each.
CHECKED_ELSEWHERE = {
    "36,555": "tests/test_render.py reads it from the README and counts the default workbook's formula cells",
    "0.999": "Adam's betas: tests/test_training.py compares the hand-written Adam with torch.optim.Adam's defaults",
}
EXAMPLE = "*(example"


def blocks(text: str) -> list[str]:
    """The README's paragraphs and tables outside code blocks; a table joined to the paragraph before it."""
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    out: list[str] = []
    for block in re.split(r"\n\s*\n", prose):
        if block.lstrip().startswith("|") and out:
            out[-1] += "\n" + block
        else:
            out.append(block)
    return out


def _in_tests(figure: str, tests: str) -> bool:
    return any(form in tests for form in {figure, figure.replace(",", ""), figure.replace(",", "_")})


def test_every_figure_is_checked_or_an_example():
    tests = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").glob("*.py") if p.name != Path(__file__).name)
    defaults = _defaults_table()
    unchecked = []
    for block in blocks(README):
        if EXAMPLE in block or block == defaults:
            continue
        for figure in FIGURE.findall(block):  # noqa: B007
            if figure not in NOT_FIGURES and figure not in CHECKED_ELSEWHERE and not _in_tests(figure, tests):
                unchecked.append((figure, block.strip().splitlines()[0][:70]))
    assert unchecked == [], "figures neither checked by a test nor marked *(example)*: " + repr(unchecked)


def _defaults_table() -> str:
    return next(b for b in blocks(README) if "| model | forward pass |" in b)


def _number(text: str) -> float:
    return float(text.replace(",", ""))


@pytest.mark.parametrize("model", ["linear", "nnet", "sigmoid", "hidden", "deep"])
def test_the_defaults_table_is_the_models_own(model):
    row = next(r for r in _defaults_table().splitlines() if r.startswith(f"| `{model}` |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    _, _, loss, optimizer, lr, plateau, cap, restarts = cells
    tol, window = (c.strip() for c in plateau.split(","))
    st = default_settings(parse_model(model))
    assert (loss, optimizer) == (st.loss, st.optimizer)
    assert (_number(lr), _number(tol), int(_number(window)), int(_number(cap)), int(restarts)) == (
        st.lr, st.tol, st.window, st.max_epochs, st.restarts)
