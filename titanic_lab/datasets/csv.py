"""Reading any CSV, with the checks every file gets: the file itself (missing, a folder, empty, too
big, a zip, bytes in no encoding detected or given, a wrong separator or decimal mark, rows of the wrong
length; the dialect detected by :mod:`titanic_lab.csv_dialect`), its header (two names equal without case) and
its cells (text longer than a cell holds, a blank or repeated id, a non-finite target).

:func:`read_table` is the general reader; a built-in dataset's own reader (``titanic.read_titanic``)
uses the same :func:`read_csv` and adds its raw-column checks.
"""

from __future__ import annotations

import csv
import itertools
import os
import re
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from .. import csv_dialect, file_rows
from ..compressed import refuse_compressed
from ..errors import DataError, OptionError
from ..finite import check_table
from ..limits import human, max_csv_bytes
from ..reading import OLE2_MAGIC

#: The most characters one Excel cell holds: longer text is refused rather than cut.
MAX_TEXT = 32_767
ZIP_MAGIC = b"PK\x03\x04"


def read_csv(path: Path, text_columns: tuple[str, ...] = ()) -> pd.DataFrame:
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
            head = fh.read(csv_dialect.HEAD_BYTES)
            complete = not fh.read(1)
    except OSError as exc:
        raise DataError(path, f"cannot be read ({exc.strerror})") from exc
    if not head:
        raise DataError(path, "the file is empty")
    if head[:4] == ZIP_MAGIC:
        raise DataError(path, "looks like an Excel workbook or other zip file, not a CSV")
    if head.startswith(OLE2_MAGIC):
        raise DataError(path, "is an old Excel .xls workbook (or another Office file), not a CSV; save it as CSV (UTF-8) and pass that")
    refuse_compressed(path, head)
    try:
        dialect = csv_dialect.detect(head, complete, **csv_dialect.current())
    except UnicodeError as exc:  # a given codec that refuses the first bytes (UTF-16 without its byte-order mark...)
        raise DataError(path, f"cannot be read as {csv_dialect.current().get('encoding')} text ({exc}); pass the file's "
                              "encoding with --encoding (utf-8, utf-16-le, cp1252...)") from None
    try:
        try:
            df, caught = _parse_csv(path, dialect, text_columns)
        except UnicodeDecodeError:
            if "encoding" in dialect.given or dialect.encoding != "utf-8":
                raise
            dialect = replace(dialect, encoding="cp1252")  # a Windows file whose first é comes after the first bytes
            df, caught = _parse_csv(path, dialect, text_columns)
    except UnicodeDecodeError as exc:
        guessed = "encoding" not in dialect.given and dialect.encoding == "cp1252"
        what = "neither UTF-8 nor Windows-1252" if guessed else f"not {csv_dialect.encoding_name(dialect.encoding)}"
        raise DataError(path, f"is {what} text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
                              "pass the file's encoding with --encoding (utf-8, utf-16, cp1252...)") from exc
    except UnicodeError as exc:  # a codec's own refusal (UTF-16 without a byte-order mark)
        raise DataError(path, f"cannot be read as {csv_dialect.encoding_name(dialect.encoding)} text ({exc}); "
                              "pass the file's encoding with --encoding (utf-8, utf-16-le, cp1252...)") from None
    if df.empty:
        raise DataError(path, "has a header but no data rows")
    text = {c: df[c].dropna().head(1000).tolist() for c in df.columns
            if not pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]) and c not in text_columns}
    wrong = csv_dialect.wrong_guess([str(c) for c in df.columns], text, dialect)
    if wrong:
        raise DataError(path, wrong)
    csv_dialect.announce(path, dialect)
    for line in csv_dialect.ambiguities(dialect):
        warnings.warn(f"{path}: {line}", UserWarning, stacklevel=3)
    df.attrs["dialect"] = dialect
    file_rows.mark(df)  # each row's place in the file, kept through the rows left out later
    # A row shorter than the header is padded with blanks, so it leaves the last column blank;
    # pandas warns when one is longer. Only then is every row's length counted.
    if caught or df.iloc[:, -1].isna().any():
        check_fields(path, len(df.columns), dialect)
    return df


def _parse_csv(path: Path, dialect: csv_dialect.Dialect, text_columns: tuple[str, ...]) -> tuple[pd.DataFrame, list]:
    """pandas' reading of the file in ``dialect``, and the parser warnings it gave."""
    try:
        # index_col=False: rows longer than the header must not turn the first column into an index.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            df = pd.read_csv(path, na_values=["?"], encoding=_python_encoding(dialect), skipinitialspace=True,
                             index_col=False, sep=dialect.sep, decimal=dialect.decimal, thousands=dialect.thousands,
                             dtype={c: str for c in text_columns} or None)
    except pd.errors.EmptyDataError as exc:
        raise DataError(path, "the file is empty") from exc
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[-1]
        raise DataError(path, f"is not a well-formed CSV ({detail})") from exc
    return df, caught


def _python_encoding(dialect: csv_dialect.Dialect) -> str:
    """The codec a file is opened with: UTF-8 skipping a byte-order mark, if present (it is not the first header's letter)."""
    return "utf-8-sig" if dialect.encoding == "utf-8" else dialect.encoding


#: The characters of a line pandas skips as blank (``skip_blank_lines``): nothing but spaces and tabs.
_BLANK = " \t\r\n"


def header_of(path: Path, dialect: csv_dialect.Dialect | None = None) -> list[str]:
    """The header's fields as written (pandas renames a repeated name ``Age.1``), in ``dialect`` (default: commas, UTF-8)."""
    return header_line(path, dialect)[1]


def header_line(path: Path, dialect: csv_dialect.Dialect | None = None) -> tuple[int, list[str]]:
    """The header's line (1-based) and its fields as written, in ``dialect`` (default: commas, UTF-8): the first
    line that is not blank, as pandas takes it (blank lines above it are skipped, not read as an empty header)."""
    dialect = dialect or csv_dialect.Dialect()
    with path.open(encoding=_python_encoding(dialect), newline="") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip(_BLANK):  # the header record starts here (its quoted fields may span lines)
                return number, next(csv.reader(itertools.chain([line], fh), delimiter=dialect.sep, skipinitialspace=True), [])
    return 1, []


def show(value: object) -> str:
    """A value as a user wrote it: 'abc' quoted, 2 not np.int64(2), 2.0 as 2."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


def line_of(df: pd.DataFrame | pd.Series, index: object) -> int:
    """The 1-based line of the file that holds a row (line 1 is the header), by its place in the file
    (:mod:`titanic_lab.file_rows`): the same after rows were left out."""
    return file_rows.line_of(df, index)


#: Characters XML 1.0 cannot hold (control characters but tab, line feed and carriage return; U+FFFE, U+FFFF):
#: a workbook's formulas, cached texts and table names would not be well-formed with one.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def check_text(df: pd.DataFrame, path: Path) -> None:
    """Refuse text longer than an Excel cell holds, rather than cut it in a workbook, and a control character
    (:data:`CONTROL`) in a header, which a workbook's table cannot name a column with."""
    for column in df.columns:
        found = CONTROL.search(str(column))
        if found:
            raise DataError(path, f"the header {str(column)!r} holds the control character U+{ord(found.group()):04X}, "
                                  "which a workbook cannot hold; remove it")
    for column in df.columns:
        try:
            lengths = df[column].str.len()
        except AttributeError:  # not a text column
            continue
        if (lengths > MAX_TEXT).any():
            first = (lengths > MAX_TEXT).idxmax()
            raise DataError(path, f"column {column} has text of {int(lengths[first]):,} characters on line {line_of(df, first)}, "
                                  f"more than the {MAX_TEXT:,} an Excel cell holds; shorten it")


def check_control(df: pd.DataFrame, columns: list[str], path: object) -> None:
    """Refuse a control character (:data:`CONTROL`) in a cell of ``columns``, those whose text reaches a formula or
    a cached text (a level in ``IF(C4="y",1,0)``, a class, a name the groups preset cuts): XML 1.0 cannot hold it.
    A column left out is written as text cells, which XlsxWriter escapes (FileMaker's U+000B line breaks)."""
    for column in dict.fromkeys(c for c in columns if c in df.columns):
        values = df[column]
        if values.dtype.kind in "biufcmM":
            continue
        distinct = [v for v in values.dropna().unique() if isinstance(v, str)]
        if not CONTROL.search("\n".join(distinct)):  # one search over each distinct text
            continue
        first = values.map(lambda v: isinstance(v, str) and CONTROL.search(v) is not None, na_action="ignore").fillna(False).astype(bool).idxmax()
        char = CONTROL.search(values[first]).group()
        raise DataError(path, f"column {column} has the control character U+{ord(char):04X} on line {line_of(df, first)} "
                              f"({values[first]!r}), which a workbook cannot hold; remove it")


def check_fields(path: Path, width: int, dialect: csv_dialect.Dialect | None = None) -> None:
    """Refuse a row with fewer or more fields than the header (pandas pads or cuts them silently)."""
    dialect = dialect or csv_dialect.Dialect()
    sep = dialect.sep
    with path.open(encoding=_python_encoding(dialect), newline="") as fh:
        try:
            if set(map(len, csv.reader(fh, delimiter=sep, skipinitialspace=True))) <= {0, width}:  # counted in C; blank lines are 0
                return
        except csv.Error:
            pass  # found again below, with its line
        fh.seek(0)
        reader = csv.reader(fh, delimiter=sep, skipinitialspace=True)
        name = csv_dialect.SEPARATOR_NAMES.get(sep, repr(sep))
        try:
            for row in reader:
                if row and len(row) != width:  # blank lines are skipped, as pandas does
                    fewer = "fewer" if len(row) < width else "more"
                    raise DataError(path, f"line {reader.line_num} has {len(row)} fields, {fewer} than the header's {width}; "
                                          f"fix that row (a missing {name}, or an unquoted {name} in a name), or give "
                                          f"the separator with --sep (read with {csv_dialect.show_sep(sep)})")
        except csv.Error as exc:
            raise DataError(path, f"is not a well-formed CSV (line {reader.line_num}: {exc})") from exc


def as_text(values: pd.Series) -> pd.Series:
    """A column as text (a column pandas read as numbers, all blank or ``1``, included); blanks stay missing."""
    return values.astype(object).where(values.isna(), values.astype(str)).astype(object)


#: ``DataFrame.attrs`` key of the columns :func:`read_table` read as True/False and turned into 1/0.
TRUE_FALSE = "titanic_lab true/false columns"


def read_table(path: str | os.PathLike[str], target: str | None, id_column: str | None = None, *,
               require_target: bool = True) -> pd.DataFrame:
    """Read any CSV for the general path, with the same checks as the Titanic reader.

    Headers lose surrounding spaces; two headers equal without case are refused (an Excel table
    cannot hold both); text cells lose surrounding spaces and an empty one is blank; True/False
    columns become 1/0. The target, when present, must have a value in every row that is kept:
    rows whose target is blank are left out with a warning (they have nothing to learn from).
    Each row keeps its label, its place among the file's data rows (:mod:`titanic_lab.file_rows`), so
    that a message about a row kept names its line in the file; the rows left out leave gaps.

    Parameters
    ----------
    path : path-like
    target : str or None
        The target column (checked when ``require_target``).
    id_column : str, optional
        Must be present, non-blank and unique when given.
    require_target : bool
        Whether the target column must be present (training) or may be absent (rows to predict).

    Raises
    ------
    DataError
        Naming the file, the column and, for a bad value, the line.
    OptionError
        When the id column is the target.
    """
    path = Path(path)
    if id_column is not None and id_column == target:
        raise OptionError(f"--id {id_column!r} is also the --target; the id names rows, the target is learned: "
                          "give the id column, or leave --id out")
    df = read_csv(path, (id_column,) if id_column else ())  # ids as written: 0001 is not 1
    df.columns = [str(c).strip() for c in df.columns]
    seen: dict[str, int] = {}
    written = [h.strip() for h in header_of(path, df.attrs.get("dialect"))]  # pandas renames a repeated name a.1
    for i, name in enumerate(written if len(written) == len(df.columns) else df.columns):
        key = name.lower()
        if key in seen and name:
            raise DataError(path, f"columns {seen[key] + 1} and {i + 1} of the header are both named {name!r} (compared "
                                  "without case, as a spreadsheet table compares them); rename one")
        seen[key] = i
    check_text(df, path)
    for column in df.columns:
        values = df[column]
        present = values.dropna()
        if values.dtype == bool or (values.dtype == object and len(present) and all(isinstance(v, bool) for v in present)):
            # A True/False feature is 1/0; a True/False target keeps its words for predictions (with blanks, pandas
            # reads Python bools among NaN: a spec written with false/true labels could not be read back).
            df[column] = values.map(str, na_action="ignore") if column == target else values.map(int, na_action="ignore")
            df.attrs.setdefault(TRUE_FALSE, []).append(column)  # a number step refuses it (features.numeric.numbers)
        elif isinstance(values.dtype, pd.StringDtype):  # pandas 3's default "str" (or "string"): in one vectorised pass
            stripped = values.str.strip()
            df[column] = stripped.mask(stripped.eq("").fillna(False).astype(bool))
        elif values.dtype == object:  # each distinct value once (a category of 3 levels is 3 strips)
            stripped = {v: (v.strip() or np.nan) if isinstance(v, str) else v for v in values.dropna().unique()}
            df[column] = values.map(stripped)
    check_table(df, path)  # every number finite and within +-1e100, named by column and line
    for option, column in (("--target", target), ("--id", id_column)):
        if column is not None and column not in df.columns and (require_target or option == "--id"):
            raise DataError(path, f"{option} {column!r}: no such column{_did_you_mean(column, df.columns)}")
    if id_column is not None:
        check_ids(df, id_column, path)
    if target is not None and target in df.columns:
        values = df[target]
        numeric = pd.to_numeric(values, errors="coerce")
        if pd.api.types.is_numeric_dtype(values) and (~np.isfinite(numeric) & numeric.notna()).any():
            first = (~np.isfinite(numeric) & numeric.notna()).idxmax()
            raise DataError(path, f"target {target} has non-finite value {show(values[first])} on line {line_of(df, first)}")
        blank = values.isna()
        if blank.any() and require_target:
            if blank.all():
                raise DataError(path, f"target {target} is blank in every row; nothing to learn from")
            warnings.warn(f"{path}: left out {int(blank.sum())} row(s) whose target {target} is blank (first on line "
                          f"{line_of(df, blank.idxmax())})", UserWarning, stacklevel=2)
            df = df[~blank]  # the rows kept keep their places in the file (file_rows): later messages name their lines
    return df


def check_ids(df: pd.DataFrame, id_column: str, path: object) -> None:
    """Refuse a blank or repeated id, naming the file, the value and the line."""
    ids = df[id_column]
    if ids.isna().any():
        raise DataError(path, f"id column {id_column} is blank on line {line_of(df, ids.isna().idxmax())}")
    repeated = ids.duplicated()
    if repeated.any():
        first = repeated.idxmax()
        raise DataError(path, f"id column {id_column} repeats value {show(ids[first])} on line {line_of(df, first)}; "
                              "ids must be unique (leave --id out to number the rows)")


def _did_you_mean(name: str, columns: pd.Index) -> str:
    same = [c for c in columns if c.lower() == name.lower()]
    if same:
        return f"; did you mean {same[0]!r}? (names are compared with case)"
    shown = ", ".join(map(str, list(columns)[:30])) + (", ..." if len(columns) > 30 else "")
    return f"; the columns are: {shown}"
