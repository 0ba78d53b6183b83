"""CSV dialects as Excel writes them: detection on bytes, reading, wrong guesses, the options on every command.

Each file is written here the way Excel's Save As writes it: "CSV UTF-8" (commas, a UTF-8
byte-order mark), "CSV" on a Western European Windows (Windows-1252), "CSV" where the decimal
mark is a comma (semicolons, decimal commas, Windows-1252), "Unicode Text" (tabs, UTF-16 LE
with a byte-order mark); and pipes. Every line ends in CRLF, as Excel's do.
"""

from __future__ import annotations

import codecs
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from titanic_lab import csv_dialect
from titanic_lab.cli import app
from titanic_lab.config import RunConfig
from titanic_lab.csv_dialect import Dialect, detect, wrong_guess
from titanic_lab.dataset import read_table
from titanic_lab.errors import DataError, OptionError
from titanic_lab.reading import sheet_values

runner = CliRunner()

#: Excel's Save As types: (separator, decimal mark, how the text becomes bytes).
EXCEL = {
    "csv-utf8": (",", ".", lambda text: codecs.BOM_UTF8 + text.encode("utf-8")),
    "csv-windows": (",", ".", lambda text: text.encode("cp1252")),
    "csv-europe": (";", ",", lambda text: text.encode("cp1252")),
    "unicode-text": ("\t", ".", lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le")),
    "pipes": ("|", ".", lambda text: text.encode("utf-8")),
}
EXPECTED = {
    "csv-utf8": Dialect(",", ".", "utf-8-sig"),
    "csv-windows": Dialect(",", ".", "cp1252"),
    "csv-europe": Dialect(";", ",", "cp1252"),
    "unicode-text": Dialect("\t", ".", "utf-16"),
    "pipes": Dialect("|", ".", "utf-8"),
}


def table(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """A small table with accents, decimals, a two-valued and a numeric target."""
    rng = np.random.default_rng(seed)
    town = rng.choice(["Tromsø", "Orléans", "Köln", "Bergen"], n)
    width = np.round(rng.uniform(1, 30, n), 2)
    height = np.round(rng.uniform(0.5, 9, n), 3)
    price = np.round(1000 + 120 * width + 50 * height + rng.normal(0, 20, n), 2)
    return pd.DataFrame({"town": town, "width": width, "height": height, "sold": (price > 2600).astype(int), "price": price})


def excel_bytes(df: pd.DataFrame, kind: str) -> bytes:
    sep, decimal, encode = EXCEL[kind]
    return encode(df.to_csv(sep=sep, decimal=decimal, index=False, lineterminator="\r\n"))


def write(tmp_path, df: pd.DataFrame, kind: str, name: str = "table.csv"):
    path = tmp_path / name
    path.write_bytes(excel_bytes(df, kind))
    return path


@pytest.mark.parametrize("kind", EXCEL)
def test_detect_on_bytes(kind):
    assert detect(excel_bytes(table(), kind)) == EXPECTED[kind]


@pytest.mark.parametrize("kind", EXCEL)
def test_detect_on_the_first_bytes_of_a_long_file(kind):
    head = excel_bytes(table(3000), kind)[: csv_dialect.HEAD_BYTES]
    assert detect(head, complete=False) == EXPECTED[kind]


def test_given_values_are_kept_and_named():
    found = detect(excel_bytes(table(), "csv-europe"), sep=",", encoding="latin-1")
    assert (found.sep, found.decimal, found.encoding) == (",", ".", "latin-1")
    assert found.given == {"sep", "encoding"}
    assert found.describe().endswith("(detected; to override: --decimal)")


def test_thousands_points_with_decimal_commas():
    text = "item;price\r\na;1.234,50\r\nb;12,25\r\nc;999,00\r\n".encode("cp1252")
    assert (detect(text).decimal, detect(text).thousands) == (",", ".")


def test_decimal_points_with_semicolons_and_plain_whole_numbers():
    assert detect(b"a;b\r\n1.5;2\r\n2.25;3\r\n").decimal == "."
    assert detect(b"a;b\r\n1;2\r\n3;4\r\n") == Dialect(";", ".", "utf-8")


def test_separators_inside_quotes_do_not_count():
    text = b'name,age\r\n"Smith; John",22\r\n"Doe; Jane",31\r\n'
    assert detect(text).sep == ","


def test_one_column_file_stays_comma():
    assert detect(b"price\r\n1.5\r\n2\r\n").sep == ","


def test_plain_says_nothing_and_others_say_one_line():
    assert Dialect().plain and not Dialect(encoding="utf-8-sig").plain
    line = EXPECTED["csv-europe"].describe()
    assert line == ("separator ';' (semicolon), decimal mark ',', encoding Windows-1252 "
                    "(detected; to override: --sep, --decimal, --encoding)")


def test_wrong_guesses_are_named():
    one = wrong_guess(["town;width;height"], {}, Dialect(",", ".", "utf-8", given=frozenset({"sep"})))
    assert one == ("read with separator ',' (comma) it is one column ('town;width;height'), but ';' (semicolon) splits "
                   "its header; pass --sep ';', or leave --sep out to detect it")
    text = wrong_guess(["a", "b"], {"b": ["22,5", "3", None]}, Dialect(";", "."))
    assert text == "column b is read as text, but its values are numbers with a decimal comma ('22,5'); pass --decimal ','"
    assert wrong_guess(["a", "b"], {"b": ["22,5", "abc"]}, Dialect(";", ".")) is None  # text that is text
    assert wrong_guess(["a"], {}, Dialect()) is None


@pytest.mark.parametrize("text, option", [("xx", "--sep"), ("a", "--sep")])
def test_bad_sep(text, option):
    with pytest.raises(OptionError, match=option):
        csv_dialect.parse_sep(text)


def test_option_values():
    assert csv_dialect.parse_sep("tab") == csv_dialect.parse_sep("\\t") == "\t"
    assert csv_dialect.parse_encoding("UTF8") == "utf-8" and csv_dialect.parse_encoding("latin-1") == "iso8859-1"
    with pytest.raises(OptionError, match="--encoding 'klingon'"):
        csv_dialect.parse_encoding("klingon")
    for codec in ("hex", "rot13"):  # codecs Python knows, of bytes to bytes or text to text
        with pytest.raises(OptionError, match=f"--encoding '{codec}' is not a text encoding"):
            csv_dialect.parse_encoding(codec)
    with pytest.raises(OptionError, match="--decimal"):
        csv_dialect.parse_decimal(";")


@pytest.mark.parametrize("kind", EXCEL)
def test_every_dialect_reads_the_same_table(tmp_path, kind):
    df = table()
    plain = read_table(write(tmp_path, df, "pipes", "plain.csv"), "price")
    rows = read_table(write(tmp_path, df, kind), "price")
    pd.testing.assert_frame_equal(rows, plain)
    assert "Tromsø" in set(rows["town"]) and "Orléans" in set(rows["town"])


def test_windows_1252_after_the_first_bytes(tmp_path):
    df = table(4000)
    df.loc[3999, "town"] = "Nørre Snede"  # its ø is beyond HEAD_BYTES: UTF-8 is guessed, then Windows-1252 read
    path = tmp_path / "late.csv"
    path.write_bytes(df.to_csv(index=False).replace("Tromsø", "Tromso").replace("Orléans", "Orleans")
                     .replace("Köln", "Koln").encode("cp1252"))
    lines = []
    with csv_dialect.reading(report=lines.append):
        rows = read_table(path, "price")
    assert rows["town"].iloc[-1] == "Nørre Snede"
    assert lines == [f"read {path}: separator ',' (comma), decimal mark '.', encoding Windows-1252 "
                     "(detected; to override: --sep, --decimal, --encoding)"]


def test_given_dialect_reads_what_detection_cannot(tmp_path):
    path = tmp_path / "one.csv"  # quoted decimal commas in a comma file: not guessed, given
    path.write_text('a,b\r\n"1,5",2\r\n"2,5",1\r\n"3,5",2\r\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"column a is read as text, but its values are numbers with a decimal comma \('1,5'\); pass --decimal ','"):
        read_table(path, "b")
    with csv_dialect.reading(decimal=","):
        assert read_table(path, "b")["a"].tolist() == [1.5, 2.5, 3.5]


CSV_COMMANDS = ["train", "lr-find", "features", "leaderboard", "predict", "submit"]


@pytest.mark.parametrize("command", CSV_COMMANDS)
def test_every_command_that_reads_a_csv_takes_the_dialect_options(command):
    result = runner.invoke(app, [command, "--help"], terminal_width=200)
    assert all(option in result.output for option in ("--sep", "--decimal", "--encoding")), result.output


@pytest.mark.parametrize("kind", EXCEL)
def test_train_end_to_end_without_options(tmp_path, kind):
    path = write(tmp_path, table(), kind)
    out = tmp_path / "book.xlsx"
    result = runner.invoke(app, ["train", "--data", str(path), "--target", "price", "-m", "linear", "--epochs", "3",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    said = [line for line in result.stdout.splitlines() if line.startswith("read ")]
    assert said == ([] if EXPECTED[kind].plain else [f"read {path}: {EXPECTED[kind].describe()}"])
    rows = sheet_values(out)["all_rows"]
    assert rows[0] == ["town", "width", "height", "sold", "price"]
    assert rows[1:] == table().astype(object).values.tolist()


@pytest.mark.parametrize("option, value, message", [
    ("--sep", ",", "read with separator ',' (comma) it is one column"),
    ("--sep", "tab", "read with separator tab it is one column"),
    ("--decimal", ".", "column width is read as text, but its values are numbers with a decimal comma"),
    ("--encoding", "utf-8", "is not UTF-8 text (byte 0xf6"),
    ("--encoding", "utf-16", "cannot be read as utf-16 text (UTF-16 stream does not start with BOM)"),
    ("--encoding", "hex", "--encoding 'hex' is not a text encoding"),
])
def test_a_wrong_option_is_one_line(tmp_path, option, value, message):
    path = write(tmp_path, table(), "csv-europe")
    out = tmp_path / "book.xlsx"
    result = runner.invoke(app, ["train", "--data", str(path), "--target", "price", option, value, "-m", "linear",
                                 "--epochs", "3", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert not out.exists()


def test_utf_32_with_its_mark_is_not_read_as_utf_16(tmp_path):
    """UTF-32 LE's byte-order mark starts with UTF-16 LE's: the longer mark is looked for first."""
    text = table().to_csv(index=False)
    assert detect(codecs.BOM_UTF32_LE + text.encode("utf-32-le")).encoding == "utf-32"
    path = tmp_path / "wide.csv"
    path.write_bytes(codecs.BOM_UTF32_LE + text.encode("utf-32-le"))
    pd.testing.assert_frame_equal(read_table(path, "price"), read_table(write(tmp_path, table(), "pipes", "plain.csv"), "price"))


def test_thousands_commas_in_a_comma_separated_file(tmp_path):
    """Quoted "9,479" in a comma-separated file is 9479 (Excel's CSV of a number formatted with thousands
    commas); before, the advice was --decimal ',', which read it as 9.479. A decimal comma ("9,5") is not one."""
    path = tmp_path / "grouped.csv"
    path.write_text('big,x,y\n"9,479",1.5,1\n"1,024,000.5",2.5,2\n"12",3.5,3\n', encoding="utf-8")
    assert detect(path.read_bytes()).thousands == ","
    assert read_table(path, "y")["big"].tolist() == [9479.0, 1024000.5, 12.0]
    path.write_text('big,x,y\n"9,479",1.5,1\n"9,5",2.5,2\n', encoding="utf-8")
    assert detect(path.read_bytes()).thousands is None
    with pytest.raises(DataError, match="decimal comma"):
        read_table(path, "y")


def test_predict_reads_a_european_file(tmp_path):
    df = table(80)
    book = tmp_path / "book.xlsx"
    trained = runner.invoke(app, ["train", "--data", str(write(tmp_path, df, "pipes")), "--target", "price", "-m", "linear",
                                  "--out", str(book)])
    assert trained.exit_code == 0, trained.output
    rows = write(tmp_path, df.drop(columns="price"), "csv-europe", "new.csv")
    out = tmp_path / "predictions.csv"
    result = runner.invoke(app, ["predict", "--model", str(book), "--data", str(rows), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"read {rows}: separator ';'")
    assert len(pd.read_csv(out)) == 80


def test_a_dialect_is_not_copied_with_the_frame_it_describes():
    """pandas deep-copies ``attrs`` at every column taken from a frame: the (immutable) dialect is itself."""
    import copy

    import pandas as pd

    dialect = Dialect(sep=";", decimal=",", given=frozenset({"sep"}))
    frame = pd.DataFrame({"a": [1.0]})
    frame.attrs["dialect"] = dialect
    assert copy.deepcopy(dialect) is dialect and frame["a"].attrs["dialect"] is dialect


# ---- thousands marks: detected, given (--thousands), and a guess the file leaves open --------------------------


def _features(tmp_path, path, *options: str):
    out = tmp_path / "features.csv"
    result = runner.invoke(app, ["features", "--data", str(path), "--target", "y", "--out", str(out), *options])
    return result, (pd.read_csv(out) if result.exit_code == 0 else None)


def test_quoted_commas_that_read_as_decimals_too_are_thousands_with_a_warning(tmp_path):
    """Every quoted "1,250" reads as 1250 (a thousands comma, as Excel writes a formatted number in a comma-separated
    file) or as 1.25 (a decimal comma with three decimals): read as thousands, as before, but one warning line names
    the column and the option that settles it; --decimal ',' reads them as decimals, --thousands ',' confirms."""
    path = tmp_path / "three.csv"
    path.write_text('big,n,y\n"1,250",1,1\n"2,500",2,2\n"13,125",3,3\n"-4,750",4,4\n', encoding="utf-8")
    found = detect(path.read_bytes())
    assert (found.decimal, found.thousands, found.ambiguous) == (".", ",", (("big", "1,250"),))
    with pytest.warns(UserWarning, match=r"three.csv: column big: quoted numbers such as '1,250' are read with a "
                                         r"thousands comma \(1250\); with a decimal comma they would be 1.25.*--decimal ','"):
        assert read_table(path, "y")["big"].tolist() == [1250, 2500, 13125, -4750]
    result, table = _features(tmp_path, path)
    assert result.exit_code == 0 and result.stderr.count("warning: ") == 1 and "column big: quoted" in result.stderr
    assert "thousands mark ','" in result.stdout and "to override: --sep, --decimal, --thousands, --encoding" in result.stdout
    for option, value, read in (("--decimal", ",", [1.25, 2.5, 13.125, -4.75]), ("--thousands", ",", [1250, 2500, 13125, -4750])):
        result, _ = _features(tmp_path, path, option, value)
        assert result.exit_code == 0 and "warning" not in result.stderr, result.output
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no warning: the option settles it
            with csv_dialect.reading(**{option[2:]: value}):
                assert read_table(path, "y")["big"].tolist() == read


def test_a_number_a_thousands_comma_cannot_read_settles_the_guess(tmp_path):
    """One number with two groups, a point after one or another count of decimals tells which mark the comma is."""
    for grouped in ('"1,024,000"', '"1,024.5"'):
        assert detect(f'big,y\n"1,250",1\n{grouped},2\n'.encode()).ambiguous == ()
        assert detect(f'big,y\n"1,250",1\n{grouped},2\n'.encode()).thousands == ","
    for decimal in ('"0,125"', '"2,5"', '"-0,750"'):  # no thousands group starts with 0
        found = detect(f'big,y\n"1,250",1\n{decimal},2\n'.encode())
        assert (found.thousands, found.ambiguous) == (None, ())
    path = tmp_path / "zero.csv"
    path.write_text('big,y\n"0,125",1\n"0,250",2\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"column big is read as text, but its values are numbers with a decimal comma "
                                        r"\('0,125'\); pass --decimal ','"):
        read_table(path, "y")


def test_the_thousands_option(tmp_path):
    assert [csv_dialect.parse_thousands(t) for t in (",", ".", " ", "none", "NONE", "comma", "point", "space")] == \
        [",", ".", " ", "none", "none", ",", ".", " "]
    for bad in (";", "'", "x", ""):
        with pytest.raises(OptionError, match="--thousands must be ',', '.', ' ' \\(space\\) or none"):
            csv_dialect.parse_thousands(bad)
    with pytest.raises(OptionError, match="--thousands ',' and --decimal ',' are the same mark"):
        RunConfig(thousands=",", decimal=",")
    # A semicolon file of thousands points and no decimals: read as decimal points, unless --thousands '.' says so.
    path = tmp_path / "points.csv"
    path.write_text("big;y\n1.250;1\n22.500;2\n3.125;3\n", encoding="cp1252")
    assert read_table(path, "y")["big"].tolist() == [1.25, 22.5, 3.125]
    result, _ = _features(tmp_path, path, "--thousands", ".")
    assert result.exit_code == 0, result.output
    assert "decimal mark ',', thousands mark '.'" in result.stdout
    with csv_dialect.reading(thousands="."):
        assert read_table(path, "y")["big"].tolist() == [1250, 22500, 3125]
    # none: quoted commas are no thousands marks; a space: "1 250,5".
    quoted = tmp_path / "quoted.csv"
    quoted.write_text('big,y\n"1,250",1\n"2,500",2\n', encoding="utf-8")
    result, _ = _features(tmp_path, quoted, "--thousands", "none")
    assert result.exit_code == 2 and result.stderr.count("error: ") == 1
    assert "column big is read as text, but its values are numbers with a decimal comma ('1,250'); pass --decimal ','" in result.stderr
    spaced = tmp_path / "spaced.csv"
    spaced.write_text("big;y\n1 250,5;1\n22 500;2\n3,5;3\n", encoding="utf-8")
    with csv_dialect.reading(thousands=" "):
        assert read_table(spaced, "y")["big"].tolist() == [1250.5, 22500, 3.5]
    for options, needle in ((["--thousands", ",", "--decimal", ","], "--thousands ',' and --decimal ',' are the same mark"),
                            (["--thousands", "x"], "--thousands must be"), (["--sep", " ", "--thousands", " "], "is also the --sep")):
        result, _ = _features(tmp_path, path, *options)
        assert result.exit_code == 2 and result.stderr.count("error: ") == 1 and needle in result.stderr, result.output
        assert "Traceback" not in result.output


@pytest.mark.parametrize("command", ["train", "features", "predict", "leaderboard", "lr-find", "submit"])
def test_every_command_that_reads_a_csv_takes_thousands(command):
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "--thousands" in result.output
