"""Dates become features a sheet computes (year, month, day of the week, days since the first date);
a column that counts the rows is an id, whatever its name."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import written_formulas
from titanic_lab.cli import app
from titanic_lab.compare import compare_workbook
from titanic_lab.dataset import infer_spec, read_spec, spec_from_toml, spec_to_toml
from titanic_lab.engines import ENGINES
from titanic_lab.errors import TitanicLabError
from titanic_lab.features.dates import date_format, date_formula, serials
from titanic_lab.formulas import col_letter
from titanic_lab.preprocessing import TabularPreprocessor
from titanic_lab.reading import sheet_values
from titanic_lab.sheet_layout import FILL_ROW, FIRST_ROW, HEADER_ROW
from titanic_lab.verify import verify_workbook

runner = CliRunner()


def series(n: int = 120, seed: int = 3) -> pd.DataFrame:
    """A daily-ish time series, as an economics table writes it: R's rownames, ISO dates, a target."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2019-12-30", periods=n, freq="5D")
    sales = 100 + 0.1 * np.arange(n) + 4 * (days.day_of_week >= 5) + 3 * np.sin(days.month.to_numpy()) + rng.normal(0, 0.5, n)
    df = pd.DataFrame({"rownames": np.arange(1, n + 1), "date": days.strftime("%Y-%m-%d"), "sales": np.round(sales, 2)})
    df.loc[7, "date"] = None
    return df


def test_date_formats():
    assert date_format(pd.Series(["2020-01-15", "2021-12-31", None])) == "ISO8601"
    assert date_format(pd.Series(["2020-01-15 08:30", "2020-01-16T09:00:00"])) == "ISO8601"
    assert date_format(pd.Series(["2020/01/15", "2020/02/01"])) is not None
    assert date_format(pd.Series(["15.01.2020", "01.02.2020"])) == "%d.%m.%Y"
    for not_dates in (["2020-01-15", "soon"], ["01/02/2020", "03/04/2020"], ["2020-13-45"], [2020, 2021]):
        assert date_format(pd.Series(not_dates)) is None, not_dates


def test_serials_are_the_spreadsheets_day_numbers():
    # 2020-01-15 is day 43845 (IronCalc's DATEVALUE("2020-01-15") gave 43845, Excel's too).
    text = serials(pd.Series(["2020-01-15", "15.01.2020", "2020/01/15 12:00"]))
    assert text.tolist() == [43845.0, 43845.0, 43845.5]
    assert serials(pd.Series([dt.date(2020, 1, 15), dt.datetime(2020, 1, 15, 12), 43845.0, None])).tolist()[:3] == [
        43845.0, 43845.5, 43845.0]
    assert date_formula("2019-12-30") == "DATE(2019,12,30)"


def test_dates_beyond_pandas_nanosecond_range_are_read():
    """Years 1 to 9999 are dates (pandas' nanosecond timestamps stop at 1677-2262, which crashed train):
    9999-12-31 is Excel's last day, 2958465; one before 1900-03-01 leaves the column out, as any early date does."""
    assert serials(pd.Series(["9999-12-31", "2300-01-01", None])).tolist()[:2] == [2958465.0, 146099.0]
    assert serials(pd.Series([dt.date(9999, 12, 31)])).tolist() == [2958465.0]
    late, early = series(), series()
    late.loc[0, "date"], early.loc[0, "date"] = "9999-12-31", "1600-05-05"
    assert {f.kind for f in infer_spec(late, "sales").features.features if f.column == "date"} >= {"year", "days"}
    assert "before 1900-03-01" in infer_spec(early.assign(x=np.arange(len(early)) % 7), "sales").left_out["date"]


def test_inferred_steps_and_their_values():
    df = series()
    spec = infer_spec(df, "sales", name="shop")
    steps = {f.kind: f for f in spec.features.features if f.column == "date"}
    assert list(steps) == ["year", "month", "weekday", "days", "missing"]
    assert steps["days"].origin == "2019-12-30" and spec.left_out["rownames"].startswith("an id: it counts the rows")
    X = TabularPreprocessor(spec.features).fit(df).transform(df)
    when = pd.to_datetime(df["date"])
    present = when.notna()
    # Unscaled: month / its max (12), weekday / its max (7), days / the largest day count.
    np.testing.assert_allclose(X["date_month"][present] * 12, when[present].dt.month)
    np.testing.assert_allclose(X["date_weekday"][present] * 7, when[present].dt.day_of_week + 1)
    days = (when - pd.Timestamp("2019-12-30")).dt.days
    np.testing.assert_allclose(X["date_days"][present] * days.max(), days[present])
    assert X["date_missing"].tolist() == df["date"].isna().astype(float).tolist()


def test_a_value_that_is_not_a_date_is_named():
    df = series()
    pre = TabularPreprocessor(infer_spec(df, "sales").features).fit(df)
    with pytest.raises(TitanicLabError, match="column date has value 'next week' .* which is not a date"):
        pre.transform(df.assign(date=df["date"].where(df.index != 3, "next week")))


def test_spec_lists_them_and_drops_them(tmp_path):
    df = series()
    spec = infer_spec(df, "sales", name="shop")
    text = spec_to_toml(spec)
    assert 'kind = "weekday"' in text and 'origin = "2019-12-30"' in text
    assert spec_from_toml(text).features.features == spec.features.features
    dropped = text.replace('[[features]]\ncolumn = "date"\nkind = "weekday"', '[[features]]\ncolumn = "date"\nkind = "DROP"')
    entries = dropped.split("\n\n")
    kept = "\n\n".join(e for e in entries if 'kind = "DROP"' not in e)
    path = tmp_path / "shop.toml"
    path.write_text(kept, encoding="utf-8")
    assert "date_weekday" not in [f.name for f in read_spec(path).features.features]
    data = tmp_path / "shop.csv"
    df.to_csv(data, index=False)
    out = tmp_path / "shop.xlsx"
    result = runner.invoke(app, ["train", "--data", str(data), "--spec", str(path), "-m", "linear", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "date_weekday" not in sheet_values(out)["linear"][HEADER_ROW] and "date_month" in sheet_values(out)["linear"][HEADER_ROW]
    no_origin = text.replace('origin = "2019-12-30"\n', "")
    with pytest.raises(Exception, match='needs origin = "YYYY-MM-DD"'):
        spec_from_toml(no_origin, "shop.toml")


@pytest.fixture(scope="module")
def shop_book(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dates")
    data = tmp / "shop.csv"
    series().to_csv(data, index=False)
    out = tmp / "shop.xlsx"
    result = runner.invoke(app, ["train", "--data", str(data), "--target", "sales", "-m", "linear", "-m", "nnet",
                                 "--epochs", "200", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_the_sheet_computes_them_from_date_cells(shop_book):
    values = sheet_values(shop_book)["linear"]
    header = values[HEADER_ROW]
    date = header.index("date")
    assert values[FIRST_ROW][date] == dt.date(2019, 12, 30)  # a date cell, not text
    assert isinstance(values[FILL_ROW][date], dt.date)  # the median date fills the blank one
    formulas = written_formulas(shop_book, "linear")
    row = FIRST_ROW + 1  # a shared formula's member: read back written out; any table's sheet uses A1 references
    this_row = f"${col_letter(date)}{row + 1}"
    ref = f"IF(ISBLANK({this_row}),$B$2,{this_row})"
    assert formulas[row, header.index("date_month")].startswith(f"MONTH({ref})/")
    assert formulas[row, header.index("date_weekday")].startswith(f"WEEKDAY({ref},2)/")
    assert formulas[row, header.index("date_days")].startswith(f"({ref}-DATE(2019,12,30))/")
    assert formulas[row, header.index("date_year")].startswith(f"(YEAR({ref})-")
    assert compare_workbook(shop_book).ok


@pytest.mark.parametrize("engine", ["ironcalc", "libreoffice"])
def test_engines_compute_the_date_features(shop_book, engine):
    if not ENGINES[engine].available():
        pytest.skip(f"{ENGINES[engine].title} is not installed")
    verified = verify_workbook(shop_book, engine=engine)
    assert verified.ok, [(c.sheet, c.label, c.max_diff) for c in verified.columns if not c.ok(verified.tol)]
    assert {"date_year", "date_month", "date_weekday", "date_days"} <= {c.label.split(" ")[0] for c in verified.columns}


def test_a_column_that_counts_the_rows_is_an_id_whatever_its_name():
    df = series().assign(sales=lambda d: d["sales"].where(d.index % 9 != 4))  # rows with a blank target leave gaps
    kept = df.dropna(subset=["sales"]).reset_index(drop=True)
    assert "rownames" in infer_spec(kept, "sales").left_out
    fold = kept.iloc[sorted(np.random.default_rng(0).choice(len(kept), int(0.8 * len(kept)), replace=False))]
    assert "rownames" in infer_spec(fold.reset_index(drop=True), "sales").left_out  # a cross-validation fold's rows
    renamed = kept.rename(columns={"rownames": "n"})
    assert "n" in infer_spec(renamed, "sales").left_out
    years = pd.DataFrame({"year": np.arange(1990, 2020), "gdp": np.linspace(1, 3, 30) ** 2})
    assert "year" not in infer_spec(years, "gdp").left_out  # consecutive, but not counting the rows
    shuffled = kept.sample(frac=1, random_state=1)
    assert "rownames" not in infer_spec(shuffled.reset_index(drop=True), "sales").left_out  # not in file order
