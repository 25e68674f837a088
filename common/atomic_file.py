"""Write a file so that readers see the old content or the new, never a torn one."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

# The umask when the process's own cannot be read without changing it (os.umask sets as it
# reads, which races other threads): the usual one.
FALLBACK_UMASK = 0o022


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a hidden temp file beside ``path``, fsync it, then ``os.replace``.

    A crash at any point leaves either the previous file or the new one; the temp file is
    removed on error. (Fsyncing the directory, for the rename itself, is the caller's choice.)
    The new file keeps the old one's permissions, or gets what ``open`` would give a new file
    (0666 less the umask): ``mkstemp``'s 0600 would hide a published ``eval_set.json`` from the
    API's user.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode_for(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _mode_for(path: Path) -> int:
    """The permissions ``path`` has now, or those a new file gets."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process's umask, read without setting it (Linux ``/proc``), else the usual one."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    return FALLBACK_UMASK
