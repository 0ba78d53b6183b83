"""The names --help offers are the names the registries implement, and --help lists them all."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from titanic_lab import choices
from titanic_lab.cli import app
from titanic_lab.datasets import names, registry
from titanic_lab.models import ACTIVATIONS, KINDS, LOSSES
from titanic_lab.preprocessing import PRESETS
from titanic_lab.training import OPTIMIZERS

runner = CliRunner()


def test_choices_equal_the_registries():
    assert choices.PRESET_NAMES == tuple(PRESETS)
    assert choices.PRESET_NAMES == tuple(registry.default().presets)
    assert choices.MODEL_KINDS == tuple(KINDS)
    assert choices.ACTIVATION_NAMES == tuple(ACTIVATIONS)
    assert choices.LOSS_NAMES == tuple(LOSSES)
    assert choices.OPTIMIZER_NAMES == tuple(OPTIMIZERS)


def test_dataset_and_preset_names_are_the_registrys():
    """datasets/names.py (read by --help without pandas) lists every built-in dataset and its presets in the records' order."""
    assert list(names.PRESET_NAMES.items()) == [(name, tuple(d.presets)) for name, d in registry.DATASETS.items()]
    assert choices.DATASET_NAMES == tuple(registry.DATASETS)


def _help(command: str) -> str:
    result = runner.invoke(app, [command, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    return result.stdout


def _option_help(text: str, option: str) -> str:
    """The help text of one option: from its flag to the next option's flag."""
    match = re.search(rf"^\s+(?:-\w, )?{re.escape(option)}\b(.*?)(?=^\s+-)", text, re.S | re.M)
    assert match, f"{option} is not in the help"
    return match.group(1)


@pytest.mark.parametrize("option, names", [
    ("--preset", PRESETS),
    ("--model", KINDS),
    ("--activation", ACTIVATIONS),
    ("--loss", LOSSES),
    ("--optimizer", OPTIMIZERS),
])
def test_train_help_lists_every_name(option, names):
    described = _option_help(_help("train"), option)
    missing = [name for name in names if not re.search(rf"\b{name}\b", described)]
    assert not missing, f"train --help does not list {missing} under {option}"


@pytest.mark.parametrize("command, option, names", [
    ("features", "--preset", PRESETS),
    ("submit", "--preset", PRESETS),
    ("submit", "--model", KINDS),
])
def test_other_commands_list_every_name(command, option, names):
    described = _option_help(_help(command), option)
    assert [name for name in names if not re.search(rf"\b{name}\b", described)] == []
