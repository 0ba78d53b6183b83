"""Feature engineering for any table: dummies, binary categoricals, logs, normalization.

A preset is one spec: a tuple of :class:`Feature` steps, each turning one raw column into one
or more named float columns (fill missing -> transform -> scale); what a step's kind computes,
and its formula and words, is the kind's record in :mod:`titanic_lab.features`. :class:`TabularPreprocessor`
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
from dataclasses import replace
import sys
import warnings
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .datasets.csv import TRUE_FALSE
from .datasets.infer import infer_features, log_alternatives
from .datasets.titanic import (  # noqa: F401  (the presets and row selection, public here too)
    EXTENDED,
    GROUPS,
    NOTEBOOK,
    PRESETS,
    SPREADSHEET,
    TARGET,
    get_preset,
    select_complete_rows,
)
from .errors import OptionError, TitanicLabError, UnseenCategoryWarning
from .features.categorical import level_columns, spellings, text_key
from .features.kind import FeatureKind
from .features.numeric import group_key  # noqa: F401  (public here too)
from .features.registry import feature_kind
from .features.preset import Preset  # noqa: F401  (public here too)
from .features.steps import Feature, binary, dummies, log1p, number, ones  # noqa: F401  (public here too)
from .features.titanic import TITLE_GROUPS, surnames, title_group  # noqa: F401  (public here too)
from .leave_one_out import best_loo_error


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
        Every column of the DataFrame ``fit`` saw, as scikit-learn's estimators record it (set
        only when all column names are strings); the columns the steps read are
        ``preset_.raw_columns``.
    n_features_in_ : int
        The number of columns ``fit`` saw.
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
        names = list(X.columns)
        odd = next((c for c in names if not isinstance(c, str)), None)
        if odd is not None:  # a feature's name is its column's, then its sheet header's: text
            raise ValueError(f"{type(self).__name__} infers features from columns named by text, and the frame has "
                             f"column {odd!r} ({type(odd).__name__}); name them, e.g. df.columns = [str(c) for c in df.columns]")
        if X.columns.duplicated().any():
            raise ValueError(f"the frame has two columns named {X.columns[X.columns.duplicated()][0]!r}; rename one")
        if self.target is not None and self.target not in names:  # scikit-learn's fit(X, y) passes X without it
            warnings.warn(f"target {self.target!r} is not a column of the frame: every column becomes a feature "
                          f"(columns: {', '.join(names[:10])}{', ...' if len(names) > 10 else ''})", UserWarning, stacklevel=3)
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
        """Learn fill values, category levels and scales from ``X`` (and the steps, when inferred).

        Each step's kind (:data:`titanic_lab.features.FEATURE_KINDS`) says what it starts from
        and what it learns besides.
        """
        preset = self._steps(X)
        df = _as_frame(X, preset, self)
        self.fill_values_ = {}
        self.levels_ = {}
        self.scales_ = {}
        self.group_sizes_ = {}
        self.groups_ = {}
        for feat in preset.features:
            kind = feature_kind(feat.kind)
            if kind.learn is not None:
                kind.learn(feat, df, y, self)
            filled = None
            if kind.source is not None:
                raw = kind.source(df, feat)
                if feat.fill is not None:  # keyed by raw column: features of one column share its fill
                    self.fill_values_.setdefault(feat.column, _learn_fill(raw, feat))
                filled = raw if feat.fill is None else raw.fillna(self.fill_values_[feat.column])
            if kind.levels is not None:
                # The levels fit saw (or was given); anything else at transform time is warned about.
                self.levels_[feat.name] = kind.levels(feat, filled)
            elif feat.scale is not None and kind.scalable:
                self.scales_[feat.output_name] = _learn_scale(kind.values(feat, filled, df, self), feat)
        self.preset_ = preset
        if all(isinstance(c, str) for c in df.columns):
            self.feature_names_in_ = np.asarray(df.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):  # refitted on a frame with other column names
            del self.feature_names_in_
        self.n_features_in_ = df.shape[1]
        self.feature_names_out_ = self._output_names()
        return self

    def set_fills(self, fills: Mapping[str, object]) -> "TabularPreprocessor":
        """Fix the fill values of some raw columns to values learned elsewhere.

        ``compare`` uses it to fill blanks as a workbook's ``Fill:`` row does. Only the fills
        change: the levels and scales ``fit`` learned stay.

        Parameters
        ----------
        fills : mapping of raw column -> value
            Each column must be one that ``fit`` learned a fill for (``fill_values_``).

        Returns
        -------
        TabularPreprocessor
            ``self``.
        """
        if not hasattr(self, "preset_"):
            raise _not_fitted(f"this {type(self).__name__} is not fitted yet; call fit before set_fills")
        unknown = [c for c in fills if c not in self.fill_values_]
        if unknown:
            raise OptionError(f"no feature fills column {unknown[0]!r}; the filled columns are "
                              f"{', '.join(self.fill_values_) or 'none'}")
        as_cells = {f.column: feature_kind(f.kind).raw for f in self.preset_.features if feature_kind(f.kind).raw}
        # A fill read from a sheet's date cell is a date: the kind's numbers (a serial) are what blanks take.
        self.fill_values_.update({c: float(as_cells[c](pd.Series([v])).iloc[0]) if c in as_cells else v for c, v in fills.items()})
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
            kind = feature_kind(feat.kind)
            filled = None if kind.source is None else self._filled(df, feat, kind)
            if kind.per_level:
                columns = kind.columns(feat, self.levels_[feat.name])
                for (name, _), values in zip(columns, level_columns(filled, [level for _, level in columns])):
                    out[name] = values
                continue
            values = kind.values(feat, filled, df, self)
            if feat.output_name in self.scales_:
                offset, divisor = self.scales_[feat.output_name]
                with np.errstate(over="ignore"):
                    values = (values - offset) / divisor
            # A huge value over a tiny training maximum could overflow: outputs saturate at +-1e300.
            out[feat.output_name] = np.clip(values, -SATURATION, SATURATION)
        return pd.DataFrame(out, index=df.index, columns=self.feature_names_out_, dtype=float)

    def _filled(self, df: pd.DataFrame, feat: Feature, kind: FeatureKind) -> pd.Series:
        """The values the step starts from, blanks filled as ``fit`` learned; a blank left is refused
        and a level ``fit`` never saw is warned about."""
        raw = kind.source(df, feat)
        filled = raw if feat.fill is None else raw.fillna(self.fill_values_[feat.column])
        if filled.isna().any():
            raise TitanicLabError(
                f"column {feat.column} has a missing value at row {filled.isna().idxmax()!r} and the preset "
                "does not fill it; select complete rows first or give the feature a fill"
            )
        if kind.levels is not None:
            _warn_unseen(filled, feat, kind, self.levels_[feat.name], truth=feat.column in df.attrs.get(TRUE_FALSE, ()))
        return filled

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """The output column names (equal to the workbook's headers).

        Parameters
        ----------
        input_features : array-like of str, optional
            As in scikit-learn: when given, it must equal ``feature_names_in_`` (or have
            ``n_features_in_`` names when ``fit`` saw no string column names).

        Returns
        -------
        ndarray of str
            ``feature_names_out_``.
        """
        if not hasattr(self, "feature_names_out_"):
            raise _not_fitted(f"this {type(self).__name__} is not fitted yet; call fit first")
        if input_features is not None:
            given = [str(name) for name in input_features]
            seen = getattr(self, "feature_names_in_", None)
            if seen is not None and given != list(seen):
                raise ValueError(f"input_features are not the columns fit saw: {', '.join(map(str, seen))}")
            if seen is None and len(given) != self.n_features_in_:
                raise ValueError(f"input_features has {len(given)} names; fit saw {self.n_features_in_} columns")
        return np.array(self.feature_names_out_, dtype=object)

    def _output_names(self) -> list[str]:
        return [name for feat in self.preset_.features
                for name, _ in feature_kind(feat.kind).columns(feat, self.levels_.get(feat.name, ()))]


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
    #: The column the group features learn from (:mod:`titanic_lab.features.titanic`).
    target = TARGET

    def __init__(self, preset: str | Preset = "spreadsheet") -> None:
        self.preset = preset

    def _steps(self, X: pd.DataFrame) -> Preset:
        return get_preset(self.preset)


#: Constructor defaults left out of ``repr``.
_DEFAULTS = {(TabularPreprocessor, "features"): None, (TabularPreprocessor, "target"): None, (TitanicPreprocessor, "preset"): "spreadsheet"}


def _as_frame(X: object, preset: Preset, owner: TabularPreprocessor) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"{type(owner).__name__} needs a pandas DataFrame with columns {', '.join(preset.raw_columns)}")
    missing = [c for c in preset.raw_columns if c not in X.columns]
    if missing:
        hint = ("; read the CSV with titanic_lab.read_titanic or rename the columns to Kaggle's names"
                if isinstance(owner, TitanicPreprocessor) else "")
        raise TitanicLabError(f"missing columns for preset {preset.name!r}: {', '.join(missing)}{hint}")
    return X


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
    if pd.api.types.infer_dtype(present, skipna=True) == "string":  # the most common level without case (its
        return next(iter(spellings(present)))                        # most common spelling): the baseline
    mode = present.mode().iloc[0]
    return mode.item() if isinstance(mode, np.generic) else mode  # plain Python, so it serialises


def _learn_scale(values: np.ndarray, feat: Feature) -> tuple[float, float]:
    if feat.scale == "max":
        biggest = float(np.max(values))
        # A column that is all 0 would divide by zero: leave it as it is.
        return 0.0, biggest if biggest != 0 else 1.0
    mean, std = float(np.mean(values)), float(np.std(values))
    return mean, std if std != 0 else 1.0


def _warn_unseen(filled: pd.Series, feat: Feature, kind: FeatureKind, levels: Sequence, truth: bool = False) -> None:
    """Warn of the values of ``filled`` that are none of ``levels``, named as the file writes them (``truth``: a column
    the CSV wrote True/False, which the reader made 1/0: ``'True'``, not ``'1'``)."""
    known = {text_key(v) for v in levels} | ({text_key(feat.baseline)} if feat.baseline is not None else set())
    written = {"1": "True", "0": "False"} if truth else {}  # the step's text of the reader's 1/0
    unseen = sorted({written.get(str(v), str(v)) for v in filled.unique() if text_key(v) not in known})
    if unseen:
        effect = f"their {feat.name}* dummy columns are all 0" if kind.per_level else f"they map to 0 in {feat.name}"
        warnings.warn(
            f"column {feat.column}: unseen value(s) {', '.join(map(repr, unseen))}; {effect}",
            UnseenCategoryWarning,
            stacklevel=4,
        )


#: Up to this many rows with a target, :func:`choose_logs` turns a skewed column's log over where the
#: leave-one-out error says so; above it one column's correlation (``datasets.infer``) alone decides: on R's
#: Computers (4,800 rows) the pass changed columns the nnet, chosen there, then fitted worse (held-out RMSE
#: 231 -> 246; benchmarks/r_tables.py, session 18).
LOG_CHOICE_MAX_ROWS = 1_000
#: Multiply-adds :func:`choose_logs` may spend, estimated as one singular value decomposition (rows x features x
#: min(rows, features)) per skewed column and one more; above it the correlation's choices stand. A reviewer's
#: 1,000 rows of 400 skewed columns took 21 s to 300 s without it; AER's Journals costs some 3 million.
LOG_CHOICE_WORK = 2e9


def choose_logs(preset: Preset, df: pd.DataFrame, target: pd.Series) -> Preset:
    """An inferred ``preset`` with each skewed column's log kept or replaced by the column itself, one column
    at a time, where that lowers the leave-one-out error of a ridge fit of ``target`` on every feature
    (:func:`titanic_lab.leave_one_out.best_loo_error`).

    Inference chose each log by one column's correlation with the target, a weak guide on a few rows: on
    AER's Journals (144 rows) it logged pages and charpp on 116 of them and not on all 144, and the logs
    cost the linear model 205 against 186 held out. Rows whose ``target`` is missing (a run's validation
    rows, hidden) are not scored; a table of more than :data:`LOG_CHOICE_MAX_ROWS` such rows, or whose choices
    would cost more than :data:`LOG_CHOICE_WORK`, is left as it is.

    Parameters
    ----------
    preset : Preset
        Steps as :func:`titanic_lab.dataset.infer_spec` inferred them from ``df``.
    df : pandas.DataFrame
        The rows (all of them: the preprocessing is fitted on every row, as a run fits it).
    target : pandas.Series
        The target as numbers, index as ``df``'s; NaN where hidden.
    """
    rows = target.reindex(df.index).notna().to_numpy()
    alternatives = log_alternatives(preset, df)
    y = target.reindex(df.index).to_numpy(dtype=float)[rows]
    if not alternatives or not 3 <= rows.sum() <= LOG_CHOICE_MAX_ROWS or np.ptp(y) == 0:
        return preset
    y = (y - y.min()) / np.sqrt(np.mean((y - y.min()) ** 2))  # as linear learns a regression target
    steps = list(preset.features)
    fitted = TabularPreprocessor(preset).fit(df)
    X = fitted.transform(df).to_numpy()[rows]
    if (len(alternatives) + 1) * X.shape[0] * X.shape[1] * min(X.shape) > LOG_CHOICE_WORK:
        return preset
    at = {i: list(fitted.feature_names_out_).index(steps[i].output_name) for i in alternatives}  # its column of X
    best = best_loo_error(X, y)
    for i, (logged, plain) in alternatives.items():
        other = plain if steps[i] == logged else logged
        trial = X.copy()
        trial[:, at[i]] = TabularPreprocessor(Preset("one", (other,))).fit(df).transform(df).to_numpy()[rows, 0]
        error = best_loo_error(trial, y)
        if error < best:
            steps[i], X, best = other, trial, error
    names, before = ", ".join(f.output_name for f in steps), ", ".join(f.output_name for f in preset.features)
    text = preset.description  # "inferred from FILE: " and the names
    described = text[: len(text) - len(before)] + names if text.endswith(before) else text
    return replace(preset, features=tuple(steps), description=described)
