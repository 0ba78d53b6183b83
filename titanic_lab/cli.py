"""The ``titanic-lab`` command line: a thin layer over the library.

This is the only module that parses flags and exits. Each command parses, calls the library
(the workflows live in :mod:`.runs`, :mod:`.design_matrix`, :mod:`.leaderboard`, :mod:`.submit`)
and prints, its tables and lines through :mod:`.report`. Heavy imports (torch, pandas, the
workbook writers) happen inside command bodies so ``titanic-lab --help`` stays instant. Errors
the library raises on purpose become one line on stderr and exit code 2.
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
import typer.core

from . import csv_dialect, report
from .choices import MODEL_KINDS, PRESET_NAMES, one_of
from .config import OPTIONS, Option
from .errors import TitanicLabError

#: click's usage error (typer's own copy of click, or click itself), for :class:`_Commands`.
_UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


class _OneLineUsageError(_UsageError):
    """An unknown option or a value of the wrong type (``--seed 1.5``) in one line, as every other error: click
    prints the usage, a hint and its message on four."""

    def show(self, file=None) -> None:
        where = self.ctx.command_path if self.ctx is not None else "titanic-lab"
        typer.echo(f"error: {' '.join(self.format_message().split())} (see {where} --help)", file=file, err=file is None)


class _Commands(typer.core.TyperGroup):
    """titanic-lab's commands, whose options' usage errors are one line (:class:`_OneLineUsageError`)."""

    def make_context(self, *args, **kwargs):
        try:
            return super().make_context(*args, **kwargs)
        except _UsageError as exc:
            raise _one_line(exc) from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except _UsageError as exc:
            raise _one_line(exc) from None


def _one_line(exc: Exception) -> Exception:
    if isinstance(exc, _OneLineUsageError) or type(exc).__name__ == "NoArgsIsHelpError":  # click 8.2's bare command: its help
        return exc
    return _OneLineUsageError(exc.format_message(), exc.ctx)


app = typer.Typer(
    cls=_Commands,
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
    warnings.showwarning = lambda message, category, *args, **kwargs: typer.echo(f"warning: {report.printable(message)}",
                                                                              err=True)
    # read_titanic already warned about the file's unknown categories, naming the file and line.
    warnings.filterwarnings("ignore", category=UnseenCategoryWarning)

    def undo() -> None:
        warnings.showwarning = shown
        warnings.filters[:] = filters
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    return undo


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {report.printable(message)}", err=True)
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
    typer.echo(report.printable(message), err=as_json)


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
                csv_dialect.check_marks(dialect.get("sep"), dialect.get("decimal"), dialect.get("thousands"))
            with csv_dialect.reading(**dialect, report=lambda line: _info(line, values.get("as_json", False))):
                return body(run=run, **values)

        command.__signature__ = inspect.Signature(
            [inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, default=o.default, annotation=_typer_option(o))
             for o in declared] + [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own])
        return command

    return decorate


#: The options of how a CSV is written, given to every command that reads one.
DIALECT_OPTIONS = ("sep", "decimal", "thousands", "encoding")
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
        from .datasets import registry
        from .files import check_outputs
        from .runs import data_path, describe_data, prepare

        config = RunConfig(**from_command_line(run))
        exclude_from = run["exclude_from"]
        check_outputs({"--data": data_path(config), "--init-from": init_from, "--exclude-from": exclude_from,
                       "--spec": run["spec"]}, {"--out": out, "--plot": plot, "--spec-out": spec_out})
        writer = _output_writer(out)
        prepared = prepare(config)
        _info(f"data: {describe_data(config, prepared.data_path)}", as_json)
        if registry.builtin(prepared.dataset) is None:
            target, hint = prepared.dataset.target, None
            if target.is_regression and config.task is None and config.spec is None:
                from .datasets.infer import class_codes_hint

                hint = class_codes_hint(prepared.frame[target.column], target.column)
            for line in prepared.dataset.describe():
                _info(f"  {line}", as_json)
                if hint and line.startswith("target: "):  # beside the target's line
                    _info(f"  {hint}", as_json)

        if exclude_from is not None:
            _info(f"left out {prepared.excluded} training rows that are passengers of {exclude_from}", as_json)
        specs = {name: spec for name, (spec, _) in prepared.models.items()}
        if out.suffix.lower() == ".xlsx":
            from .workbook import check_fits, check_models_fit

            check_fits(len(prepared.frame))  # before any training
            check_models_fit(list(specs.values()), prepared.X.shape[1], len(prepared.dataset.raw_columns) + 1)
        init = None
        if init_epoch is not None and init_from is None:
            raise TitanicLabError("--init-epoch picks a row of the workbook given with --init-from; give --init-from too")
        if init_from is not None and init_epoch is None:
            from .workbook.layout import params_for_run

            init = params_for_run(init_from, specs, list(prepared.features.columns), prepared.dataset.target)
            _info(f"starting from the parameters in {init_from}", as_json)
        elif init_from is not None:
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
            report.print_summary(run, out)


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
    from .runs import train_run

    totals = {name: settings.epochs or settings.max_epochs for name, (_, settings) in prepared.models.items()}
    if not sys.stderr.isatty():
        lines = _ProgressLines(command)
        return train_run(prepared, init=init, on_epoch=lambda name, epoch: lines(f"{name} epoch {epoch}/{totals[name]}"))
    with _progress_bar() as progress:
        tasks = {name: progress.add_task(name, total=total) for name, total in totals.items()}
        return train_run(prepared, init=init, on_epoch=lambda name, epoch: progress.update(tasks[name], completed=epoch))


@app.command("lr-find")
@_with_run_options("data", "dataset", "preset", "target", "id_column", "spec", "task", "optimizer", "loss", "complete_rows",
                   "valid_pct", *DIALECT_OPTIONS)
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
        from .files import check_outputs
        from .runs import data_path, describe_data, find_learning_rate, prepare

        config = RunConfig(**from_command_line(run), models=(model,))
        check_outputs({"--data": data_path(config)}, {"--plot": plot})
        prepared = prepare(config)
        _info(f"data: {describe_data(config, prepared.data_path)}", as_json)
        spec, settings, found, note = find_learning_rate(prepared)
        if note:
            _info(note, as_json)
        if plot is not None:
            from .plots import plot_lr_find

            plot_lr_find(found, plot, f"{spec.name}, {settings.optimizer}, {settings.loss} loss, {config.preset} preset")
    if as_json:
        typer.echo(json.dumps({"model": spec.name, "optimizer": settings.optimizer, "loss": settings.loss, **found.to_dict()}, indent=2))
        return
    typer.echo(f"{spec.name} ({settings.optimizer}, {settings.loss}): suggested lr {found.suggestion:.3g}: {found.why} "
               f"({len(found.lrs)} steps)" + (f"; plot: {plot}" if plot else ""))


@app.command()
@_with_run_options("data", "dataset", "preset", "target", "id_column", "spec", "task", *DIALECT_OPTIONS)
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
        from .design_matrix import write_design_matrix

        table, names = write_design_matrix(RunConfig(**from_command_line(run)), out, fit_on, complete_rows,
                                           note=lambda line: typer.echo(report.printable(line), err=True))
    typer.echo(report.printable(f"wrote {out}: {len(table)} rows x {len(names)} features ({', '.join(names)})"))


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
    workbook, holds no formula, or the engine is missing.
    """
    with _errors_to_exit():
        from .config import check_real
        from .engines import select_engines
        from .verify import verify_with

        check_real("--tol", tol)
        reports = verify_with(workbook, select_engines(engine), tol=tol)
    if engine != "all":
        _finish_report(reports[0], as_json, report.print_verify)
        return
    # An engine that cannot read table references (Gnumeric) is no verdict on a default workbook: its note says so.
    checked = [r for r in reports if r.ok or not r.note]
    ok = bool(checked) and all(r.ok for r in checked)
    if as_json:
        typer.echo(json.dumps({"path": str(workbook), "tolerance": tol, "ok": ok, "engines": [r.to_dict() for r in reports]}, indent=2))
    else:
        report.print_engines(reports)
    if not ok:
        raise typer.Exit(1)


def _finish_report(result, as_json: bool, printer) -> None:
    """Print a verify/compare report (JSON or tables) and exit 1 when it is not ok."""
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        printer(result)
    if not result.ok:
        raise typer.Exit(1)


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
        result = compare_workbook(workbook, tol=tol, recalc=recalc, engine=engine)
    _finish_report(result, as_json, report.print_compare)


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
    report.print_predictions(submission, used, out)


@app.command()
@_with_run_options("data", "dataset", "target", "id_column", "spec", *DIALECT_OPTIONS)
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
    with _errors_to_exit():
        from .config import RunConfig, from_command_line
        from .leaderboard import plot_leaderboard, prepare_board

        config = RunConfig(**from_command_line(run), exclude_from=str(exclude_from) if exclude_from else None,
                           complete_rows=False)
        board = prepare_board(config, model, folds, repeats, seed, grouped, plot)
        for line in board.notes:
            _info(line, as_json)
        scores = _with_fold_progress(board.run, board.total_folds, "leaderboard")
        if plot is not None:
            plot_leaderboard(scores, plot)
    if as_json:
        typer.echo(json.dumps(board.to_dict(scores), indent=2))
        return
    report.print_leaderboard(scores, folds, repeats, board.grouped, plot)


def _with_fold_progress(job, total: int, command: str):
    """Run ``job(on_fold)``: a progress bar when stderr is a terminal, else a line every few seconds."""
    if not sys.stderr.isatty():
        lines, done = _ProgressLines(command), iter(range(1, total + 1))
        return job(lambda name: lines(f"{next(done)}/{total} folds ({name})"))
    with _progress_bar() as progress:
        task = progress.add_task("folds", total=total)
        return job(lambda name: progress.update(task, advance=1, description=name))


@app.command()
@_with_run_options("dataset", *DIALECT_OPTIONS)
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
        from .config import RunConfig, from_command_line
        from .submit import prepare_submission

        config = RunConfig(**from_command_line(run), data=str(data) if data else None)
        made = prepare_submission(config, test, out, workbook, model, preset, folds)
        for line in made.notes:
            typer.echo(report.printable(line), err=True)
        best, scores = _with_fold_progress(made.choose, made.total_folds, "submit")
        if model is None:
            report.print_choice(best, scores, folds)
        run = _train_with_progress(made.prepare(best), None, "submit")
        submission = made.write(run)
    report.print_submission(made, best, scores, submission, run)


if __name__ == "__main__":
    app()
