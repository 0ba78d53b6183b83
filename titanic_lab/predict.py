"""Predict with the parameters a workbook holds: the workbook is the model file."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from . import sheet_layout as sl
from .array_forward import predict_array
from .choosing import VALIDATION, choose
from .datasets import registry
from .datasets.infer import read_rows
from .datasets.spec import check_columns
from .errors import DataError, TitanicLabError, UnseenCategoryWarning
from .files import atomic_output
from .finite import check_features
from .workbook.layout import (FirstRows, LayoutError, ModelSheet, first_rows, label_value, model_sheet_names, read_model_sheets,
                               recorded_validation)
from .reading import sheet_values
from .tasks import check_known_classes


#: The id column of predictions for a table without one: each row's 1-based data row in the file.
ROW_COLUMN = "row"
#: The sheet of a titanic-lab workbook that keeps the identity columns of every row it was trained from.
ALL_ROWS = "all_rows"


def _id_text(value: object) -> str:
    """An id as text, however a sheet stored it (``7`` and ``7.0`` are ``7``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def choose_sheet(model: str | Path, name: str | None = None, *, first: FirstRows | None = None) -> tuple[str, str]:
    """The model sheet to predict with, and why, read from the first rows of each sheet only (``first``:
    :func:`~titanic_lab.workbook.layout.first_rows` of ``model``, when the caller has read them).

    The sheet called ``name``; else the one with the best validation metric of the target's task
    (:func:`titanic_lab.choosing.choose`: the one-standard-error rule where the sheets record their
    paired standard errors, else accuracy then log loss, or RMSE) among the sheets that record it;
    else (a workbook written before they were recorded) the lowest ``Valid loss:`` when every sheet
    has one; else the lowest total loss (the lesson's workbook); else the first.
    """
    heads, stored = first_rows(model) if first is None else first
    names = model_sheet_names(heads, stored)
    if name is not None:
        if name not in names:
            raise LayoutError(f"no model sheet named {name!r} (model sheets: {', '.join(names)})")
        return name, "asked for with --sheet"
    if not names:
        read_model_sheets(model, first=(heads, stored))  # raises the reader's error, naming what is missing
    task = stored.target.task if stored is not None else "binary"

    def cells_of(name: str, read):  # a labelled cell that holds no number, named with the workbook and the sheet
        try:
            return read(heads[name])
        except LayoutError as exc:
            raise LayoutError(f"{model}: sheet {name!r} {exc}; write a number there, or remove the sheet") from None

    recorded = {n: cells_of(n, lambda rows: recorded_validation(rows, task)) for n in names}
    scored = {n: v for n, v in recorded.items() if v and all(m.name in v for m in VALIDATION.get(task, ()))}
    if scored:
        return choose(task, scored)
    valid = {n: cells_of(n, lambda rows: label_value(rows, 0, sl.VALID_LOSS)) for n in names}
    if all(v is not None for v in valid.values()):
        best = min(valid, key=valid.get)
        return best, f"lowest Valid loss: ({best} {valid[best]:.4g}; the workbook records no validation metrics)"
    totals = {n: cells_of(n, lambda rows: label_value(rows, 0, sl.TOTAL_LOSS)) for n in names}
    totals = {n: v for n, v in totals.items() if v is not None}
    if totals:
        best = min(totals, key=totals.get)
        return best, f"lowest total loss ({best} {totals[best]:.4g})"
    return names[0], "the first model sheet"


def training_passengers(model: str | Path, columns: tuple[str, ...] | None = None) -> pd.DataFrame:
    """The identity ``columns`` (Titanic's PassengerId, Name, Ticket; another table's id) of the rows a
    titanic-lab workbook was trained from, read from its ``all_rows`` sheet; empty when the
    workbook has none (the lesson's). Default: the flagship dataset's identity columns."""
    columns = registry.default().identity_columns if columns is None else columns
    rows = sheet_values(model, [ALL_ROWS]).get(ALL_ROWS) or [[]]  # that sheet only
    header = [str(h) for h in rows[0]]
    keep = [c for c in columns if c in header]
    return pd.DataFrame([[r[header.index(c)] if header.index(c) < len(r) else None for c in keep] for r in rows[1:]], columns=keep)


def _unchecked_overlap(heads: dict[str, list[list[object]]], identity: tuple[str, ...]) -> str | None:
    """Why a workbook titanic-lab wrote (its sheets' first rows, ``heads``) cannot tell which rows it was trained on, by
    the ``identity`` columns its :data:`ALL_ROWS` sheet keeps (Titanic's PassengerId, Name, Ticket; a table's id); None
    when it can, and for the lesson's own workbook (no spec sheet), which was never trained on a file of ours."""
    if ALL_ROWS not in heads:
        if sl.SPEC_SHEET not in heads:
            return None
        return f"has no {ALL_ROWS} sheet (titanic-lab writes one beside its spec sheet; it was deleted)"
    header = [str(h) for h in (heads[ALL_ROWS][0] if heads[ALL_ROWS] else [])]
    if not any(c in header for c in identity):
        return f"its {ALL_ROWS} sheet has no {' or '.join(identity)} column in its first row"
    return None


def predict_from_workbook(
    model: str | Path, data: str | Path, sheet: str | None = None, *, allow_overlap: bool = False
) -> tuple[pd.DataFrame, ModelSheet]:
    """Predictions for ``data`` from a workbook's parameters and its stored table description.

    The preprocessing is the workbook's spec (or, for the lesson's workbook, the recognised
    Titanic preset) fitted on the sheet's own rows (for the lesson's workbook: ``MAX(Age)`` = 80
    from its 712 rows). A binary target's prediction above 0.5 is the positive class, written
    as the file writes it (1, or ``Yes``...); a regression target's is in its own units.

    Returns
    -------
    predictions : pandas.DataFrame
        The id column (Titanic: ``PassengerId``; a table without an id: ``row``, the 1-based
        data row of ``data``) and a column named after the target, one row per input row, in
        input order.
    sheet : ModelSheet
        The sheet whose model was used.

    Raises
    ------
    DataError
        When ``data`` lacks the id column or a column the features read, or (unless
        ``allow_overlap``) when the workbook was trained on rows that ``data`` holds (the same
        passengers, or the same ids): predicting them would score the model on its own
        training answers.
    TypeError
        When ``model`` or ``data`` is not a path (a DataFrame: write it with ``to_csv`` first).
    """
    for name, value in (("model", model), ("data", data)):
        if not isinstance(value, (str, os.PathLike)):
            raise TypeError(f"predict_from_workbook: {name} must be a path to a file, not a {type(value).__name__}"
                            + ("; write the rows with df.to_csv(path, index=False) and pass the path" if name == "data" else ""))
    first = first_rows(model)  # read once, to choose the sheet and to read it
    chosen_name, why = choose_sheet(model, sheet, first=first)
    # That sheet's values only, no formula parsed.
    (chosen,) = read_model_sheets(model, [chosen_name], formulas=False, first=first)
    chosen.chosen_why = why
    dataset = chosen.dataset
    id_column = dataset.id_column
    known = registry.builtin(dataset)
    if known is not None and known.same_rows is not None:  # a built-in dataset that matches rows its own way
        rows = known.read(data, require_target=False)
        if id_column not in rows.columns:
            raise DataError(data, f"has no {id_column} column, which a submission needs")
        identity = known.identity_columns
        overlap = int(known.same_rows(training_passengers(model, identity), rows).sum())
        what = known.same_rows_words
    else:
        rows = read_rows(data, dataset, with_id=False)  # headers matched to the spec's names without case
        check_columns(dataset, rows, data)
        if dataset.target.task == "multiclass" and dataset.target.column in rows.columns:
            check_known_classes(dataset.target, rows[dataset.target.column], data)
        if id_column is not None and id_column not in rows.columns:
            raise DataError(data, f"has no id column {id_column}, which the predictions are written with")
        if id_column is not None:
            rows = read_rows(data, dataset)  # ids as written, checked
        identity = (id_column,) if id_column else ()
        trained = training_passengers(model, (id_column,)) if id_column else pd.DataFrame()
        trained_ids = set(trained[id_column].map(_id_text)) if id_column in trained.columns else set()
        overlap = int(rows[id_column].map(_id_text).isin(trained_ids).sum()) if trained_ids else 0
        what = f"rows have the {id_column} of a row {{model}} was trained on"
    if identity and not allow_overlap:
        unchecked = _unchecked_overlap(first[0], identity)
        if unchecked:
            warnings.warn(f"{model}: {unchecked}, so predict cannot check that the rows of {data} are not rows it was "
                          "trained on (pass --allow-overlap to say that it does not matter)", UserWarning, stacklevel=2)
    if overlap and not allow_overlap:
        raise DataError(
            data,
            f"{overlap} of its {what.format(model=model)}: that is training on the answers. Retrain without them "
            f"(titanic-lab train --exclude-from {data}) or pass --allow-overlap",
        )
    pre = chosen.preprocessor()  # the sheet's Fill: cells and held scales, as edited
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnseenCategoryWarning)
        try:
            features = pre.transform(rows)[chosen.features]
        except TitanicLabError as exc:  # a value the features cannot read: named with the file
            raise DataError(data, str(exc)) from None
    check_features(features, data)
    for unseen in caught:  # named after the file; the Titanic reader has already warned of its own
        if issubclass(unseen.category, UnseenCategoryWarning) and known is None:
            warnings.warn(f"{data}: {unseen.message}", UserWarning, stacklevel=2)
    preds = predict_array(chosen.spec, chosen.params, features.to_numpy(dtype=np.float64))  # numpy: no torch imported
    ids = rows[id_column].to_numpy() if id_column else np.arange(1, len(rows) + 1)
    return pd.DataFrame({id_column or ROW_COLUMN: ids, dataset.target.column: dataset.target.decode(preds)}), chosen


def write_submission(submission: pd.DataFrame, out: str | Path) -> Path:
    """Write a submission CSV atomically."""
    with atomic_output(out) as tmp:
        submission.to_csv(tmp, index=False)
    return Path(out)
