"""A cache like black's: files whose input, rules, key, list, options and output are unchanged
since the last run are not processed again.

One cache file per configuration (tool version, rules digest, key-material digest, preload-list
digest, options that change output), under the tool's cache folder. An entry is per input file
and attribution context (the same file reached from another root carries another path in its
tokens: the same bytes in, other bytes out). Each entry holds the size,
mtime and hash of the input as it was read and of the output as it was written (by the worker
that did the work, so a file edited during the run is not mistaken for done). Size and mtime
are compared first and the hash only on a mismatch, as black does: an edit that keeps both the
size and the mtime (set back on purpose) is not seen; `--no-cache` processes everything. The
file is written atomically, and a corrupt or unreadable one is treated as empty.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from rewriter.batch.job import Job
    from rewriter.document.engine import Rewriter
    from rewriter.status.preload import PreloadList

CACHE_FORMAT = 3  # 3: entries keyed by path and context
_DIGEST = 32  # bytes of sha256


class Fingerprint(NamedTuple):
    size: int
    mtime_ns: int
    digest: bytes  # sha256


class Entry(NamedTuple):
    source: Fingerprint
    output: Fingerprint  # for in-place, the same path as the source
    counts: tuple[int, int, int]  # links rewritten, already tracked, skipped


def configuration_key(parts: Mapping[str, str]) -> str:
    """A digest of everything that changes output: a different one means a different cache."""
    text = json.dumps({"format": CACHE_FORMAT, **parts}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def fingerprint_of(data: bytes, status: os.stat_result) -> Fingerprint:
    return Fingerprint(len(data), status.st_mtime_ns, hashlib.sha256(data).digest())


def _file_digest(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").digest()


def _same(path: Path, known: Fingerprint) -> bool:
    """Size and mtime first; the hash only when they differ (a touched but unchanged file)."""
    try:
        status = path.stat()
        if status.st_size != known.size:
            return False
        return status.st_mtime_ns == known.mtime_ns or _file_digest(path) == known.digest
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
            if document.get("format") != CACHE_FORMAT:
                return {}
            return {str(name): _entry(raw) for name, raw in document["entries"].items()}
        except Exception:
            return {}

    def lookup(self, source: Path, output: Path, *, context: str) -> Entry | None:
        """The entry of a file, rewritten with this attribution context, whose input and output
        are both unchanged, else None."""
        entry = self._entries.get(_name(source, context))
        if entry is None or not _same(source, entry.source) or not _same(output, entry.output):
            return None
        return entry

    def record(
        self,
        source: Path,
        prints: tuple[Fingerprint, Fingerprint],
        counts: tuple[int, int, int],
        *,
        context: str,
    ) -> None:
        self._entries[_name(source, context)] = Entry(prints[0], prints[1], counts)
        self._dirty = True

    def save(self) -> None:
        if not self._dirty:
            return
        from rewriter.batch.fsio import write_atomic

        entries = {name: _raw(entry) for name, entry in sorted(self._entries.items())}
        document = {"format": CACHE_FORMAT, "entries": entries}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, json.dumps(document).encode(), mode=0o600)
        except OSError:
            return  # a cache that cannot be written is only a slower next run
        self._dirty = False


def _name(path: Path, context: str) -> str:
    return f"{os.path.realpath(path)}\0{context}"


def _raw(entry: Entry) -> list[object]:
    (source, output, counts) = entry
    return [source.size, source.mtime_ns, source.digest.hex(),
            output.size, output.mtime_ns, output.digest.hex(), *counts]  # fmt: skip


def _entry(raw: object) -> Entry:
    """An entry from its JSON form, checked field by field (anything else raises)."""
    if not isinstance(raw, list) or len(raw) != 9:
        raise ValueError("not a cache entry")
    counts = [raw[0], raw[3], *raw[6:]]  # sizes and link counts; mtimes may be before 1970
    if not all(type(number) is int for number in raw[:2] + raw[3:5] + raw[6:]):
        raise ValueError("not a cache entry")
    if any(number < 0 for number in counts):
        raise ValueError("not a cache entry")
    source = Fingerprint(raw[0], raw[1], _digest(raw[2]))
    output = Fingerprint(raw[3], raw[4], _digest(raw[5]))
    return Entry(source, output, (raw[6], raw[7], raw[8]))


def _digest(text: object) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not a digest")
    digest = bytes.fromhex(text)
    if len(digest) != _DIGEST:
        raise ValueError("not a digest")
    return digest


def open_cache(engine: Rewriter, preload: PreloadList, job: Job) -> Cache | None:
    """The cache for this configuration; none for --check, --diff, --report or --no-cache."""
    if not job.fingerprints:
        return None
    from rewriter import __version__
    from rewriter.batch.factory import cache_dir

    assert engine.ring is not None
    key = configuration_key(
        {
            "version": __version__,
            "rules": engine.rules.digest(),
            "keys": engine.ring.digest(),
            "preload": preload.digest,
            "mode": job.mode.value,
            "safe": str(job.safe),  # files written by --fast are not trusted by a safe run
            "input_format": str(job.input_format),
        }
    )
    return Cache(cache_dir(), key)
