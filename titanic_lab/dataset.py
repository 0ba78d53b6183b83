"""The names notebooks import from ``titanic_lab.dataset``, kept where they were.

Their homes are :mod:`titanic_lab.datasets`: the spec (:mod:`~titanic_lab.datasets.spec`),
reading any CSV (:mod:`~titanic_lab.datasets.csv`), inference (:mod:`~titanic_lab.datasets.infer`)
and the registry of built-in datasets (:mod:`~titanic_lab.datasets.registry`).
"""

from __future__ import annotations

from .datasets.csv import check_ids, read_table
from .datasets.infer import FREE_TEXT_SHARE, MAX_LEVELS, POSITIVE_WORDS, SKEWED, infer_features, infer_spec, infer_target, open_table
from .datasets.registry import parse_spec as spec_from_toml
from .datasets.registry import read_spec
from .datasets.spec import (
    SPEC_FORMAT,
    TASKS,
    DatasetSpec,
    SpecError,
    Target,
    Task,
    check_columns,
    check_headers,
    describe_feature,
    resolved,
    spec_to_toml,
    write_spec,
)
from .datasets.titanic import titanic_spec

__all__ = [
    "FREE_TEXT_SHARE", "MAX_LEVELS", "POSITIVE_WORDS", "SKEWED", "SPEC_FORMAT", "TASKS", "DatasetSpec", "SpecError", "Target",
    "Task", "check_columns", "check_headers", "check_ids", "describe_feature", "infer_features", "infer_spec",
    "infer_target", "open_table", "read_spec", "read_table", "resolved", "spec_from_toml", "spec_to_toml", "titanic_spec",
    "write_spec",
]
