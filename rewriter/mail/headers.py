"""Header fields as byte spans in a header block, to remove or replace one without touching the
others (RFC 5322 2.2: a field is its first line and the lines after it that start with a space
or a tab)."""

from __future__ import annotations

import re

_LINE = re.compile(rb"[^\n]*\n|[^\n]+")


def field_spans(data: bytes, start: int, end: int, name: str) -> list[tuple[int, int]]:
    """The spans of every field named `name` (any case) in data[start:end], with their line
    endings."""
    wanted = name.lower().encode("ascii") + b":"
    spans: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    for match in _LINE.finditer(data, start, end):
        line = match.group()
        if line[:1] in (b" ", b"\t") and current is not None:
            current = (current[0], match.end())
            continue
        if current is not None:
            spans.append(current)
            current = None
        if _field_name(line) == wanted:
            current = match.span()
    if current is not None:
        spans.append(current)
    return spans


def _field_name(line: bytes) -> bytes:
    colon = line.find(b":")
    if colon <= 0:
        return b""
    return line[:colon].rstrip(b" \t").lower() + b":"


def header_end(data: bytes, start: int, body_start: int) -> int:
    """Where a new field goes: before the blank line that ends the headers."""
    if body_start - start >= 2 and data[body_start - 2 : body_start] == b"\r\n":
        blank = 2
    elif body_start - start >= 1 and data[body_start - 1 : body_start] == b"\n":
        blank = 1
    else:
        return body_start  # headers only, no blank line
    return body_start - blank


def line_ending(data: bytes, start: int, end: int) -> bytes:
    """The line ending the header block uses."""
    newline = data.find(b"\n", start, end)
    if newline > 0 and data[newline - 1 : newline] == b"\r":
        return b"\r\n"
    return b"\n" if newline >= 0 else b"\r\n"
