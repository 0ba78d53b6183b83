"""Read workbooks: which cells hold formulas (from the sheet XML) and what values they hold.

Formula cells are found by scanning each sheet's XML for ``<f>`` elements (array formulas
cover their whole ``ref``), which works the same for files written by XlsxWriter, Excel or
LibreOffice, and never evaluates anything. Values come from python-calamine, which reads the
cached values and also opens LibreOffice-saved files that openpyxl rejects.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

from .errors import TitanicLabError


class WorkbookError(TitanicLabError):
    """A file is not a readable .xlsx workbook."""


_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_CELL = re.compile(r"^([A-Z]+)(\d+)$")


def parse_cell(address: str) -> tuple[int, int]:
    """``"E1"`` -> ``(0, 4)`` (0-based row, column)."""
    match = _CELL.match(address.replace("$", ""))
    if not match:
        raise ValueError(f"not a cell address: {address!r}")
    letters, digits = match.groups()
    col = 0
    for ch in letters:
        col = col * 26 + ord(ch) - 64
    return int(digits) - 1, col - 1


#: Limits on what a workbook may unpack to, checked from the zip directory before anything is read.
MAX_UNPACKED_BYTES = 1 << 30  # 1 GiB in all
MAX_MEMBERS = 10_000
MAX_RATIO = 200  # unpacked / packed size of one large member
LARGE_MEMBER = 16 << 20


def _open_zip(path: Path) -> zipfile.ZipFile:
    """Open a workbook's zip, refusing one that would unpack beyond the limits (a zip bomb)."""
    if not path.exists():
        raise WorkbookError(f"{path}: no such file")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise WorkbookError(f"{path}: not an .xlsx workbook (not a zip file, or a truncated one)") from exc
    members = zf.infolist()
    total = sum(m.file_size for m in members)
    suspicious = [m for m in members if m.file_size > LARGE_MEMBER and m.file_size > MAX_RATIO * max(m.compress_size, 1)]
    if len(members) > MAX_MEMBERS or total > MAX_UNPACKED_BYTES or suspicious:
        zf.close()
        worst = max(members, key=lambda m: m.file_size)
        raise WorkbookError(
            f"{path}: refused, it would unpack to {total / 1e6:,.0f} MB ({worst.filename}: {worst.file_size / 1e6:,.0f} MB "
            f"from {worst.compress_size / 1e6:,.1f} MB); a workbook this large or this compressed is not read"
        )
    return zf


def check_workbook(path: str | Path) -> None:
    """Raise :class:`WorkbookError` unless ``path`` is a zip within the limits (before LibreOffice opens it)."""
    _open_zip(Path(path)).close()


def sheet_parts(path: Path) -> dict[str, str]:
    """Sheet name -> the zip member of its XML, in workbook order."""
    with _open_zip(path) as zf:
        try:
            book = ElementTree.fromstring(zf.read("xl/workbook.xml"))
            rels = ElementTree.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
        except (KeyError, ElementTree.ParseError) as exc:
            raise WorkbookError(f"{path}: not an .xlsx workbook (no readable xl/workbook.xml)") from exc
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{_PKG_REL}Relationship")}
    parts = {}
    for sheet in book.iter(f"{_MAIN}sheet"):
        target = targets.get(sheet.get(f"{_REL}id"), "")
        parts[sheet.get("name")] = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
    return parts


def formula_cells(path: str | Path) -> dict[str, dict[tuple[int, int], str]]:
    """Every formula cell per sheet: ``{sheet: {(row, col): formula text}}`` (0-based).

    Cells inside an array formula's range carry that formula's text (prefixed ``{``).
    """
    path = Path(path)
    out: dict[str, dict[tuple[int, int], str]] = {}
    parts = sheet_parts(path)
    with _open_zip(path) as zf:
        for name, part in parts.items():
            cells: dict[tuple[int, int], str] = {}
            try:
                with zf.open(part) as fh:
                    for _, element in ElementTree.iterparse(fh):
                        if element.tag != f"{_MAIN}c":
                            continue
                        f = element.find(f"{_MAIN}f")
                        if f is not None:
                            _add_formula(cells, element.get("r"), f)
                        element.clear()
            except (KeyError, ElementTree.ParseError) as exc:
                raise WorkbookError(f"{path}: sheet {name!r} cannot be read ({exc})") from exc
            out[name] = cells
    return out


def _add_formula(cells: dict[tuple[int, int], str], address: str, f: ElementTree.Element) -> None:
    text = f.text or ""
    if f.get("t") == "array" and f.get("ref"):
        first, _, last = f.get("ref").partition(":")
        r0, c0 = parse_cell(first)
        r1, c1 = parse_cell(last or first)
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                cells[(r, c)] = "{" + text
    else:
        cells[parse_cell(address)] = text


def sheet_values(path: str | Path) -> dict[str, list[list[object]]]:
    """Every sheet's cached values as rows from A1 (empty cells are ``""``)."""
    from python_calamine import CalamineWorkbook

    path = Path(path)
    check_workbook(path)  # the same clear message as formula_cells, and the zip-bomb limits
    try:
        book = CalamineWorkbook.from_path(str(path))
        return {name: book.get_sheet_by_name(name).to_python(skip_empty_area=False) for name in book.sheet_names}
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


def value_at(rows: list[list[object]], row: int, col: int) -> object:
    """The value at (row, col), ``""`` outside the stored area."""
    if row < len(rows) and col < len(rows[row]):
        return rows[row][col]
    return ""
