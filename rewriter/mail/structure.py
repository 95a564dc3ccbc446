"""The structure of a MIME message as byte offsets, so parts can be spliced without
re-serialising anything.

Headers are read with the standard library's `email` package (compat32, which keeps them as
written); the boundaries are found here, by the rules of RFC 2046, to know where each part's
bytes start and end. The whole message is also parsed by the `email` package, and the two
readings must agree (same tree, same content types) and the package must report no structural
defect: a message the two would read differently is refused, never guessed at.
"""

from __future__ import annotations

import email.errors
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser

# Defects after which the standard parser and a mail client may not see the same parts.
_FATAL_DEFECTS = (
    email.errors.NoBoundaryInMultipartDefect,
    email.errors.StartBoundaryNotFoundDefect,
    email.errors.MultipartInvariantViolationDefect,
    email.errors.MissingHeaderBodySeparatorDefect,
    email.errors.FirstHeaderLineIsContinuationDefect,
    email.errors.InvalidMultipartContentTransferEncodingDefect,
)
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
MAX_DEPTH = 50


class MimeError(ValueError):
    """Not valid MIME, or MIME this tool will not read (the message says which)."""


@dataclass(slots=True)
class Part:
    """One entity of a message: where its headers and body lie in the message's bytes."""

    number: str  # "1.2" (IMAP numbering); "" for the message itself when multipart
    start: int  # first byte of its headers
    body_start: int
    end: int  # after its body (the line break before a boundary belongs to the boundary)
    headers: Message
    children: list[Part] = field(default_factory=list)
    parsed: Message | None = None  # the message: the email package's reading of it all

    @property
    def content_type(self) -> str:
        return self.headers.get_content_type()

    @property
    def transfer_encoding(self) -> str:
        return str(self.headers.get("Content-Transfer-Encoding", "7bit")).strip().lower()

    @property
    def is_attachment(self) -> bool:
        return self.headers.get_content_disposition() == "attachment"

    def walk(self) -> Iterator[Part]:
        yield self
        for child in self.children:
            yield from child.walk()


def parse_message(data: bytes) -> Part:
    """The part tree of a whole message; raises MimeError when it is not valid MIME."""
    if not data.strip():
        raise MimeError("the message is empty")
    top = _parse_part(data, 0, len(data), "", 0)
    if not top.children:
        top.number = "1"  # a single-part message: its body is part 1
    top.parsed = BytesParser(policy=policy.compat32).parsebytes(data)
    _agree(top, top.parsed)
    return top


def _parse_part(data: bytes, start: int, end: int, number: str, depth: int) -> Part:
    if depth > MAX_DEPTH:
        raise MimeError(f"parts nested more than {MAX_DEPTH} deep")
    body_start = _body_start(data, start, end)
    header_bytes = data[start:body_start]
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(header_bytes)
    part = Part(number, start, body_start, end, headers)
    if headers.get_content_maintype() == "multipart":
        boundary = headers.get_boundary()
        if not boundary:
            raise MimeError(f"{_name(part)}: a multipart without a boundary")
        spans = _child_spans(data, body_start, end, boundary.encode("ascii", "replace"))
        if not spans:
            raise MimeError(f"{_name(part)}: the boundary {boundary!r} is never found")
        prefix = f"{number}." if number else ""
        part.children = [
            _parse_part(data, child_start, child_end, f"{prefix}{index}", depth + 1)
            for index, (child_start, child_end) in enumerate(spans, 1)
        ]
    return part


def _body_start(data: bytes, start: int, end: int) -> int:
    """After the blank line that ends the headers (a part may have no headers at all)."""
    if data.startswith(b"\r\n", start):
        return start + 2
    if data.startswith(b"\n", start):
        return start + 1
    found = _BLANK_LINE.search(data, start, end)
    if found is None:
        return end  # headers only
    return found.end()


def _child_spans(data: bytes, start: int, end: int, boundary: bytes) -> list[tuple[int, int]]:
    """The byte spans of the body parts between `--boundary` lines (RFC 2046 5.1.1)."""
    delimiter = b"--" + boundary
    spans: list[tuple[int, int]] = []
    part_start: int | None = None
    for position, line_end in _lines_starting_with(data, start, end, delimiter):
        rest = data[position + len(delimiter) : line_end].rstrip(b"\r\n")
        closing = rest.startswith(b"--")
        if (rest[2:] if closing else rest).strip(b" \t"):
            continue  # a longer boundary that starts with this one
        if part_start is not None:
            spans.append((part_start, _before_line_break(data, part_start, position)))
        if closing:
            return spans
        part_start = line_end
    if part_start is not None:  # no closing delimiter: the last part runs to the end
        spans.append((part_start, end))
    return spans


def _lines_starting_with(
    data: bytes, start: int, end: int, prefix: bytes
) -> Iterator[tuple[int, int]]:
    """The spans of the lines of data[start:end] (each up to and with its LF) that start with
    `prefix`, found by searching for it after an LF (not line by line: a part has thousands)."""
    line = start if data.startswith(prefix, start, end) else -1
    needle = b"\n" + prefix
    while True:
        if line < 0:
            found = data.find(needle, start, end)
            if found < 0:
                return
            line = found + 1
        newline = data.find(b"\n", line, end)
        line_end = end if newline < 0 else newline + 1
        yield line, line_end
        start, line = line_end - 1, -1  # from the LF that ends this line


def _before_line_break(data: bytes, floor: int, position: int) -> int:
    """The line break before a delimiter belongs to the delimiter."""
    if position - 2 >= floor and data[position - 2 : position] == b"\r\n":
        return position - 2
    if position - 1 >= floor and data[position - 1 : position] == b"\n":
        return position - 1
    return position


def _agree(part: Part, parsed: Message) -> None:
    """The standard parser's reading of the same bytes must match ours."""
    for defect in parsed.defects:
        if isinstance(defect, _FATAL_DEFECTS):
            raise MimeError(f"{_name(part)}: {_describe(defect)}")
    if parsed.get_content_type() != part.content_type:
        raise MimeError(f"{_name(part)}: the part's content type is ambiguous")
    if not part.children:
        return
    payload = parsed.get_payload()
    if not isinstance(payload, list) or len(payload) != len(part.children):
        raise MimeError(f"{_name(part)}: its parts cannot be told apart unambiguously")
    for child, parsed_child in zip(part.children, payload, strict=True):
        _agree(child, parsed_child)


def _describe(defect: email.errors.MessageDefect) -> str:
    name = type(defect).__name__.removesuffix("Defect")
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()
    return f"not valid MIME ({words})"


def _name(part: Part) -> str:
    return f"part {part.number}" if part.number else "the message"
