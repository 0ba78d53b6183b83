"""Property tests: any table with the required columns transforms to finite floats, and
transform never reads the statistics of the rows it transforms."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from titanic_lab.preprocessing import PRESETS, TitanicPreprocessor

reals = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),  # NaN, +-inf, huge, tiny, negative
    st.sampled_from([0.0, 1e-300, 1e300, -5.0, 80.0]),
)
counts = st.one_of(st.none(), st.integers(0, 10**6))
categories = st.sampled_from(["male", "female", "S", "C", "Q", "X", "", None, "=1+1"])
names = st.one_of(st.none(), st.text(max_size=30), st.sampled_from(["Braund, Mr. Owen", "A, Mlle. B", "no title"]))


@st.composite
def frames(draw, min_rows=1):
    n = draw(st.integers(min_rows, 12))
    col = lambda strategy: draw(st.lists(strategy, min_size=n, max_size=n))  # noqa: E731
    return pd.DataFrame({
        "Pclass": col(st.one_of(st.sampled_from([1, 2, 3, 4]), st.none())),
        "Sex": col(categories), "Age": col(reals), "SibSp": col(counts), "Parch": col(counts),
        "Fare": col(reals), "Embarked": col(categories), "Name": col(names), "Ticket": col(st.sampled_from(["A", "B", "C", None])),
        "Cabin": col(st.one_of(st.none(), st.just("C85"))),
        "Survived": col(st.sampled_from([0, 1])),  # the groups preset learns from the labels
    })


def _fittable(df: pd.DataFrame) -> bool:
    """fit needs one present value per filled column, to learn its mode or median from."""
    finite = lambda c: np.isfinite(pd.to_numeric(df[c], errors="coerce")).any()  # noqa: E731
    return all(finite(c) for c in ("Age", "Fare", "Pclass", "SibSp", "Parch")) and df["Sex"].notna().any() and df["Embarked"].notna().any()


def _fitted(train: pd.DataFrame, preset: str) -> TitanicPreprocessor:
    assume(_fittable(train))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unseen categories warn, by design
        return TitanicPreprocessor(preset).fit(train)


def _transform(pre: TitanicPreprocessor, df: pd.DataFrame) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pre.transform(df)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(train=frames(), test=frames(), preset=st.sampled_from(sorted(PRESETS)))
def test_any_table_transforms_to_finite_floats(train, test, preset):
    pre = _fitted(train, preset)
    out = _transform(pre, test)
    assert list(out.columns) == list(pre.feature_names_out_) == list(PRESETS[preset].feature_names)
    assert len(out) == len(test) and out.dtypes.map(lambda d: d == np.float64).all()
    assert np.isfinite(out.to_numpy()).all()


@settings(max_examples=40, deadline=None)
@given(train=frames(), test=frames(min_rows=2), preset=st.sampled_from(sorted(PRESETS)))
def test_transform_reads_no_statistics_of_its_input(train, test, preset):
    pre = _fitted(train, preset)
    together = _transform(pre, test)
    one_by_one = pd.concat([_transform(pre, test.iloc[[i]]) for i in range(len(test))])
    # Each row comes out the same alone as among the others: nothing is learned from the input.
    np.testing.assert_array_equal(together.to_numpy(), one_by_one.to_numpy())
    assert not any(math.isnan(v) for v in together.to_numpy().ravel())
