"""Feature engineering for any table: dummies, binary categoricals, logs, normalization.

A preset is one spec: a tuple of :class:`Feature` steps, each turning one raw column into one
or more named float columns (fill missing -> transform -> scale). :class:`TabularPreprocessor`
is a scikit-learn transformer for any table (its steps given or inferred); :class:`TitanicPreprocessor`
is the same with a Titanic preset. Each learns everything it needs (fill values, category levels,
maxima) in ``fit`` and reuses it in ``transform``.

Importing this module imports neither scikit-learn (about a second: it loads scipy.stats, which
every ``titanic-lab`` command would pay) nor torch, typer or any workbook writer; the
transformer implements scikit-learn's estimator API itself. A Kaggle notebook can use it on
its own::

    from titanic_lab.preprocessing import TabularPreprocessor, TitanicPreprocessor
    X = TitanicPreprocessor(preset="notebook").fit_transform(train_df)
    X = TabularPreprocessor(target="SalePrice").fit_transform(houses_df)  # steps inferred
"""

from __future__ import annotations

import functools
import math
import sys
import warnings
from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np
import pandas as pd

from .data import TARGET, passenger_keys
from .errors import OptionError, TitanicLabError, UnseenCategoryWarning

Kind = Literal["number", "log", "binary", "dummies", "ones", "title", "family", "alone", "present", "missing", "per_ticket",
               "woman_child", "group_size", "wcg_died", "wcg_rate"]
FillStrategy = Literal["mode", "median", "constant"]
ScaleMethod = Literal["max", "zscore"]


#: Every output value lies in [-SATURATION, SATURATION], so transform's output is always finite.
SATURATION = 1e300


class NotFittedError(TitanicLabError, ValueError, AttributeError):
    """``transform`` was called before ``fit`` (the bases of scikit-learn's own NotFittedError).

    When scikit-learn is imported, what is raised also derives from
    ``sklearn.exceptions.NotFittedError``, so ``except sklearn.exceptions.NotFittedError``
    catches it; this module never imports scikit-learn itself.
    """


def _not_fitted(message: str) -> NotFittedError:
    """A :class:`NotFittedError`, also scikit-learn's own when scikit-learn is loaded."""
    if "sklearn" not in sys.modules:
        return NotFittedError(message)
    from sklearn.exceptions import NotFittedError as SklearnNotFittedError

    return _joined(SklearnNotFittedError)(message)


@functools.cache
def _joined(sklearn_class: type) -> type:
    return type("NotFittedError", (NotFittedError, sklearn_class), {"__module__": __name__, "__doc__": NotFittedError.__doc__})


@dataclass(frozen=True)
class Feature:
    """One step of a preset: a raw column turned into named float column(s).

    Parameters
    ----------
    column : str
        The raw column read (empty for ``kind="ones"``).
    kind : str
        ``number`` keeps the value; ``log`` is ``log(x + 1)`` in ``base``; ``binary`` is 1 where
        the value equals ``positive``; ``dummies`` is one 0/1 column per level, less the
        ``baseline`` level if given; ``ones`` is the constant bias column. Derived (the
        ``extended`` preset): ``title`` dummies of the title in Name (see :func:`title_group`);
        ``family`` is ``column + other + 1``; ``alone`` is 1 where ``column + other == 0``;
        ``present`` / ``missing`` are 1 where the raw value is present / missing;
        ``per_ticket`` is ``log(column / n + 1)`` with n the passengers sharing ``other``
        (the ticket) in the training data. The ``groups`` preset's: ``woman_child`` is 1 for a
        woman (``column`` Sex is female) or a boy (title Master in ``other``, the Name);
        ``group_size`` is how many training passengers share the row's ``column`` value (the
        ticket, compared without case), the row included. ``wcg_rate`` and ``wcg_died`` are the
        "woman-child-group" features, for women and boys only (0 for adult men and for those
        without a group): the survival rate of the *other* women and boys of the training rows
        on the same ticket (else, when there are none, with the same surname), and 1 where
        that rate is 0 (the whole rest of the group died). A row never sees its own label.
    name : str
        The output column name; for ``dummies``, the prefix before each level.
    fill : {"mode", "median", "constant"} or None
        How to fill missing values, learned on the training data. None: missing is an error.
    fill_value : float or str, optional
        The value for ``fill="constant"``.
    base : float
        Log base (10 or ``math.e``).
    positive : str
        The value that ``binary`` maps to 1.
    levels : tuple, optional
        Dummy levels in output order. None: the sorted levels seen in ``fit``.
    baseline : optional
        The dummy level that gets no column (n-1 dummies). None: all levels.
    scale : {"max", "zscore"} or None
        ``max`` divides by the training maximum; ``zscore`` subtracts the mean and divides by
        the standard deviation.
    other : str
        The second raw column of ``family``, ``alone`` and ``per_ticket``.
    """

    column: str
    kind: Kind = "number"
    name: str = ""
    fill: FillStrategy | None = "mode"
    fill_value: float | str | None = None
    base: float = 10.0
    positive: str | None = None
    levels: tuple | None = None
    baseline: object | None = None
    scale: ScaleMethod | None = None
    other: str = ""

    @property
    def output_name(self) -> str:
        return self.name or self.column


def number(column: str, name: str = "", *, scale: ScaleMethod | None = None, **kw: object) -> Feature:
    """A numeric column kept as it is (optionally scaled)."""
    return Feature(column, "number", name, scale=scale, **kw)


def log1p(column: str, name: str, *, base: float = 10.0, scale: ScaleMethod | None = None, **kw: object) -> Feature:
    """``log(column + 1)`` in ``base`` (10 in the workbook, e in the notebook)."""
    return Feature(column, "log", name, base=base, scale=scale, **kw)


def binary(column: str, positive: str, name: str, **kw: object) -> Feature:
    """A two-valued categorical as one 0/1 column: 1 where ``column == positive``."""
    return Feature(column, "binary", name, positive=positive, **kw)


def dummies(column: str, prefix: str, *, levels: Sequence | None = None, baseline: object | None = None, **kw: object) -> Feature:
    """Dummy variables ``prefix + level``: all levels, or n-1 when ``baseline`` is given."""
    return Feature(column, "dummies", prefix, levels=None if levels is None else tuple(levels), baseline=baseline, **kw)


def ones(name: str = "Ones") -> Feature:
    """The constant 1 column that carries the bias."""
    return Feature("", "ones", name, fill=None)


@dataclass(frozen=True)
class Preset:
    """A named feature spec.

    Parameters
    ----------
    name : str
        The preset's name (``--preset``).
    features : tuple of Feature
        The steps, in output column order.
    complete_rows : tuple of str
        Columns that :func:`select_complete_rows` requires present when the preset's
        row selection is asked for (the lesson keeps rows with Age and Embarked).
    description : str
        One line for help texts.
    """

    name: str
    features: tuple[Feature, ...]
    complete_rows: tuple[str, ...] = ()
    description: str = ""
    raw_columns: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        raw = tuple(dict.fromkeys(c for f in self.features if f.kind != "ones" for c in (f.column, f.other) if c))
        object.__setattr__(self, "raw_columns", raw)

    @property
    def feature_names(self) -> tuple[str, ...] | None:
        """The output column names, known before ``fit`` when every dummy's levels are pinned."""
        names: list[str] = []
        for f in self.features:
            if f.kind not in ("dummies", "title"):
                names.append(f.output_name)
            elif f.levels is None:
                return None
            else:
                names.extend(f"{f.name}{level}" for level in f.levels if level != f.baseline)
        return tuple(names)


SPREADSHEET = Preset(
    name="spreadsheet",
    features=(
        number("SibSp"),
        number("Parch"),
        number("Age", "Age_N", scale="max"),
        log1p("Fare", "log_Fare", base=10.0),
        dummies("Pclass", "Pclass_", levels=(1, 2, 3), baseline=3),
        dummies("Embarked", "Embark_", levels=("S", "C", "Q"), baseline="Q"),
        binary("Sex", "male", "Male"),
        ones("Ones"),
    ),
    complete_rows=("Age", "Embarked"),
    description="the lesson workbook's 10 columns: Age/max, LOG10(Fare+1), n-1 dummies, Male, Ones",
)

NOTEBOOK = Preset(
    name="notebook",
    features=(
        # The notebook divides in place; here the divided columns get the workbook's "_N" suffix
        # so that raw and normalized columns can sit side by side in one sheet.
        number("Age", "Age_N", scale="max"),
        number("SibSp", "SibSp_N", scale="max"),
        number("Parch", "Parch_N", scale="max"),
        # The notebook fills the test set's one missing Fare with 0 before the mode fill.
        log1p("Fare", "LogFare_N", base=math.e, scale="max", fill="constant", fill_value=0.0),
        dummies("Sex", "Sex_", levels=("male", "female")),
        dummies("Pclass", "Pclass_", levels=(1, 2, 3)),
        dummies("Embarked", "Embarked_", levels=("C", "Q", "S")),
    ),
    description="the lesson notebook's 12 columns: mode fill, ln(Fare+1), all-level dummies, divide by max",
)

#: Title groups of the ``extended`` preset: every other title (Dr, Rev, Col, Countess...) is "rare".
TITLE_GROUPS = {"Mr": "Mr", "Mrs": "Mrs", "Mme": "Mrs", "Miss": "Miss", "Mlle": "Miss", "Ms": "Miss", "Master": "Master"}
_TITLES_BY_CASELESS = {title.lower(): group for title, group in TITLE_GROUPS.items()}


def title_group(name: object) -> str:
    """The title group of a passenger's name: ``"Braund, Mr. Owen Harris"`` -> ``"Mr"``.

    The title is the text between the first ``", "`` and the next ``"."`` (as the workbook's
    ``MID``/``FIND`` formula reads it), compared without case as the spreadsheet's ``=``
    compares it; titles outside :data:`TITLE_GROUPS` are ``"rare"``.
    """
    text = "" if not isinstance(name, str) else name
    comma = text.find(", ")
    dot = text.find(".", comma) if comma >= 0 else -1
    return _TITLES_BY_CASELESS.get(text[comma + 2 : dot].lower(), "rare") if dot >= 0 else "rare"


EXTENDED = Preset(
    name="extended",
    features=(
        dummies("Pclass", "Pclass_", levels=(1, 2, 3), baseline=3),
        binary("Sex", "male", "Male"),
        number("Age", "Age_N", scale="max", fill="median"),
        Feature("Age", "missing", "Age_missing", fill=None),
        Feature("SibSp", "family", "Family_N", other="Parch", scale="max", fill=None),
        Feature("SibSp", "alone", "Alone", other="Parch", fill=None),
        Feature("Fare", "per_ticket", "log_FarePP", other="Ticket", base=10.0, scale="max", fill="median"),
        Feature("Cabin", "present", "Cabin_known", fill=None),
        dummies("Embarked", "Embark_", levels=("S", "C", "Q"), baseline="Q"),
        Feature("Name", "title", "Title_", levels=("Mr", "Mrs", "Miss", "Master"), baseline="rare", fill=None),
        ones("Ones"),
    ),
    description="the spreadsheet's columns plus title, family size, travelling alone, cabin known, fare per person, "
    "age missing",
)

GROUPS = Preset(
    name="groups",
    features=EXTENDED.features[:-1] + (
        Feature("Sex", "woman_child", "WomanChild", other="Name", fill=None),
        Feature("Ticket", "group_size", "Ticket_N", scale="max", fill=None),
        Feature("Ticket", "wcg_rate", "WCG_rate", other="Name", fill=None),
        Feature("Ticket", "wcg_died", "WCG_died", other="Name", fill=None),
        ones("Ones"),
    ),
    description="the extended columns plus woman-or-boy, ticket group size, and for women and boys the survival rate "
    "of the other women and boys on their ticket (else of their surname) and whether all of those died",
)

PRESETS: dict[str, Preset] = {p.name: p for p in (SPREADSHEET, NOTEBOOK, EXTENDED, GROUPS)}


def get_preset(preset: str | Preset) -> Preset:
    """Look a preset up by name (a :class:`Preset` passes through)."""
    if isinstance(preset, Preset):
        return preset
    try:
        return PRESETS[preset]
    except KeyError:
        raise OptionError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}") from None


def select_complete_rows(df: pd.DataFrame, preset: str | Preset = "spreadsheet") -> pd.DataFrame:
    """The rows where every column of the preset's ``complete_rows`` is present.

    The lesson's workbook keeps only the 712 rows of Kaggle's ``train.csv`` that have both
    ``Age`` and ``Embarked``. This is an explicit step because a transformer must never drop
    rows on its own.

    Parameters
    ----------
    df : pandas.DataFrame
        Raw passengers.
    preset : str or Preset
        Whose ``complete_rows`` to use.

    Returns
    -------
    pandas.DataFrame
        The kept rows, in their original order, with their original index.

    Raises
    ------
    TitanicLabError
        When rows were given and none is kept, naming the column that is blank everywhere.
    """
    columns = list(get_preset(preset).complete_rows)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise OptionError(f"cannot select complete rows: missing columns {', '.join(missing)}")
    kept = df.dropna(subset=columns) if columns else df
    if kept.empty and not df.empty:
        blank = [c for c in columns if df[c].isna().all()]
        why = f"column {' and '.join(blank)} is blank in every row" if blank else f"no row has all of {', '.join(columns)}"
        raise TitanicLabError(f"{why}, and only rows with {' and '.join(columns)} are kept; fill it in, or keep every row "
                              "(--all-rows), whose blanks are filled from the other rows")
    return kept


class TabularPreprocessor:
    """Turn the raw rows of any table into a float design matrix with named columns.

    A scikit-learn transformer: it works in ``Pipeline`` and ``ColumnTransformer``, with
    ``clone`` and ``GridSearchCV`` (``get_params``/``set_params``), ``check_is_fitted`` and
    ``set_output``, and always returns a DataFrame. It does not inherit from scikit-learn's
    base classes so that importing it does not import scikit-learn (nor torch).

    Parameters
    ----------
    features : Preset, str or None, default None
        The feature steps: a :class:`Preset`, the name of a Titanic preset, or None to infer
        them from the rows ``fit`` sees (:func:`titanic_lab.dataset.infer_spec`: median fill and
        divide by max for numbers, one 0/1 column for two-valued columns, dummies for text with
        few levels; ids and free text left out).
    target : str, optional
        The target column, never used as a feature when the steps are inferred.

    Attributes
    ----------
    preset_ : Preset
        The resolved (or inferred) steps.
    left_out_ : dict
        Inferred steps only: the columns that give no feature, each with the reason.
    fill_values_ : dict
        Per raw column, the value that fills missing entries.
    levels_ : dict
        Per dummy feature's prefix, its levels in output order (baseline excluded); per binary
        feature's name, the values seen in ``fit``.
    scales_ : dict
        Per scaled output column, ``(offset, divisor)``: output = (x - offset) / divisor.
    feature_names_in_ : ndarray of str
        The raw columns read.
    n_features_in_ : int
        Their number.
    feature_names_out_ : list of str
        The output columns, in order; equal to the workbook's headers.

    Examples
    --------
    >>> pre = TabularPreprocessor(target="price")
    >>> X_train = pre.fit_transform(train_df)   # doctest: +SKIP
    >>> X_test = pre.transform(test_df)         # uses train_df's medians, levels and maxima  # doctest: +SKIP
    """

    _params: tuple[str, ...] = ("features", "target")

    def __init__(self, features: Preset | str | None = None, target: str | None = None) -> None:
        self.features = features
        self.target = target

    def _steps(self, X: pd.DataFrame) -> Preset:
        """The feature steps ``fit`` uses (inferred from ``X`` when none were given)."""
        if self.features is not None:
            return get_preset(self.features)
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"{type(self).__name__} needs a pandas DataFrame")
        from .dataset import infer_features

        preset, self.left_out_ = infer_features(X, exclude=(self.target,) if self.target else ())
        return preset

    # ---- scikit-learn's estimator API ----------------------------------------------------
    def get_params(self, deep: bool = True) -> dict:
        """The constructor's arguments (scikit-learn's ``clone`` and grid search read them)."""
        return {name: getattr(self, name) for name in self._params}

    def set_params(self, **params: object) -> "TabularPreprocessor":
        """Set constructor arguments; an unknown name raises ``ValueError``."""
        for name, value in params.items():
            if name not in self._params:
                raise ValueError(f"{type(self).__name__} has no parameter {name!r}; its parameters are {', '.join(self._params)}")
            setattr(self, name, value)
        return self

    def set_output(self, *, transform: str | None = None) -> "TabularPreprocessor":
        """Accepted for scikit-learn's ``set_output``: the output is a DataFrame in every case."""
        if transform not in (None, "default", "pandas"):
            raise ValueError(f"{type(self).__name__} outputs pandas DataFrames; set_output(transform={transform!r}) is not supported")
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "preset_")

    def __sklearn_tags__(self) -> object:
        # Only scikit-learn calls this, so importing it here costs nothing more.
        from sklearn.base import BaseEstimator, TransformerMixin

        class _Transformer(TransformerMixin, BaseEstimator):
            pass

        tags = _Transformer().__sklearn_tags__()
        tags.input_tags.string = tags.input_tags.allow_nan = True  # raw rows: text columns and blanks
        tags.requires_fit = True
        return tags

    def __repr__(self) -> str:
        given = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items() if v != _DEFAULTS.get((type(self), k)))
        return f"{type(self).__name__}({given})"

    def fit_transform(self, X: pd.DataFrame, y: object = None) -> pd.DataFrame:
        """``fit(X).transform(X)``."""
        return self.fit(X, y).transform(X)

    def fit(self, X: pd.DataFrame, y: object = None) -> "TabularPreprocessor":
        """Learn fill values, category levels and scales from ``X`` (and the steps, when inferred)."""
        preset = self._steps(X)
        df = _as_frame(X, preset, self)
        self.fill_values_ = {}
        self.levels_ = {}
        self.scales_ = {}
        self.group_sizes_ = {}
        self.groups_ = {}
        if any(f.kind in GROUP_KINDS for f in preset.features):
            self._fit_groups(df, preset, y)
        for feat in preset.features:
            if feat.kind in ("ones", *GROUP_KINDS):
                if feat.kind == "group_size" and feat.scale is not None:
                    self.scales_[feat.output_name] = _learn_scale(self._group_values(df, feat), feat)
                continue
            if feat.kind == "per_ticket":
                # How many passengers of the training data share each ticket.
                self.group_sizes_[feat.output_name] = group_key(df[feat.other]).value_counts().to_dict()
            raw = _column(df, feat)
            if feat.fill is not None:  # keyed by raw column: features of one column share its fill
                self.fill_values_.setdefault(feat.column, _learn_fill(raw, feat))
            filled = raw if feat.fill is None else raw.fillna(self.fill_values_[feat.column])
            if feat.kind in ("dummies", "title"):
                levels = feat.levels if feat.levels is not None else tuple(sorted(filled.dropna().unique()))
                self.levels_[feat.name] = tuple(lv for lv in levels if lv != feat.baseline)
            elif feat.kind == "binary":
                # The values fit saw; anything else at transform time is warned about.
                self.levels_[feat.name] = tuple(sorted({feat.positive, *filled.dropna().unique()}))
            elif feat.scale is not None:
                values = _transform_values(filled, feat, self._sizes(df, feat))
                self.scales_[feat.output_name] = _learn_scale(values, feat)
        self.preset_ = preset
        self.feature_names_in_ = np.array(preset.raw_columns, dtype=object)
        self.n_features_in_ = len(preset.raw_columns)
        self.feature_names_out_ = self._output_names()
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Apply what ``fit`` learned; never looks at statistics of ``X`` itself.

        Returns
        -------
        pandas.DataFrame
            Float64 columns named ``feature_names_out_``, same index as ``X``.
        """
        if not hasattr(self, "preset_"):
            raise _not_fitted(
                f"this {type(self).__name__} is not fitted yet; call fit(train_df) (or fit_transform) before transform"
            )
        df = _as_frame(X, self.preset_, self)
        out: dict[str, np.ndarray] = {}
        for feat in self.preset_.features:
            if feat.kind == "ones":
                out[feat.output_name] = np.ones(len(df))
                continue
            if feat.kind in GROUP_KINDS:
                out[feat.output_name] = self._group_values(df, feat) / self.scales_.get(feat.output_name, (0.0, 1.0))[1]
                continue
            raw = _column(df, feat)
            filled = raw if feat.fill is None else raw.fillna(self.fill_values_[feat.column])
            if filled.isna().any():
                raise TitanicLabError(
                    f"column {feat.column} has a missing value at row {filled.isna().idxmax()!r} and the preset "
                    "does not fill it; select complete rows first or give the feature a fill"
                )
            if feat.kind in ("dummies", "binary"):
                _warn_unseen(filled, feat, self.levels_[feat.name])
            if feat.kind in ("dummies", "title"):
                for level in self.levels_[feat.name]:
                    out[f"{feat.name}{level}"] = (filled == level).to_numpy(dtype=float)
                continue
            values = _transform_values(filled, feat, self._sizes(df, feat))
            if feat.output_name in self.scales_:
                offset, divisor = self.scales_[feat.output_name]
                with np.errstate(over="ignore"):
                    values = (values - offset) / divisor
            # A huge value over a tiny training maximum could overflow: outputs saturate at +-1e300.
            out[feat.output_name] = np.clip(values, -SATURATION, SATURATION)
        return pd.DataFrame(out, index=df.index, columns=self.feature_names_out_, dtype=float)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """The output column names (equal to the workbook's headers)."""
        if not hasattr(self, "feature_names_out_"):
            raise _not_fitted(f"this {type(self).__name__} is not fitted yet; call fit first")
        return np.array(self.feature_names_out_, dtype=object)

    def _fit_groups(self, df: pd.DataFrame, preset: Preset, y: object) -> None:
        """Per group: its training passengers, and its women and boys with how many survived."""
        labels = _labels(df, y, preset)
        self.fitted_labels_ = dict(zip(_identities(df), labels))
        wc = _woman_child(df)
        for by in ("ticket", "surname"):
            stats = pd.DataFrame({"key": _group_key(df, by), "wc": wc, "saved": wc * labels}).groupby("key").agg(
                passengers=("wc", "size"), wc=("wc", "sum"), saved=("saved", "sum"))
            self.groups_[by] = {k: (int(r["passengers"]), float(r["wc"]), float(r["saved"])) for k, r in stats.iterrows()}

    def _group_values(self, df: pd.DataFrame, feat: Feature) -> np.ndarray:
        """A group feature of every row; a training row's own label and count are taken away."""
        # A row fit saw counts itself in its groups, with its label: take both away, whether or not
        # this frame has the labels (scikit-learn's Pipeline fits with y and transforms without).
        keys = _identities(df)
        own = keys.isin(self.fitted_labels_.keys()).to_numpy()
        label = keys.map(self.fitted_labels_).astype(float).to_numpy()
        if TARGET in df.columns:  # the row's own label where it has one
            label = pd.to_numeric(df[TARGET], errors="coerce").fillna(pd.Series(label, index=df.index)).to_numpy(dtype=float)
        label = np.where(own, np.nan_to_num(label), 0.0)
        wc = _woman_child(df).to_numpy()

        def others(by: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            found = np.array([self.groups_[by].get(k, (0, 0.0, 0.0)) for k in _group_key(df, by)], dtype=float).reshape(-1, 3)
            return found[:, 0] - own, found[:, 1] - own * wc, found[:, 2] - own * wc * label

        ticket_passengers, ticket_wc, ticket_saved = others("ticket")
        if feat.kind == "group_size":
            return ticket_passengers + 1
        _, surname_wc, surname_saved = others("surname")
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(ticket_wc > 0, ticket_saved / ticket_wc, np.where(surname_wc > 0, surname_saved / surname_wc, 0.0))
        counted = (wc == 1) & ((ticket_wc > 0) | (surname_wc > 0))
        return np.where(counted, rate if feat.kind == "wcg_rate" else (rate == 0).astype(float), 0.0)

    def _sizes(self, df: pd.DataFrame, feat: Feature) -> np.ndarray | None:
        """``per_ticket``: each row's ticket-group size from fit (1 for a ticket fit never saw), the
        tickets compared as :func:`group_key` does."""
        if feat.kind != "per_ticket":
            return None
        sizes = self.group_sizes_[feat.output_name]
        return group_key(df[feat.other]).map(lambda t: sizes.get(t, 1)).to_numpy(dtype=float)

    def _output_names(self) -> list[str]:
        names: list[str] = []
        for feat in self.preset_.features:
            if feat.kind in ("dummies", "title"):
                names.extend(f"{feat.name}{level}" for level in self.levels_[feat.name])
            else:
                names.append(feat.output_name)
        return names


class TitanicPreprocessor(TabularPreprocessor):
    """:class:`TabularPreprocessor` with a Titanic preset: raw Titanic rows to the lesson's features.

    Parameters
    ----------
    preset : str or Preset, default "spreadsheet"
        ``"spreadsheet"`` (the lesson workbook's 10 columns), ``"notebook"`` (the lesson
        notebook's 12 columns), ``"extended"``, ``"groups"``, or a custom :class:`Preset`.

    Attributes
    ----------
    See :class:`TabularPreprocessor`.

    Examples
    --------
    >>> pre = TitanicPreprocessor(preset="notebook")
    >>> X_train = pre.fit_transform(train_df)   # doctest: +SKIP
    >>> X_test = pre.transform(test_df)         # uses train_df's modes and maxima  # doctest: +SKIP
    """

    _params = ("preset",)

    def __init__(self, preset: str | Preset = "spreadsheet") -> None:
        self.preset = preset

    def _steps(self, X: pd.DataFrame) -> Preset:
        return get_preset(self.preset)


#: Constructor defaults left out of ``repr``.
_DEFAULTS = {(TabularPreprocessor, "features"): None, (TabularPreprocessor, "target"): None, (TitanicPreprocessor, "preset"): "spreadsheet"}


#: Feature kinds computed from the training rows' groups (the ``groups`` preset).
GROUP_KINDS = ("group_size", "wcg_died", "wcg_rate")


def surnames(names: pd.Series) -> pd.Series:
    """The text of each name before its first comma (all of it without one; blank as ``""``):
    the workbook's ``LEFT(Name,FIND(",",Name&",")-1)``."""
    return names.astype(object).where(names.notna(), "").astype(str).str.split(",", n=1).str[0]


def group_key(values: pd.Series) -> pd.Series:
    """A group's key, as the spreadsheet's ``=`` compares cells: the text without case, a blank as ``""``."""
    return values.astype(object).where(values.notna(), "").astype(str).str.lower()


def _identities(df: pd.DataFrame) -> pd.Series:
    """Who each row is, to know the rows ``fit`` saw: name and ticket (:func:`passenger_keys`);
    for a blank name, every raw column's value."""
    signature = functools.reduce(lambda a, b: a + "|" + b, (group_key(df[c]) for c in GROUPS.raw_columns if c in df.columns))
    return passenger_keys(df).where(df["Name"].notna(), "no name|" + signature)


def _group_key(df: pd.DataFrame, by: str) -> pd.Series:
    """Each row's ticket, or surname, as :func:`group_key`."""
    return group_key(df["Ticket"] if by == "ticket" else surnames(df["Name"]))


def _woman_child(df: pd.DataFrame) -> pd.Series:
    """1.0 for a woman or a boy (title Master), else 0.0."""
    return ((df["Sex"] == "female") | (df["Name"].map(title_group) == "Master")).astype(float)


def _labels(df: pd.DataFrame, y: object, preset: Preset) -> pd.Series:
    if TARGET in df.columns:
        labels = pd.to_numeric(df[TARGET], errors="coerce")
    elif y is not None:
        labels = pd.Series(np.asarray(y, dtype=float), index=df.index)
    else:
        labels = pd.Series(dtype=float)
    if len(labels) != len(df) or labels.isna().any():
        raise TitanicLabError(f"preset {preset.name!r} learns group survival rates: fit it on rows with a complete "
                              f"{TARGET} column (or pass y)")
    return labels


def _as_frame(X: object, preset: Preset, owner: TabularPreprocessor) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"{type(owner).__name__} needs a pandas DataFrame with columns {', '.join(preset.raw_columns)}")
    missing = [c for c in preset.raw_columns if c not in X.columns]
    if missing:
        hint = ("; read the CSV with titanic_lab.read_titanic or rename the columns to Kaggle's names"
                if isinstance(owner, TitanicPreprocessor) else "")
        raise TitanicLabError(f"missing columns for preset {preset.name!r}: {', '.join(missing)}{hint}")
    return X


def _column(df: pd.DataFrame, feat: Feature) -> pd.Series:
    """The values a feature starts from (derived for the extended kinds), before filling."""
    raw = df[feat.column]
    if feat.kind == "title":
        return raw.map(title_group)
    if feat.kind in ("present", "missing"):
        return (raw.notna() if feat.kind == "present" else raw.isna()).astype(float)
    if feat.kind == "woman_child":
        return _woman_child(df)
    if feat.kind in ("family", "alone"):
        # A missing count is 0, as a blank cell is in the workbook's SibSp+Parch+1.
        total = _numeric(df, feat.column).fillna(0) + _numeric(df, feat.other).fillna(0)
        return (total + 1) if feat.kind == "family" else (total == 0).astype(float)
    if feat.kind in ("number", "log", "per_ticket"):
        values = pd.to_numeric(raw, errors="coerce")
        bad = values.isna() & raw.notna()
        if bad.any():
            first = bad.idxmax()
            raise TitanicLabError(
                f"column {feat.column} has non-numeric value {raw[first]!r} at row {first!r}; "
                "clean it or read the file with titanic_lab.read_titanic"
            )
        values = values.astype(float)
        return values.where(np.isfinite(values))  # an infinite value is treated as missing, then filled
    if feat.kind == "dummies" and feat.levels is not None and all(isinstance(v, (int, float)) for v in feat.levels):
        # Numeric levels (Pclass 1/2/3) compare as numbers whether the column holds ints or floats.
        return pd.to_numeric(raw, errors="coerce").where(raw.notna())
    return raw


def _numeric(df: pd.DataFrame, column: str) -> pd.Series:
    values = pd.to_numeric(df[column], errors="coerce")
    bad = values.isna() & df[column].notna()
    if bad.any():
        first = bad.idxmax()
        raise TitanicLabError(f"column {column} has non-numeric value {df[column][first]!r} at row {first!r}")
    return values.astype(float)


def _learn_fill(raw: pd.Series, feat: Feature) -> object:
    if feat.fill is None:
        return None
    if feat.fill == "constant":
        if feat.fill_value is None:
            raise OptionError(f"feature {feat.output_name}: fill='constant' needs a fill_value")
        return feat.fill_value
    present = raw.dropna()
    if present.empty:
        raise TitanicLabError(f"column {feat.column} has no values to learn a {feat.fill} from; every row is missing")
    if feat.fill == "median":
        return float(present.median())
    mode = present.mode().iloc[0]
    return mode.item() if isinstance(mode, np.generic) else mode  # plain Python, so it serialises


def _transform_values(filled: pd.Series, feat: Feature, group_sizes: np.ndarray | None = None) -> np.ndarray:
    if feat.kind == "binary":
        return (filled == feat.positive).to_numpy(dtype=float)
    values = filled.to_numpy(dtype=float)
    if feat.kind == "per_ticket":
        values = values / group_sizes
    if feat.kind in ("log", "per_ticket"):
        values = np.maximum(values, 0)  # a negative fare would have no logarithm; it counts as 0
        # log(x + 1): the lesson's LOG10(Fare+1) and the notebook's np.log(Fare+1).
        values = np.log10(values + 1) if feat.base == 10 else np.log(values + 1) / math.log(feat.base)
    return values


def _learn_scale(values: np.ndarray, feat: Feature) -> tuple[float, float]:
    if feat.scale == "max":
        biggest = float(np.max(values))
        # A column that is all 0 would divide by zero: leave it as it is.
        return 0.0, biggest if biggest != 0 else 1.0
    mean, std = float(np.mean(values)), float(np.std(values))
    return mean, std if std != 0 else 1.0


def _warn_unseen(filled: pd.Series, feat: Feature, levels: Sequence) -> None:
    known = set(levels) | ({feat.baseline} if feat.baseline is not None else set())
    unseen = sorted({str(v) for v in filled.unique() if v not in known})
    if unseen:
        effect = f"they map to 0 in {feat.name}" if feat.kind == "binary" else f"their {feat.name}* dummy columns are all 0"
        warnings.warn(
            f"column {feat.column}: unseen value(s) {', '.join(map(repr, unseen))}; {effect}",
            UnseenCategoryWarning,
            stacklevel=3,
        )
