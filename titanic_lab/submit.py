"""``titanic-lab submit``: choose a model by cross-validation, train it on every row, write a competition's submission.

For a built-in dataset with a submission (Titanic's Kaggle competition: ``PassengerId,Survived``):
the training rows lose every row of the test file first (never train, choose or score on the
answers), the candidates (the dataset's own leaderboard entries, or the model given) are
cross-validated on the same folds, the best that converged in every fold is trained on every
row, its workbook written, and the submission predicted from that workbook.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from .config import RunConfig, check_cv
from .datasets import registry
from .datasets.spec import Dataset, Entry
from .errors import DataError, OptionError, TrainingError
from .files import check_outputs
from .leaderboard import Score, cross_validate
from .predict import predict_from_workbook, write_submission
from .runs import Prepared, Run, data_path, prepare
from .workbook import write_workbook


@dataclass
class Submission:
    """A submission being made (:func:`prepare_submission`): the rows, the candidates and where it goes.

    Attributes
    ----------
    dataset : Dataset
        The built-in dataset (its reader, presets, board and words).
    rows : pandas.DataFrame
        The training rows, without the test file's.
    notes : list of str
        Lines a person reads about the rows (how many were left out).
    """

    dataset: Dataset
    config: RunConfig
    path: Path
    test: Path
    out: Path
    workbook: Path
    folds: int
    rows: pd.DataFrame
    candidates: list[Entry]
    notes: list[str]

    @property
    def total_folds(self) -> int:
        """How many fits :meth:`choose` makes (its ``on_fold`` calls)."""
        return len(self.candidates) * self.folds

    def choose(self, on_fold: Callable[[str], None] | None = None) -> tuple[Entry, list[Score]]:
        """Cross-validate the candidates; the best that converged in every fold and every score, best first.

        Raises
        ------
        TrainingError
            When no candidate converged in every fold.
        """
        scores = cross_validate(self.rows, self.candidates, folds=self.folds, repeats=1, on_fold=on_fold)  # best first
        converged = [s for s in scores if s.all_converged]
        if not converged:
            raise TrainingError(f"no candidate converged in every fold ({', '.join(s.name for s in scores)}); give --model and --preset")
        return next(e for e in self.candidates if e.name == converged[0].name), scores

    def prepare(self, best: Entry) -> Prepared:
        """``best``'s run on every training row (none held out), ready to train."""
        return prepare(RunConfig(data=str(self.path), dataset=self.config.dataset, preset=best.preset, models=(best.model,),
                                 valid_pct=0, complete_rows=False, exclude_from=str(self.test), **dict(best.options)))

    def write(self, run: Run) -> pd.DataFrame:
        """Write the run's workbook, then the submission predicted from that workbook; return the submission."""
        write_workbook(run, self.workbook)
        # Predict from the workbook just written: the submission comes from the model file itself.
        submission, _ = predict_from_workbook(self.workbook, self.test)
        write_submission(submission, self.out)
        return submission


def prepare_submission(config: RunConfig, test: Path, out: Path, workbook: Path | None = None, model: str | None = None,
                       preset: str | None = None, folds: int = 5) -> Submission:
    """Check every option and output, read the training rows (``config``'s data) and the test file, and leave
    the test file's rows out of the training rows.

    Parameters
    ----------
    config : RunConfig
        The training data (``data``, ``dataset``) and how its CSVs are written.
    test : path
        The rows to predict (Kaggle's test.csv); they need the dataset's id column.
    out, workbook : path
        The submission CSV, and the trained model's workbook (default: ``out`` with ``.xlsx``).
    model, preset : str, optional
        The one candidate (on ``preset``, default the dataset's first); None: the dataset's own
        leaderboard entries (on ``preset`` only, when given).

    Raises
    ------
    OptionError
        A dataset without a submission, an unknown preset, bad folds, an output that clashes.
    DataError
        A file that cannot be read, or a test file without the id column.
    """
    known = registry.named(config.dataset)
    if not known.submission_words:
        raise OptionError(f"--dataset {known.name}: submit writes a competition's submission, and {known.name} has none; "
                          "train a model, then predict")
    path = data_path(config)
    if workbook is None and out.suffix.lower() == ".xlsx":
        raise OptionError(f"--out {out}: the submission is a CSV and its workbook takes the same name with .xlsx; "
                          "use --out NAME.csv, or give --workbook")
    workbook = workbook or out.with_suffix(".xlsx")
    check_outputs({"--data": path, "--test": test}, {"--out": out, "--workbook": workbook})
    if preset is not None and preset not in known.presets:  # refused before any work
        raise OptionError(f"unknown preset {preset!r}; choose one of: {', '.join(known.presets)}")
    check_cv(folds)
    rows = known.read(path)
    to_predict = known.read(test, require_target=False)
    id_column = known.default_spec().id_column
    if id_column not in to_predict.columns:  # before any training
        raise DataError(test, f"has no {id_column} column, which a submission needs")
    overlap = known.same_rows(rows, to_predict)  # never train, choose or score on the answers
    rows, dropped = rows[~overlap].reset_index(drop=True), int(overlap.sum())
    if rows.empty:
        raise DataError(test, f"every training row of {known.describe_source(path)} is one of its {known.row_word} "
                              f"({known.same_rows_key}): --test names the rows to predict, not the training file")
    notes = [f"left out {dropped} of {dropped + len(rows)} training rows of {known.describe_source(path)}: they are "
             f"{known.row_word} of {test} ({known.same_rows_key})"] if dropped else []
    if model is None:
        candidates = [e for e in known.board if e.own and (preset is None or e.preset == preset)]
    else:
        chosen_preset = preset or next(iter(known.presets))
        candidates = [Entry(f"{model} ({chosen_preset})", model, chosen_preset, True)]
    return Submission(known, config, path, test, out, workbook, folds, rows, candidates, notes)
