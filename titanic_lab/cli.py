"""The ``titanic-lab`` command line: a thin layer over the library.

This is the only module that prints, parses flags and exits. Heavy imports (torch, pandas,
the workbook writers) happen inside command bodies so ``titanic-lab --help`` stays instant.
Errors the library raises on purpose become one line on stderr and exit code 2.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Iterator, Optional

import typer

from . import csv_dialect
from .choices import MODEL_KINDS, PRESET_NAMES, one_of
from .config import OPTIONS, Option
from .errors import TitanicLabError
from .optim import OPTIMIZERS

app = typer.Typer(
    help="Learn and check tabular deep learning against a spreadsheet: the fast.ai Titanic lesson, "
    "trained by hand-written gradient descent and exported as a live Excel workbook.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: typer's rich help imports rich's markdown and syntax modules, a third of the
    # time `titanic-lab --help` takes.
    rich_markup_mode=None,
)

DEFAULT_OUT = Path("workbooks/titanic.xlsx")
#: Seconds between progress lines when stderr is not a terminal (a log file or a pipe).
PROGRESS_EVERY = 5.0


def _print_version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"titanic-lab {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print titanic-lab's version and exit.")] = False,
) -> None:
    """titanic-lab: the fast.ai Titanic lesson in code and in a spreadsheet."""
    global _command
    _command = f"titanic-lab {ctx.invoked_subcommand}" if ctx.invoked_subcommand else "titanic-lab"
    ctx.call_on_close(_install_handlers())


#: The command being run, as typed (``titanic-lab verify``), for messages about missing packages.
_command = "titanic-lab"


class _Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the program is so that every cleanup runs as for Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _install_handlers():
    """SIGTERM and SIGHUP behave like Ctrl-C; warnings print as one plain line. Returns the undo."""
    import signal
    import warnings

    def terminate(signum, frame):
        raise _Terminated(signum)

    previous = {}
    for signum in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        # Only the default action is replaced: a signal ignored on purpose (nohup) stays ignored.
        if signum is not None and signal.getsignal(signum) == signal.SIG_DFL:
            try:
                previous[signum] = signal.signal(signum, terminate)
            except ValueError:  # not the main thread (an embedding application): leave signals alone
                break
    from .errors import UnseenCategoryWarning

    shown, filters = warnings.showwarning, warnings.filters[:]
    warnings.showwarning = lambda message, category, *args, **kwargs: typer.echo(f"warning: {message}", err=True)
    # read_titanic already warned about the file's unknown categories, naming the file and line.
    warnings.filterwarnings("ignore", category=UnseenCategoryWarning)

    def undo() -> None:
        warnings.showwarning = shown
        warnings.filters[:] = filters
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    return undo


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@contextlib.contextmanager
def _errors_to_exit() -> Iterator[None]:
    """Library errors -> one line on stderr and exit 2; Ctrl-C -> a message and exit 130.

    SIGTERM and SIGHUP exit as Ctrl-C does, with 128 + the signal's number (143, 129).
    """
    try:
        yield
    except TitanicLabError as exc:
        raise _fail(str(exc)) from None
    except _Terminated as exc:
        import signal

        raise _fail(f"interrupted by {signal.Signals(exc.signum).name}; nothing was written", 128 + exc.signum) from None
    except KeyboardInterrupt:
        raise _fail("interrupted; nothing was written", 130) from None
    except ModuleNotFoundError as exc:  # installed without a package this command needs (pip install --no-deps)
        from .dependencies import missing_package_message

        message = missing_package_message(exc, _command)
        if message is None:
            raise
        raise _fail(message) from None


def _info(message: str, as_json: bool) -> None:
    # With --json, stdout carries only the JSON document.
    typer.echo(message, err=as_json)


def _typer_option(option: Option):
    """The typer annotation of a run option, as :mod:`titanic_lab.config` declares it."""
    return Annotated[option.cli_type, typer.Option(*option.flags, help=option.help, show_default=option.show_default)]


def _with_run_options(*names: str):
    """Give a command the run options ``names`` (every RunConfig field when none), as config.py declares them.

    The command receives their command-line values as one dict, ``run``, for
    :func:`titanic_lab.config.from_command_line`; its own parameters follow them in ``--help``.
    """

    def decorate(body):
        declared = [OPTIONS[name] for name in names or OPTIONS]
        own = [p for p in inspect.signature(body, eval_str=True).parameters.values() if p.name != "run"]

        @functools.wraps(body)
        def command(**values):
            run = {o.name: values.pop(o.name) for o in declared}
            with _errors_to_exit():  # every CSV the command reads, in the dialect given (or detected), said in one line
                dialect = {name: OPTIONS[name].from_cli(run[name]) for name in DIALECT_OPTIONS if name in run}
            with csv_dialect.reading(**dialect, report=lambda line: _info(line, values.get("as_json", False))):
                return body(run=run, **values)

        command.__signature__ = inspect.Signature(
            [inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, default=o.default, annotation=_typer_option(o))
             for o in declared] + [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own])
        return command

    return decorate


#: The options of how a CSV is written, given to every command that reads one.
DIALECT_OPTIONS = ("sep", "decimal", "encoding")
DataOpt = _typer_option(OPTIONS["data"])
PresetOpt = _typer_option(OPTIONS["preset"])


@app.command()
@_with_run_options()
def train(
    run: dict,
    plot: Annotated[Optional[Path], typer.Option(help="Write a PNG of train and validation loss and validation accuracy per epoch.", show_default=False)] = None,
    init_from: Annotated[
        Optional[Path],
        typer.Option("--init-from", help="Start from the parameters a workbook holds (e.g. the lesson's Solver weights) instead of random ones.", show_default=False),
    ] = None,
    init_epoch: Annotated[
        Optional[int],
        typer.Option("--init-epoch", help="With --init-from: start from this epoch's row of the workbook's 'gradient descent' "
                     "sheet (-1: its last row) instead of its model sheets.", show_default=False),
    ] = None,
    spec_out: Annotated[Optional[Path], typer.Option("--spec-out", help="Write the table's description (target, id, feature steps, columns left out) as TOML, to edit and pass back with --spec.", show_default=False)] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to save the run: .xlsx (the workbook, live formulas) or .json (parameters and settings).")] = DEFAULT_OUT,
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary on stdout.")] = False,
) -> None:
    """Train the lesson's models by hand-written gradient descent and save the run (Titanic, or any CSV with --target)."""
    with _errors_to_exit():
        from .config import RunConfig, from_command_line
        from .data import describe_source
        from .datasets import registry
        from .runs import prepare

        config = RunConfig(**from_command_line(run))
        from .data import default_data_path
        from .files import check_outputs

        data, exclude_from, spec = run["data"], run["exclude_from"], run["spec"]
        check_outputs({"--data": data or default_data_path(), "--init-from": init_from, "--exclude-from": exclude_from,
                       "--spec": spec}, {"--out": out, "--plot": plot, "--spec-out": spec_out})
        writer = _output_writer(out)
        prepared = prepare(config)
        _info(f"data: {describe_source(prepared.data_path)}", as_json)
        if registry.builtin(prepared.dataset) is None:
            for line in prepared.dataset.describe():
                _info(f"  {line}", as_json)

        if exclude_from is not None:
            _info(f"left out {prepared.excluded} training rows that are passengers of {exclude_from}", as_json)
        if out.suffix.lower() == ".xlsx":
            from .runs import model_settings
            from .workbook import check_fits, check_models_fit

            check_fits(len(prepared.frame))  # before any training
            check_models_fit([spec for spec, _ in model_settings(config, prepared.dataset.target.n_outputs).values()], prepared.X.shape[1],
                             len(prepared.dataset.raw_columns) + 1)
        init = None
        if init_epoch is not None and init_from is None:
            raise TitanicLabError("--init-epoch picks a row of the workbook given with --init-from; give --init-from too")
        if init_from is not None:
            from .layout import params_for_run
            from .runs import model_settings

            specs = {name: spec for name, (spec, _) in model_settings(config, prepared.dataset.target.n_outputs).items()}
            if init_epoch is None:
                init = params_for_run(init_from, specs, list(prepared.features.columns))
                _info(f"starting from the parameters in {init_from}", as_json)
            else:
                from .gradient_compare import params_from_gd_sheet

                init = params_from_gd_sheet(init_from, specs, prepared.X.shape[1], init_epoch)
                _info(f"starting from row {'last' if init_epoch < 0 else init_epoch} of the gradient descent sheet of {init_from}", as_json)
        run = _train_with_progress(prepared, init)
        typer.echo(f"writing {out} ...", err=True)
        writer(run, out)
        if spec_out is not None:
            from .dataset import write_spec

            write_spec(run.dataset, spec_out)
            _info(f"wrote the table's spec to {spec_out} (edit it, then train with --spec {spec_out})", as_json)
        if plot is not None:
            from .plots import plot_history

            plot_history(run, plot)
        if as_json:
            summary = run.summary()
            summary["output"] = str(out)
            typer.echo(json.dumps(summary, indent=2))
        else:
            _print_summary(run, out)


def _output_writer(out: Path):
    """The function that saves a run to ``out``, chosen by its suffix before any work is done."""
    suffix = out.suffix.lower()
    if suffix == ".xlsx":
        from .workbook import write_workbook

        return write_workbook
    if suffix == ".json":
        from .modelfile import write_json

        return write_json
    raise TitanicLabError(f"{out}: unsupported output type {suffix or '(none)'!r}; use .xlsx (the workbook) or .json")


class _ProgressLines:
    """Progress for a log or a pipe: ``command: what, N s`` on stderr, at most every PROGRESS_EVERY seconds."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.started = self.shown = time.monotonic()

    def __call__(self, what: str) -> None:
        now = time.monotonic()
        if now - self.shown >= PROGRESS_EVERY:
            self.shown = now
            typer.echo(f"{self.command}: {what}, {now - self.started:.0f} s", err=True)


def _progress_bar():
    """A rich progress bar on stderr, so stdout keeps only the results."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True))


def _train_with_progress(prepared, init, command: str = "train"):
    """Train ``prepared``: a progress bar when stderr is a terminal, else a line every few seconds."""
    from .runs import model_settings, train_run

    totals = {name: settings.epochs or settings.max_epochs
              for name, (_, settings) in model_settings(prepared.config, prepared.dataset.target.n_outputs).items()}
    if not sys.stderr.isatty():
        lines = _ProgressLines(command)
        return train_run(prepared, init=init, on_epoch=lambda name, epoch: lines(f"{name} epoch {epoch}/{totals[name]}"))
    with _progress_bar() as progress:
        tasks = {name: progress.add_task(name, total=total) for name, total in totals.items()}
        return train_run(prepared, init=init, on_epoch=lambda name, epoch: progress.update(tasks[name], completed=epoch))


def _fmt(value: float | None, digits: int = 6) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _print_table(console, table) -> None:
    """Print a rich table whole: never a number or a name cut to ``…``, whatever the width.

    Piped output (a log file) and narrow terminals get the table at the width it needs; a
    terminal then wraps the long lines instead of rich cutting the cells.
    """
    from rich.console import Console

    needed = console.measure(table, options=console.options.update_width(10_000)).maximum
    if needed > console.width:
        console = Console(width=needed, stderr=console.stderr)
    console.print(table)


def _print_summary(run, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(run.frame)} rows ({len(run.train_idx)} train, {len(run.valid_idx)} valid), {len(run.features.columns)} features")
    table.add_column("model (loss)", overflow="fold")
    scores = run.dataset.target.record.shown
    headers = {"train_rmse": "train RMSE", "valid_rmse": "valid RMSE", "valid_r2": "valid R²",
               "train_accuracy": "train acc", "valid_accuracy": "valid acc", "valid_log_loss": "valid log loss"}
    for column in ("epochs", "lr", "train loss", "valid loss", *(headers[k] for k in scores), "seconds"):
        table.add_column(column, justify="right", min_width=6)
    for name, r in run.results.items():
        measured = run.scores(name)
        table.add_row(
            f"{name} ({r.settings.loss})",
            str(len(r.history)),
            f"{r.settings.lr:.3g}" + (" (found)" if r.lr_source.startswith("lr-find") else ""),
            _fmt(r.train_loss),
            _fmt(r.valid_loss),
            *(_fmt(measured[k], 4 if k.endswith(("accuracy", "r2", "log_loss")) else 2) for k in scores),
            f"{r.seconds:.2f}",
        )
    console = Console()
    _print_table(console, table)
    for name, r in run.results.items():
        console.print(f"{name}: {r.stop_reason}" + (f"; lr {r.settings.lr:.3g} from the learning-rate finder" if r.lr_source.startswith("lr-find") else ""))
    if run.dataset.target.task == "multiclass":
        for name in run.results:
            console.print(_confusion_table(name, *run.confusion(name), run.dataset.target.labels))
    for name, r in run.results.items():
        if r.penalty:
            console.print(f"{name}: {r.penalty}")
    if run.chosen is not None:
        console.print(f"chosen: {run.chosen}, by the {run.chosen_why}")
        if run.results[run.chosen].refit:
            console.print(f"refit: {run.chosen} trained again with its settings on every row ({len(run.frame)}); its train "
                          "figures are on every row, its valid figures the estimate from before the refit")
    console.print(f"saved: {out}")


def _confusion_table(name: str, which: str, matrix, labels):
    """A model's confusion matrix as a rich table: a row per true class, a column per predicted class."""
    from rich.table import Table

    table = Table(title=f"{name}: confusion on the {which} rows (rows: true class, columns: predicted)")
    table.add_column("true \\ predicted", overflow="fold")
    for label in labels:
        table.add_column(str(label), justify="right", overflow="fold")
    for label, counts in zip(labels, matrix):
        table.add_row(str(label), *(str(int(n)) for n in counts))
    return table


@app.command("lr-find")
@_with_run_options("data", "preset", "target", "id_column", "spec", "task", "optimizer", "loss", "complete_rows", "valid_pct",
                   *DIALECT_OPTIONS)
def lr_find(
    run: dict,
    model: Annotated[str, typer.Option("--model", "-m", help=f"The model: {one_of(MODEL_KINDS)}, with sizes as nnet:3, hidden:20, deep:10,10.")] = "linear",
    plot: Annotated[Optional[Path], typer.Option(help="Write a PNG of the loss against the learning rate here.", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rates, losses and suggestions as JSON on stdout.")] = False,
) -> None:
    """Find a learning rate: a short run with the rate growing exponentially, as fastai's lr_find.

    Prints the suggested rate (the larger of the valley and a tenth of the rate with the lowest
    loss), which `train --lr auto` uses.
    """
    with _errors_to_exit():
        from .config import RunConfig, from_command_line
        from .data import describe_source
        from .runs import model_settings, prepare
        from .training import lr_find as find

        from .data import default_data_path
        from .files import check_outputs

        config = RunConfig(**from_command_line(run), models=(model,))
        check_outputs({"--data": run["data"] or default_data_path()}, {"--plot": plot})
        prepared = prepare(config)
        _info(f"data: {describe_source(prepared.data_path)}", as_json)
        ((spec, settings),) = model_settings(config, prepared.dataset.target.n_outputs).values()
        if OPTIMIZERS[settings.optimizer].exact and config.optimizer is None:
            # linear's own on any table needs no rate; find Adam's, the rate --optimizer adam would take
            from .training import default_settings

            settings = default_settings(spec, "adam", settings.loss)
            _info("linear trains with newton on this table (no learning rate to find); showing Adam's", as_json)
        found = find(spec, settings, prepared.X[prepared.train_idx], prepared.y[prepared.train_idx])
        if plot is not None:
            from .plots import plot_lr_find

            plot_lr_find(found, plot, f"{spec.name}, {settings.optimizer}, {settings.loss} loss, {config.preset} preset")
    if as_json:
        typer.echo(json.dumps({"model": spec.name, "optimizer": settings.optimizer, "loss": settings.loss, **found.to_dict()}, indent=2))
        return
    typer.echo(f"{spec.name} ({settings.optimizer}, {settings.loss}): suggested lr {found.suggestion:.3g}: {found.why} "
               f"({len(found.lrs)} steps)" + (f"; plot: {plot}" if plot else ""))


@app.command()
@_with_run_options("data", "preset", "target", "id_column", "spec", "task", *DIALECT_OPTIONS)
def features(
    run: dict,
    complete_rows: Annotated[
        bool, typer.Option("--complete-rows/--all-rows", help="Keep only the rows with every value the preset's row selection needs (the lesson's 712).")
    ] = False,
    fit_on: Annotated[
        Optional[Path],
        typer.Option("--fit-on", help="Learn fill values and maxima from this CSV (e.g. train.csv) and apply them to --data (e.g. test.csv). Default: --data itself.", show_default=False),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="The CSV to write.")] = Path("features.csv"),
) -> None:
    """Write the design matrix (with the id and target columns when the input has them)."""
    with _errors_to_exit():
        from .config import RunConfig, from_command_line
        from .data import default_data_path, describe_source
        from .files import atomic_output, check_outputs

        config = RunConfig(**from_command_line(run))
        path = Path(config.data) if config.data else default_data_path()
        check_outputs({"--data": path, "--fit-on": fit_on, "--spec": config.spec}, {"--out": out})
        fitted = "" if fit_on is None else f"; fitted on: {describe_source(fit_on)}"
        typer.echo(f"data: {describe_source(path)}{fitted}", err=True)
        if config.target or config.spec:
            df, pre, keep = _table_features(config, path, fit_on, complete_rows)
        else:
            df, pre, keep = _titanic_features(config.preset, path, fit_on, complete_rows)
        from .cost import check_matrix
        from .finite import check_features

        check_matrix(len(df), len(pre.feature_names_out_), path)
        matrix = pre.transform(df)
        check_features(matrix, path)
        table = df[keep].join(matrix)
        with atomic_output(out) as tmp:
            table.to_csv(tmp, index=False)
        typer.echo(f"wrote {out}: {len(table)} rows x {matrix.shape[1]} features ({', '.join(matrix.columns)})")


def _titanic_features(preset: str, path: Path, fit_on: Path | None, complete_rows: bool):
    """Titanic rows, the preprocessing fitted on ``fit_on`` (without ``path``'s passengers) or on them, and the
    columns kept beside the features."""
    from .data import ID_COLUMN, TARGET, complete_rows_of, drop_passengers, read_titanic
    from .preprocessing import TitanicPreprocessor

    df = read_titanic(path, require_target=False)
    if complete_rows:
        df = complete_rows_of(df, preset, path)
    fit_rows = df if fit_on is None else read_titanic(fit_on, require_target=False)
    if fit_on is not None:  # the rows to transform never lend their own labels to the fit
        fit_rows, dropped = drop_passengers(fit_rows, df)
        if dropped:
            typer.echo(f"left out of the fit {dropped} rows of {fit_on} that are passengers of {path}", err=True)
    if complete_rows and fit_on is not None:
        fit_rows = complete_rows_of(fit_rows, preset, fit_on)
    return df, TitanicPreprocessor(preset=preset).fit(fit_rows), [c for c in (ID_COLUMN, TARGET) if c in df.columns]


def _table_features(config, path: Path, fit_on: Path | None, complete_rows: bool):
    """Any CSV: its spec (inferred from the rows the fit uses, or --spec), the preprocessing fitted on
    ``fit_on`` or on the rows themselves, and the id and target columns kept beside the features."""
    from .dataset import open_table, read_table
    from .preprocessing import TabularPreprocessor

    fit_rows, dataset = open_table(fit_on or path, config.target, config.id_column, config.spec, task=config.task)
    df = fit_rows if fit_on is None else read_table(path, dataset.target.column, dataset.id_column, require_target=False)
    if complete_rows:
        df, fit_rows = (rows.dropna(subset=list(dataset.raw_columns)).reset_index(drop=True) for rows in (df, fit_rows))
    for line in dataset.describe():
        typer.echo(f"  {line}", err=True)
    keep = [c for c in (dataset.id_column, dataset.target.column) if c and c in df.columns]
    return df, TabularPreprocessor(dataset.features).fit(fit_rows), keep


EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        help="Spreadsheet engine: ironcalc (installed with titanic-lab), libreoffice (soffice), gnumeric (ssconvert; "
        "--portable workbooks only), or all (every one installed, side by side).",
    ),
]


@app.command()
def verify(
    workbook: Annotated[Path, typer.Argument(help="The .xlsx to check (one titanic-lab wrote, or any other).", show_default=False)],
    tol: Annotated[float, typer.Option(help="Largest allowed |recalculated - cached| / max(1, |cached|).")] = 1e-9,
    engine: EngineOpt = "ironcalc",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
) -> None:
    """Recalculate WORKBOOK in a spreadsheet engine and compare every formula cell with its cached value.

    Exit 0 when every cell is within --tol, 1 when one is not, 2 when the file is not a
    workbook or the engine is missing.
    """
    with _errors_to_exit():
        from .config import check_real
        from .engines import select_engines
        from .verify import verify_with

        check_real("--tol", tol)
        reports = verify_with(workbook, select_engines(engine), tol=tol)
    if engine != "all":
        _finish_report(reports[0], as_json, _print_verify)
        return
    # An engine that cannot read table references (Gnumeric) is no verdict on a default workbook: its note says so.
    checked = [r for r in reports if r.ok or not r.note]
    ok = bool(checked) and all(r.ok for r in checked)
    if as_json:
        typer.echo(json.dumps({"path": str(workbook), "tolerance": tol, "ok": ok, "engines": [r.to_dict() for r in reports]}, indent=2))
    else:
        _print_engines(reports)
    if not ok:
        raise typer.Exit(1)


def _finish_report(report, as_json: bool, printer) -> None:
    """Print a verify/compare report (JSON or tables) and exit 1 when it is not ok."""
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        printer(report)
    if not report.ok:
        raise typer.Exit(1)


def _print_verify(report) -> None:
    from rich.console import Console
    from rich.table import Table

    from .engines import ENGINES

    console = Console()
    table = Table(title=f"{report.path}: {report.cells} formula cells recalculated by {ENGINES[report.engine].title}")
    for column in ("sheet", "column", "cells", "max rel. diff", "worst cell", "status"):
        table.add_column(column, justify="right" if column in ("cells", "max rel. diff") else "left")
    for check in report.columns:
        status = "ok" if check.ok(report.tol) else ("NO CACHED VALUE" if check.missing_cached else "DIFFERS")
        table.add_row(check.sheet, check.label, str(check.cells), f"{check.max_diff:.2e}", check.worst, status)
    _print_table(console, table)
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


def _print_engines(reports) -> None:
    """``verify --engine all``: every column with each engine's largest difference, then one row per engine."""
    from rich.console import Console
    from rich.table import Table

    from .engines import ENGINES

    console = Console()
    first = reports[0]
    detail = Table(title=f"{first.path}: {first.cells} formula cells, max. relative difference per engine")
    for column in ("sheet", "column", "cells", *(ENGINES[r.engine].title for r in reports)):
        detail.add_column(column, justify="left" if column in ("sheet", "column") else "right")
    for i, check in enumerate(first.columns):
        cells = [f"{c.max_diff:.2e}" + ("" if c.ok(r.tol) else " DIFFERS") for r in reports for c in [r.columns[i]]]
        detail.add_row(check.sheet, check.label, str(check.cells), *cells)
    _print_table(console, detail)
    summary = Table(title=f"within {first.tol:g}?")
    for column in ("engine", "cells", "max rel. diff", "worst cell", "seconds", ""):
        summary.add_column(column, justify="left" if column in ("engine", "worst cell", "") else "right")
    for r in reports:
        summary.add_row(ENGINES[r.engine].title, str(r.cells), f"{r.max_diff:.2e}", r.worst, f"{r.seconds:.2f}",
                        "ok" if r.ok else ("cannot read tables" if r.note else "DIFFERS"))
    _print_table(console, summary)
    for r in reports:
        if r.note:
            console.print(r.note, markup=False)
    for engine in ENGINES.values():
        if not engine.available():
            console.print(f"not installed, skipped: {engine.title} ({engine.program}; {engine.install})", markup=False)


@app.command()
def compare(
    workbook: Annotated[Path, typer.Argument(help="The lesson's workbook, one titanic-lab wrote, or either after editing.", show_default=False)],
    tol: Annotated[float, typer.Option(help="Largest allowed |recomputed - workbook| / max(1, |workbook|) per cell.")] = 1e-9,
    recalc: Annotated[bool, typer.Option("--recalc", help="Recalculate the workbook in a spreadsheet engine first (needed when its formulas have no cached values).")] = False,
    engine: Annotated[str, typer.Option("--engine", help="The engine of --recalc: ironcalc (installed with titanic-lab), libreoffice or gnumeric.")] = "ironcalc",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
) -> None:
    """Recompute every model sheet of WORKBOOK in torch and compare it cell by cell.

    Sheets are found by their headers. Each is recomputed from its own data and params:
    features, every model column, per-row loss and total loss. Exit 0 when all agree within
    --tol, 1 when a cell does not, 2 when the file is not a workbook in the lesson layout.
    """
    with _errors_to_exit():
        from .compare import compare_workbook
        from .config import check_real

        check_real("--tol", tol)
        report = compare_workbook(workbook, tol=tol, recalc=recalc, engine=engine)
    _finish_report(report, as_json, _print_compare)


def _print_compare(report) -> None:
    from rich.console import Console
    from rich.table import Table

    from .engines import ENGINES

    console = Console()
    for s in report.sheets:
        title = f"{s.sheet}: {s.model} model, {s.preset} preset, {s.loss} loss; {s.rows} rows, {s.params} params at {s.params_at}"
        console.print(title, soft_wrap=True, markup=False, highlight=False)  # one line, never wrapped mid-phrase
        table = Table()
        for column in ("column", "cells", "max abs diff", "worst cell", "status"):
            table.add_column(column, justify="right" if column in ("cells", "max abs diff") else "left", no_wrap=True)
        for c in s.columns:
            table.add_row(c.column, str(c.cells), f"{c.max_abs_diff:.2e}", c.worst_cell, "ok" if c.ok else "DIFFERS")
        _print_table(console, table)
        held = "none found" if s.total_workbook is None else f"{s.total_workbook!r} ({s.total_cell})"
        console.print(f"total loss: workbook {held}, recomputed {s.total_recomputed!r}" + ("" if s.total_ok else "  DIFFERS"))
    verdict = "agree" if report.ok else "DO NOT agree"
    after = f" (after recalculation by {ENGINES[report.engine].title})" if report.recalculated else ""
    console.print(f"{len(report.sheets)} sheet(s) {verdict} with torch within {report.tol:g}{after}")


@app.command()
@_with_run_options(*DIALECT_OPTIONS)
def predict(
    run: dict,
    model: Annotated[Path, typer.Option("--model", help="A workbook holding model params: the lesson's or one titanic-lab wrote (hand-edited or not).", show_default=False)],
    data: Annotated[Path, typer.Option("--data", "-d", help="Rows to predict: Kaggle's test.csv (needs PassengerId), or a CSV with the columns of the table the workbook was trained on.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="The CSV to write: the id column (or 'row', the row number) and the target's column.")] = Path("submission.csv"),
    sheet: Annotated[Optional[str], typer.Option(help="The model sheet to use. Default: the one with the best validation metric every sheet records whatever its loss (accuracy, then log loss; or RMSE), else the lowest total loss (the lesson's workbook).", show_default=False)] = None,
    allow_overlap: Annotated[bool, typer.Option("--allow-overlap", help="Predict even passengers the workbook was trained on (refused by default: that scores the model on its own answers).")] = False,
) -> None:
    """Predict with a workbook's parameters; for Titanic, write Kaggle's PassengerId,Survived CSV."""
    with _errors_to_exit():
        from .files import check_outputs
        from .predict import predict_from_workbook, write_submission

        check_outputs({"--model": model, "--data": data}, {"--out": out})
        submission, used = predict_from_workbook(model, data, sheet, allow_overlap=allow_overlap)
        write_submission(submission, out)
    from .datasets import registry

    target, known = used.dataset.target, registry.builtin(used.dataset)
    if known is not None and known.count_words:
        what = known.count_words.format(n=int(submission[target.column].sum()))
    elif target.is_regression:
        what = f"{target.column} predicted from {submission[target.column].min():.4g} to {submission[target.column].max():.4g}"
    elif target.task == "multiclass":
        counts = submission[target.column].value_counts()
        what = "predicted " + ", ".join(f"{label} {int(counts.get(label, 0))}" for label in target.labels)
    else:
        what = f"{int((submission[target.column] == (target.labels[1] if target.labels else 1)).sum())} predicted " \
               f"{target.column} = {target.labels[1] if target.labels else 1}"
    typer.echo(f"wrote {out}: {len(submission)} rows, {what} (model: sheet {used.name!r}, {used.spec.name}, {used.preset} features; "
               f"chosen: {used.chosen_why})")


@app.command()
@_with_run_options("data", "target", "id_column", "spec", *DIALECT_OPTIONS)
def leaderboard(
    run: dict,
    folds: Annotated[int, typer.Option(help="k of the stratified k-fold.")] = 5,
    repeats: Annotated[int, typer.Option(help="How many times the k-fold is repeated with new folds.")] = 3,
    seed: Annotated[int, typer.Option(help="Seed of the folds.")] = 42,
    model: Annotated[
        Optional[list[str]],
        typer.Option("--model", "-m", help="Only these entries (repeatable): a model as train takes it (nnet: every nnet entry; "
                     "nnet:4), a baseline (gender, logistic, forest, boosting), or a name as in the table ('nnet (extended)'; "
                     "'nnet:4 (notebook)' picks the preset). With --target: linear, nnet, nnet:4..., sigmoid, "
                     "hidden, deep, majority, mean, logistic, ridge, histboosting.", show_default=False),
    ] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Write a PNG of each model's accuracy and fit time here.", show_default=False)] = None,
    grouped: Annotated[Optional[bool], typer.Option("--grouped/--no-grouped", help="Also score every model on folds grouped by ticket (no ticket on both sides of a split), shown beside the plain estimate. Default: yes (Titanic only).", show_default=False)] = None,
    exclude_from: Annotated[
        Optional[Path],
        typer.Option("--exclude-from", help="Leave out every passenger this CSV holds (e.g. the test.csv you will predict): "
                     "the bundled titanic3 holds Kaggle's test passengers with their labels.", show_default=False),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scores as JSON on stdout.")] = False,
) -> None:
    """Cross-validate the lesson's models and the usual baselines on the same folds.

    Repeated stratified k-fold on all rows of the training data; every model sees the same
    folds, its preprocessing fitted on the training part of each fold. Sorted by accuracy.
    With --grouped (the default) each model is also scored on folds grouped by ticket: where
    the two estimates differ, a feature's promise comes from tickets shared across the split.

    Any CSV with --target (or --spec): titanic-lab's linear and nnet (and sigmoid for a binary
    target; linear, hidden and deep for a multiclass one) against the majority or mean predictor,
    LogisticRegression or RidgeCV and HistGradientBoosting, on the table's features and the same
    folds (plain k-fold for a regression target, sorted by RMSE in the target's units; a
    multiclass target's log loss beside its accuracy).
    """
    if any(run[name] is not None for name in ("target", "id_column", "spec")):
        return _leaderboard_any(run, folds, repeats, seed, model, plot, grouped, exclude_from, as_json)
    grouped = True if grouped is None else grouped
    data = run["data"]
    with _errors_to_exit():
        from .config import check_cv
        from .data import bundled_path, default_data_path, describe_source, drop_passengers, read_titanic
        from .files import check_outputs
        from .leaderboard import cross_validate, find_entries, plot_leaderboard

        check_cv(folds, repeats, seed)
        entries = find_entries(model)
        path = data or default_data_path()
        check_outputs({"--data": path, "--exclude-from": exclude_from}, {"--plot": plot})
        df = read_titanic(path)
        if exclude_from is not None:
            df, dropped = drop_passengers(df, read_titanic(exclude_from, require_target=False))
            _info(f"left out {dropped} rows that are passengers of {exclude_from}", as_json)
        elif Path(path).resolve() == bundled_path().resolve():
            _info("note: the bundled titanic3 holds Kaggle's 418 test passengers with their labels; before choosing a model "
                  "for a Kaggle submission, pass --exclude-from test.csv", as_json)
        _info(f"data: {describe_source(path)}, {len(df)} rows; {folds} folds x {repeats} repeats", as_json)
        scores = _with_fold_progress(lambda on_fold: cross_validate(df, entries, folds, repeats, seed, on_fold, grouped),
                                     len(entries) * folds * repeats * (2 if grouped else 1), "leaderboard")
        if plot is not None:
            plot_leaderboard(scores, plot)
    if as_json:
        typer.echo(json.dumps({"data": str(path), "folds": folds, "repeats": repeats, "seed": seed, "grouped": grouped,
                               "models": [s.to_dict() for s in scores]}, indent=2))
        return
    _print_leaderboard(scores, folds, repeats, grouped, plot)


def _leaderboard_any(run: dict, folds: int, repeats: int, seed: int, model: list[str] | None, plot: Path | None,
                     grouped: bool | None, exclude_from: Path | None, as_json: bool) -> None:
    """``leaderboard --target``: any CSV's board (see :func:`titanic_lab.leaderboard.cross_validate`)."""
    with _errors_to_exit():
        from .config import RunConfig, check_cv, from_command_line
        from .data import default_data_path, describe_source
        from .errors import OptionError
        from .files import check_outputs
        from .leaderboard import any_csv_rows, cross_validate, find_entries, plot_leaderboard

        if grouped is not None:
            raise OptionError("--grouped/--no-grouped: folds grouped by ticket are Titanic's; with --target or --spec "
                              "every row is its own group (leave the option out)")
        check_cv(folds, repeats, seed)
        config = RunConfig(**from_command_line(run), exclude_from=str(exclude_from) if exclude_from else None,
                           complete_rows=False)
        check_outputs({"--data": run["data"] or default_data_path(), "--exclude-from": exclude_from, "--spec": run["spec"]},
                      {"--plot": plot})
        path, df, excluded, dataset = any_csv_rows(config)
        entries = find_entries(model, dataset.target.task)
        _info(f"data: {describe_source(path)}, {len(df)} rows; {folds} folds x {repeats} repeats", as_json)
        for line in dataset.describe():
            _info(f"  {line}", as_json)
        if exclude_from is not None:
            _info(f"left out {excluded} rows whose {dataset.id_column} is in {exclude_from}", as_json)
        scores = _with_fold_progress(lambda on_fold: cross_validate(df, entries, folds, repeats, seed, on_fold, dataset=dataset,
                                                                         infer_per_fold=config.spec is None),
                                     len(entries) * folds * repeats, "leaderboard")
        if plot is not None:
            plot_leaderboard(scores, plot)
    if as_json:
        typer.echo(json.dumps({"data": str(path), "target": dataset.target.column, "task": dataset.target.task,
                               "rows": len(df), "folds": folds, "repeats": repeats, "seed": seed,
                               "models": [s.to_dict() for s in scores]}, indent=2))
        return
    _print_leaderboard(scores, folds, repeats, False, plot)


def _print_leaderboard(scores, folds: int, repeats: int, grouped: bool, plot: Path | None) -> None:
    from rich.console import Console
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
            table.add_row(s.name, by, f"{s.rmse:.4f}", f"{s.rmse_std:.4f}", _fmt(s.r2, 4), f"{d['fit_seconds']:.3f}")
            continue
        table.add_row(s.name, by, f"{s.accuracy:.4f}", f"{s.accuracy_std:.4f}", *((f"{s.grouped_accuracy:.4f}",) if grouped else ()),
                      f"{d['loss']:.4f}", f"{d['fit_seconds']:.3f}")
    console = Console()
    _print_table(console, table)
    if plot:
        console.print(f"plot: {plot}")


def _with_fold_progress(job, total: int, command: str):
    """Run ``job(on_fold)``: a progress bar when stderr is a terminal, else a line every few seconds."""
    if not sys.stderr.isatty():
        lines, done = _ProgressLines(command), iter(range(1, total + 1))
        return job(lambda name: lines(f"{next(done)}/{total} folds ({name})"))
    with _progress_bar() as progress:
        task = progress.add_task("folds", total=total)
        return job(lambda name: progress.update(task, advance=1, description=name))


@app.command()
@_with_run_options(*DIALECT_OPTIONS)
def submit(
    run: dict,
    data: DataOpt = None,
    test: Annotated[Path, typer.Option("--test", help="Kaggle's test.csv (needs PassengerId).", show_default=False)] = ...,
    model: Annotated[
        Optional[str],
        typer.Option(help=f"A titanic-lab model ({one_of(MODEL_KINDS)}). Default: the best of titanic-lab's own "
                     "leaderboard entries, chosen by 5-fold cross-validation now.", show_default=False),
    ] = None,
    preset: Annotated[Optional[str], typer.Option(help=f"Feature preset for --model: {one_of(PRESET_NAMES)} (default spreadsheet).", show_default=False)] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="The submission CSV.")] = Path("submission.csv"),
    workbook: Annotated[Optional[Path], typer.Option(help="Where the trained model's workbook goes. Default: the submission's name with .xlsx.", show_default=False)] = None,
    folds: Annotated[int, typer.Option(help="Folds of the cross-validation that estimates the accuracy.")] = 5,
) -> None:
    """Train on every training row, write the Kaggle submission and its workbook, print the expected accuracy."""
    with _errors_to_exit():
        from .config import RunConfig, check_cv
        from .data import ID_COLUMN, default_data_path, describe_source, drop_passengers, read_titanic
        from .errors import DataError, OptionError, TrainingError
        from .files import check_outputs
        from .datasets import registry
        from .leaderboard import ENTRIES, Entry, cross_validate
        from .preprocessing import get_preset
        from .predict import predict_from_workbook, write_submission
        from .runs import prepare
        from .workbook import write_workbook

        path = data or default_data_path()
        if workbook is None and out.suffix.lower() == ".xlsx":
            raise OptionError(f"--out {out}: the submission is a CSV and its workbook takes the same name with .xlsx; "
                              "use --out NAME.csv, or give --workbook")
        workbook = workbook or out.with_suffix(".xlsx")
        check_outputs({"--data": path, "--test": test}, {"--out": out, "--workbook": workbook})
        if preset is not None:
            get_preset(preset)  # an unknown preset is refused before any work
        check_cv(folds)
        df = read_titanic(path)
        to_predict = read_titanic(test, require_target=False)
        if ID_COLUMN not in to_predict.columns:  # before any training
            raise DataError(test, f"has no {ID_COLUMN} column, which a submission needs")
        df, dropped = drop_passengers(df, to_predict)  # never train, choose or score on the answers
        if dropped:
            typer.echo(f"left out {dropped} of {dropped + len(df)} training rows of {describe_source(path)}: they are "
                       f"passengers of {test} ({registry.default().same_rows_key})", err=True)
        if model is None:
            candidates = [e for e in ENTRIES if e.own and (preset is None or e.preset == preset)]
        else:
            candidates = [Entry(f"{model} ({preset or 'spreadsheet'})", model, preset or "spreadsheet", True)]
        scores = _with_fold_progress(lambda on_fold: cross_validate(df, candidates, folds=folds, repeats=1, on_fold=on_fold),
                                     len(candidates) * folds, "submit")  # best first
        converged = [s for s in scores if s.all_converged]
        if not converged:
            raise TrainingError(f"no candidate converged in every fold ({', '.join(s.name for s in scores)}); give --model and --preset")
        expected = converged[0]
        best = next(e for e in candidates if e.name == expected.name)
        if model is None:
            unconverged = [s.name for s in scores if not s.all_converged]
            typer.echo(f"chose {best.name} by {folds}-fold cross-validation among the converged: "
                       + ", ".join(f"{s.name} {s.accuracy:.4f}" for s in converged)
                       + (f" (left out, not converged in every fold: {', '.join(unconverged)})" if unconverged else ""))
        run = _train_with_progress(prepare(RunConfig(data=str(path), preset=best.preset, models=(best.model,), valid_pct=0,
                                                     complete_rows=False, exclude_from=str(test), **dict(best.options))),
                                   None, "submit")
        write_workbook(run, workbook)
        # Predict from the workbook just written: the submission comes from the model file itself.
        submission, _ = predict_from_workbook(workbook, test)
        write_submission(submission, out)
    low, high = min(expected.accuracies), max(expected.accuracies)
    typer.echo(f"wrote {out} ({len(submission)} rows, {int(submission[run.dataset.target.column].sum())} survive) and {workbook}; "
               f"expected accuracy {expected.accuracy:.4f} +- {expected.accuracy_std:.4f} (its own {folds}-fold "
               f"cross-validation on {len(df)} rows; folds from {low:.4f} to {high:.4f})")


if __name__ == "__main__":
    app()
