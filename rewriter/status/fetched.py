"""The preload list last fetched by `rewriter preload-list fetch`, kept in the cache folder.

Two files in `<cache>/preload-fetched/`: the list itself, `list-<sha256>.json` (Chromium's JSON as
downloaded, decoded from base64 when it came so), and `fetched.json`, which names it with its
SHA-256, where it came from and when. Each is written atomically, the list first: replacing
`fetched.json` is the moment the new list takes over, so a run interrupted at any point leaves
the previous list in use, whole. Nothing here touches the network.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rewriter.status.preload import PreloadList, PreloadListError, load_chromium_json

_FOLDER = "preload-fetched"
_META = "fetched.json"
_FORMAT = "rewriter-fetched-preload/1"


@dataclass(frozen=True, slots=True)
class FetchedList:
    """What `fetched.json` says about the list it names."""

    path: Path
    sha256: str
    url: str
    fetched: datetime.datetime  # UTC
    entries: int
    force_https: int

    def describe(self) -> str:
        return (
            f"Chromium list fetched {self.fetched.date().isoformat()} from {self.url} "
            f"(sha256 {self.sha256[:12]})"
        )


def folder_of(cache_dir: Path) -> Path:
    return cache_dir / _FOLDER


def store(
    cache_dir: Path, data: bytes, url: str, fetched: datetime.datetime, entries: int, force: int
) -> FetchedList:
    """Keep `data` (a validated Chromium JSON) as the fetched list. Raises OSError."""
    folder = folder_of(cache_dir)
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(data).hexdigest()
    name = f"list-{digest}.json"
    _write_atomic(folder / name, data)
    meta = {
        "format": _FORMAT,
        "file": name,
        "sha256": digest,
        "url": url,
        "fetched": fetched.astimezone(datetime.UTC).isoformat(timespec="seconds"),
        "entries": entries,
        "force_https": force,
    }
    _write_atomic(folder / _META, (json.dumps(meta, indent=2) + "\n").encode())
    for old in folder.glob("list-*.json"):  # earlier lists, no longer named
        if old.name != name:
            old.unlink(missing_ok=True)
    return _described(folder, meta)


def current(cache_dir: Path) -> FetchedList:
    """The list `fetched.json` names. Raises PreloadListError when there is none (or it is
    damaged), with what to do."""
    folder = folder_of(cache_dir)
    try:
        meta = json.loads((folder / _META).read_text("utf-8"))
        if meta.get("format") != _FORMAT:
            raise ValueError("unknown format")
        return _described(folder, meta)
    except FileNotFoundError:
        raise PreloadListError(
            f"no fetched preload list in {folder}: run `rewriter preload-list fetch` first"
        ) from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise PreloadListError(
            f"{folder / _META}: damaged ({error}): run `rewriter preload-list fetch` again"
        ) from None


def load_fetched(cache_dir: Path) -> PreloadList:
    """The last fetched list, named by its source and dated by the day it was fetched."""
    fetched = current(cache_dir)
    preload = load_chromium_json(fetched.path, cache_dir / "preload")
    if preload.digest != fetched.sha256:
        raise PreloadListError(
            f"{fetched.path}: changed since it was fetched (sha256 differs): "
            "run `rewriter preload-list fetch` again"
        )
    preload.name = fetched.describe()
    preload.date = fetched.fetched.date()
    return preload


def _described(folder: Path, meta: dict[str, object]) -> FetchedList:
    fetched = datetime.datetime.fromisoformat(str(meta["fetched"]))
    entries, force = meta["entries"], meta["force_https"]
    if not isinstance(entries, int) or not isinstance(force, int):
        raise ValueError("entries must be numbers")
    name = str(meta["file"])
    if "/" in name or not name.startswith("list-"):
        raise ValueError(f"unexpected file name {name!r}")
    return FetchedList(
        folder / name, str(meta["sha256"]), str(meta["url"]), fetched, entries, force
    )


def _write_atomic(path: Path, data: bytes) -> None:
    """A temporary file in the same folder, flushed to disk, then renamed over `path`."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
            os.fchmod(out.fileno(), 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
