"""titanic-lab: the fast.ai Titanic lesson's spreadsheet, in code, and back into a spreadsheet.

The public API is re-exported here lazily: ``import titanic_lab`` imports nothing heavy, and
each name loads its module (pandas, scikit-learn, torch...) when first used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    "TitanicLabError": "errors",
    "DataError": "errors",
    "OptionError": "errors",
    "TrainingError": "errors",
    "read_titanic": "data",
    "same_passengers": "data",
    "bundled_path": "data",
    "default_data_path": "data",
    "TitanicPreprocessor": "preprocessing",
    "TabularPreprocessor": "preprocessing",
    "DatasetSpec": "dataset",
    "Target": "dataset",
    "infer_spec": "dataset",
    "read_table": "dataset",
    "read_spec": "dataset",
    "spec_to_toml": "dataset",
    "Feature": "preprocessing",
    "Preset": "preprocessing",
    "PRESETS": "preprocessing",
    "SPREADSHEET": "preprocessing",
    "NOTEBOOK": "preprocessing",
    "NotFittedError": "preprocessing",
    "UnseenCategoryWarning": "preprocessing",
    "select_complete_rows": "preprocessing",
    "ModelSpec": "models",
    "parse_model": "models",
    "forward": "models",
    "TrainSettings": "training",
    "TrainResult": "training",
    "fit": "training",
    "lr_find": "training",
    "default_settings": "training",
    "split_indices": "training",
    "RunConfig": "config",
    "Run": "runs",
    "train_run": "runs",
    "EXTENDED": "preprocessing",
    "GROUPS": "preprocessing",
    "write_workbook": "workbook",
    "verify_workbook": "verify",
    "compare_workbook": "compare",
    "read_model_sheets": "layout",
    "predict_from_workbook": "predict",
    "cross_validate": "leaderboard",
}

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load lazily
    from .compare import compare_workbook
    from .config import RunConfig
    from .layout import read_model_sheets
    from .leaderboard import cross_validate
    from .predict import predict_from_workbook
    from .verify import verify_workbook
    from .workbook import write_workbook
    from .data import bundled_path, default_data_path, read_titanic, same_passengers
    from .dataset import DatasetSpec, Target, infer_spec, read_spec, read_table, spec_to_toml
    from .errors import DataError, OptionError, TitanicLabError, TrainingError
    from .models import ModelSpec, forward, parse_model
    from .preprocessing import (
        EXTENDED,
        GROUPS,
        NOTEBOOK,
        PRESETS,
        SPREADSHEET,
        Feature,
        NotFittedError,
        Preset,
        TabularPreprocessor,
        TitanicPreprocessor,
        UnseenCategoryWarning,
        select_complete_rows,
    )
    from .runs import Run, train_run
    from .training import TrainResult, TrainSettings, default_settings, fit, lr_find, split_indices


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'titanic_lab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = ["__version__", *_EXPORTS]
