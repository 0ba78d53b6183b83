"""One dataclass describes a run; the CLI maps its flags onto it one to one."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .errors import OptionError

DEFAULT_MODELS = ("linear", "nnet")
#: The largest seed torch's generators take as a signed 64-bit number.
SEED_MAX = 2**63 - 1
#: The most epochs a run trains (the history sheet keeps one row per epoch).
MAX_EPOCHS = 1_000_000
#: Rows of one Excel sheet: the gradient descent sheet's epochs must fit in it.
SHEET_ROWS = 1_048_576
SHEET_COLUMNS = 16_384


def check_seed(option: str, seed: int, span: int = 1, upper: int = SEED_MAX) -> None:
    """Refuse a seed outside ``[0, upper]`` (with ``span`` consecutive seeds used from it)."""
    if not 0 <= seed <= upper - (span - 1):
        top = upper - (span - 1)
        raise OptionError(f"{option} must be a whole number from 0 to {top}, got {seed}")


def check_real(option: str, value: float, *, positive: bool = False) -> None:
    """Refuse a NaN or infinite value, and a negative one (or 0 when ``positive``), naming the option."""
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

    Parameters
    ----------
    data : str or None
        The training CSV; None means :func:`titanic_lab.data.default_data_path`.
    preset : str
        Titanic's feature preset (``spreadsheet``, ``notebook``, ``extended``, ``groups``).
    models : tuple of str
        Model names (``linear``, ``nnet``, ``sigmoid``, ``hidden``, ``deep``, with sizes).
    epochs, lr, optimizer, loss, restarts : optional
        Overrides of each model's defaults (see ``titanic_lab.training.default_settings``).
    seed : int
        Seed of the initial parameters (442, the notebook's).
    split_seed : int
        Seed of the validation split (42, fastai's ``RandomSplitter`` default in the notebook).
    valid_pct : float
        Share of rows held out for validation; 0 trains on every row.
    complete_rows : bool or None
        Keep only rows with the preset's complete-row columns (the lesson's 712 rows);
        None: the preset's own default (yes for ``spreadsheet``, no for ``notebook``).
    dtype : str
        ``float64`` (default, so code and spreadsheet agree to 1e-9) or ``float32``.
    activation : str
        Hidden-layer activation: ``relu`` (the lesson's), ``leaky_relu``, ``elu``, ``tanh``, ``sigmoid``.
    batchnorm : bool
        Batch normalization before each hidden activation.
    batch_size, accumulate, l1, l2, dropout, patience : optional
        Training options (see ``titanic_lab.training.TrainSettings``).
    gd_sheet : bool
        Add the ``gradient descent`` sheet: full-batch gradient descent written in formulas
        for the ``linear`` and ``nnet`` models, from their seeded starting parameters.
    gd_epochs, gd_lr : int, float
        That sheet's epochs and (editable) learning rate.
    sample : int or None
        Use a seeded random sample of this many rows (in file order), e.g. to fit a table
        larger than a spreadsheet into a workbook.
    exclude_from : str or None
        A CSV of passengers to be predicted (Kaggle's test.csv): they are dropped from the
        training data (see :func:`titanic_lab.data.same_passengers`), so the model never
        trains on the answers.
    portable : bool
        Write plain A1 references (``$E4``) instead of structured table references
        (``Data[[#This Row],[Age]]``), so that Gnumeric and Google Sheets compute the workbook.
    target : str or None
        The column to learn in any CSV: its features are inferred from the other columns
        (see :func:`titanic_lab.dataset.infer_spec`). None: Titanic's ``Survived``, with ``preset``.
    id_column : str or None
        With ``target`` or ``spec``: the column naming each row (predictions are written with it).
    spec : str or None
        A spec file (TOML, as ``--spec-out`` writes) giving the target and the feature steps.
    """

    data: str | None = None
    preset: str = "spreadsheet"
    models: tuple[str, ...] = DEFAULT_MODELS
    epochs: int | None = None
    lr: float | str | None = None
    optimizer: str | None = None
    loss: str | None = None
    restarts: int | None = None
    seed: int = 442
    split_seed: int = 42
    valid_pct: float = 0.2
    complete_rows: bool | None = None
    dtype: str = "float64"
    activation: str = "relu"
    batchnorm: bool = False
    batch_size: int | None = None
    accumulate: int = 1
    l1: float = 0.0
    l2: float = 0.0
    dropout: float = 0.0
    patience: int | None = None
    gd_sheet: bool = False
    gd_epochs: int = 30
    gd_lr: float = 0.1
    sample: int | None = None
    exclude_from: str | None = None
    portable: bool = False
    target: str | None = None
    id_column: str | None = None
    spec: str | None = None

    def __post_init__(self) -> None:
        if (self.target or self.spec) and self.preset != "spreadsheet":
            raise OptionError("--preset chooses Titanic's features; with --target or --spec the features are inferred "
                              "from the file or read from the spec (edit one written by --spec-out)")
        if self.id_column is not None and not (self.target or self.spec):
            raise OptionError("--id names the id column of a table given with --target (Titanic's is PassengerId)")
        if not self.models:
            raise OptionError("at least one model is needed (--model)")
        if len(set(self.models)) != len(self.models):
            raise OptionError(f"a model is named twice: {', '.join(self.models)}")
        if not 0 <= self.valid_pct < 1:
            raise OptionError(f"--valid-pct must be in [0, 1), got {self.valid_pct}")
        if self.sample is not None and self.sample < 1:
            raise OptionError(f"--sample must be at least 1, got {self.sample}")
        if not 1 <= self.gd_epochs < SHEET_ROWS:
            raise OptionError(f"--gd-epochs must be from 1 to {SHEET_ROWS - 1} (one sheet row each), got {self.gd_epochs}")
        check_real("--gd-lr", self.gd_lr, positive=True)
        if self.epochs is not None and not 0 <= self.epochs <= MAX_EPOCHS:
            raise OptionError(f"--epochs must be from 0 to {MAX_EPOCHS:,}, got {self.epochs:,}")
        if self.lr is not None and self.lr != "auto":
            check_real("--lr", self.lr, positive=True)
        if self.restarts is not None and self.restarts < 1:
            raise OptionError(f"--restarts must be at least 1, got {self.restarts}")
        check_seed("--seed", self.seed, self.restarts or 1)
        check_seed("--split-seed", self.split_seed)
        check_real("--l1", self.l1)
        check_real("--l2", self.l2)

    def to_dict(self) -> dict:
        """Plain JSON-ready values (tuples become lists)."""
        out = asdict(self)
        out["models"] = list(self.models)
        return out
