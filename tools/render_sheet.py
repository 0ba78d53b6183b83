"""Render printed pages of a titanic-lab workbook's sheets to PNG, headlessly, as a student would print them.

    python tools/render_sheet.py [WORKBOOK] [--sheet nnet] [--page 2] [--out docs/nnet-sheet.png]
    python tools/render_sheet.py [WORKBOOK] --all docs/pages/    # the first page(s) of every sheet

With no WORKBOOK it trains the default run (``titanic-lab train --valid-pct 0``) first.
Needs LibreOffice (``soffice``) and poppler's ``pdftoppm`` (Debian: poppler-utils).

How: a copy of the workbook with the sheet alone (the README with the history its chart reads)
is converted to PDF by LibreOffice (with forced recalculation) with the sheet's own print
setup (the one titanic-lab writes: its top rows, landscape A4, the data table on page 1 and the
params and model on the next), and the page asked for is turned into a PNG.
"""

from __future__ import annotations

import argparse
import html
import struct
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import openpyxl

from titanic_lab.recalc import convert

RESOLUTION = 110  # dots per inch of the PNG
MARGIN = 12  # white pixels kept around the content


#: Sheets a sheet's formulas or chart read, kept (after it) when it is rendered: the README's chart reads history,
#: the gradient descent sheet the model sheets' data.
READS = {"README": ("history",), "gradient descent": ("linear", "nnet")}


def sheet_pdf(book: Path, sheet: str, tmp: Path) -> Path:
    """The PDF LibreOffice prints of ``sheet`` first (LibreOffice prints hidden sheets too, so every
    other sheet is left out of a copy's ``xl/workbook.xml``; the rest of the file, charts included,
    is copied as it is)."""
    with zipfile.ZipFile(book) as zf:
        xml = zf.read("xl/workbook.xml").decode("utf-8")
        tags = re.findall(r"<sheet [^>]*/>", xml)
        names = [html.unescape(re.search(r'name="([^"]*)"', t).group(1)) for t in tags]
        if sheet not in names:
            raise SystemExit(f"error: {book}: no sheet {sheet!r} (sheets: {', '.join(names)})")
        kept = [sheet, *(n for n in READS.get(sheet, ()) if n in names)]
        index = {names.index(n): i for i, n in enumerate(kept)}
        xml = re.sub(r"<sheets>.*</sheets>", "<sheets>" + "".join(tags[names.index(n)] for n in kept) + "</sheets>", xml)

        def local(match: re.Match) -> str:  # a print area or title of a sheet left out goes too
            old = int(match.group(1))
            return match.group(0).replace(f'localSheetId="{old}"', f'localSheetId="{index[old]}"') if old in index else ""

        xml = re.sub(r'<definedName [^>]*localSheetId="(\d+)"[^>]*>[^<]*</definedName>', local, xml)
        xml = re.sub(r'\s(activeTab|firstSheet)="\d+"', "", xml)
        copy = tmp / f"{sheet.replace(' ', '_')}.xlsx"
        with zipfile.ZipFile(copy, "w", zipfile.ZIP_DEFLATED) as out:
            for item in zf.infolist():
                out.writestr(item, xml if item.filename == "xl/workbook.xml" else zf.read(item))
    return convert(copy, tmp / "pdf", "pdf")


def read_ppm(path: Path) -> np.ndarray:
    """A binary PPM (P6, what pdftoppm writes) as an (height, width, 3) uint8 array."""
    data = path.read_bytes()
    fields = data.split(maxsplit=4)
    width, height = int(fields[1]), int(fields[2])
    return np.frombuffer(fields[4][: width * height * 3], dtype=np.uint8).reshape(height, width, 3)


def crop_to_content(image: np.ndarray) -> np.ndarray:
    ink = np.argwhere((image < 245).any(axis=2))
    (top, left), (bottom, right) = ink.min(axis=0), ink.max(axis=0)
    return image[max(0, top - MARGIN) : bottom + MARGIN, max(0, left - MARGIN) : right + MARGIN]


def write_png(image: np.ndarray, path: Path) -> None:
    """A minimal RGB PNG writer (no imaging library needed)."""
    height, width, _ = image.shape
    raw = b"".join(b"\x00" + image[y].tobytes() for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def page_png(pdf: Path, page: int, out: Path) -> Path:
    """Page ``page`` (1-based) of ``pdf`` as a PNG at ``out``, cropped to its content."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["pdftoppm", "-r", str(RESOLUTION), "-f", str(page), "-l", str(page), "-singlefile", str(pdf),
                        str(Path(tmp) / "page")], check=True)
        write_png(crop_to_content(read_ppm(Path(tmp) / "page.ppm")), out)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workbook", nargs="?", type=Path)
    parser.add_argument("--sheet", default="nnet")
    parser.add_argument("--page", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("docs/nnet-sheet.png"))
    parser.add_argument("--all", type=Path, help="Render the first two pages of every sheet into this folder.")
    args = parser.parse_args()
    if shutil.which("pdftoppm") is None:
        print("error: pdftoppm is missing (Debian: apt-get install poppler-utils)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        book = args.workbook
        if book is None:
            book = tmp / "titanic.xlsx"
            subprocess.run(["titanic-lab", "train", "--valid-pct", "0", "--out", str(book)], check=True)
        if args.all:
            for sheet in openpyxl.load_workbook(book, read_only=True).sheetnames:
                pdf = sheet_pdf(book, sheet, tmp)
                pages = int(next(line.split()[1] for line in subprocess.run(
                    ["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout.splitlines()
                    if line.startswith("Pages:")))
                stem = sheet.replace(" ", "_")
                for page in range(1, min(pages, 2) + 1):
                    print(f"wrote {page_png(pdf, page, args.all / f'{stem}-{page}.png')}")
            return 0
        page_png(sheet_pdf(book, args.sheet, tmp), args.page, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
