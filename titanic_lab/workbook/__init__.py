"""Write a trained run into an .xlsx laid out like the lesson's workbook, and read it back.

Every model sheet holds the data as an Excel Table (``A3``, header row 3), the features as
formulas, the trained parameters, and the model's columns as formulas (SUMPRODUCT,
``IF(x<0,0,x)``, MMULT, ``1/(1+EXP(-x))``), each formula cell also storing the value torch
computed. XlsxWriter writes it, because it stores a cached value with every formula.

The writer is split by sheet kind, around one shared :class:`~.book.Book` (the run, the
workbook, its formats):

===================  =============================================================================
``book.py``          :class:`~.book.Book`, what every sheet writer shares
``cells.py``         formats, cell and column writers, XlsxWriter's patched worksheet
``columns.py``       data columns written a thousand rows at a time, each cell's XML as XlsxWriter's
``checks.py``        sheet names; does the run fit in Excel's sheets (checked before training)
``data_table.py``    a model sheet's data table: raw columns, fills, divisors, features as formulas
``model_sheets.py``  params, the model's columns, loss and checks (linear, units, chain styles)
``backprop_sheet.py`` the ``backprop`` sheets (``--backprop-sheet``): the chain rule cell by cell
``gd_sheet.py``      the ``gradient descent`` sheet (``--gd-sheet``)
``run_sheets.py``    ``README``, ``history``, ``all_rows``, ``spec``
``table.py``         where a model sheet's data table sits, shared by the writers
``writer.py``        :func:`~.writer.write_workbook`: the sheets in order, written atomically
``layout.py``        the reader: finds the model sheets by their headers and reads data and params back
===================  =============================================================================

The package imports nothing itself: its names load their module at first use, so the reader
(``layout.py``, which ``predict`` imports) comes without the writer and torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import _lazy_exports

#: Public name -> the module of this package that defines it.
_EXPORTS = {
    "write_workbook": "writer", "reproducible": "book", "written_at": "book", "GD_SHEET": "gd_sheet",
    "EXCEL_MAX_COLUMNS": "checks", "EXCEL_MAX_ROWS": "checks", "check_fits": "checks", "check_models_fit": "checks",
    "sheet_name": "checks",
}

if TYPE_CHECKING:
    from .book import reproducible, written_at
    from .checks import EXCEL_MAX_COLUMNS, EXCEL_MAX_ROWS, check_fits, check_models_fit, sheet_name
    from .gd_sheet import GD_SHEET
    from .writer import write_workbook

__all__ = [
    "EXCEL_MAX_COLUMNS", "EXCEL_MAX_ROWS", "GD_SHEET", "check_fits", "check_models_fit", "reproducible",
    "sheet_name", "write_workbook", "written_at",
]

__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS)
