"""Writing output files atomically: a crash or Ctrl-C never leaves half a file."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Mapping

from .errors import TitanicLabError


class OutputError(TitanicLabError):
    """An output file cannot be written where asked."""


@contextlib.contextmanager
def atomic_output(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target``.

    The folder is created if missing. On any exception (Ctrl-C and the signals the CLI turns
    into it included) the temporary file is removed and an existing ``target`` is left
    untouched; an ``OSError`` while writing (a full disk, a file size limit) becomes an
    :class:`OutputError` naming ``target``.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{_short(target.name)}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"{target}: cannot write there ({exc.strerror})") from exc
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp creates the file private (0600); give it the mode a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        os.replace(tmp, target)
    except OSError as exc:  # a full disk, a file size limit, an immutable target...
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{target}: cannot write there ({exc.strerror or exc})") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _short(name: str, limit: int = 64) -> str:
    """``name`` cut to at most ``limit`` bytes of UTF-8: a temporary file's name beside a target whose
    own name is near the 255-byte limit still fits."""
    return name.encode("utf-8", "surrogateescape")[:limit].decode("utf-8", "ignore")


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: equal once resolved, or the same inode (hard links)."""
    if _resolved(a) == _resolved(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet
        return False


def _resolved(path: Path) -> Path:
    """``path`` with its symbolic links followed; :class:`OutputError` for a loop of them (Python 3.11's resolve raises
    RuntimeError, 3.13's returns a path: the loop is found by ``os.stat``'s ELOOP)."""
    loop = OutputError(f"{path}: a loop of symbolic links (one points back to another); point it at a file")
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise loop from None
    try:
        return path.resolve()
    except RuntimeError:
        raise loop from None


def check_outputs(inputs: Mapping[str, object], outputs: Mapping[str, object]) -> None:
    """Refuse, before any work, outputs that would overwrite an input or cannot be written.

    Parameters
    ----------
    inputs, outputs : mapping of option name to path or None
        Every file a command reads and every file it writes, keyed by the option that names
        it (``{"--data": Path("train.csv")}``); None entries are skipped.

    Raises
    ------
    OutputError
        With one line naming the file and the options: an output that is one of the inputs
        (compared resolved, and as the same file through hard or symbolic links), two outputs
        that are one file, an output that is a folder, a read-only or immutable file, or that
        lies in a folder that cannot be created or written, a device, pipe or socket (replacing it by a file
        would break it: ``--out /dev/null`` run as root), a path given as text ending in a slash (a folder's; the
        command line's paths arrive without it), and a loop of symbolic links, given as an input or an output.
    """
    ins = {name: Path(p) for name, p in inputs.items() if p is not None}
    outs = {name: Path(p) for name, p in outputs.items() if p is not None}
    for name, p in outputs.items():
        if isinstance(p, str) and p.endswith(("/", os.sep)):
            raise OutputError(f"{p}: {name} ends in a slash, so names a folder; give a file path (in it, or elsewhere)")
    for path in (*ins.values(), *outs.values()):
        _resolved(path)
    seen: dict[str, Path] = {}
    for name, out in outs.items():
        try:
            _check_output(name, out, ins, seen)
        except OSError as exc:  # a name too long, a folder that cannot be looked into...
            raise OutputError(f"{out}: cannot write there ({exc.strerror or exc})") from None
        seen[name] = out


def _check_output(name: str, out: Path, ins: dict[str, Path], seen: dict[str, Path]) -> None:
    for in_name, path in ins.items():
        if _same_file(out, path):
            raise OutputError(f"{out}: {name} would overwrite the input {in_name} ({path}); write the output elsewhere")
    for other_name, other in seen.items():
        if _same_file(out, other):
            raise OutputError(f"{out}: {name} and {other_name} name the same file; give them different paths")
    _check_writable(name, out)


def _check_writable(name: str, out: Path) -> None:
    if out.is_dir():
        raise OutputError(f"{out}: {name} is a folder, not a file; give a file path (in it, or elsewhere)")
    if out.exists() and not out.is_file():
        raise OutputError(f"{out}: {name} is not a regular file (a device, a pipe or a socket), which a written file would "
                          "replace; give a file path")
    if out.exists() and not os.access(out, os.W_OK):
        raise OutputError(f"{out}: cannot write there ({name} is read-only or immutable)")
    folder = out.parent
    while not folder.exists():  # the nearest folder that exists is where the missing ones get created
        if folder.is_symlink():  # a dangling link in the way
            raise OutputError(f"{out}: cannot write there ({folder} is a broken link)")
        folder = folder.parent
    if not folder.is_dir():
        raise OutputError(f"{out}: cannot write there (Not a directory: {folder})")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{out}: cannot write there (Permission denied: {folder})")
    # What os.access cannot tell (root in /proc, a name too long for the disk): make a file (or a
    # folder, where folders are to be created) there now, and remove it.
    if folder == out.parent:
        fd, probe = tempfile.mkstemp(prefix=f".{_short(out.name)}.", suffix=".check", dir=folder)
        os.close(fd)
        os.unlink(probe)
    else:
        os.rmdir(tempfile.mkdtemp(prefix=".titanic-lab.", suffix=".check", dir=folder))


@contextlib.contextmanager
def scratch_folder(target: str | os.PathLike[str]) -> Iterator[Path]:
    """A private temporary folder beside ``target``, removed with everything in it on every exit.

    For writers that make temporary files of their own (XlsxWriter's ``tmpdir``): they land
    on the target's disk, not in a possibly small ``TMPDIR``, and never outlive the write.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=f".{_short(target.name)}.", suffix=".tmpdir", dir=target.parent))
    except OSError as exc:
        raise OutputError(f"{target}: cannot write there ({exc.strerror})") from exc
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
