"""Render one sheet of a titanic-lab workbook to a PNG, headlessly, for the README.

    python tools/render_sheet.py [WORKBOOK] [--sheet nnet] [--out docs/nnet-sheet.png] [--rows 24] [--columns AJ]

With no WORKBOOK it trains the default run (``titanic-lab train --valid-pct 0``) first.
Needs LibreOffice (``soffice``) and poppler's ``pdftoppm`` (Debian: poppler-utils).

How: a copy of the workbook with the sheet moved first, every other sheet hidden and a print
area on the first rows is converted to PDF by LibreOffice (with forced recalculation, so the copy's values are
recomputed), and the first page is turned into a PNG.
"""

from __future__ import annotations

import argparse
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import openpyxl

from titanic_lab.recalc import convert

ROWS = 24
COLUMNS = "AJ"
MARGIN = 12  # white pixels kept around the content


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workbook", nargs="?", type=Path)
    parser.add_argument("--sheet", default="nnet")
    parser.add_argument("--out", type=Path, default=Path("docs/nnet-sheet.png"))
    parser.add_argument("--rows", type=int, default=ROWS, help="how many rows from the top to draw")
    parser.add_argument("--columns", default=COLUMNS, help="the last column to draw")
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
        wb = openpyxl.load_workbook(book)
        for ws in wb.worksheets:
            if ws.title != args.sheet:
                ws.sheet_state = "hidden"
        sheet = wb[args.sheet]
        wb.move_sheet(sheet, offset=-wb.worksheets.index(sheet))  # first: LibreOffice prints hidden sheets too
        wb.active = 0
        sheet.print_area = f"A1:{args.columns}{args.rows}"
        sheet.page_setup.orientation = "landscape"
        sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 1
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
        sheet.print_options.gridLines = True
        copy = tmp / "render.xlsx"
        wb.save(copy)
        pdf = convert(copy, tmp / "pdf", "pdf")
        subprocess.run(["pdftoppm", "-r", "220", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(tmp / "page")], check=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_png(crop_to_content(read_ppm(tmp / "page.ppm")), args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
