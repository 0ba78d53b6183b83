#!/usr/bin/env bash
# Install titanic-lab as its users do, outside the source tree, and run what they run.
#
#   bash tools/check_install.sh [WORKDIR]
#
# 1. Build the sdist and, from it, the wheel (python -m build), as a release would.
# 2. A fresh virtual environment (no system site-packages, so neither this source tree nor an
#    editable install can be imported by accident) holding only what a Kaggle image has:
#    numpy, pandas, scikit-learn, torch, openpyxl, matplotlib, and Jupyter to run a notebook.
#    The wheel goes in with --no-deps, as in a Kaggle notebook with internet off. There:
#    import titanic_lab.preprocessing, run examples/kaggle.ipynb, and check that a command
#    says in one line which packages to install.
# 3. The wheel with its dependencies (and test tools), then from a directory outside the clone:
#    titanic-lab --version, train, verify, predict; the README's commands and Python blocks
#    (tests/test_readme.py) and the notebook (tests/test_notebook.py) against the installed copy.
# 4. pip install git+file://<this clone> (what `pip install git+<repo URL>` does): every module there.
#
# Needs network access to PyPI for the packages (torch comes from `pip install torch==2.13.0`,
# which on this project's CI machines resolves to a CPU wheel kept on disk).
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${1:-$(mktemp -d)}"
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"
echo "check_install: working in $WORK"

python -m build --outdir "$WORK/dist" "$SRC" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
WHEEL="$(ls "$WORK"/dist/titanic_lab-*.whl)"
SDIST="$(ls "$WORK"/dist/titanic_lab-*.tar.gz)"
echo "built: $(basename "$SDIST") and, from it, $(basename "$WHEEL")"

python -m venv "$WORK/venv"
PY="$WORK/venv/bin/python"
pip_quiet() { "$PY" -m pip install --disable-pip-version-check -q "$@"; }
pip_quiet torch==2.13.0
pip_quiet numpy pandas scikit-learn openpyxl matplotlib nbclient nbformat ipykernel

# A directory that is not the clone, holding only what a user would put there.
USER_DIR="$WORK/user"
mkdir -p "$USER_DIR"
cd "$USER_DIR"

echo "== a Kaggle image plus the wheel installed with --no-deps"
pip_quiet --no-deps "$WHEEL"
"$PY" - <<'EOF'
import sys
import titanic_lab, titanic_lab.preprocessing
assert titanic_lab.__file__.startswith(sys.prefix), f"imported {titanic_lab.__file__}, not the installed wheel"
for name in ("typer", "rich", "xlsxwriter", "python_calamine", "ironcalc"):
    assert name not in sys.modules, name
print("import titanic_lab.preprocessing: ok, from", titanic_lab.__file__)
EOF
"$PY" - "$SRC/examples/kaggle.ipynb" <<'EOF'
import sys
import nbclient, nbformat
notebook = nbformat.read(sys.argv[1], as_version=4)
nbclient.NotebookClient(notebook, timeout=600, resources={"metadata": {"path": "."}}).execute()
print("examples/kaggle.ipynb ran: submission.csv has", sum(1 for _ in open("submission.csv")) - 1, "rows")
EOF
set +e
"$WORK/venv/bin/titanic-lab" verify missing.xlsx 2>"$WORK/verify.err"
code=$?
set -e
cat "$WORK/verify.err"
[ "$code" -eq 2 ] || { echo "expected exit 2 from titanic-lab without its packages, got $code"; exit 1; }
[ "$(wc -l <"$WORK/verify.err")" -eq 1 ] && grep -q "pip install" "$WORK/verify.err" && ! grep -q Traceback "$WORK/verify.err"

echo "== the wheel with its dependencies"
pip_quiet "$WHEEL[dev]"
TL="$WORK/venv/bin/titanic-lab"
"$TL" --version
"$TL" train --out workbooks/titanic.xlsx
"$TL" verify workbooks/titanic.xlsx
"$PY" -c "from titanic_lab import read_titanic, bundled_path; read_titanic(bundled_path()).tail(30).drop(columns='Survived').assign(PassengerId=range(2001, 2031)).to_csv('rows.csv', index=False)"
"$TL" predict --model workbooks/titanic.xlsx --data rows.csv --out predictions.csv --allow-overlap
"$TL" train --data "$SRC/titanic_lab/datasets/penguins.csv" --target body_mass_g --out penguins.xlsx
"$TL" verify penguins.xlsx

echo "== the README and the notebook against the installed copy (tests from the clone, run from $USER_DIR)"
"$PY" -m pytest "$SRC/tests/test_readme.py" "$SRC/tests/test_notebook.py" -q -p no:cacheprovider \
    --rootdir "$SRC" --basetemp "$WORK/pytest"
"$PY" -c "import titanic_lab, sys; assert titanic_lab.__file__.startswith(sys.prefix)"

echo "== pip install git+file:// of the clone"
pip_quiet --force-reinstall --no-deps "git+file://$SRC"
"$PY" - "$SRC" <<'EOF'
import pathlib, sys
import titanic_lab
installed = pathlib.Path(titanic_lab.__file__).parent
assert str(installed).startswith(sys.prefix), installed
source = pathlib.Path(sys.argv[1]) / "titanic_lab"
want = {p.relative_to(source) for p in source.rglob("*.py") if "__pycache__" not in p.parts}
have = {p.relative_to(installed) for p in installed.rglob("*.py")}
assert want <= have, sorted(map(str, want - have))
print(f"git install: all {len(want)} modules present")
EOF
echo "check_install: all passed"
