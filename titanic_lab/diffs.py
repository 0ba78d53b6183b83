"""What ``compare`` reports: a column's and a sheet's differences from torch, and the tolerance test."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ColumnDiff:
    column: str
    cells: int
    max_abs_diff: float
    worst_cell: str
    ok: bool


@dataclass
class SheetDiff:
    sheet: str
    model: str
    preset: str
    loss: str
    rows: int
    params: int
    params_at: str
    columns: list[ColumnDiff]
    total_cell: str | None
    total_workbook: float | None
    total_recomputed: float
    total_ok: bool

    @property
    def ok(self) -> bool:
        return self.total_ok and all(c.ok for c in self.columns)


def within(diff: float, value: float, tol: float) -> bool:
    """``|diff| <= tol * max(1, |value|)``, false for NaN."""
    return bool(abs(diff) <= tol * max(1.0, abs(value)))
