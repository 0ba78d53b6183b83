"""Compressed input is refused by name, before a reader unpacks it (a gzip bomb unpacks 8 GB from 8 MB)."""

from __future__ import annotations

from pathlib import Path

from .errors import DataError

#: The first bytes of each compressed format, with its name and the command that unpacks it.
MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"\x1f\x8b", "gzip", "gunzip -k"),
    (b"BZh", "bzip2", "bunzip2 -k"),
    (b"\xfd7zXZ\x00", "xz", "unxz -k"),
    (b"\x28\xb5\x2f\xfd", "zstd", "unzstd"),
    (b"7z\xbc\xaf\x27\x1c", "7z", "7z x"),
)
#: Names pandas would unpack by their ending, whatever the file holds.
SUFFIXES = (".gz", ".bz2", ".xz", ".zst", ".zip", ".tar", ".tgz")
#: How many bytes :func:`refuse_compressed` reads.
HEAD = 6


def refuse_compressed(path: Path, head: bytes) -> None:
    """Refuse a compressed file (by its first ``HEAD`` bytes), or one named as if it were.

    Raises
    ------
    DataError
        ``x.csv.gz: is gzip-compressed; unpack it first (gunzip -k x.csv.gz) and pass the CSV``.
    """
    for magic, name, command in MAGIC:
        if head.startswith(magic):
            raise DataError(path, f"is {name}-compressed; unpack it first ({command} {path}) and pass the CSV")
    if path.name.lower().endswith(SUFFIXES):
        raise DataError(path, f"is named like a compressed file ({path.suffix}) but holds plain text; rename it to .csv")
