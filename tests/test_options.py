"""Each run option is declared once (on its RunConfig field): the command line and the training
overrides both come from that declaration, so they cannot drift apart."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest
import typer
from typer.testing import CliRunner

from titanic_lab import cli, config, runs
from titanic_lab.config import OPTIONS, RunConfig
from titanic_lab.errors import TitanicLabError
from titanic_lab.training import TrainSettings

runner = CliRunner()
#: TrainSettings fields no option sets: the convergence rule of each model (training.MODEL_DEFAULTS).
CONVERGENCE_RULE = {"max_epochs", "window", "tol"}
#: A value other than the default for every option that overrides a training setting, as typed and as trained.
GIVEN = {"epochs": ("7", 7), "lr": ("0.5", 0.5), "optimizer": ("momentum", "momentum"), "loss": ("mae", "mae"),
         "restarts": ("3", 3), "seed": ("5", 5), "dtype": ("float32", "float32"), "batch_size": ("8", 8),
         "accumulate": ("2", 2), "l1": ("0.125", 0.125), "l2": ("0.25", 0.25), "dropout": ("0.375", 0.375),
         "patience": ("4", 4)}


def _params(app: typer.Typer, command: str) -> dict:
    """The click parameters of one command of ``app``, by name."""
    return {p.name: p for p in typer.main.get_command(app).commands[command].params}


def _fresh_train() -> typer.Typer:
    """``train`` built again from the declarations as they are now (the module's was built at import)."""
    app = typer.Typer()
    app.command("train")(cli._with_run_options()(cli.train.__wrapped__))
    app.command("other")(lambda: None)  # two commands, so that the name `train` is needed, as in titanic-lab
    return app


@pytest.fixture
def trained(monkeypatch):
    """Run ``train`` with these arguments up to the data (nothing is trained); return each model's TrainSettings."""
    seen = []

    def stop(config_):
        seen.append(config_)
        raise TitanicLabError("stopped before the data")

    monkeypatch.setattr(runs, "prepare", stop)

    def run(app: typer.Typer, args: list[str], tmp_path) -> dict[str, TrainSettings]:
        result = runner.invoke(app, ["train", *args, "--out", str(tmp_path / "r.json")])
        assert result.exit_code == 2 and "stopped before the data" in result.stderr, result.output
        return {name: settings for name, (_, settings) in runs.model_settings(seen.pop()).items()}

    return run


def test_every_runconfig_field_is_a_train_option_as_declared():
    params = _params(cli.app, "train")
    for f in fields(RunConfig):
        option = OPTIONS[f.name]
        assert f.name in params, f"RunConfig.{f.name} is not an option of train"
        flags = [flag for declared in option.flags for flag in declared.split("/")]
        assert sorted(params[f.name].opts + params[f.name].secondary_opts) == sorted(flags)
        assert params[f.name].help == option.help
        assert option.help in RunConfig.__doc__  # the generated Parameters section


def test_every_overridable_setting_is_declared_once():
    declared = [o.setting for o in OPTIONS.values() if o.setting]
    assert len(declared) == len(set(declared))
    assert set(declared) == {f.name for f in fields(TrainSettings)} - CONVERGENCE_RULE
    assert set(GIVEN) == set(declared)


def test_every_overridable_setting_is_reachable_from_train(trained, tmp_path):
    args = [arg for name, (typed, _) in GIVEN.items() for arg in (OPTIONS[name].flag, typed)]
    settings = trained(cli.app, ["-m", "hidden:3", "-m", "linear", *args], tmp_path)
    for name, (_, value) in GIVEN.items():
        assert getattr(settings["hidden:3"], OPTIONS[name].setting) == value, name
    # Hidden-layer settings reach only the models that have hidden layers.
    assert settings["linear"].dropout == 0 and settings["linear"].l2 == 0.25
    defaults = trained(cli.app, ["-m", "linear"], tmp_path)["linear"]
    assert (defaults.optimizer, defaults.lr, defaults.restarts) == ("adam", 0.1, 1)


def test_a_hidden_only_option_is_refused_without_hidden_layers(tmp_path):
    for name in (o.name for o in OPTIONS.values() if o.hidden_only):
        value = {"activation": "tanh", "batchnorm": True, "dropout": 0.5}[name]
        with pytest.raises(TitanicLabError, match=f"{OPTIONS[name].flag}: only for hidden layers"):
            runs.model_settings(RunConfig(models=("linear",), **{name: value}))


def test_changing_a_declaration_changes_the_option_and_the_override(monkeypatch, trained, tmp_path):
    monkeypatch.setitem(OPTIONS, "l2", replace(OPTIONS["l2"], flags=("--weight-decay",), help="Weight decay, renamed."))
    app = _fresh_train()
    params = _params(app, "train")
    assert params["l2"].opts == ["--weight-decay"] and params["l2"].help == "Weight decay, renamed."
    assert runner.invoke(app, ["train", "--l2", "0.5"]).exit_code == 2  # the old flag is gone
    assert trained(app, ["-m", "linear", "--weight-decay", "0.5"], tmp_path)["linear"].l2 == 0.5

    monkeypatch.setitem(OPTIONS, "l2", replace(OPTIONS["l2"], setting=None))  # no longer a training setting
    assert "l2" not in RunConfig(l2=0.5).overrides(hidden=True)
    assert trained(_fresh_train(), ["-m", "linear", "--weight-decay", "0.5"], tmp_path)["linear"].l2 == 0


def test_other_commands_share_the_declarations():
    for command, names in {"lr-find": ("data", "preset", "optimizer", "loss", "complete_rows", "valid_pct"),
                           "features": ("data", "preset"), "leaderboard": ("data",), "submit": ("data",)}.items():
        params = _params(cli.app, command)
        for name in names:
            assert params[name].help == OPTIONS[name].help, f"{command} {OPTIONS[name].flag}"


def test_command_line_values_become_config_values():
    values = config.from_command_line({"data": cli.Path("x.csv"), "models": ["nnet:3"], "lr": "AUTO", "exclude_from": None})
    assert values == {"data": "x.csv", "models": ("nnet:3",), "lr": "auto", "exclude_from": None}
    with pytest.raises(TitanicLabError, match="--lr must be a positive finite number or auto, got 'fast'"):
        config.from_command_line({"lr": "fast"})
