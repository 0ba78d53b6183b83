"""The names notebooks import from ``titanic_lab.data``, kept where they were.

Their home is :mod:`titanic_lab.datasets.titanic` (the Titanic reader, its checks and passenger
matching); the general CSV reading is :mod:`titanic_lab.datasets.csv`.
"""

from __future__ import annotations

from .datasets.csv import MAX_TEXT
from .datasets.titanic import (
    DEFAULT_LOCATIONS,
    ID_COLUMN,
    IDENTITY_COLUMNS,
    KAGGLE_COLUMNS,
    RAW_COLUMNS,
    TARGET,
    UnknownValueWarning,
    bundled_path,
    complete_rows_of,
    default_data_path,
    describe_source,
    drop_passengers,
    read_titanic,
    same_passengers,
)
from .features.titanic import passenger_keys

__all__ = [
    "DEFAULT_LOCATIONS", "ID_COLUMN", "IDENTITY_COLUMNS", "KAGGLE_COLUMNS", "MAX_TEXT", "RAW_COLUMNS", "TARGET",
    "UnknownValueWarning", "bundled_path", "complete_rows_of", "default_data_path", "describe_source", "drop_passengers",
    "passenger_keys", "read_titanic", "same_passengers",
]
