from __future__ import annotations

import io

import pandas as pd

import pytest

from conftest import KAGGLE_HEADER, KAGGLE_ROWS, write_csv
from titanic_lab.data import RAW_COLUMNS, bundled_path, default_data_path, read_titanic
from titanic_lab.errors import DataError


def test_bundled_titanic3_is_mapped_to_kaggle_names(bundled):
    assert bundled.shape[0] == 1309
    for column in (*RAW_COLUMNS, "Survived", "Name", "Ticket", "Cabin"):
        assert column in bundled.columns
    # '?' is titanic3's missing marker.
    assert bundled["Age"].isna().sum() == 263
    assert bundled["Embarked"].isna().sum() == 2
    assert set(bundled["Survived"].unique()) == {0, 1}


def test_bundled_file_ships_inside_the_package():
    path = bundled_path()
    assert path.is_file()
    assert "titanic_lab" in path.parts


def test_kaggle_schema(kaggle_train, kaggle_test):
    train = read_titanic(kaggle_train)
    assert train.shape == (891, 12)
    assert train["Age"].isna().sum() == 177
    test = read_titanic(kaggle_test, require_target=False)
    assert test.shape == (418, 11)
    with pytest.raises(DataError, match="missing required columns: Survived"):
        read_titanic(kaggle_test)


def test_default_data_prefers_local_train_csv(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert default_data_path() == bundled_path()
    (tmp_path / "data").mkdir()
    local = write_csv(tmp_path / "data", KAGGLE_HEADER + KAGGLE_ROWS)
    assert default_data_path().resolve() == local.resolve()


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "the file is empty"),
        (KAGGLE_HEADER, "has a header but no data rows"),
        ("PassengerId,Survived,Name\n1,0,x\n", "missing required columns: Pclass, Sex, Age, SibSp, Parch, Fare, Embarked"),
        (KAGGLE_HEADER + KAGGLE_ROWS.replace(",22,", ",abc,"), "column Age has non-numeric value 'abc' on line 2"),
        (KAGGLE_HEADER + KAGGLE_ROWS.replace("3,1,3,", "3,2,3,"), "column Survived must be 0 or 1, found 2 on line 4"),
        (KAGGLE_HEADER + KAGGLE_ROWS.replace("3,1,3,", "3,,3,"), "column Survived must be 0 or 1, found blank on line 4"),
        (KAGGLE_HEADER + KAGGLE_ROWS.replace(",7.25,", ",-7.25,"), "column Fare has negative value"),
        (KAGGLE_HEADER + KAGGLE_ROWS.replace(",7.25,", ",inf,"), "column Fare has non-finite value"),
        (KAGGLE_HEADER + KAGGLE_ROWS.replace("3,1,3,", "2,1,3,"), "column PassengerId repeats value 2 on line 4"),
    ],
    ids=["empty", "header-only", "missing-columns", "age-abc", "survived-2", "survived-blank",
         "negative-fare", "inf-fare", "duplicate-id"],
)
def test_bad_input_names_file_and_problem(tmp_path, text, message):
    path = write_csv(tmp_path, text)
    with pytest.raises(DataError) as info:
        read_titanic(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_missing_file_and_workbook_passed_as_csv(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_titanic(tmp_path / "nope.csv")
    fake = tmp_path / "book.csv"
    fake.write_bytes(b"PK\x03\x04rest-of-a-zip")
    with pytest.raises(DataError, match="not a CSV"):
        read_titanic(fake)


def test_excel_dialects_read_as_kaggle_rows(tmp_path):
    """A Titanic CSV saved by European Excel (semicolons, decimal commas, Windows-1252) reads as the comma file does."""
    plain = read_titanic(write_csv(tmp_path, KAGGLE_HEADER + KAGGLE_ROWS))
    text = pd.read_csv(io.StringIO(KAGGLE_HEADER + KAGGLE_ROWS)).replace("Laina", "Laïna", regex=True)
    path = tmp_path / "europe.csv"
    path.write_bytes(text.to_csv(sep=";", decimal=",", index=False, lineterminator="\r\n").encode("cp1252"))
    rows = read_titanic(path)
    pd.testing.assert_frame_equal(rows.drop(columns="Name"), plain.drop(columns="Name"), check_dtype=False)
    assert rows["Name"].str.contains("Laïna").any()




@pytest.mark.parametrize("blank, line", [("\n", 2), ("\n\r\n", 3), ("  \n\t\n\n", 4)])
@pytest.mark.parametrize("twice", [",Age,", ",age ,"])
def test_a_header_named_twice_after_blank_lines_is_refused(tmp_path, blank, line, twice):
    """pandas skips blank lines above the header; the check of the header as written skips them too, and names the
    header's line (it read the blank line as an empty header: two Age columns went through)."""
    path = write_csv(tmp_path, blank + (KAGGLE_HEADER + KAGGLE_ROWS).replace(",Ticket,", twice, 1))
    with pytest.raises(DataError, match=f"columns 6 and 9 of the header \\(line {line}\\) are both named 'Age'"):
        read_titanic(path)
    path = write_csv(tmp_path, blank + KAGGLE_HEADER + KAGGLE_ROWS)
    pd.testing.assert_frame_equal(read_titanic(path), read_titanic(write_csv(tmp_path, KAGGLE_HEADER + KAGGLE_ROWS, "plain.csv")))
