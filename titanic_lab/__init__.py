"""titanic-lab: the fast.ai Titanic lesson's spreadsheet, in code, and back into a spreadsheet.

The public API is re-exported here. Names that need torch load it only when first used, so
``import titanic_lab`` and ``import titanic_lab.preprocessing`` stay light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .data import bundled_path, default_data_path, read_titanic
from .errors import DataError, OptionError, TitanicLabError, TrainingError
from .preprocessing import (
    NOTEBOOK,
    PRESETS,
    SPREADSHEET,
    Feature,
    NotFittedError,
    Preset,
    TitanicPreprocessor,
    UnseenCategoryWarning,
    select_complete_rows,
)

__version__ = "0.1.0"

# name -> module, for the parts that import torch or a workbook writer.
_LAZY: dict[str, str] = {}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'titanic_lab' has no attribute {name!r}")


__all__ = [
    "NOTEBOOK",
    "PRESETS",
    "SPREADSHEET",
    "DataError",
    "Feature",
    "NotFittedError",
    "OptionError",
    "Preset",
    "TitanicLabError",
    "TitanicPreprocessor",
    "TrainingError",
    "UnseenCategoryWarning",
    "__version__",
    "bundled_path",
    "default_data_path",
    "read_titanic",
    "select_complete_rows",
    *_LAZY,
]
