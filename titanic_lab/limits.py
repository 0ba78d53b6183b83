"""Limits on what one command may allocate or read, checked before the work starts.

Each limit has a default and an environment variable that raises (or lowers) it:

===============================  ===============================================  ==========================
variable                         what it bounds                                   default
===============================  ===============================================  ==========================
``TITANIC_LAB_MAX_MEMORY``       the estimated memory of training one model       80% of the machine's RAM
``TITANIC_LAB_MAX_CSV_BYTES``    the size of a CSV read                           2G
``TITANIC_LAB_MAX_CELLS``        the cells (rows x columns) of one sheet read     50M
===============================  ===============================================  ==========================

Sizes take a suffix ``K``, ``M``, ``G`` or ``T`` (powers of 1024 for bytes, of 1000 for cells).
"""

from __future__ import annotations

import math
import os

from .errors import OptionError

_SUFFIXES = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4}


def env_limit(name: str, default: int, base: int = 1024) -> int:
    """The limit set by environment variable ``name`` (``"8G"``, ``"500M"``, ``"123"``), else ``default``."""
    text = os.environ.get(name, "").strip().upper().removesuffix("B")
    if not text:
        return default
    number, suffix = (text[:-1], text[-1]) if text[-1] in "KMGT" else (text, "")
    try:
        value = float(number) * base ** _SUFFIXES[suffix]
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise OptionError(f"{name}={os.environ[name]!r}: not a size; write a positive number, optionally with K, M, G or T")
    return int(value)


def human(n: float, unit: str = "B") -> str:
    """``1.5e9`` -> ``"1.5 GB"`` (powers of 1000, as people read them)."""
    for prefix in ("", "k", "M", "G", "T", "P"):
        if abs(n) < 1000 or prefix == "P":
            return f"{n:,.0f} {prefix}{unit}" if prefix == "" else f"{n:,.1f} {prefix}{unit}"
        n /= 1000
    return f"{n} {unit}"


def physical_memory() -> int | None:
    """The machine's RAM in bytes, None when the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def max_memory() -> int:
    """``TITANIC_LAB_MAX_MEMORY``, else 80% of the machine's RAM (8 GiB when it is unknown)."""
    ram = physical_memory()
    return env_limit("TITANIC_LAB_MAX_MEMORY", int(0.8 * ram) if ram else 8 << 30)


def max_csv_bytes() -> int:
    """``TITANIC_LAB_MAX_CSV_BYTES``, else 2 GiB (Kaggle's train.csv is 61 kB; two million rows 160 MB)."""
    return env_limit("TITANIC_LAB_MAX_CSV_BYTES", 2 << 30)


def max_cells() -> int:
    """``TITANIC_LAB_MAX_CELLS``, else 50 million: a sheet's used range (rows x columns) read at most.

    titanic-lab's own largest sheet, the ``all_rows`` or a model sheet of 1,048,573 rows, has
    under 45 million.
    """
    return env_limit("TITANIC_LAB_MAX_CELLS", 50_000_000, base=1000)
