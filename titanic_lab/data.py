"""Find and read Titanic datasets, and validate their columns and values.

Two schemas are understood and both come out with Kaggle's column names:

* Kaggle's ``train.csv`` / ``test.csv``
  (``PassengerId, Survived, Pclass, Name, Sex, Age, SibSp, Parch, Ticket, Fare, Cabin, Embarked``);
* titanic3 (``pclass, survived, name, sex, age, sibsp, parch, ticket, fare, cabin, embarked,
  boat, body, home.dest``, missing values written ``?``), the schema of the bundled dataset.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError

#: Raw columns every preset reads.
RAW_COLUMNS: tuple[str, ...] = ("Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked")
TARGET = "Survived"
ID_COLUMN = "PassengerId"
#: Columns that must hold numbers when present.
NUMERIC_COLUMNS: tuple[str, ...] = (ID_COLUMN, TARGET, "Pclass", "Age", "SibSp", "Parch", "Fare")
#: Numeric columns whose values cannot be negative.
NON_NEGATIVE_COLUMNS: tuple[str, ...] = ("Age", "SibSp", "Parch", "Fare")
#: The largest plausible value of a column; above it a value is a data error, not a passenger.
PLAUSIBLE_MAX: dict[str, float] = {"Age": 150, "SibSp": 100, "Parch": 100}

TITANIC3_TO_KAGGLE: dict[str, str] = {
    "pclass": "Pclass",
    "survived": "Survived",
    "name": "Name",
    "sex": "Sex",
    "age": "Age",
    "sibsp": "SibSp",
    "parch": "Parch",
    "ticket": "Ticket",
    "fare": "Fare",
    "cabin": "Cabin",
    "embarked": "Embarked",
}

#: Where ``default_data_path`` looks, in order, before falling back to the bundled data.
DEFAULT_LOCATIONS: tuple[Path, ...] = (
    Path("data/train.csv"),
    Path("/kaggle/input/titanic/train.csv"),
)

_ZIP_MAGIC = b"PK\x03\x04"


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


def read_titanic(path: str | os.PathLike[str], *, require_target: bool = True) -> pd.DataFrame:
    """Read a Titanic CSV in Kaggle or titanic3 schema and validate it.

    Parameters
    ----------
    path : path-like
        The CSV file.
    require_target : bool, default True
        Whether the ``Survived`` column must be present (training data) or may be absent
        (a test set). When present it is always validated.

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
    raw = _read_csv(path)
    df = _to_kaggle_schema(raw)
    required = RAW_COLUMNS + ((TARGET,) if require_target else ())
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataError(path, _missing_message(missing, raw))
    _check_numeric(df, path)
    _check_target(df, path)
    _check_ids(df, path)
    return df


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise DataError(path, "no such file")
    if path.is_dir():
        raise DataError(path, "is a folder, not a CSV file")
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise DataError(path, f"cannot be read ({exc.strerror})") from exc
    if not head:
        raise DataError(path, "the file is empty")
    if head == _ZIP_MAGIC:
        raise DataError(path, "looks like an Excel workbook or other zip file, not a CSV")
    try:
        df = pd.read_csv(path, na_values=["?"], encoding="utf-8-sig", skipinitialspace=True)
    except UnicodeDecodeError as exc:
        raise DataError(path, f"is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})") from exc
    except pd.errors.EmptyDataError as exc:
        raise DataError(path, "the file is empty") from exc
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[-1]
        raise DataError(path, f"is not a well-formed CSV ({detail})") from exc
    if df.empty:
        raise DataError(path, "has a header but no data rows")
    return df


def _to_kaggle_schema(df: pd.DataFrame) -> pd.DataFrame:
    if "pclass" in df.columns and "Pclass" not in df.columns:
        return df.rename(columns=TITANIC3_TO_KAGGLE)
    return df


def _missing_message(missing: list[str], raw: pd.DataFrame) -> str:
    message = f"missing required columns: {', '.join(missing)}"
    if len(raw.columns) == 1:
        only = str(raw.columns[0])
        for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
            if sep in only:
                return f"{message} (the header is one column split by {name}; the file must be comma-separated)"
    return message


def _show(value: object) -> str:
    """A value as a user wrote it: 'abc' quoted, 2 not np.int64(2), 2.0 as 2."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


def _line(df: pd.DataFrame, index: object) -> int:
    """The 1-based line of the file that holds a row (line 1 is the header)."""
    return int(df.index.get_loc(index)) + 2


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
                f"column {column} has non-numeric value {_show(df.at[first, column])} on line {_line(df, first)}",
            )
        infinite = ~np.isfinite(values) & values.notna()
        if infinite.any():
            first = infinite.idxmax()
            raise DataError(path, f"column {column} has non-finite value {_show(df.at[first, column])} on line {_line(df, first)}")
        if column in NON_NEGATIVE_COLUMNS and (values < 0).any():
            first = (values < 0).idxmax()
            raise DataError(path, f"column {column} has negative value {_show(values[first])} on line {_line(df, first)}")
        limit = PLAUSIBLE_MAX.get(column)
        if limit is not None and (values > limit).any():
            first = (values > limit).idxmax()
            raise DataError(
                path, f"column {column} has implausible value {_show(values[first])} on line {_line(df, first)} (at most {limit:g})"
            )
        df[column] = values


def _check_target(df: pd.DataFrame, path: Path) -> None:
    if TARGET not in df.columns:
        return
    target = df[TARGET]
    bad = ~target.isin([0, 1])
    if bad.any():
        first = bad.idxmax()
        value = "blank" if pd.isna(target[first]) else _show(target[first])
        raise DataError(path, f"column {TARGET} must be 0 or 1, found {value} on line {_line(df, first)}")
    df[TARGET] = target.astype(int)


def _check_ids(df: pd.DataFrame, path: Path) -> None:
    if ID_COLUMN not in df.columns:
        return
    ids = df[ID_COLUMN]
    if ids.isna().any():
        raise DataError(path, f"column {ID_COLUMN} is blank on line {_line(df, ids.isna().idxmax())}")
    duplicated = ids.duplicated()
    if duplicated.any():
        first = duplicated.idxmax()
        raise DataError(path, f"column {ID_COLUMN} repeats value {_show(ids[first])} on line {_line(df, first)}")
    df[ID_COLUMN] = ids.astype(int)


#: Columns that identify a passenger across files: the same id, or the same name and ticket.
IDENTITY_COLUMNS: tuple[str, ...] = (ID_COLUMN, "Name", "Ticket")


def _normalised(values: pd.Series) -> pd.Series:
    """Lower case, every run of characters other than letters and digits as one space.

    Kaggle's files and titanic3 write some names' quotes differently
    (``Mrs. Mariana (Miriam")"`` and ``Mrs. Mariana ("Miriam")``); this makes them equal.
    """
    return values.astype(str).str.lower().str.replace(r"[^a-z0-9]+", " ", regex=True).str.strip()


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


def passenger_keys(df: pd.DataFrame) -> pd.Series:
    """Each row's name and ticket, without case and punctuation: who a passenger is, across files."""
    return _normalised(df["Name"]) + "|" + _normalised(df["Ticket"])
