"""The spreadsheet engines that recalculate a workbook: IronCalc, LibreOffice and Gnumeric.

Each engine reads an .xlsx, recomputes every formula (never trusting a cached value) and
returns every non-empty cell's value as ``{sheet: {(row, col): value}}``, 0-based (IronCalc, told
the cells wanted, returns theirs as :class:`AskedValues`, a mapping of the same shape).

* ``ironcalc``: the pip package `ironcalc <https://www.ironcalc.com>`_ (Rust), installed with
  titanic-lab, so verification needs nothing else. It is pre-1.0: titanic-lab only loads and
  evaluates workbooks with it, never writes one. It runs in a child Python process, so that
  the workbook's cached values are read at the same time and a crash in the engine (a Rust
  panic prints a backtrace) cannot take the command down with it.
* ``libreoffice``: ``soffice --convert-to xlsx`` with forced recalculation (:mod:`titanic_lab.recalc`).
* ``gnumeric``: ``ssconvert --recalc``. Gnumeric does not read Excel tables (``tableParts``),
  so it computes only the workbooks ``titanic-lab train --portable`` writes (plain A1
  references); in the others every structured reference becomes an error.
"""

from __future__ import annotations

import functools
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

from . import recalc
from .errors import OptionError
from .reading import cell_values, sheet_values
from .recalc import RecalcError

#: ``{sheet: {(row, col): value}}``: every non-empty cell after recalculation, 0-based (or of the cells asked for:
#: :class:`AskedValues`).
Values = dict[str, Mapping[tuple[int, int], object]]
#: The cells whose values a caller needs, ``{sheet: [(row, col), ...]}`` or its items, given by a call that may wait
#: until the caller knows them (an engine may return more cells). Items may come one sheet at a time, each as soon
#: as the caller has found it: IronCalc reads one sheet's values while the caller finds the next sheet's cells.
Wanted = Callable[[], Mapping[str, Iterable[tuple[int, int]]] | Iterable[tuple[str, Iterable[tuple[int, int]]]]]

#: The tested range of the ironcalc package (also in pyproject.toml).
IRONCALC_REQUIREMENT = "ironcalc>=0.9.1,<0.10"
TIMEOUT = 300.0


@dataclass(frozen=True)
class Engine:
    """A spreadsheet engine titanic-lab can recalculate workbooks with.

    Attributes
    ----------
    name : str
        The ``--engine`` value.
    title : str
        Its name in reports.
    program : str
        What must be installed: a command or a Python package.
    install : str
        One line saying how to install it.
    reads_tables : bool
        Whether it computes structured references (``Table[[#This Row],[Age]]``).
    """

    name: str
    title: str
    program: str
    install: str
    reads_tables: bool
    _found: Callable[[], bool]
    _run: Callable[[Path, Wanted | None], Values]

    def available(self) -> bool:
        """True when the engine is installed on this machine."""
        return self._found()

    def require(self) -> None:
        """Raise :class:`~titanic_lab.recalc.RecalcError`, saying how to install it, when it is missing."""
        if not self.available():
            raise RecalcError(f"{self.title} ({self.program}) is not installed; install it ({self.install})")

    def recalculate(self, path: str | Path, wanted: Wanted | None = None) -> Values:
        """Every non-empty cell of ``path`` after the engine recomputed every formula (or, with ``wanted``, at
        least those cells: IronCalc then returns only them, asking for them once it has recomputed).

        Raises
        ------
        titanic_lab.recalc.RecalcError
            When the engine is missing, fails on the file, or times out.
        """
        self.require()
        return self._run(Path(path), wanted)


# ---- IronCalc ------------------------------------------------------------------------------
def _ironcalc_found() -> bool:
    import importlib.util

    return importlib.util.find_spec("ironcalc") is not None


#: Run as ``python -c`` in a child process: it needs only ironcalc. Its address space is limited first to
#: ``sys.argv[2]`` bytes (:func:`_memory_limit`), where the system allows it. Once it has recomputed the workbook it
#: reads pickles on stdin: None for every cell, else one ``(sheet, rows, cols)`` per sheet (two ``array("l")`` of
#: 0-based indices), each read as it comes, then None. It writes a pickle of ``(True, values)`` or ``(False, reason)``
#: on stdout: for wanted cells, per sheet a list of their values in the order asked (None for an empty cell); else
#: ``{sheet: {(row, col): value}}``.
_IRONCALC_CHILD = """
import os, pickle, sys
result_out = os.fdopen(os.dup(1), "wb")  # the result's own channel: what IronCalc prints on fd 1 goes to fd 2
os.dup2(2, 1)  # ("Unexpected type (empty) in linear!P4" once corrupted the result)
try:
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = min([int(sys.argv[2])] + [bound for bound in (soft, hard) if bound != resource.RLIM_INFINITY])
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, ValueError, OSError, OverflowError, AttributeError):  # no such limit here
        pass
    import ironcalc
    model = ironcalc.load_from_xlsx(sys.argv[1], "en", "UTC")
    model.evaluate()
    names = [sheet["name"] for sheet in model.get_worksheets_properties()]
    value = model.get_cell_value
    wanted = pickle.load(sys.stdin.buffer)
    if wanted is None:
        values = {name: {} for name in names}
        for sheet, row, col in model.get_all_cells():  # 1-based rows and columns
            v = value(sheet, row, col)
            if v is not None and v != "":
                values[names[sheet]][(row - 1, col - 1)] = v
    else:
        index = {name: i for i, name in enumerate(names)}
        values = {}
        while wanted is not None:
            name, rows, cols = wanted
            if name in index:
                values[name] = [value(index[name], row + 1, col + 1) for row, col in zip(rows, cols)]
            wanted = pickle.load(sys.stdin.buffer)
    result = (True, values)
except BaseException as exc:  # a Rust panic arrives as pyo3's PanicException, a BaseException
    reason = str(exc).strip().splitlines()
    result = (False, reason[0] if reason else type(exc).__name__)
result_out.write(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
result_out.flush()
"""


def _memory_limit(path: Path) -> int:
    """The address space IronCalc's process may take for ``path``: 1 GiB and four times what the workbook's members
    declare they unpack to (it took 1.1x, 116 MB for 53 MB and 431 MB for 419 MB). A member that unpacks to more than
    it declares (a zip bomb, refused by :func:`titanic_lab.reading.check_sheets` meanwhile) stops it there."""
    try:
        with zipfile.ZipFile(path) as zf:
            declared = sum(info.file_size for info in zf.infolist())
    except (OSError, zipfile.BadZipFile, ValueError):  # not a zip: the engine says so
        declared = 0
    return (1 << 30) + 4 * declared


def _ironcalc_values(path: Path, wanted: Wanted | None) -> Values:
    # A child process: the caller reads the cached values meanwhile, and a crash in the engine
    # (or the backtrace a Rust panic prints) stays there. It loads and recomputes the workbook
    # while the caller finds its formula cells, the only values it then sends back, a sheet at a time.
    command = [sys.executable, "-c", _IRONCALC_CHILD, str(path.resolve()), str(_memory_limit(path))]
    cells: dict[str, list[tuple[int, int]]] | None = None if wanted is None else {}
    expired, asking, unknown = threading.Event(), threading.Event(), threading.Event()
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as child:
        def stop() -> None:
            if asking.is_set():
                unknown.set()  # the time ran out while the caller was finding the cells, not in IronCalc
            expired.set()
            child.kill()

        watchdog = threading.Timer(TIMEOUT, stop)  # a write to a child that stopped reading would wait forever
        watchdog.start()
        try:
            try:
                sent = True
                if cells is not None:
                    asking.set()  # the time limit may come while the caller is still finding the cells
                    asked = wanted()
                    for name, sheet_cells in (asked.items() if isinstance(asked, Mapping) else asked):
                        cells[name] = sheet_cells = list(sheet_cells)  # read thrice below
                        asking.clear()
                        sent = sent and _send(child, (name, array("l", [r for r, _ in sheet_cells]),
                                                      array("l", [c for _, c in sheet_cells])))
                        asking.set()
                    asking.clear()
                if sent:
                    _send(child, None)
            except BaseException:  # the caller could not say which cells (a workbook it cannot read): no result wanted
                child.kill()
                raise
            stdout, _ = child.communicate()
        finally:
            watchdog.cancel()
    try:
        ok, result = pickle.loads(stdout)
    except Exception as exc:  # no result: the child died (a crash, out of memory) or was stopped
        if unknown.is_set():
            raise RecalcError(f"{path}: its formula cells were not found within {TIMEOUT:.0f} s, IronCalc's time limit") from exc
        if expired.is_set():
            raise RecalcError(f"{path}: IronCalc did not finish within {TIMEOUT:.0f} s") from exc
        raise RecalcError(f"{path}: IronCalc stopped while recalculating it (exit {child.returncode})") from exc
    if not ok:
        raise RecalcError(f"{path}: IronCalc could not recalculate it ({result})")
    if cells is None:
        return result
    return {name: AskedValues(found, result.get(name, [])) for name, found in cells.items()}


class AskedValues(Mapping):
    """An engine's values of the cells asked for: ``{(row, col): value}`` of the non-empty ones (made at the first
    look), and ``asked`` and ``values``, the cells and their values (None: empty) in the order asked."""

    def __init__(self, asked: list[tuple[int, int]], values: list[object]) -> None:
        self.asked, self.values = asked, values

    @functools.cached_property
    def _cells(self) -> dict[tuple[int, int], object]:
        return {cell: v for cell, v in zip(self.asked, self.values) if v is not None and v != ""}

    def __getitem__(self, cell: tuple[int, int]) -> object:
        return self._cells[cell]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self._cells)

    def __len__(self) -> int:
        return len(self._cells)


def _send(child: subprocess.Popen, item: object) -> bool:
    """Write one pickle to the child's stdin, at once; False when the child no longer reads (it failed, and its
    reason is on stdout, or it was stopped)."""
    try:
        child.stdin.write(pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL))
        child.stdin.flush()
    except BrokenPipeError:
        return False
    return True


# ---- LibreOffice ---------------------------------------------------------------------------
def _libreoffice_values(path: Path, wanted: Wanted | None) -> Values:
    with tempfile.TemporaryDirectory(prefix="titanic-lab-lo-") as tmp:
        rows = sheet_values(recalc.recalculate(path, Path(tmp)))
    return {
        sheet: {(r, c): v for r, row in enumerate(grid) for c, v in enumerate(row) if v != ""}
        for sheet, grid in rows.items()
    }


# ---- Gnumeric ------------------------------------------------------------------------------
def find_ssconvert() -> str | None:
    """Gnumeric's command-line converter, or None."""
    return shutil.which("ssconvert")


def _gnumeric_values(path: Path, wanted: Wanted | None) -> Values:
    ssconvert = find_ssconvert()
    with tempfile.TemporaryDirectory(prefix="titanic-lab-gnumeric-") as tmp:
        out = Path(tmp) / "recalculated.xlsx"
        command = [ssconvert, "--recalc", "--export-type=Gnumeric_Excel:xlsx2", str(path.resolve()), str(out)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, env={**os.environ, "HOME": tmp})
        except subprocess.TimeoutExpired as exc:
            raise RecalcError(f"{path}: Gnumeric did not finish within {TIMEOUT:.0f} s") from exc
        if done.returncode != 0 or not out.exists():
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise RecalcError(f"{path}: Gnumeric could not convert it ({detail[-1] if detail else f'exit {done.returncode}'})")
        # Gnumeric writes a formula it cannot parse as an error value that python-calamine rejects.
        return cell_values(out)


ENGINES: dict[str, Engine] = {
    engine.name: engine
    for engine in (
        Engine("ironcalc", "IronCalc", "the ironcalc package", f"pip install '{IRONCALC_REQUIREMENT}'", True, lambda: _ironcalc_found(), _ironcalc_values),
        Engine("libreoffice", "LibreOffice", "soffice", "Debian/Ubuntu: apt-get install libreoffice-calc-nogui", True,
               lambda: recalc.find_soffice() is not None, _libreoffice_values),
        Engine("gnumeric", "Gnumeric", "ssconvert", "Debian/Ubuntu: apt-get install gnumeric", False,
               lambda: find_ssconvert() is not None, _gnumeric_values),
    )
}
DEFAULT_ENGINE = "ironcalc"
#: What ``--engine`` accepts: an engine's name, or ``all`` (every engine installed).
ENGINE_CHOICES = (*ENGINES, "all")


def select_engines(choice: str) -> list[Engine]:
    """The engines ``--engine choice`` names: one, or every installed one for ``all``.

    Raises
    ------
    titanic_lab.errors.OptionError
        An unknown name.
    titanic_lab.recalc.RecalcError
        ``all`` and no engine is installed.
    """
    if choice == "all":
        found = [engine for engine in ENGINES.values() if engine.available()]
        if not found:
            raise RecalcError(f"no spreadsheet engine is installed; install one ({ENGINES[DEFAULT_ENGINE].install})")
        return found
    if choice not in ENGINES:
        raise OptionError(f"--engine must be one of {', '.join(ENGINE_CHOICES)}, got {choice!r}")
    return [ENGINES[choice]]
