"""How a CSV is written: its separator, decimal mark and encoding, found from its bytes.

Excel saves a table as CSV in several dialects: ``CSV UTF-8`` (commas, a byte-order mark),
``CSV`` in the machine's code page (Windows-1252 in Western Europe, so ``é`` is one byte
``0xe9``), ``CSV`` where the decimal mark is a comma (most of Europe: ``;`` separators,
``22,5``), and ``Unicode Text`` (tabs, UTF-16 little-endian with a byte-order mark).
:func:`detect` finds which from a file's first bytes; each of separator, decimal mark, thousands
mark and encoding can be given instead (``--sep``, ``--decimal``, ``--thousands``, ``--encoding``),
:func:`wrong_guess` names a reading that went wrong (one column, or numbers read as text), and
:func:`ambiguities` a guess the file leaves open (``"1,250"``: 1250 or 1.25).

Pure functions on bytes and text, except :func:`reading`, which sets what the command line
gave for every CSV read inside it (the readers call :func:`current`), and :func:`announce`,
which passes the one line describing a dialect other than plain comma/UTF-8 to whoever asked
for it (the command line prints it; a library caller sees nothing).
"""

from __future__ import annotations

import codecs
import contextlib
import contextvars
import csv
import io
import re
from dataclasses import dataclass
from typing import Callable, Iterator

from .errors import OptionError

#: The separators looked for, in the order a tie is decided.
SEPARATORS: tuple[str, ...] = (",", ";", "\t", "|")
SEPARATOR_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
DECIMALS: tuple[str, ...] = (".", ",")
#: The thousands marks ``--thousands`` takes (``none``: no mark; numbers are read without one).
THOUSANDS: tuple[str, ...] = (",", ".", " ")
NO_THOUSANDS = "none"
#: How much of a file the guess reads.
HEAD_BYTES = 1 << 16
#: Of the rows read, the share that must have the header's number of fields for a separator to count.
CONSISTENT = 0.9

#: Byte-order marks, UTF-32's first: its little-endian mark starts with UTF-16's.
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_COMMA_NUMBER = re.compile(r"^[-+]?(\d+|\d{1,3}(\.\d{3})+),\d+$")
_POINT_NUMBER = re.compile(r"^[-+]?(\d+|\d{1,3}(,\d{3})+)\.\d+$")
_THOUSANDS_POINT = re.compile(r"^[-+]?\d{1,3}(\.\d{3})+,\d+$")
#: A number with thousands commas (``9,479``, ``1,234,567.5``): in a comma-separated file, a quoted field as Excel
#: writes a number formatted with them. Its first group has no leading zero: ``0,125`` is a decimal comma.
_THOUSANDS_COMMA = re.compile(r"^[-+]?[1-9]\d{0,2}(,\d{3})+(\.\d+)?$")
#: ... of which these read as a decimal comma too (``1,250``: 1250, or 1.25 with three decimals).
_AMBIGUOUS_COMMA = re.compile(r"^[-+]?[1-9]\d{0,2},\d{3}$")
_ENCODING_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 with BOM", "utf-16": "UTF-16 with BOM", "utf-32": "UTF-32 with BOM", "utf-16-le": "UTF-16 LE",
                   "utf-16-be": "UTF-16 BE", "cp1252": "Windows-1252", "iso8859-1": "Latin-1"}


@dataclass(frozen=True)
class Dialect:
    """A CSV's separator, decimal mark, thousands mark (or None) and Python encoding name.

    ``given`` holds the names (``sep``, ``decimal``, ``thousands``, ``encoding``) that were given rather than
    detected. ``ambiguous`` names the columns whose quoted numbers were read with the thousands mark detected
    where a decimal mark would read them too (``"1,250"``), when no number of the file decided it.
    """

    sep: str = ","
    decimal: str = "."
    encoding: str = "utf-8"
    thousands: str | None = None
    given: frozenset[str] = frozenset()
    ambiguous: tuple[tuple[str, str], ...] = ()

    def __deepcopy__(self, memo: dict) -> Dialect:
        """Itself: every field is immutable. pandas deep-copies a frame's ``attrs``, where :func:`read_table`
        keeps the dialect, at every column taken from it (1,133 copies, 0.08 s, training a 5,000 x 20 table)."""
        return self

    @property
    def plain(self) -> bool:
        """Comma-separated, decimal points, UTF-8 without a byte-order mark: nothing worth saying."""
        return (self.sep, self.decimal, self.encoding, self.thousands) == (",", ".", "utf-8", None)

    def describe(self) -> str:
        """``separator ';', decimal mark ',', encoding Windows-1252 (detected; ...)``: one line's words."""
        parts = [f"separator {show_sep(self.sep)}", f"decimal mark {self.decimal!r}", f"encoding {encoding_name(self.encoding)}"]
        if self.thousands:
            parts.insert(2, f"thousands mark {self.thousands!r}")
        options = ("sep", "decimal", "thousands", "encoding") if self.thousands else ("sep", "decimal", "encoding")
        detected = [o for o in options if o not in self.given]
        how = "as given" if not detected else f"detected; to override: {', '.join('--' + o for o in detected)}"
        return ", ".join(parts) + f" ({how})"


def show_sep(sep: str) -> str:
    """``';' (semicolon)``, ``tab``: a separator as a person reads it."""
    return "tab" if sep == "\t" else f"{sep!r} ({SEPARATOR_NAMES.get(sep, 'other')})"


def encoding_name(encoding: str) -> str:
    """``cp1252`` -> ``Windows-1252``: the name Excel's Save As shows."""
    return _ENCODING_NAMES.get(codecs.lookup(encoding).name, encoding)


# ---- the options ----------------------------------------------------------------------------


def parse_sep(text: str) -> str:
    """``--sep``: one character (``tab`` or ``\\t`` for a tab)."""
    value = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}.get(text.strip().lower(), text)
    if len(value) != 1 or value in "\"\r\n" or value.isalnum() or value == ".":
        raise OptionError(f"--sep must be one character such as , ; | or 'tab', got {text!r}")
    return value


def parse_decimal(text: str) -> str:
    """``--decimal``: ``.`` or ``,``."""
    if text not in DECIMALS:
        raise OptionError(f"--decimal must be '.' or ',', got {text!r}")
    return text


def parse_thousands(text: str) -> str:
    """``--thousands``: ``,`` ``.`` or a space (``comma``, ``point``, ``space``), or ``none`` for numbers written
    without one."""
    value = {"comma": ",", "point": ".", "dot": ".", "space": " ", "none": NO_THOUSANDS}.get(text.strip().lower(), text)
    if value not in (*THOUSANDS, NO_THOUSANDS):
        raise OptionError(f"--thousands must be ',', '.', ' ' (space) or none, got {text!r}")
    return value


def check_marks(sep: str | None = None, decimal: str | None = None, thousands: str | None = None) -> None:
    """Refuse given marks that cannot be told apart: a thousands mark that is the decimal mark, or the separator
    (a comma separator takes thousands commas inside quoted fields only, as Excel writes them)."""
    if thousands in (None, NO_THOUSANDS):
        return
    if thousands == decimal:
        raise OptionError(f"--thousands {thousands!r} and --decimal {decimal!r} are the same mark; a number has one of "
                          "each (1,234.5 or 1.234,5): give them different marks")
    if thousands == sep and sep != ",":
        raise OptionError(f"--thousands {thousands!r} is also the --sep; give them different marks")


def parse_encoding(text: str) -> str:
    """``--encoding``: a codec Python knows (utf-8, utf-8-sig, utf-16, cp1252, latin-1...), by its own name.

    UTF-8 is read skipping a byte-order mark, if present (it is not the first header's letter)."""
    try:
        codecs.lookup(text)
    except LookupError:
        raise OptionError(f"--encoding {text!r} is not an encoding Python knows; write for example utf-8, utf-16, "
                          "cp1252 (Windows' Western European) or latin-1") from None
    try:
        "a".encode(text)  # a codec of text to bytes, not hex or rot13 (LookupError: not a text encoding)
    except LookupError:
        raise OptionError(f"--encoding {text!r} is not a text encoding; write for example utf-8, utf-16, "
                          "cp1252 (Windows' Western European) or latin-1") from None
    return codecs.lookup(text).name


# ---- detecting ------------------------------------------------------------------------------


def detect_encoding(head: bytes) -> str:
    """The encoding of a file that starts with ``head``: a byte-order mark's, else UTF-8 when the
    bytes are UTF-8, else UTF-16 without a mark (every other byte 0), else Windows-1252."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    if head[1::2].count(0) > 0.4 * len(head[1::2]) > 0:
        return "utf-16-le"
    if head[0::2].count(0) > 0.4 * len(head[0::2]) > 0:
        return "utf-16-be"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3 and exc.reason == "unexpected end of data":
            return "utf-8"  # a character cut by the end of the head
        return "cp1252"


def decode_head(head: bytes, encoding: str) -> str:
    """The head's text, a character cut at its end dropped; undecodable bytes replaced."""
    return codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=False)


def _records(text: str, sep: str, limit: int = 200) -> list[list[str]]:
    """The first ``limit`` records of ``text`` split by ``sep`` (quotes honoured), blank lines skipped."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, skipinitialspace=True)
    out = []
    try:
        for row in reader:
            if row:
                out.append(row)
            if len(out) >= limit:
                break
    except csv.Error:
        pass
    return out


def detect_sep(text: str, complete: bool = True) -> str:
    """The separator of ``text``: of :data:`SEPARATORS`, the one that splits the header into the
    most fields and gives :data:`CONSISTENT` of the rows that many; a comma when none does.

    ``complete``: whether ``text`` is the whole file (else its last record may be cut, and is not counted).
    """
    best, best_score = ",", (0.0, 1)
    for sep in SEPARATORS:
        rows = _records(text, sep)
        if not complete and len(rows) > 2:
            rows = rows[:-1]
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        share = sum(len(r) == width for r in rows) / len(rows)
        score = (share, width)
        if share >= CONSISTENT and score > best_score:
            best, best_score = sep, score
    return best


def detect_decimal(text: str, sep: str) -> tuple[str, str | None]:
    """The decimal mark (and thousands mark, or None) of ``text`` split by ``sep``.

    A comma can be the decimal mark only when it is not the separator. The mark is the comma
    when more fields are numbers with a decimal comma (``22,5``, ``1.234,5``) than with a decimal
    point; the thousands mark is ``.`` when a number such as ``1.234,5`` is seen. In a comma-separated
    file, the thousands mark is ``,`` when quoted numbers such as ``"9,479"`` are seen and no number
    with a decimal comma (``"9,5"``, ``"0,125"``) is.
    """
    decimal, thousands, _ = _marks(text, sep)
    return decimal, thousands


def _marks(text: str, sep: str, decimal: str | None = None,
           thousands: str | None = None) -> tuple[str, str | None, tuple[tuple[str, str], ...]]:
    """The decimal mark, the thousands mark (or None) and the ambiguous columns (:class:`Dialect`) of ``text`` split
    by ``sep``; ``decimal`` and ``thousands`` (:data:`NO_THOUSANDS`: none) as given, or None to detect them
    (see :func:`detect_decimal`). A given mark decides the other: ``--decimal ','`` makes every quoted comma of a
    comma-separated file a decimal comma (a point before one a thousands point), ``--thousands '.'`` the
    decimal mark a comma."""
    records = _records(text, sep)
    header, rows = (records[0] if records else []), records[1:]
    if thousands is not None:
        mark = None if thousands == NO_THOUSANDS else thousands
        if decimal is None:
            found = _marks(text, sep)[0]
            decimal = found if found != mark else ("." if mark == "," else ",")
        return decimal, mark, ()
    if sep == ",":
        fields = [(i, f.strip()) for row in rows for i, f in enumerate(row) if "," in f]
        if decimal == ",":  # given: a quoted comma is the decimal mark
            return ",", "." if any(_THOUSANDS_POINT.match(f) for _, f in fields) else None, ()
        grouped = [(i, f) for i, f in fields if _THOUSANDS_COMMA.match(f)]
        if not grouped or any(_COMMA_NUMBER.match(f) and not _THOUSANDS_COMMA.match(f) for _, f in fields):
            return ".", None, ()
        ambiguous: dict[str, str] = {}
        if decimal is None and all(_AMBIGUOUS_COMMA.match(f) for _, f in grouped):  # every one reads as a decimal too
            for i, f in grouped:
                ambiguous.setdefault(header[i].strip() if i < len(header) else f"{i + 1}", f)
        return ".", ",", tuple(ambiguous.items())
    fields = [f.strip() for row in rows for f in row]
    commas = [f for f in fields if _COMMA_NUMBER.match(f)]
    points = sum(1 for f in fields if _POINT_NUMBER.match(f))
    if (decimal or ("," if len(commas) > points else ".")) == ",":
        return ",", "." if any(_THOUSANDS_POINT.match(f) for f in commas) else None, ()
    return ".", None, ()


def ambiguities(dialect: Dialect) -> list[str]:
    """One line (a warning's) when quoted numbers were read with a thousands comma that a decimal comma would read
    too (``"1,250"``: 1250 or 1.25), naming the columns and the option that settles it; else none."""
    if not dialect.ambiguous:
        return []
    names = [name for name, _ in dialect.ambiguous]
    example = dialect.ambiguous[0][1]
    as_thousands, as_decimal = float(example.replace(",", "")), float(example.replace(",", "."))
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return [f"column{'s' if len(names) > 1 else ''} {shown}: quoted numbers such as {example!r} are read with a thousands "
            f"comma ({as_thousands:g}); with a decimal comma they would be {as_decimal:g}, and no number of the file tells "
            "which; if the comma is their decimal mark, pass --decimal ',' (--thousands ',' says the reading is right)"]


def detect(head: bytes, complete: bool = True, *, sep: str | None = None, decimal: str | None = None,
           encoding: str | None = None, thousands: str | None = None) -> Dialect:
    """The dialect of a CSV whose first bytes are ``head`` (all of it when ``complete``); what is given is kept.

    Parameters
    ----------
    head : bytes
        The file's first :data:`HEAD_BYTES` bytes (or all of them).
    complete : bool
        Whether ``head`` is the whole file.
    sep, decimal, encoding, thousands : str, optional
        Given values (``--sep``...), used as they are (``thousands``: :data:`NO_THOUSANDS` for none).

    Returns
    -------
    Dialect
    """
    given = frozenset(k for k, v in (("sep", sep), ("decimal", decimal), ("thousands", thousands), ("encoding", encoding))
                      if v is not None)
    check_marks(sep, decimal, thousands)
    encoding = encoding or detect_encoding(head)
    text = decode_head(head, encoding)
    if not complete and "\n" in text:
        text = text[: text.rfind("\n") + 1]
    sep = sep or detect_sep(text, complete)
    decimal, mark, ambiguous = _marks(text, sep, decimal, thousands)
    return Dialect(sep, decimal, encoding, mark, given, ambiguous)


# ---- a wrong guess --------------------------------------------------------------------------


def wrong_guess(columns: list[str], text_columns: dict[str, list[object]], dialect: Dialect) -> str | None:
    """What went wrong when a table read in ``dialect`` has these ``columns`` and these columns
    read as text (name -> values), or None when nothing did.

    One column whose header another separator splits: the separator. A text column whose
    every value is a number with the other decimal mark: the decimal mark.
    """
    def fix(option: str, value: str) -> str:
        shown = "tab" if value == "\t" else repr(value)
        if option in dialect.given:
            return f"pass --{option} {shown}, or leave --{option} out to detect it"
        return f"pass --{option} {shown}"

    if len(columns) == 1:
        header = str(columns[0])
        other = next((s for s in SEPARATORS if s != dialect.sep and s in header), None)
        if other is not None:
            return (f"read with separator {show_sep(dialect.sep)} it is one column ({_cut(header)!r}), but "
                    f"{show_sep(other)} splits its header; {fix('sep', other)}")
    pattern, other = (_COMMA_NUMBER, ",") if dialect.decimal == "." else (_POINT_NUMBER, ".")
    for name, values in text_columns.items():
        present = [str(v).strip() for v in values if v is not None and str(v).strip() not in ("", "nan")]
        if present and all(pattern.match(v) or _plain_int(v) for v in present) and any(pattern.match(v) for v in present):
            example = next(v for v in present if pattern.match(v))
            return (f"column {name} is read as text, but its values are numbers with a decimal "
                    f"{'comma' if other == ',' else 'point'} ({example!r}); {fix('decimal', other)}")
    return None


def _plain_int(value: str) -> bool:
    return bool(re.match(r"^[-+]?\d+$", value))


def _cut(text: str, size: int = 60) -> str:
    return text if len(text) <= size else text[: size - 3] + "..."


# ---- what the command line gave -------------------------------------------------------------


@dataclass(frozen=True)
class _Reading:
    sep: str | None = None
    decimal: str | None = None
    encoding: str | None = None
    report: Callable[[str], None] | None = None
    thousands: str | None = None


_CURRENT: contextvars.ContextVar[_Reading] = contextvars.ContextVar("titanic_lab_csv_dialect", default=_Reading())


@contextlib.contextmanager
def reading(sep: str | None = None, decimal: str | None = None, encoding: str | None = None,
            report: Callable[[str], None] | None = None, thousands: str | None = None) -> Iterator[None]:
    """Inside: every CSV is read with these values (None: detected), and ``report`` receives the
    line describing a dialect other than plain comma/UTF-8 (:func:`announce`). What is None
    here is the enclosing ``reading``'s.

    ``with reading(sep=";", decimal=","): read_table("prices.csv", "price")``; ``thousands`` is ``,`` ``.`` ``' '``
    or :data:`NO_THOUSANDS` (``none``).
    """
    outer = _CURRENT.get()  # what is not given here is the enclosing reading's
    token = _CURRENT.set(_Reading(sep or outer.sep, decimal or outer.decimal, encoding or outer.encoding, report or outer.report,
                                  thousands or outer.thousands))
    try:
        yield
    finally:
        _CURRENT.reset(token)


def current() -> dict[str, str | None]:
    """The ``sep``, ``decimal``, ``thousands`` and ``encoding`` given to the innermost :func:`reading` (None: detect)."""
    now = _CURRENT.get()
    return {"sep": now.sep, "decimal": now.decimal, "thousands": now.thousands, "encoding": now.encoding}


def announce(path: object, dialect: Dialect) -> None:
    """Pass ``read PATH: separator ...`` to the innermost :func:`reading`'s ``report``, unless plain."""
    report = _CURRENT.get().report
    if report is not None and not dialect.plain:
        report(f"read {path}: {dialect.describe()}")
