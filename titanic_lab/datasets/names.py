"""The built-in datasets' names and their presets' names, as plain data.

``titanic-lab --help`` lists them (:mod:`titanic_lab.choices`) without importing pandas, which
every dataset's module needs. Each dataset's record (:data:`titanic_lab.datasets.registry.DATASETS`)
holds the presets themselves; ``tests/test_choices.py`` checks that the two agree, so a new
built-in dataset is its module, a registry line and a line here.
"""

from __future__ import annotations

#: Each built-in dataset's preset names, in its record's order (the first is its default), by
#: dataset name; the first dataset is ``titanic-lab train``'s default.
PRESET_NAMES: dict[str, tuple[str, ...]] = {
    "titanic": ("spreadsheet", "notebook", "extended", "groups"),
    "palmer-penguins": ("lesson",),
}
