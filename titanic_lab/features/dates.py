"""Date feature kinds: a date column's year, month, day of the week and days since the first date.

A date is written in the data table as a spreadsheet date (its serial number: days since
1899-12-30, shown ``yyyy-mm-dd``), so each kind's formula is a spreadsheet function of the
date cell: ``YEAR(d)``, ``MONTH(d)``, ``WEEKDAY(d,2)`` (Monday 1 to Sunday 7) and
``d-DATE(y,m,d)``, the first date (the step's ``origin``) written as a ``DATE``. The code
computes the same from the same serial numbers. A blank date is filled with the median date.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import TitanicLabError
from .kind import FeatureKind, named, row_named

if TYPE_CHECKING:
    from .steps import Feature

#: Day 0 of the spreadsheet date serials (Excel's 1900 system from 1900-03-01 on; LibreOffice's and Gnumeric's everywhere).
EPOCH = pd.Timestamp("1899-12-30")
#: The first date every engine numbers alike (Excel counts a 29 February 1900 that never was).
FIRST_DATE = pd.Timestamp("1900-03-01")
#: The serial number of the last date spreadsheets have, 9999-12-31 (its day runs to the next serial).
LAST_SERIAL = (dt.date(9999, 12, 31) - EPOCH.date()).days
#: How a date column's text may be written: ISO (dates, date and time), year/month/day, day.month.year.
FORMATS: tuple[str, ...] = ("ISO8601", "%Y/%m/%d", "%d.%m.%Y")
_LOOKS_LIKE_DATE = re.compile(r"^(\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?|\d{4}/\d{1,2}/\d{1,2}|\d{1,2}\.\d{1,2}\.\d{4})$")
#: Number format of a date cell in the data table.
DATE_FORMAT = "yyyy-mm-dd"


def date_format(values: pd.Series) -> str | None:
    """The :data:`FORMATS` entry that reads every non-blank text of ``values`` as a date, or None."""
    present = values.dropna()
    if present.empty or pd.api.types.is_numeric_dtype(present):
        return None
    if pd.api.types.is_datetime64_any_dtype(present):  # a frame's datetime64 column, with a time zone or without: its
        return "ISO8601"                                # local wall time is the date (serials drops the zone)
    text = present.astype(str).str.strip()
    if not text.str.match(_LOOKS_LIKE_DATE).all():
        return None
    for fmt in FORMATS:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
        if parsed.notna().all():
            return fmt
    return None


def serials(values: pd.Series) -> pd.Series:
    """Dates as spreadsheet serial numbers (floats, blanks NaN): text in a :data:`FORMATS` form,
    dates and datetimes (a workbook's date cells), or serial numbers already."""
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float)
    if pd.api.types.is_datetime64_any_dtype(values):  # a frame's datetime64 column (a notebook's parse_dates)
        stamps = values.dt.tz_localize(None) if getattr(values.dt, "tz", None) is not None else values
        return (stamps.astype("datetime64[s]") - EPOCH) / np.timedelta64(1, "D")
    out = pd.Series(np.nan, index=values.index, dtype=float)
    present = values.dropna()
    numbers = present.map(lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, bool))
    out[numbers[numbers].index] = present[numbers].astype(float)
    rest = present[~numbers]
    stamps = rest.map(lambda v: pd.Timestamp(v) if isinstance(v, (dt.date, dt.datetime, pd.Timestamp)) else None)
    text = rest[stamps.isna()].astype(str).str.strip()
    # Second resolution: any year 1 to 9999 (nanoseconds stop at 1677-2262)
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[s]")
    for fmt in FORMATS:
        left = parsed.isna()
        if not left.any():
            break
        parsed[left] = pd.to_datetime(text[left], format=fmt, errors="coerce").astype("datetime64[s]")
    when = pd.concat([stamps.dropna().astype("datetime64[s]"), parsed])
    out[when.index] = (when - EPOCH) / np.timedelta64(1, "D")  # a pd.Timedelta (ns) overflows seconds on pandas 2
    return out


def dates(df: pd.DataFrame, feat: Feature) -> pd.Series:
    """The date column as serial numbers; a value that is not a date (or before 1900-03-01) is refused."""
    raw = df[feat.column]
    values = serials(raw)
    bad = values.isna() & raw.notna()
    early = values < (FIRST_DATE - EPOCH).days
    late = values >= LAST_SERIAL + 1  # a number such as 20200101 (a date written YYYYMMDD) read as a serial
    if bad.any() or early.any() or late.any():
        first = (bad | early | late).idxmax()
        why = ("is not a date" if bad[first] else "is before 1900-03-01, which spreadsheets number differently"
               if early[first] else "is past 9999-12-31 as a spreadsheet's date number, the last date there is")
        value = raw[first].item() if isinstance(raw[first], np.generic) else raw[first]  # 20200101, not np.int64(20200101)
        raise TitanicLabError(f"column {feat.column} has value {value!r} in {row_named(raw, first)}, which {why}; "
                              "write dates as YYYY-MM-DD (or drop the column's date features from the spec)")
    return values


def _stamps(filled: pd.Series) -> pd.DatetimeIndex:
    """The filled serial numbers as dates (a fill read from a workbook's date cell may be a date)."""
    return EPOCH + pd.to_timedelta(serials(filled).to_numpy(dtype=float), unit="D")


def origin_serial(feat: Feature) -> float:
    """The step's first date as a serial number."""
    try:
        return float((pd.Timestamp(feat.origin) - EPOCH) / pd.Timedelta(days=1))
    except (ValueError, TypeError):
        raise TitanicLabError(f"feature {feat.output_name}: origin = {feat.origin!r} is not a date; write it as "
                              "\"YYYY-MM-DD\"") from None


def date_formula(day: pd.Timestamp | str) -> str:
    """``DATE(2007,1,1)``: a date as a spreadsheet formula."""
    day = pd.Timestamp(day)
    return f"DATE({day.year},{day.month},{day.day})"


def first_date(values: pd.Series) -> str:
    """The earliest date of a date column, ``YYYY-MM-DD``: the ``origin`` of its ``days`` step."""
    first = serials(values).min()
    return (EPOCH + pd.Timedelta(days=float(np.floor(first)))).strftime("%Y-%m-%d")


def _values(part: str):
    def values(feat: Feature, filled: pd.Series, df: pd.DataFrame, fitted: Any) -> np.ndarray:
        stamps = _stamps(filled)
        return {"year": stamps.year, "month": stamps.month, "weekday": stamps.day_of_week + 1}[part].to_numpy(dtype=float)
    return values


def _days(feat: Feature, filled: pd.Series, df: pd.DataFrame, fitted: Any) -> np.ndarray:
    return serials(filled).to_numpy(dtype=float) - origin_serial(feat)


KINDS = (
    FeatureKind("year", lambda f, source: named(f, f"the year of {source}"), lambda f, ref, at: f"YEAR({ref})",
                values=_values("year"), source=dates, by_max=True, raw=serials),
    FeatureKind("month", lambda f, source: named(f, f"the month (1-12) of {source}"), lambda f, ref, at: f"MONTH({ref})",
                values=_values("month"), source=dates, raw=serials),
    FeatureKind("weekday", lambda f, source: named(f, f"the day of the week (Monday 1 to Sunday 7) of {source}"),
                lambda f, ref, at: f"WEEKDAY({ref},2)", values=_values("weekday"), source=dates, raw=serials),
    FeatureKind("days", lambda f, source: named(f, f"days from {f.origin} to {source}"),
                lambda f, ref, at: f"{ref}-{date_formula(f.origin)}", values=_days, source=dates, by_max=True, raw=serials,
                needs=(("origin", 'needs origin = "YYYY-MM-DD", the date its days count from'),)),
)
