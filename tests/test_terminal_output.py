"""What the commands print for a person: whole titles, headed columns, every file named."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from titanic_lab.cli import app
from titanic_lab.config import RunConfig
from titanic_lab.recalc import find_soffice
from titanic_lab.runs import train_run
from titanic_lab.workbook import write_workbook

runner = CliRunner()


@pytest.fixture(scope="module")
def small_book(tmp_path_factory):
    run = train_run(RunConfig(models=("linear", "nnet"), epochs=3, sample=60))
    return write_workbook(run, tmp_path_factory.mktemp("out") / "small.xlsx")


def test_compare_titles_are_never_wrapped(small_book):
    result = runner.invoke(app, ["compare", str(small_book)], terminal_width=50)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    for sheet in ("linear", "nnet", "mmult"):
        title = next((line for line in lines if line.startswith(f"{sheet}: ")), None)
        assert title is not None and " preset, mse loss; 60 rows, " in title and " params at " in title
    header = next(line for line in lines if "column" in line and "cells" in line)
    assert "status" in header


@pytest.mark.libreoffice
@pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) is not installed")
def test_verify_heads_its_status_column(small_book):
    result = runner.invoke(app, ["verify", str(small_book)], terminal_width=120)
    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if "sheet" in line and "worst cell" in line)
    assert header.split()[-2:] == ["status", "┃"]


def test_features_fit_on_names_both_files(bundled, tmp_path):
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    bundled.head(200).to_csv(train, index=False)
    bundled.tail(100).drop(columns="Survived").to_csv(test, index=False)
    result = runner.invoke(app, ["features", "--data", str(test), "--fit-on", str(train), "--out", str(tmp_path / "f.csv")])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == f"data: {test}; fitted on: {train}"



@pytest.mark.parametrize("width", [60, 80])
def test_train_summary_prints_whole_numbers_at_any_width(bundled, tmp_path, width):
    """Piped or on a narrow terminal, the losses are printed whole: never cut to ``0.1474…``."""
    import json

    data = tmp_path / "train.csv"
    bundled.head(200).to_csv(data, index=False)
    args = ["train", "--data", str(data), "--model", "linear", "--model", "nnet", "--epochs", "5"]
    as_json = runner.invoke(app, [*args, "--out", str(tmp_path / "run.json"), "--json"])
    assert as_json.exit_code == 0, as_json.output
    models = json.loads(as_json.stdout)["models"]
    shown = runner.invoke(app, [*args, "--out", str(tmp_path / "run.xlsx")], terminal_width=width)
    assert shown.exit_code == 0, shown.output
    assert "…" not in shown.stdout
    for name in ("linear", "nnet"):
        (row,) = [line for line in shown.stdout.splitlines() if line.lstrip("│┃ ").startswith(f"{name} (")]
        cells = [c.strip() for c in row.strip("│┃ ").split("│")]
        assert cells[3:5] == [f"{models[name]['train_loss']:.6f}", f"{models[name]['valid_loss']:.6f}"], row


def test_text_from_data_in_a_printed_table_is_never_markup(tmp_path):
    """A header or a class written like rich's markup (``[/]`` closes nothing and raised MarkupError: a traceback)
    is printed as it is written: train's confusion tables, verify's and compare's columns."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.normal(size=90)
    classes = np.where(x < -0.5, "[/]", np.where(x < 0.5, "[bold]b", "c[red]"))
    pd.DataFrame({"a[/]x": x, "z": rng.normal(size=90), "k[/]": classes}).to_csv(tmp_path / "c.csv", index=False)
    book = tmp_path / "c.xlsx"
    trained = runner.invoke(app, ["train", "--data", str(tmp_path / "c.csv"), "--target", "k[/]", "--out", str(book)])
    assert trained.exit_code == 0, trained.output
    assert "[/]" in trained.stdout and "[bold]b" in trained.stdout and "c[red]" in trained.stdout  # the classes
    for command in (["verify", str(book)], ["compare", str(book)]):
        done = runner.invoke(app, command)
        assert done.exit_code == 0, done.output
        assert "a[/]x" in done.stdout, done.stdout


def test_control_characters_from_data_reach_the_terminal_escaped(tmp_path):
    """A header or a class holding an escape sequence or a bell is refused (a workbook's XML cannot hold it: its
    table's column names, a formula's text), named with each control character escaped (``\\x1b``), never as
    itself; verify's table escapes one in the headers of a workbook another program wrote (XlsxWriter's
    ``_x001B_``)."""
    import numpy as np
    import pandas as pd
    import xlsxwriter

    rng = np.random.default_rng(0)
    x = rng.normal(size=90)
    classes = np.where(x < -0.5, "a", np.where(x < 0.5, "b", "c"))
    frame = pd.DataFrame({"x\x1b[31mred": x, "z": rng.normal(size=90), "k": classes})
    frame.to_csv(tmp_path / "c.csv", index=False)
    frame.rename(columns={"x\x1b[31mred": "x"}).assign(k=np.where(classes == "b", "b\x07", classes)).to_csv(
        tmp_path / "bell.csv", index=False)
    book = tmp_path / "other.xlsx"
    wb = xlsxwriter.Workbook(str(book))
    ws = wb.add_worksheet("s")
    ws.write_string(0, 0, "x\x1b[31mred")
    ws.write_string(0, 1, "z\x07")
    for r in range(1, 4):
        ws.write_number(r, 0, r)
        ws.write_formula(r, 1, f"=A{r + 1}*2", None, 2.0 * r)
    wb.close()
    runs = [runner.invoke(app, ["train", "--data", str(tmp_path / "c.csv"), "--target", "k", "--out", str(tmp_path / "d.xlsx")]),
            runner.invoke(app, ["train", "--data", str(tmp_path / "bell.csv"), "--target", "k", "--out", str(tmp_path / "e.xlsx")]),
            runner.invoke(app, ["verify", str(book)])]
    for done, code in zip(runs, (2, 2, 0)):
        assert done.exit_code == code, done.output
        assert "\x1b" not in done.output and "\x07" not in done.output, repr(done.output)
    assert "the header 'x\\x1b[31mred' holds the control character U+001B" in runs[0].output
    assert "class 'b\\x07' holds a control character" in runs[1].output
    assert all(len(done.output.splitlines()) == 1 for done in runs[:2])
    assert "z\\x07" in runs[2].stdout
    assert not (tmp_path / "d.xlsx").exists() and not (tmp_path / "e.xlsx").exists()
