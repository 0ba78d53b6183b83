"""Write a trained run into an .xlsx laid out like the lesson's workbook.

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
``layout.py``        the reader: finds the model sheets by their headers and reads data and params back
===================  =============================================================================
"""

from __future__ import annotations

from pathlib import Path

import xlsxwriter.exceptions

from ..files import atomic_output, scratch_folder
from ..rowwriter import RowWriter
from ..runs import Run
from .book import Book, reproducible, written_at
from .cells import print_setup
from .cells import _Worksheet  # noqa: F401 (imported from here by tests/test_rowwriter.py)
from .checks import EXCEL_MAX_COLUMNS, EXCEL_MAX_ROWS, check_fits, check_models_fit, sheet_name
from .backprop_sheet import backprop_sheets
from .gd_sheet import GD_SHEET, gd_sheet
from .model_sheets import model_sheets
from .run_sheets import CHART_ROWS, all_rows_sheet, history_sheet, readme_sheet, spec_sheet

__all__ = [
    "EXCEL_MAX_COLUMNS", "EXCEL_MAX_ROWS", "GD_SHEET", "check_fits", "check_models_fit", "reproducible",
    "sheet_name", "write_workbook", "written_at",
]


def write_workbook(run: Run, path: str | Path) -> Path:
    """Write ``run`` to ``path`` (.xlsx) atomically.

    Sheets: ``README`` (what each sheet is, how the run was trained, a chart of the loss per
    epoch), one sheet per model (``linear``; ``nnet`` and ``mmult``; ``sigmoid``, ``hidden``,
    ``deep``), ``backprop-<model>`` with ``--backprop-sheet``, ``gradient descent`` with ``--gd-sheet``, ``history``, ``all_rows`` and ``spec``.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    with atomic_output(path) as tmp, scratch_folder(path) as scratch:
        book = Book(run, tmp, scratch)
        readme = RowWriter(book.wb.add_worksheet("README"))  # first in the workbook, written last
        book.sheets.append(("README", "This sheet."))
        model_sheets(book)
        gradient_lines = backprop_sheets(book) if run.config.backprop_sheet else []
        gradient_lines += gd_sheet(book) if run.config.gd_sheet else []
        series = history_sheet(book)
        all_rows_sheet(book)
        spec_sheet(book)
        readme_sheet(book, readme, series, gradient_lines)
        readme.write()
        print_setup(readme, rows=None, below=CHART_ROWS + 3 if series else 0, one_page_wide=True)  # every row, the chart
        readme.activate()
        try:
            book.wb.close()
        except xlsxwriter.exceptions.FileCreateError as exc:  # XlsxWriter's wrapper of an OSError
            raise exc.args[0] if exc.args and isinstance(exc.args[0], OSError) else OSError(str(exc)) from exc
    return path
