"""One dataclass describes a run; the CLI maps its flags onto it one to one."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .errors import OptionError

DEFAULT_MODELS = ("linear", "nnet")


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides what ``titanic-lab train`` does.

    Parameters
    ----------
    data : str or None
        The training CSV; None means :func:`titanic_lab.data.default_data_path`.
    preset : str
        Feature preset (``spreadsheet`` or ``notebook``).
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

    def __post_init__(self) -> None:
        if not self.models:
            raise OptionError("at least one model is needed (--model)")
        if len(set(self.models)) != len(self.models):
            raise OptionError(f"a model is named twice: {', '.join(self.models)}")
        if not 0 <= self.valid_pct < 1:
            raise OptionError(f"--valid-pct must be in [0, 1), got {self.valid_pct}")
        if self.sample is not None and self.sample < 1:
            raise OptionError(f"--sample must be at least 1, got {self.sample}")
        if self.gd_epochs < 1 or not self.gd_lr > 0:
            raise OptionError(f"--gd-epochs must be at least 1 and --gd-lr positive, got {self.gd_epochs} and {self.gd_lr}")

    def to_dict(self) -> dict:
        """Plain JSON-ready values (tuples become lists)."""
        out = asdict(self)
        out["models"] = list(self.models)
        return out
