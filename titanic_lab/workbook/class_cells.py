"""A multiclass model sheet's last columns: the classes, the likeliest class, the loss and a confusion matrix.

Right of the softmax's ``P1``...``PK`` columns (their class labels in the ``Classes:`` row above
them) a multiclass sheet writes, each formula cached with torch's value:

==============  ====================================================================================
``Predicted``   ``INDEX(classes, MATCH(MAX(P row), P row, 0))``: the likeliest class, in the file's words
``Loss``        ``-LN(MAX(INDEX(P row, MATCH(target, classes, 0)), 1E-300))``: -ln p of the true class
``torch1``...   torch's probabilities, as plain values, and ``Max |Preds-torch|:`` over the P block
confusion       ``SUMPRODUCT((target column=true class)*(Predicted column=predicted class))``, classes x classes
==============  ====================================================================================
"""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np
import torch

from .. import formulas as fx
from .. import sheet_layout as sl
from ..ops import LOSSES
from ..rowwriter import RowWriter
from ..sheet_layout import FIRST_ROW, HEADER_ROW
from ..tasks import confusion, plain
from ..training import TrainResult
from .book import Book
from .cells import width
from .table import Table


class _ModelSheet(Protocol):
    """What these columns need of the model sheet being written (:class:`.model_sheets._ModelSheet`, which calls them)."""

    book: Book
    ws: RowWriter
    table: Table
    result: TrainResult

    @property
    def params_col(self) -> int: ...

    def estimate_cells(self, col: int) -> None: ...

    def split_cells(self, col: int, loss_area: str, per_row: np.ndarray) -> None: ...


def likeliest(classes: str, probs_row: str) -> str:
    """``INDEX($E$2:$G$2,1,MATCH(MAX(E4:G4),E4:G4,0))``: the class of a row's largest probability
    (row 1 of the one-row range named: Gnumeric reads a lone number as a row)."""
    return f"INDEX({classes},1,MATCH(MAX({probs_row}),{probs_row},0))"


def probability_of(probs_row: str, classes: str, label_ref: str) -> str:
    """``INDEX(E4:G4,1,MATCH(A4,$E$2:$G$2,0))``: a row's probability of the class ``label_ref`` names."""
    return f"INDEX({probs_row},1,MATCH({label_ref},{classes},0))"


def count_both(a_area: str, a_ref: str, b_area: str, b_ref: str) -> str:
    """``SUMPRODUCT((A4:A300=$X5)*(Y4:Y300=Y$4))``: rows where both columns hold the given values, each compared
    as ``=`` compares (not COUNTIFS, which reads a class such as ``<10`` or ``a*`` as a condition)."""
    return f"SUMPRODUCT(({a_area}={a_ref})*({b_area}={b_ref}))"


def class_labels(sheet: _ModelSheet, labels: Sequence) -> None:
    """Each class's label left of its row of params (a multiclass linear sheet's block per class)."""
    for u, label in enumerate(labels):
        sheet.book.cells.value(sheet.ws, FIRST_ROW + u, sheet.params_col - 1, plain(label), sheet.book.cells.bold)
    sheet.ws.set_column(sheet.params_col - 1, sheet.params_col - 1, max(width(str(label), 8) for label in labels))


def class_checks(sheet: _ModelSheet, probs_col: int, labels: Sequence, preds: torch.Tensor, y: torch.Tensor,
                 total_at: tuple[int, int]) -> None:
    """Write a multiclass sheet's classes, Predicted, Loss, total loss, torch's values, checks and confusion.

    Parameters
    ----------
    probs_col : int
        The first ``P`` column; the block is ``len(labels)`` wide.
    preds : Tensor, (n_rows, n_classes)
        torch's probabilities.
    y : Tensor, (n_rows,)
        Each row's class number.
    """
    ws, cells, table, book = sheet.ws, sheet.book.cells, sheet.table, sheet.book
    k, last = len(labels), table.last_row
    labels = [plain(v) for v in labels]
    cells.text(ws, sl.FILL_ROW, probs_col - 1, sl.CLASSES, cells.bold)
    for u, label in enumerate(labels):
        cells.value(ws, sl.FILL_ROW, probs_col + u, label, cells.constant)
    classes = fx.area(sl.FILL_ROW, probs_col, sl.FILL_ROW, probs_col + k - 1, absolute=True)
    probs_row = lambda r: fx.area(r, probs_col, r, probs_col + k - 1)  # noqa: E731
    target = book.run.dataset.target.column
    predicted_col, loss_col = probs_col + k, probs_col + k + 1
    p = preds.numpy()
    index = p.argmax(-1)
    cached = str if all(isinstance(v, str) for v in labels) else float
    cells.text(ws, HEADER_ROW, predicted_col, sl.PREDICTED, cells.header)
    cells.column_formulas(ws, predicted_col, lambda r: likeliest(classes, probs_row(r)),
                          np.asarray(labels, dtype=object)[index], None, cached)
    per_row = LOSSES["ce"](preds.unsqueeze(-2), y.unsqueeze(-1)).numpy()  # each row as a one-row batch
    loss = LOSSES["ce"].formula
    cells.text(ws, HEADER_ROW, loss_col, sl.LOSS, cells.header)
    cells.column_formulas(ws, loss_col, lambda r: loss(probability_of(probs_row(r), classes, table.refs.this_row(target, r)), ""),
                          per_row, cells.num)
    loss_area = fx.area(FIRST_ROW, loss_col, last, loss_col)
    label_row, label_col = total_at
    cells.text(ws, label_row, label_col, sl.TOTAL_LOSS, cells.bold)
    cells.formula(ws, label_row, label_col + 1, fx.average(loss_area), float(per_row.mean()), cells.num)
    torch_col = loss_col + 1
    for u in range(k):
        cells.text(ws, HEADER_ROW, torch_col + u, f"{sl.TORCH}{u + 1}", cells.header)
        cells.column_values(ws, FIRST_ROW, torch_col + u, p[:, u], cells.torch)
    cells.text(ws, 0, torch_col, sl.MAX_DIFF, cells.bold)
    ws.write_dynamic_array_formula(1, torch_col, 1, torch_col, "=" + fx.max_abs_diff(
        fx.area(FIRST_ROW, probs_col, last, probs_col + k - 1), fx.area(FIRST_ROW, torch_col, last, torch_col + k - 1)),
        cells.diff, 0.0)
    ws.set_column(probs_col - 1, torch_col + k - 1, 10)
    ws.set_column(predicted_col, predicted_col, max(width(str(label), 10) for label in labels))
    after = torch_col + k
    if sheet.result.refit:  # every row trained it: the estimate from before the refit (model_sheets.estimate_cells)
        sheet.estimate_cells(after + 1)
        after += 7
    elif len(book.run.valid_idx):
        sheet.split_cells(after, loss_area, per_row)
        sheet.estimate_cells(after + 3)
        after += 9
    _confusion_block(sheet, after + 1, labels, table.refs.column(target),
                     fx.area(FIRST_ROW, predicted_col, last, predicted_col, absolute=True),
                     confusion(p, y.numpy(), k))


def _confusion_block(sheet: _ModelSheet, col: int, labels: list, target_area: str, predicted_area: str,
                     counts: np.ndarray) -> None:
    """The confusion matrix as formulas counting rows (:func:`count_both`): a row per true class, a column per predicted class."""
    ws, cells = sheet.ws, sheet.book.cells
    cells.text(ws, 0, col, sl.CONFUSION, cells.bold)
    cells.text(ws, HEADER_ROW, col, "true \\ predicted", cells.header)
    for j, label in enumerate(labels):
        cells.value(ws, HEADER_ROW, col + 1 + j, label, cells.header)
        cells.value(ws, FIRST_ROW + j, col, label, cells.bold)
    for i in range(len(labels)):
        for j in range(len(labels)):
            formula = count_both(target_area, fx.cell(FIRST_ROW + i, col, absolute=True), predicted_area,
                                 fx.cell(HEADER_ROW, col + 1 + j, absolute=True))
            cells.formula(ws, FIRST_ROW + i, col + 1 + j, formula, float(counts[i, j]))
    ws.set_column(col, col, max(16, *(width(str(label), 10) for label in labels)))
    for j, label in enumerate(labels):
        ws.set_column(col + 1 + j, col + 1 + j, width(str(label), 8))
