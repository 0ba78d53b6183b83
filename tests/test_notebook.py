"""The example notebook runs as a Kaggle user would run it, and uses only the documented API."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest

import titanic_lab

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "kaggle.ipynb"


def _run(cwd: Path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, resources={"metadata": {"path": str(cwd)}}).execute()
    return notebook


def _submission(cwd: Path) -> pd.DataFrame:
    submission = pd.read_csv(cwd / "submission.csv")
    assert list(submission.columns) == ["PassengerId", "Survived"]
    assert set(submission["Survived"]) <= {0, 1}
    return submission


def test_example_notebook_writes_a_submission(tmp_path):
    notebook = _run(tmp_path)  # no ./data, not on Kaggle: the bundled titanic3
    assert len(_submission(tmp_path)) == 418
    printed = "".join(o.get("text", "") for o in notebook.cells[1].outputs)
    assert "titanic3.csv" in printed and "held out from train" in printed


def test_example_notebook_uses_data_beside_it(tmp_path, bundled):
    """``./data/train.csv`` and ``./data/test.csv`` are used when present, as the command line does."""
    (tmp_path / "data").mkdir()
    bundled.head(500).to_csv(tmp_path / "data" / "train.csv", index=False)
    test = bundled.tail(123).drop(columns="Survived").assign(PassengerId=range(5001, 5124))
    test.to_csv(tmp_path / "data" / "test.csv", index=False)
    _run(tmp_path)
    assert _submission(tmp_path)["PassengerId"].tolist() == list(range(5001, 5124))


def _imports() -> list[ast.stmt]:
    import json

    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return [n for n in ast.walk(ast.parse(code)) if isinstance(n, (ast.Import, ast.ImportFrom))]


def test_example_notebook_uses_only_the_public_api():
    """Only ``from titanic_lab import ...`` of names in ``titanic_lab.__all__``, each one named in the README."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ours = [n for n in _imports() if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("titanic_lab")]
    assert ours and all(n.module == "titanic_lab" for n in ours)
    assert not [n for n in _imports() if isinstance(n, ast.Import) and any(a.name.startswith("titanic_lab") for a in n.names)]
    names = [a.name for n in ours for a in n.names]
    assert set(names) <= set(titanic_lab.__all__)
    assert [name for name in names if f"`{name}" not in readme] == []
