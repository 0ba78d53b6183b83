"""Recalculate a workbook in a spreadsheet engine and compare every formula cell with its cached value."""

from __future__ import annotations

import math
import time
from bisect import bisect_left, bisect_right
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import chain, repeat
from pathlib import Path
from queue import Queue
from typing import Iterator, Mapping

import numpy as np

from .engines import DEFAULT_ENGINE, AskedValues, Engine, Values, Wanted, select_engines
from .formulas import cell, col_letter
from .reading import WorkbookError, checked_sheets, sheet_formula_cells, sheet_values
from .sheet_layout import is_label

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
    """One engine's verdict on one workbook; ``seconds`` is the engine's recalculation time."""

    path: Path
    tol: float
    columns: list[ColumnCheck]
    engine: str = DEFAULT_ENGINE
    seconds: float = 0.0
    note: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.columns) and all(c.ok(self.tol) for c in self.columns)

    @property
    def cells(self) -> int:
        return sum(c.cells for c in self.columns)

    @property
    def max_diff(self) -> float:
        return max((c.max_diff for c in self.columns), default=0.0)

    @property
    def worst(self) -> str:
        """The worst cell as ``sheet!cell``: a cell with no cached value, else the largest difference."""
        missing = [c for c in self.columns if c.missing_cached]
        check = missing[0] if missing else max(self.columns, key=lambda c: c.max_diff, default=None)
        return f"{check.sheet}!{check.worst}" if check is not None and check.worst else ""

    def to_dict(self) -> dict:
        return {
            "path": str(self.path),
            "engine": self.engine,
            "seconds": self.seconds,
            "note": self.note,
            "tolerance": self.tol,
            "ok": self.ok,
            "cells": self.cells,
            "worst": self.worst,
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


def compare_cached(path: Path, fresh_values: Values, tol: float, formulas: dict, cached_values: dict) -> VerifyReport:
    """Compare the cached values of ``path``'s formula cells with an engine's ``fresh_values``.

    ``formulas`` and ``cached_values`` are ``formula_cells(path)`` and ``sheet_values(path)``.
    """
    return _Comparison(formulas, cached_values).report(path, fresh_values, tol)


class _Comparison:
    """The cached side of :func:`compare_cached`, made once before any engine's values are known: each sheet's
    formula cells with their cached values, and the runs of cells each report row counts."""

    def __init__(self, formulas: dict[str, dict[tuple[int, int], str]], cached_values: dict) -> None:
        self.sheets: list[tuple[str, _SheetCells, list[tuple[object, str, int, int]]]] = []
        for sheet, cells in formulas.items():
            if not cells:
                continue
            grid = _grid(cached_values.get(sheet, []))
            headers, sheet_cells = _Headers(grid, cells), _SheetCells(cells, grid)
            runs = [(key, label, first + start, first + stop)
                    for col, first, last in sheet_cells.columns()  # column by column, each top down
                    for key, label, start, stop in headers.groups(col, sheet_cells.rows[first:last].tolist())]
            self.sheets.append((sheet, sheet_cells, runs))

    def report(self, path: Path, fresh_values: Values, tol: float) -> VerifyReport:
        """The report on one engine's ``fresh_values``."""
        columns: list[ColumnCheck] = []
        for sheet, sheet_cells, runs in self.sheets:
            fresh = sheet_cells.against(fresh_values.get(sheet, {}))
            groups: dict[object, ColumnCheck] = {}
            for key, label, start, stop in runs:
                check = groups.get(key)
                if check is None:
                    check = groups[key] = ColumnCheck(sheet, label)
                sheet_cells.compare(check, fresh, start, stop)
            columns.extend(groups.values())
        return VerifyReport(Path(path), tol, columns)


@dataclass
class _Fresh:
    """An engine's values of a sheet's formula cells (in :class:`_SheetCells`' order), which of them are floats
    beside a float cached value, and those cells' relative differences (NaN elsewhere)."""

    values: np.ndarray
    floats: np.ndarray
    diffs: np.ndarray


class _SheetCells:
    """A sheet's formula cells sorted by column, then row, with their cached values."""

    def __init__(self, cells: dict[tuple[int, int], str], grid: np.ndarray) -> None:
        n = len(cells)
        self.cells = cells
        at = np.fromiter(chain.from_iterable(cells), np.int64, 2 * n).reshape(n, 2)
        self.order = np.lexsort((at[:, 0], at[:, 1]))
        self.rows, self.cols = at[self.order, 0], at[self.order, 1]
        inside = (self.rows < grid.shape[0]) & (self.cols < grid.shape[1])
        self.cached = np.full(n, "", dtype=object)
        self.cached[inside] = grid[self.rows[inside], self.cols[inside]]
        self.cached_floats = _is_float(self.cached)
        self.cached_numbers = self.cached[self.cached_floats].astype(float)

    def against(self, fresh: Mapping[tuple[int, int], object]) -> _Fresh:
        """An engine's values of these cells beside the cached ones: the relative differences of every float
        pair at once (relative_diff's)."""
        n = len(self.cells)
        if isinstance(fresh, AskedValues) and len(fresh.values) == n and fresh.asked == list(self.cells):
            values = np.fromiter(fresh.values, object, n)  # in the order asked: these cells' own
            values[values == None] = ""  # noqa: E711 (elementwise): an empty cell, as a mapping leaves it out
            values = values[self.order]
        else:
            values = np.fromiter(map(fresh.get, self.cells, repeat("")), object, n)[self.order]
        floats = self.cached_floats & _is_float(values)
        diffs = np.full(len(values), np.nan)
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf is NaN: compared cell by cell below
            a = self.cached_numbers[floats[self.cached_floats]]
            diffs[floats] = np.abs(values[floats].astype(float) - a) / np.maximum(1.0, np.abs(a))
        return _Fresh(values, floats, diffs)

    def columns(self) -> Iterator[tuple[int, int, int]]:
        """Each column with formula cells and the slice of the sorted cells it holds: ``(col, first, last)``."""
        starts = np.flatnonzero(np.diff(self.cols)) + 1
        bounds = [0, *starts.tolist(), len(self.cols)]
        return ((int(self.cols[first]), first, last) for first, last in zip(bounds, bounds[1:]))

    def compare(self, check: ColumnCheck, fresh: _Fresh, start: int, stop: int) -> None:
        """Count the sorted cells ``start:stop`` (one column's) into ``check``: cells without a cached value, and
        the largest difference (the worst cell: the first with it)."""
        check.cells += stop - start
        diffs = fresh.diffs[start:stop]
        if fresh.floats[start:stop].all() and not np.isnan(diffs).any():  # the usual case, at once
            at = int(np.argmax(diffs))
            largest = float(diffs[at])
            if largest > check.max_diff or not check.worst:
                check.max_diff, check.worst = largest, cell(int(self.rows[start + at]), int(self.cols[start + at]))
            return
        for i in range(start, stop):
            was = self.cached[i]
            if was == "":
                check.missing_cached += 1
                continue
            diff = relative_diff(was, fresh.values[i])
            if diff > check.max_diff or not check.worst:
                check.max_diff, check.worst = diff, cell(int(self.rows[i]), int(self.cols[i]))


def _grid(rows: list[list[object]]) -> np.ndarray:
    """A sheet's cached values (rows from A1, as python-calamine reads them) as a 2-D object array, short rows
    padded with ``""`` (an empty cell); each value one element, whatever it holds."""
    width = max(map(len, rows), default=0)
    values = chain.from_iterable(chain(line, repeat("", width - len(line))) for line in rows)
    return np.fromiter(values, object, len(rows) * width).reshape(len(rows), width)


def _is_float(values: np.ndarray) -> np.ndarray:
    """Which of an object array's values are floats (not ints, not bools, not numpy's)."""
    return np.fromiter(map(_FLOAT.__contains__, map(type, values)), bool, len(values))


_FLOAT = frozenset({float})


class _Headers:
    """For each column, the rows that hold text (not a formula's: a predicted class is text): a data cell's
    header is the nearest one above."""

    def __init__(self, grid: np.ndarray, formulas: dict[tuple[int, int], str]) -> None:
        self.grid = grid
        self.labels: dict[tuple[int, int], str] = {}
        self.text_rows: dict[int, list[int]] = {}
        #: The cells that hold a label (``Total loss:``), by (row, col).
        self.label_cells: dict[tuple[int, int], str] = {}
        texts = np.fromiter(map(isinstance, grid.flat, repeat(str)), bool, grid.size).reshape(grid.shape)
        for r, c in zip(*(found.tolist() for found in np.nonzero(texts))):  # row by row, each left to right
            v = grid[r, c]
            if v and (r, c) not in formulas:
                self.text_rows.setdefault(c, []).append(r)
                if is_label(v):
                    self.label_cells[(r, c)] = v
        #: The cells a label names (its right neighbour, else the cell under it), by (row, col): the label.
        self.labelled = {(r + 1, c): v for (r, c), v in self.label_cells.items()}
        self.labelled.update({(r, c + 1): v for (r, c), v in self.label_cells.items()})
        #: The rows of the labelled cells, by column, ascending.
        self.labelled_rows: dict[int, list[int]] = {}
        for r, c in sorted(self.labelled):
            self.labelled_rows.setdefault(c, []).append(r)

    def label(self, header_row: int, col: int) -> str:
        """The report's name of the column under the header at (header_row, col): ``Lin1 (V3)``."""
        name = self.labels.get((header_row, col))
        if name is None:
            name = self.labels[(header_row, col)] = f"{self.grid[header_row, col]} ({col_letter(col)}{header_row + 1})"
        return name

    def groups(self, col: int, rows: list[int]) -> Iterator[tuple[object, str, int, int]]:
        """How the formula cells at ``rows`` (ascending) of column ``col`` are grouped and named in the report:
        ``(key, name, start, stop)`` for each run ``rows[start:stop]`` of one group, top down.

        A cell labelled by its neighbour (``Total loss:`` to its left, or a label above it) stands
        alone, named by address and label (``AH1 Total loss:``). Any other cell belongs to the
        column under its nearest header above (``Lin1 (V)``), or without one stands alone. The text
        rows cut the column into runs, found by bisection: a column of thousands of rows is a few
        slices, not a step per cell.
        """
        texts = self.text_rows.get(col, [])
        marked = self.labelled_rows.get(col, [])
        cuts = [bisect_left(rows, t) for t in texts] + [len(rows)]  # rows[cuts[k-1]:cuts[k]] lie under texts[k-1]
        for at in range(cuts[0]):  # no header above: each cell alone
            yield (rows[at], col), self._alone(rows[at], col), at, at + 1
        for k in range(1, len(cuts)):
            start, stop = cuts[k - 1], cuts[k]
            if start == stop:
                continue
            key = (texts[k - 1], col)
            first, last = rows[start], rows[stop - 1]
            for row in marked[bisect_left(marked, first):bisect_right(marked, last)]:  # labelled cells stand alone
                at = bisect_left(rows, row, start, stop)
                if at == stop or rows[at] != row:
                    continue
                if at > start:
                    yield key, self.label(texts[k - 1], col), start, at
                yield (row, col), self._alone(row, col), at, at + 1
                start = at + 1
            if start < stop:
                yield key, self.label(texts[k - 1], col), start, stop

    def _alone(self, row: int, col: int) -> str:
        """The report's name of a formula cell that stands alone: its address, and its label if it has one."""
        text = self.labelled.get((row, col))
        return cell(row, col) if text is None else f"{cell(row, col)} {text}"


def verify_workbook(path: str | Path, tol: float = 1e-9, engine: str = DEFAULT_ENGINE) -> VerifyReport:
    """Recalculate ``path`` in a spreadsheet engine and compare every formula cell with its cached value.

    Parameters
    ----------
    path : path-like
        An .xlsx workbook.
    tol : float
        Largest allowed ``|recalculated - cached| / max(1, |cached|)``.
    engine : str
        ``ironcalc`` (installed with titanic-lab), ``libreoffice`` or ``gnumeric``.

    Raises
    ------
    titanic_lab.recalc.RecalcError
        When the engine is missing or fails.
    titanic_lab.reading.WorkbookError
        When ``path`` is not a readable workbook.
    """
    (report,) = verify_with(path, select_engines(engine), tol)
    return report


#: Sheets read one at a time by verify (each read opens the workbook again: 1,000 sheets took 21 s, 2,000 94 s).
MANY_SHEETS = 20


def verify_with(path: str | Path, engines: list[Engine], tol: float = 1e-9) -> list[VerifyReport]:
    """:func:`verify_workbook` with each of ``engines`` in turn (the workbook is read once); a report per engine.

    Raises
    ------
    titanic_lab.recalc.RecalcError
        When an engine is missing or fails.
    titanic_lab.reading.WorkbookError
        When ``path`` is not a readable workbook.
    """
    path = Path(path)
    with ThreadPoolExecutor(max_workers=1) as pool, ThreadPoolExecutor(max_workers=1) as reader:
        try:
            return _verify(path, engines, tol, pool, reader)
        finally:
            reader.shutdown(cancel_futures=True)  # no sheet read once verify has what it needs, or has failed


def _verify(path: Path, engines: list[Engine], tol: float, pool: ThreadPoolExecutor,
            reader: ThreadPoolExecutor) -> list[VerifyReport]:
    """:func:`verify_with`, the engine's thread ``pool`` and the sheets' ``reader`` given."""
    # python-calamine reads each sheet that may hold formulas (their cached values) in the reader's thread, as soon
    # as that sheet is checked, while this one checks the next and then finds the formula cells.
    # A sheet at a time up to MANY_SHEETS (each read opens the workbook again); the rest in one read.
    reading, rest = {}, []
    for name, may_hold_formulas in checked_sheets(path):
        if may_hold_formulas and len(reading) < MANY_SHEETS:
            reading[name] = reader.submit(sheet_values, path, [name])
        elif may_hold_formulas:
            rest.append(name)
    if rest:
        together = reader.submit(sheet_values, path, rest)
        reading.update(dict.fromkeys(rest, together))
    # Every sheet is checked before any engine starts: a file that is not a workbook, or a hostile one, fails fast.
    for engine in engines:
        engine.require()
    # The first engine recalculates in its own process while this one reads the original file; it is told which
    # cells hold formulas (the only values compared) a sheet at a time, as each is found: IronCalc reads a sheet's
    # values while this one scans the next.
    found: Queue = Queue()
    pending = pool.submit(_timed, engines[0], path, lambda: _as_found(found))
    formulas = {}
    try:
        for sheet, cells in sheet_formula_cells(path):
            formulas[sheet] = cells
            found.put((sheet, list(cells)))
    except BaseException:
        found.put(_FAILED)  # the engine asks for the cells, is told there are none, and is stopped
        raise
    found.put(None)
    if not any(formulas.values()):
        raise WorkbookError(f"{path}: holds no formula cell; there is nothing to recalculate and compare")
    cached_values = {}  # only the sheets with formulas are compared
    for sheet in [sheet for sheet, cells in formulas.items() if cells]:
        if sheet not in cached_values:
            cached_values.update(reading[sheet].result() if sheet in reading else sheet_values(path, [sheet]))
    comparison = _Comparison(formulas, cached_values)  # while the first engine finishes
    reports = []
    for i, engine in enumerate(engines):
        fresh, seconds = pending.result() if i == 0 else _timed(engine, path, lambda: formulas)
        report = comparison.report(path, fresh, tol)
        report.engine, report.seconds = engine.name, seconds
        if not report.ok and not engine.reads_tables and _has_table_references(formulas):
            report.note = (f"{engine.title} does not read Excel table references (Table[[#This Row],[Col]]); "
                           "titanic-lab train --portable writes workbooks with plain A1 references, which it computes")
        reports.append(report)
    return reports


class _CallerFailed(Exception):
    """Raised in the engine's thread when verify failed before it found every formula cell (verify raises its own)."""


#: What verify puts in the engine's queue when it failed: the engine's thread raises :class:`_CallerFailed`.
_FAILED = object()


def _as_found(found: Queue) -> Iterator[tuple[str, list[tuple[int, int]]]]:
    """The sheets' formula cells as the verifying thread puts them in ``found``, until None (or :data:`_FAILED`)."""
    while (item := found.get()) is not None:
        if item is _FAILED:
            raise _CallerFailed
        yield item


def _has_table_references(formulas: dict[str, dict[tuple[int, int], str]]) -> bool:
    return any("[" in text for cells in formulas.values() for text in cells.values())


def _timed(engine: Engine, path: Path, wanted: Wanted) -> tuple[Values, float]:
    started = time.perf_counter()
    fresh = engine.recalculate(path, wanted)
    return fresh, time.perf_counter() - started
