"""A feature kind is one record: registering a new one (one entry in
``titanic_lab.features.FEATURE_KINDS``) is enough for it to be fitted and transformed, described,
written to and read from a spec file, written to a workbook as formulas, recalculated by a
spreadsheet engine and recomputed by ``compare``."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import written_formulas
from titanic_lab import features
from titanic_lab.compare import compare_workbook
from titanic_lab.config import RunConfig
from titanic_lab.dataset import DatasetSpec, SpecError, Target, describe_feature, spec_from_toml, spec_to_toml, write_spec
from titanic_lab.engines import ENGINES
from titanic_lab.errors import OptionError
from titanic_lab.features.numeric import numbers
from titanic_lab.formulas import cell, col_letter
from titanic_lab.preprocessing import PRESETS, Feature, NotFittedError, Preset, TabularPreprocessor, number, ones
from titanic_lab.reading import sheet_values
from titanic_lab.runs import train_run
from titanic_lab.sheet_layout import FILL_ROW, FIRST_ROW, HEADER_ROW, SCALE_ROW
from titanic_lab.verify import verify_workbook
from titanic_lab.workbook import write_workbook

#: The square root: nothing like any built-in kind. It rises with its raw value alone, so its
#: divide-by-max divisor is written as SQRT(MAX(column)).
SQRT = features.FeatureKind(
    "sqrt",
    lambda f, source: features.named(f, f"sqrt({source})"),
    lambda f, ref, at: f"SQRT({ref})",
    values=lambda f, filled, df, fitted: np.sqrt(filled.to_numpy(dtype=float)),
    source=numbers,
    by_max=True,
)
STEP = Feature("area", "sqrt", "side_N", fill="median", scale="max")


@pytest.fixture
def sqrt_kind(monkeypatch):
    monkeypatch.setitem(features.FEATURE_KINDS, SQRT.name, SQRT)
    return SQRT


def rows(n: int = 150, seed: int = 0) -> pd.DataFrame:
    """Plots of land: their area (some blank), a width, and a price that grows with the side."""
    rng = np.random.default_rng(seed)
    area = rng.uniform(50, 2500, n)
    width = rng.uniform(5, 40, n)
    df = pd.DataFrame({"area": area, "width": width, "price": 4 * np.sqrt(area) + 0.5 * width + rng.normal(0, 3, n)})
    df.loc[rng.choice(n, 9, replace=False), "area"] = np.nan
    return df


def spec() -> DatasetSpec:
    steps = (STEP, number("width", "width_N", scale="max", fill="median"), ones("Ones"))
    return DatasetSpec("plots", Target("price", "regression"), Preset("plots", steps, description="sqrt of the area"))


@pytest.fixture
def sqrt_book(sqrt_kind, tmp_path):
    data, spec_file = tmp_path / "plots.csv", tmp_path / "plots.toml"
    rows().to_csv(data, index=False)
    write_spec(spec(), spec_file)
    run = train_run(RunConfig(data=str(data), target="price", spec=str(spec_file), models=("linear", "nnet"), epochs=5,
                              restarts=1))
    return run, write_workbook(run, tmp_path / "plots.xlsx")


def test_the_package_imports_without_torch_or_a_workbook_writer():
    code = "import sys, titanic_lab.features; print(sorted({'torch', 'sklearn', 'xlsxwriter'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


def test_every_preset_step_has_a_record():
    kinds = {f.kind for preset in PRESETS.values() for f in preset.features}
    assert kinds <= set(features.FEATURE_KINDS)
    assert all(features.feature_kind(k).name == k for k in kinds)


def test_a_new_kind_is_fitted_and_transformed(sqrt_kind):
    df = rows()
    pre = TabularPreprocessor(spec().features).fit(df)
    median = float(df["area"].median())
    side = np.sqrt(df["area"].fillna(median).to_numpy())
    assert pre.fill_values_["area"] == median
    assert pre.scales_["side_N"] == (0.0, side.max())
    X = pre.transform(df)
    np.testing.assert_allclose(X["side_N"], side / side.max(), rtol=0, atol=1e-15)
    # What fit learned is what transform uses: held-out rows are divided by the training maximum.
    held_out = pd.DataFrame({"area": [4 * side.max() ** 2, np.nan], "width": [10.0, 20.0]})
    np.testing.assert_allclose(pre.transform(held_out)["side_N"], [2.0, np.sqrt(median) / side.max()], rtol=1e-15)


def test_a_new_kind_is_described_and_round_trips_through_the_spec(sqrt_kind):
    assert describe_feature(STEP) == "side_N = sqrt(area (blank: median)) / max"
    text = spec_to_toml(spec())
    assert 'kind = "sqrt"' in text
    back = spec_from_toml(text, "plots.toml")
    assert back.features.features == spec().features.features
    assert back.describe() == spec().describe()


def test_an_unregistered_kind_is_refused():
    text = '[target]\ncolumn = "price"\ntask = "regression"\n\n[[features]]\ncolumn = "area"\nkind = "sqrt"\n'
    with pytest.raises(SpecError, match="entry 1: kind = 'sqrt'; write one of number, log"):
        spec_from_toml(text, "plots.toml")
    with pytest.raises(OptionError, match="unknown feature kind 'sqrt'"):
        Preset("plots", (STEP,))


def test_a_new_kind_is_written_as_formulas(sqrt_book):
    run, book = sqrt_book
    assert "feature side_N = sqrt(area (blank: median)) / max" in run.dataset.describe()
    header = sheet_values(book)["linear"][HEADER_ROW]
    formulas = written_formulas(book, "linear")
    col, area = header.index("side_N"), header.index("area")
    fill, divisor = cell(FILL_ROW, area, absolute=True), cell(SCALE_ROW, col, absolute=True)
    for row in (FIRST_ROW, FIRST_ROW + 149):  # any table's sheet uses A1 references (README: flavours)
        this_row = f"${col_letter(area)}{row + 1}"
        assert formulas[row, col] == f"SQRT(IF(ISBLANK({this_row}),{fill},{this_row}))/{divisor}"
    column = f"{cell(FIRST_ROW, area, absolute=True)}:{cell(FIRST_ROW + 149, area, absolute=True)}"
    assert formulas[SCALE_ROW, col] == f"SQRT(MAX({column}))"  # the kind's formula of the MAX
    values = sheet_values(book)["linear"]
    assert values[FILL_ROW][area] == pytest.approx(run.preprocessor.fill_values_["area"], rel=1e-15)  # as XlsxWriter rounds it
    np.testing.assert_allclose([r[col] for r in values[FIRST_ROW:FIRST_ROW + 150]], run.features["side_N"], rtol=1e-15)


def test_a_new_kind_passes_compare(sqrt_book):
    run, book = sqrt_book
    report = compare_workbook(book)
    assert report.ok
    for sheet in report.sheets:
        (side,) = [c for c in sheet.columns if c.column == "side_N"]
        assert side.cells == 150 and side.max_abs_diff <= 1e-12


@pytest.mark.parametrize("engine", ["ironcalc", "libreoffice"])
def test_a_new_kind_is_recalculated_by_a_spreadsheet_engine(sqrt_book, engine):
    if not ENGINES[engine].available():
        pytest.skip(f"{ENGINES[engine].title} is not installed")
    run, book = sqrt_book
    verified = verify_workbook(book, engine=engine)
    assert verified.ok, [(c.sheet, c.label, c.max_diff) for c in verified.columns if not c.ok(verified.tol)]
    assert any(c.label.startswith("side_N") for c in verified.columns)
    recalculated = compare_workbook(book, recalc=True, engine=engine)
    assert recalculated.ok and recalculated.engine == engine


def test_fills_learned_elsewhere_are_set_through_the_preprocessor():
    df = rows()
    pre = TabularPreprocessor(Preset("plots", (number("area", "area_N", scale="max", fill="median"), ones()))).fit(df)
    with pytest.raises(NotFittedError):
        TabularPreprocessor(pre.preset_).set_fills({"area": 0.0})
    with pytest.raises(OptionError, match="no feature fills column 'width'"):
        pre.set_fills({"width": 1.0})
    scale = pre.scales_["area_N"]
    X = pre.set_fills({"area": 0.0}).transform(df)
    assert pre.scales_["area_N"] == scale  # only the fill changed
    assert (X["area_N"][df["area"].isna()] == 0.0).all() and (X["area_N"][df["area"].notna()] > 0).all()
