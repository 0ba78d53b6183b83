"""``titanic-lab`` and ``python -m titanic_lab``: start the command line, or say what it lacks.

The command line needs packages a notebook does not (typer, rich, ...). When titanic-lab was
installed without them (``pip install --no-deps``, as in a Kaggle notebook with internet off),
this prints one line naming them and the pip command, and exits 2, instead of a traceback.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Run the ``titanic-lab`` command line."""
    try:
        from .cli import app
    except ModuleNotFoundError as exc:
        from .dependencies import command_line_message

        message = command_line_message(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2) from None
    app(prog_name="titanic-lab")


if __name__ == "__main__":
    main()
