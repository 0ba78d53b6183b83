"""titanic-lab: the fast.ai Titanic lesson's spreadsheet, in code, and back into a spreadsheet.

The public API is re-exported here lazily: ``import titanic_lab`` imports nothing heavy, and
each name loads its module (pandas, scikit-learn, torch...) when first used.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import TYPE_CHECKING, Any, Callable

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    "TitanicLabError": "errors",
    "DataError": "errors",
    "OptionError": "errors",
    "TrainingError": "errors",
    "read_titanic": "datasets.titanic",
    "same_passengers": "datasets.titanic",
    "bundled_path": "datasets.titanic",
    "default_data_path": "datasets.titanic",
    "TitanicPreprocessor": "preprocessing",
    "TabularPreprocessor": "preprocessing",
    "DatasetSpec": "datasets.spec",
    "Target": "datasets.spec",
    "infer_spec": "datasets.infer",
    "read_table": "datasets.csv",
    "read_spec": "datasets.registry",
    "spec_to_toml": "datasets.spec",
    "Feature": "features.steps",
    "Preset": "features.preset",
    "PRESETS": "datasets.titanic",
    "SPREADSHEET": "datasets.titanic",
    "NOTEBOOK": "datasets.titanic",
    "NotFittedError": "preprocessing",
    "UnseenCategoryWarning": "preprocessing",
    "select_complete_rows": "datasets.titanic",
    "ModelSpec": "models",
    "parse_model": "models",
    "forward": "models",
    "predict_array": "array_forward",
    "TrainSettings": "training",
    "TrainResult": "training",
    "fit": "training",
    "lr_find": "training",
    "default_settings": "training",
    "split_indices": "training",
    "RunConfig": "config",
    "Run": "runs",
    "train_run": "runs",
    "EXTENDED": "datasets.titanic",
    "GROUPS": "datasets.titanic",
    "write_workbook": "workbook",
    "verify_workbook": "verify",
    "compare_workbook": "compare",
    "read_model_sheets": "workbook.layout",
    "predict_from_workbook": "predict",
    "cross_validate": "leaderboard",
}

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load lazily
    from .compare import compare_workbook
    from .config import RunConfig
    from .workbook.layout import read_model_sheets
    from .leaderboard import cross_validate
    from .predict import predict_from_workbook
    from .verify import verify_workbook
    from .workbook import write_workbook
    from .datasets.csv import read_table
    from .datasets.infer import infer_spec
    from .datasets.registry import read_spec
    from .datasets.spec import DatasetSpec, Target, spec_to_toml
    from .datasets.titanic import (
        EXTENDED,
        GROUPS,
        NOTEBOOK,
        PRESETS,
        SPREADSHEET,
        bundled_path,
        default_data_path,
        read_titanic,
        same_passengers,
        select_complete_rows,
    )
    from .errors import DataError, OptionError, TitanicLabError, TrainingError
    from .array_forward import predict_array
    from .models import ModelSpec, forward, parse_model
    from .features.preset import Preset
    from .features.steps import Feature
    from .preprocessing import NotFittedError, TabularPreprocessor, TitanicPreprocessor, UnseenCategoryWarning
    from .runs import Run, train_run
    from .training import TrainResult, TrainSettings, default_settings, fit, lr_find, split_indices


def _lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` (PEP 562): each name of ``exports`` (name -> its module,
    relative to ``package``) is imported at its first use and kept in the package, and listed before."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            value = getattr(import_module(f".{exports[name]}", package), name)
            setattr(sys.modules[package], name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *exports})

    return __getattr__, __dir__


__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS)

__all__ = ["__version__", *_EXPORTS]
