"""Every spreadsheet engine recomputes (never echoes cached values), and --portable workbooks compute in all three."""

from __future__ import annotations

import json
import re
import sys
import zipfile

import pytest
from typer.testing import CliRunner

from titanic_lab.cli import app
from titanic_lab.config import RunConfig
from titanic_lab.engines import ENGINES
from titanic_lab.reading import formula_cells, parse_cell, sheet_parts, sheet_values, value_at
from titanic_lab.recalc import RecalcError
from titanic_lab.runs import train_run
from titanic_lab.workbook import write_workbook

runner = CliRunner()
POISON = "-777.25"


def _engine(name: str):
    engine = ENGINES[name]
    if not engine.available():
        pytest.skip(f"{engine.title} ({engine.program}) is not installed")
    return engine


@pytest.fixture(scope="module")
def books(tmp_path_factory, bundled):
    """A small workbook of every model kind, structured and --portable, from 120 bundled rows."""
    folder = tmp_path_factory.mktemp("engines")
    data = folder / "rows.csv"
    bundled.head(120).to_csv(data, index=False)
    out = {}
    for portable in (False, True):
        spreadsheet = train_run(RunConfig(data=str(data), models=("linear", "nnet"), epochs=3, restarts=1, portable=portable))
        notebook = train_run(RunConfig(data=str(data), preset="notebook", models=("hidden:3",), epochs=3, activation="elu",
                                       batchnorm=True, loss="bce", portable=portable))
        out[portable, "spreadsheet"] = write_workbook(spreadsheet, folder / f"spreadsheet-{portable}.xlsx")
        out[portable, "notebook"] = write_workbook(notebook, folder / f"notebook-{portable}.xlsx")
    return out


def _poison(book, out, only: str | None = None) -> list[str]:
    """Copy ``book`` with the cached value of every formula cell (or only the cell ``only``,
    ``sheet!A1``) replaced by a wrong number; returns the poisoned cells."""
    parts = {part: name for name, part in sheet_parts(book).items()}
    formulas = formula_cells(book)
    poisoned = []

    def replace(match: re.Match, sheet: str) -> str:
        address = match.group(2)
        where = f"{sheet}!{address}"
        if parse_cell(address) not in formulas[sheet] or (only is not None and where != only):
            return match.group(0)
        poisoned.append(where)
        attributes = re.sub(r'\st="(str|b|e)"', "", match.group(1))  # the poison is a number
        return f"<c{attributes}>{re.sub(r'<v>[^<]*</v>', f'<v>{POISON}</v>', match.group(3))}</c>"

    with zipfile.ZipFile(book) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename in parts:
                sheet = parts[item.filename]
                pattern = r'<c(\s[^>]*?r="([A-Z]+\d+)"[^>]*?)(?<!/)>(.*?)</c>'
                data = re.sub(pattern, lambda m: replace(m, sheet), data.decode()).encode()
            dst.writestr(item, data)
    return poisoned


@pytest.mark.parametrize("name", list(ENGINES))
@pytest.mark.parametrize("kind", ["spreadsheet", "notebook"])
def test_every_poisoned_cell_is_recomputed(name, kind, books, tmp_path):
    engine = _engine(name)
    book = books[engine.reads_tables is False, kind]  # Gnumeric computes the --portable flavour only
    poisoned = tmp_path / "poisoned.xlsx"
    cells = _poison(book, poisoned)
    assert len(cells) > 1000
    fresh = engine.recalculate(poisoned)
    truth, formulas = sheet_values(book), formula_cells(book)
    worst = 0.0
    for sheet, found in formulas.items():
        for (row, col) in found:
            expected, got = value_at(truth[sheet], row, col), fresh[sheet].get((row, col), "")
            assert isinstance(got, (int, float)) and not isinstance(got, bool), (sheet, row, col, got)
            worst = max(worst, abs(got - expected) / max(1.0, abs(expected)))
    assert worst <= 1e-9


@pytest.mark.parametrize("name", list(ENGINES))
def test_a_tampered_cell_exits_1_naming_it(name, books, tmp_path):
    _engine(name)  # skips the test when the engine is not installed
    tampered = tmp_path / "tampered.xlsx"
    assert _poison(books[True, "spreadsheet"], tampered, only="linear!AC10") == ["linear!AC10"]
    result = runner.invoke(app, ["verify", str(tampered), "--engine", name, "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["engine"] == name and report["worst"] == "linear!AC10"
    assert [(c["sheet"], c["worst_cell"]) for c in report["columns"] if not c["ok"]] == [("linear", "AC10")]
    text = runner.invoke(app, ["verify", str(tampered), "--engine", name]).stdout
    assert "AC10" in text and "DIFFERS" in text


@pytest.mark.parametrize("name", list(ENGINES))
def test_the_portable_workbook_verifies(name, books):
    _engine(name)
    result = runner.invoke(app, ["verify", str(books[True, "spreadsheet"]), "--engine", name, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["cells"] > 1000


def test_portable_changes_references_only(books):
    structured, portable = formula_cells(books[False, "spreadsheet"]), formula_cells(books[True, "spreadsheet"])
    assert structured.keys() == portable.keys()
    for sheet in structured:
        assert structured[sheet].keys() == portable[sheet].keys()  # the same formula cells
        assert not any("[" in text for text in portable[sheet].values())
    assert structured["linear"][(3, 8)] == "Data_linear[[#This Row],[Age]]/$I$1"
    assert [portable["linear"][(r, 8)] for r in (3, 4)] == ["$E4/$I$1", "$E5/$I$1"]
    assert portable["linear"][(0, 8)] == "MAX($E$4:$E$" + str(3 + len(sheet_values(books[True, "spreadsheet"])["linear"]) - 3) + ")"
    spans = [text for (r, c), text in portable["nnet"].items() if r == 4 and text.startswith("SUMPRODUCT(")]
    assert spans and all(text.startswith("SUMPRODUCT($G5:$P5,") for text in spans)
    a, b = sheet_values(books[False, "spreadsheet"]), sheet_values(books[True, "spreadsheet"])
    assert all(a[s] == b[s] for s in a if s != "README")  # the same cached values, the same layout
    readme = {row[0]: row[1] for row in b["README"] if len(row) > 1 and row[0]}
    assert readme["references"].startswith("plain A1")


def test_gnumeric_on_table_references_says_to_use_portable(books):
    _engine("gnumeric")
    result = runner.invoke(app, ["verify", str(books[False, "spreadsheet"]), "--engine", "gnumeric"])
    assert result.exit_code == 1
    assert "--portable" in result.stdout and "DIFFERS" in result.stdout


def test_all_engines_side_by_side(books):
    found = [e for e in ENGINES.values() if e.available()]
    result = runner.invoke(app, ["verify", str(books[True, "spreadsheet"]), "--engine", "all", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [r["engine"] for r in report["engines"]] == [e.name for e in found] and report["ok"]
    text = runner.invoke(app, ["verify", str(books[True, "spreadsheet"]), "--engine", "all"]).stdout
    assert all(e.title in text for e in found)


@pytest.mark.parametrize("name", list(ENGINES))
def test_compare_recalc_with_each_engine(name, books, tmp_path):
    _engine(name)
    poisoned = tmp_path / "poisoned.xlsx"
    _poison(books[True, "spreadsheet"], poisoned)
    assert runner.invoke(app, ["compare", str(poisoned)]).exit_code == 1  # the poison differs from torch
    result = runner.invoke(app, ["compare", str(poisoned), "--recalc", "--engine", name, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["engine"] == name and report["recalculated"] and len(report["sheets"]) == 3


@pytest.mark.parametrize("name, patch", [("ironcalc", "titanic_lab.engines._ironcalc_found"),
                                         ("libreoffice", "titanic_lab.recalc.find_soffice"),
                                         ("gnumeric", "titanic_lab.engines.find_ssconvert")])
def test_a_missing_engine_exits_2_saying_how_to_install_it(name, patch, books, monkeypatch):
    monkeypatch.setattr(patch, lambda: None)
    engine = ENGINES[name]
    for command in (["verify", str(books[True, "spreadsheet"]), "--engine", name],
                    ["compare", str(books[True, "spreadsheet"]), "--recalc", "--engine", name]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, command
        assert result.stderr.strip() == f"error: {engine.title} ({engine.program}) is not installed; install it ({engine.install})"


def test_an_unknown_engine_exits_2(books):
    result = runner.invoke(app, ["verify", str(books[True, "spreadsheet"]), "--engine", "excel"])
    assert result.exit_code == 2 and "--engine must be one of ironcalc, libreoffice, gnumeric, all" in result.stderr


def test_ironcalc_on_a_file_it_cannot_read_exits_2(tmp_path):
    book = tmp_path / "empty.xlsx"
    with zipfile.ZipFile(book, "w") as zf:  # a zip with a workbook part but no sheets that exist
        zf.writestr("xl/workbook.xml", '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>')
        zf.writestr("xl/_rels/workbook.xml.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"/>')
    with pytest.raises(RecalcError, match=rf"^{re.escape(str(book))}: IronCalc could not recalculate it \(.+\)$"):
        ENGINES["ironcalc"].recalculate(book)
    result = runner.invoke(app, ["verify", str(book), "--engine", "ironcalc"])
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1 and str(book) in result.stderr


def test_all_engines_on_a_default_workbook_do_not_fail_for_gnumeric(books):
    """Gnumeric cannot read table references: with --engine all it says so, and is no verdict."""
    result = runner.invoke(app, ["verify", str(books[False, "spreadsheet"]), "--engine", "all"])
    assert result.exit_code == 0, result.output
    if ENGINES["gnumeric"].available():
        assert "cannot read" in result.stdout and "--portable" in result.stdout


def test_ironcalc_returns_the_cells_asked_for_in_any_order(tmp_path):
    import xlsxwriter

    book = tmp_path / "small.xlsx"
    with xlsxwriter.Workbook(book) as wb:
        sheet = wb.add_worksheet("a")
        sheet.write_number(0, 0, 2)
        sheet.write_formula(0, 1, "=A1*3", None, 0)  # a wrong cached value: IronCalc computes 6
        sheet.write_formula(0, 2, '=""', None, "")
        wb.add_worksheet("b")
    ironcalc = ENGINES["ironcalc"]
    wanted = {"a": iter([(0, 2), (0, 1), (0, 0), (5, 5)]), "b": [], "missing": [(0, 0)]}
    assert ironcalc.recalculate(book, lambda: wanted) == {"a": {(0, 1): 6.0, (0, 0): 2.0}, "b": {}, "missing": {}}
    assert ironcalc.recalculate(book)["a"] == {(0, 0): 2.0, (0, 1): 6.0}  # every cell


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the address-space limit (RLIMIT_AS) is enforced on Linux")
def test_ironcalcs_process_has_bounded_memory(tmp_path, monkeypatch):
    """IronCalc's process may take 1 GiB and four times what the workbook's members declare; one that needs more
    than its limit is stopped and reported by name (a zip bomb's members unpack to more than they declare)."""
    import xlsxwriter

    from titanic_lab import engines

    book = tmp_path / "b.xlsx"
    wb = xlsxwriter.Workbook(str(book))
    wb.add_worksheet("s").write_formula(0, 0, "=1+1", None, 2)
    wb.close()
    with zipfile.ZipFile(book) as zf:
        declared = sum(info.file_size for info in zf.infolist())
    assert engines._memory_limit(book) == (1 << 30) + 4 * declared
    assert engines._ironcalc_values(book, None) == {"s": {(0, 0): 2.0}}
    monkeypatch.setattr(engines, "_memory_limit", lambda path: 16 << 20)  # less than Python itself takes
    with pytest.raises(RecalcError, match=r"b\.xlsx: IronCalc (stopped while recalculating it|could not recalculate it)"):
        engines._ironcalc_values(book, None)


def test_ironcalc_reads_each_sheet_as_it_is_told(tmp_path):
    """The cells may come a sheet at a time (an iterator of pairs, as verify gives them while it scans the next
    sheet): the values are those of the whole request given at once."""
    import threading

    import xlsxwriter

    book = tmp_path / "two.xlsx"
    with xlsxwriter.Workbook(book) as wb:
        for name, factor in (("a", 3), ("b", 5)):
            sheet = wb.add_worksheet(name)
            sheet.write_number(0, 0, 2)
            sheet.write_formula(0, 1, f"=A1*{factor}", None, 0)
    asked, second = [], threading.Event()

    def one_at_a_time():
        asked.append("a")
        yield "a", [(0, 1)]
        second.wait(5)  # the child has the first sheet's request while the second is not yet known
        asked.append("b")
        yield "b", iter([(0, 1), (0, 0)])

    threading.Timer(0.5, second.set).start()
    assert ENGINES["ironcalc"].recalculate(book, one_at_a_time) == {"a": {(0, 1): 6.0}, "b": {(0, 1): 10.0, (0, 0): 2.0}}
    assert asked == ["a", "b"]


def test_ironcalc_that_is_never_told_its_cells_stops_at_the_time_limit(tmp_path, monkeypatch):
    """The child waits for the cells it is to return; a caller that never says them does not hold it forever."""
    import threading

    import xlsxwriter

    from titanic_lab import engines

    book = tmp_path / "b.xlsx"
    with xlsxwriter.Workbook(book) as wb:
        wb.add_worksheet("s").write_formula(0, 0, "=1+1", None, 2)
    monkeypatch.setattr(engines, "TIMEOUT", 2.0)
    never = threading.Event()

    def silent():
        never.wait(30)  # the caller is stuck: the child is stopped meanwhile, and the wait ends with the test
        yield from ()

    threading.Timer(4, never.set).start()
    with pytest.raises(RecalcError, match=r"b\.xlsx: its formula cells were not found within 2 s, IronCalc's time limit"):
        engines._ironcalc_values(book, silent)  # the time ran out on the caller's side, not IronCalc's


def test_a_caller_that_fails_while_finding_the_cells_keeps_its_own_error(tmp_path):
    """An error of the caller's own iterator reaches the caller as it is (even a BrokenPipeError, which is not the
    child's pipe), and the child is stopped."""
    import xlsxwriter

    from titanic_lab import engines

    book = tmp_path / "b.xlsx"
    with xlsxwriter.Workbook(book) as wb:
        wb.add_worksheet("s").write_formula(0, 0, "=1+1", None, 2)

    def failing():
        yield "s", [(0, 0)]
        raise BrokenPipeError("the caller's own pipe")

    with pytest.raises(BrokenPipeError, match="the caller's own pipe"):
        engines._ironcalc_values(book, failing)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the processes' command lines from /proc")
def test_a_refused_sheet_leaves_no_ironcalc_process(tmp_path):
    """A sheet refused by the bound check (a cell past Excel's last row) is the one line said, exit 2, and no
    IronCalc process is left when verify returns."""
    import xlsxwriter

    book = tmp_path / "far.xlsx"
    with xlsxwriter.Workbook(book) as wb:
        wb.add_worksheet("s").write_formula(0, 0, "=1+1", None, 2)
    with zipfile.ZipFile(book) as zf:
        members = {info.filename: zf.read(info) for info in zf.infolist()}
    members["xl/worksheets/sheet1.xml"] = members["xl/worksheets/sheet1.xml"].replace(
        b"</sheetData>", b'<row r="2000000"><c r="A2000000"><v>1</v></c></row></sheetData>')
    with zipfile.ZipFile(book, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    result = runner.invoke(app, ["verify", str(book)])
    assert result.exit_code == 2, result.output
    assert "far.xlsx: refused, sheet 's' reaches row 2,000,000" in result.output and "Traceback" not in result.output
    from pathlib import Path

    children = [p for p in Path("/proc").iterdir() if p.name.isdigit()]
    running = []
    for proc in children:
        try:
            command = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if b"load_from_xlsx" in command and str(book).encode() in command:
            running.append(proc.name)
    assert running == []
