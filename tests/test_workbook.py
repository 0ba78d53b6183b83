from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import KAGGLE_HEADER
from titanic_lab.config import RunConfig
from titanic_lab.reading import formula_cells, sheet_values
from titanic_lab.runs import train_run
from titanic_lab.workbook import write_workbook


@pytest.fixture(scope="module")
def spreadsheet_book(tmp_path_factory):
    run = train_run(RunConfig(models=("linear", "nnet"), epochs=50, valid_pct=0))
    path = write_workbook(run, tmp_path_factory.mktemp("wb") / "spreadsheet.xlsx")
    return run, path


def test_sheets_in_order(spreadsheet_book):
    _, path = spreadsheet_book
    assert list(sheet_values(path)) == ["README", "linear", "nnet", "mmult", "history", "all_rows", "spec"]


def test_headers_equal_the_lessons(spreadsheet_book, lesson_workbook):
    _, path = spreadsheet_book
    ours, lesson = sheet_values(path), sheet_values(lesson_workbook)
    for sheet, last_col in (("linear", 30), ("nnet", 34), ("mmult", 27)):
        # The lesson heads the bias's params column Const; titanic-lab heads it as the column it multiplies, Ones.
        assert ours[sheet][2][:last_col] == [{"Const": "Ones"}.get(h, h) for h in lesson[sheet][2][:last_col]], sheet


def test_formulas_mirror_the_lesson(spreadsheet_book):
    run, path = spreadsheet_book
    n = len(run.frame)
    f = formula_cells(path)
    linear, nnet, mmult = f["linear"], f["nnet"], f["mmult"]
    assert linear[(3, 8)] == "Data_linear[[#This Row],[Age]]/$I$1"
    assert linear[(0, 8)] == "MAX(Data_linear[Age])"
    # The bundled rows lack one Fare: the formula fills it with F2, the training mode.
    fare = "Data_linear[[#This Row],[Fare]]"
    assert linear[(3, 9)] == f"LOG10(IF(ISBLANK({fare}),$F$2,{fare})+1)"
    assert linear[(3, 10)] == "IF(Data_linear[[#This Row],[Pclass]]=1,1,0)"
    assert linear[(3, 12)] == 'IF(Data_linear[[#This Row],[Embarked]]="S",1,0)'
    assert linear[(3, 14)] == 'IF(Data_linear[[#This Row],[Sex]]="male",1,0)'
    assert linear[(3, 28)] == "SUMPRODUCT(Data_linear[[#This Row],[SibSp]:[Ones]],$R$4:$AA$4)"
    assert linear[(6, 26)] == f"AVERAGE(AD4:AD{n + 3})"  # the lesson's AA7
    assert nnet[(3, 29)] == "SUMPRODUCT(Data_nnet[[#This Row],[SibSp]:[Ones]],$R$5:$AA$5)"
    assert nnet[(3, 30)] == "IF(AC4<0,0,AC4)"
    assert nnet[(0, 33)] == f"AVERAGE(AH4:AH{n + 3})"  # the lesson's AH1
    # One MMULT array formula covers the whole Lin1:Lin2 block, as in the lesson's mmult sheet.
    block = {rc for rc, text in mmult.items() if text == f"{{MMULT(G4:P{n + 3},$S$4:$T$13)"}
    assert block == {(r, c) for r in range(3, n + 3) for c in (21, 22)}


def test_pandas_sees_numbers_in_formula_columns(spreadsheet_book):
    run, path = spreadsheet_book
    for sheet, pred, loss in (("linear", "Linear", "Loss"), ("nnet", "Preds", "Loss"), ("mmult", "Preds", "Loss")):
        df = pd.read_excel(path, sheet_name=sheet, header=2, engine="calamine")
        assert df[pred].dtype == float and df[loss].notna().all()
        np.testing.assert_allclose(df[pred], df["torch"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(df["Age_N"], run.features["Age_N"], rtol=0, atol=0)
    values = sheet_values(path)
    assert values["linear"][6][26] == pytest.approx(run.results["linear"].train_loss, abs=1e-12)
    assert values["nnet"][0][33] == pytest.approx(run.results["nnet"].train_loss, abs=1e-12)


def test_readme_records_the_run(spreadsheet_book):
    run, path = spreadsheet_book
    readme = sheet_values(path)["README"]
    text = {str(row[0]): row[1] for row in readme if row and row[0] != ""}
    assert text["data file"] == run.data_path.name  # named, not a local path
    assert text["titanic-lab version"] == run.summary()["version"]
    assert "spreadsheet" in text["preset"]
    models = [row[0] for row in readme]
    assert "linear" in models and "nnet" in models


def test_every_model_exports_as_formulas(tmp_path):
    run = train_run(RunConfig(preset="notebook", models=("sigmoid", "hidden:3", "deep:4,3", "linear"), epochs=3))
    path = write_workbook(run, tmp_path / "notebook.xlsx")
    f = formula_cells(path)
    assert {"sigmoid", "hidden-3", "deep-4-3", "linear"} <= set(f)
    age = "Data_sigmoid[[#This Row],[Age]]"
    assert f["sigmoid"][(3, 8)] == f"IF(ISBLANK({age}),$E$2,{age})/$I$1"  # all rows: Age is filled
    assert f["sigmoid"][(0, 11)] == "LN(MAX(Data_sigmoid[Fare])+1)"  # LogFare_N's divisor
    assert any(text.startswith("1/(1+EXP(-") for text in f["deep-4-3"].values())
    assert sum(text.startswith("{MMULT(") for text in f["deep-4-3"].values()) > 0
    for sheet in ("sigmoid", "hidden-3", "deep-4-3"):
        df = pd.read_excel(path, sheet_name=sheet, header=2, engine="calamine")
        np.testing.assert_allclose(df["Preds"], df["torch"], rtol=0, atol=1e-12)
        assert df["Loss"].notna().all()


@pytest.mark.filterwarnings("ignore::titanic_lab.UnseenCategoryWarning")
def test_text_from_data_never_becomes_a_formula(tmp_path):
    hostile = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1)", "-1+1", "\t=1+1", "\r=2+2"]
    rows = "".join(
        f'{i},{i % 2},3,"{name.replace(chr(34), chr(34) * 2)}",male,30,0,0,T{i},8,,"{name.replace(chr(34), chr(34) * 2)}"\n'
        for i, name in enumerate(hostile * 3, start=1)
    )
    data = tmp_path / "hostile.csv"
    data.write_text(KAGGLE_HEADER + rows.replace(",male,", ",female,", 3))
    run = train_run(RunConfig(data=str(data), models=("linear",), epochs=2, valid_pct=0, complete_rows=False))
    path = write_workbook(run, tmp_path / "hostile.xlsx")
    for sheet, cells in formula_cells(path).items():
        assert not any("HYPERLINK" in t or "cmd" in t or "SUM(1)" in t for t in cells.values()), sheet
    values = sheet_values(path)
    assert values["linear"][3][1] == hostile[0]  # Embarked, kept as the string it was
    assert values["all_rows"][1][7] == hostile[0]


def test_atomic_write_keeps_the_previous_workbook(spreadsheet_book, tmp_path, monkeypatch):
    run, _ = spreadsheet_book
    target = tmp_path / "book.xlsx"
    write_workbook(run, target)
    before = target.read_bytes()

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("titanic_lab.workbook.writer.history_sheet", boom)
    with pytest.raises(KeyboardInterrupt):
        write_workbook(run, target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["book.xlsx"]  # no temporary file left


def test_output_folder_is_created(spreadsheet_book, tmp_path):
    run, _ = spreadsheet_book
    path = write_workbook(run, tmp_path / "new" / "folder" / "book.xlsx")
    assert path.exists()


def test_export_streams_one_row_at_a_time(spreadsheet_book, tmp_path, monkeypatch):
    """Every sheet is written in row order with constant_memory: XlsxWriter holds one row, and a model sheet's
    data columns are written at most a chunk of rows (CHUNK) at a time."""
    import xlsxwriter.worksheet

    from titanic_lab.workbook.cells import CHUNK, _Worksheet

    run, _ = spreadsheet_book
    held, flushes, chunks = [], [], []

    def spying(original):
        def spy(self, current_row_num=0):
            held.append(len(self.table))
            flushes.append(self.name)
            original(self, current_row_num)
        return spy

    # XlsxWriter's own (the README sheet) and the patched worksheet's (every other sheet).
    for cls in (xlsxwriter.worksheet.Worksheet, _Worksheet):
        monkeypatch.setattr(cls, "_write_single_row", spying(cls.__dict__["_write_single_row"]))
    fast_rows = _Worksheet._write_fast_rows

    def spy_rows(self, start, at, end, *args):
        chunks.append((self.name, end - at))
        fast_rows(self, start, at, end, *args)

    monkeypatch.setattr(_Worksheet, "_write_fast_rows", spy_rows)
    write_workbook(run, tmp_path / "streamed.xlsx")
    assert max(held) <= 1 and 0 < max(n for _, n in chunks) <= CHUNK
    # Every row written once: a flush per row, or in a chunk (the model sheets' data rows).
    written = flushes.count("linear") + sum(n for name, n in chunks if name == "linear")
    assert written >= len(run.frame) and flushes.count("all_rows") + sum(n for name, n in chunks if name == "all_rows") >= len(run.source)


def test_write_workbook_never_writes_over_the_runs_data(tmp_path):
    """A notebook's write_workbook(run, 'data.csv') replaced the CSV with a workbook and raised nothing."""
    import numpy as np
    import pandas as pd

    from titanic_lab import RunConfig, train_run
    from titanic_lab.files import OutputError
    from titanic_lab.workbook import write_workbook

    data = tmp_path / "data.csv"
    rng = np.random.default_rng(0)
    pd.DataFrame({"x": rng.normal(size=30), "y": rng.normal(size=30)}).to_csv(data, index=False)
    before = data.read_bytes()
    run = train_run(RunConfig(data=str(data), target="y", models=["linear"], epochs=2))
    with pytest.raises(OutputError, match="the workbook would overwrite the input data"):
        write_workbook(run, data)
    assert data.read_bytes() == before
