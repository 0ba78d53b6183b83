"""Find and read Titanic datasets, and validate their columns and values.

Two schemas are understood and both come out with Kaggle's column names:

* Kaggle's ``train.csv`` / ``test.csv``
  (``PassengerId, Survived, Pclass, Name, Sex, Age, SibSp, Parch, Ticket, Fare, Cabin, Embarked``);
* titanic3 (``pclass, survived, name, sex, age, sibsp, parch, ticket, fare, cabin, embarked,
  boat, body, home.dest``, missing values written ``?``), the schema of the bundled dataset.
"""

from __future__ import annotations

import csv
import os
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from .compressed import HEAD, refuse_compressed
from .errors import DataError, TitanicLabError
from .limits import human, max_csv_bytes

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
#: The most characters one Excel cell holds: longer text is refused rather than cut.
MAX_TEXT = 32_767
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

_ZIP_MAGIC = b"PK\x03\x04"


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


def complete_rows_of(df: pd.DataFrame, preset: str, path: str | os.PathLike[str]) -> pd.DataFrame:
    """:func:`~titanic_lab.preprocessing.select_complete_rows`, its error naming the file ``path``."""
    from .preprocessing import select_complete_rows

    try:
        return select_complete_rows(df, preset)
    except TitanicLabError as exc:
        raise DataError(path, str(exc)) from None


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
    df = _to_kaggle_schema(raw, path)
    required = RAW_COLUMNS + ((TARGET,) if require_target else ())
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataError(path, _missing_message(missing, raw))
    _check_text(df, path)
    _check_numeric(df, path)
    _check_target(df, path)
    _check_ids(df, path)
    _check_categories(df, path)
    return df


def _read_csv(path: Path, text_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a CSV with every check a file gets; ``text_columns`` are kept as written (ids: ``0001``)."""
    if not path.exists():
        raise DataError(path, "no such file")
    if path.is_dir():
        raise DataError(path, "is a folder, not a CSV file")
    if not path.is_file():
        raise DataError(path, "is not a regular file (a device, pipe or socket); save the data to a file and pass that")
    limit = max_csv_bytes()
    if path.stat().st_size > limit:
        raise DataError(path, f"is {human(path.stat().st_size)}, more than the limit of {human(limit)} for a CSV; "
                              "raise it with TITANIC_LAB_MAX_CSV_BYTES (e.g. 8G)")
    try:
        with path.open("rb") as fh:
            head = fh.read(HEAD)
    except OSError as exc:
        raise DataError(path, f"cannot be read ({exc.strerror})") from exc
    if not head:
        raise DataError(path, "the file is empty")
    if head[:4] == _ZIP_MAGIC:
        raise DataError(path, "looks like an Excel workbook or other zip file, not a CSV")
    refuse_compressed(path, head)
    try:
        # index_col=False: rows longer than the header must not turn the first column into an index.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            df = pd.read_csv(path, na_values=["?"], encoding="utf-8-sig", skipinitialspace=True, index_col=False,
                             dtype={c: str for c in text_columns} or None)
    except UnicodeDecodeError as exc:
        raise DataError(path, f"is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})") from exc
    except pd.errors.EmptyDataError as exc:
        raise DataError(path, "the file is empty") from exc
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[-1]
        raise DataError(path, f"is not a well-formed CSV ({detail})") from exc
    if df.empty:
        raise DataError(path, "has a header but no data rows")
    # A row shorter than the header is padded with blanks, so it leaves the last column blank;
    # pandas warns when one is longer. Only then is every row's length counted.
    if caught or df.iloc[:, -1].isna().any():
        _check_fields(path, len(df.columns))
    return df


def _to_kaggle_schema(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Headers matched the same way for every command: spaces stripped, case ignored, titanic3 renamed.

    A name given twice is refused (pandas would rename the second ``Age.1`` and read the
    first alone). Category values lose surrounding spaces (``"male  "`` is ``male``); one
    left empty is missing.
    """
    known = {c.lower(): c for c in KAGGLE_COLUMNS}
    header = [h.strip() for h in _header(path)]
    seen: dict[str, int] = {}
    for i, name in enumerate(known.get(h.lower(), h) for h in header):
        if name and name in seen:
            raise DataError(path, f"columns {seen[name] + 1} and {i + 1} of the header (line 1) are both named {name!r}; "
                                  "rename or remove one")
        seen[name] = i
    df.columns = [known.get(str(c).strip().lower(), str(c).strip()) for c in df.columns]
    for column in CATEGORY_COLUMNS:
        if column in df.columns and not pd.api.types.is_numeric_dtype(df[column]):
            # Few distinct values: strip each once rather than every row.
            stripped = {v: (v.strip() or np.nan) if isinstance(v, str) else v for v in df[column].dropna().unique()}
            df[column] = df[column].map(stripped)
    return df


def _header(path: Path) -> list[str]:
    """The header's fields as written (pandas renames a repeated name ``Age.1``)."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return next(csv.reader(fh, skipinitialspace=True), [])


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
                path, f"column {column} has implausible value {_show(values[first])} on line {_line(df, first)} (at most {limit:,g})"
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
    if ids.dtype.kind != "i":  # floats (892.2, 1e20) or integers beyond int64
        as_float = ids.astype(float)
        bad = (as_float % 1 != 0) | (as_float.abs() > MAX_ID)
        if bad.any():
            first = bad.idxmax()
            raise DataError(path, f"column {ID_COLUMN} has value {float(as_float[first])!r} on line {_line(df, first)}, not a whole "
                                  f"number from {-MAX_ID:,} to {MAX_ID:,}; ids are written exactly or not at all")
    duplicated = ids.duplicated()
    if duplicated.any():
        first = duplicated.idxmax()
        raise DataError(path, f"column {ID_COLUMN} repeats value {_show(ids[first])} on line {_line(df, first)}")
    df[ID_COLUMN] = ids.astype(int)


def _check_text(df: pd.DataFrame, path: Path) -> None:
    """Refuse text longer than an Excel cell holds, rather than cut it in a workbook."""
    for column in df.columns:
        try:
            lengths = df[column].str.len()
        except AttributeError:  # not a text column
            continue
        if (lengths > MAX_TEXT).any():
            first = (lengths > MAX_TEXT).idxmax()
            raise DataError(path, f"column {column} has text of {int(lengths[first]):,} characters on line {_line(df, first)}, "
                                  f"more than the {MAX_TEXT:,} an Excel cell holds; shorten it")


def _check_fields(path: Path, width: int) -> None:
    """Refuse a row with fewer or more fields than the header (pandas pads or cuts them silently)."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        try:
            if set(map(len, csv.reader(fh, skipinitialspace=True))) <= {0, width}:  # counted in C; blank lines are 0
                return
        except csv.Error:
            pass  # found again below, with its line
        fh.seek(0)
        reader = csv.reader(fh, skipinitialspace=True)
        try:
            for row in reader:
                if row and len(row) != width:  # blank lines are skipped, as pandas does
                    fewer = "fewer" if len(row) < width else "more"
                    raise DataError(path, f"line {reader.line_num} has {len(row)} fields, {fewer} than the header's {width}; "
                                          "fix that row (a missing comma, or an unquoted comma in a name)")
        except csv.Error as exc:
            raise DataError(path, f"is not a well-formed CSV (line {reader.line_num}: {exc})") from exc


def _check_categories(df: pd.DataFrame, path: Path) -> None:
    """``Sex`` must be male or female (any case): ``M`` or ``F`` would silently count as not male.

    ``Pclass`` must be 1, 2 or 3. An ``Embarked`` other than S, C or Q is warned about, naming
    the file, line and value: its dummy columns are all 0.
    """
    bad_class = df["Pclass"].notna() & ~df["Pclass"].isin(PCLASS_VALUES)
    if bad_class.any():
        first = bad_class.idxmax()
        raise DataError(path, f"column Pclass has value {_show(df.at[first, 'Pclass'])} on line {_line(df, first)}; "
                              "write 1, 2 or 3")
    upper = _as_text(df["Embarked"]).str.upper()
    unknown = upper.notna() & ~upper.isin(EMBARKED_VALUES)
    if unknown.any():
        first = unknown.idxmax()
        values = ", ".join(map(repr, sorted(df.loc[unknown, "Embarked"].unique())))
        warnings.warn(f"{path}: column Embarked has unknown value(s) {values} (first on line {_line(df, first)}); "
                      f"they get 0 in every Embark dummy column; write {', '.join(EMBARKED_VALUES)}, or leave the cell "
                      "blank to fill it with the most common port", UnknownValueWarning, stacklevel=3)
    df["Embarked"] = upper.where(~unknown, df["Embarked"])
    lower = _as_text(df["Sex"]).str.lower()
    bad = lower.notna() & ~lower.isin(SEX_VALUES)
    if bad.any():
        first = bad.idxmax()
        raise DataError(path, f"column Sex has value {df.at[first, 'Sex']!r} on line {_line(df, first)}; "
                              f"write {' or '.join(SEX_VALUES)} (e.g. replace M/F by male/female)")
    df["Sex"] = lower


def _as_text(values: pd.Series) -> pd.Series:
    """A column as text (a column pandas read as numbers, all blank or ``1``, included); blanks stay missing."""
    return values.astype(object).where(values.isna(), values.astype(str)).astype(object)


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


def drop_passengers(rows: pd.DataFrame, others: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """``rows`` without the passengers ``others`` holds (:func:`same_passengers`), and how many went."""
    overlap = same_passengers(rows, others)
    return rows[~overlap].reset_index(drop=True), int(overlap.sum())


def passenger_keys(df: pd.DataFrame) -> pd.Series:
    """Each row's name and ticket, without case and punctuation: who a passenger is, across files."""
    return _normalised(df["Name"]) + "|" + _normalised(df["Ticket"])
