"""Reading and writing user files without ever leaving one half-written.

Every write goes to a temporary file in the destination folder, is flushed to disk, takes the
permissions of the file it replaces, and then replaces it with `os.replace`: a crash, a full
disk or a kill at any moment leaves either the old file or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

DEFAULT_MODE = 0o644


def read_bytes(path: Path) -> bytes:
    return read_with_status(path)[0]


def read_with_status(path: Path) -> tuple[bytes, os.stat_result]:
    """The file's bytes and its status as they were when read (for the cache)."""
    with open(path, "rb") as handle:
        status = os.fstat(handle.fileno())
        return handle.read(), status


def write_atomic(
    path: Path, data: bytes, *, mode: int | None = None, durable: bool = True
) -> os.stat_result:
    """Replace `path` with `data` atomically, keeping the permissions of the file replaced.

    A symlink is written through: its target is replaced and the link stays a link. `durable`
    flushes the data to disk before the rename, so that even a power cut leaves the old file
    or the new one (used where an original is replaced). Returns the new file's status.
    """
    # Only a symlink as the last component changes where the file is (folders on the way
    # lead to the same file): one lstat, not one per component.
    target = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    if mode is None:
        mode = _existing_mode(target)
    descriptor, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".rewriter-tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), mode)
            status = os.fstat(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return status


def _existing_mode(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return DEFAULT_MODE & ~umask


def hard_link_count(path: Path) -> int:
    try:
        return Path(os.path.realpath(path)).stat().st_nlink
    except OSError:
        return 1
