"""A run saved as JSON: the config, the fitted preprocessing and every model's parameters.

Format ``titanic-lab/run-v1``::

    {"format": "titanic-lab/run-v1", "version": "...", "data": "...", "rows": ..., "target": "Survived",
     "task": "binary", "target_scale": 1.0, "target_offset": 0.0, "spec": "...the table's description as TOML...", "config": {...RunConfig...},
     "preprocessing": {"preset": "spreadsheet", "features": [...], "fill_values": {...},
                       "levels": {...}, "scales": {"Age_N": [offset, divisor]},
                       "group_sizes": {"log_FarePP": {"ticket": passengers}}},
     "models": {"linear": {"kind": "linear", "sizes": [], "settings": {...},
                           "params": {"w": [...]}, "train_loss": ..., ...}}}

Parameters are nested lists in the shapes ``titanic_lab.models.init_params`` documents.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .datasets.spec import spec_to_toml
from .files import atomic_output
from .runs import Run

FORMAT = "titanic-lab/run-v1"


def run_to_dict(run: Run) -> dict:
    """The JSON-ready description of a run, parameters included."""
    pre = run.preprocessor
    summary = run.summary()
    models = {}
    for name, result in run.results.items():
        models[name] = {
            "kind": result.spec.kind,
            "sizes": list(result.spec.sizes),
            **summary["models"][name],
            "params": {k: v.tolist() for k, v in result.params.items()},
        }
    return {
        "format": FORMAT,
        "version": summary["version"],
        "data": summary["data"],
        "rows": summary["rows"],
        "target": summary["target"],
        "task": summary["task"],
        "target_scale": run.dataset.target.divisor,
        "target_offset": run.dataset.target.shift,
        "spec": spec_to_toml(run.dataset),
        "config": summary["config"],
        "preprocessing": {
            "preset": pre.preset_.name,
            "features": list(pre.feature_names_out_),
            "fill_values": pre.fill_values_,
            "levels": {k: list(v) for k, v in pre.levels_.items()},
            "scales": {k: list(v) for k, v in pre.scales_.items()},
            "group_sizes": {k: {str(t): n for t, n in v.items()} for k, v in pre.group_sizes_.items()},
        },
        "models": models,
    }


def write_json(run: Run, path: str | Path) -> Path:
    """Write :func:`run_to_dict` to ``path`` atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(run_to_dict(run), indent=2, default=_plain) + "\n", encoding="utf-8")
    return Path(path)


def _plain(value: object) -> object:
    """A numpy number as JSON's (a binary feature's levels from a numeric column are numpy's 0 and 1)."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} {value!r} has no JSON form")
