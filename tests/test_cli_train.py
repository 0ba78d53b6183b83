from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from conftest import KAGGLE_HEADER, KAGGLE_ROWS, write_csv
from titanic_lab.cli import app

runner = CliRunner()


def test_help_lists_the_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "train" in result.stdout and "features" in result.stdout


@pytest.mark.parametrize("command", [[], ["train"], ["features"], ["leaderboard"], ["submit"], ["lr-find"], ["predict"]])
def test_help_imports_nothing_heavy(command):
    """``titanic-lab --help`` (and each command's) stays instant: no torch, pandas, scikit-learn, rich or workbook
    writer, though the preset and dataset names it lists are the registry's (tests/test_choices.py)."""
    import subprocess
    import sys

    code = (f"import sys; sys.argv = ['titanic-lab', *{command!r}, '--help']\n"
            "from titanic_lab.cli import app\n"
            "try:\n    app()\nexcept SystemExit:\n    pass\n"
            "heavy = ('torch', 'pandas', 'sklearn', 'rich', 'xlsxwriter', 'openpyxl')\n"
            "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Usage: titanic-lab" in done.stdout
    assert done.stderr.strip() == "[]"


def test_train_json_summary(tmp_path):
    out = tmp_path / "run.json"
    result = runner.invoke(app, ["train", "-m", "linear", "-m", "nnet", "--epochs", "20", "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # stdout is pure JSON
    assert summary["output"] == str(out)
    assert summary["rows"] == 1044 and summary["train_rows"] + summary["valid_rows"] == 1044
    assert set(summary["models"]) == {"linear", "nnet"}
    for model in summary["models"].values():
        assert model["epochs"] == 20 and model["train_loss"] > 0 and 0 <= model["valid_accuracy"] <= 1
    assert "bundled titanic3" in result.stderr  # which data was used
    saved = json.loads(out.read_text())
    assert saved["format"] == "titanic-lab/run-v1"
    assert len(saved["models"]["nnet"]["params"]["W"]) == 10  # (10 features, 2 units)


def test_train_prints_a_summary_table(tmp_path):
    result = runner.invoke(app, ["train", "-m", "linear", "--epochs", "5", "--out", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert "linear" in result.stdout and "saved:" in result.stdout and "bundled titanic3" in result.stdout


def test_divergence_exits_2_with_one_line(tmp_path):
    out = tmp_path / "r.json"
    result = runner.invoke(app, ["train", "-m", "linear", "--optimizer", "sgd", "--lr", "1e6", "--out", str(out)])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "smaller learning rate" in result.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []  # nothing half-written


def test_bad_data_exits_2_naming_the_file(tmp_path):
    bad = write_csv(tmp_path, KAGGLE_HEADER + KAGGLE_ROWS.replace(",22,", ",abc,"))
    result = runner.invoke(app, ["train", "--data", str(bad), "--out", str(tmp_path / "r.json")])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {bad}: column Age has non-numeric value 'abc' on line 2"
    assert "Traceback" not in result.output


def test_bad_options_exit_2(tmp_path):
    for args, message in [
        (["-m", "cnn"], "unknown model 'cnn'"),
        (["--preset", "fancy"], "unknown preset 'fancy'"),
        (["--optimizer", "rmsprop"], "unknown optimizer"),
        (["--valid-pct", "1.5"], "valid-pct"),
        (["--out", str(tmp_path / "run.txt")], "unsupported output type"),
    ]:
        result = runner.invoke(app, ["train", *args, "--out", str(tmp_path / "r.json")] if "--out" not in args else ["train", *args])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr


def _main_with_torch(tmp_path, *lines: str, closed_stdout: bool = False):
    """``titanic_lab.__main__.main()`` run in a fresh Python that has imported torch, after ``lines``."""
    import os
    import shlex
    import subprocess
    import sys

    code = "\n".join(["import sys, torch", *lines])
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir(exist_ok=True)
    command = [sys.executable, "-c", code]
    if closed_stdout:  # started with no standard output at all: sys.stdout is None
        command = ["bash", "-c", shlex.join(command) + " >&-"]
    return subprocess.run(command, capture_output=not closed_stdout, stderr=subprocess.PIPE if closed_stdout else None,
                          text=True, cwd=tmp_path, env=env, timeout=600)


#: Lines that make a file when the interpreter tears down (a module global's __del__), which main() skips once torch is
#: loaded, and one an exit handler makes, which it runs.
_TEARDOWN_PROBES = ["import atexit, pathlib", "atexit.register(pathlib.Path('handler-ran').touch)",
                    "class Probe:", "    def __del__(self, touch=pathlib.Path('teardown-ran').touch): touch()", "probe = Probe()"]


def test_a_command_that_loaded_torch_ends_with_its_code_its_output_and_its_exit_handlers(tmp_path):
    """With torch loaded the command line ends without the interpreter's teardown: still with the command's exit
    code, every line it printed, the exit handlers run (a temporary folder's cleanup among them) and no file
    left in TMPDIR; with no standard output, an error is still its one line and exit 2."""
    done = _main_with_torch(tmp_path, *_TEARDOWN_PROBES, "sys.argv = ['titanic-lab', 'train', '--epochs', '3', '--out', 'run.xlsx']",
                            "from titanic_lab.__main__ import main", "main()")
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("saved: run.xlsx") and (tmp_path / "run.xlsx").exists()
    assert (tmp_path / "handler-ran").exists() and list((tmp_path / "tmp").iterdir()) == []
    assert not (tmp_path / "teardown-ran").exists()  # the teardown was skipped
    for closed in (False, True):
        done = _main_with_torch(tmp_path, "sys.argv = ['titanic-lab', 'train', '--data', 'missing.csv']",
                                "from titanic_lab.__main__ import main", "main()", closed_stdout=closed)
        assert done.returncode == 2 and done.stderr.strip() == "error: missing.csv: no such file", done.stderr
    done = _main_with_torch(tmp_path, "from titanic_lab.__main__ import _exit", "print('before', end='')", "_exit('why')")
    assert (done.returncode, done.stdout, done.stderr) == (1, "before", "why\n")
    for code, status in (("None", 0), ("True", 1), ("3", 3)):
        done = _main_with_torch(tmp_path, "from titanic_lab.__main__ import _exit", f"_exit({code})")
        assert done.returncode == status


def test_an_interactive_session_is_left_running(tmp_path):
    """In an interactive session (here IPython loaded) main() raises SystemExit as any command line does: the
    teardown runs, and a caller may catch it."""
    done = _main_with_torch(tmp_path, *_TEARDOWN_PROBES, "sys.modules['IPython'] = type(sys)('IPython')",
                            "sys.argv = ['titanic-lab', 'train', '--data', 'missing.csv']",
                            "from titanic_lab.__main__ import main",
                            "try:\n    main()\nexcept SystemExit as exc:\n    print('caught', exc.code)")
    assert done.returncode == 0 and done.stdout.strip() == "caught 2"
    assert (tmp_path / "teardown-ran").exists()
