"""The layout of a model sheet: its rows, labels and block names, defined once.

The writer (:mod:`titanic_lab.workbook`) puts cells where this module says and the readers
(:mod:`titanic_lab.layout`, :mod:`titanic_lab.compare`, :mod:`titanic_lab.verify`) look for
them under the same names. Rows and columns are 0-based, as in XlsxWriter.

A model sheet, as titanic-lab writes it::

    row 0   Data      ... Max: | divisors      Params  ...  Model ...  Max |Preds-torch|: | Train loss:
    row 1             ... Fill: | fill values                          =MAX(ABS(...))     | Valid loss:
    row 2   Survived | Embarked | ... features | | params headers | | model blocks | Loss | torch | Valid
    row 3.. one row per passenger

The model's columns come in blocks, each named by a prefix: ``Linear``, ``Out`` and ``Preds``
are one column headed by the bare name; every other block numbers its units (``Lin1``,
``ReLU2``, ``L1_3``, ``Tanh2_1``...).
"""

from __future__ import annotations

import re
from typing import NamedTuple

#: The header row of the data table (the lesson's row 3) and its first data row (row 4).
HEADER_ROW = 2
FIRST_ROW = 3
#: The rows above the headers: feature divisors (``Max:``/``Scale:``, with z-score offsets in
#: the fill row) and fill values (``Fill:``).
SCALE_ROW = 0
FILL_ROW = 1

# Labels; a label ending in ":" names the cell to its right.
DATA = "Data"
#: A model sheet whose formulas read the features on another sheet (``--features-once``): this label in row 0, the
#: sheet's name right of it.
FEATURES_ON = "Features on sheet:"
FILL = "Fill:"
MAX = "Max:"
SCALE = "Scale:"
#: A z-score's offset and divisor, and a date column's fill (shown as a date): the formats' labels.
MEAN, SD, MIN, FILL_DATE = "Mean:", "SD:", "Min:", "Fill: date"
#: The label of a params row: the weights of a unit (``Lin1 weights``), and the note over the bias's weight.
WEIGHTS = "weights"
CONSTANT = "constant"
PARAMS = "Params"
MODEL = "Model"
LOSS = "Loss"
TOTAL_LOSS = "Total loss:"
TORCH = "torch"
MAX_DIFF = "Max |Preds-torch|:"
VALID = "Valid"
TRAIN_LOSS = "Train loss:"
VALID_LOSS = "Valid loss:"
#: The validation metrics every model sheet records whatever its loss (:mod:`titanic_lab.choosing`), as values
#: measured before any refit, and what rows the sheet's parameters were fitted on.
VALID_ACCURACY = "Valid accuracy:"
VALID_LOG_LOSS = "Valid log loss:"
VALID_RMSE = "Valid RMSE:"
#: Any table: the paired standard error of the model's validation loss per row minus the best model's (the
#: one-standard-error rule, :mod:`titanic_lab.choosing`).
VALID_PAIRED_SE = "Valid paired SE:"
#: Any table chosen by folds (``--choose-folds``): how many; the Valid figures are then every row's, each from a fit without it.
VALID_FOLDS = "Valid folds:"
FITTED_ON = "Fitted on:"
#: The params header over the bias column (the feature ``Ones``), as in the lesson.
ONES, CONST = "Ones", "Const"
#: The corner of the lesson's mmult params block (``Column | Param1 | Param2``).
COLUMN = "Column"

# Model blocks.
LINEAR = "Linear"
LIN = "Lin"
#: A chain's layer i before its activation: ``L{i}_``.
CHAIN_LAYER = "L"
BN = "BN"
OUT = "Out"
PREDS = "Preds"
#: A multiclass model's softmax: each class's probability, ``P1``... (the classes' labels in the row above).
PROBS = "P"
#: Multiclass: the row of class labels over the ``P`` block, the likeliest class, the confusion matrix.
CLASSES = "Classes:"
PREDICTED = "Predicted"
CONFUSION = "Confusion (rows: true class, columns: predicted)"
#: Blocks of one column, headed by their bare name when one column wide (a multiclass model's
#: ``Linear`` and ``Out`` have a column per class: ``Linear1``...); every other block numbers its units.
SINGLE_BLOCKS = (LINEAR, OUT, PREDS)


#: The sheet holding the run's table description (:mod:`titanic_lab.dataset`) as TOML, one line a row.
SPEC_SHEET = "spec"
#: Regression sheets: the target's divisor (the model learns (target - min) / scale) and the prediction in target units.
TARGET_SCALE = "Target scale:"
#: A regression target's offset, its smallest training value (:attr:`titanic_lab.datasets.spec.Target.offset`): on a
#: model sheet the cell right of the scale's, shown as ``Min: 601.5``; on the backprop and gradient descent sheets a fact of its own.
TARGET_MIN = "Target min:"
PREDICTION = "Prediction"
#: Cells a reader looks for by their text: a data column must not be named like one of them.
_RESERVED = {DATA, FILL, MAX, SCALE, PARAMS, MODEL, LOSS, TOTAL_LOSS, TORCH, MAX_DIFF, VALID, TRAIN_LOSS, VALID_LOSS,
             VALID_ACCURACY, VALID_LOG_LOSS, VALID_RMSE, VALID_PAIRED_SE, VALID_FOLDS, FITTED_ON,
             CONST, COLUMN, LINEAR, OUT, PREDS, TARGET_SCALE, PREDICTION, CLASSES, PREDICTED}


def is_reserved(name: str, activation_headers: tuple[str, ...]) -> bool:
    """Whether a data column called ``name`` would be taken for one of the model sheet's own cells
    (``Loss``, ``Preds``, ``Lin1``, ``ReLU2``, ``L1_3``, a params corner ``W1``, ``c2``, ``Param1``...)."""
    if name in _RESERVED:
        return True
    blocks = "|".join(map(re.escape, (LIN, BN, *activation_headers)))
    numbered = rf"(?:{blocks}|{LINEAR}|{OUT}|{PROBS})\d+|(?:{CHAIN_LAYER}|{blocks})\d+_\d+|[Wc]\d+|Param\d+|Unit\d+|(?:mean|var|gamma|beta)\d+"
    return re.fullmatch(numbered, name) is not None


def is_label(text: object) -> bool:
    """True for a label that names the cell to its right or below (``Total loss:``)."""
    return isinstance(text, str) and text.endswith(":")


def param_labels(features: list[str]) -> list[str]:
    """The lesson's params headers: the feature names, ``Const`` for ``Ones`` (titanic-lab writes the names as they are)."""
    return [CONST if f == ONES else f for f in features]


def param_header(unit: int) -> str:
    """A unit's column in the mmult params block: ``Param1``."""
    return f"Param{unit + 1}"


def chain_unit_header(unit: int) -> str:
    """A unit's column in a ``W{i}`` params block: ``Unit1``."""
    return f"Unit{unit + 1}"


def weights_corner(layer: int) -> str:
    """The corner of layer ``layer``'s params block: ``W1``."""
    return f"W{layer}"


def const_label(layer: int) -> str:
    """The label of layer ``layer``'s constant: ``c1``."""
    return f"c{layer}"


def bn_label(part: str, layer: int) -> str:
    """The label of a batch-norm row: ``mean1``, ``gamma2``..."""
    return f"{part}{layer}"


class HiddenBlocks(NamedTuple):
    """The blocks of one hidden layer: before the activation, batch norm, the activation."""

    layer: str
    batchnorm: str
    activation: str


def hidden_blocks(layer: int | None, activation_header: str) -> HiddenBlocks:
    """The block names of a hidden layer.

    The nnet's one layer (``layer`` None): ``Lin``, ``BN``, ``ReLU``; layer i of a chain
    (hidden, deep): ``L{i}_``, ``BN{i}_``, ``ReLU{i}_``. The activation's block is named after
    its header (``ReLU``, ``Tanh``...).
    """
    if layer is None:
        return HiddenBlocks(LIN, BN, activation_header)
    return HiddenBlocks(f"{CHAIN_LAYER}{layer}_", f"{BN}{layer}_", f"{activation_header}{layer}_")


def unit_header(prefix: str, unit: int) -> str:
    """The header of unit ``unit`` (0-based) of a block: ``Preds``; ``Lin1``; ``L1_2``."""
    return prefix if prefix in SINGLE_BLOCKS else f"{prefix}{unit + 1}"


def block_headers(prefix: str, width: int) -> list[str]:
    """A block's column headers: ``Preds``; ``Lin1``, ``Lin2``; ``L1_1``, ``L1_2``...; ``Linear1``... when
    a one-column block is as wide as a multiclass target's classes."""
    if width > 1 and prefix in SINGLE_BLOCKS:
        return [f"{prefix}{u + 1}" for u in range(width)]
    return [unit_header(prefix, u) for u in range(width)]


def block_role(prefix: str) -> tuple[str, int]:
    """What a sheet block is and which hidden layer it belongs to (1 for the nnet's units).

    ``("layer", i)`` for Linear, Lin, L{i}_ and Out (a matrix product); ``("batchnorm", i)``;
    ``("activation", i)``; ``("preds", 0)``.
    """
    match = re.fullmatch(r"([A-Za-z]+?)(\d+)_", prefix)
    base, layer = (match.group(1), int(match.group(2))) if match else (prefix, 1)
    if prefix in (PREDS, PROBS):
        return "preds", 0
    if base in (LINEAR, LIN, OUT, CHAIN_LAYER):
        return "layer", layer
    if base == BN:
        return "batchnorm", layer
    return "activation", layer
