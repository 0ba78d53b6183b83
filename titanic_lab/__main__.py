"""``titanic-lab`` and ``python -m titanic_lab``: start the command line, or say what it lacks.

The command line needs packages a notebook does not (typer, rich, ...). When titanic-lab was
installed without them (``pip install --no-deps``, as in a Kaggle notebook with internet off),
this prints one line naming them and the pip command, and exits 2, instead of a traceback.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Run the ``titanic-lab`` command line, then end the process with its exit code.

    Once torch is loaded the process ends without the interpreter's teardown (:func:`_exit`), except
    in an interactive session (IPython, a notebook, ``python -i``), which it leaves running. To run
    commands inside a Python program, call :data:`titanic_lab.cli.app` (Typer's ``CliRunner``).
    """
    try:
        from .cli import app
    except ModuleNotFoundError as exc:
        from .dependencies import command_line_message

        message = command_line_message(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2) from None
    try:
        app(prog_name="titanic-lab")
    except SystemExit as exc:
        _exit(exc.code)
    _exit(0)


def _exit(code: object) -> None:
    """End the process with ``code`` as ``SystemExit(code)`` would, without the interpreter's teardown once torch
    is loaded: unloading its libraries takes ~0.3 s that nobody waits for (1.57 s for ``import torch`` with the
    teardown, 1.24 s without). The exit handlers (temporary folders left, logging) run first, and the output is
    flushed; a flush that fails makes the exit code 120, as Python's own exit does."""
    if "torch" not in sys.modules or hasattr(sys, "ps1") or sys.flags.interactive or "IPython" in sys.modules:
        raise SystemExit(code)
    import atexit
    import os

    if code is None or code is False:
        code = 0
    elif code is True:
        code = 1
    elif not isinstance(code, int):  # SystemExit("text"): the text, exit 1
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()  # what the teardown would run first: exit handlers, weakref finalizers
    for stream in (sys.stdout, sys.stderr):
        if stream is None or getattr(stream, "closed", False):
            continue
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or a full disk: nothing more is written there
            code = code or 120
    os._exit(code)


if __name__ == "__main__":
    main()
