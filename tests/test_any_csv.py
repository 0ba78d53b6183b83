"""Any CSV with --target: the inferred spec, its TOML, regression and text targets, every command.

The tables are made here, seeded, so the tests need nothing beside the project. Real datasets
(palmerpenguins, scikit-learn's) are checked in tests/test_real_datasets.py.
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from titanic_lab.cli import app
from titanic_lab.config import RunConfig
from titanic_lab.dataset import (
    MAX_LEVELS,
    SpecError,
    Target,
    infer_spec,
    infer_target,
    read_spec,
    read_table,
    spec_from_toml,
    spec_to_toml,
)
from titanic_lab.errors import DataError
from titanic_lab.preprocessing import TabularPreprocessor
from titanic_lab.runs import train_run

runner = CliRunner()


def table(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """A mixed table: an id, numbers (plain, skewed, negative, year-like), text with two and
    three levels, free text, a constant, blanks, and a numeric target."""
    rng = np.random.default_rng(seed)
    size = rng.uniform(20, 200, n)
    income = rng.lognormal(3, 1, n)
    change = rng.normal(0, 5, n)
    year = rng.integers(1990, 2021, n).astype(float)
    colour = rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2])
    owner = rng.choice(["yes", "no"], n)
    target = 3 * size + 40 * np.log1p(income) - 8 * change + 50 * (colour == "green") + 90 * (owner == "yes") + rng.normal(0, 20, n)
    df = pd.DataFrame({
        "house_id": np.arange(1001, 1001 + n),
        "size": size, "income": income, "change": change, "year": year,
        "colour": colour, "owner": owner, "note": [f"free text {i}" for i in range(n)],
        "country": "NL", "price": target,
    })
    df.loc[rng.choice(n, 12, replace=False), "size"] = np.nan
    df.loc[rng.choice(n, 7, replace=False), "colour"] = np.nan
    return df


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("any")
    df = table()
    df.iloc[:200].to_csv(folder / "train.csv", index=False)
    df.iloc[200:].drop(columns=["price"]).to_csv(folder / "test.csv", index=False)
    binary = df.assign(expensive=np.where(df["price"] > df["price"].median(), "Yes", "No")).drop(columns=["price"])
    binary.iloc[:200].to_csv(folder / "binary.csv", index=False)
    binary.iloc[200:].drop(columns=["expensive", "house_id"]).to_csv(folder / "binary_test.csv", index=False)
    return folder


def test_a_skewed_column_keeps_its_scale_when_the_target_follows_it():
    rng = np.random.default_rng(3)
    capital = rng.lognormal(3, 1.2, 300)
    df = pd.DataFrame({"capital": capital, "invest": 0.3 * capital + rng.normal(0, 1, 300)})
    (step, _) = infer_spec(df, "invest").features.features
    assert (step.kind, step.output_name) == ("number", "capital_N")  # log would bend a straight line
    df["invest"] = np.log1p(capital) + rng.normal(0, 0.1, 300)
    assert infer_spec(df, "invest").features.features[0].kind == "log"


def test_inferred_features_follow_the_rules():
    spec = infer_spec(table(), "price", "house_id")
    steps = {f.column: f for f in spec.features.features if f.kind != "missing"}
    assert (steps["size"].kind, steps["size"].scale, steps["size"].fill, steps["size"].output_name) == ("number", "max", "median", "size_N")
    assert (steps["income"].kind, steps["income"].output_name) == ("log", "log_income")  # skewed, positive
    assert (steps["change"].scale, steps["year"].scale) == ("zscore", "zscore")  # negative; far from 0
    assert (steps["colour"].kind, steps["colour"].baseline, steps["colour"].levels) == ("dummies", None, ("blue", "green", "red"))
    assert (steps["owner"].kind, steps["owner"].positive) == ("binary", "yes")
    assert {f.output_name for f in spec.features.features if f.kind == "missing"} == {"size_missing", "colour_missing"}
    assert set(spec.left_out) == {"note", "country"} and "house_id" not in steps and "price" not in steps
    assert spec.features.features[-1].kind == "ones"
    assert spec.target == Target("price", "regression")


def test_a_text_column_of_many_levels_becomes_dummies_up_to_max_levels():
    """A column such as a US state (here 56 levels, 6 rows each and 12 of the first) is dummies, one per level (no
    baseline); one more level than MAX_LEVELS, and it is left out with the count."""
    rng = np.random.default_rng(4)
    for levels, kept in ((56, True), (MAX_LEVELS + 1, False)):
        names = [f"s{k:03d}" for k in range(levels)]
        state = np.concatenate([np.repeat(names, 6), [names[0]] * 6])  # s000 the most common: a column too
        effect = dict(zip(names, rng.normal(0, 10, levels)))
        df = pd.DataFrame({"state": state, "x": rng.normal(size=len(state))})
        df["y"] = df["state"].map(effect) + df["x"] + rng.normal(0, 0.1, len(df))
        spec = infer_spec(df, "y")
        if kept:
            (step,) = [f for f in spec.features.features if f.column == "state"]
            assert (step.kind, step.baseline, len(step.levels)) == ("dummies", None, levels)
            assert "state" not in spec.left_out
        else:
            assert spec.left_out["state"] == f"{levels} different values, more than the {MAX_LEVELS} that become dummy columns"


def test_text_levels_that_differ_only_in_case_are_one_level_as_a_spreadsheet_compares_them(tmp_path):
    """IF(cell="Yes",1,0) is 1 for "yes" and "YES" in every spreadsheet: a column of Yes/yes/No/no is one 0/1 column,
    and MIT Press/MIT press one dummy (two would have one header without case, which a table refuses); the features
    computed here equal the recalculated sheet's (verify), and a level in another case is not unseen."""
    answer = ["Yes", "yes", "No", "no", "YES", "No", "yes", "no", "Yes", "No", "yes", "no"]
    pub = ["MIT Press", "MIT press", "Oxford", "oxford", "Wiley", "Wiley", "MIT Press", "Oxford", "Wiley", "MIT Press",
           "Oxford", "Wiley"]
    df = pd.DataFrame({"answer": answer, "pub": pub, "size": np.linspace(0.5, 3.5, 12), "y": np.linspace(1, 4, 12)})
    steps = {f.column: f for f in infer_spec(df, "y").features.features}
    assert (steps["answer"].kind, steps["answer"].positive) == ("binary", "yes")
    assert (steps["pub"].kind, steps["pub"].baseline, steps["pub"].levels) == ("dummies", None, ("MIT Press", "Oxford", "Wiley"))
    out = TabularPreprocessor(target="y").fit(df).transform(df)
    assert out["answer_yes"].tolist() == [float(a.lower() == "yes") for a in answer]
    assert out["pub_MIT Press"].tolist() == [float(p.lower() == "mit press") for p in pub]
    data = tmp_path / "case.csv"
    df.to_csv(data, index=False)
    book = tmp_path / "case.xlsx"
    result = runner.invoke(app, ["train", "--data", str(data), "--target", "y", "--model", "linear", "--out", str(book)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["verify", str(book)])
    assert result.exit_code == 0 and "all " in result.output, result.output
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "mit PRESS" is the level MIT Press: no unseen-value warning
        TabularPreprocessor(target="y").fit(df).transform(pd.DataFrame({"answer": ["YES"], "pub": ["mit PRESS"], "size": [1.0]}))


def test_a_given_baseline_or_fill_or_class_that_differs_only_in_case_follows_the_sheet():
    """A spec's baseline 'a' beside a level 'A' is the baseline, in the names known before fit as in fit's; blanks
    take the most common level without case; a woman is 'Female' too; a multiclass target whose classes differ
    only in case is refused in one line (the sheet's MATCH would take them for one class)."""
    from titanic_lab.features.preset import Preset
    from titanic_lab.features.steps import dummies, ones
    from titanic_lab.features.titanic import woman_child
    from titanic_lab.tasks import check_classes

    preset = Preset("p", (dummies("c", "c_", levels=("A", "b"), baseline="a"), ones("Ones")))
    df = pd.DataFrame({"c": ["A", "a", "b", "B", "a"], "y": [1.0, 2, 3, 4, 5]})
    pre = TabularPreprocessor(preset, target="y").fit(df)
    assert preset.feature_names == tuple(pre.feature_names_out_) == ("c_b", "Ones")
    assert pre.transform(df)["c_b"].tolist() == [0.0, 0.0, 1.0, 1.0, 0.0]
    blanks = pd.DataFrame({"c": ["b", "b", "b", "A", "A", "a", "a", "d", "d", None], "y": np.arange(10.0)})
    fitted = TabularPreprocessor(target="y").fit(blanks)
    assert fitted.fill_values_["c"] == "A" and fitted.preset_.features[0].levels == ("A", "b", "d")  # A and a: 4 rows, b: 3
    assert woman_child(pd.DataFrame({"Sex": ["Female", "male"], "Name": ["Doe, Mrs. A", "Doe, Mr. B"]})).tolist() == [1.0, 0.0]
    with pytest.raises(DataError, match="classes 'Setosa' and 'setosa' differ only in case"):
        check_classes(pd.Series(["setosa", "Setosa", "virginica", "versicolor"] * 2), "species", "t.csv")


def test_feature_names_never_repeat_a_column():
    df = pd.DataFrame({"a": [1.0, 2, 3, 4], "a_N": [5.0, 1, 2, 3], "Ones": [1.0, 0, 1, 1], "y": [0, 1, 0, 1]})
    names = [f.output_name for f in infer_spec(df, "y").features.features]
    assert len({n.lower() for n in names} | {c.lower() for c in df.columns}) == len(names) + len(df.columns)


@pytest.mark.parametrize("values, expected", [
    ([0, 1, 1, 0], Target("y", "binary")),
    (["No", "Yes", "Yes", "No"], Target("y", "binary", ("No", "Yes"))),
    (["b", "a", "a", "b"], Target("y", "binary", ("a", "b"))),
    ([1, 2, 2, 1], Target("y", "binary", (1, 2))),
    ([1.5, 2.0, 7.25, 3.0], Target("y", "regression")),
])
def test_target_task(values, expected):
    assert infer_target(pd.DataFrame({"y": values}), "y") == expected


def test_target_with_three_text_values_is_multiclass():
    assert infer_target(pd.DataFrame({"y": ["c", "b", "a", "a", "b", "c"]}), "y") == Target("y", "multiclass", ("a", "b", "c"))
    with pytest.raises(DataError, match="class 'b' has a single row"):  # once: never both learned and checked
        infer_target(pd.DataFrame({"y": ["a", "b", "c", "a", "c"]}), "y")


def test_target_encoding_and_decoding():
    text = Target("y", "binary", ("No", "Yes"))
    assert text.values(pd.Series(["Yes", "No", "Yes"])).tolist() == [1.0, 0.0, 1.0]
    assert text.decode(np.array([0.7, 0.2])).tolist() == ["Yes", "No"]
    money = Target("y", "regression").learn_scale(pd.Series([10.0, -250.0, 40.0]))
    assert money.offset == -250.0  # the smallest: what the model learns starts at 0
    assert money.scale == pytest.approx(np.sqrt((260**2 + 0 + 290**2) / 3))  # the root mean square above it
    assert money.learned(np.array([10.0, -250.0, 40.0])).tolist() == pytest.approx([260 / money.scale, 0.0, 290 / money.scale])
    assert money.decode(np.array([0.5])).tolist() == [0.5 * money.scale - 250.0]
    assert money.in_units(money.learned(np.array([7.0, 1e6]))) == pytest.approx([7.0, 1e6])
    scores = money.scores(np.array([0.1, 0.2]), np.array([0.1, 0.4]))
    assert scores["rmse"] == pytest.approx(np.sqrt((0.2 * money.scale) ** 2 / 2))
    given = Target("y", "regression", scale=2.0)  # a spec's scale alone: learned as y / 2, as before the offset
    assert given.learn_scale(pd.Series([10.0, 20.0])) == given and given.learned(np.array([4.0])).tolist() == [2.0]


def test_spec_round_trips_through_toml():
    spec = infer_spec(table(), "price", "house_id", name="houses")
    back = spec_from_toml(spec_to_toml(spec))
    assert back.features.features == spec.features.features
    assert (back.target, back.id_column, back.left_out, back.name) == (spec.target, spec.id_column, spec.left_out, spec.name)


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace('kind = "log"', 'kind = "cube"'), "kind = 'cube'"),
    (lambda t: t.replace('fill = "median"', 'fill = "average"', 1), "fill = 'average'"),
    (lambda t: t.replace("[target]", "[target]\ncolour = 1"), "unknown key 'colour'"),
    (lambda t: t.replace('task = "regression"', 'task = "ranking"'), "task = 'ranking'"),
    (lambda t: t + "\n[[features\n", "not valid TOML"),
])
def test_a_bad_spec_names_the_entry(edit, message):
    text = edit(spec_to_toml(infer_spec(table(), "price", "house_id")))
    with pytest.raises(SpecError, match=message):
        spec_from_toml(text, "spec.toml")


def test_tabular_preprocessor_infers_and_keeps_what_fit_learned():
    df = table()
    pre = TabularPreprocessor(target="price").fit(df.iloc[:150])
    out = pre.transform(df.iloc[150:])
    assert list(out.columns) == pre.feature_names_out_ and "price" not in pre.preset_.raw_columns
    assert out["size_N"].max() > 0 and set(pre.left_out_) == {"house_id", "note", "country"}
    assert repr(pre) == "TabularPreprocessor(target='price')"


def test_dataset_and_preprocessing_import_without_torch_or_sklearn():
    code = ("import sys, titanic_lab.dataset, titanic_lab.preprocessing; "
            "print(sorted(m for m in ('sklearn', 'torch', 'typer', 'xlsxwriter') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


def test_linear_reaches_least_squares_on_a_regression_target(files):
    # --l2 0: no penalty chosen by data (tests/test_choosing.py checks the ridge it then reaches).
    run = train_run(RunConfig(data=str(files / "train.csv"), target="price", id_column="house_id", models=("linear",), valid_pct=0,
                              l2=0.0))
    X, y = run.X.to(torch.float64), run.y.to(torch.float64)
    optimum = torch.linalg.lstsq(X, y.unsqueeze(1), driver="gelsd").solution
    best = float(((X @ optimum).squeeze(1) - y).pow(2).mean())
    assert run.results["linear"].train_loss == pytest.approx(best, rel=1e-6)
    price = pd.read_csv(files / "train.csv")["price"]
    assert run.dataset.target.offset == price.min()
    assert run.dataset.target.scale == pytest.approx(float(np.sqrt(((price - price.min()) ** 2).mean())))


def test_regression_end_to_end(files, tmp_path):
    book, spec, preds = tmp_path / "w.xlsx", tmp_path / "spec.toml", tmp_path / "preds.csv"
    result = runner.invoke(app, ["train", "--data", str(files / "train.csv"), "--target", "price", "--id", "house_id",
                                 "--epochs", "300", "--out", str(book), "--spec-out", str(spec)])
    assert result.exit_code == 0, result.output
    assert "left out note: free text" in result.output and "target: price: regression" in result.output
    assert read_spec(spec).target.scale is not None
    for command in (["verify", str(book)], ["compare", str(book)]):
        checked = runner.invoke(app, command)
        assert checked.exit_code == 0, checked.output
    result = runner.invoke(app, ["predict", "--model", str(book), "--data", str(files / "test.csv"), "--out", str(preds)])
    assert result.exit_code == 0, result.output
    written = pd.read_csv(preds)
    test = pd.read_csv(files / "test.csv")
    assert list(written.columns) == ["house_id", "price"] and written["house_id"].tolist() == test["house_id"].tolist()
    truth = table().iloc[200:]["price"].to_numpy()
    assert np.sqrt(np.mean((written["price"].to_numpy() - truth) ** 2)) < 0.5 * truth.std()  # in the target's units


def test_text_target_end_to_end(files, tmp_path):
    book, preds = tmp_path / "w.xlsx", tmp_path / "preds.csv"
    result = runner.invoke(app, ["train", "--data", str(files / "binary.csv"), "--target", "expensive",
                                 "-m", "linear", "-m", "sigmoid", "--epochs", "200", "--out", str(book)])
    assert result.exit_code == 0, result.output
    assert "expensive: binary (No = 0, Yes = 1)" in result.output and "left out house_id: an id" in result.output
    assert runner.invoke(app, ["verify", str(book)]).exit_code == 0
    result = runner.invoke(app, ["predict", "--model", str(book), "--data", str(files / "binary_test.csv"), "--out", str(preds)])
    assert result.exit_code == 0, result.output
    written = pd.read_csv(preds)
    assert list(written.columns) == ["row", "expensive"] and written["row"].tolist() == list(range(1, 41))
    assert set(written["expensive"]) <= {"Yes", "No"}


def test_edited_spec_is_used(files, tmp_path):
    spec, book = tmp_path / "spec.toml", tmp_path / "w.xlsx"
    spec.write_text(spec_to_toml(infer_spec(table(), "price", "house_id")).replace('name = "log_income"', 'name = "LogIncome"'))
    result = runner.invoke(app, ["train", "--data", str(files / "train.csv"), "--spec", str(spec), "-m", "linear",
                                 "--epochs", "50", "--out", str(book), "--json"])
    assert result.exit_code == 0, result.output
    import json

    assert "LogIncome" in json.loads(result.stdout)["features"]
    assert runner.invoke(app, ["compare", str(book)]).exit_code == 0


@pytest.mark.parametrize("extra, message", [
    (["--target", "prize"], "--target 'prize': no such column"),
    (["--target", "colour", "--task", "regression"], "--task regression: target colour holds text"),
    (["--target", "price", "--preset", "notebook"], "--preset chooses Titanic's features"),
    (["--target", "price", "-m", "sigmoid"], "regression target"),
    (["--target", "price", "-m", "nnet", "--batchnorm", "--backprop-sheet"], "--backprop-sheet with --model nnet"),
    (["--target", "price", "--id", "size"], "id column size is blank"),
])
def test_bad_options_get_one_line(files, tmp_path, extra, message):
    out = tmp_path / "w.xlsx"
    result = runner.invoke(app, ["train", "--data", str(files / "train.csv"), *extra, "--out", str(out)])
    assert result.exit_code == 2 and message in result.output, result.output
    assert "Traceback" not in result.output and not out.exists()


def test_a_column_named_like_a_model_cell_is_refused(tmp_path):
    data = tmp_path / "loss.csv"
    table().rename(columns={"size": "Loss"}).to_csv(data, index=False)
    result = runner.invoke(app, ["train", "--data", str(data), "--target", "price", "--out", str(tmp_path / "w.xlsx")])
    assert result.exit_code == 2 and "column 'Loss' has the name of a cell" in result.output


def test_a_spec_feature_reading_the_target_is_refused(files, tmp_path):
    spec = tmp_path / "spec.toml"
    text = spec_to_toml(infer_spec(table(), "price", "house_id"))
    spec.write_text(text.replace('column = "income"', 'column = "price"'))
    result = runner.invoke(app, ["train", "--data", str(files / "train.csv"), "--spec", str(spec), "--out", str(tmp_path / "w.xlsx")])
    assert result.exit_code == 2 and "reads the target column price" in result.output


def test_text_from_data_is_never_a_formula(tmp_path):
    from titanic_lab.reading import formula_cells

    df = table(120)
    df["colour"] = df["colour"].replace({"green": '=HYPERLINK("http://x","y")', "blue": "+1+1"})
    data, book = tmp_path / "hostile.csv", tmp_path / "w.xlsx"
    df.to_csv(data, index=False)
    result = runner.invoke(app, ["train", "--data", str(data), "--target", "price", "-m", "linear", "--epochs", "20", "--out", str(book)])
    assert result.exit_code == 0, result.output
    formulas = [f for cells in formula_cells(book).values() for f in cells.values()]
    assert all(f.count("HYPERLINK") == f.count('"=HYPERLINK(""http://x"",""y"")"') for f in formulas)
    assert runner.invoke(app, ["verify", str(book)]).exit_code == 0


def test_more_bad_input_gets_one_line(files, tmp_path):
    only_target = tmp_path / "only.csv"
    pd.DataFrame({"y": [1.0, 2.0, 3.5], "code": ["a", "b", "c"]}).to_csv(only_target, index=False)
    blank = tmp_path / "blank.csv"
    pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [None, None, None]}).to_csv(blank, index=False)
    repeated = tmp_path / "repeated.csv"
    table(20).assign(house_id=1).to_csv(repeated, index=False)
    twice = tmp_path / "twice.csv"
    twice.write_text("Age,x,age,y\n1,2,3,4\n5,6,7,8\n")
    spec = tmp_path / "spec.toml"
    spec.write_text(spec_to_toml(infer_spec(table(), "price", "house_id")).replace('column = "income"', 'column = "salary"'))
    out = tmp_path / "w.xlsx"
    train = ["train", "--out", str(out), "--data"]
    cases = [
        (train + [str(only_target), "--target", "y"], "no column gives a feature (code: free text"),
        (train + [str(blank), "--target", "y"], "target y is blank in every row"),
        (train + [str(repeated), "--target", "price", "--id", "house_id"], "id column house_id repeats value '1' on line 3"),
        (train + [str(twice), "--target", "y"], "columns 1 and 3 of the header are both named 'age'"),
        (train + [str(files / "train.csv"), "--target", "Price"], "did you mean 'price'?"),
        (train + [str(files / "train.csv"), "--spec", str(spec)], "missing column(s) salary"),
        (train + [str(files / "train.csv"), "--spec", str(tmp_path / "none.toml")], "none.toml: no such file"),
        (train + [str(files / "train.csv"), "--target", "price", "--spec-out", str(files / "train.csv")], "--spec-out"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and message in result.output and len(result.output.strip().splitlines()) <= 2, (args, result.output)
        assert not out.exists()
    assert pd.read_csv(files / "train.csv").shape == (200, 10)  # --spec-out never overwrote the data


def test_predict_reads_the_first_rows_once_and_the_sheet_as_a_whole_read_does(files, tmp_path, monkeypatch):
    """predict reads each sheet's first rows and the stored spec once, to choose the sheet and to read it; the
    sheet read with them is the sheet read on its own (params, raw rows, fills, what it records)."""
    from titanic_lab.predict import predict_from_workbook
    from titanic_lab.reading import sheet_heads
    from titanic_lab.workbook import layout

    book = tmp_path / "w.xlsx"
    result = runner.invoke(app, ["train", "--data", str(files / "train.csv"), "--target", "price", "--id", "house_id",
                                 "-m", "linear", "-m", "nnet", "--epochs", "30", "--out", str(book)])
    assert result.exit_code == 0, result.output
    whole = {s.name: s for s in layout.read_model_sheets(book, formulas=False)}
    reads = []
    monkeypatch.setattr(layout, "sheet_heads", lambda *args: reads.append(args) or sheet_heads(*args))
    _, chosen = predict_from_workbook(book, files / "test.csv")
    assert len(reads) == 1
    alone = whole[chosen.name]
    assert chosen.params.keys() == alone.params.keys() and all(np.array_equal(chosen.params[k], alone.params[k]) for k in alone.params)
    pd.testing.assert_frame_equal(chosen.frame, alone.frame)
    assert (chosen.fills, chosen.validation, chosen.valid_loss, chosen.total, chosen.spec, chosen.dataset) == \
        (alone.fills, alone.validation, alone.valid_loss, alone.total, alone.spec, alone.dataset)


def test_predict_refuses_rows_without_a_feature_column(files, tmp_path):
    book, rows = tmp_path / "w.xlsx", tmp_path / "rows.csv"
    assert runner.invoke(app, ["train", "--data", str(files / "train.csv"), "--target", "price", "--id", "house_id", "-m", "linear",
                               "--epochs", "5", "--out", str(book)]).exit_code == 0
    pd.read_csv(files / "test.csv").drop(columns=["income"]).to_csv(rows, index=False)
    result = runner.invoke(app, ["predict", "--model", str(book), "--data", str(rows), "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 2 and "missing column(s) income" in result.output
    assert not (tmp_path / "p.csv").exists()


def test_predict_refuses_rows_it_was_trained_on(files, tmp_path):
    book = tmp_path / "w.xlsx"
    assert runner.invoke(app, ["train", "--data", str(files / "train.csv"), "--target", "price", "--id", "house_id", "-m", "linear",
                               "--epochs", "5", "--out", str(book)]).exit_code == 0
    result = runner.invoke(app, ["predict", "--model", str(book), "--data", str(files / "train.csv"), "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 2 and "200 of its rows have the house_id of a row" in result.output
    allowed = runner.invoke(app, ["predict", "--model", str(book), "--data", str(files / "train.csv"), "--out", str(tmp_path / "p.csv"),
                                  "--allow-overlap"])
    assert allowed.exit_code == 0, allowed.output


def test_a_true_false_target_is_predicted_in_its_words(tmp_path):
    df = table(120)
    df["big"] = df["price"] > df["price"].median()
    data, book, preds = tmp_path / "big.csv", tmp_path / "w.xlsx", tmp_path / "p.csv"
    df.drop(columns=["price"]).to_csv(data, index=False)
    result = runner.invoke(app, ["train", "--data", str(data), "--target", "big", "-m", "linear", "--epochs", "5", "--out", str(book)])
    assert result.exit_code == 0 and "big: binary (False = 0, True = 1)" in result.output, result.output
    df.drop(columns=["price", "big", "house_id"]).to_csv(tmp_path / "rows.csv", index=False)
    assert runner.invoke(app, ["predict", "--model", str(book), "--data", str(tmp_path / "rows.csv"), "--out", str(preds)]).exit_code == 0
    assert set(pd.read_csv(preds)["big"]) <= {True, False}


def test_any_table_defaults_reach_their_optimum(files):
    from titanic_lab.runs import model_settings

    config = RunConfig(data=str(files / "binary.csv"), target="expensive", models=("linear", "sigmoid", "nnet"))
    chosen = {name: (s.optimizer, s.loss) for name, (_, s) in model_settings(config).items()}
    assert chosen == {"linear": ("newton", "mse"), "sigmoid": ("newton", "bce"), "nnet": ("newton", "mse")}
    given = RunConfig(data=str(files / "binary.csv"), target="expensive", models=("linear",), optimizer="sgd")
    assert model_settings(given)["linear"][1].optimizer == "sgd"
    with_l1 = RunConfig(data=str(files / "binary.csv"), target="expensive", models=("linear",), l1=0.01)
    assert model_settings(with_l1)["linear"][1].optimizer == "adam"  # newton's curvature needs no l1
    sigmoid_l1 = RunConfig(data=str(files / "binary.csv"), target="expensive", models=("sigmoid",), l1=0.01)
    assert (model_settings(sigmoid_l1)["sigmoid"][1].optimizer, model_settings(sigmoid_l1)["sigmoid"][1].loss) == ("adam", "bce")
    titanic = RunConfig(models=("linear", "sigmoid"))
    assert {n: s.optimizer for n, (_, s) in model_settings(titanic).items()} == {"linear": "adam", "sigmoid": "sgd"}
    # an optimizer asked for keeps the defaults' sigmoid on its log loss (newton is refused on mae)
    newton = RunConfig(data=str(files / "binary.csv"), target="expensive", optimizer="newton")
    assert {n: (s.optimizer, s.loss) for n, (_, s) in model_settings(newton, task="binary").items()} == \
        {"linear": ("newton", "mse"), "sigmoid": ("newton", "bce"), "nnet": ("newton", "mse")}
    # a learning rate asked for, no optimizer: a wide nnet takes Adam at that rate, not lbfgs's line search
    rate = RunConfig(data=str(files / "binary.csv"), target="expensive", models=("nnet",), lr=0.01)
    assert (model_settings(rate, n_features=200)["nnet"][1].optimizer, model_settings(rate, n_features=200)["nnet"][1].lr) == ("adam", 0.01)
    assert model_settings(RunConfig(data=str(files / "binary.csv"), target="expensive", models=("nnet",)), n_features=200)["nnet"][1].optimizer == "lbfgs"


def test_review_findings_on_predict(tmp_path):
    # Levels that look like numbers, ids written with leading zeros, an unseen level.
    rng = np.random.default_rng(2)
    g = rng.choice(["A", "2", "3"], 90)
    data, book, rows, preds = tmp_path / "mixed.csv", tmp_path / "w.xlsx", tmp_path / "rows.csv", tmp_path / "p.csv"
    pd.DataFrame({"id": [f"{i:04d}" for i in range(90)], "g": g, "x": rng.normal(size=90),
                  "t": 2.0 * (g == "2") - 2.0 * (g == "3") + rng.normal(0, 0.05, 90)}).to_csv(data, index=False)
    assert runner.invoke(app, ["train", "--data", str(data), "--target", "t", "--id", "id", "-m", "linear", "--out", str(book)]).exit_code == 0
    pd.DataFrame({"id": ["0101", "0102", "0103"], "g": ["2", "3", "zzz"], "x": [0.0, 0.0, 0.0]}).to_csv(rows, index=False)
    result = runner.invoke(app, ["predict", "--model", str(book), "--data", str(rows), "--out", str(preds)])
    assert result.exit_code == 0 and "unseen value(s) 'zzz'" in result.output, result.output
    written = pd.read_csv(preds, dtype={"id": str})
    assert written["id"].tolist() == ["0101", "0102", "0103"]
    assert written["t"].iloc[0] == pytest.approx(2, abs=0.1) and written["t"].iloc[1] == pytest.approx(-2, abs=0.1)
    pd.DataFrame({"id": ["0001"], "g": ["2"], "x": [0.0]}).to_csv(rows, index=False)
    result = runner.invoke(app, ["predict", "--model", str(book), "--data", str(rows), "--out", str(preds)])
    assert result.exit_code == 2 and "1 of its rows have the id of a row" in result.output  # 0001 as written
    pd.DataFrame({"id": ["A1", "A1"], "g": ["2", "3"], "x": [0.0, 0.0]}).to_csv(rows, index=False)
    result = runner.invoke(app, ["predict", "--model", str(book), "--data", str(rows), "--out", str(preds)])
    assert result.exit_code == 2 and "id column id repeats value 'A1' on line 3" in result.output


def test_a_spec_feature_named_like_a_column_and_a_table_too_wide_are_refused(files, tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(spec_to_toml(infer_spec(table(), "price", "house_id")).replace('name = "size_N"', 'name = "Income"'))
    out = tmp_path / "w.xlsx"
    result = runner.invoke(app, ["train", "--data", str(files / "train.csv"), "--spec", str(spec), "--out", str(out)])
    assert result.exit_code == 2 and "feature 'Income' has the name of the column or feature 'income'" in result.output
    wide = tmp_path / "wide.csv"
    rng = np.random.default_rng(0)
    pd.DataFrame(rng.uniform(1, 2, (12, 6000)), columns=[f"v{i}" for i in range(6000)]).assign(t=rng.normal(size=12)).to_csv(wide, index=False)
    # The work limit (newton on 6,001 features) would refuse it first; raised here, the sheet's width refuses it.
    result = runner.invoke(app, ["train", "--data", str(wide), "--target", "t", "-m", "linear", "--out", str(out)],
                           env={"TITANIC_LAB_MAX_WORK": "1000T"})
    assert result.exit_code == 2 and "more than Excel's 16,384" in result.output and not out.exists()


def test_target_scale_of_extreme_magnitudes_is_finite():
    for size in (1e-200, 1e200):
        target = Target("y", "regression").learn_scale(pd.Series([size, -2 * size, 3 * size]))
        assert target.offset == -2 * size and target.scale == pytest.approx(size * np.sqrt((9 + 0 + 25) / 3))


def test_lr_find_on_any_table_shows_adams_rate(files):
    result = runner.invoke(app, ["lr-find", "--data", str(files / "train.csv"), "--target", "price"])
    assert result.exit_code == 0 and "linear (adam, mse): suggested lr" in result.output, result.output


# ---- rows left out keep their lines; headers after blank lines; text cells of any dtype -------------


def _lines_table(n: int = 30) -> pd.DataFrame:
    """An id, a number, a skewed positive number, a two-level text and a numeric target of many values."""
    rng = np.random.default_rng(0)
    return pd.DataFrame({"id": [f"r{i}" for i in range(n)], "a": rng.normal(0, 1, n).round(3),
                         "b": rng.lognormal(2, 1, n).round(2), "c": rng.choice(["x", "z"], n),
                         "y": rng.normal(50, 10, n).round(2)}).astype(object)


def test_rows_left_out_for_a_blank_target_keep_their_places_in_the_file(tmp_path):
    """read_table leaves out rows whose target is blank; the rows kept are still named by their lines of the file."""
    from titanic_lab.datasets.csv import line_of
    from titanic_lab.features.kind import row_named

    path = tmp_path / "gaps.csv"
    path.write_text("a,c,y\n1,x,1\n2,x,\n3,y,\n4,y,2\n5,x,3\n", encoding="utf-8")
    with pytest.warns(UserWarning, match=r"left out 2 row\(s\) whose target y is blank \(first on line 3\)"):
        rows = read_table(path, "y")
    assert rows["a"].tolist() == [1, 4, 5] and rows.index.tolist() == [0, 3, 4]
    assert [line_of(rows, label) for label in rows.index] == [2, 5, 6]
    assert row_named(rows["a"], 3) == "data row 4 (line 5 of a CSV)"
    kept = rows[rows["a"] > 1]  # a frame's own selection keeps the places too
    assert row_named(kept["c"], kept.index[0]) == "data row 4 (line 5 of a CSV)"
    # A notebook's frame numbered 0, 1, 2... is named by position; another index by its label.
    assert row_named(pd.Series([1, 2]), 1) == "data row 2 (line 3 of a CSV)"
    assert row_named(pd.Series([1, 2], index=[7, 9]), 9) == "the row with index 9"


@pytest.mark.parametrize("case", ["control character", "number spec", "stray target", "log spec", "excluded ids"])
def test_messages_after_blank_target_rows_name_the_true_line(tmp_path, case):
    """Data rows 2-4 (lines 3-5) have a blank target and are left out; the bad value is on data row 11, line 12 of
    the file, and every message says so (they said line 9: the rows were numbered again after the blanks)."""
    df = _lines_table()
    spec = tmp_path / "spec.toml"
    spec.write_text(spec_to_toml(infer_spec(df.infer_objects(), "y", "id")))
    df.loc[[1, 2, 3], "y"] = None
    args = ["--target", "y", "--id", "id"]
    if case == "control character":
        df.loc[10, "c"] = "x\x0bz"
        needle = "column c has the control character U+000B on line 12"
    elif case == "number spec":
        df.loc[10, "a"] = "abc"
        args, needle = ["--spec", str(spec)], "column a has non-numeric value 'abc' in data row 11 (line 12 of a CSV)"
    elif case == "stray target":
        df.loc[10, "y"] = "abc"
        needle = "target y has value 'abc' on line 12 where its other values are numbers"
    elif case == "log spec":
        spec.write_text(spec.read_text().replace('column = "b"\nkind = "number"', 'column = "b"\nkind = "log"'))
        df.loc[10, "b"] = -1.5
        args, needle = ["--spec", str(spec)], "column b has value -1.5 on line 12"
    else:  # the rows of --exclude-from leave out the first rows too
        df.loc[10, "c"] = "x\x0bz"
        pd.DataFrame({"id": ["r0", "r5", "r6"]}).to_csv(tmp_path / "other.csv", index=False)
        args += ["--exclude-from", str(tmp_path / "other.csv")]
        needle = "column c has the control character U+000B on line 12"
    data = tmp_path / "data.csv"
    df.to_csv(data, index=False)
    out = tmp_path / "w.xlsx"
    result = runner.invoke(app, ["train", "--data", str(data), *args, "-m", "linear", "--epochs", "1", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert result.stderr.count("error: ") == 1 and needle in result.stderr, result.stderr
    assert "left out 3 row(s) whose target y is blank (first on line 3)" in result.stderr
    assert "Traceback" not in result.output and not out.exists()


def test_a_target_value_not_among_the_specs_labels_is_named_by_its_line(tmp_path):
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "y": ["yes", None, None, "no", "maybe", "yes"]})
    data, spec = tmp_path / "data.csv", tmp_path / "spec.toml"
    df.to_csv(data, index=False)
    spec.write_text(spec_to_toml(infer_spec(df.iloc[[0, 3]], "y")))
    result = runner.invoke(app, ["train", "--data", str(data), "--spec", str(spec), "-m", "linear", "--epochs", "1",
                                 "--out", str(tmp_path / "w.xlsx")])
    assert result.exit_code == 2, result.output
    assert "target y has value 'maybe' on line 6, which is not one of its" in result.stderr, result.stderr


@pytest.mark.parametrize("blank", ["\n", "\n\n", "  \r\n\t\n"])
def test_a_repeated_header_after_blank_lines_is_refused(tmp_path, blank):
    """pandas skips blank lines above the header; the check of the header as written skips them too (it read the
    blank line as an empty header, and let pandas' renamed 'a.1' through)."""
    path = tmp_path / "blank.csv"
    path.write_text(blank + "a,b,a,y\n1,2,3,1\n4,5,6,2\n7,8,9,3\n", encoding="utf-8")
    with pytest.raises(DataError, match="columns 1 and 3 of the header are both named 'a'"):
        read_table(path, "y")
    result = runner.invoke(app, ["train", "--data", str(path), "--target", "y", "--out", str(tmp_path / "w.xlsx")])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "both named 'a'" in result.stderr
    path.write_text(blank + "a,b,c,y\n1,2,3,1\n4,5,6,2\n7,8,9,3\n", encoding="utf-8")
    assert list(read_table(path, "y").columns) == ["a", "b", "c", "y"]  # a header once is read as before


@pytest.mark.parametrize("infer_string", [True, False])
def test_text_cells_are_stripped_whatever_their_dtype(tmp_path, infer_string):
    """pandas 3 reads text as its "str" dtype, not object: its cells lost no spaces, so "x " and "x" were two levels.
    Without pandas' string inference (pandas 2's default) text is object, stripped as before."""
    path = tmp_path / "spaces.csv"
    path.write_text('name,c,id,y\n  Ann  ,  x ,  a1 ,1\nBob,x  , b2,0\nCy," y ",c3,1\nDi,   ,d4,0\n', encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 deprecates the option (pandas 4 drops it: infer_string=False is then skipped)
        try:
            with pd.option_context("future.infer_string", infer_string):
                rows = read_table(path, "y", "id")
        except (KeyError, pd.errors.OptionError):
            pytest.skip("this pandas always infers str")
    assert (rows["c"].dtype == object) != infer_string
    assert rows["name"].tolist() == ["Ann", "Bob", "Cy", "Di"]
    assert rows["c"].tolist()[:3] == ["x", "x", "y"] and pd.isna(rows["c"].iloc[3])  # blank once stripped
    assert rows["id"].tolist() == ["a1", "b2", "c3", "d4"]
    spec = infer_spec(rows, "y", "id")
    assert "c" not in [f.column for f in spec.features.features if f.kind == "dummies"]  # two levels x, y: binary
