"""``titanic-lab features``: a CSV's design matrix, the features a model learns from, written as a CSV.

A built-in dataset (Titanic by default, or ``--dataset``) is read by its own reader and gets
its preset's features; any other CSV (``--target`` or ``--spec``) gets its spec, inferred or
read. The preprocessing is fitted on the rows themselves or on another file (``--fit-on``, e.g.
train.csv for test.csv), never on rows of the file being transformed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pandas as pd

from .config import RunConfig
from .cost import check_matrix
from .datasets import registry
from .datasets.infer import open_table, read_rows
from .datasets.spec import check_columns
from .files import atomic_output, check_outputs
from .finite import check_features
from .preprocessing import TabularPreprocessor
from .runs import data_path, describe_data


def write_design_matrix(config: RunConfig, out: Path, fit_on: Path | None = None, complete_rows: bool = False,
                        note: Callable[[str], None] = lambda line: None) -> tuple[pd.DataFrame, list[str]]:
    """Write the design matrix of ``config``'s data to ``out`` (atomically), beside its id and target columns
    when it has them; return the table written and the names of its feature columns.

    Parameters
    ----------
    config : RunConfig
        The data (``data``, ``dataset``, ``preset``; or ``target``, ``id_column``, ``spec``, ``task``).
    fit_on : path, optional
        Learn fill values and maxima from this CSV instead of the data itself.
    complete_rows : bool
        Keep only the rows the preset's row selection keeps (the lesson's 712).
    note : callable
        Called with each line a person reads about the input (its source, the spec, rows left out).
    """
    path = data_path(config)
    check_outputs({"--data": path, "--fit-on": fit_on, "--spec": config.spec}, {"--out": out})
    said: list[str] = []  # told once the rows are read and checked: a refusal is one line, with nothing before it
    fitted = "" if fit_on is None else f"; fitted on: {describe_data(config, fit_on)}"
    said.append(f"data: {describe_data(config, path)}{fitted}")
    if config.target or config.spec:
        df, pre, keep = _table_rows(config, path, fit_on, complete_rows, said.append)
    else:
        df, pre, keep = _dataset_rows(config, path, fit_on, complete_rows, said.append)
    check_matrix(len(df), len(pre.feature_names_out_), path)
    matrix = pre.transform(df)
    check_features(matrix, path)
    for line in said:
        note(line)
    table = df[keep].join(matrix)
    with atomic_output(out) as tmp:
        table.to_csv(tmp, index=False)
    return table, list(matrix.columns)


def _dataset_rows(config: RunConfig, path: Path, fit_on: Path | None, complete_rows: bool, note: Callable[[str], None]):
    """A built-in dataset's rows, its preset's preprocessing fitted on ``fit_on`` (without ``path``'s rows, when
    the dataset can match rows across files) or on them, and its id and target columns kept beside the features."""
    known = registry.named(config.dataset)
    spec = known.spec(config.preset)
    df = known.read(path, require_target=False)
    if complete_rows:
        df = known.complete_rows(df, config.preset, path)
    fit_rows = df if fit_on is None else known.read(fit_on, require_target=False)
    if fit_on is not None and known.same_rows is not None:  # the rows to transform never lend their own labels to the fit
        overlap = known.same_rows(fit_rows, df)
        fit_rows, dropped = fit_rows[~overlap], int(overlap.sum())  # rows keep their places in the file, for messages
        if dropped:
            note(f"left out of the fit {dropped} rows of {fit_on} that are {known.row_word} of {path}")
    if complete_rows and fit_on is not None:
        fit_rows = known.complete_rows(fit_rows, config.preset, fit_on)
    keep = [c for c in (spec.id_column, spec.target.column) if c and c in df.columns]
    return df, TabularPreprocessor(spec.features, spec.target.column).fit(fit_rows), keep


def _table_rows(config: RunConfig, path: Path, fit_on: Path | None, complete_rows: bool, note: Callable[[str], None]):
    """Any CSV: its spec (inferred from the rows the fit uses, or --spec), the preprocessing fitted on
    ``fit_on`` or on the rows themselves, and the id and target columns kept beside the features."""
    fit_rows, dataset = open_table(fit_on or path, config.target, config.id_column, config.spec, task=config.task)
    df = fit_rows if fit_on is None else _rows_to_transform(path, dataset, fit_on)
    if complete_rows:
        df, fit_rows = (rows.dropna(subset=list(dataset.raw_columns)) for rows in (df, fit_rows))  # rows keep their lines
    for line in dataset.describe():
        note(f"  {line}")
    keep = [c for c in (dataset.id_column, dataset.target.column) if c and c in df.columns]
    return df, TabularPreprocessor(dataset.features).fit(fit_rows), keep


def _rows_to_transform(path: Path, dataset, fit_on: Path) -> pd.DataFrame:
    """The rows of ``path`` for the spec fitted on ``fit_on``: headers matched to its names without case, every column
    its features read present (named with both files), its id column read as written when the file has it."""
    df = read_rows(path, dataset, with_id=False)
    check_columns(dataset, df, path, reader=f"the features fitted on {fit_on}")
    return read_rows(path, dataset) if dataset.id_column is not None and dataset.id_column in df.columns else df
