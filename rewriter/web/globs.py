"""Glob matching for hosts, paths and tag names: `*` and `?` only, and never backtracking.

`*` matches any run of characters (including `.` and `/`), `?` exactly one character. A pattern is
split on `*` into segments; the first and last are anchored at the ends of the text and the middle
ones are found left to right, each at its earliest place. Earliest is always right for `*`-only
globs, so no choice is ever revisited: a match costs at most about len(text) * len(pattern)
character steps, and usually one `str.find` per segment. Rules files supply these patterns, so a
hostile one such as `*a*a*a*a*a*b` must not be able to stall a send.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

# A segment between stars: its text, plus, when it contains `?`, the longest literal run in it
# and that run's offset (used to find candidate places with `str.find` before checking the `?`).
_Segment = tuple[str, str | None, int]


def _segment(text: str) -> _Segment:
    if "?" not in text:
        return (text, None, 0)
    runs = text.split("?")
    anchor = max(runs, key=len)
    return (text, anchor, text.index(anchor) if anchor else 0)


def _fits(segment: str, text: str, at: int) -> bool:
    """Whether `segment` (which may hold `?`) matches `text` at offset `at`."""
    if at < 0 or at + len(segment) > len(text):
        return False
    if "?" not in segment:
        return text.startswith(segment, at)
    window = text[at : at + len(segment)]
    return all(p in ("?", c) for p, c in zip(segment, window, strict=True))


def _find(segment: _Segment, text: str, start: int, end: int) -> int:
    """The earliest index i >= start where the segment fits inside text[:end], or -1."""
    pattern, anchor, offset = segment
    if anchor is None:
        return text.find(pattern, start, end)
    if not anchor:  # only `?`: any place with room will do
        return start if end - start >= len(pattern) else -1
    tail = len(pattern) - offset - len(anchor)
    limit = end - tail
    if limit < 0:  # no room; and a negative bound would count from the end in str.find
        return -1
    while True:
        found = text.find(anchor, start + offset, limit)
        if found < 0:
            return -1
        if _fits(pattern, text, found - offset):
            return found - offset
        start = found - offset + 1


def _match(segments: tuple[_Segment, ...], text: str) -> bool:
    first = segments[0][0]
    if len(segments) == 1:
        return len(text) == len(first) and _fits(first, text, 0)
    last = segments[-1][0]
    end = len(text) - len(last)
    if end < len(first) or not _fits(first, text, 0) or not _fits(last, text, end):
        return False
    position = len(first)
    for segment in segments[1:-1]:
        found = _find(segment, text, position, end)
        if found < 0:
            return False
        position = found + len(segment[0])
    return True


class Glob:
    """One glob pattern. Case-insensitive by default (host and tag names)."""

    __slots__ = ("_segments", "case_sensitive", "pattern")

    def __init__(self, pattern: str, *, case_sensitive: bool = False) -> None:
        self.pattern = pattern
        self.case_sensitive = case_sensitive
        folded = pattern if case_sensitive else pattern.lower()
        self._segments = tuple(_segment(part) for part in folded.split("*"))

    def matches(self, text: str) -> bool:
        return _match(self._segments, text if self.case_sensitive else text.lower())

    def matches_folded(self, text: str) -> bool:
        """`matches` for text already lower-cased by the caller (saves a copy per pattern)."""
        return _match(self._segments, text)

    def __repr__(self) -> str:
        return f"Glob({self.pattern!r}, case_sensitive={self.case_sensitive})"


class GlobSet:
    """Several globs, tried in order, with the common shapes answered by one C-level call each:
    patterns without wildcards by a dict, `*suffix` by `str.endswith(tuple)` and `prefix*` by
    `str.startswith(tuple)`. A text that matches nothing, the usual case, costs about a
    microsecond whatever the number of such patterns; other shapes are tried one by one."""

    __slots__ = ("_exact", "_other", "_prefixes", "_suffixes", "case_sensitive", "patterns")

    def __init__(self, patterns: Iterable[str], *, case_sensitive: bool = False) -> None:
        self.patterns = tuple(patterns)
        self.case_sensitive = case_sensitive
        self._exact: dict[str, int] = {}
        self._suffixes = _Affixes()
        self._prefixes = _Affixes()
        self._other: list[tuple[int, Glob]] = []
        for index, pattern in enumerate(self.patterns):
            folded = pattern if case_sensitive else pattern.lower()
            if "?" not in folded and folded.count("*") == 1 and folded.startswith("*"):
                self._suffixes.add(index, folded[1:])
            elif "?" not in folded and folded.count("*") == 1 and folded.endswith("*"):
                self._prefixes.add(index, folded[:-1])
            elif "*" in folded or "?" in folded:
                self._other.append((index, Glob(pattern, case_sensitive=case_sensitive)))
            else:
                self._exact.setdefault(folded, index)

    def first_match(self, text: str) -> str | None:
        """The first pattern, in the order given, that matches `text`; None if none does."""
        folded = text if self.case_sensitive else text.lower()
        best = self._exact.get(folded, len(self.patterns))
        best = self._suffixes.first(folded, best, str.endswith)
        best = self._prefixes.first(folded, best, str.startswith)
        for index, glob in self._other:
            if index >= best:
                break
            if glob.matches_folded(folded):
                best = index
                break
        return self.patterns[best] if best < len(self.patterns) else None

    def __len__(self) -> int:
        return len(self.patterns)

    def __repr__(self) -> str:
        return f"GlobSet({list(self.patterns)!r}, case_sensitive={self.case_sensitive})"


class _Affixes:
    """Literal suffixes (or prefixes) with the index of the pattern each came from."""

    __slots__ = ("entries", "texts")

    def __init__(self) -> None:
        self.entries: list[tuple[int, str]] = []
        self.texts: tuple[str, ...] = ()

    def add(self, index: int, text: str) -> None:
        self.entries.append((index, text))
        self.texts += (text,)

    def first(self, folded: str, best: int, test: Callable[[str, Any], bool]) -> int:
        """The lowest index below `best` whose affix `test` accepts, else `best`."""
        if not self.texts or not test(folded, self.texts):
            return best
        for index, text in self.entries:
            if index >= best:
                break
            if test(folded, text):
                return index
        return best
