"""What users install: the wheel holds every module and data file, and a Kaggle-like install
(titanic-lab with ``--no-deps`` beside only a Kaggle image's packages) imports the notebook API
and refuses a command in one line naming the missing package.

The full check, a fresh virtual environment outside the source tree with the wheel installed
and the README's commands and the notebook run there, is ``tools/check_install.sh`` (run by
``.ci/run``); these tests are its fast part.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import titanic_lab

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "titanic_lab"

#: What the command line needs beyond a Kaggle image (numpy, pandas, scikit-learn, torch, openpyxl, matplotlib).
NOT_ON_KAGGLE = ("typer", "rich", "xlsxwriter", "python_calamine", "ironcalc")


def _source_files() -> set[str]:
    """Every module and data file of the package in this source tree, as wheel member names."""
    found = set()
    for path in PACKAGE.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            found.add(path.relative_to(ROOT).as_posix())
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the source tree (the tree itself is left untouched)."""
    pytest.importorskip("setuptools")
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(PACKAGE, src / "titanic_lab", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    (built,) = out.glob("titanic_lab-*.whl")
    return built


def test_the_wheel_holds_every_module_and_data_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = _source_files()
    assert {"titanic_lab/features/__init__.py", "titanic_lab/workbook/__init__.py", "titanic_lab/datasets/titanic3.csv"} <= expected
    assert expected - names == set()
    assert {n for n in names if n.startswith("titanic_lab/")} == expected  # nothing else from the tree (no tests, no caches)


def test_the_wheel_names_its_version_licence_and_command(wheel):
    archive = zipfile.ZipFile(wheel)
    dist_info = f"titanic_lab-{titanic_lab.__version__}.dist-info"
    assert wheel.name.startswith(f"titanic_lab-{titanic_lab.__version__}-")
    metadata = archive.read(f"{dist_info}/METADATA").decode()
    assert f"Version: {titanic_lab.__version__}\n" in metadata
    assert any(n.startswith(f"{dist_info}/") and "LICENSE" in n for n in archive.namelist())
    assert "titanic-lab = titanic_lab.__main__:main" in archive.read(f"{dist_info}/entry_points.txt").decode()


def test_version_option():
    from typer.testing import CliRunner

    from titanic_lab.cli import app

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output == f"titanic-lab {titanic_lab.__version__}\n"


# ---- a Kaggle image without the command line's packages ---------------------------------------

_BLOCKER = """
import sys
BLOCKED = set(sys.argv[1].split(","))

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, Block())
sys.argv = sys.argv[2:]
"""


def _without(blocked: tuple[str, ...], code: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter where ``blocked`` modules cannot be imported."""
    return subprocess.run([sys.executable, "-c", _BLOCKER + code, ",".join(blocked), "prog", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def test_the_notebook_api_imports_without_the_command_line_packages(tmp_path):
    code = """
import titanic_lab.preprocessing, titanic_lab.training, titanic_lab.models
from titanic_lab import TitanicPreprocessor, TabularPreprocessor, read_titanic, bundled_path, fit, parse_model, default_settings
import torch
df = read_titanic(bundled_path())
X = TitanicPreprocessor(preset="extended").fit_transform(df)
spec = parse_model("linear")
result = fit(spec, default_settings(spec), torch.tensor(X.to_numpy()), torch.tensor(df["Survived"].to_numpy(dtype=float)))
print(len(X.columns), round(result.train_loss, 3))
print(sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED))
"""
    done = _without(NOT_ON_KAGGLE, code, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    width, blocked_loaded = done.stdout.splitlines()
    assert int(width.split()[0]) > 10 and blocked_loaded == "[]"


def _command(blocked: tuple[str, ...], *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return _without(blocked, "import runpy; runpy.run_module('titanic_lab', run_name='__main__', alter_sys=True)", *args, cwd=cwd)


def test_the_command_line_without_its_packages_names_them_in_one_line(tmp_path):
    done = _command(NOT_ON_KAGGLE, "verify", "missing.xlsx", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: the titanic-lab command needs ") and "pip install " in line
    for package in ("typer", "rich", "xlsxwriter", "python-calamine", "ironcalc"):
        assert package in line


@pytest.mark.parametrize(("blocked", "package", "args"), [
    ("xlsxwriter", "xlsxwriter", ("train", "--model", "linear", "--epochs", "2", "--out", "out.xlsx")),
    ("python_calamine", "python-calamine", ("predict", "--model", "book.xlsx", "--data", "rows.csv")),
])
def test_a_command_names_the_package_it_lacks(tmp_path, bundled, blocked, package, args):
    from typer.testing import CliRunner

    from titanic_lab.cli import app

    bundled.head(300).to_csv(tmp_path / "train.csv", index=False)
    bundled.tail(20).drop(columns="Survived").to_csv(tmp_path / "rows.csv", index=False)
    made = CliRunner().invoke(app, ["train", "--data", str(tmp_path / "train.csv"), "--model", "linear", "--epochs", "2",
                                    "--out", str(tmp_path / "book.xlsx")])
    assert made.exit_code == 0, made.output
    done = _command((blocked,), *args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"error: titanic-lab {args[0]} needs the package {package}, which is not installed: pip install '{package}")
    assert not (tmp_path / "out.xlsx").exists()
