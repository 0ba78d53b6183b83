"""The spreadsheet engines that recalculate a workbook: IronCalc, LibreOffice and Gnumeric.

Each engine reads an .xlsx, recomputes every formula (never trusting a cached value) and
returns every non-empty cell's value as ``{sheet: {(row, col): value}}``, 0-based.

* ``ironcalc``: the pip package `ironcalc <https://www.ironcalc.com>`_ (Rust), installed with
  titanic-lab, so verification needs nothing else. It is pre-1.0: titanic-lab only loads and
  evaluates workbooks with it, never writes one. It runs in a child process, so that the
  workbook's cached values are read at the same time and a crash in the engine (a Rust panic
  prints a backtrace) cannot take the command down with it.
* ``libreoffice``: ``soffice --convert-to xlsx`` with forced recalculation (:mod:`titanic_lab.recalc`).
* ``gnumeric``: ``ssconvert --recalc``. Gnumeric does not read Excel tables (``tableParts``),
  so it computes only the workbooks ``titanic-lab train --portable`` writes (plain A1
  references); in the others every structured reference becomes an error.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Callable

from . import recalc
from .errors import OptionError
from .reading import cell_values, sheet_values
from .recalc import RecalcError

#: ``{sheet: {(row, col): value}}``: every non-empty cell after recalculation, 0-based.
Values = dict[str, dict[tuple[int, int], object]]

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
    _run: Callable[[Path], Values]

    def available(self) -> bool:
        """True when the engine is installed on this machine."""
        return self._found()

    def require(self) -> None:
        """Raise :class:`~titanic_lab.recalc.RecalcError`, saying how to install it, when it is missing."""
        if not self.available():
            raise RecalcError(f"{self.title} ({self.program}) is not installed; install it ({self.install})")

    def recalculate(self, path: str | Path) -> Values:
        """Every non-empty cell of ``path`` after the engine recomputed every formula.

        Raises
        ------
        titanic_lab.recalc.RecalcError
            When the engine is missing, fails on the file, or times out.
        """
        self.require()
        return self._run(Path(path))


# ---- IronCalc ------------------------------------------------------------------------------
def _ironcalc_found() -> bool:
    import importlib.util

    return importlib.util.find_spec("ironcalc") is not None


def _ironcalc_child(path: str, send: Connection) -> None:
    """In the child process: load, evaluate, read back; sends ``(True, values)`` or ``(False, reason)``."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)  # a Rust panic prints a backtrace; the reason is sent instead
    try:
        import ironcalc

        model = ironcalc.load_from_xlsx(path, "en", "UTC")
        model.evaluate()
        names = [sheet["name"] for sheet in model.get_worksheets_properties()]
        values: Values = {name: {} for name in names}
        value = model.get_cell_value
        for sheet, row, col in model.get_all_cells():  # 1-based rows and columns
            v = value(sheet, row, col)
            if v is not None and v != "":
                values[names[sheet]][(row - 1, col - 1)] = v
        send.send((True, values))
    except BaseException as exc:  # a Rust panic arrives as pyo3's PanicException, a BaseException
        reason = str(exc).strip().splitlines()
        send.send((False, reason[0] if reason else type(exc).__name__))
    finally:
        send.close()


def _ironcalc_values(path: Path) -> Values:
    # spawn: the same on every platform, and safe in a parent with threads (torch's, in compare).
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_ironcalc_child, args=(str(path.resolve()), send), daemon=True)
    child.start()
    send.close()
    try:
        if not receive.poll(TIMEOUT):
            child.terminate()
            raise RecalcError(f"{path}: IronCalc did not finish within {TIMEOUT:.0f} s")
        ok, result = receive.recv()
    except EOFError as exc:
        raise RecalcError(f"{path}: IronCalc stopped while recalculating it (the engine crashed)") from exc
    finally:
        receive.close()
        child.join()
    if not ok:
        raise RecalcError(f"{path}: IronCalc could not recalculate it ({result})")
    return result


# ---- LibreOffice ---------------------------------------------------------------------------
def _libreoffice_values(path: Path) -> Values:
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


def _gnumeric_values(path: Path) -> Values:
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
