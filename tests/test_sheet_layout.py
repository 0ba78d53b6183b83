"""Writer and readers share one sheet layout: every model kind written is read back whole."""

from __future__ import annotations

import pytest

from titanic_lab import sheet_layout as sl
from titanic_lab.compare import compare_workbook
from titanic_lab.config import RunConfig
from titanic_lab.workbook.layout import read_model_sheets
from titanic_lab.reading import sheet_values
from titanic_lab.runs import train_run
from titanic_lab.workbook import sheet_name, write_workbook

MODELS = ("linear", "nnet", "nnet:1", "nnet:3", "sigmoid", "hidden", "hidden:1", "deep", "deep:3")


def _model_headers(rows: list[list[object]]) -> list[str]:
    """The sheet's model columns as written: the header row from the ``Model`` label through ``Loss``."""
    first = rows[0].index(sl.MODEL)
    headers = rows[sl.HEADER_ROW]
    return headers[first:headers.index(sl.LOSS) + 1]


@pytest.mark.parametrize("activation, batchnorm", [("relu", False), ("relu", True), ("tanh", False), ("elu", True)])
def test_every_model_kind_is_read_back_whole(tmp_path, bundled, activation, batchnorm):
    data = tmp_path / "rows.csv"
    bundled.head(80).to_csv(data, index=False)
    run = train_run(RunConfig(data=str(data), preset="notebook", models=MODELS, epochs=2, restarts=1,
                              activation=activation, batchnorm=batchnorm))
    book = write_workbook(run, tmp_path / "every.xlsx")
    values = sheet_values(book)
    written = {}
    for name, result in run.results.items():
        spec = result.spec
        for base in (("nnet", "mmult") if spec.kind == "nnet" else (spec.kind,)):
            written[sheet_name(base, spec)] = spec
    read = {s.name: s for s in read_model_sheets(book)}
    assert set(read) == set(written)
    for name, spec in written.items():
        assert read[name].spec == spec, name  # kind, sizes, activation and batch norm read back
    report = compare_workbook(book)
    assert {s.sheet for s in report.sheets} == set(written)
    for sheet in report.sheets:
        compared = [c.column for c in sheet.columns]
        headers = _model_headers(values[sheet.sheet])
        assert [h for h in headers if h not in compared] == [], f"{sheet.sheet}: columns not compared"
        assert set(read[sheet.sheet].features) <= set(compared)
        assert sheet.ok, [(c.column, c.max_abs_diff) for c in sheet.columns if not c.ok]


def test_one_unit_and_one_layer_blocks_are_numbered():
    assert sl.block_headers(sl.LIN, 1) == ["Lin1"]
    assert sl.block_headers(sl.hidden_blocks(1, "ReLU").activation, 1) == ["ReLU1_1"]
    assert sl.block_headers(sl.PREDS, 1) == ["Preds"] and sl.block_headers(sl.OUT, 1) == ["Out"]
    assert sl.hidden_blocks(None, "Tanh") == ("Lin", "BN", "Tanh")
    assert sl.hidden_blocks(2, "ELU") == ("L2_", "BN2_", "ELU2_")
    assert [sl.block_role(p) for p in ("Linear", "Lin", "BN", "ReLU", "L2_", "BN2_", "Sigm2_", "Out", "Preds")] == [
        ("layer", 1), ("layer", 1), ("batchnorm", 1), ("activation", 1), ("layer", 2), ("batchnorm", 2),
        ("activation", 2), ("layer", 1), ("preds", 0)]
    assert sl.param_labels(["Age_N", "Ones"]) == ["Age_N", "Const"]
