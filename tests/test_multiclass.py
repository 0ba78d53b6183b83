"""Multiclass targets: the softmax head and categorical cross-entropy, in torch and in the workbook (issue 26).

Tables: the bundled penguins' species, and scikit-learn's iris and wine written to CSV in tmp_path.
Tolerances: the hand-written softmax and cross-entropy equal torch's to 1e-12; linear's training
log loss is within 1e-6 (relative) of scikit-learn's unpenalized multinomial LogisticRegression on
the same design matrix, on tables that are not separable (on a separable one neither optimum is
finite); every workbook verifies to 1e-9.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from titanic_lab import choices, tasks
from titanic_lab.cli import app
from titanic_lab.config import RunConfig
from titanic_lab.dataset import Target, infer_spec, infer_target, read_table, spec_from_toml, spec_to_toml
from titanic_lab.engines import ENGINES
from titanic_lab.errors import DataError
from titanic_lab.ops import HEADS, LOSSES, softmax, softmax_formula
from titanic_lab.reading import formula_cells, sheet_values
from titanic_lab.runs import train_run
from titanic_lab.sheet_layout import FIRST_ROW, HEADER_ROW
from titanic_lab.training import softmax_curvature
from titanic_lab.workbook.class_cells import count_both, likeliest, probability_of

runner = CliRunner()
PENGUINS = Path(__file__).resolve().parents[1] / "titanic_lab" / "datasets" / "penguins.csv"


def sklearn_csv(folder: Path, name: str) -> Path:
    """scikit-learn's iris or wine as a CSV whose ``class`` column holds the class names."""
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = bunch.frame.drop(columns="target").assign(**{"class": [bunch.target_names[i] for i in bunch.target]})
    path = folder / f"{name}.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("multiclass")


# ---- the head and the loss, by hand against torch ------------------------------------------


def test_softmax_and_cross_entropy_equal_torch_even_for_huge_scores():
    torch.manual_seed(0)
    scores = torch.randn(4, 50, 5, dtype=torch.float64) * torch.tensor([1.0, 30.0, 300.0, 1000.0])[:, None, None]
    y = torch.randint(0, 5, (50,))
    probs = softmax(scores)
    assert torch.isfinite(probs).all()
    assert torch.allclose(probs, torch.softmax(scores, -1), rtol=0, atol=1e-12)
    moderate = scores[:2]  # where no probability underflows to 0, the loss is torch's exactly
    expected = torch.stack([F.cross_entropy(s, y) for s in moderate])
    assert torch.allclose(LOSSES["ce"](softmax(moderate), y.double()), expected, rtol=1e-12, atol=0)
    # Where a true class's probability underflows, the loss is large and finite (p kept above 1e-300).
    assert torch.isfinite(LOSSES["ce"](probs, y.double())).all()


def test_each_head_is_a_record_with_its_formula_and_header():
    assert {n: h.header for n, h in HEADS.items()} == {"identity": None, "sum": "Preds", "sigmoid": "Preds", "softmax": "P"}
    x = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64)
    assert torch.allclose(HEADS["softmax"](x).sum(-1), torch.ones(1, dtype=torch.float64))
    assert HEADS["sum"].formula(["B4", "C4"], 0) == "B4+C4"
    assert HEADS["sigmoid"].formula(["B4"], 0) == "1/(1+EXP(-B4))"
    assert softmax_formula(["B4", "C4", "D4"], 1) == \
        "EXP(C4-MAX(B4:D4))/(EXP(B4-MAX(B4:D4))+EXP(C4-MAX(B4:D4))+EXP(D4-MAX(B4:D4)))"


def test_the_class_formulas_as_strings():
    assert likeliest("$E$2:$G$2", "E4:G4") == "INDEX($E$2:$G$2,1,MATCH(MAX(E4:G4),E4:G4,0))"
    assert probability_of("E4:G4", "$E$2:$G$2", "A4") == "INDEX(E4:G4,1,MATCH(A4,$E$2:$G$2,0))"
    assert LOSSES["ce"].formula("p", "") == "-LN(MAX(p,1E-300))"
    assert count_both("A4:A9", "$X$4", "$Y$4:$Y$9", "Y$3") == "SUMPRODUCT((A4:A9=$X$4)*($Y$4:$Y$9=Y$3))"


def test_newton_curvature_equals_autograd():
    torch.manual_seed(1)
    X, y = torch.randn(40, 4, dtype=torch.float64), torch.randint(0, 3, (40,)).double()
    W = torch.randn(2, 4, 3, dtype=torch.float64)
    H = softmax_curvature(X, W, l2=0.1)
    for r in range(2):
        expected = torch.autograd.functional.hessian(
            lambda v: LOSSES["ce"](softmax(X @ v), y) + 0.05 * v.pow(2).sum(), W[r]).reshape(12, 12)
        assert torch.allclose(H[r], expected, rtol=0, atol=1e-14)


def test_task_names_are_the_records():
    assert choices.TASK_NAMES == tuple(tasks.TASKS)
    assert tasks.TASKS["multiclass"].head == "softmax" and tasks.TASKS["multiclass"].loss == "ce"


# ---- the target ------------------------------------------------------------------------------


def test_penguin_species_are_three_classes_in_a_stated_order_and_round_trip_through_toml():
    rows = read_table(PENGUINS, "species")
    spec = infer_spec(rows, "species")
    assert spec.target == Target("species", "multiclass", ("Adelie", "Chinstrap", "Gentoo"))
    text = spec_to_toml(spec)
    assert 'classes = ["Adelie", "Chinstrap", "Gentoo"]' in text
    assert spec_from_toml(text).target == spec.target
    assert spec.target.describe() == "species: multiclass, 3 classes in this order: Adelie, Chinstrap, Gentoo"


def test_whole_numbers_are_classes_when_the_task_says_so():
    df = pd.DataFrame({"y": [3, 1, 2, 1, 2, 3, 3]})
    assert infer_target(df, "y").task == "regression"
    assert infer_target(df, "y", task="multiclass") == Target("y", "multiclass", (1, 2, 3))
    with pytest.raises(DataError, match="--task binary: target y has 3 values"):
        infer_target(df, "y", task="binary")


def test_more_than_fifty_classes_are_refused_naming_the_count():
    df = pd.DataFrame({"y": [f"c{i}" for i in range(1000)] * 2})
    with pytest.raises(DataError, match="1,000 classes, more than the 50"):
        infer_target(df, "y")


# ---- training --------------------------------------------------------------------------------


@pytest.mark.parametrize("table, columns", [
    ("iris", None),  # every column: iris is not separable by a linear model
    ("iris", ["sepal length (cm)", "sepal width (cm)"]),
    ("penguins", ["bill_depth_mm", "body_mass_g"]),
    ("wine", ["alcohol", "color_intensity"]),
])
def test_linear_is_at_sklearns_unpenalized_multinomial_optimum(folder, table, columns):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    if table == "penguins":
        frame = pd.read_csv(PENGUINS)
        target = "species"
    else:
        frame, target = pd.read_csv(sklearn_csv(folder, table)), "class"
    data = folder / f"{table}_{len(columns or [])}.csv"
    frame[[target, *(columns or [c for c in frame.columns if c != target])]].to_csv(data, index=False)
    # --l2 0: the unpenalised optimum (tests/test_penalty.py checks the penalised ones)
    run = train_run(RunConfig(data=str(data), target=target, models=("linear",), valid_pct=0.0, l2=0.0))
    result = run.results["linear"]
    assert (result.settings.optimizer, result.settings.loss, result.converged) == ("newton", "ce", True)
    X, y = run.X.numpy(), run.y.numpy().astype(int)
    with pytest.warns(FutureWarning) if _penalty_deprecated() else _nothing():
        reference = LogisticRegression(penalty=None, fit_intercept=False, tol=1e-12, max_iter=100_000).fit(X, y)
    optimum = log_loss(y, reference.predict_proba(X))
    assert optimum > 0.01  # not separable: a finite optimum to meet
    assert abs(result.train_loss - optimum) <= 1e-6 * optimum


def _penalty_deprecated() -> bool:
    import sklearn

    return tuple(int(p) for p in sklearn.__version__.split(".")[:2]) >= (1, 8)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_default_hidden_and_deep_converge_below_the_class_frequencies(folder):
    data = sklearn_csv(folder, "iris")
    run = train_run(RunConfig(data=str(data), target="class", models=("hidden", "deep"), valid_pct=0.0))
    frequencies = float(np.log(3))  # three classes of 50 rows each: -ln(1/3)
    for name, result in run.results.items():
        assert result.settings.loss == "ce" and result.converged, (name, result.stop_reason)
        assert result.train_loss < 0.2 * frequencies and result.train_accuracy > 0.95, name


@pytest.fixture(scope="module")
def iris_tensors(folder):
    from titanic_lab.runs import prepare

    p = prepare(RunConfig(data=str(sklearn_csv(folder, "iris")), target="class", models=("linear",), valid_pct=0.0))
    return p.X, p.y


@pytest.mark.parametrize("kind, optimizer", [(k, o) for k in ("linear", "hidden", "deep")
                                             for o in ("sgd", "momentum", "adam", "newton", "lbfgs")
                                             if o != "newton" or k == "linear"])
def test_no_optimizer_diverges_nor_loses_to_the_class_frequencies(iris_tensors, kind, optimizer):
    from dataclasses import replace

    from titanic_lab.models import multiclass_model, parse_model
    from titanic_lab.training import default_settings, fit

    X, y = iris_tensors
    spec = multiclass_model(parse_model(kind), 3)
    settings = replace(default_settings(spec, optimizer, "ce"), max_epochs=3000)
    result = fit(spec, settings, X, y)
    frequencies = LOSSES["ce"](torch.full((len(y), 3), 1 / 3, dtype=torch.float64), y).item()  # 50 rows of each class
    assert np.isfinite(result.train_loss) and result.train_loss < frequencies, (settings.lr, result.train_loss)


def test_the_nnet_and_sigmoid_are_refused_in_one_line(folder):
    data = sklearn_csv(folder, "iris")
    for model, why in (("nnet", "sums its units into one output"), ("sigmoid", "is linear once the softmax")):
        out = folder / f"{model}.xlsx"
        result = runner.invoke(app, ["train", "--data", str(data), "--target", "class", "-m", model, "--out", str(out)])
        assert result.exit_code == 2 and why in result.output and not out.exists(), result.output


# ---- the workbook and every command ----------------------------------------------------------


@pytest.fixture(scope="module")
def penguin_book(folder) -> tuple[Path, dict]:
    """Penguins' species with ids: 80% trained (linear and hidden), 20% kept to predict."""
    frame = pd.read_csv(PENGUINS).assign(id=lambda d: np.arange(1, len(d) + 1))
    held = frame.sample(frac=0.2, random_state=0)
    frame.drop(index=held.index).to_csv(folder / "train.csv", index=False)
    held.to_csv(folder / "held.csv", index=False)
    book = folder / "penguins.xlsx"
    result = runner.invoke(app, ["train", "--data", str(folder / "train.csv"), "--target", "species", "--id", "id",
                                 "-m", "linear", "-m", "hidden", "--epochs", "150", "--out", str(book), "--json"])
    assert result.exit_code == 0, result.output
    return book, json.loads(result.stdout)


def test_the_workbook_verifies_and_compares(penguin_book):
    book, _ = penguin_book
    result = runner.invoke(app, ["verify", str(book), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tolerance"] == 1e-9
    result = runner.invoke(app, ["compare", str(book)])
    assert result.exit_code == 0 and "P3" in result.output, result.output


def test_the_sheet_holds_a_block_per_class_softmax_formulas_and_a_confusion_matrix(penguin_book):
    book, summary = penguin_book
    values, formulas = sheet_values(book, ["linear"])["linear"], formula_cells(book, ["linear"])["linear"]
    headers = values[HEADER_ROW]
    p1, predicted = headers.index("P1"), headers.index("Predicted")
    assert headers[p1 - 3: p1 + 3] == ["Linear1", "Linear2", "Linear3", "P1", "P2", "P3"]
    assert values[1][p1 - 1: p1 + 3] == ["Classes:", "Adelie", "Chinstrap", "Gentoo"]
    assert formulas[(FIRST_ROW, p1)].startswith("EXP(") and "MAX(" in formulas[(FIRST_ROW, p1)]
    assert formulas[(FIRST_ROW, predicted)].startswith("INDEX(")
    assert formulas[(FIRST_ROW, headers.index("Loss"))].startswith("-LN(MAX(INDEX(")
    corner = headers.index("true \\ predicted")
    matrix = [[values[FIRST_ROW + i][corner + 1 + j] for j in range(3)] for i in range(3)]
    assert all(formulas[(FIRST_ROW + i, corner + 1 + j)].startswith("SUMPRODUCT((") for i in range(3) for j in range(3))
    assert sum(map(sum, matrix)) == summary["rows"]  # every row, training and validation
    # The summary's confusion is on the validation rows; its diagonal is its accuracy.
    valid = np.array(summary["models"]["linear"]["confusion"]["matrix"])
    assert valid.sum() == summary["valid_rows"]
    assert np.trace(valid) / valid.sum() == pytest.approx(summary["models"]["linear"]["valid_accuracy"], abs=1e-12)


def test_predict_writes_the_files_own_words_and_init_from_reads_the_params_back(penguin_book, folder):
    book, summary = penguin_book
    out = folder / "predictions.csv"
    result = runner.invoke(app, ["predict", "--model", str(book), "--data", str(folder / "held.csv"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    written, held = pd.read_csv(out), pd.read_csv(folder / "held.csv")
    assert list(written.columns) == ["id", "species"] and written["id"].tolist() == held["id"].tolist()
    assert set(written["species"]) <= {"Adelie", "Chinstrap", "Gentoo"}
    assert (written["species"] == held["species"]).mean() > 0.9
    again = folder / "again.json"
    result = runner.invoke(app, ["train", "--data", str(folder / "train.csv"), "--target", "species", "--id", "id",
                                 "-m", "linear", "--epochs", "0", "--init-from", str(book), "--out", str(again), "--json",
                                 # the same rows as the book's linear: every row when it was refit, else the training rows
                                 "--refit" if summary["models"]["linear"]["refit"] else "--no-refit"])
    assert result.exit_code == 0, result.output
    restarted = json.loads(result.stdout)["models"]["linear"]
    assert restarted["train_loss"] == pytest.approx(summary["models"]["linear"]["train_loss"], rel=1e-12)


def test_features_and_lr_find_take_a_multiclass_table(folder):
    data = sklearn_csv(folder, "wine")
    out = folder / "features.csv"
    result = runner.invoke(app, ["features", "--data", str(data), "--target", "class", "--out", str(out)])
    assert result.exit_code == 0 and "multiclass, 3 classes in this order: class_0, class_1, class_2" in result.output
    assert pd.read_csv(out)["class"].iloc[0] == "class_0"
    result = runner.invoke(app, ["lr-find", "--data", str(data), "--target", "class", "-m", "hidden", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["loss"] == "ce"


def test_whole_number_classes_with_task_multiclass_and_an_explicit_loss(tmp_path):
    rng = np.random.default_rng(0)
    x1, x2 = rng.normal(size=120), rng.normal(size=120)
    grade = np.where(x1 + 0.5 * rng.normal(size=120) > 0.5, 3, np.where(x2 + 0.5 * rng.normal(size=120) > 0, 2, 1))
    data, book, out = tmp_path / "grades.csv", tmp_path / "grades.xlsx", tmp_path / "predicted.csv"
    pd.DataFrame({"grade": grade, "x1": x1.round(3), "x2": x2.round(3)}).to_csv(data, index=False)
    result = runner.invoke(app, ["train", "--data", str(data), "--target", "grade", "--loss", "ce", "-m", "linear",
                                 "--out", str(book)])
    assert result.exit_code == 2 and "whole numbers are classes with --task multiclass" in result.output
    result = runner.invoke(app, ["train", "--data", str(data), "--target", "grade", "--task", "multiclass", "--loss", "ce",
                                 "-m", "linear", "--out", str(book)])
    assert result.exit_code == 0 and "grade: multiclass, 3 classes in this order: 1, 2, 3" in result.output, result.output
    assert runner.invoke(app, ["verify", str(book)]).exit_code == 0
    assert runner.invoke(app, ["compare", str(book)]).exit_code == 0
    result = runner.invoke(app, ["predict", "--model", str(book), "--data", str(data), "--out", str(out), "--allow-overlap"])
    assert result.exit_code == 0 and set(pd.read_csv(out)["grade"]) <= {1, 2, 3}


@pytest.mark.parametrize("engine", ["libreoffice", "gnumeric"])
def test_other_engines_verify_a_portable_multiclass_workbook(folder, engine):
    if not ENGINES[engine].available():
        pytest.skip(f"{engine} is not installed")
    data, book = sklearn_csv(folder, "wine"), folder / f"wine_{engine}.xlsx"
    result = runner.invoke(app, ["train", "--data", str(data), "--target", "class", "-m", "linear", "-m", "deep",
                                 "--epochs", "100", "--portable", "--out", str(book)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["verify", str(book), "--engine", engine])
    assert result.exit_code == 0, result.output


# ---- bad input: one line, exit 2, nothing written --------------------------------------------


def test_a_class_seen_only_at_predict_time_is_refused(penguin_book, folder):
    book, _ = penguin_book
    held = pd.read_csv(folder / "held.csv")
    held.loc[held.index[2], "species"] = "Emperor"
    bad, out = folder / "emperor.csv", folder / "emperor_predictions.csv"
    held.to_csv(bad, index=False)
    result = runner.invoke(app, ["predict", "--model", str(book), "--data", str(bad), "--out", str(out)])
    assert result.exit_code == 2 and "class 'Emperor' (line 4), which the model never learned" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()


@pytest.mark.parametrize("values, message", [
    (["a", "b", "c"] * 10 + ["d"], "class 'd' has a single row"),
    ([None] * 31, "is blank in every row"),
    ([f"c{i}" for i in range(1000)] * 2, "has 1,000 classes, more than the 50"),
])
def test_bad_targets_are_one_line_and_write_nothing(tmp_path, values, message):
    data, out = tmp_path / "bad.csv", tmp_path / "bad.xlsx"
    pd.DataFrame({"y": values, "x": np.arange(len(values)) % 7}).to_csv(data, index=False)
    result = runner.invoke(app, ["train", "--data", str(data), "--target", "y", "--out", str(out)])
    assert result.exit_code == 2 and message in result.output, result.output
    assert "Traceback" not in result.output and not out.exists() and sorted(tmp_path.iterdir()) == [data]


def test_the_leaderboard_scores_accuracy_and_log_loss_on_the_same_folds(folder):
    data = sklearn_csv(folder, "wine")
    result = runner.invoke(app, ["leaderboard", "--data", str(data), "--target", "class", "--folds", "3", "--repeats", "1",
                                 "-m", "linear", "-m", "majority", "-m", "logistic", "-m", "histboosting", "--json"])
    assert result.exit_code == 0, result.output
    board = json.loads(result.stdout)
    scores = {m["name"]: m for m in board["models"]}
    assert board["task"] == "multiclass" and set(scores) == {"linear", "majority class", "LogisticRegression", "HistGradientBoosting"}
    shares = np.bincount(pd.read_csv(data)["class"].map({"class_0": 0, "class_1": 1, "class_2": 2}))
    assert scores["majority class"]["accuracy"] == pytest.approx(shares.max() / shares.sum(), abs=0.02)
    assert all(m["loss_name"] == "log loss" and len(m["accuracies"]) == 3 for m in scores.values())
    assert scores["linear"]["accuracy"] >= scores["LogisticRegression"]["accuracy"] - 0.05
    assert scores["majority class"]["loss"] > scores["HistGradientBoosting"]["loss"]


def test_the_default_models_of_a_multiclass_table_are_linear_and_hidden(folder):
    """``train --target`` with no ``--model`` works on a multiclass table: the nnet (one summed output)
    gives way to hidden; naming the nnet alone is still refused (above)."""
    data, out = sklearn_csv(folder, "iris"), folder / "defaults.xlsx"
    result = runner.invoke(app, ["train", "--data", str(data), "--target", "class", "--epochs", "30", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert list(summary["models"]) == ["linear", "hidden"]
    assert runner.invoke(app, ["verify", str(out)]).exit_code == 0
    # The chosen model was refit on every row, validation rows included: its confusion matrix is the one
    # from before the refit, which agrees with the validation accuracy it was chosen by.
    chosen = summary["models"][summary["chosen"]]
    assert summary["refit"] and chosen["confusion"]["rows"] == "validation"
    matrix = np.array(chosen["confusion"]["matrix"])
    assert matrix.sum() == summary["valid_rows"]
    assert np.trace(matrix) / matrix.sum() == pytest.approx(chosen["valid_accuracy"], abs=1e-12)


def test_classes_that_read_as_conditions_are_counted_as_values(tmp_path):
    """Classes '<10', '10-20', '>20' (and 'a*'): the confusion matrix counts each as the value it is, so the
    recalculated sheet agrees with its cached values (COUNTIFS read '<10' as a condition: 3 columns differed)."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=60)
    label = np.where(x < -0.4, "<10", np.where(x < 0.4, "10-20", np.where(x < 1.0, ">20", "a*")))
    data = tmp_path / "bands.csv"
    pd.DataFrame({"x": x, "z": rng.normal(size=60), "band": label}).to_csv(data, index=False)
    book = tmp_path / "bands.xlsx"
    result = runner.invoke(app, ["train", "--data", str(data), "--target", "band", "--model", "linear", "--out", str(book)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["verify", str(book)])
    assert result.exit_code == 0 and "formula cells within" in result.output, result.output


@pytest.mark.parametrize("classes", [("label", "x", "y"), ("a", "label", "Ones"), ("Loss", "c1", "label")])
@pytest.mark.parametrize("model", ["linear", "hidden"])
def test_a_class_named_like_a_header_is_read_back(tmp_path, model, classes):
    """A class named like the target's column (or like another header, or a label of the params: ``c1``) is written
    right of ``Classes:`` above the headers, over the confusion matrix in the header row and down the data rows: the
    header row and the params are found where no value can stand in for them. predict refused the fresh workbook
    ("no sheet has the 'label' header its spec names"), or read a hidden model as deep (a ``c1`` constant)."""
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 90), rng.normal(0, 1, 90)
    table = pd.DataFrame({"a": a, "b": b, "label": np.where(a > 0.3, classes[0], np.where(b > 0, classes[1], classes[2]))})
    data, book, out = tmp_path / "x.csv", tmp_path / "out.xlsx", tmp_path / "predictions.csv"
    table.to_csv(data, index=False)
    trained = runner.invoke(app, ["train", "--data", str(data), "--target", "label", "-m", model, "--epochs", "40",
                                  "--out", str(book), "--json"])
    assert trained.exit_code == 0, trained.output
    result = runner.invoke(app, ["predict", "--model", str(book), "--data", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"sheet '{model}', {model}," in result.stdout  # the model it was, not another kind
    predicted = pd.read_csv(out, keep_default_na=False)["label"]
    accuracy = json.loads(trained.stdout)["models"][model]["train_accuracy"]
    assert (predicted == table["label"]).mean() == pytest.approx(accuracy)  # the parameters trained, read back
    compared = runner.invoke(app, ["compare", str(book)])
    assert compared.exit_code == 0 and "agree with torch" in compared.output, compared.output
