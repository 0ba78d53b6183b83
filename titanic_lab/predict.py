"""Predict with the parameters a workbook holds: the workbook is the model file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from .data import ID_COLUMN, IDENTITY_COLUMNS, read_titanic, same_passengers
from .errors import DataError
from .files import atomic_output
from .layout import LayoutError, ModelSheet, read_model_sheets
from .models import forward
from .preprocessing import TitanicPreprocessor
from .reading import sheet_values


def choose_sheet(sheets: list[ModelSheet], name: str | None = None) -> ModelSheet:
    """The sheet called ``name``, or else the one with the lowest total loss."""
    if name is not None:
        for sheet in sheets:
            if sheet.name == name:
                return sheet
        raise LayoutError(f"no model sheet named {name!r} (model sheets: {', '.join(s.name for s in sheets)})")
    with_total = [s for s in sheets if s.total is not None]
    return min(with_total, key=lambda s: s.total[1]) if with_total else sheets[0]


def training_passengers(model: str | Path) -> pd.DataFrame:
    """The identity columns (PassengerId, Name, Ticket) of the rows a titanic-lab workbook was
    trained from, read from its ``all_rows`` sheet; empty when the workbook has none (the lesson's)."""
    rows = sheet_values(model, ["all_rows"]).get("all_rows") or [[]]  # that sheet only
    header = [str(h) for h in rows[0]]
    keep = [c for c in IDENTITY_COLUMNS if c in header]
    return pd.DataFrame([[r[header.index(c)] if header.index(c) < len(r) else None for c in keep] for r in rows[1:]], columns=keep)


def predict_from_workbook(
    model: str | Path, data: str | Path, sheet: str | None = None, *, allow_overlap: bool = False
) -> tuple[pd.DataFrame, ModelSheet]:
    """Kaggle-format predictions for ``data`` from a workbook's parameters and preprocessing.

    The preprocessing is the sheet's preset fitted on the sheet's own rows (for the lesson's
    workbook: ``MAX(Age)`` = 80 from its 712 rows); a prediction above 0.5 is survival.

    Returns
    -------
    submission : pandas.DataFrame
        ``PassengerId, Survived`` (0/1 integers), one row per input row, in input order.
    sheet : ModelSheet
        The sheet whose model was used.

    Raises
    ------
    DataError
        When ``data`` has no ``PassengerId`` column, or (unless ``allow_overlap``) when the
        workbook was trained on passengers that ``data`` holds: predicting them would score
        the model on its own training answers.
    """
    chosen = choose_sheet(read_model_sheets(model), sheet)
    rows = read_titanic(data, require_target=False)
    if ID_COLUMN not in rows.columns:
        raise DataError(data, f"has no {ID_COLUMN} column, which a submission needs")
    overlap = int(same_passengers(training_passengers(model), rows).sum())
    if overlap and not allow_overlap:
        raise DataError(
            data,
            f"{overlap} of its passengers are among the rows {model} was trained on (same PassengerId, or same name and "
            f"ticket): that is training on the answers. Retrain without them (titanic-lab train --exclude-from {data}) "
            "or pass --allow-overlap",
        )
    pre = TitanicPreprocessor(chosen.preset).fit(chosen.frame)
    X = torch.tensor(pre.transform(rows)[chosen.features].to_numpy(), dtype=torch.float64)  # (n_rows, n_features)
    preds = forward(chosen.spec, chosen.params, X)
    survived = (preds > 0.5).to(torch.int64).numpy()
    return pd.DataFrame({ID_COLUMN: rows[ID_COLUMN].to_numpy(), "Survived": survived}), chosen


def write_submission(submission: pd.DataFrame, out: str | Path) -> Path:
    """Write a submission CSV atomically."""
    with atomic_output(out) as tmp:
        submission.to_csv(tmp, index=False)
    return Path(out)
