"""Titanic, the flagship dataset: everything that knows its columns.

Its reader (Kaggle's ``train.csv`` / ``test.csv`` and titanic3, the bundled file's schema, both
come out with Kaggle's column names) and raw-column checks, its four presets as data, the
lesson's row selection, passenger matching across files (the bundled titanic3 holds Kaggle's
test passengers), and :data:`DATASET`, the record the rest of the package reads through the
registry (:mod:`titanic_lab.datasets.registry`). Its feature kinds (titles, woman or boy, ticket
groups) are :mod:`titanic_lab.features.titanic`.

Two schemas are understood:

* Kaggle's ``train.csv`` / ``test.csv``
  (``PassengerId, Survived, Pclass, Name, Sex, Age, SibSp, Parch, Ticket, Fare, Cabin, Embarked``);
* titanic3 (``pclass, survived, name, sex, age, sibsp, parch, ticket, fare, cabin, embarked,
  boat, body, home.dest``, missing values written ``?``), the schema of the bundled dataset.
"""

from __future__ import annotations

import math
import os
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, OptionError, TitanicLabError
from ..features.preset import Preset
from ..features.steps import Feature, binary, dummies, log1p, number, ones
from ..features.numeric import group_key
from ..features.titanic import passenger_keys
from .csv import as_text, check_text, header_line, line_of, read_csv, show
from .spec import Dataset, DatasetSpec, Entry, Target

#: Raw columns every preset reads.
RAW_COLUMNS: tuple[str, ...] = ("Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked")
TARGET = "Survived"
ID_COLUMN = "PassengerId"
#: Columns that must hold numbers when present.
NUMERIC_COLUMNS: tuple[str, ...] = (ID_COLUMN, TARGET, "Pclass", "Age", "SibSp", "Parch", "Fare")
#: Numeric columns whose values cannot be negative.
NON_NEGATIVE_COLUMNS: tuple[str, ...] = ("Age", "SibSp", "Parch", "Fare")
#: The largest plausible value of a column; above it a value is a data error, not a passenger.
PLAUSIBLE_MAX: dict[str, float] = {"Age": 150, "SibSp": 100, "Parch": 100, "Fare": 100_000}
#: The values ``Sex`` may hold (compared in lower case); anything else is refused, not read as "not male".
SEX_VALUES: tuple[str, ...] = ("male", "female")
#: The values ``Pclass`` and ``Embarked`` (compared in upper case) may hold.
PCLASS_VALUES: tuple[int, ...] = (1, 2, 3)
EMBARKED_VALUES: tuple[str, ...] = ("S", "C", "Q")
#: Text columns of categories, compared as values: surrounding spaces are removed on reading.
CATEGORY_COLUMNS: tuple[str, ...] = ("Sex", "Embarked")
#: PassengerId must be a whole number of at most this size (float64 holds every integer up to it).
MAX_ID = 2**53

KAGGLE_COLUMNS: tuple[str, ...] = (
    ID_COLUMN, TARGET, "Pclass", "Name", "Sex", "Age", "SibSp", "Parch", "Ticket", "Fare", "Cabin", "Embarked",
)
#: Where ``default_data_path`` looks, in order, before falling back to the bundled data.
DEFAULT_LOCATIONS: tuple[Path, ...] = (
    Path("data/train.csv"),
    Path("/kaggle/input/titanic/train.csv"),
)


class UnknownValueWarning(UserWarning):
    """A data file holds a category value titanic-lab does not know (an ``Embarked`` of ``X``)."""


def bundled_path() -> Path:
    """Path of the bundled titanic3 dataset (1309 passengers, with labels).

    Returns
    -------
    pathlib.Path
        The CSV shipped inside the package (see ``data/README.md`` for provenance).
    """
    return Path(str(resources.files("titanic_lab") / "datasets" / "titanic3.csv"))


def default_data_path() -> Path:
    """The dataset to use when none is given.

    ``./data/train.csv`` if present, else Kaggle's ``/kaggle/input/titanic/train.csv``,
    else the bundled titanic3.
    """
    for candidate in DEFAULT_LOCATIONS:
        if candidate.is_file():
            return candidate
    return bundled_path()


def describe_source(path: Path) -> str:
    """A short human description of a dataset path, for "using ..." messages."""
    if Path(path).resolve() == bundled_path().resolve():
        return f"{path} (bundled titanic3, 1309 passengers)"
    return str(path)


def bundled_note(path: Path) -> str:
    """The leaderboard's note on the bundled titanic3, which holds Kaggle's test passengers with their labels."""
    if Path(path).resolve() != bundled_path().resolve():
        return ""
    return ("note: the bundled titanic3 holds Kaggle's 418 test passengers with their labels; before choosing a model "
            "for a Kaggle submission, pass --exclude-from test.csv")


def read_titanic(path: str | os.PathLike[str], *, require_target: bool = True) -> pd.DataFrame:
    """Read a Titanic CSV in Kaggle or titanic3 schema and validate it.

    Parameters
    ----------
    path : path-like
        The CSV file.
    require_target : bool, default True
        Whether the ``Survived`` column must be present (training data) or may be absent
        (a test set; a blank ``Survived`` column then counts as absent). When present it is always validated.

    Returns
    -------
    pandas.DataFrame
        One row per passenger with Kaggle's column names, in file order.

    Raises
    ------
    DataError
        With a one-line message naming the file and the problem: missing or empty file,
        not a CSV, missing columns, a non-numeric or impossible value (first bad row),
        a target other than 0/1, duplicated ``PassengerId``.
    """
    path = Path(path)
    raw = read_csv(path)
    df = _to_kaggle_schema(raw, path)
    if not require_target and TARGET in df.columns and df[TARGET].isna().all():
        df = df.drop(columns=[TARGET])  # a blank answer column (a submission template's) is no answer
    required = RAW_COLUMNS + ((TARGET,) if require_target else ())
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataError(path, f"missing required columns: {', '.join(missing)}")
    check_text(df, path)
    _check_numeric(df, path)
    _check_target(df, path)
    _check_ids(df, path)
    _check_categories(df, path)
    return df


def _to_kaggle_schema(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Headers matched the same way for every command: spaces stripped, case ignored, titanic3 renamed.

    A name given twice is refused (pandas would rename the second ``Age.1`` and read the
    first alone). Category values lose surrounding spaces (``"male  "`` is ``male``); one
    left empty is missing.
    """
    known = {c.lower(): c for c in KAGGLE_COLUMNS}
    line, header = header_line(path, df.attrs.get("dialect"))  # after any blank lines, which pandas skips
    seen: dict[str, int] = {}
    for i, name in enumerate(known.get(h.strip().lower(), h.strip()) for h in header):
        if name and name in seen:
            raise DataError(path, f"columns {seen[name] + 1} and {i + 1} of the header (line {line}) are both named {name!r}; "
                                  "rename or remove one")
        seen[name] = i
    df.columns = [known.get(str(c).strip().lower(), str(c).strip()) for c in df.columns]
    for column in CATEGORY_COLUMNS:
        if column in df.columns and not pd.api.types.is_numeric_dtype(df[column]):
            # Few distinct values: strip each once rather than every row.
            stripped = {v: (v.strip() or np.nan) if isinstance(v, str) else v for v in df[column].dropna().unique()}
            df[column] = df[column].map(stripped)
    return df


def _check_numeric(df: pd.DataFrame, path: Path) -> None:
    for column in NUMERIC_COLUMNS:
        if column not in df.columns:
            continue
        values = pd.to_numeric(df[column], errors="coerce")
        bad = values.isna() & df[column].notna()
        if bad.any():
            first = bad.idxmax()
            raise DataError(
                path,
                f"column {column} has non-numeric value {show(df.at[first, column])} on line {line_of(df, first)}",
            )
        infinite = ~np.isfinite(values) & values.notna()
        if infinite.any():
            first = infinite.idxmax()
            raise DataError(path, f"column {column} has non-finite value {show(df.at[first, column])} on line {line_of(df, first)}")
        if column in NON_NEGATIVE_COLUMNS and (values < 0).any():
            first = (values < 0).idxmax()
            raise DataError(path, f"column {column} has negative value {show(values[first])} on line {line_of(df, first)}")
        limit = PLAUSIBLE_MAX.get(column)
        if limit is not None and (values > limit).any():
            first = (values > limit).idxmax()
            raise DataError(
                path, f"column {column} has implausible value {show(values[first])} on line {line_of(df, first)} (at most {limit:,g})"
            )
        df[column] = values


def _check_target(df: pd.DataFrame, path: Path) -> None:
    if TARGET not in df.columns:
        return
    target = df[TARGET]
    bad = ~target.isin([0, 1])
    if bad.any():
        first = bad.idxmax()
        value = "blank" if pd.isna(target[first]) else show(target[first])
        raise DataError(path, f"column {TARGET} must be 0 or 1, found {value} on line {line_of(df, first)}")
    df[TARGET] = target.astype(int)


def _check_ids(df: pd.DataFrame, path: Path) -> None:
    if ID_COLUMN not in df.columns:
        return
    ids = df[ID_COLUMN]
    if ids.isna().any():
        raise DataError(path, f"column {ID_COLUMN} is blank on line {line_of(df, ids.isna().idxmax())}")
    if ids.dtype.kind != "i":  # floats (892.2, 1e20) or integers beyond int64
        as_float = ids.astype(float)
        bad = (as_float % 1 != 0) | (as_float.abs() > MAX_ID)
        if bad.any():
            first = bad.idxmax()
            raise DataError(path, f"column {ID_COLUMN} has value {float(as_float[first])!r} on line {line_of(df, first)}, not a whole "
                                  f"number from {-MAX_ID:,} to {MAX_ID:,}; ids are written exactly or not at all")
    duplicated = ids.duplicated()
    if duplicated.any():
        first = duplicated.idxmax()
        raise DataError(path, f"column {ID_COLUMN} repeats value {show(ids[first])} on line {line_of(df, first)}")
    df[ID_COLUMN] = ids.astype(int)


def _check_categories(df: pd.DataFrame, path: Path) -> None:
    """``Sex`` must be male or female (any case): ``M`` or ``F`` would silently count as not male.

    ``Pclass`` must be 1, 2 or 3. An ``Embarked`` other than S, C or Q is warned about, naming
    the file, line and value: its dummy columns are all 0.
    """
    bad_class = df["Pclass"].notna() & ~df["Pclass"].isin(PCLASS_VALUES)
    if bad_class.any():
        first = bad_class.idxmax()
        raise DataError(path, f"column Pclass has value {show(df.at[first, 'Pclass'])} on line {line_of(df, first)}; "
                              "write 1, 2 or 3")
    upper = as_text(df["Embarked"]).str.upper()
    unknown = upper.notna() & ~upper.isin(EMBARKED_VALUES)
    if unknown.any():
        first = unknown.idxmax()
        values = ", ".join(map(repr, sorted(df.loc[unknown, "Embarked"].unique())))
        warnings.warn(f"{path}: column Embarked has unknown value(s) {values} (first on line {line_of(df, first)}); "
                      f"they get 0 in every Embark dummy column; write {', '.join(EMBARKED_VALUES)}, or leave the cell "
                      "blank to fill it with the most common port", UnknownValueWarning, stacklevel=3)
    df["Embarked"] = upper.where(~unknown, df["Embarked"])
    lower = as_text(df["Sex"]).str.lower()
    bad = lower.notna() & ~lower.isin(SEX_VALUES)
    if bad.any():
        first = bad.idxmax()
        raise DataError(path, f"column Sex has value {df.at[first, 'Sex']!r} on line {line_of(df, first)}; "
                              f"write {' or '.join(SEX_VALUES)} (e.g. replace M/F by male/female)")
    df["Sex"] = lower


#: Columns that identify a passenger across files: the same id, or the same name and ticket.
IDENTITY_COLUMNS: tuple[str, ...] = (ID_COLUMN, "Name", "Ticket")


def same_passengers(rows: pd.DataFrame, others: pd.DataFrame) -> np.ndarray:
    """Which of ``rows`` are passengers that ``others`` holds too.

    A passenger is the same when both files have ``PassengerId`` and it is equal, or when both
    have ``Name`` and ``Ticket`` and both are equal (compared without case and punctuation,
    so titanic3 and Kaggle's files match: all 418 of Kaggle's test passengers are in the
    bundled titanic3).

    Returns
    -------
    numpy.ndarray of bool, shape (len(rows),)
    """
    found = np.zeros(len(rows), dtype=bool)
    if ID_COLUMN in rows.columns and ID_COLUMN in others.columns:
        found |= rows[ID_COLUMN].isin(set(others[ID_COLUMN].dropna())).to_numpy()
    if all(c in rows.columns and c in others.columns for c in ("Name", "Ticket")):
        found |= passenger_keys(rows).isin(set(passenger_keys(others))).to_numpy() & rows["Name"].notna().to_numpy()
    return found


def drop_passengers(rows: pd.DataFrame, others: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """``rows`` without the passengers ``others`` holds (:func:`same_passengers`), and how many went."""
    overlap = same_passengers(rows, others)
    return rows[~overlap].reset_index(drop=True), int(overlap.sum())


SPREADSHEET = Preset(
    name="spreadsheet",
    features=(
        number("SibSp"),
        number("Parch"),
        number("Age", "Age_N", scale="max"),
        log1p("Fare", "log_Fare", base=10.0),
        dummies("Pclass", "Pclass_", levels=(1, 2, 3), baseline=3),
        dummies("Embarked", "Embark_", levels=("S", "C", "Q"), baseline="Q"),
        binary("Sex", "male", "Male"),
        ones("Ones"),
    ),
    complete_rows=("Age", "Embarked"),
    description="the lesson workbook's 10 columns: Age/max, LOG10(Fare+1), n-1 dummies, Male, Ones",
)

NOTEBOOK = Preset(
    name="notebook",
    features=(
        # The notebook divides in place; here the divided columns get the workbook's "_N" suffix
        # so that raw and normalized columns can sit side by side in one sheet.
        number("Age", "Age_N", scale="max"),
        number("SibSp", "SibSp_N", scale="max"),
        number("Parch", "Parch_N", scale="max"),
        # The notebook fills the test set's one missing Fare with 0 before the mode fill.
        log1p("Fare", "LogFare_N", base=math.e, scale="max", fill="constant", fill_value=0.0),
        dummies("Sex", "Sex_", levels=("male", "female")),
        dummies("Pclass", "Pclass_", levels=(1, 2, 3)),
        dummies("Embarked", "Embarked_", levels=("C", "Q", "S")),
    ),
    description="the lesson notebook's 12 columns: mode fill, ln(Fare+1), all-level dummies, divide by max",
)

EXTENDED = Preset(
    name="extended",
    features=(
        dummies("Pclass", "Pclass_", levels=(1, 2, 3), baseline=3),
        binary("Sex", "male", "Male"),
        number("Age", "Age_N", scale="max", fill="median"),
        Feature("Age", "missing", "Age_missing", fill=None),
        Feature("SibSp", "family", "Family_N", other="Parch", scale="max", fill=None),
        Feature("SibSp", "alone", "Alone", other="Parch", fill=None),
        Feature("Fare", "per_ticket", "log_FarePP", other="Ticket", base=10.0, scale="max", fill="median"),
        Feature("Cabin", "present", "Cabin_known", fill=None),
        dummies("Embarked", "Embark_", levels=("S", "C", "Q"), baseline="Q"),
        Feature("Name", "title", "Title_", levels=("Mr", "Mrs", "Miss", "Master"), baseline="rare", fill=None),
        ones("Ones"),
    ),
    description="the spreadsheet's columns plus title, family size, travelling alone, cabin known, fare per person, "
    "age missing",
)

GROUPS = Preset(
    name="groups",
    features=EXTENDED.features[:-1] + (
        Feature("Sex", "woman_child", "WomanChild", other="Name", fill=None),
        Feature("Ticket", "group_size", "Ticket_N", scale="max", fill=None),
        Feature("Ticket", "wcg_rate", "WCG_rate", other="Name", fill=None),
        Feature("Ticket", "wcg_died", "WCG_died", other="Name", fill=None),
        ones("Ones"),
    ),
    description="the extended columns plus woman-or-boy, ticket group size, and for women and boys the survival rate "
    "of the other women and boys on their ticket (else of their surname) and whether all of those died",
)

PRESETS: dict[str, Preset] = {p.name: p for p in (SPREADSHEET, NOTEBOOK, EXTENDED, GROUPS)}


def get_preset(preset: str | Preset) -> Preset:
    """Look a preset up by name (a :class:`Preset` passes through)."""
    if isinstance(preset, Preset):
        return preset
    try:
        return PRESETS[preset]
    except KeyError:
        raise OptionError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}") from None


def select_complete_rows(df: pd.DataFrame, preset: str | Preset = "spreadsheet") -> pd.DataFrame:
    """The rows where every column of the preset's ``complete_rows`` is present.

    The lesson's workbook keeps only the 712 rows of Kaggle's ``train.csv`` that have both
    ``Age`` and ``Embarked``. This is an explicit step because a transformer must never drop
    rows on its own.

    Parameters
    ----------
    df : pandas.DataFrame
        Raw passengers.
    preset : str or Preset
        Whose ``complete_rows`` to use.

    Returns
    -------
    pandas.DataFrame
        The kept rows, in their original order, with their original index.

    Raises
    ------
    TitanicLabError
        When rows were given and none is kept, naming the column that is blank everywhere.
    """
    columns = list(get_preset(preset).complete_rows)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise OptionError(f"cannot select complete rows: missing columns {', '.join(missing)}")
    kept = df.dropna(subset=columns) if columns else df
    if kept.empty and not df.empty:
        blank = [c for c in columns if df[c].isna().all()]
        why = f"column {' and '.join(blank)} is blank in every row" if blank else f"no row has all of {', '.join(columns)}"
        raise TitanicLabError(f"{why}, and only rows with {' and '.join(columns)} are kept; fill it in, or keep every row "
                              "(--all-rows), whose blanks are filled from the other rows")
    return kept


def complete_rows_of(df: pd.DataFrame, preset: str, path: str | os.PathLike[str]) -> pd.DataFrame:
    """:func:`select_complete_rows`, its error naming the file ``path``."""
    try:
        return select_complete_rows(df, preset)
    except TitanicLabError as exc:
        raise DataError(path, str(exc)) from None


def titanic_spec(preset: str | Preset = "spreadsheet") -> DatasetSpec:
    """The Titanic description: target ``Survived`` (0/1), id ``PassengerId``, the preset's features."""
    return DatasetSpec("titanic", Target(TARGET, "binary"), get_preset(preset), ID_COLUMN)


def gender_rule(rows: pd.DataFrame) -> np.ndarray:
    """The leaderboard's ``gender`` baseline: every woman survives, every man dies (1.0 or 0.0 per row)."""
    return (rows["Sex"] == "female").to_numpy(dtype=float)


def ticket_groups(rows: pd.DataFrame) -> pd.Series:
    """Each row's ticket, compared without case: the groups of the leaderboard's ``--grouped`` folds.
    Without a Ticket column every row is its own group."""
    return group_key(rows["Ticket"]) if "Ticket" in rows.columns else pd.Series(range(len(rows))).astype(str)


#: What makes two rows the same passenger (:func:`same_passengers`), in words.
SAME_PASSENGER = "same PassengerId, or same name and ticket"

#: Titanic's leaderboard: the lesson's models on each preset, then the baselines.
BOARD: tuple[Entry, ...] = (
    Entry("linear (spreadsheet)", "linear", "spreadsheet", True),
    Entry("nnet (spreadsheet)", "nnet", "spreadsheet", True),
    Entry("sigmoid (notebook)", "sigmoid", "notebook", True),
    Entry("hidden (notebook)", "hidden", "notebook", True),
    Entry("deep (notebook)", "deep", "notebook", True),
    Entry("linear (extended)", "linear", "extended", True),
    Entry("nnet (extended)", "nnet", "extended", True),
    Entry("linear (groups)", "linear", "groups", True),
    Entry("linear (groups, L2 0.01)", "linear", "groups", True, (("l2", 0.01),)),
    Entry("nnet (groups)", "nnet", "groups", True),
    Entry("gender rule", "gender", "notebook", False),
    Entry("LogisticRegression (notebook)", "logistic", "notebook", False),
    Entry("RandomForest (notebook)", "forest", "notebook", False),
    Entry("GradientBoosting (notebook)", "boosting", "notebook", False),
)

#: Titanic as the registry holds it (:mod:`titanic_lab.datasets.registry`).
DATASET = Dataset(
    name="titanic",
    title="The fast.ai Titanic lesson's models",
    presets=PRESETS,
    spec=titanic_spec,
    read=read_titanic,
    default_path=default_data_path,
    describe_source=describe_source,
    select_rows=select_complete_rows,
    same_rows=same_passengers,
    raw_columns=RAW_COLUMNS,
    sheet_order=("Survived", "Embarked", "Pclass", "Sex", "Age", "Fare", "SibSp", "Parch"),
    all_rows_order=("Survived", "Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked", *IDENTITY_COLUMNS),
    identity_columns=IDENTITY_COLUMNS,
    same_rows_words=f"passengers are among the rows {{model}} was trained on ({SAME_PASSENGER})",
    same_rows_key=SAME_PASSENGER,
    count_words="{n} predicted to survive",
    rules={"gender": gender_rule},
    groups=ticket_groups,
    board=BOARD,
    source_note=bundled_note,
    row_word="passengers",
    submission_words="{n} survive",
)
