"""The sheets about the run: ``README`` (facts, models, sheets, a loss chart), ``history``, ``all_rows``, ``spec``."""

from __future__ import annotations

from .. import __version__
from .. import sheet_layout as sl
from ..datasets import registry
from ..datasets.spec import spec_to_toml
from ..rowwriter import RowWriter
from ..training import CONVERGENCE_RULE, TrainResult
from .book import Book, reproducible
from .cells import PRINT_ROWS, print_setup, width
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
            ws.set_column(j, j, text_width(c, source[c]))
        ws.autofilter(0, 0, len(source), len(columns) - 1)
        ws.freeze_panes(1, 0)
    print_setup(ws, repeat=0)


def spec_sheet(book: Book) -> None:
    """The table's description as TOML, one line a row: what ``compare`` and ``predict`` read,
    and what ``--spec`` takes back."""
    with book.sheet(sl.SPEC_SHEET, "The table's description (target, id, feature steps) as TOML: save column A as a "
                                   "file to edit it and train again with --spec.") as ws:
        for r, line in enumerate(spec_to_toml(book.run.dataset).splitlines()):
            if line:
                book.cells.text(ws, r, 0, line)
        ws.set_column(0, 0, 100)
    print_setup(ws, rows=None)


def readme_sheet(book: Book, ws: RowWriter, series: list[Series], gradient_lines: list[str]) -> None:
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
        ("data file", run.data_path.name),
        ("rows", f"{len(run.frame)} of {len(run.source)} ({len(run.train_idx)} train, {len(run.valid_idx)} validation)"
                 + (f"; {run.excluded} rows left out as passengers of {config.exclude_from}" if run.excluded else "")),
        ("target", dataset.target.describe()),
        ("preset" if known else "features from", f"{run.preprocessor.preset_.name}: {run.preprocessor.preset_.description}"),
        ("features", ", ".join(run.features.columns)),
        *([] if known else [("left out", "; ".join(f"{c}: {why}" for c, why in dataset.left_out.items()) or "none")]),
        ("seed / split seed / valid-pct", f"{config.seed} / {config.split_seed} / {config.valid_pct}"),
        *([] if run.chosen is None else [
            ("chosen (predict's default)", f"{run.chosen}: {run.chosen_why}"),
            ("final parameters", f"{run.chosen}'s saw every row: refit with its settings after choosing; its validation "
                                 "figures are the estimate of " + ("the fit that had not seen the validation rows"
                                 if run.choice_folds == 1 else f"{run.choice_folds} folds, each row's from a fit that "
                                 "had not seen it")
             if run.results[run.chosen].refit else "every model's saw the training rows only (no refit)")]),
        *[(f"l2 penalty of {name} (by data)", r.penalty) for name, r in run.results.items() if r.penalty],
        ("when training stops", "after --epochs N exactly when given; otherwise " + CONVERGENCE_RULE),
        ("dtype", config.dtype),
        ("references", "plain A1 (--portable: every engine computes them, Gnumeric and Google Sheets too), each "
                       "column's formula shared down its rows" if config.plain_references
         else "structured table references (--table-references: Excel, LibreOffice, IronCalc; --portable for "
              "Gnumeric, Google Sheets)"),
        ("written", book.when.isoformat(timespec="seconds")),
        ("titanic-lab version", __version__),
    ]
    row = 3
    for key, value in facts:  # the value in B:F, wrapped: a long one makes its row taller, not the page wider
        cells.text(ws, row, 0, key, cells.bold_top)
        cells.merged(ws, row, 1, 5, value, cells.wrap)
        ws.set_row(row, 15 * max(_lines(value, FACT_WIDTH), _lines(key, README_WIDTHS[0])))
        row += 1
    row += 1
    score = f"valid {dataset.target.record.metric_title}"
    # Chosen on folds, the sheets' Valid figures are every row's; this column stays the split's (its first fold).
    shown = f"{score} (the split; the sheets' are {run.choice_folds}-fold)" if run.choice_folds > 1 else score
    headers = ["model", "sheets", "loss", "optimizer", "lr", "epochs run", "restarts", "train loss", "valid loss",
               shown, "seconds", "stopped", "training only (not in the formulas)"]
    for j, h in enumerate(headers):
        cells.text(ws, row, j, h, cells.header_wrap)
    ws.set_row(row, 15 * max(_lines(h, README_WIDTHS[j]) for j, h in enumerate(headers)))
    for name, r in run.results.items():
        row += 1
        spec = r.spec
        sheets = ", ".join(sheet_name(s.base, spec) for s in spec.model_kind.sheets)
        values = [spec.description, sheets, r.settings.loss, r.settings.optimizer, r.settings.lr, len(r.history),
                  r.settings.restarts, r.train_loss, r.valid_loss, run.scores(name)[f"valid_{score.split()[1].lower()}"],
                  None if reproducible() else round(r.seconds, 3), r.stop_reason, _training_only(r)]
        formats = {7: cells.loss, 8: cells.loss, 9: cells.loss, 10: cells.seconds}
        for j, v in enumerate(values):
            cells.value(ws, row, j, v, formats.get(j, cells.wrap))
        ws.set_row(row, 15 * max(_lines(str(v), README_WIDTHS.get(j, 12)) for j, v in enumerate(values) if v is not None))
    row += 2
    cells.text(ws, row, 0, "sheet", cells.header)
    cells.text(ws, row, 1, "what it is", cells.header)
    for name, note in book.sheets:
        row += 1
        cells.text(ws, row, 0, name, cells.top)
        cells.merged(ws, row, 1, 5, note, cells.wrap)
        ws.set_row(row, 15 * _lines(note, FACT_WIDTH))
    row += 1
    cells.merged(ws, row, 0, 12, f"Printing: each sheet prints its first {PRINT_ROWS} rows (a model sheet: the data "
                   "table on one page, the params on the next, the model's columns on the third); to print every row, "
                   "clear the sheet's print area.", cells.wrap)
    ws.set_row(row, 15 * 2)
    if gradient_lines:
        row += 2
        cells.text(ws, row, 0, "the backprop and gradient descent sheets, column by column", cells.header)
        for line in gradient_lines:
            row += 1
            cells.merged(ws, row, 0, 12, line, cells.wrap)
            ws.set_row(row, 15 * _lines(line, sum(README_WIDTHS.values())))
    if series:
        chart = book.wb.add_chart({"type": "scatter", "subtype": "straight"})
        for label, col, epochs in series:
            chart.add_series({
                "name": label,
                "categories": ["history", 1, 0, epochs, 0],
                "values": ["history", 1, col, epochs, col],
            })
        chart.set_title({"name": "Loss per epoch"})
        chart.set_x_axis({"name": "epoch (log scale: the first epochs' fall and the last ones' creep both show)",
                          "log_base": 10, "min": 1})
        # Log scale between round bounds around the losses: the first epochs' loss is many times the last
        # ones', and an axis from the engine's own bounds (0.1 to 10) would flatten every curve.
        low, high = loss_axis(book)
        chart.set_y_axis({"name": "loss (log scale)", "log_base": 10, "min": low, "max": high,
                          "major_gridlines": {"visible": True}})
        chart.set_legend({"position": "bottom"})
        chart.set_size({"width": 760, "height": CHART_ROWS * 20})
        ws.insert_chart(row + 2, 0, chart)
    for j, w in README_WIDTHS.items():
        ws.set_column(j, j, w)


#: The rows (20 pixels each) the README's loss chart covers, two rows under the last text.
CHART_ROWS = 20
#: The README sheet's column widths (characters): the facts' keys, then the models table's columns.
README_WIDTHS = {0: 20, 1: 18, 2: 6, 3: 10, 4: 6, 5: 8, 6: 9, 7: 10, 8: 10, 9: 10, 10: 8, 11: 24, 12: 18}
#: The width of a fact's value, merged over B:F.
FACT_WIDTH = sum(README_WIDTHS[j] for j in range(1, 6))


def _lines(text: str, chars: float) -> int:
    """How many lines ``text`` wraps to in a column ``chars`` wide (a rough count, by words)."""
    lines, used = 1, 0
    for word in str(text).split():
        if used and used + 1 + len(word) > chars * 1.1:
            lines, used = lines + 1, len(word)
        else:
            used += len(word) + (1 if used else 0)
    return lines


def text_width(header: str, values) -> float:
    """A column width that shows its header and its longest value whole, at most 60 characters."""
    longest = max(map(len, map(str, values.dropna().tolist())), default=0)  # (as Python's values: str of each)
    return min(60, max(width(header, 8), longest * 1.05 + 2))


def loss_axis(book: Book) -> tuple[float, float]:
    """Round bounds (1, 2 or 5 times a power of 10) just outside every loss the chart draws."""
    import math

    losses = [h[key] for r in book.run.results.values() for h in r.history for key in ("train_loss", "valid_loss")
              if h[key] is not None and h[key] > 0 and math.isfinite(h[key])]
    if not losses:
        return 0.01, 1.0
    steps = (1, 2, 5)

    def below(x: float) -> float:
        power = 10 ** math.floor(math.log10(x))
        return max(s * power for s in steps if s * power <= x * (1 + 1e-12))

    def above(x: float) -> float:
        power = 10 ** math.floor(math.log10(x))
        return min(s * power for s in (*steps, 10) if s * power >= x * (1 - 1e-12))

    return below(min(losses)), above(max(losses))


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
