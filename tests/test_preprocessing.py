from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from titanic_lab.data import read_titanic
from titanic_lab.preprocessing import (
    SPREADSHEET,
    NotFittedError,
    Preset,
    TabularPreprocessor,
    TitanicPreprocessor,
    UnseenCategoryWarning,
    dummies,
    number,
    ones,
    select_complete_rows,
)

SPREADSHEET_COLUMNS = ["SibSp", "Parch", "Age_N", "log_Fare", "Pclass_1", "Pclass_2", "Embark_S", "Embark_C", "Male", "Ones"]
NOTEBOOK_COLUMNS = ["Age_N", "SibSp_N", "Parch_N", "LogFare_N", "Sex_male", "Sex_female", "Pclass_1", "Pclass_2", "Pclass_3",
                    "Embarked_C", "Embarked_Q", "Embarked_S"]


def test_spreadsheet_preset_equals_the_lesson_workbook(kaggle_train, lesson_workbook):
    import openpyxl

    rows = select_complete_rows(read_titanic(kaggle_train))
    X = TitanicPreprocessor("spreadsheet").fit_transform(rows)
    assert X.shape == (712, 10)
    assert list(X.columns) == SPREADSHEET_COLUMNS
    sheet = openpyxl.load_workbook(lesson_workbook, data_only=True, read_only=True)["linear"]
    header = [c.value for c in next(sheet.iter_rows(min_row=3, max_row=3, min_col=7, max_col=16))]
    assert header == SPREADSHEET_COLUMNS  # feature names equal the sheet headers
    cached = np.array([[c.value for c in r] for r in sheet.iter_rows(min_row=4, max_row=715, min_col=7, max_col=16)], dtype=float)
    np.testing.assert_allclose(X.to_numpy(), cached, rtol=0, atol=1e-12)


def test_notebook_preset_shapes(kaggle_train, kaggle_test):
    train = read_titanic(kaggle_train)
    test = read_titanic(kaggle_test, require_target=False)
    pre = TitanicPreprocessor("notebook").fit(train)
    X, T = pre.transform(train), pre.transform(test)
    assert X.shape == (891, 12) and T.shape == (418, 12)
    assert list(X.columns) == list(T.columns) == NOTEBOOK_COLUMNS
    assert not X.isna().any().any() and not T.isna().any().any()
    # The notebook's fills: modes of the training data, the test set's missing Fare is 0.
    assert pre.fill_values_["Age"] == 24.0 and pre.fill_values_["Embarked"] == "S"
    missing_fare = test["Fare"].isna().to_numpy()
    assert missing_fare.sum() == 1 and T["LogFare_N"].to_numpy()[missing_fare] == [0.0]
    # Divided by the training maximum, so training columns peak at exactly 1.
    assert X.max().tolist() == [1.0] * 12


def test_notebook_preset_on_bundled_data(bundled):
    X = TitanicPreprocessor("notebook").fit_transform(bundled)
    assert X.shape == (1309, 12) and not X.isna().any().any()


def test_transform_reuses_fit_statistics():
    train = pd.DataFrame({"Pclass": [1, 3], "Sex": ["male", "female"], "Age": [40.0, 20.0], "SibSp": [0, 1],
                          "Parch": [0, 0], "Fare": [9.0, 99.0], "Embarked": ["S", "C"]})
    test = train.assign(Age=[80.0, np.nan], Fare=[999.0, 0.0])
    pre = TitanicPreprocessor("spreadsheet").fit(train)
    out = pre.transform(test)
    # Age_N divides by the training max (40), fills missing Age with the training mode (20).
    assert out["Age_N"].tolist() == [2.0, 0.5]
    assert pre.scales_ == {"Age_N": (0.0, 40.0)}


def test_transform_before_fit_refuses():
    with pytest.raises(NotFittedError, match="call fit"):
        TitanicPreprocessor().transform(pd.DataFrame())


def test_unseen_category_warns_and_gives_zero_dummies(bundled):
    pre = TitanicPreprocessor("spreadsheet").fit(select_complete_rows(bundled))
    odd = bundled.head(3).assign(Embarked=["X", "S", "C"], Sex=["male", "other", "female"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = pre.transform(odd)
    messages = [str(w.message) for w in caught if issubclass(w.category, UnseenCategoryWarning)]
    assert any("Embarked" in m and "'X'" in m for m in messages)
    assert any("Sex" in m and "'other'" in m for m in messages)
    assert out.loc[0, ["Embark_S", "Embark_C"]].tolist() == [0.0, 0.0]
    assert out.loc[1, "Male"] == 0.0


def test_missing_column_and_non_numeric_are_named():
    with pytest.raises(Exception, match="missing columns for preset 'spreadsheet': Fare"):
        TitanicPreprocessor().fit(pd.DataFrame({c: [1] for c in ["Pclass", "Sex", "Age", "SibSp", "Parch", "Embarked"]}))
    bad = pd.DataFrame({"Pclass": [1], "Sex": ["male"], "Age": ["old"], "SibSp": [0], "Parch": [0], "Fare": [1.0], "Embarked": ["S"]})
    with pytest.raises(Exception, match="column Age has non-numeric value 'old'"):
        TitanicPreprocessor().fit(bad)


def test_sklearn_pipeline_and_clone(bundled):
    pipe = Pipeline([("pre", TitanicPreprocessor(preset="notebook")), ("clf", LogisticRegression(max_iter=1000))])
    pipe.fit(bundled, bundled["Survived"])
    assert pipe.score(bundled, bundled["Survived"]) > 0.75
    twin = clone(pipe.named_steps["pre"])
    assert twin.get_params() == {"preset": "notebook"} and not hasattr(twin, "preset_")
    assert list(pipe.named_steps["pre"].get_feature_names_out()) == NOTEBOOK_COLUMNS


def test_custom_preset_is_a_new_spec_not_new_code(bundled):
    preset = Preset("mine", (number("Fare", "Fare_z", scale="zscore"), dummies("Embarked", "E_"), ones()))
    out = TitanicPreprocessor(preset).fit_transform(bundled)
    assert list(out.columns) == ["Fare_z", "E_C", "E_Q", "E_S", "Ones"]  # learned levels, sorted
    assert abs(out["Fare_z"].mean()) < 1e-12 and abs(out["Fare_z"].std(ddof=0) - 1) < 1e-12


def test_select_complete_rows_is_explicit(bundled):
    kept = select_complete_rows(bundled, SPREADSHEET)
    assert len(kept) == 1044  # titanic3 rows with Age and Embarked
    assert kept["Age"].notna().all() and kept["Embarked"].notna().all()
    assert len(TitanicPreprocessor().fit_transform(bundled)) == 1309  # the transformer never drops rows


def test_sklearn_estimator_api_without_inheriting(bundled):
    from sklearn.exceptions import NotFittedError as SklearnNotFittedError
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.utils import get_tags
    from sklearn.utils.validation import check_is_fitted

    pre = TitanicPreprocessor()
    assert get_tags(pre).requires_fit and get_tags(pre).input_tags.string
    with pytest.raises(SklearnNotFittedError):
        check_is_fitted(pre)
    check_is_fitted(pre.fit(bundled))
    with pytest.raises(ValueError, match="no parameter 'scale'"):
        pre.set_params(scale="max")
    assert pre.set_params(preset="notebook").get_params() == {"preset": "notebook"}
    assert repr(pre) == "TitanicPreprocessor(preset='notebook')" and repr(TitanicPreprocessor()) == "TitanicPreprocessor()"
    pipe = Pipeline([("pre", TitanicPreprocessor()), ("clf", LogisticRegression(max_iter=1000))]).set_output(transform="pandas")
    search = GridSearchCV(pipe, {"pre__preset": ["spreadsheet", "extended"]}, cv=StratifiedKFold(3, shuffle=True, random_state=0))
    search.fit(bundled, bundled["Survived"])
    assert search.best_params_ == {"pre__preset": "extended"} and search.best_score_ > 0.75


def test_import_does_not_load_sklearn_torch_typer_or_openpyxl():
    code = ("import sys, titanic_lab.preprocessing; "
            "print(sorted(m for m in ('sklearn', 'scipy', 'torch', 'typer', 'openpyxl', 'xlsxwriter') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_extended_preset(kaggle_train, kaggle_test):
    from titanic_lab.preprocessing import title_group

    train, test = read_titanic(kaggle_train), read_titanic(kaggle_test, require_target=False)
    pre = TitanicPreprocessor("extended").fit(train)
    X, T = pre.transform(train), pre.transform(test)
    assert list(X.columns) == list(T.columns) and X.shape[1] == 16
    assert not X.isna().any().any() and not T.isna().any().any()
    assert X["Age_missing"].sum() == 177 and X["Cabin_known"].sum() == 204
    assert X.loc[0, ["Title_Mr", "Alone"]].tolist() == [1.0, 0.0]  # Braund, Mr. Owen Harris, travelling with 1
    # Fare per person: the training data's ticket groups only; a test ticket seen nowhere counts 1.
    assert pre.group_sizes_["log_FarePP"]["ca. 2343"] == 7  # tickets compared without case, as the sheet does
    assert [title_group(n) for n in ["Smith, Mlle. A", "X, Dr. Y", "no comma", "A, Master. B"]] == ["Miss", "rare", "rare", "Master"]


def test_frames_a_notebook_may_pass_get_clear_errors_or_work():
    """Int column names, a column named twice: one clear ValueError each (they raised AttributeError deep inside); a
    target that is no column warns (the real target became a feature unsaid); a datetime64 column is a date."""
    import numpy as np

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=40), "c": rng.choice(["a", "b", "c"], 40), "y": rng.normal(size=40)})
    with pytest.raises(ValueError, match=r"column 0 \(int\); name them"):
        TabularPreprocessor(target=2).fit(df.set_axis([0, 1, 2], axis=1))
    with pytest.raises(ValueError, match="two columns named 'x'"):
        TabularPreprocessor(target="y").fit(df.set_axis(["x", "x", "y"], axis=1))
    with pytest.warns(UserWarning, match="target 'nope' is not a column of the frame: every column becomes a feature"):
        TabularPreprocessor(target="nope").fit(df)  # a warning: scikit-learn's fit(X, y) passes X without the target
    when = df.assign(when=pd.date_range("2020-01-01", periods=40, freq="14D"))  # 2020 and 2021
    out = TabularPreprocessor(target="y").fit(when).transform(when)
    assert {"when_year", "when_month", "when_days"} <= set(out.columns) and out.notna().all().all()


def test_run_config_names_what_a_notebook_got_wrong():
    import numpy as np

    from titanic_lab import RunConfig
    from titanic_lab.errors import OptionError

    with pytest.raises(OptionError, match="--data is the path of a CSV file, not a DataFrame"):
        RunConfig(data=pd.DataFrame({"a": [1]}))
    with pytest.raises(OptionError, match="--lr must be a number, got 'fast'"):
        RunConfig(lr="fast")
    assert RunConfig(lr=np.float32(0.5)).lr == np.float32(0.5)  # a numpy number is a number
    assert RunConfig(models="linear").models == ("linear",)
