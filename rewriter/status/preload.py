"""The HSTS preload list, as a replaceable part.

Two sources give a `PreloadList`: the Chromium list bundled in the `hstspreload` package (the
default; dated by the package version) and a Chromium `transport_security_state_static.json` the
user supplies (a newer list), parsed once and kept in compact form in a cache folder.

Both answer `lookup(host)` with the entry that makes a normalised host HTTPS-only: the host's own
entry, else the nearest parent entry with `include_subdomains` (whole TLDs such as `app` included).
Only `mode: force-https` entries count. Each distinct name is looked up at most once per instance.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

# A compact entry table: name -> include_subdomains.
Entries = dict[str, bool]

_CACHE_FORMAT = "rewriter-preload/1"
# A JSON string or the start of a `//` comment, whichever comes first on a line.
_STRING_OR_COMMENT = re.compile(r'"(?:[^"\\]|\\.)*"|//')
_VERSION_DATE = re.compile(r"(\d{4})\.(\d{1,2})\.(\d{1,2})")


class PreloadListError(Exception):
    """A preload list that cannot be read or parsed; the message names the file (and line)."""


@dataclass(frozen=True, slots=True)
class PreloadMatch:
    """The list entry that makes a host HTTPS-only."""

    entry: str  # the host itself, or the parent (possibly a whole TLD) whose entry covers it
    include_subdomains: bool


class PreloadList:
    """A preload list: a name and date for reports, a digest, and a memoised `lookup`."""

    __slots__ = ("_find", "_memo", "date", "digest", "name")

    def __init__(
        self,
        name: str,
        date: datetime.date | None,
        digest: str,
        find: Callable[[str], PreloadMatch | None],
    ) -> None:
        self.name = name
        self.date = date
        self.digest = digest
        self._find = find  # the uncached lookup
        self._memo: dict[str, PreloadMatch | None] = {}

    def lookup(self, host: str) -> PreloadMatch | None:
        """The entry covering `host` (lower-case ASCII, no trailing dot), or None."""
        try:
            return self._memo[host]
        except KeyError:
            match = self._memo[host] = self._find(host)
            return match

    def __repr__(self) -> str:
        return f"PreloadList({self.name!r}, date={self.date}, digest={self.digest[:12]}...)"


def find_in(own_entry: Callable[[str], bool | None]) -> Callable[[str], PreloadMatch | None]:
    """The lookup rule, given a name's own entry (its include_subdomains flag, None if absent)."""

    def find(host: str) -> PreloadMatch | None:
        own = own_entry(host)
        if own is not None:
            return PreloadMatch(host, own)
        for parent in parents(host):
            if own_entry(parent):
                return PreloadMatch(parent, True)
        return None

    return find


def parents(host: str) -> Iterator[str]:
    """The parent names of `host`, nearest first, down to the TLD."""
    start = host.find(".")
    while start != -1:
        yield host[start + 1 :]
        start = host.find(".", start + 1)


def freshness_warning(preload: PreloadList, today: datetime.date, max_age_days: int) -> str | None:
    """One line when the list is older than `max_age_days` (or has no date), else None."""
    if preload.date is None:
        return f"preload list {preload.name} has no date: its age is unknown"
    age = (today - preload.date).days
    if age <= max_age_days:
        return None
    return (
        f"preload list {preload.name} is from {preload.date.isoformat()}, {age} days old "
        f"(more than {max_age_days}): browsers have moved on since; give a current Chromium "
        "transport_security_state_static.json with --preload-list or `preload_list:` in the rules"
    )


# --- the list bundled in the hstspreload package ----------------------------------------------


def bundled_preload_list() -> PreloadList:
    """The Chromium list of the `hstspreload` package, dated by its version."""
    import hstspreload  # lazily: only runs that judge links need it

    index = _BundledIndex(hstspreload)
    version = str(getattr(hstspreload, "__version__", "unknown"))
    return PreloadList(
        name=f"hstspreload {version} (bundled)",
        date=_date_of_version(version),
        # The package's checksum is the sha256 of the Chromium JSON it was built from, so a user
        # who supplies that same file gets the same digest.
        digest=str(getattr(hstspreload, "__checksum__", "")) or f"hstspreload-{version}",
        find=find_in(index.entry),
    )


def _date_of_version(version: str) -> datetime.date | None:
    match = _VERSION_DATE.fullmatch(version)
    if match is None:
        return None
    try:
        return datetime.date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


class _BundledIndex:
    """Exact entries of the `hstspreload` data file, read one bucket at a time.

    The package answers only yes/no (`in_hsts_preload`), but the reasons shown to users need the
    entry and its include_subdomains flag, so this reads the package's own data: the file is cut
    into buckets by layer (number of labels - 1) and CRC-8 of a label, found through the package's
    `_JUMPTABLE`; an entry with n labels is a leaf in layer n-1, in the bucket of the CRC-8 of its
    first label, stored as (flags, length, full name). Each bucket is decoded at most once.
    """

    _IS_LEAF = 0x80
    _INCLUDE_SUBDOMAINS = 0x40

    def __init__(self, package: ModuleType) -> None:
        jump_table = getattr(package, "_JUMPTABLE", None)
        crc8 = getattr(package, "_crc8", None)
        if not isinstance(jump_table, list) or not callable(crc8):
            raise _format_error(package)
        self._jump_table: list[list[tuple[int, int] | None]] = jump_table
        self._crc8: Callable[[bytes], int] = crc8
        self._data_file = Path(str(package.__file__)).with_name("hstspreload.bin")
        self._buckets: dict[tuple[int, int], dict[bytes, bool]] = {}
        # A canary: the whole TLD .app has been preloaded with include_subdomains since 2015, so
        # not finding it means the package's layout changed under us.
        if self.entry("app") is not True:
            raise _format_error(package)

    def entry(self, name: str) -> bool | None:
        """include_subdomains of `name`'s own force-https entry, None when it has none."""
        layer = name.count(".")
        if layer >= len(self._jump_table) or not name.isascii():
            return None
        encoded = name.encode("ascii")
        key = (layer, self._crc8(encoded.partition(b".")[0]))
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = self._read_bucket(*key)
        return bucket.get(encoded)

    def _read_bucket(self, layer: int, crc: int) -> dict[bytes, bool]:
        where = self._jump_table[layer][crc]
        if where is None:
            return {}
        offset, size = where
        try:
            with self._data_file.open("rb") as data:
                data.seek(offset)
                raw = data.read(size)
        except OSError as error:
            raise PreloadListError(f"{self._data_file}: cannot read: {error.strerror}") from None
        return self._decode_leaves(raw)

    @classmethod
    def _decode_leaves(cls, raw: bytes) -> dict[bytes, bool]:
        # Records are (flags, length, name); a tight loop: a bucket holds ~600 of them.
        leaves: dict[bytes, bool] = {}
        position, end = 0, len(raw)
        while position < end:
            flags = raw[position]
            start = position + 2
            position = start + raw[position + 1]
            if flags & cls._IS_LEAF:
                leaves[raw[start:position]] = bool(flags & cls._INCLUDE_SUBDOMAINS)
        return leaves


def _format_error(package: ModuleType) -> PreloadListError:
    version = getattr(package, "__version__", "?")
    return PreloadListError(
        f"hstspreload {version}: data format not recognised; "
        "give a Chromium transport_security_state_static.json with --preload-list"
    )


# --- a Chromium transport_security_state_static.json ------------------------------------------


def load_chromium_json(path: Path, cache_dir: Path | None) -> PreloadList:
    """A list from Chromium's JSON (with `//` comments), via a compact cache keyed by its sha256.

    The date comes from a top-level `"date": "YYYY-MM-DD"` when the file has one, else from the
    file's modification time; the name says which. With `cache_dir` None nothing is written.
    """
    try:
        raw = path.read_bytes()
        mtime = path.stat().st_mtime
    except OSError as error:
        raise PreloadListError(f"{path}: cannot read: {error.strerror}") from None
    digest = hashlib.sha256(raw).hexdigest()
    cached = _read_cache(cache_dir, digest) if cache_dir is not None else None
    if cached is None:
        cached = parse_chromium_json(raw, str(path))
        if cache_dir is not None:
            _write_cache(cache_dir, digest, *cached)
    file_date, entries = cached
    if file_date is not None:
        date, source = file_date, "dated by the file"
    else:
        date, source = datetime.date.fromtimestamp(mtime), "dated by the file's mtime"
    return PreloadList(f"{path} ({source})", date, digest, find_in(entries.get))


def parse_chromium_json(raw: bytes, where: str) -> tuple[datetime.date | None, Entries]:
    """The file's own date (if any) and its force-https entries. Errors name `where` and a line."""
    import json

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise PreloadListError(f"{where}:{line}: not UTF-8 text") from None
    text = strip_comments(text)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise PreloadListError(f"{where}:{error.lineno}: not valid JSON: {error.msg}") from None
    if not isinstance(document, dict) or not isinstance(document.get("entries"), list):
        raise PreloadListError(f'{where}:1: expected an object with an "entries" list')
    return _file_date(document, text, where), _entries(document["entries"], text, where)


def strip_comments(text: str) -> str:
    """Remove `//` comments outside strings, keeping every line (so error lines stay right)."""
    lines = text.split("\n")
    for number, line in enumerate(lines):
        if "//" in line:
            lines[number] = line[: _comment_start(line)]
    return "\n".join(lines)


def _comment_start(line: str) -> int:
    for token in _STRING_OR_COMMENT.finditer(line):
        if token.group() == "//":
            return token.start()
    return len(line)


def _file_date(document: dict[str, object], text: str, where: str) -> datetime.date | None:
    value = document.get("date")
    if value is None:
        return None
    try:
        if isinstance(value, str):
            return datetime.date.fromisoformat(value)
    except ValueError:
        pass
    line = _line_of(text, re.search(r'"date"\s*:', text))
    raise PreloadListError(f'{where}:{line}: "date" must be a date like "2026-01-31"')


def _entries(items: list[object], text: str, where: str) -> Entries:
    entries: Entries = {}
    for index, item in enumerate(items):
        problem = _entry_problem(item)
        if problem:
            raise PreloadListError(f"{where}:{_entry_line(text, index)}: entry {index}: {problem}")
        assert isinstance(item, dict)  # checked by _entry_problem
        if item.get("mode") == "force-https":
            name = item["name"].lower().rstrip(".")
            entries[name] = entries.get(name, False) or bool(item.get("include_subdomains"))
    return entries


def _entry_problem(item: object) -> str | None:
    if not isinstance(item, dict):
        return "expected an object"
    name = item.get("name")
    if not isinstance(name, str) or not name or not name.isascii():
        return '"name" must be a non-empty ASCII host name'
    if not isinstance(item.get("mode", ""), str):
        return '"mode" must be a string'
    if not isinstance(item.get("include_subdomains", False), bool):
        return '"include_subdomains" must be true or false'
    return None


def _entry_line(text: str, index: int) -> int:
    """The line where entry `index` of the "entries" list starts (only on the error path)."""
    import json

    start = re.search(r'"entries"\s*:\s*\[', text)
    if start is None:
        return 1
    decoder = json.JSONDecoder()
    position = _skip_separators(text, start.end())
    for _ in range(index):
        position = _skip_separators(text, decoder.raw_decode(text, position)[1])
    return text.count("\n", 0, position) + 1


def _skip_separators(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n,":
        position += 1
    return position


def _line_of(text: str, match: re.Match[str] | None) -> int:
    return 1 if match is None else text.count("\n", 0, match.start()) + 1


# --- the compact cache ------------------------------------------------------------------------


def _cache_path(cache_dir: Path, digest: str) -> Path:
    return cache_dir / f"preload-{digest}.json"


def _read_cache(cache_dir: Path, digest: str) -> tuple[datetime.date | None, Entries] | None:
    """The cached parse, or None when absent or corrupt (it is then rebuilt)."""
    import json

    try:
        document = json.loads(_cache_path(cache_dir, digest).read_text("utf-8"))
        if document["format"] != _CACHE_FORMAT or document["sha256"] != digest:
            return None
        file_date = document["date"]
        date = None if file_date is None else datetime.date.fromisoformat(file_date)
        entries = dict.fromkeys(document["host_only"].split(), False)
        entries.update(dict.fromkeys(document["include_subdomains"].split(), True))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return date, entries


def _write_cache(
    cache_dir: Path, digest: str, file_date: datetime.date | None, entries: Entries
) -> None:
    """Write atomically (temp file in the same folder, then os.replace); a failure is ignored."""
    import json

    document = {
        "format": _CACHE_FORMAT,
        "sha256": digest,
        "date": None if file_date is None else file_date.isoformat(),
        "include_subdomains": "\n".join(sorted(n for n, sub in entries.items() if sub)),
        "host_only": "\n".join(sorted(n for n, sub in entries.items() if not sub)),
    }
    import tempfile  # only when writing: it pulls in random, shutil and more

    temporary: str | None = None
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=cache_dir, prefix=".preload-", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(document, out)
        os.replace(temporary, _cache_path(cache_dir, digest))
        temporary = None
    except OSError:
        pass  # the cache only saves time: a read-only or full disk must not stop a run
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
