"""The example notebook runs as a Kaggle user would run it (on the bundled data here)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "kaggle.ipynb"


def test_example_notebook_writes_a_submission(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, resources={"metadata": {"path": str(tmp_path)}}).execute()
    submission = pd.read_csv(tmp_path / "submission.csv")
    assert list(submission.columns) == ["PassengerId", "Survived"] and len(submission) == 418
    assert set(submission["Survived"]) <= {0, 1}
