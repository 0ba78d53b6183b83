"""The layout of the ``backprop`` and ``gradient descent`` sheets: names and labels, defined once.

The writers (:mod:`titanic_lab.workbook.backprop_sheet`, :mod:`titanic_lab.workbook.gd_sheet`)
put cells where this module says; the reader (:mod:`titanic_lab.gradient_compare`: ``compare``
and ``--init-from``) finds them by the same labels. Rows and columns are 0-based.
"""

from __future__ import annotations

#: A backprop sheet's name before the model's sizes (``backprop-nnet``, ``backprop-deep-10-10``).
BACKPROP_PREFIX = "backprop-"
#: The gradient descent sheet, and the prefix of each model's sheet of per-epoch passes (``gd-nnet``).
GD_SHEET = "gradient descent"
GD_ROWS_PREFIX = "gd-"


def is_gradient_sheet(name: str) -> bool:
    """Whether sheet ``name`` is a backprop or gradient descent sheet: never a model sheet, even where a table's
    target is named like its passes' target column (:data:`Y`)."""
    return name.startswith((BACKPROP_PREFIX, GD_ROWS_PREFIX)) or name == GD_SHEET


# Facts, each label followed by its value (row 1 of a backprop sheet, the title row of a gd section).
MODEL, ACTIVATION, LOSS, ROWS, DATA_SHEET, PASSES = "Model:", "Activation:", "Loss:", "Rows (N):", "Data from sheet:", "Passes:"
MEAN_LOSS, TORCH_LOSS, MAX_DIFF = "Mean loss:", "torch loss:", "Max |dL/dparam - torch .grad|:"
#: Facts sit three columns apart: the label, a column its text runs into, the value.
FACT_STRIDE = 3
TORCH_GRAD = "torch .grad"
#: The header of the target column of the per-row passes.
Y = "y"
#: The row of a backprop sheet where its parameter blocks begin.
PARAMS_ROW = 4
#: The rows of a gd-<model> sheet: epoch labels, how each column is computed, headers, first data row.
GD_EPOCH_ROW, GD_FIRST_ROW = 1, 4

#: The gradient descent sheet's editable settings in row 1: each label, then its value.
LR, MOMENTUM, BETA1, BETA2, EPS, L2, L1 = "Learning rate:", "Momentum:", "beta1:", "beta2:", "eps:", "L2:", "L1:"
SETTINGS = (LR, MOMENTUM, BETA1, BETA2, EPS, L2, L1)
OPTIMIZER = "Optimizer:"
#: A model's section: its torch row and the largest differences, labels in column 0.
TORCH_ROW, MAX_PARAM_DIFF, MAX_LOSS_DIFF = "torch:", "Max |p - torch|:", "Max |loss - torch loss|:"
EPOCH, EPOCH_LOSS, EPOCH_TORCH_LOSS = "epoch", "loss", "torch loss"


def fact_cells(k: int) -> tuple[int, int]:
    """The columns of the ``k``-th fact of a row: its label's and its value's."""
    return FACT_STRIDE * k, FACT_STRIDE * k + 2


def delta_header(z_header: str) -> str:
    """The header of a delta column: ``dL/dL1_2``, the loss's derivative by the cell ``L1_2``."""
    return f"dL/d{z_header}"


def gradient_header(name: str) -> str:
    """The header of a parameter's gradient: ``dL/dW1[Age_N,L1_1]``."""
    return f"dL/d{name}"
