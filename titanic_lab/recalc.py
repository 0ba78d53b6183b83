"""Recalculate a workbook in LibreOffice, headless, with forced recalculation.

LibreOffice keeps the cached values of an .xlsx on load unless its profile says otherwise;
a private profile whose ``OOXMLRecalcMode`` is 0 ("always") makes it recompute every formula.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .errors import TitanicLabError


class RecalcError(TitanicLabError):
    """LibreOffice is missing or could not recalculate the workbook."""


_REGISTRY = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def find_soffice() -> str | None:
    """The LibreOffice executable, or None."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def write_profile(profile: Path) -> None:
    """Create a LibreOffice user profile that recalculates every formula on load."""
    user = profile / "user"
    user.mkdir(parents=True, exist_ok=True)
    (user / "registrymodifications.xcu").write_text(_REGISTRY, encoding="utf-8")


def convert(source: Path, out_dir: Path, fmt: str = "xlsx", timeout: float = 300) -> Path:
    """Open ``source`` in LibreOffice with forced recalculation and save it as ``fmt`` in ``out_dir``.

    Parameters
    ----------
    source : Path
        The workbook.
    out_dir : Path
        Where the converted file goes (``source``'s stem with the new suffix).
    fmt : str
        LibreOffice's ``--convert-to`` target (``xlsx``, ``pdf``...).

    Raises
    ------
    RecalcError
        When ``soffice`` is missing, fails, or times out.
    """
    soffice = find_soffice()
    if soffice is None:
        raise RecalcError(
            "LibreOffice (soffice) is not installed; install it (Debian/Ubuntu: apt-get install libreoffice-calc-nogui)"
        )
    source = Path(source).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="titanic-lab-lo-") as profile:
        write_profile(Path(profile))
        command = [
            soffice,
            "--headless",
            "--norestore",
            "--nolockcheck",
            f"-env:UserInstallation={Path(profile).as_uri()}",
            "--convert-to",
            fmt,
            "--outdir",
            str(out_dir),
            str(source),
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env={**os.environ, "HOME": profile})
        except subprocess.TimeoutExpired as exc:
            raise RecalcError(f"{source}: LibreOffice did not finish within {timeout:.0f} s") from exc
    target = out_dir / f"{source.stem}.{fmt.split(':')[0]}"
    if done.returncode != 0 or not target.exists():
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise RecalcError(f"{source}: LibreOffice could not convert it ({detail[-1] if detail else f'exit {done.returncode}'})")
    return target


def recalculate(source: Path, out_dir: Path) -> Path:
    """A copy of ``source`` in ``out_dir`` whose every formula LibreOffice has recomputed."""
    return convert(source, out_dir, "xlsx")
