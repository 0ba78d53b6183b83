"""The workbook's sheets in order, written atomically: :func:`write_workbook`."""

from __future__ import annotations

from pathlib import Path

import xlsxwriter.exceptions

from ..files import atomic_output, check_outputs, scratch_folder
from ..rowwriter import RowWriter
from ..runs import Run
from .backprop_sheet import backprop_sheets
from .book import Book
from .cells import print_setup
from .gd_sheet import gd_sheet
from .model_sheets import model_sheets
from .run_sheets import CHART_ROWS, all_rows_sheet, history_sheet, readme_sheet, spec_sheet


def write_workbook(run: Run, path: str | Path) -> Path:
    """Write ``run`` to ``path`` (.xlsx) atomically.

    Sheets: ``README`` (what each sheet is, how the run was trained, a chart of the loss per
    epoch), one sheet per model (``linear``; ``nnet`` and ``mmult``; ``sigmoid``, ``hidden``,
    ``deep``), ``backprop-<model>`` with ``--backprop-sheet``, ``gradient descent`` with ``--gd-sheet``, ``history``, ``all_rows`` and ``spec``.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    titanic_lab.files.OutputError
        When ``path`` is the CSV the run was trained on, a folder, or cannot be written.
    """
    path = Path(path)
    check_outputs({"data": run.data_path}, {"the workbook": path})  # never over the CSV it was trained on
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
