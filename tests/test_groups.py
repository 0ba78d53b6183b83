"""The groups preset (woman-child-group features) and cross-validation that cannot leak through groups (issue 20)."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from titanic_lab import formulas as fx
from titanic_lab.cli import app
from titanic_lab.engines import ENGINES
from titanic_lab.leaderboard import Entry, cross_validate, group_splits
from titanic_lab.preprocessing import TitanicPreprocessor

runner = CliRunner()
GROUP_FEATURES = ["WomanChild", "Ticket_N", "WCG_rate", "WCG_died"]


def _family() -> pd.DataFrame:
    """Two families on two tickets; one more passenger alone."""
    rows = [
        ("Smith, Mrs. Anna", "female", "T1", 1), ("Smith, Master. Bob", "male", "T1", 1), ("Smith, Mr. Carl", "male", "T1", 0),
        ("Jones, Mrs. Dora", "female", "T2", 0), ("Jones, Miss. Eve", "female", "T2", 0), ("Brown, Mr. Fred", "male", "T3", 1),
    ]
    return pd.DataFrame([{"Name": n, "Sex": s, "Ticket": t, "Survived": y, "Pclass": 3, "Age": 30, "SibSp": 0, "Parch": 0,
                          "Fare": 7.25, "Embarked": "S", "Cabin": None} for n, s, t, y in rows])


def test_woman_child_group_features_by_hand():
    df = _family()
    out = TitanicPreprocessor("groups").fit(df).transform(df)
    assert out["WomanChild"].tolist() == [1, 1, 0, 1, 1, 0]
    # Anna's other woman-or-boy on T1 is Bob, who survived; Bob's is Anna. Dora's is Eve, who died.
    assert out["WCG_rate"].tolist() == [1, 1, 0, 0, 0, 0]
    assert out["WCG_died"].tolist() == [0, 0, 0, 1, 1, 0]  # men get 0, whatever their group
    assert out["Ticket_N"].tolist() == pytest.approx([1, 1, 1, 2 / 3, 2 / 3, 1 / 3])


def test_a_row_never_sees_its_own_label():
    df = _family()
    flipped = df.assign(Survived=df["Survived"].where(df.index != 3, 1))  # Dora survives instead
    before = TitanicPreprocessor("groups").fit(df).transform(df)
    after = TitanicPreprocessor("groups").fit(flipped).transform(flipped)
    assert after.loc[3, GROUP_FEATURES].tolist() == before.loc[3, GROUP_FEATURES].tolist()  # her own features
    assert after.loc[4, "WCG_rate"] == 1 and before.loc[4, "WCG_rate"] == 0  # Eve's, who sees her


def test_held_out_rows_use_training_rows_only(bundled):
    train, test = bundled.iloc[:900], bundled.iloc[900:]
    pre = TitanicPreprocessor("groups").fit(train)
    with_labels = pre.transform(test)
    without = pre.transform(test.drop(columns="Survived"))
    shuffled = pre.transform(test.assign(Survived=1 - test["Survived"]))
    pd.testing.assert_frame_equal(with_labels, without)
    pd.testing.assert_frame_equal(with_labels, shuffled)


def test_formulas_as_strings():
    assert fx.surname("A2") == 'LEFT(A2,FIND(",",A2&",")-1)'
    assert fx.others_in_group("(T=t)", "W", "w") == "(SUMPRODUCT((T=t)*W)-w)"
    text = fx.woman_child_group("wcg_died", "(T=t)", "(S=s)", "w", "W", "y", "Y")
    n_t, s_t = "(SUMPRODUCT((T=t)*W)-w)", "(SUMPRODUCT((T=t)*W*Y)-w*y)"
    n_s, s_s = "(SUMPRODUCT((S=s)*W)-w)", "(SUMPRODUCT((S=s)*W*Y)-w*y)"
    rate = f"IF({n_t}>0,{s_t}/{n_t},IF({n_s}>0,{s_s}/{n_s},0))"
    assert text == f"IF(AND(w=1,OR({n_t}>0,{n_s}>0)),IF({rate}=0,1,0),0)"


@pytest.mark.parametrize("engine, portable", [("ironcalc", False), ("libreoffice", False), ("gnumeric", True)])
def test_groups_workbook_verifies_and_compares(tmp_path, engine, portable):
    if not ENGINES[engine].available():
        pytest.skip(f"{engine} is not installed")
    book = tmp_path / "groups.xlsx"
    args = ["train", "--preset", "groups", "-m", "linear", "--epochs", "50", "--sample", "300", "--out", str(book)]
    assert runner.invoke(app, args + (["--portable"] if portable else [])).exit_code == 0
    verified = runner.invoke(app, ["verify", str(book), "--engine", engine])
    assert verified.exit_code == 0, verified.output
    if engine == "ironcalc":
        compared = runner.invoke(app, ["compare", str(book)])
        assert compared.exit_code == 0, compared.output


def test_predict_recomputes_group_features_from_the_workbook_rows(tmp_path, bundled):
    from titanic_lab.workbook.layout import read_model_sheets

    train, test = bundled.iloc[:1000], bundled.iloc[1000:]
    data, test_csv, book = tmp_path / "train.csv", tmp_path / "test.csv", tmp_path / "g.xlsx"
    train.to_csv(data, index=False)
    test.drop(columns="Survived").assign(PassengerId=range(1, len(test) + 1)).to_csv(test_csv, index=False)
    assert runner.invoke(app, ["train", "--data", str(data), "--preset", "groups", "-m", "linear", "--epochs", "50",
                               "--all-rows", "--out", str(book)]).exit_code == 0
    out = tmp_path / "p.csv"
    assert runner.invoke(app, ["predict", "--model", str(book), "--data", str(test_csv), "--out", str(out)]).exit_code == 0
    (sheet,) = read_model_sheets(book)
    pre = TitanicPreprocessor("groups").fit(sheet.frame)
    X = pre.transform(pd.read_csv(test_csv))[sheet.features].to_numpy()
    expected = (X @ sheet.params["w"] > 0.5).astype(int)
    assert (pd.read_csv(out)["Survived"].to_numpy() == expected).all()


def test_ticket_splits_never_share_a_ticket(bundled):
    splits = group_splits(bundled, folds=5, repeats=2, seed=42)
    tickets = bundled["Ticket"].astype(str).str.lower().to_numpy()
    assert len(splits) == 10
    for train_idx, test_idx in splits:
        assert not set(tickets[train_idx]) & set(tickets[test_idx])


def test_cross_validation_reports_both_estimates(bundled):
    (score,) = cross_validate(bundled.sample(400, random_state=0), [Entry("gender rule", "gender", "notebook", False)],
                              folds=4, repeats=1, grouped=True)
    assert len(score.accuracies) == len(score.grouped_accuracies) == 4
    assert 0.6 < score.grouped_accuracy < 0.9
