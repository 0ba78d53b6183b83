"""Read workbooks: which cells hold formulas (from the sheet XML) and what values they hold.

Formula cells are found by scanning each sheet's XML for ``<f>`` elements (array formulas
cover their whole ``ref``), which works the same for files written by XlsxWriter, Excel or
LibreOffice, and never evaluates anything. Values come from python-calamine, which reads the
cached values and also opens LibreOffice-saved files that openpyxl rejects.
"""

from __future__ import annotations

import posixpath
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from xml.etree import ElementTree

from .errors import TitanicLabError
from .limits import human, max_cells


class WorkbookError(TitanicLabError):
    """A file is not a readable .xlsx workbook."""


_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_CELL = re.compile(r"^([A-Z]+)(\d+)$")


def parse_cell(address: str) -> tuple[int, int]:
    """``"E1"`` -> ``(0, 4)`` (0-based row, column)."""
    match = _CELL.match(address.replace("$", "") if "$" in address else address)
    if not match:
        raise ValueError(f"not a cell address: {address!r}")
    letters, digits = match.groups()
    col = _COLUMNS.get(letters)
    if col is None:
        col = 0
        for ch in letters:
            col = col * 26 + ord(ch) - 64
        if len(letters) <= 3:  # a sheet's columns: at most 18,278 entries
            _COLUMNS[letters] = col
    return int(digits) - 1, col - 1


_COLUMNS: dict[str, int] = {}


#: Limits on what a workbook may unpack to, checked from the zip directory before anything is read.
MAX_UNPACKED_BYTES = 1 << 30  # 1 GiB in all
MAX_MEMBERS = 10_000
MAX_RATIO = 200  # unpacked / packed size of one large member, or of all members together
LARGE_MEMBER = 16 << 20
#: An Excel sheet's size: a cell beyond it is not a workbook's.
MAX_ROWS, MAX_COLUMNS = 1_048_576, 16_384
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _open_zip(path: Path) -> zipfile.ZipFile:
    """Open a workbook's zip, refusing one that would unpack beyond the limits (a zip bomb)."""
    if not path.exists():
        raise WorkbookError(f"{path}: no such file")
    if not path.is_file():
        raise WorkbookError(f"{path}: not an .xlsx workbook (a folder, device or pipe, not a file)")
    try:
        with path.open("rb") as fh:
            magic = fh.read(len(OLE2_MAGIC))
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        if magic == OLE2_MAGIC:
            raise WorkbookError(f"{path}: is password-protected (encrypted), or an old .xls workbook, not an .xlsx; "
                                "open it in Excel or LibreOffice and save it as .xlsx without a password") from exc
        raise WorkbookError(f"{path}: not an .xlsx workbook (not a zip file, or a truncated one)") from exc
    members = zf.infolist()
    total = sum(m.file_size for m in members)
    packed = sum(m.compress_size for m in members)
    suspicious = [m for m in members if m.file_size > LARGE_MEMBER and m.file_size > MAX_RATIO * max(m.compress_size, 1)]
    if total > 4 * LARGE_MEMBER and total > MAX_RATIO * max(packed, 1):  # many members, each just under the limit
        suspicious = members
    if len(members) > MAX_MEMBERS:
        zf.close()
        raise WorkbookError(f"{path}: refused, it holds {len(members):,} files, more than the {MAX_MEMBERS:,} a workbook "
                            "this tool reads may hold (a sheet is one)")
    if total > MAX_UNPACKED_BYTES or suspicious:
        zf.close()
        worst = max(members, key=lambda m: m.file_size)
        raise WorkbookError(
            f"{path}: refused, it would unpack to {total / 1e6:,.0f} MB ({worst.filename}: {worst.file_size / 1e6:,.0f} MB "
            f"from {worst.compress_size / 1e6:,.1f} MB); a workbook this large or this compressed is not read"
        )
    return zf


def _member_chunks(path: Path, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """A member's bytes as it is unpacked, 1 MiB at a time, refused as soon as it holds more than it declares.

    The zip directory's sizes are what the limits above check; a member that unpacks to more
    (or to anything but its declared size and checksum) is refused here rather than read.
    """
    name = info.filename
    if info.flag_bits & 0x1:
        raise WorkbookError(f"{path}: is password-protected (member {name} is encrypted); save it without a password")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise WorkbookError(f"{path}: member {name} uses an unsupported compression (method {info.compress_type})")
    chunk = 1 << 20
    try:
        with path.open("rb") as fh:
            fh.seek(info.header_offset)
            head = fh.read(30)
            if len(head) < 30 or head[:4] != b"PK\x03\x04":
                raise WorkbookError(f"{path}: member {name} is damaged (no local header); not a readable .xlsx")
            name_len, extra_len = struct.unpack("<HH", head[26:30])
            fh.seek(info.header_offset + 30 + name_len + extra_len)
            inflate = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
            left, pending, size, crc = info.compress_size, b"", 0, 0
            while True:
                if not pending and left > 0:
                    pending = fh.read(min(chunk, left))
                    if not pending:
                        break  # truncated: caught by the size check below
                    left -= len(pending)
                if inflate is None:
                    data, pending = pending, b""
                else:
                    data = inflate.decompress(pending, chunk)
                    pending = inflate.unconsumed_tail
                if data:
                    size += len(data)
                    if size > info.file_size:
                        raise WorkbookError(f"{path}: refused, member {name} declares {human(info.file_size)} but holds "
                                            "more; a damaged or hostile file is not read")
                    crc = zlib.crc32(data, crc)
                    yield data
                if (inflate is not None and inflate.eof) or (not pending and left == 0 and not data):
                    break
    except zlib.error as exc:
        raise WorkbookError(f"{path}: member {name} is damaged ({exc}); not a readable .xlsx") from exc
    except OSError as exc:
        raise WorkbookError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if size != info.file_size or crc != info.CRC:
        raise WorkbookError(f"{path}: member {name} is damaged (its size or checksum differs from the zip directory's); "
                            "not a readable .xlsx")


def _member(path: Path, zf: zipfile.ZipFile, name: str) -> bytes:
    """A whole (small) member, read with :func:`_member_chunks`'s checks; KeyError when absent."""
    return b"".join(_member_chunks(path, zf.getinfo(name)))


def check_members(path: str | Path, names: list[str] | None = None) -> None:
    """Unpack the members ``names`` (default: all) once, refusing any that holds more than it declares."""
    path = Path(path)
    with _open_zip(path) as zf:
        for info in zf.infolist():
            if names is None or info.filename in names:
                for _ in _member_chunks(path, info):
                    pass


def check_workbook(path: str | Path) -> None:
    """Raise :class:`WorkbookError` unless ``path`` is a zip within the limits (before LibreOffice opens it)."""
    _open_zip(Path(path)).close()


def sheet_parts(path: Path) -> dict[str, str]:
    """Sheet name -> the zip member of its XML, in workbook order."""
    with _open_zip(path) as zf:
        try:
            book = ElementTree.fromstring(_member(path, zf, "xl/workbook.xml"))
            rels = ElementTree.fromstring(_member(path, zf, "xl/_rels/workbook.xml.rels"))
        except (KeyError, ElementTree.ParseError) as exc:
            raise WorkbookError(f"{path}: not an .xlsx workbook (no readable xl/workbook.xml)") from exc
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{_PKG_REL}Relationship")}
    parts = {}
    for sheet in book.iter(f"{_MAIN}sheet"):
        target = targets.get(sheet.get(f"{_REL}id"), "")
        name = sheet.get("name")
        if name in parts:  # a reader would take one and the checks the other: Excel forbids it
            raise WorkbookError(f"{path}: refused, two sheets are named {name!r}; a workbook names each sheet once")
        parts[name] = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
    return parts


def formula_cells(path: str | Path, sheets: list[str] | None = None) -> dict[str, dict[tuple[int, int], str]]:
    """Every formula cell per sheet (or only ``sheets``): ``{sheet: {(row, col): formula text}}`` (0-based).

    Cells inside an array formula's range carry that formula's text (prefixed ``{``). A shared
    formula's other cells (``<f t="shared" si="0"/>``) carry an empty text.

    Each sheet's XML is scanned with regular expressions (:func:`_scan_formulas`: a formula is
    the first child of its cell, as the schema orders it); a sheet the scan does not account
    for (a comment, CDATA, an entity it does not know, a formula it cannot place) is parsed
    with the XML parser instead, which gives the same cells for the same XML.
    """
    return dict(sheet_formula_cells(path, sheets))


def sheet_formula_cells(path: str | Path, sheets: list[str] | None = None) -> Iterator[tuple[str, dict[tuple[int, int], str]]]:
    """:func:`formula_cells` a sheet at a time: ``(sheet, cells)`` as soon as each sheet is scanned."""
    path = Path(path)
    parts = sheet_parts(path)
    with _open_zip(path) as zf:
        for name, part in parts.items():
            if sheets is not None and name not in sheets:
                continue
            where = f"{path}: sheet {name!r}"
            try:
                info = zf.getinfo(part)
                try:
                    cells = _scan_formulas(_member_chunks(path, info), where)
                except _Unusual:
                    cells = _parse_formulas(_member_chunks(path, info), where)
            except (KeyError, ValueError, ElementTree.ParseError) as exc:
                raise WorkbookError(f"{path}: sheet {name!r} cannot be read ({exc})") from exc
            yield name, cells


class _Unusual(Exception):
    """XML that :func:`_scan_formulas` does not read: the XML parser reads it instead."""


_NS = rb"(?:[A-Za-z_][\w.-]*:)?"
#: A cell whose first child is a formula: its address (column letters, row), the formula's attributes and text.
_FORMULA_CELL = re.compile(rb"<" + _NS + rb"c\s(?:[^>]*?\s)?r=\"([A-Z]{1,3})([0-9]{1,7})\"[^>]*?(?<!/)>\s*<" + _NS
                           + rb"f(\s[^>]*?)?(?:/>|>([^<]*)</" + _NS + rb"f>)")
#: :data:`_FORMULA_CELL` as XlsxWriter writes it (no prefix, the address first): tried first, twice as fast.
_PLAIN_FORMULA_CELL = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"[^>]*(?<!/)><f(\s[^>]*?)?(?:/>|>([^<]*)</f>)')
#: Every formula element, to check that each was read with its cell.
_FORMULA_TAG = re.compile(rb"<" + _NS + rb"f[\s/>]")
#: Where a cell starts: a chunk is scanned up to its last one.
_CELL_START = re.compile(rb"<" + _NS + rb"c[\s/>]")
_ATTR = re.compile(rb'([\w:.-]+)\s*=\s*"([^"]*)"')
_ENTITY = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


def _unescape(text: bytes) -> str:
    """XML text as a string: the five named entities and character references replaced."""
    decoded = text.decode("utf-8")
    if "&" not in decoded:
        return decoded
    if decoded.count("&") != len(_ENTITY.findall(decoded)):
        raise _Unusual  # an entity the XML parser would refuse: let it say so

    def one(match: re.Match) -> str:
        name = match.group(1)
        if name.startswith("#x"):
            return chr(int(name[2:], 16))
        return chr(int(name[1:])) if name.startswith("#") else _ENTITIES[name]

    return _ENTITY.sub(one, decoded)


def _scan_formulas(chunks: Iterator[bytes], where: str) -> dict[tuple[int, int], str]:
    """A sheet's formula cells from its XML, found by regular expressions (10x faster than parsing it).

    The XML is cut before the last cell that starts in each chunk, so every cell is scanned
    whole; each piece must hold as many formula elements as formula cells found, with no
    comment, CDATA or processing instruction, or :class:`_Unusual` is raised.
    """
    cells: dict[tuple[int, int], str] = {}
    texts: dict[bytes, str] = {}  # a column repeats its formula: each distinct text decoded once
    tail = b""
    first = True
    for data in chunks:
        if first:
            head = data[:200].lower()
            if b"encoding=" in head and not re.search(rb"encoding=[\"']utf-8[\"']", head):
                raise _Unusual
            first = False
        data = tail + data
        for window in (1 << 12, 1 << 16, 1 << 20):  # the last cell start: in the last 4 KiB, as a rule
            starts = list(_CELL_START.finditer(data, max(0, len(data) - window)))
            if starts or window >= len(data):
                break
        if not starts:
            tail = data
            if len(tail) > (64 << 20):
                raise _Unusual  # no cell starts in 64 MiB: not a sheet this scan reads
            continue
        cut = starts[-1].start()
        _scan_piece(data[:cut], cells, texts, where)
        tail = data[cut:]
    _scan_piece(tail, cells, texts, where)
    return cells


def _scan_piece(piece: bytes, cells: dict[tuple[int, int], str], texts: dict[bytes, str], where: str) -> None:
    if b"<!" in piece or b"<?" in piece[1:]:
        raise _Unusual
    columns = _Columns()
    kinds: dict[bytes, tuple[str, str | None]] = {}  # a formula's attributes -> its type and ref (each read once)
    children: set[bytes] = set()  # the attributes of a shared formula's other cells (no ref): no text of their own
    if b":f" in piece or b"\t" in piece or b"\n" in piece or b"\r" in piece:
        tags = len(_FORMULA_TAG.findall(piece))
    else:  # no prefixed tag, only spaces between attributes: count the formula tags as _FORMULA_TAG finds them
        tags = piece.count(b"<f>") + piece.count(b"<f ") + piece.count(b"<f/")
    matches = _PLAIN_FORMULA_CELL.findall(piece)
    if len(matches) != tags:
        matches = _FORMULA_CELL.findall(piece)
        if len(matches) != tags:
            raise _Unusual  # a formula that is not its cell's first child, or not in a cell, or a cell without its address
    for letters, digits, formula_attrs, raw in matches:
        if not raw and formula_attrs in children:  # most cells of a filled-down column: the shortest way through
            cells[(int(digits) - 1, columns[letters])] = ""
            continue
        text = texts.get(raw)
        if text is None:
            text = texts[raw] = _unescape(raw)
        if formula_attrs.strip():  # an array or shared formula
            kind = kinds.get(formula_attrs)
            if kind is None:
                f_attrs = dict(_ATTR.findall(formula_attrs))
                if any(b"&" in v for v in f_attrs.values()):
                    raise _Unusual
                ref = f_attrs.get(b"ref")
                kind = kinds[formula_attrs] = (f_attrs.get(b"t", b"").decode("ascii"), ref.decode("ascii") if ref else None)
                if kind == ("shared", None):
                    children.add(formula_attrs)
            if kind[0] == "shared" and kind[1] is None:  # a shared formula's other cell: no text of its own
                cells[(int(digits) - 1, columns[letters])] = text
            else:
                _add_formula(cells, (letters + digits).decode("ascii"), text, kind[0], kind[1], where)
        else:
            cells[(int(digits) - 1, columns[letters])] = text


class _Columns(dict):
    """Column letters (bytes) -> the 0-based column, each computed at its first lookup."""

    def __missing__(self, letters: bytes) -> int:
        col = self[letters] = parse_cell(letters.decode("ascii") + "1")[1]
        return col


def _parse_formulas(chunks: Iterator[bytes], where: str) -> dict[tuple[int, int], str]:
    """A sheet's formula cells, read with the XML parser (any well-formed sheet)."""
    cells: dict[tuple[int, int], str] = {}
    parser = ElementTree.XMLPullParser(("end",))
    for data in chunks:
        parser.feed(data)
        for _, element in parser.read_events():
            if element.tag != f"{_MAIN}c":
                continue
            f = element.find(f"{_MAIN}f")
            if f is not None:
                if element.get("r") is None:
                    raise ValueError("a formula cell without its address (r)")
                _add_formula(cells, element.get("r"), f.text or "", f.get("t", ""), f.get("ref"), where)
            element.clear()
    parser.close()
    return cells


def _add_formula(cells: dict[tuple[int, int], str], address: str, text: str, kind: str, ref: str | None, where: str) -> None:
    if kind == "array" and ref:
        first, _, last = ref.partition(":")
        r0, c0 = parse_cell(first)
        r1, c1 = parse_cell(last or first)
        if (r1 - r0 + 1) * (c1 - c0 + 1) > max_cells() or r1 >= MAX_ROWS or c1 >= MAX_COLUMNS:
            raise WorkbookError(f"{where}: refused, the array formula at {address} covers {ref}, beyond the limit "
                                f"of {max_cells():,} cells (TITANIC_LAB_MAX_CELLS)")
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                cells[(r, c)] = "{" + text
    else:
        cells[parse_cell(address)] = text


def sheet_values(path: str | Path, sheets: list[str] | None = None) -> dict[str, list[list[object]]]:
    """Every sheet's (or only ``sheets``') cached values as rows from A1 (empty cells are ``""``).

    Before python-calamine reads a sheet, its used range is bounded (:func:`sheet_extent`) and
    every member it reads is unpacked once to check it holds what it declares.
    """
    from python_calamine import CalamineWorkbook

    path = Path(path)
    parts = sheet_parts(path)  # the same clear message as formula_cells, and the zip-bomb limits
    wanted = [name for name in parts if sheets is None or name in sheets]
    check_sheets(path, wanted)
    try:
        book = CalamineWorkbook.from_path(str(path))
        return {name: book.get_sheet_by_name(name).to_python(skip_empty_area=False) for name in wanted}
    except Exception as exc:  # calamine raises its own error types for every kind of bad file
        raise WorkbookError(f"{path}: cannot read the workbook ({exc})") from exc


def cell_values(path: str | Path) -> dict[str, dict[tuple[int, int], object]]:
    """Every non-empty cell's stored value per sheet, ``{sheet: {(row, col): value}}``, read from the XML.

    Slower than :func:`sheet_values`, but it takes any error value as its text, such as the
    ``#"formula"`` Gnumeric stores for a formula it cannot parse, which python-calamine rejects.
    """
    path = Path(path)
    parts = sheet_parts(path)
    out: dict[str, dict[tuple[int, int], object]] = {}
    with _open_zip(path) as zf:
        try:
            root = ElementTree.fromstring(zf.read("xl/sharedStrings.xml"))
            shared = ["".join(t.text or "" for t in si.iter(f"{_MAIN}t")) for si in root.iter(f"{_MAIN}si")]
        except KeyError:
            shared = []
        for name, part in parts.items():
            cells: dict[tuple[int, int], object] = {}
            try:
                with zf.open(part) as fh:
                    for _, element in ElementTree.iterparse(fh):
                        if element.tag == f"{_MAIN}c":
                            value = _stored_value(element, shared)
                            if value != "":
                                cells[parse_cell(element.get("r"))] = value
                            element.clear()
            except (KeyError, ElementTree.ParseError, IndexError, ValueError) as exc:
                raise WorkbookError(f"{path}: sheet {name!r} cannot be read ({exc})") from exc
            out[name] = cells
    return out


def _stored_value(element: ElementTree.Element, shared: list[str]) -> object:
    kind = element.get("t", "n")
    if kind == "inlineStr":
        return "".join(t.text or "" for t in element.iter(f"{_MAIN}t"))
    v = element.find(f"{_MAIN}v")
    text = "" if v is None or v.text is None else v.text
    if kind == "s":
        return shared[int(text)] if text else ""
    if kind == "b":
        return text == "1"
    if kind in ("str", "e"):
        return text
    return float(text) if text else ""


#: What :func:`check_sheets` has checked: ``(file, sheet)`` for a sheet (whether it may hold formulas),
#: ``(file, None)`` for the other members; ``file`` is the path, its modification time and its size.
_CHECKED: dict[tuple, bool] = {}


def check_sheets(path: str | Path, sheets: list[str] | None = None) -> None:
    """Refuse a workbook before a reader allocates its sheets (or only ``sheets``).

    Each sheet's used range is bounded (:func:`sheet_extent`), and every member a reader takes
    besides the sheets (shared strings, styles, the workbook) is unpacked once to check it holds
    what it declares. A sheet checked once is not checked again until the file changes.
    """
    for _ in checked_sheets(path, sheets):
        pass


def checked_sheets(path: str | Path, sheets: list[str] | None = None) -> Iterator[tuple[str, bool]]:
    """:func:`check_sheets` one sheet at a time: each sheet's name once it is checked (a reader may
    take it while the next is checked), and whether it may hold formulas (False: no formula tag).

    The members besides the sheets are checked first; a sheet checked before is yielded at once.
    """
    path = Path(path)
    parts = sheet_parts(path)
    stat = path.stat()
    file = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    wanted = [(name, part) for name, part in parts.items() if sheets is None or name in sheets]
    if all((file, name) in _CHECKED for name, _ in wanted) and (file, None) in _CHECKED:
        yield from ((name, _CHECKED[(file, name)]) for name, _ in wanted)
        return
    with _open_zip(path) as zf:
        present = set(zf.namelist())
        if (file, None) not in _CHECKED:
            for member in sorted(present):  # what calamine reads besides the sheets
                if member.startswith("xl/") and not member.startswith(("xl/worksheets/", "xl/media/")):
                    for _ in _member_chunks(path, zf.getinfo(member)):
                        pass
            _CHECKED[(file, None)] = True
        for name, part in wanted:
            if (file, name) not in _CHECKED:
                if part not in present:  # listed in the workbook, missing from the zip: no reader opens it
                    raise WorkbookError(f"{path}: sheet {name!r} is listed in the workbook, but its part {part} is "
                                        "missing from the file; the file is damaged")
                extent = sheet_extent(path, zf, part)
                _check_extent(path, name, extent)
                _CHECKED[(file, name)] = extent.formulas
            yield name, _CHECKED[(file, name)]


@dataclass
class Extent:
    """How far a sheet's cells reach (1-based last row and column) and how many cells it has."""

    rows: int
    columns: int
    cells: int
    #: False when the sheet holds no formula tag (``<f``, ``<x:f``); a sheet with one may hold a formula.
    formulas: bool = field(default=True, compare=False)

    @property
    def area(self) -> int:
        """The cells a reader allocates: rows x columns from A1."""
        return self.rows * self.columns


#: A cell's or a row's start tag whose first attribute is its reference, as spreadsheets write them: the tag's
#: name, and the reference's letters and digits (any number of each: python-calamine reads ``r="t00050000"`` as T50000).
_FIRST_REF = re.compile(rb'<(c|row) r="([A-Za-z]*)([0-9]+)"')
#: A cell's or a row's start tag, whatever whitespace follows its name (its name: ``c`` or ``row``).
_TAG = re.compile(rb"<(c|row)[\s/>]")


def sheet_extent(path: Path, zf: zipfile.ZipFile, part: str) -> Extent:
    """Scan a sheet's XML (without parsing it) for the furthest cell reference.

    Every ``r`` of a row or cell counts, whatever the ``<dimension>`` claims; cells and rows without
    a reference are counted as if they followed the furthest one. Where every cell and row tag of a
    stretch of XML starts with its reference, as spreadsheets write them, they are found by one
    regular expression; a sheet with any other tag (a reference after another attribute, in single
    quotes, spaces around ``=``, a prefixed tag, other whitespace) is read by the XML parser instead
    (:func:`_parsed_extent`). A stretch of more than 1 MiB without a tag's end is refused: no
    spreadsheet writes a tag (or a cell's text) that long.
    """
    letters: set[bytes] = set()
    rows: set[bytes] = set()
    refs = cells = row_tags = row_refs = 0
    formulas = False
    tail = b""
    for data in _member_chunks(path, zf.getinfo(part)):
        data = tail + data
        cut = data.rfind(b">") + 1
        if cut == 0:
            if len(data) >= (1 << 20):
                raise WorkbookError(f"{path}: refused, {part} holds more than 1 MiB without a tag's end; not a sheet "
                                    "as spreadsheets write them")
            tail = data  # no tag ends in this chunk yet
            continue
        text, tail = data[:cut], data[cut:]
        formulas = formulas or b"<f" in text or b":f" in text  # a tag cut at the chunk's end is in the next text
        if b":c" in text or b":row" in text:  # a prefixed tag
            return _parsed_extent(path, zf, part)
        if b"\t" in text or b"\n" in text or b"\r" in text or b"\x0b" in text or b"\x0c" in text:
            names = _TAG.findall(text)
            found, tags = names.count(b"c"), len(names)
        else:  # only spaces between attributes: the tags counted as _TAG finds them, faster
            found = text.count(b"<c ") + text.count(b"<c>") + text.count(b"<c/")
            tags = found + text.count(b"<row ") + text.count(b"<row>") + text.count(b"<row/")
        matched = _FIRST_REF.findall(text)
        cell_refs = 0
        for tag, col, row in matched:
            if tag == b"c":
                cell_refs += 1
                if col:
                    letters.add(col)
                    refs += 1
            else:
                row_refs += 1
                if col:  # a row's reference with letters: python-calamine refuses it; the parser says so
                    return _parsed_extent(path, zf, part)
            rows.add(row)
        if cell_refs != found or len(matched) - cell_refs != tags - found:
            return _parsed_extent(path, zf, part)  # a tag whose reference is not its first attribute, or is written otherwise
        cells += found
        row_tags += tags - found
    max_row = max((_row_number(r) for r in rows), default=0)
    max_col = max((_column_number(c) for c in letters), default=0)
    formulas = formulas or b"<f" in tail or b":f" in tail
    return Extent(max_row + max(0, row_tags - row_refs), max_col + max(0, cells - refs), cells, formulas)


def _row_number(digits: bytes) -> int:
    """A reference's row (``b"007"`` is 7; past the sheet's last row: one more than it)."""
    digits = digits.lstrip(b"0")
    return int(digits) if len(digits) <= 8 else MAX_ROWS + 1


def _column_number(letters: bytes) -> int:
    """A reference's column, its letters in either case (past the sheet's last column: one more than it)."""
    if len(letters) > 4:
        return MAX_COLUMNS + 1
    number = 0
    for ch in letters.upper():
        number = number * 26 + ch - 64
    return number


class _References:
    """An XML parser's target that counts a sheet's cells and rows and their furthest references (:func:`_parsed_extent`)."""

    def __init__(self) -> None:
        self.max_row = self.max_col = self.cells = self.refs = self.rows = self.row_refs = 0
        self.formulas = False

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        name = tag.rpartition("}")[2]
        if name not in ("c", "row"):
            self.formulas = self.formulas or name == "f"
            return
        ref = _REFERENCE.fullmatch(attrib.get("r", "").encode("ascii", "replace"))
        if name == "c":
            self.cells += 1
            if ref and ref.group(1):  # a reference python-calamine cannot read counts as none: past the furthest
                self.refs += 1
                self.max_col = max(self.max_col, _column_number(ref.group(1)))
                self.max_row = max(self.max_row, _row_number(ref.group(2)))
        else:
            self.rows += 1
            if ref and not ref.group(1):
                self.row_refs += 1
                self.max_row = max(self.max_row, _row_number(ref.group(2)))

    def end(self, tag: str) -> None:
        pass

    def data(self, data: str) -> None:
        pass

    def close(self) -> Extent:
        return Extent(self.max_row + max(0, self.rows - self.row_refs), self.max_col + max(0, self.cells - self.refs), self.cells,
                      self.formulas)


_REFERENCE = re.compile(rb"([A-Za-z]*)([0-9]+)")


def _parsed_extent(path: Path, zf: zipfile.ZipFile, part: str) -> Extent:
    """:func:`sheet_extent` by the XML parser, keeping no tree: the ``r`` of every ``c`` and ``row`` element, in
    any quotes, spacing, attribute order and prefix."""
    parser = ElementTree.XMLParser(target=_References())
    try:
        for data in _member_chunks(path, zf.getinfo(part)):
            parser.feed(data)
        return parser.close()
    except ElementTree.ParseError as exc:
        raise WorkbookError(f"{path}: {part} cannot be read ({exc})") from exc


def _check_extent(path: Path, sheet: str, extent: Extent) -> None:
    limit = max_cells()
    if extent.rows > MAX_ROWS or extent.columns > MAX_COLUMNS or extent.area > limit:
        raise WorkbookError(
            f"{path}: refused, sheet {sheet!r} reaches row {extent.rows:,} and column {extent.columns:,} "
            f"({extent.area:,} cells from A1; a sheet has at most {MAX_ROWS:,} x {MAX_COLUMNS:,}, and at most {limit:,} "
            "are read, TITANIC_LAB_MAX_CELLS)"
        )


def value_at(rows: list[list[object]], row: int, col: int) -> object:
    """The value at (row, col), ``""`` outside the stored area."""
    if row < len(rows) and col < len(rows[row]):
        return rows[row][col]
    return ""


def column_at(rows: list[list[object]], first: int, n: int, col: int) -> list[object]:
    """:func:`value_at` of rows ``first..first+n-1`` in column ``col``."""
    stored = rows[first:first + n]
    return [row[col] if col < len(row) else "" for row in stored] + [""] * (n - len(stored))


#: How much of a sheet's XML :func:`sheet_heads` reads at most to find its first rows.
HEAD_BYTES = 16 << 20


def sheet_heads(path: str | Path, n_rows: int) -> dict[str, list[list[object]]]:
    """The first ``n_rows`` rows of every sheet, as :func:`sheet_values` gives them, reading no further.

    Lets a reader look at a sheet's headers before it reads (and allocates) the whole sheet:
    each sheet's XML is streamed until a row beyond ``n_rows`` starts, and the shared strings
    only up to the last one those rows use.
    """
    path = Path(path)
    parts = sheet_parts(path)
    with _open_zip(path) as zf:
        present = set(zf.namelist())
        cells = {name: _head_cells(path, zf, part, n_rows) if part in present else [] for name, part in parts.items()}
        needed = max((int(v) for found in cells.values() for (_, _, kind, v) in found if kind == "s" and v.isdigit()), default=-1)
        strings = _shared_strings(path, zf, needed) if needed >= 0 and "xl/sharedStrings.xml" in present else []
    heads = {}
    for name, found in cells.items():
        rows: list[list[object]] = []
        for r, c, kind, v in found:
            while len(rows) <= r:
                rows.append([])
            row = rows[r]
            row.extend([""] * (c + 1 - len(row)))
            row[c] = _cell_value(kind, v, strings)
        heads[name] = rows
    return heads


def _cell_value(kind: str, text: str, strings: list[str]) -> object:
    if kind == "s":
        index = int(text) if text.isdigit() else -1
        return strings[index] if 0 <= index < len(strings) else ""
    if kind in ("inlineStr", "str", "e"):
        return text
    if kind == "b":
        return text == "1"
    try:
        return float(text) if text else ""
    except ValueError:
        return text


def _head_cells(path: Path, zf: zipfile.ZipFile, part: str, n_rows: int) -> list[tuple[int, int, str, str]]:
    """(row, col, type, text) of the cells in a sheet's first ``n_rows`` rows (0-based)."""
    found: list[tuple[int, int, str, str]] = []
    parser = ElementTree.XMLPullParser(("start", "end"))
    row = col = -1
    try:
        for data in _pieces(_member_chunks(path, zf.getinfo(part)), HEAD_BYTES):
            parser.feed(data)
            for event, element in parser.read_events():
                tag = element.tag.rpartition("}")[2]
                if event == "start" and tag == "row":
                    row = int(element.get("r")) - 1 if (element.get("r") or "").isdigit() else row + 1
                    col = -1
                    if row >= n_rows:
                        return found
                elif event == "end" and tag == "c":
                    address = element.get("r")
                    r, col = parse_cell(address) if address else (row, col + 1)
                    if r < n_rows:
                        found.append((r, col, element.get("t", "n"), _cell_text(element)))
                    element.clear()
    except (ValueError, ElementTree.ParseError) as exc:
        raise WorkbookError(f"{path}: {part} cannot be read ({exc})") from exc
    return found


def _pieces(chunks: Iterator[bytes], limit: int, size: int = 1 << 16) -> Iterator[bytes]:
    """The chunks cut into small pieces (a caller can stop soon after what it needs), ``limit`` bytes at most."""
    read = 0
    for chunk in chunks:
        for start in range(0, len(chunk), size):
            yield chunk[start : start + size]
            read += size
            if read >= limit:
                return


def _cell_text(element: ElementTree.Element) -> str:
    """A cell's text: its ``<v>``, or an inline string's ``<t>`` runs."""
    if element.get("t") == "inlineStr":
        return "".join(t.text or "" for t in element.iter() if t.tag.rpartition("}")[2] == "t")
    v = next((x for x in element if x.tag.rpartition("}")[2] == "v"), None)
    return "" if v is None or v.text is None else v.text


def _shared_strings(path: Path, zf: zipfile.ZipFile, last: int) -> list[str]:
    """The shared strings up to index ``last``, streamed: a large table is not read to its end."""
    strings: list[str] = []
    parser = ElementTree.XMLPullParser(("end",))
    try:
        for data in _member_chunks(path, zf.getinfo("xl/sharedStrings.xml")):
            parser.feed(data)
            for _, element in parser.read_events():
                if element.tag.rpartition("}")[2] != "si":
                    continue
                # The item's text runs (<t> directly in <si> or in an <r> run), not its phonetic (rPh) ones.
                runs = [element, *element.findall(f"{_MAIN}r")]
                strings.append("".join(t.text or "" for run in runs for t in run.findall(f"{_MAIN}t")))
                element.clear()
                if len(strings) > last:
                    return strings
    except (ValueError, ElementTree.ParseError) as exc:
        raise WorkbookError(f"{path}: xl/sharedStrings.xml cannot be read ({exc})") from exc
    return strings
