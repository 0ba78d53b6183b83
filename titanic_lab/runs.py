"""A training run from end to end: CSV -> data -> preprocessing -> tensors -> models.

The preprocessor is fitted on every row of the training file, as the lesson does (the
workbook's ``MAX(Age)`` and the notebook's maxima and modes cover all rows); the validation
split only decides which rows the models learn from.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from . import __version__, csv_dialect
from .config import DEFAULT_MODELS, SHEET_COLUMNS, SHEET_ROWS, RunConfig
from .cost import check_matrix, check_training, feature_count
from .datasets import registry
from .datasets.csv import check_control, line_of, read_table, show
from .datasets.infer import infer_spec, open_table
from .datasets.spec import DatasetSpec, check_headers, resolved
from .features.steps import Feature
from .errors import DataError, OptionError, TitanicLabError
from .finite import MAX_MAGNITUDE, check_features, check_target
from .limits import human, max_memory
from .backprop import Descent, descend, refusal
from .choosing import FOLDS, PAIRED_SE, choose, paired_standard_errors, row_losses, validation_metrics
from .models import ModelSpec, Params, forward, hidden_sizes, init_params, multiclass_model, parse_model
from .optim import OPTIMIZERS
from .penalty import choose_penalty
from .preprocessing import TabularPreprocessor, choose_logs
from .tasks import confusion
from .training import (DECAY_HOLDOUT, DTYPES, TABLE_TOL, LRFind, TrainResult, TrainSettings, choose_decay, default_settings, fit, lr_find,
                       exact_refusal,
                       refit_settings, refit_start, split_indices, table_choices, with_overrides)


#: A multiclass target's counterpart of a default model that cannot learn classes: the nnet sums its
#: units into one output; ``hidden`` (one ReLU layer, then a column per class) is the net that can.
MULTICLASS_COUNTERPARTS = {"nnet": "hidden"}
#: A binary table's defaults (``--target`` or ``--spec``; not Titanic's lesson runs), simplest first: logistic
#: regression (``sigmoid``, its penalty chosen by cross-validation) beside linear and the nnet.
BINARY_TABLE_MODELS = ("linear", "sigmoid", "nnet")


def default_models_for(models: tuple[str, ...], outputs: int, binary_table: bool = False) -> tuple[str, ...]:
    """The models to train: ``models`` as given, except that the defaults (linear and nnet) become
    linear and hidden for a multiclass target (``outputs`` > 1), so ``train --target`` with no
    ``--model`` works on any table, and linear, sigmoid and nnet for a binary table (``binary_table``).
    A model asked for by name is trained or refused as asked."""
    if outputs > 1 and models == DEFAULT_MODELS:
        return tuple(MULTICLASS_COUNTERPARTS.get(name, name) for name in models)
    if binary_table and models == DEFAULT_MODELS:
        return BINARY_TABLE_MODELS
    return models


def model_settings(config: RunConfig, outputs: int | None = None, n_features: int | None = None,
                   task: str | None = None) -> dict[str, tuple[ModelSpec, TrainSettings]]:
    """Each model of the run with its training settings (defaults, then the config's overrides).

    ``outputs`` is the number of classes of a multiclass target (each model then ends in a
    column per class and a softmax: :func:`multiclass_model`), else 1; None before the data is
    read, when a table's ``--loss ce`` stands for a multiclass target (checked once it is read).
    ``n_features``, once known, decides whether a table's nnet takes newton (:func:`table_choices`).
    ``task``, once known, gives a binary table its defaults (:func:`default_models_for`).
    """
    if outputs is None:
        outputs = 3 if config.loss == "ce" and (config.target or config.spec) else 1
    out: dict[str, tuple[ModelSpec, TrainSettings]] = {}
    given: dict[str, str] = {}
    for name in default_models_for(config.models, outputs, task == "binary" and bool(config.target or config.spec)):
        spec = multiclass_model(parse_model(name, config.activation, config.batchnorm), outputs)
        if spec.name in given:
            raise OptionError(f"--model {given[spec.name]} and --model {name} are the same model ({spec.name}); give it once")
        given[spec.name] = name
        overrides = config.overrides(spec.has_hidden)  # optimizer and loss choose the defaults (and the rate)
        optimizer, loss = overrides.pop("optimizer", None), overrides.pop("loss", None)
        if config.target or config.spec:  # any table: its own defaults (see table_choices)
            asked_optimizer = optimizer
            optimizer, loss = table_choices(spec, optimizer, loss, config.l1, config.batch_size, config.accumulate, config.dropout,
                                            n_features)
            if asked_optimizer is None and optimizer == "lbfgs" and overrides.get("lr") is not None:
                optimizer = "adam"  # a learning rate asked for is Adam's: lbfgs's line-searched step has none to scale
        defaults = default_settings(spec, optimizer, loss)
        settings = with_overrides(defaults, **overrides)
        if (config.target or config.spec) and spec.has_hidden:
            settings = replace(settings, tol=TABLE_TOL)
        if OPTIMIZERS[settings.optimizer].exact:  # refused before any data is read
            why = exact_refusal(settings.optimizer, spec, settings.loss, settings.l1, settings.batch_size, settings.accumulate,
                                settings.dropout)
            if why or settings.lr == "auto":
                raise OptionError(f"--optimizer {settings.optimizer}: {why}" if why else
                                  f"{settings.optimizer}'s step needs no learning rate to be found: at lr 1 it is exact; leave --lr out")
        out[spec.name] = (spec, settings)
    asked = config.hidden_only_asked()
    if asked and not any(spec.has_hidden for spec, _ in out.values()):
        raise OptionError(f"{', '.join(asked)}: only for hidden layers, and none of the models ({', '.join(out)}) has one")
    for flag, asked in (("--backprop-sheet", config.backprop_sheet), ("--gd-sheet", config.gd_sheet)):
        for spec, settings in out.values() if asked else ():
            why = refusal(spec, settings.loss)
            if why:
                raise OptionError(f"{flag} with --model {spec.name}: {why}")
    if config.gd_sheet:
        _check_gd_sheet(config, [spec for spec, _ in out.values()])
    return out


def _check_gd_sheet(config: RunConfig, specs: list[ModelSpec]) -> None:
    """Refuse gradient descent sheets larger than a sheet: a table of a row per epoch (and seven more) per model,
    two to four columns per parameter; a pass's columns per epoch on each gd-<model> sheet."""
    rows = 4 + len(specs) * (config.gd_epochs + 7)
    if rows > SHEET_ROWS:
        most = (SHEET_ROWS - 4) // len(specs) - 7
        raise OptionError(f"--gd-epochs {config.gd_epochs:,}: the gradient descent sheet would need {rows:,} rows, more than "
                          f"a sheet's {SHEET_ROWS:,}; use at most {most:,} with {len(specs)} model(s)")
    n_features = len(registry.named(config.dataset).spec(config.preset).features.feature_names or ())
    states = {"sgd": 0, "momentum": 1, "adam": 2}[config.gd_optimizer]
    for spec in specs:
        widths = [n_features, *hidden_sizes(spec), 1]
        n_params = sum(a * b + 1 for a, b in zip(widths, widths[1:]))
        columns = max(3 + (2 + states) * n_params, 1 + n_features + (config.gd_epochs + 1) * (3 * sum(widths[1:]) + 3))
        if columns > SHEET_COLUMNS:
            raise OptionError(f"--gd-sheet with --model {spec.name}: its sheets would need {columns:,} columns, more than a "
                              f"sheet's {SHEET_COLUMNS:,}; use fewer units or --gd-epochs")


def training_bytes(spec: ModelSpec, settings: TrainSettings, n_rows: int, n_features: int) -> int:
    """An estimate of the memory :func:`~titanic_lab.training.fit` allocates for one model.

    Parameters (each with its gradient, the optimizer's two moments and a step) and, per
    batch, each layer's outputs for every restart kept for the backward pass (about three
    copies: the product, the activation and their gradients). Within a factor of 2 of the
    peak measured at 2,000,000 rows (benchmarks/notes.md).
    """
    width = 8 if settings.dtype == "float64" else 4
    sizes = (n_features, *hidden_sizes(spec), 1)
    params = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    rows = min(n_rows, settings.batch_size or n_rows) * settings.accumulate
    activations = rows * (sum(sizes[1:]) + 1)
    return settings.restarts * width * (6 * params + 3 * activations)


def check_memory(spec: ModelSpec, settings: TrainSettings, n_rows: int, n_features: int) -> None:
    """Refuse, before training, a model whose estimated memory exceeds :func:`titanic_lab.limits.max_memory`."""
    need, limit = training_bytes(spec, settings, n_rows, n_features), max_memory()
    if need > limit:
        raise OptionError(
            f"--model {spec.name}: training would need about {human(need)} ({n_rows:,} rows x {n_features} features, "
            f"{settings.restarts} restart(s), layer sizes {', '.join(map(str, hidden_sizes(spec))) or 'none'}, "
            f"{settings.dtype}), more than the limit of {human(limit)}; use fewer rows (--sample), units or --restarts, "
            "or raise the limit with TITANIC_LAB_MAX_MEMORY (e.g. 64G)"
        )


def load_rows(config: RunConfig) -> tuple[Path, pd.DataFrame, pd.DataFrame, int, DatasetSpec]:
    """Read the run's training data; return its path, every row kept, the rows the run uses, how
    many rows ``config.exclude_from`` removed, and the table's description.

    Without ``config.target`` or ``config.spec`` the data is the default built-in dataset's
    (Titanic: its reader, the preset's features); otherwise any CSV, its features inferred or
    read from the spec. Every CSV is read in ``config``'s dialect (:mod:`titanic_lab.csv_dialect`;
    None: detected).
    """
    with csv_dialect.reading(config.sep, config.decimal, config.encoding, thousands=config.thousands):
        return _load_rows(config)


def data_path(config: RunConfig) -> Path:
    """The training CSV a run reads: ``--data``, else the built-in dataset's (``--dataset``, else the default's)."""
    return Path(config.data) if config.data else registry.named(config.dataset).default_path()


def describe_data(config: RunConfig, path: Path) -> str:
    """How a ``data: ...`` line names ``path``: in the built-in dataset's words (a table's path as given)."""
    return registry.named(config.dataset).describe_source(path)


def _load_rows(config: RunConfig) -> tuple[Path, pd.DataFrame, pd.DataFrame, int, DatasetSpec]:
    known = None if (config.target or config.spec) else registry.named(config.dataset)
    path = data_path(config)
    if known is not None:
        source = known.read(path, require_target=True)
        dataset = known.spec(config.preset)
    else:
        source, dataset = open_table(path, config.target, config.id_column, config.spec, task=config.task)
    excluded = 0
    if config.exclude_from is not None:
        if known is not None and known.same_rows is not None:
            overlap = known.same_rows(source, known.read(config.exclude_from, require_target=False))
            source, excluded = source[~overlap], int(overlap.sum())
        else:
            source, excluded = _drop_ids(source, dataset, config.exclude_from)
        if source.empty:
            raise DataError(path, f"every row is a passenger of {config.exclude_from}; nothing is left to train on")
    preset = dataset.features
    complete = config.complete_rows if config.complete_rows is not None else bool(preset.complete_rows)
    if not complete:
        used = source
    elif known is not None and known.select_rows is not None:
        try:
            used = known.select_rows(source, preset.name)
        except TitanicLabError as exc:
            raise DataError(path, str(exc)) from None
    else:
        used = source.dropna(subset=list(dataset.raw_columns))
        if used.empty:
            raise DataError(path, "no row has a value in every column the features read; keep every row (--all-rows)")
    if config.sample is not None and config.sample < len(used):
        used = used.sample(n=config.sample, random_state=config.split_seed).sort_index()
    return path, source, used, excluded, dataset  # each row labelled by its place in the file (file_rows), for messages


def _drop_ids(source: pd.DataFrame, dataset: DatasetSpec, other: str) -> tuple[pd.DataFrame, int]:
    """``source`` without the rows whose id ``other`` holds (any CSV: by the id column)."""
    if dataset.id_column is None:
        raise OptionError("--exclude-from compares rows by their id: give the id column with --id")
    ids = read_table(other, None, dataset.id_column, require_target=False)[dataset.id_column]
    overlap = source[dataset.id_column].isin(set(ids)).to_numpy()
    return source[~overlap], int(overlap.sum())


@dataclass
class Prepared:
    """A run's data, ready for the models: rows, fitted preprocessing, tensors and split."""

    config: RunConfig
    data_path: Path
    source: pd.DataFrame
    frame: pd.DataFrame
    preprocessor: TabularPreprocessor
    features: pd.DataFrame
    X: torch.Tensor  # (n_rows, n_features)
    y: torch.Tensor  # (n_rows,): the target as learned, (target - min) / scale
    train_idx: torch.Tensor
    valid_idx: torch.Tensor
    excluded: int = 0
    #: The table's description as the run used it: levels pinned, the target's scale learned.
    dataset: DatasetSpec = field(default_factory=lambda: registry.default().default_spec())
    #: Each model with its training settings (:func:`model_settings` for the target's outputs), computed once.
    models: dict[str, tuple[ModelSpec, TrainSettings]] = field(default_factory=dict)


@dataclass
class GDPath:
    """Full-batch gradient descent of one model, as the ``gradient descent`` sheet writes it.

    From the model's seeded start (``config.seed``), over every row of the run in float64,
    ``config.gd_epochs`` epochs of ``config.gd_optimizer`` at ``config.gd_lr`` on the model's
    loss, with the run's L2 and L1. Entry ``e`` of each list is epoch ``e``: 0 is the start.

    Attributes
    ----------
    sheet : titanic_lab.backprop.Descent
        The path as the sheet's formulas compute it (the chain rule by hand, every pass kept).
    torch_losses : list of float
        The loss at each epoch's parameters when :func:`~titanic_lab.training.fit`, the
        hand-written optimizers on ``loss.backward()``'s gradients, trains from the same start.
    torch_params : list of dict
        Its parameters at each epoch.
    optimizer, loss : str
    """

    sheet: Descent
    torch_losses: list[float]
    torch_params: list[Params]
    optimizer: str
    loss: str


def gd_path(spec: ModelSpec, X: torch.Tensor, y: torch.Tensor, config: RunConfig, loss: str) -> GDPath:
    """Train ``spec`` by full-batch gradient descent and keep every epoch (see :class:`GDPath`).

    Parameters
    ----------
    X : Tensor, shape (n_rows, n_features), float64
    y : Tensor, shape (n_rows,), float64
    """
    start = init_params(spec, X.shape[1], torch.Generator().manual_seed(config.seed), X.dtype)
    c = config
    sheet = descend(spec, start, X, y, loss=loss, optimizer=c.gd_optimizer, lr=c.gd_lr, epochs=c.gd_epochs, l1=c.l1, l2=c.gd_l2)
    path = [{k: v.clone() for k, v in start.items()}]
    settings = TrainSettings(epochs=c.gd_epochs, lr=c.gd_lr, optimizer=c.gd_optimizer, loss=loss, l1=c.l1, l2=c.gd_l2)
    torch_run = fit(spec, settings, X, y, init=start,
                    on_epoch=lambda epoch, p: path.append({k: v[0].detach().clone() for k, v in p.items()}))
    losses = [h["train_loss"] for h in torch_run.history] + [torch_run.train_loss]
    return GDPath(sheet, losses, path, c.gd_optimizer, loss)


@dataclass
class Run(Prepared):
    """A finished run: its prepared data (see :class:`Prepared`) and what each model learned.

    Attributes
    ----------
    source : pandas.DataFrame
        Every row of the data file, as read.
    frame : pandas.DataFrame
        The raw rows used (after complete-row selection), in file order.
    features : pandas.DataFrame
        Their design matrix, (n_rows, n_features), columns named like the sheet headers.
    train_idx, valid_idx : Tensor of int
        Positions in ``frame`` of the training and validation rows.
    results : dict of str to TrainResult
        Per model name.
    gd_paths : dict of str to GDPath
        With ``config.gd_sheet``: the gradient-descent path of each model, per model name.
    """

    results: dict[str, TrainResult] = field(default_factory=dict)
    gd_paths: dict[str, GDPath] = field(default_factory=dict)
    #: The model with the best validation metric (:func:`titanic_lab.choosing.choose`) and why; None
    #: without validation rows.
    chosen: str | None = None
    chosen_why: str | None = None
    #: The chosen model's scores before it was refit on every row (``config.refits``), as :meth:`scores` gives them.
    refit_valid_scores: dict = field(default_factory=dict)
    #: Multiclass: the chosen model's validation confusion matrix before it was refit (None otherwise).
    refit_valid_confusion: np.ndarray | None = None
    #: How many folds the models' validation metrics (``TrainResult.validation``) and the choice are of
    #: (:func:`choice_folds`): 1, the validation rows alone; more, every row, each from a fit without it.
    choice_folds: int = 1

    @property
    def target(self) -> np.ndarray:
        """The target as the model learns it, (n_rows,): 0/1, or (target - min) / scale for regression."""
        return self.dataset.target.learned(self.target_values)

    @property
    def target_values(self) -> np.ndarray:
        """The target as the sheet's target column holds it, (n_rows,): 0/1, or in the target's units."""
        return self.dataset.target.values(self.frame[self.dataset.target.column])

    def scores(self, name: str) -> dict[str, float | None]:
        """Model ``name``'s training and validation scores: accuracy, or RMSE and R^2 in the target's units.

        A model refit on every row is scored on every row as ``train_*``; its ``valid_*`` are those of
        the fit that did not see the validation rows (the estimate it was chosen by).
        """
        result = self.results[name]
        if not result.refit:
            return _scores(self, result)
        outputs, target = _outputs(self, result), self.dataset.target
        trained = {f"train_{k}": v for k, v in target.scores(outputs, self.target).items()}
        return {**trained, **{k: v for k, v in self.refit_valid_scores.items() if k.startswith("valid_")}}

    def confusion(self, name: str) -> tuple[str, np.ndarray]:
        """Multiclass: model ``name``'s confusion matrix (true class x likeliest class) on the validation
        rows, or on the training rows when there are none; which rows, and the matrix. A model refit on
        every row has seen the validation rows: its matrix is the one from before the refit."""
        if self.results[name].refit:
            return "validation", self.refit_valid_confusion
        return _confusion(self, self.results[name])

    def _classes(self, name: str) -> dict:
        """Multiclass: the classes and model ``name``'s confusion matrix, for the summary; else nothing."""
        if not self.dataset.target.record.per_class:
            return {}
        which, matrix = self.confusion(name)
        return {"classes": list(self.dataset.target.labels), "confusion": {"rows": which, "matrix": matrix.tolist()}}

    def summary(self) -> dict:
        """A JSON-ready summary (the CLI's ``--json``)."""
        return {
            "version": __version__,
            "data": str(self.data_path),
            "target": self.dataset.target.column,
            "task": self.dataset.target.task,
            "preset": self.preprocessor.preset_.name,
            "rows": len(self.frame),
            "train_rows": len(self.train_idx),
            "valid_rows": len(self.valid_idx),
            "excluded_rows": self.excluded,
            "features": list(self.features.columns),
            "config": self.config.to_dict(),
            "chosen": self.chosen,
            "chosen_by": self.chosen_why,
            "refit": self.chosen is not None and self.results[self.chosen].refit,
            "models": {name: {**r.summary(), **self.scores(name), **self._classes(name)} for name, r in self.results.items()},
        }


def check_logged(steps: Sequence[Feature], frame: pd.DataFrame, path: object) -> None:
    """Refuse a negative value in a column a log step reads (``LOG10(x+1)``): the preprocessing counts it as 0,
    the sheet's formula cannot (no logarithm below -1, another value between -1 and 0), and verify would fail."""
    for feat in steps:
        if feat.kind not in ("log", "per_ticket") or feat.column not in frame.columns:
            continue
        values = pd.to_numeric(frame[feat.column], errors="coerce")
        negative = values < 0
        if negative.any():
            first = negative.idxmax()
            raise DataError(path, f"column {feat.column} has value {values[first]:g} on line {line_of(frame, first)}; "
                                  f"its feature {feat.output_name} is a log of the value + 1, which needs values of 0 or "
                                  'more: make it a number feature (kind = "number" in a spec)')


def prepare(config: RunConfig) -> Prepared:
    """Validate the options, read the data, fit the preprocessing, build tensors and the split."""
    model_settings(config)  # validates every option before any work
    path, source, frame, excluded, dataset = load_rows(config)
    target = dataset.target
    width = feature_count(dataset.features.features, frame)  # the memory and the work, bounded before any work
    # The models a multiclass target can have (and their sheets); the width decides whether a table's nnet takes newton.
    models = model_settings(config, target.n_outputs, width, target.task)
    if not target.record.classifies and any(spec.has_sigmoid for spec, _ in models.values()):
        raise OptionError(f"target {target.column} is a regression target: models with a sigmoid output (sigmoid, hidden, "
                          "deep) predict between 0 and 1 only; train linear or nnet")
    never_negative = [s.name for s, _ in models.values() if s.model_kind.output == "sum" and s.activation == "relu"]
    if not target.record.classifies and never_negative and (target.values(frame[target.column]) < 0).any():
        warnings.warn(f"target {target.column} has negative values, and {', '.join(never_negative)} predicts a sum of ReLUs, "
                      "never negative; linear can reach them", UserWarning, stacklevel=2)
    n_train = len(frame) - int(config.valid_pct * len(frame))
    for spec, settings in models.values():
        check_memory(spec, settings, n_train, width)
    check_training(models.values(), n_train, width)
    train_idx, valid_idx = split_indices(len(frame), config.valid_pct, config.split_seed)
    known = registry.builtin(dataset)
    seen = ~np.isin(np.arange(len(frame)), valid_idx.numpy())  # the rows whose answers a target-led choice may see
    if known is None and config.spec is None and len(valid_idx):
        # Inferred again with the validation rows' answers hidden: the one target-led choice (a skewed column's
        # log) then sees the training rows only, as each leaderboard fold does.
        hidden = frame.assign(**{target.column: frame[target.column].where(seen)})
        steps = infer_spec(hidden, target.column, dataset.id_column, name=dataset.name, where=path, known=target).features
        dataset = replace(dataset, features=steps)
    if known is None and config.spec is None and not target.record.per_class:  # a number the linear model fits
        answers = pd.Series(target.values(frame[target.column]), index=frame.index).where(seen)
        dataset = replace(dataset, features=choose_logs(dataset.features, frame, answers))
    check_control(frame, [target.column, *dataset.raw_columns], path)
    try:
        pre = TabularPreprocessor(dataset.features, target.column).fit(frame)
        check_matrix(len(frame), len(pre.feature_names_out_), path)
        features = pre.transform(frame)
    except TitanicLabError as exc:  # a value a feature cannot read: named with the file
        if isinstance(exc, (DataError, OptionError)):
            raise
        raise DataError(path, str(exc)) from None
    check_logged(dataset.features.features, frame, path)
    check_features(features, path)
    if known is None:
        check_headers([target.column, *dataset.raw_columns, *features.columns], path)
    learned = target.learn_scale(frame[target.column])
    if learned.scale is not None and learned.scale < 1 / MAX_MAGNITUDE:  # its workbook's spec could not be read back
        raise DataError(path, f"target {target.column} varies by only {learned.scale:.3g} (the root mean square above its "
                              f"smallest value), less than the {1 / MAX_MAGNITUDE:g} a workbook records; multiply it by a "
                              "power of ten")
    dataset = resolved(dataset, pre.levels_, learned)
    y_values = dataset.target.values(frame[target.column])
    if np.isnan(y_values).any():
        first = int(np.isnan(y_values).argmax())
        raise DataError(path, f"target {target.column} has value {show(frame[target.column].iloc[first])} on line "
                              f"{line_of(frame, frame.index[first])}, which is not one of its {target.describe().split(': ', 1)[1]} values")
    dtype = DTYPES[config.dtype]
    X = torch.tensor(features.to_numpy(), dtype=dtype)
    check_target(dataset.target.learned(y_values), target.column, dataset.target.divisor, path, y_values, dataset.target.shift)
    y = torch.tensor(dataset.target.learned(y_values), dtype=dtype)
    # The rows were labelled by their places in the file, for the messages above; the run numbers them 0, 1, 2...
    frame, features = frame.reset_index(drop=True), features.reset_index(drop=True)
    return Prepared(config, path, source, frame, pre, features, X, y, train_idx, valid_idx, excluded, dataset, models)


def find_learning_rate(prepared: Prepared) -> tuple[ModelSpec, TrainSettings, LRFind, str]:
    """``titanic-lab lr-find``: the learning-rate finder (:func:`~titanic_lab.training.lr_find`) on the
    training rows of a run of one model; its spec, the settings searched, the finding, and a note
    (``""``, or why the rate found is Adam's: a model trained by an exact step has none to find)."""
    ((spec, settings),) = prepared.models.values()
    note = ""
    if OPTIMIZERS[settings.optimizer].exact and prepared.config.optimizer is None:
        # a model's own exact optimizer on any table needs no rate; find Adam's, the rate --optimizer adam would take
        note = f"{spec.name} trains with {settings.optimizer} on this table (no learning rate to find); showing Adam's"
        settings = default_settings(spec, "adam", settings.loss)
    return spec, settings, lr_find(spec, settings, prepared.X[prepared.train_idx], prepared.y[prepared.train_idx]), note


def train_run(
    config: RunConfig | Prepared,
    *,
    init: dict[str, dict[str, torch.Tensor]] | None = None,
    on_epoch: Callable[[str, int], None] | None = None,
) -> Run:
    """Train every model of a run.

    Parameters
    ----------
    config : RunConfig or Prepared
        What to run; a :class:`Prepared` skips reading the data again.
    init : dict, optional
        Starting parameters per model name (instead of random starts).
    on_epoch : callable, optional
        Called as ``on_epoch(model_name, epoch)`` after every epoch.
    """
    p = config if isinstance(config, Prepared) else prepare(config)
    results, classify, task = {}, p.dataset.target.record.classifies, p.dataset.target.task
    for name, (spec, settings) in p.models.items():
        callback = (lambda epoch, params, name=name: on_epoch(name, epoch)) if on_epoch else None
        results[name] = _train_model(p, spec, settings, p.train_idx, p.valid_idx, init=(init or {}).get(name), on_epoch=callback)
    folds = choice_folds(p) if len(results) > 1 else [(p.train_idx, p.valid_idx)]
    # Each row's outputs from the model trained without it: the validation rows' alone, or (folds) every row's.
    outputs = _out_of_fold(p, results, folds)
    scored = folds[0][1] if len(folds) == 1 else torch.arange(len(p.frame))
    y, divisor = p.y.to(torch.float64).numpy()[scored.numpy()], p.dataset.target.divisor
    for name, result in results.items():
        result.validation = validation_metrics(task, outputs[name], y, divisor)
        if len(folds) > 1:
            result.validation[FOLDS] = len(folds)
    if (p.config.target or p.config.spec) and len(p.valid_idx) and results:  # any table: the one-standard-error rule
        losses = {name: row_losses(task, outputs[name], y, divisor) for name in results}
        for name, se in paired_standard_errors(task, losses).items():
            results[name].validation[PAIRED_SE] = se
    chosen = why = None
    if len(p.valid_idx) and len(results):
        chosen, why = choose(task, {name: r.validation for name, r in results.items()})
    valid_scores, valid_confusion = {}, None
    if chosen is not None and p.config.refits:  # the chosen settings again, on every row
        before = results[chosen]
        callback = (lambda epoch, params: on_epoch(chosen, epoch)) if on_epoch else None
        valid_scores = _scores(p, before)
        valid_confusion = _confusion(p, before)[1] if p.dataset.target.n_outputs > 1 else None
        results[chosen] = fit(before.spec, refit_settings(before), p.X, p.y, init=(init or {}).get(chosen, refit_start(before)),
                              on_epoch=callback, classify=classify)  # the restart kept's start (lbfgs: its end), or the parameters given
        results[chosen].validation, results[chosen].refit, results[chosen].penalty = before.validation, True, before.penalty
        results[chosen].seconds += before.seconds
    gd_paths = {}
    if p.config.gd_sheet:  # every row, float64: the data and precision of the workbook's formulas
        # The sheets' features and target in float64, not a float32 run's rounded X and y.
        target = p.dataset.target
        X = torch.tensor(p.features.to_numpy(), dtype=torch.float64)
        y = torch.tensor(target.learned(target.values(p.frame[target.column])), dtype=torch.float64)
        gd_paths = {name: gd_path(r.spec, X, y, p.config, r.settings.loss) for name, r in results.items()}
    return Run(**{f.name: getattr(p, f.name) for f in fields(Prepared)}, results=results, gd_paths=gd_paths,
               chosen=chosen, chosen_why=why, refit_valid_scores=valid_scores, refit_valid_confusion=valid_confusion,
               choice_folds=len(folds))


def _train_model(p: Prepared, spec: ModelSpec, settings: TrainSettings, train_idx: torch.Tensor, valid_idx: torch.Tensor,
                 *, init: Params | None = None, on_epoch: Callable[[int, Params], None] | None = None) -> TrainResult:
    """``spec`` trained as ``train`` trains it on the rows ``train_idx`` (``valid_idx`` evaluated each epoch): its l2
    chosen by data on those rows (:func:`penalised`), and the nnet's weight decay on rows held out of them."""
    X_train, y_train, X_valid, y_valid = p.X[train_idx], p.y[train_idx], p.X[valid_idx], p.y[valid_idx]
    settings, penalty = penalised(p.config, spec, settings, X_train, y_train)
    result = fit(spec, settings, X_train, y_train, X_valid, y_valid, init=init, on_epoch=on_epoch,
                 classify=p.dataset.target.record.classifies)
    result.penalty = penalty
    if _decay_by_data(p, spec, settings):
        result = choose_decay(result, X_train, y_train, X_valid, y_valid, lambda r, X, y: _metrics_on(p, r, X, y),
                              p.dataset.target.task)
    return result


def choice_folds(p: Prepared) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The (training rows, validation rows) the models are chosen on: the run's split first, then
    (``config.folds_for``: a small table's regression target) its training rows cut into folds of about the same size, in the
    split's own random order, so that every row is held out once."""
    k = p.config.folds_for(len(p.frame), p.dataset.target.task)
    folds = [(p.train_idx, p.valid_idx)]
    if k > 1 and len(p.valid_idx):
        every = torch.cat([p.valid_idx, p.train_idx])  # the split's random order
        for held in np.array_split(p.train_idx.numpy(), k - 1):
            held = torch.as_tensor(held)
            if len(held):
                folds.append((every[~torch.isin(every, held)], held))
    return folds


def _out_of_fold(p: Prepared, results: dict[str, TrainResult], folds: list) -> dict[str, np.ndarray]:
    """Each model's outputs on the rows the first fold holds out (``results``, trained without them), or with
    several folds on every row: each further fold's rows from the model trained again without them with the
    settings its first fit ended with (:func:`~titanic_lab.training.refit_settings`: its l2 or weight decay,
    early stopping's epoch), from the seeded start of the restart it kept: never from parameters that saw the
    fold (``--init-from``'s, or lbfgs's learned ones, where the refit on every row starts)."""
    out, classify = {}, p.dataset.target.record.classifies
    for name, result in results.items():
        outputs = _outputs(p, result)
        for train_idx, valid_idx in folds[1:]:
            fold = fit(result.spec, refit_settings(result), p.X[train_idx], p.y[train_idx], classify=classify)
            outputs[valid_idx.numpy()] = _outputs(p, fold)[valid_idx.numpy()]
        out[name] = outputs if len(folds) > 1 else outputs[folds[0][1].numpy()]
    return out


def _confusion(p: Prepared, result: TrainResult) -> tuple[str, np.ndarray]:
    """``result``'s confusion matrix on ``p``'s validation rows (its training rows when there are none)."""
    rows, which = (p.valid_idx, "validation") if len(p.valid_idx) else (p.train_idx, "training")
    with torch.no_grad():
        params = {k: v.to(torch.float64) for k, v in result.params.items()}
        outputs = forward(result.spec, params, p.X[rows].to(torch.float64)).numpy()
    target = p.dataset.target
    return which, confusion(outputs, target.learned(target.values(p.frame[target.column])[rows.numpy()]), target.n_outputs)


def _decay_by_data(p: Prepared, spec: ModelSpec, settings: TrainSettings) -> bool:
    """Whether the nnet's weight decay is chosen on rows held out of the training rows
    (:func:`titanic_lab.training.choose_decay`): on any table with validation rows, no ``--l2`` given,
    a model with hidden layers trained by newton or lbfgs (their fast paths)."""
    return bool(p.config.target or p.config.spec) and p.config.l2 is None and len(p.valid_idx) > 0 \
        and settings.optimizer in ("newton", "lbfgs") and spec.has_hidden \
        and int(DECAY_HOLDOUT * len(p.train_idx)) > 0  # a row to hold out of the training rows (a tiny table has none)



def penalised(config: RunConfig, spec: ModelSpec, settings: TrainSettings, X: torch.Tensor,
              y: torch.Tensor) -> tuple[TrainSettings, str]:
    """The settings ``spec`` trains with on the training rows ``X``, ``y``, and how its l2 was chosen ("" when not).

    On any table (``--target`` or ``--spec``) with no ``--l2`` given, the l2 is chosen by data
    (:func:`titanic_lab.penalty.choose_penalty`: ridge's for linear's squared error, logistic regression's
    for a sigmoid's or a softmax's log loss); Titanic's lesson runs keep their recipe. ``train`` and each
    leaderboard fold both call this.
    """
    choice = choose_penalty(spec, settings, X, y) if bool(config.target or config.spec) and config.l2 is None else None
    return (settings, "") if choice is None else (replace(settings, l2=choice.l2), choice.describe())


def _outputs(p: Prepared, result: TrainResult) -> np.ndarray:
    """A model's outputs on every row of the run, (n_rows,), in float64."""
    with torch.no_grad():
        params = {k: v.to(torch.float64) for k, v in result.params.items()}
        return forward(result.spec, params, p.X.to(torch.float64)).numpy()


def _metrics_on(p: Prepared, result: TrainResult, X: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """The task's metrics (:mod:`titanic_lab.choosing`) of ``result`` on the rows ``X, y``."""
    with torch.no_grad():
        params = {k: v.to(torch.float64) for k, v in result.params.items()}
        outputs = forward(result.spec, params, X.to(torch.float64)).numpy()
    return validation_metrics(p.dataset.target.task, outputs, y.to(torch.float64).numpy(), p.dataset.target.divisor)


def _scores(p: Prepared, result: TrainResult) -> dict[str, float | None]:
    """``result``'s scores (accuracy, or RMSE and R^2) on the training and the validation rows, as ``train_*`` and ``valid_*``."""
    outputs, target = _outputs(p, result), p.dataset.target
    y = target.learned(target.values(p.frame[target.column]))
    out = {}
    for part, idx in (("train", p.train_idx.numpy()), ("valid", p.valid_idx.numpy())):
        out.update({f"{part}_{k}": v for k, v in target.scores(outputs[idx], y[idx]).items()})
    return out
