"""The legacy link map: the previous platform's tracking links and where they went.

A CSV file with the header `old,destination`, one link a row, exported from the old platform.
`old` is a full URL on a legacy tracking domain (`http://click.example.com/ls/click?upn=...`,
matched on that host only) or a path with its query (`/r/abc`, matched on every legacy domain).
Destinations are read as browsers read URLs and kept in their ASCII serialisation (punycode
host, percent-encoded path), so they can go into a `Location` header as they are.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from rewriter.web.urls import HostError, UrlError, normalize_host, parse_http_url

MAX_MAP_BYTES = 256 << 20  # 256 MiB: a few million links; the map lives in memory


class LegacyMapError(Exception):
    """A map that cannot be used; the message names file:line."""


@dataclass(frozen=True, slots=True)
class LegacyLinkMap:
    by_url: dict[tuple[str, str], str]  # (host, path and query) -> destination
    by_path: dict[str, str]  # path and query -> destination, on any legacy domain

    def __len__(self) -> int:
        return len(self.by_url) + len(self.by_path)

    def find(self, host: str, target: str) -> str | None:
        found = self.by_url.get((host, target))
        return found if found is not None else self.by_path.get(target)


EMPTY_MAP = LegacyLinkMap({}, {})


def load_legacy_map(path: Path) -> LegacyLinkMap:
    """Read a map. Raises LegacyMapError."""
    try:
        if path.stat().st_size > MAX_MAP_BYTES:
            raise LegacyMapError(f"{path}: larger than {MAX_MAP_BYTES:,} bytes")
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise LegacyMapError(f"{path}: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise LegacyMapError(f"{path}: not UTF-8: save the file as UTF-8") from None
    rows = csv.reader(text.splitlines())
    header = next(rows, None)
    if header is None or [cell.strip().lower() for cell in header] != ["old", "destination"]:
        raise LegacyMapError(f"{path}:1: the first line must be the header old,destination")
    by_url: dict[tuple[str, str], str] = {}
    by_path: dict[str, str] = {}
    for line, row in enumerate(rows, start=2):
        if not row or row == [""]:
            continue
        if len(row) != 2:
            raise LegacyMapError(f"{path}:{line}: expected 2 columns (old,destination)")
        old, destination = (cell.strip() for cell in row)
        try:
            target = parse_http_url(destination).href
        except UrlError as error:
            raise LegacyMapError(f"{path}:{line}: destination: {error}") from None
        if old.startswith("/"):
            by_path[old] = target
            continue
        host, path_and_query = _split_old(old, path, line)
        by_url[(host, path_and_query)] = target
    return LegacyLinkMap(by_url, by_path)


def _split_old(old: str, path: Path, line: int) -> tuple[str, str]:
    scheme, separator, rest = old.partition("://")
    if not separator or scheme.lower() not in ("http", "https"):
        raise LegacyMapError(f"{path}:{line}: old: a full http(s) URL or a path starting with /")
    authority, slash, tail = rest.partition("/")
    authority = authority.rsplit("@", 1)[-1].split(":", 1)[0]
    try:
        host = normalize_host(authority)
    except HostError as error:
        raise LegacyMapError(f"{path}:{line}: old: {error}") from None
    return host, "/" + tail if slash else "/"
