"""The package's shape: every module imports, the import graph has no circle, and only Titanic's
own modules name Titanic's columns in code."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import titanic_lab

ROOT = Path(titanic_lab.__file__).parent
#: Titanic's modules: its dataset and its feature kinds.
TITANIC_HOMES = {"titanic_lab.datasets.titanic", "titanic_lab.features.titanic"}
TITANIC_NAMES = ("Survived", "PassengerId", "Embarked")


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports, anywhere in its body (lazy imports included;
    those under ``if TYPE_CHECKING:`` are for type checkers, never run)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If) and isinstance(block.test, ast.Name)
                   and block.test.id == "TYPE_CHECKING" for stmt in block.body for n in ast.walk(stmt)}
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                target = f"{base}.{alias.name}"
                out.add(target if target in modules else base)
    return {m for m in out if m in modules and m != name}


def test_every_module_imports():
    for info in pkgutil.walk_packages(titanic_lab.__path__, "titanic_lab."):
        importlib.import_module(info.name)


def test_the_import_graph_has_no_circle():
    """Explicit imports only: a package's ``__init__`` that re-exports its modules is not a circle with them."""
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import circle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def _code_strings(tree: ast.AST) -> list[ast.Constant]:
    """String constants that are not docstrings."""
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings]


def _help_texts(tree: ast.AST) -> set[int]:
    """The string parts of the command line's help texts, which speak to a person about the flagship:
    a ``help=`` keyword (Typer's options) or the help argument of ``config._option(default, help, ...)``."""
    texts = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            texts += [k.value for k in node.keywords if k.arg == "help"]
            if isinstance(node.func, ast.Name) and node.func.id == "_option" and len(node.args) > 1:
                texts.append(node.args[1])
    return {id(n) for text in texts for n in ast.walk(text)}


def test_only_titanic_modules_name_titanic_columns():
    """In code; docstrings and the command line's help texts may name them."""
    offenders = []
    for name, path in _modules().items():
        if name in TITANIC_HOMES:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        help_texts = _help_texts(tree)
        for node in _code_strings(tree):
            if id(node) not in help_texts:
                offenders += [f"{name}:{node.lineno} {word}" for word in TITANIC_NAMES if word in node.value]
    assert offenders == []


#: The modules of the command line's workflows: they reach a dataset's presets, board, rules and words through
#: its record (the registry), never by name.
WORKFLOWS = ("titanic_lab.cli", "titanic_lab.report", "titanic_lab.leaderboard", "titanic_lab.submit",
             "titanic_lab.design_matrix", "titanic_lab.runs", "titanic_lab.config", "titanic_lab.choices")


def test_workflows_name_no_dataset_preset_rule_or_column():
    """In code (docstrings and help texts may): no preset, leaderboard rule or column of a built-in dataset."""
    from titanic_lab.datasets import registry

    known = {name for d in registry.DATASETS.values() for name in (*d.presets, *d.rules, *d.default_spec().raw_columns,
                                                                   d.default_spec().target.column)}
    modules = _modules()
    offenders = []
    for name in WORKFLOWS:
        tree = ast.parse(modules[name].read_text(encoding="utf-8"))
        help_texts = _help_texts(tree)
        offenders += [f"{name}:{n.lineno} {n.value!r}" for n in _code_strings(tree) if id(n) not in help_texts and n.value in known]
    assert offenders == []


def test_the_titanic_board_is_its_records():
    """Titanic's leaderboard lives in its dataset record; the leaderboard module keeps only any table's boards."""
    import titanic_lab.leaderboard as leaderboard
    from titanic_lab.datasets import registry, titanic

    assert registry.default().board is titanic.BOARD and not hasattr(leaderboard, "ENTRIES")
    assert {e.model for e in titanic.BOARD if not e.own} >= set(titanic.DATASET.rules)


def test_no_general_module_asks_is_titanic():
    for name, path in _modules().items():
        assert "is_titanic" not in path.read_text(encoding="utf-8"), name


def test_passenger_columns_are_the_groups_presets():
    from titanic_lab.datasets.titanic import GROUPS
    from titanic_lab.features.titanic import PASSENGER_COLUMNS

    assert PASSENGER_COLUMNS == GROUPS.raw_columns


def test_old_import_paths_still_work():
    from titanic_lab.data import read_titanic, same_passengers  # noqa: F401
    from titanic_lab.dataset import DatasetSpec, infer_spec, read_spec, spec_from_toml, titanic_spec  # noqa: F401
    from titanic_lab.preprocessing import PRESETS, Feature, Preset, TabularPreprocessor, TitanicPreprocessor  # noqa: F401

    assert set(PRESETS) == {"spreadsheet", "notebook", "extended", "groups"}


def test_every_public_name_loads_and_is_listed():
    """Each name a package exports lazily (the package root, ``titanic_lab.workbook``) loads in a fresh Python, and
    ``dir()`` lists it before it is loaded; ``from titanic_lab import *`` works."""
    import subprocess
    import sys

    code = ("import titanic_lab, titanic_lab.workbook as w\n"
            "listed = [n for p in (titanic_lab, w) for n in p.__all__ if n not in dir(p)]\n"
            "assert not listed, listed\n"
            "for p in (titanic_lab, w):\n"
            "    for n in p.__all__: getattr(p, n)\n"
            "from titanic_lab import *\n"
            "print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr
