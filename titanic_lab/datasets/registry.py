"""The built-in datasets, by name: a second one is one module (like :mod:`.titanic`) and one line here.

A :class:`~titanic_lab.datasets.spec.DatasetSpec` whose ``name`` is a built-in dataset's is that
dataset's (:func:`builtin`): its reader, presets, row selection and passenger matching come
from the dataset's record, so no general module names a dataset or its columns.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import penguins, titanic
from ..errors import OptionError
from ..spec_schema import check_size
from .spec import Dataset, DatasetSpec, SpecError, spec_from_toml

#: Every built-in dataset by name; the first is the default of ``titanic-lab train``.
DATASETS: dict[str, Dataset] = {
    titanic.DATASET.name: titanic.DATASET,
    penguins.DATASET.name: penguins.DATASET,
}


def builtin(spec: DatasetSpec | str | None) -> Dataset | None:
    """The built-in dataset a spec (or a name) describes, or None for any other table."""
    name = spec.name if isinstance(spec, DatasetSpec) else spec
    return DATASETS.get(name) if name is not None else None


def default() -> Dataset:
    """The dataset of ``titanic-lab train`` without ``--data``'s ``--target``: the flagship."""
    return next(iter(DATASETS.values()))


def named(name: str | None) -> Dataset:
    """The built-in dataset ``--dataset name`` chooses; None: the :func:`default`.

    Raises
    ------
    OptionError
        For a name no built-in dataset has.
    """
    if name is None:
        return default()
    if name not in DATASETS:
        raise OptionError(f"--dataset: unknown built-in dataset {name!r}; choose from {', '.join(DATASETS)}")
    return DATASETS[name]


def parse_spec(text: str, where: object = "spec") -> DatasetSpec:
    """:func:`~.spec.spec_from_toml`, refusing a spec that takes a built-in dataset's name with another
    target or id."""
    spec = spec_from_toml(text, where)
    known = builtin(spec)
    if known is not None:
        own = known.default_spec()
        if (spec.target.column, spec.id_column) != (own.target.column, own.id_column):
            raise SpecError(where, f"name = \"{known.name}\" is the built-in dataset's: its target is {own.target.column} "
                                   f"and its id {own.id_column}")
    return spec


def read_spec(path: str | os.PathLike[str]) -> DatasetSpec:
    """Read a spec file written by ``--spec-out`` (and perhaps edited)."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(path, "no such file" if not path.exists() else "is not a regular file")
    check_size(path.stat().st_size, path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (Windows Notepad) is not a TOML statement
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(path, f"cannot be read as UTF-8 text ({exc})") from None
    return parse_spec(text, path)
