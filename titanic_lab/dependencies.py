"""The packages titanic-lab needs, and the one line that says how to install a missing one.

A Kaggle image already has what the notebook API imports (numpy, pandas, scikit-learn, torch,
openpyxl, matplotlib). The command line needs more (typer and rich for itself, XlsxWriter to
write workbooks, python-calamine to read them, IronCalc to verify them); each is imported where
a command needs it, so a notebook that installed titanic-lab with ``pip install --no-deps`` can
import :mod:`titanic_lab.preprocessing` and train, and a command that lacks a package says which
one and how to install it instead of printing a traceback.

The requirements are read from titanic-lab's own installed metadata (``pyproject.toml``'s
``dependencies``), so the version ranges printed are the ones pip would install.
"""

from __future__ import annotations

import importlib.util
import re
from importlib import metadata

DISTRIBUTION = "titanic-lab"

#: Import names that differ from their distribution's name, beyond ``-``/``_``/case.
_IMPORT_NAMES = {"scikit-learn": "sklearn"}


def _normalized(name: str) -> str:
    """A distribution's name as PEP 503 compares names."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements() -> dict[str, str]:
    """titanic-lab's own requirements (no extras): normalized distribution name -> requirement.

    Empty when titanic-lab is not installed (run from a source tree on ``sys.path``).
    """
    try:
        declared = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return {}
    found = {}
    for line in declared:
        if "extra ==" in line:
            continue
        requirement = line.split(";")[0].strip()
        name = re.match(r"[A-Za-z0-9._-]+", requirement).group(0)
        found[_normalized(name)] = requirement
    return found


def import_name(distribution: str) -> str:
    """The top-level module a distribution provides (``python-calamine`` -> ``python_calamine``)."""
    normalized = _normalized(distribution)
    return _IMPORT_NAMES.get(normalized, normalized.replace("-", "_"))


def _distribution(module: str) -> str:
    """The distribution of a top-level module (``sklearn`` -> ``scikit-learn``)."""
    reverse = {v: k for k, v in _IMPORT_NAMES.items()}
    return reverse.get(module, _normalized(module))


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a finder that refuses the name, or a module without a spec
        return False


def missing() -> list[str]:
    """The requirements whose modules cannot be imported here, in ``pyproject.toml``'s order."""
    return [req for dist, req in requirements().items() if not _importable(import_name(dist))]


def missing_package_message(exc: ModuleNotFoundError, what: str) -> str | None:
    """One line saying which package ``what`` needs and the pip command, or None when ``exc``
    is not about one of titanic-lab's own requirements (then it is a bug, not an install).

    Parameters
    ----------
    exc : ModuleNotFoundError
        The import that failed.
    what : str
        What needed it, as the user typed it (``"titanic-lab verify"``).
    """
    if not exc.name:
        return None
    module = exc.name.split(".")[0]
    dist = _distribution(module)
    declared = requirements()
    if declared and dist not in declared:
        return None
    requirement = declared.get(dist, dist)
    return f"{what} needs the package {dist}, which is not installed: pip install '{requirement}'"


def command_line_message(exc: ModuleNotFoundError) -> str | None:
    """One line for a ``titanic-lab`` that cannot start: every missing requirement and one pip
    command (None when ``exc`` is not about a requirement, as in :func:`missing_package_message`)."""
    if missing_package_message(exc, "titanic-lab") is None:
        return None
    absent = missing() or [_distribution(exc.name.split(".")[0])]
    names = ", ".join(re.match(r"[A-Za-z0-9._-]+", r).group(0) for r in absent)
    quoted = " ".join(f"'{r}'" for r in absent)
    return (f"the titanic-lab command needs {names}, which {'is' if len(absent) == 1 else 'are'} not installed: "
            f"pip install {quoted} (or install titanic-lab with its dependencies, without --no-deps)")

