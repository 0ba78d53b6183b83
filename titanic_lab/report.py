"""What the command line prints: the tables and lines of every command's report.

:mod:`titanic_lab.cli` parses, calls the library and hands the result to a printer here; the
printers take the library's objects (a :class:`~titanic_lab.runs.Run`, a verify or compare
report, leaderboard scores) and write to stdout. rich is imported inside each printer, not at
the top: ``titanic-lab --help`` imports the CLI, and must not pay for rich (start-up time).
"""

from __future__ import annotations

import re
from pathlib import Path

import typer

from .engines import ENGINES


#: Control characters (C0 but tab and newline, DEL, C1): a header or a class holding an escape sequence would
#: otherwise reach the terminal as one (colours, a cleared screen, a line overwritten by a carriage return).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: object) -> str:
    """``text`` as a terminal shows it literally: each control character as its escape (``\\x1b``), tab and
    newline kept. Every line and table cell the command line prints goes through it: text from data."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))


def _console(**options: object):
    """A rich console that never reads markup: text from data (a header, a class, a sheet name) prints as it is."""
    from rich.console import Console

    return Console(markup=False, **options)


def _row(table, *cells: object) -> None:
    """Add a row of cells, each :func:`printable`."""
    table.add_row(*(printable(c) for c in cells))


def _fmt(value: float | None, digits: int = 6) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_table(console, table) -> None:
    """Print a rich table whole: never a number or a name cut to ``…``, whatever the width.

    Piped output (a log file) and narrow terminals get the table at the width it needs; a
    terminal then wraps the long lines instead of rich cutting the cells.
    """

    needed = console.measure(table, options=console.options.update_width(10_000)).maximum
    if needed > console.width:
        console = _console(width=needed, stderr=console.stderr)
    console.print(table)


def print_summary(run, out: Path) -> None:
    from rich.table import Table

    table = Table(title=f"{len(run.frame)} rows ({len(run.train_idx)} train, {len(run.valid_idx)} valid), {len(run.features.columns)} features")
    table.add_column("model (loss)", overflow="fold")
    scores = run.dataset.target.record.shown
    headers = {"train_rmse": "train RMSE", "valid_rmse": "valid RMSE", "valid_r2": "valid R²",
               "train_accuracy": "train acc", "valid_accuracy": "valid acc", "valid_log_loss": "valid log loss"}
    if run.choice_folds > 1:  # the table's valid figures are the split's; the choice's are every row's (see "chosen:")
        headers = {k: v.replace("valid", "split") for k, v in headers.items()}
    for column in ("epochs", "lr", "train loss", "valid loss", *(headers[k] for k in scores), "seconds"):
        table.add_column(column, justify="right", min_width=6)
    for name, r in run.results.items():
        measured = run.scores(name)
        _row(
            table,
            f"{name} ({r.settings.loss})",
            str(len(r.history)),
            f"{r.settings.lr:.3g}" + (" (found)" if r.lr_source.startswith("lr-find") else ""),
            _fmt(r.train_loss),
            _fmt(r.valid_loss),
            *(_fmt(measured[k], 4 if k.endswith(("accuracy", "r2", "log_loss")) else 2) for k in scores),
            f"{r.seconds:.2f}",
        )
    console = _console()
    print_table(console, table)
    for name, r in run.results.items():
        console.print(f"{name}: {r.stop_reason}" + (f"; lr {r.settings.lr:.3g} from the learning-rate finder" if r.lr_source.startswith("lr-find") else ""))
    if run.dataset.target.record.per_class:
        for name in run.results:
            console.print(confusion_table(name, *run.confusion(name), run.dataset.target.labels))
    for name, r in run.results.items():
        if r.penalty:
            console.print(f"{name}: {r.penalty}")
    if run.chosen is not None:
        console.print(f"chosen: {run.chosen}, by the {run.chosen_why}")
        if run.choice_folds > 1:
            console.print(f"folds: each model also trained {run.choice_folds - 1} more times, each without one fold of "
                          f"the training rows, so that every row is scored by a fit that had not seen it (--choose-folds)")
        if run.results[run.chosen].refit:
            console.print(f"refit: {run.chosen} trained again with its settings on every row ({len(run.frame)}); its train "
                          "figures are on every row, its valid figures the estimate from before the refit")
    console.print(f"saved: {out}")


def confusion_table(name: str, which: str, matrix, labels):
    """A model's confusion matrix as a rich table: a row per true class, a column per predicted class."""
    from rich.table import Table

    table = Table(title=f"{name}: confusion on the {which} rows (rows: true class, columns: predicted)")
    table.add_column("true \\ predicted", overflow="fold")
    for label in labels:
        table.add_column(printable(label), justify="right", overflow="fold")
    for label, counts in zip(labels, matrix):
        _row(table, str(label), *(str(int(n)) for n in counts))
    return table


def print_verify(report) -> None:
    from rich.table import Table

    console = _console()
    table = Table(title=printable(f"{report.path}: {report.cells} formula cells recalculated by {ENGINES[report.engine].title}"))
    for column in ("sheet", "column", "cells", "max rel. diff", "worst cell", "status"):
        table.add_column(column, justify="right" if column in ("cells", "max rel. diff") else "left")
    for check in report.columns:
        status = "ok" if check.ok(report.tol) else ("NO CACHED VALUE" if check.missing_cached else "DIFFERS")
        _row(table, check.sheet, check.label, str(check.cells), f"{check.max_diff:.2e}", check.worst, status)
    print_table(console, table)
    if report.ok:
        console.print(f"all {report.cells} formula cells within {report.tol:g} of their cached values")
    elif not report.columns:
        console.print("the workbook has no formula cells")
    else:
        bad = [c for c in report.columns if not c.ok(report.tol)]
        missing = sum(c.missing_cached for c in bad)
        hint = f"; {missing} formula cells store no cached value (saved by a writer that does not compute them?)" if missing else ""
        console.print(f"{len(bad)} of {len(report.columns)} columns differ by more than {report.tol:g}{hint}")
    if report.note:
        console.print(report.note, markup=False)


def print_engines(reports) -> None:
    """``verify --engine all``: every column with each engine's largest difference, then one row per engine."""
    from rich.table import Table

    console = _console()
    first = reports[0]
    detail = Table(title=printable(f"{first.path}: {first.cells} formula cells, max. relative difference per engine"))
    for column in ("sheet", "column", "cells", *(ENGINES[r.engine].title for r in reports)):
        detail.add_column(column, justify="left" if column in ("sheet", "column") else "right")
    for i, check in enumerate(first.columns):
        cells = [f"{c.max_diff:.2e}" + ("" if c.ok(r.tol) else " DIFFERS") for r in reports for c in [r.columns[i]]]
        _row(detail, check.sheet, check.label, str(check.cells), *cells)
    print_table(console, detail)
    summary = Table(title=f"within {first.tol:g}?")
    for column in ("engine", "cells", "max rel. diff", "worst cell", "seconds", ""):
        summary.add_column(column, justify="left" if column in ("engine", "worst cell", "") else "right")
    for r in reports:
        _row(summary, ENGINES[r.engine].title, str(r.cells), f"{r.max_diff:.2e}", r.worst, f"{r.seconds:.2f}",
             "ok" if r.ok else ("cannot read tables" if r.note else "DIFFERS"))
    print_table(console, summary)
    for r in reports:
        if r.note:
            console.print(r.note, markup=False)
    for engine in ENGINES.values():
        if not engine.available():
            console.print(f"not installed, skipped: {engine.title} ({engine.program}; {engine.install})", markup=False)


def print_compare(report) -> None:
    from rich.table import Table

    console = _console()
    for s in report.sheets:
        title = f"{s.sheet}: {s.model} model, {s.preset} preset, {s.loss} loss; {s.rows} rows, {s.params} params at {s.params_at}"
        console.print(printable(title), soft_wrap=True, markup=False, highlight=False)  # one line, never wrapped mid-phrase
        table = Table()
        for column in ("column", "cells", "max abs diff", "worst cell", "status"):
            table.add_column(column, justify="right" if column in ("cells", "max abs diff") else "left", no_wrap=True)
        for c in s.columns:
            _row(table, c.column, str(c.cells), f"{c.max_abs_diff:.2e}", c.worst_cell, "ok" if c.ok else "DIFFERS")
        print_table(console, table)
        held = "none found" if s.total_workbook is None else f"{s.total_workbook!r} ({s.total_cell})"
        console.print(f"total loss: workbook {held}, recomputed {s.total_recomputed!r}" + ("" if s.total_ok else "  DIFFERS"))
    verdict = "agree" if report.ok else "DO NOT agree"
    after = f" (after recalculation by {ENGINES[report.engine].title})" if report.recalculated else ""
    console.print(f"{len(report.sheets)} sheet(s) {verdict} with torch within {report.tol:g}{after}")


def print_leaderboard(scores, folds: int, repeats: int, grouped: bool, plot: Path | None) -> None:
    from rich.table import Table

    table = Table(title=f"{folds}-fold x {repeats} cross-validation, the same folds for every model")
    regression = scores[0].is_regression
    if regression:
        columns = ("model", "by", "RMSE", "+-", "R^2", "fit s/fold")
    else:
        loss = "log loss" if scores[0].log_loss else "Brier loss"
        columns = ("model", "by", "accuracy", "+-", *(("by ticket",) if grouped else ()), loss, "fit s/fold")
    for column in columns:
        table.add_column(column, justify="left" if column in ("model", "by") else "right", no_wrap=column == "model")
    for s in scores:
        d = s.to_dict()
        by = "titanic-lab" if s.own else "baseline"
        if regression:
            _row(table, s.name, by, f"{s.rmse:.4f}", f"{s.rmse_std:.4f}", _fmt(s.r2, 4), f"{d['fit_seconds']:.3f}")
            continue
        _row(table, s.name, by, f"{s.accuracy:.4f}", f"{s.accuracy_std:.4f}", *((f"{s.grouped_accuracy:.4f}",) if grouped else ()),
             f"{d['loss']:.4f}", f"{d['fit_seconds']:.3f}")
    console = _console()
    print_table(console, table)
    if plot:
        console.print(f"plot: {plot}")


def print_predictions(submission, used, out: Path) -> None:
    """``predict``'s line: the file written, what it predicts (the dataset's words, else the task's), and the model sheet used."""
    from .datasets import registry  # here, not at the top: the registry imports pandas (start-up time)

    target, known = used.dataset.target, registry.builtin(used.dataset)
    column = submission[target.column]
    if known is not None and known.count_words:
        what = known.count_words.format(n=int(column.sum()))
    else:
        what = target.record.predictions(target, column)
    typer.echo(f"wrote {out}: {len(submission)} rows, {what} (model: sheet {used.name!r}, {used.spec.name}, {used.preset} features; "
               f"chosen: {used.chosen_why})")


def print_choice(best, scores, folds: int) -> None:
    """``submit``'s choice: the candidate chosen by cross-validation among those that converged in every fold."""
    converged = [s for s in scores if s.all_converged]
    unconverged = [s.name for s in scores if not s.all_converged]
    typer.echo(f"chose {best.name} by {folds}-fold cross-validation among the converged: "
               + ", ".join(f"{s.name} {s.accuracy:.4f}" for s in converged)
               + (f" (left out, not converged in every fold: {', '.join(unconverged)})" if unconverged else ""))


def print_submission(made, best, scores, submission, run) -> None:
    """``submit``'s last line: the files written, the count in the dataset's words, the expected accuracy."""
    expected = next(s for s in scores if s.name == best.name)
    low, high = min(expected.accuracies), max(expected.accuracies)
    count = made.dataset.submission_words.format(n=int(submission[run.dataset.target.column].sum()))
    typer.echo(f"wrote {made.out} ({len(submission)} rows, {count}) and {made.workbook}; "
               f"expected accuracy {expected.accuracy:.4f} +- {expected.accuracy_std:.4f} (its own {made.folds}-fold "
               f"cross-validation on {len(made.rows)} rows; folds from {low:.4f} to {high:.4f})")
