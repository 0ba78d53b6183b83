"""The sheets about the run: ``README`` (facts, models, sheets, a loss chart), ``history``, ``all_rows``, ``spec``."""

from __future__ import annotations

from .. import __version__
from .. import sheet_layout as sl
from ..datasets import registry
from ..datasets.spec import spec_to_toml
from ..rowwriter import RowWriter
from ..training import CONVERGENCE_RULE, TrainResult
from .book import Book, reproducible
from .cells import print_setup, width
from .checks import sheet_name

#: A series of the README's loss chart: its name, its column in ``history``, its epochs.
Series = tuple[str, int, int]


def history_sheet(book: Book) -> list[Series]:
    """Per-epoch losses; returns (series name, column, epochs) for the chart."""
    cells = book.cells
    with book.sheet("history", "Training and validation loss, validation accuracy, per epoch and model.") as ws:
        cells.text(ws, 0, 0, "epoch", cells.header)
        longest = max(len(r.history) for r in book.run.results.values())
        for e in range(longest):
            ws.write_number(1 + e, 0, e + 1)
        series, col = [], 1
        for name, result in book.run.results.items():
            for key in ("train_loss", "valid_loss", "valid_accuracy"):
                if result.history and result.history[0][key] is None:
                    continue
                header = f"{name} {key.replace('_', ' ')}"
                cells.text(ws, 0, col, header, cells.header)
                ws.set_column(col, col, width(header, 10))
                for e, h in enumerate(result.history):
                    ws.write_number(1 + e, col, h[key], cells.loss)
                if key != "valid_accuracy" and result.history:
                    series.append((f"{name} {key.replace('_', ' ')}", col, len(result.history)))
                col += 1
        ws.freeze_panes(1, 1)
    print_setup(ws, repeat=0)
    return series


def all_rows_sheet(book: Book) -> None:
    """Every row of the data file, as read."""
    source, dataset, cells = book.run.source, book.run.dataset, book.cells
    known = registry.builtin(dataset)
    order = known.all_rows_order if known else (dataset.id_column, *source.columns)
    columns = list(dict.fromkeys(c for c in order if c in source.columns))
    with book.sheet("all_rows", "Every row of the data file, as read (the lesson's raw data sheet).") as ws:
        for j, c in enumerate(columns):
            cells.text(ws, 0, j, c, cells.header)
            cells.column_values(ws, 1, j, source[c].to_numpy())
        ws.autofilter(0, 0, len(source), len(columns) - 1)
        ws.freeze_panes(1, 0)


def spec_sheet(book: Book) -> None:
    """The table's description as TOML, one line a row: what ``compare`` and ``predict`` read,
    and what ``--spec`` takes back."""
    with book.sheet(sl.SPEC_SHEET, "The table's description (target, id, feature steps) as TOML: save column A as a "
                                   "file to edit it and train again with --spec.") as ws:
        for r, line in enumerate(spec_to_toml(book.run.dataset).splitlines()):
            if line:
                book.cells.text(ws, r, 0, line)
        ws.set_column(0, 0, 100)


def readme_sheet(book: Book, ws: RowWriter, series: list[Series], gd_words: list[str]) -> None:
    """What the run is, its models and their scores, what each sheet is, and a chart of the loss per epoch.

    ``ws`` is the README sheet, added first so that it comes first in the workbook; it is written
    last, once every other sheet is listed in ``book.sheets``.
    """
    run, config, dataset, cells = book.run, book.run.config, book.run.dataset, book.cells
    cells.text(ws, 0, 0, "titanic-lab run", cells.title)
    ws.set_row(1, 48)  # three lines: a merged cell does not grow to fit its text
    known = registry.builtin(dataset)
    what = known.title if known else f"The lesson's models on {run.data_path.name}"
    ws.merge_range(1, 0, 1, 5, f"{what}, trained in code by hand-written gradient descent, "
                   "written back as live formulas. Every formula cell stores torch's value; recalculate "
                   "(titanic-lab verify) to see the spreadsheet agree.", cells.wrap)
    facts = [
        ("data file", str(run.data_path)),
        ("rows", f"{len(run.frame)} of {len(run.source)} ({len(run.train_idx)} train, {len(run.valid_idx)} validation)"
                 + (f"; {run.excluded} rows left out as passengers of {config.exclude_from}" if run.excluded else "")),
        ("target", dataset.target.describe()),
        ("preset" if known else "features from", f"{run.preprocessor.preset_.name}: {run.preprocessor.preset_.description}"),
        ("features", ", ".join(run.features.columns)),
        *([] if known else [("left out", "; ".join(f"{c}: {why}" for c, why in dataset.left_out.items()) or "none")]),
        ("seed / split seed / valid-pct", f"{config.seed} / {config.split_seed} / {config.valid_pct}"),
        ("when training stops", "after --epochs N exactly when given; otherwise " + CONVERGENCE_RULE),
        ("dtype", config.dtype),
        ("references", "plain A1 (--portable: for Gnumeric, Google Sheets and every engine)" if config.portable
         else "structured table references (Excel, LibreOffice, IronCalc; --portable for Gnumeric, Google Sheets)"),
        ("written", book.when.isoformat(timespec="seconds")),
        ("titanic-lab version", __version__),
    ]
    row = 3
    for key, value in facts:
        cells.text(ws, row, 0, key, cells.bold)
        cells.text(ws, row, 1, value)
        row += 1
    row += 1
    score = "valid RMSE" if dataset.target.is_regression else "valid accuracy"
    headers = ["model", "sheets", "loss", "optimizer", "lr", "epochs run", "restarts", "train loss", "valid loss",
               score, "seconds", "stopped", "training only (not in the formulas)"]
    for j, h in enumerate(headers):
        cells.text(ws, row, j, h, cells.header)
    for name, r in run.results.items():
        row += 1
        spec = r.spec
        sheets = ", ".join(sheet_name(s.base, spec) for s in spec.model_kind.sheets)
        values = [spec.description, sheets, r.settings.loss, r.settings.optimizer, r.settings.lr, len(r.history),
                  r.settings.restarts, r.train_loss, r.valid_loss, run.scores(name)[f"valid_{score.split()[1].lower()}"],
                  None if reproducible() else round(r.seconds, 3), r.stop_reason, _training_only(r)]
        formats = {7: cells.loss, 8: cells.loss, 9: cells.loss, 10: cells.seconds}
        for j, v in enumerate(values):
            cells.value(ws, row, j, v, formats.get(j))
    row += 2
    cells.text(ws, row, 0, "sheet", cells.header)
    cells.text(ws, row, 1, "what it is", cells.header)
    for name, note in book.sheets:
        row += 1
        cells.text(ws, row, 0, name)
        cells.text(ws, row, 1, note)
    if gd_words:
        row += 2
        cells.text(ws, row, 0, "the gradients in the 'gradient descent' sheet", cells.header)
        for line in [*gd_words, "update: each param becomes param - lr * gradient, lr in cell B2 of 'gradient descent'"]:
            row += 1
            cells.text(ws, row, 0, line)
    if series:
        chart = book.wb.add_chart({"type": "scatter", "subtype": "straight"})
        for label, col, epochs in series:
            chart.add_series({
                "name": label,
                "categories": ["history", 1, 0, epochs, 0],
                "values": ["history", 1, col, epochs, col],
            })
        chart.set_title({"name": "Loss per epoch"})
        chart.set_x_axis({"name": "epoch"})
        # Log scale: the first epochs' loss is many times the last ones' and would flatten the rest.
        chart.set_y_axis({"name": "loss (log scale)", "log_base": 10})
        chart.set_size({"width": 720, "height": 360})
        ws.insert_chart(row + 2, 0, chart)
    ws.set_column(0, 0, 28)
    ws.set_column(1, 1, 40)
    for j, h in enumerate(headers[2:-1], start=2):
        ws.set_column(j, j, width(h, 10))
    ws.set_column(len(headers) - 1, len(headers) - 1, 60)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)


def _training_only(result: TrainResult) -> str:
    """The options that shaped training but have no formula: batches, penalties, dropout, stopping."""
    st = result.settings
    parts = ["full batch" if st.batch_size is None else f"batch size {st.batch_size}"]
    if st.accumulate > 1:
        parts.append(f"gradients accumulated over {st.accumulate} batches")
    if st.l1:
        parts.append(f"L1 {st.l1:g}")
    if st.l2:
        parts.append(f"L2 {st.l2:g} (weight decay)")
    if st.dropout:
        parts.append(f"dropout {st.dropout:g} (the identity here, as at inference)")
    if st.patience:
        parts.append(f"early stopping, patience {st.patience}: kept epoch {result.best_epoch}")
    return "; ".join(parts)
