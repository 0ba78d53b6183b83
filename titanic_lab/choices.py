"""The names the command line offers, as plain tuples.

``titanic-lab --help`` lists them without importing torch or pandas. Each tuple equals the keys
of the registry that implements it (``tests/test_choices.py`` checks): the datasets' and their
presets' names (read from :mod:`titanic_lab.datasets.names`, as the registry's records hold them),
``models.KINDS``, ``models.ACTIVATIONS``, ``models.LOSSES`` and ``optim.OPTIMIZERS``. The
model kinds, activations, losses and optimizers are read from their records in
:mod:`titanic_lab.model_kinds`, :mod:`titanic_lab.ops` and :mod:`titanic_lab.optim`, which import
without torch, so a new one is one entry there.
"""

from __future__ import annotations

from .datasets import names
from .model_kinds import KINDS
from .ops import ACTIVATIONS, LOSSES
from .optim import OPTIMIZERS

#: The built-in datasets (``--dataset``), the first the default.
DATASET_NAMES: tuple[str, ...] = tuple(names.PRESET_NAMES)
#: The default dataset's (Titanic's) presets (``--preset``).
PRESET_NAMES: tuple[str, ...] = names.PRESET_NAMES[DATASET_NAMES[0]]
MODEL_KINDS: tuple[str, ...] = tuple(KINDS)
ACTIVATION_NAMES: tuple[str, ...] = tuple(ACTIVATIONS)
LOSS_NAMES: tuple[str, ...] = tuple(LOSSES)
OPTIMIZER_NAMES: tuple[str, ...] = tuple(OPTIMIZERS)
#: The optimizers the gradient descent sheet writes as formulas (``titanic_lab.backprop.GD_OPTIMIZERS``).
GD_OPTIMIZER_NAMES: tuple[str, ...] = ("sgd", "momentum", "adam")
#: ``tasks.TASKS``' keys, typed here because that module imports pandas.
TASK_NAMES: tuple[str, ...] = ("binary", "regression", "multiclass")


def one_of(names: tuple[str, ...]) -> str:
    """``"a, b or c"``: a list of names for help text."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
