"""Recalculate a workbook in LibreOffice and compare every formula cell with its cached value."""

from __future__ import annotations

import bisect
import math
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .formulas import cell, col_letter
from .reading import check_sheets, formula_cells, sheet_values, value_at
from .recalc import recalculate

@dataclass
class ColumnCheck:
    """One column of formula cells (or one cell above the header row) and how far it moved."""

    sheet: str
    label: str
    cells: int = 0
    max_diff: float = 0.0
    worst: str = ""
    missing_cached: int = 0
    mismatched: list[str] = field(default_factory=list)

    def ok(self, tol: float) -> bool:
        return self.missing_cached == 0 and not self.mismatched and self.max_diff <= tol


@dataclass
class VerifyReport:
    path: Path
    tol: float
    columns: list[ColumnCheck]

    @property
    def ok(self) -> bool:
        return bool(self.columns) and all(c.ok(self.tol) for c in self.columns)

    @property
    def cells(self) -> int:
        return sum(c.cells for c in self.columns)

    def to_dict(self) -> dict:
        return {
            "path": str(self.path),
            "tolerance": self.tol,
            "ok": self.ok,
            "cells": self.cells,
            "columns": [
                {
                    "sheet": c.sheet,
                    "column": c.label,
                    "cells": c.cells,
                    "max_diff": c.max_diff,
                    "worst_cell": c.worst,
                    "missing_cached": c.missing_cached,
                    "ok": c.ok(self.tol),
                }
                for c in self.columns
            ],
        }


def relative_diff(cached: object, fresh: object) -> float:
    """|fresh - cached| / max(1, |cached|); inf when one side is not a number."""
    if isinstance(cached, bool) or isinstance(fresh, bool) or not isinstance(cached, (int, float)) or not isinstance(fresh, (int, float)):
        return 0.0 if cached == fresh else math.inf
    return abs(float(fresh) - float(cached)) / max(1.0, abs(float(cached)))


def compare_cached(path: Path, recalculated: Path, tol: float, formulas: dict, cached_values: dict) -> VerifyReport:
    """Compare the cached values of ``path``'s formula cells with those of ``recalculated``.

    ``formulas`` and ``cached_values`` are ``formula_cells(path)`` and ``sheet_values(path)``.
    """
    fresh_values = sheet_values(recalculated)
    columns: list[ColumnCheck] = []
    for sheet, cells in formulas.items():
        if not cells:
            continue
        cached_rows, fresh_rows = cached_values.get(sheet, []), fresh_values.get(sheet, [])
        groups: dict[object, ColumnCheck] = {}
        headers = _Headers(cached_rows)
        for (row, col) in sorted(cells, key=lambda rc: (rc[1], rc[0])):
            key, label = _label(headers, row, col)
            check = groups.setdefault(key, ColumnCheck(sheet, label))
            check.cells += 1
            cached, fresh = value_at(cached_rows, row, col), value_at(fresh_rows, row, col)
            if cached == "":
                check.missing_cached += 1
                continue
            diff = relative_diff(cached, fresh)
            if diff > check.max_diff or not check.worst:
                check.max_diff, check.worst = diff, cell(row, col)
        columns.extend(groups.values())
    return VerifyReport(Path(path), tol, columns)


class _Headers:
    """For each column, the rows that hold text: a data cell's header is the nearest one above."""

    def __init__(self, rows: list[list[object]]) -> None:
        self.rows = rows
        self.text_rows: dict[int, list[int]] = {}
        for r, row in enumerate(rows):
            for c, v in enumerate(row):
                if isinstance(v, str) and v:
                    self.text_rows.setdefault(c, []).append(r)

    def above(self, row: int, col: int) -> tuple[int, str] | None:
        rows = self.text_rows.get(col, [])
        i = bisect.bisect_left(rows, row) - 1
        return (rows[i], self.rows[rows[i]][col]) if i >= 0 else None


def _label(headers: _Headers, row: int, col: int) -> tuple[object, str]:
    """How a formula cell is grouped and named in the report.

    A cell labelled by its neighbour (``Total loss:`` to its left, or a label above it) stands
    alone, named by address and label (``AH1 Total loss:``). Any other cell belongs to the
    column under its nearest header (``Lin1 (V)``).
    """
    rows = headers.rows
    for neighbour in (value_at(rows, row, col - 1) if col else "", value_at(rows, row - 1, col) if row else ""):
        if isinstance(neighbour, str) and neighbour.endswith(":"):
            return (row, col), f"{cell(row, col)} {neighbour}"
    header = headers.above(row, col)
    if header is None:
        return (row, col), cell(row, col)
    return (header[0], col), f"{header[1]} ({col_letter(col)}{header[0] + 1})"


def verify_workbook(path: str | Path, tol: float = 1e-9) -> VerifyReport:
    """Recalculate ``path`` in LibreOffice and compare every formula cell with its cached value.

    Parameters
    ----------
    path : path-like
        An .xlsx workbook.
    tol : float
        Largest allowed ``|recalculated - cached| / max(1, |cached|)``.

    Raises
    ------
    titanic_lab.recalc.RecalcError
        When LibreOffice is missing or fails.
    titanic_lab.reading.WorkbookError
        When ``path`` is not a readable workbook.
    """
    path = Path(path)
    check_sheets(path)  # before LibreOffice starts: fails fast on a file that is not a workbook, or a hostile one
    with tempfile.TemporaryDirectory(prefix="titanic-lab-verify-") as tmp, ThreadPoolExecutor(max_workers=1) as pool:
        # LibreOffice recalculates in its own process while this one reads the original file.
        pending = pool.submit(recalculate, path, Path(tmp))
        formulas, cached_values = formula_cells(path), sheet_values(path)
        return compare_cached(path, pending.result(), tol, formulas, cached_values)
