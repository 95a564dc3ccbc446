"""A cache like black's: files whose input, rules, key, list, options and output are unchanged
since the last run are not processed again.

One cache file per configuration (tool version, rules digest, key-material digest, preload-list
digest, options that change output), under the tool's cache folder. Each entry holds the input's
size, mtime and hash, and the output's; size and mtime are compared first and the hash only on a
mismatch. The file is written atomically, and a corrupt or unreadable one is treated as empty.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

CACHE_FORMAT = 1


@dataclass(frozen=True, slots=True)
class Fingerprint:
    size: int
    mtime_ns: int
    digest: str


@dataclass(frozen=True, slots=True)
class Entry:
    source: Fingerprint
    output: Fingerprint  # for in-place, the file as written (the same path as the source)
    counts: tuple[int, int, int]  # links rewritten, already tracked, skipped


def configuration_key(parts: Mapping[str, str]) -> str:
    """A digest of everything that changes output: a different one means a different cache."""
    text = json.dumps({"format": CACHE_FORMAT, **parts}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def file_digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def fingerprint(path: Path, digest: str | None = None) -> Fingerprint:
    status = path.stat()
    return Fingerprint(status.st_size, status.st_mtime_ns, digest or file_digest(path))


def _same(path: Path, known: Fingerprint) -> bool:
    """Size and mtime first; the hash only when they differ (a touched but unchanged file)."""
    try:
        status = path.stat()
        if status.st_size == known.size and status.st_mtime_ns == known.mtime_ns:
            return True
        return status.st_size == known.size and file_digest(path) == known.digest
    except OSError:
        return False


class Cache:
    """The entries of one configuration; `save` writes them back if anything changed."""

    def __init__(self, folder: Path, key: str) -> None:
        self.path = folder / f"cache.{key}.json"
        self._entries = self._read()
        self._dirty = False

    def _read(self) -> dict[str, Entry]:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
            return {name: _entry(raw) for name, raw in document["entries"].items()}
        except (OSError, ValueError, KeyError, TypeError):
            return {}  # absent, unreadable or corrupt: start afresh

    def lookup(self, source: Path, output: Path) -> Entry | None:
        """The entry of a file whose input and output are both unchanged, else None."""
        entry = self._entries.get(_name(source))
        if entry is None or not _same(source, entry.source) or not _same(output, entry.output):
            return None
        return entry

    def record(self, source: Path, output: Path, counts: tuple[int, int, int]) -> None:
        try:
            written = fingerprint(output)
            read = written if _name(source) == _name(output) else fingerprint(source)
        except OSError:
            return
        self._entries[_name(source)] = Entry(read, written, counts)
        self._dirty = True

    def save(self) -> None:
        if not self._dirty:
            return
        from rewriter.fsio import write_atomic

        document = {
            "format": CACHE_FORMAT,
            "entries": {name: asdict(entry) for name, entry in sorted(self._entries.items())},
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, json.dumps(document).encode(), mode=0o600)
        except OSError:
            return  # a cache that cannot be written is only a slower next run
        self._dirty = False


def _name(path: Path) -> str:
    return os.path.realpath(path)


def _entry(raw: Mapping[str, object]) -> Entry:
    source, output, counts = raw["source"], raw["output"], raw["counts"]
    if not (isinstance(source, dict) and isinstance(output, dict) and isinstance(counts, list)):
        raise TypeError("not a cache entry")
    rewritten, already, skipped = (int(count) for count in counts)
    return Entry(Fingerprint(**source), Fingerprint(**output), (rewritten, already, skipped))
