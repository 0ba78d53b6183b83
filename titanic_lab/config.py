"""One dataclass describes a run, and each of its fields declares its option once.

A field of :class:`RunConfig` carries an :class:`Option` in its metadata: the flags and help
text of ``titanic-lab train`` (and of the other commands that take the same option), the
:class:`~titanic_lab.training.TrainSettings` field it overrides, and whether it applies to
hidden layers only. The command line (:mod:`titanic_lab.cli`), the training overrides
(:meth:`RunConfig.overrides`) and RunConfig's own docstring are generated from :data:`OPTIONS`.
"""

from __future__ import annotations

import math
import numbers
import os
import typing
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Optional

from .choices import (ACTIVATION_NAMES, DATASET_NAMES, GD_OPTIMIZER_NAMES, LOSS_NAMES, MODEL_KINDS, OPTIMIZER_NAMES,
                      PRESET_NAMES, TASK_NAMES, one_of)
from .csv_dialect import check_marks, parse_decimal, parse_encoding, parse_sep, parse_thousands
from .errors import OptionError

DEFAULT_MODELS = ("linear", "nnet")
#: The largest seed torch's generators take as a signed 64-bit number.
SEED_MAX = 2**63 - 1
#: The most epochs a run trains (the history sheet keeps one row per epoch).
MAX_EPOCHS = 1_000_000
#: Rows of one Excel sheet: the gradient descent sheet's epochs must fit in it.
SHEET_ROWS = 1_048_576
SHEET_COLUMNS = 16_384
#: Folds a regression target is chosen by on any table of at most :data:`CHOOSE_FOLDS_MAX_ROWS` rows (``choose_folds``). On
#: ggplot2's mpg (187 rows, 37 to validate on) the nnet won the default split by 1.037 to 1.261 RMSE and lost on 7
#: other split seeds of 8; held out it scored 1.499 against linear's 1.265 (session 18, BENCHMARKS.md). A class
#: target keeps one split by default: on the binary tables of benchmarks/chosen.md folds changed two choices
#: (anes96, breast_cancer), both to a worse held-out accuracy.
CHOOSE_FOLDS = 5
#: Up to this many rows one 20% split leaves at most 200 rows to choose on, and a fold trains in a fraction of a second.
CHOOSE_FOLDS_MAX_ROWS = 1_000
#: The most folds ``--choose-folds`` takes.
MAX_CHOOSE_FOLDS = 20
#: Past this many feature cells on the model sheets after the first, the features are written once (``features_once``).
FEATURES_ONCE_CELLS = 200_000


@dataclass(frozen=True)
class Option:
    """One option of a run, declared once.

    Parameters
    ----------
    help : str
        The help text of the command line, also RunConfig's documentation of the field.
    flags : tuple of str
        The option's names on the command line; default ``--field-name``.
    setting : str or None
        The :class:`~titanic_lab.training.TrainSettings` field the option overrides (a value
        of None keeps the model's default).
    hidden_only : bool
        Only for models with hidden layers: refused when no model has one, and not applied to
        the models without one.
    cli_type : type or None
        The type the command line parses, when not the field's (e.g. ``Path`` for a ``str``).
    parse : callable or None
        Turns the command line's value (not None) into the field's value.
    show_default : bool
        Whether ``--help`` shows the default (False when the help text explains it).
    name, default : filled in from the RunConfig field
    """

    help: str
    flags: tuple[str, ...] = ()
    setting: str | None = None
    hidden_only: bool = False
    cli_type: Any = None
    parse: Callable[[Any], Any] | None = None
    show_default: bool = True
    name: str = ""
    default: Any = None

    @property
    def flag(self) -> str:
        """The option's first long flag (``--complete-rows`` of ``--complete-rows/--all-rows``)."""
        return self.flags[0].split("/")[0]

    def from_cli(self, value: Any) -> Any:
        """The field's value for the command line's ``value``."""
        return value if value is None or self.parse is None else self.parse(value)


def _option(default: Any, help: str, *flags: str, **declared: Any) -> Any:
    """A RunConfig field with its :class:`Option` (flags, help and the rest) in its metadata."""
    return field(default=default, metadata={"option": Option(help, flags, **declared)})


def parse_lr(text: str) -> float | str:
    """``--lr``: a number (RunConfig checks its range) or ``auto``."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return float(text)
    except ValueError:
        raise OptionError(f"--lr must be a positive finite number or auto, got {text!r}") from None


def check_seed(option: str, seed: int, span: int = 1, upper: int = SEED_MAX) -> None:
    """Refuse a seed outside ``[0, upper]`` (with ``span`` consecutive seeds used from it)."""
    if not 0 <= seed <= upper - (span - 1):
        top = upper - (span - 1)
        raise OptionError(f"{option} must be a whole number from 0 to {top}, got {seed}")


def check_real(option: str, value: float, *, positive: bool = False) -> None:
    """Refuse a NaN or infinite value, and a negative one (or 0 when ``positive``), naming the option."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):  # a notebook's RunConfig(lr="fast")
        raise OptionError(f"{option} must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise OptionError(f"{option} must be a {'positive' if positive else 'non-negative'} finite number, got {value}")


def check_cv(folds: int, repeats: int = 1, seed: int = 42) -> None:
    """The cross-validation options: ``--folds`` 2 or more, ``--repeats`` 1 or more, ``--seed`` a 32-bit seed."""
    if folds < 2:
        raise OptionError(f"--folds must be at least 2, got {folds}")
    if repeats < 1:
        raise OptionError(f"--repeats must be at least 1, got {repeats}")
    check_seed("--seed", seed, upper=2**32 - 1)  # scikit-learn's random_state


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides what ``titanic-lab train`` does.

    Each field declares its option (see :class:`Option`); the parameters below are generated
    from those declarations.
    """

    data: str | None = _option(
        None, "Training CSV (Kaggle or titanic3 schema). Default: ./data/train.csv, else "
        "/kaggle/input/titanic/train.csv, else the bundled titanic3.", "--data", "-d",
        cli_type=Optional[Path], parse=str, show_default=False)
    dataset: str | None = _option(
        None, f"A built-in dataset by name: {one_of(DATASET_NAMES)} (Palmer penguins' body mass, preset lesson). "
        "Default: titanic, or any CSV with --target.", show_default=False)
    preset: str = _option(PRESET_NAMES[0], f"Titanic's feature preset: {one_of(PRESET_NAMES)}; another --dataset's "
                          "first preset by default.", "--preset", "-p")
    models: tuple[str, ...] = _option(
        DEFAULT_MODELS, f"Model to train; repeat for several: {one_of(MODEL_KINDS)}, with sizes as nnet:3, hidden:20, "
        f"deep:10,10. Default: {' and '.join(DEFAULT_MODELS)} (linear, sigmoid and nnet for a binary --target; linear and "
        "hidden for a multiclass target).", "--model", "-m",
        cli_type=list[str], parse=tuple, show_default=False)
    epochs: int | None = _option(
        None, "Exactly this many epochs. Default: until converged (the lowest training loss stops improving; see the "
        "README), with a cap per model.", setting="epochs", show_default=False)
    lr: float | str | None = _option(
        None, "Learning rate, or 'auto' for the learning-rate finder's suggestion (see lr-find). Default: a tested rate "
        "per model (Adam 0.1 for linear, 0.03 for nnet, the notebook's for the others); and 'auto' when the optimizer "
        "or loss chosen is not the model's own.", setting="lr", cli_type=Optional[str], parse=parse_lr, show_default=False)
    optimizer: str | None = _option(
        None, f"{one_of(OPTIMIZER_NAMES)}, all hand-written (sgd: p -= lr * grad). Default per model.",
        setting="optimizer", show_default=False)
    loss: str | None = _option(
        None, f"{one_of(LOSS_NAMES)} (mse is the spreadsheet's, mae the notebook's). Default per model.",
        setting="loss", show_default=False)
    restarts: int | None = _option(
        None, "Seeded random starts trained side by side; the best is kept (newton, lbfgs: the 4 best go on after 20, 50 steps). Default: nnet 16, others 1.",
        setting="restarts", show_default=False)
    seed: int = _option(442, "Seed of the initial parameters (the notebook's 442).", setting="seed")
    split_seed: int = _option(42, "Seed of the validation split (fastai's RandomSplitter seed 42).")
    valid_pct: float = _option(0.2, "Share of rows held out for validation; 0 trains on all rows.")
    refit: bool | None = _option(
        None, "After choosing the model by its validation metric (accuracy, or RMSE; on any table by the "
        "one-standard-error rule), train it again with the same settings on every row; the workbook keeps the "
        "validation estimate. Default: yes for any table "
        "(--target, --spec), no for Titanic's lesson runs (their 80/20 layout).", "--refit/--no-refit", show_default=False)
    choose_folds: int | None = _option(
        None, "Folds the models (two or more) are chosen by on any table: the --valid-pct split, then the other rows "
        "cut into N-1 folds the same size as each other, each scored by every model trained without it; 1 chooses "
        "on the --valid-pct split alone. "
        "Default: 5 for a regression target on a table of at most 1,000 rows (there one split's validation rows "
        "are few, and folds are quick), else 1.", show_default=False)
    complete_rows: bool | None = _option(
        None, "Keep only rows with Age and Embarked, as the lesson's workbook does. Default: yes for the "
        "spreadsheet preset, no for notebook.", "--complete-rows/--all-rows", show_default=False)
    dtype: str = _option("float64", "float64 (code and spreadsheet agree to 1e-9) or float32.", setting="dtype")
    activation: str = _option(
        "relu", f"Hidden-layer activation: {one_of(ACTIVATION_NAMES)} (relu is the lesson's).", hidden_only=True)
    batchnorm: bool = _option(
        False, "Batch normalization before each hidden activation; an affine formula with the running statistics "
        "in the workbook.", hidden_only=True)
    batch_size: int | None = _option(
        None, "Rows per update: default full batch (the lesson's), 1 = stochastic, else mini-batch.",
        setting="batch_size", show_default=False)
    accumulate: int = _option(
        1, "Mini-batches whose gradients add up before one update (gradient accumulation).", setting="accumulate")
    l1: float = _option(0.0, "L1 penalty l1 * sum|p| added to the loss minimised (training only).", setting="l1")
    l2: float | None = _option(
        None, "L2 penalty l2/2 * sum p^2, equal to weight decay l2 (training only). Default: 0; for linear on any table "
        "(--target), chosen by leave-one-out cross-validation in closed form, as RidgeCV; for the nnet, among 0, 1e-4, "
        "1e-3, 1e-2 and 1e-1 on a fifth of its training rows held out.", setting="l2", show_default=False)
    dropout: float = _option(
        0.0, "Probability of dropping a hidden unit in training; the identity in the workbook.",
        setting="dropout", hidden_only=True)
    patience: int | None = _option(
        None, "Early stopping: stop after this many epochs without a better validation loss; keep the best "
        "epoch's parameters.", setting="patience", show_default=False)
    backprop_sheet: bool = _option(
        False, "Add a 'backprop' sheet per model: every row's forward pass and, right to left, its backward pass (the "
        "chain rule cell by cell), each gradient a formula beside torch's .grad.")
    gd_sheet: bool = _option(
        False, "Add a 'gradient descent' sheet: every epoch of full-batch gradient descent of every model as a row of "
        "formulas, each epoch's forward and backward pass on a 'gd-<model>' sheet.")
    gd_epochs: int = _option(30, "Epochs (rows) of the gradient descent sheet.")
    gd_lr: float = _option(0.1, "The gradient descent sheet's learning rate (an input cell you can change).")
    gd_optimizer: str = _option(
        "sgd", f"The gradient descent sheet's optimizer, as formulas: {one_of(GD_OPTIMIZER_NAMES)} (its constants are "
        "cells you can change).")
    sample: int | None = _option(
        None, "Train and export a seeded random sample of this many rows (a workbook holds at most 1,048,573).",
        show_default=False)
    exclude_from: str | None = _option(
        None, "Leave out of the training data every passenger this CSV holds (same PassengerId, or same name and "
        "ticket), e.g. the test.csv you will predict.", cli_type=Optional[Path], parse=str, show_default=False)
    portable: bool | None = _option(
        None, "Plain A1 references, which every engine computes (Gnumeric and Google Sheets too), each column's "
        "formula shared down its rows as Excel writes a filled formula; or structured table references "
        "(Data[[#This Row],[Age]]: Excel, LibreOffice, IronCalc). Default: A1 for any table (--target, --spec), "
        "table references for Titanic's lesson runs.", "--portable/--table-references", show_default=False)
    features_once: bool | None = _option(
        None, "Write the features as formulas on the first model sheet only; every later model sheet keeps its raw "
        "columns (values) and its formulas read the features there. Default: only when the later model sheets would "
        "otherwise hold more than "
        f"{FEATURES_ONCE_CELLS:,} feature cells (a large table of many categories), so that each sheet stands "
        "alone, as the lesson's do.", "--features-once/--features-on-every-sheet", show_default=False)
    target: str | None = _option(
        None, "Any CSV: the column to learn (two values: binary classification; numbers: regression). The features "
        "are inferred from the other columns and printed. Default: Titanic's Survived, with --preset.",
        "--target", "-t", show_default=False)
    id_column: str | None = _option(
        None, "With --target: the column naming each row (kept out of the features; predictions are written with it).",
        "--id", show_default=False)
    spec: str | None = _option(
        None, "Take the target and the feature steps from this TOML file (as --spec-out writes it, perhaps edited).",
        cli_type=Optional[Path], parse=str, show_default=False)
    task: str | None = _option(
        None, "With --target or --spec: the task, instead of the one inferred (text with 3 or more values: multiclass; "
        "two values: binary; numbers: regression): binary, regression or multiclass (whole numbers as classes).",
        show_default=False)
    sep: str | None = _option(
        None, "The CSV's separator: , ; | or tab. Default: detected from the file (a one-line note says what, unless "
        "commas).", parse=parse_sep, show_default=False)
    decimal: str | None = _option(
        None, "The CSV's decimal mark: . or , (Excel's CSV in most of Europe). Default: detected from the file; given as "
        ", every quoted comma of a comma-separated file is a decimal comma (\"1,250\" is 1.25).",
        parse=parse_decimal, show_default=False)
    thousands: str | None = _option(
        None, "The CSV's thousands mark: , . or ' ' (a space), or none (numbers written without one: \"1,250\" is then "
        "text, or 1.25 with --decimal ,). Default: detected from the file: a point before a decimal comma (1.234,5), or "
        "in a comma-separated file quoted numbers such as \"9,479\" (a warning names the columns when every one could be "
        "a decimal comma too).", parse=parse_thousands, show_default=False)
    encoding: str | None = _option(
        None, "The CSV's encoding: utf-8, utf-16 (Excel's Unicode Text), cp1252 (Windows, Western Europe), latin-1... "
        "Default: detected from the file (a byte-order mark, else UTF-8, else Windows-1252).",
        parse=parse_encoding, show_default=False)

    def __post_init__(self) -> None:
        if self.data is not None and not isinstance(self.data, (str, os.PathLike)):  # a notebook's RunConfig(data=df)
            raise OptionError(f"--data is the path of a CSV file, not a {type(self.data).__name__}: save a DataFrame with "
                              "df.to_csv('data.csv', index=False) and pass that path")
        if isinstance(self.models, str):  # RunConfig(models="linear"): one model, not five letters
            object.__setattr__(self, "models", (self.models,))
        if self.dataset is not None:
            from .datasets import registry  # lazy: --help imports this module, and must not import pandas

            if self.target or self.spec:
                raise OptionError("--dataset chooses a built-in dataset; --target and --spec describe any other table")
            presets = registry.named(self.dataset).presets
            if self.preset not in presets:
                if self.preset != RunConfig.preset:
                    raise OptionError(f"--preset {self.preset}: {self.dataset}'s presets are {', '.join(presets)}")
                object.__setattr__(self, "preset", next(iter(presets)))  # the default preset is the dataset's first
        if (self.target or self.spec) and self.preset != RunConfig.preset:
            raise OptionError("--preset chooses Titanic's features; with --target or --spec the features are inferred "
                              "from the file or read from the spec (edit one written by --spec-out)")
        if self.task is not None and self.task not in TASK_NAMES:
            raise OptionError(f"--task: unknown task {self.task!r}; choose from {', '.join(TASK_NAMES)}")
        if (self.task is not None or self.id_column is not None) and not (self.target or self.spec):
            from .datasets import registry  # lazy: --help imports this module, and must not import pandas

            own = registry.default().default_spec()
            if self.task is not None:
                raise OptionError(f"--task is for a table given with --target or --spec (Titanic's {own.target.column} "
                                  f"is {own.target.task})")
            raise OptionError(f"--id names the id column of a table given with --target (Titanic's is {own.id_column})")
        if not self.models:
            raise OptionError("at least one model is needed (--model)")
        if len(set(self.models)) != len(self.models):
            raise OptionError(f"a model is named twice: {', '.join(self.models)}")
        if not 0 <= self.valid_pct < 1:
            raise OptionError(f"--valid-pct must be in [0, 1), got {self.valid_pct}")
        if self.choose_folds is not None and not 1 <= self.choose_folds <= MAX_CHOOSE_FOLDS:
            raise OptionError(f"--choose-folds must be from 1 to {MAX_CHOOSE_FOLDS}, got {self.choose_folds}")
        if self.choose_folds is not None and self.choose_folds > 1 and self.valid_pct == 0:
            raise OptionError("--choose-folds needs validation rows to start from; --valid-pct 0 trains on every row "
                              "and chooses nothing")
        if self.choose_folds is not None and not (self.target or self.spec):
            raise OptionError("--choose-folds is for a table given with --target or --spec (Titanic's lesson runs choose "
                              "on their 80/20 split)")
        if self.sample is not None and self.sample < 1:
            raise OptionError(f"--sample must be at least 1, got {self.sample}")
        if not 1 <= self.gd_epochs < SHEET_ROWS:
            raise OptionError(f"--gd-epochs must be from 1 to {SHEET_ROWS - 1} (one sheet row each), got {self.gd_epochs}")
        check_real("--gd-lr", self.gd_lr, positive=True)
        if self.gd_optimizer not in GD_OPTIMIZER_NAMES:
            raise OptionError(f"--gd-optimizer must be one of {', '.join(GD_OPTIMIZER_NAMES)}, got {self.gd_optimizer!r}")
        if self.epochs is not None and not 0 <= self.epochs <= MAX_EPOCHS:
            raise OptionError(f"--epochs must be from 0 to {MAX_EPOCHS:,}, got {self.epochs:,}")
        if self.lr is not None and self.lr != "auto":
            check_real("--lr", self.lr, positive=True)
        if self.restarts is not None and self.restarts < 1:
            raise OptionError(f"--restarts must be at least 1, got {self.restarts}")
        check_seed("--seed", self.seed, self.restarts or 1)
        check_seed("--split-seed", self.split_seed)
        check_real("--l1", self.l1)
        if self.l2 is not None:
            check_real("--l2", self.l2)
        for value, parse in ((self.sep, parse_sep), (self.decimal, parse_decimal), (self.thousands, parse_thousands),
                             (self.encoding, parse_encoding)):
            if value is not None:
                parse(value)
        check_marks(self.sep, self.decimal, self.thousands)

    @property
    def gd_l2(self) -> float:
        """The gradient-descent sheets' L2: ``--l2`` as given, else 0 (a penalty chosen by data is the trained model's)."""
        return 0.0 if self.l2 is None else self.l2

    @property
    def plain_references(self) -> bool:
        """Whether the workbook's formulas use plain A1 references (see ``portable``), else structured ones."""
        return self.portable if self.portable is not None else bool(self.target or self.spec)

    @property
    def refits(self) -> bool:
        """Whether the chosen model is refit on every row (see ``refit``): only when there are validation rows to choose on."""
        asked = self.refit if self.refit is not None else bool(self.target or self.spec)
        return asked and self.valid_pct > 0

    def folds_for(self, n_rows: int, task: str) -> int:
        """The folds the model is chosen by on a table of ``n_rows`` rows whose target's task is ``task`` (see
        ``choose_folds``): as given, else :data:`CHOOSE_FOLDS` for a regression target on any table of at most
        :data:`CHOOSE_FOLDS_MAX_ROWS` rows; 1 (the validation split alone) for a class target by default, on
        Titanic's lesson runs and without validation rows."""
        if not (self.target or self.spec) or self.valid_pct == 0:
            return 1
        if self.choose_folds is not None:
            return self.choose_folds
        return CHOOSE_FOLDS if task == "regression" and n_rows <= CHOOSE_FOLDS_MAX_ROWS else 1

    def to_dict(self) -> dict:
        """Plain JSON-ready values (tuples become lists)."""
        out = asdict(self)
        out["models"] = list(self.models)
        return out

    def overrides(self, hidden: bool) -> dict[str, Any]:
        """The :class:`~titanic_lab.training.TrainSettings` fields this run sets (None keeps the model's default),
        for a model with (``hidden``) or without hidden layers."""
        return {o.setting: getattr(self, o.name) for o in OPTIONS.values()
                if o.setting and getattr(self, o.name) is not None and (hidden or not o.hidden_only)}

    def hidden_only_asked(self) -> list[str]:
        """The flags of the hidden-layer options this run gives a value other than their default."""
        return [o.flag for o in OPTIONS.values() if o.hidden_only and getattr(self, o.name) != o.default]


def _declared(cls: type) -> dict[str, Option]:
    """Each field's :class:`Option`, completed with the field's name and default (and type and flag when not given)."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in fields(cls):
        if "option" not in f.metadata:
            raise TypeError(f"{cls.__name__}.{f.name} declares no option: give it a default with _option(default, help, ...)")
        o = f.metadata["option"]
        out[f.name] = replace(o, name=f.name, default=f.default, cli_type=o.cli_type or hints[f.name],
                              flags=o.flags or (f"--{f.name.replace('_', '-')}",))
    return out


#: Every run option, by RunConfig field name: the one declaration the CLI and the overrides read.
OPTIONS: dict[str, Option] = _declared(RunConfig)
RunConfig.__doc__ = (RunConfig.__doc__ or "") + "\n    Parameters\n    ----------\n" + "".join(
    f"    {o.name} : {RunConfig.__annotations__[o.name]}\n        {o.help} Option ``{o.flag}``.\n" for o in OPTIONS.values())


def from_command_line(values: dict[str, Any]) -> dict[str, Any]:
    """RunConfig's keyword arguments from the command line's values of its options, each parsed as declared."""
    return {name: OPTIONS[name].from_cli(value) for name, value in values.items()}
