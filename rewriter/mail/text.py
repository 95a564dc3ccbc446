"""Plain text: URLs in running text, found as mail clients linkify them, rewritten in place.

Works on bytes in an ASCII-compatible charset: the URL bytes are replaced by the tracking URL
(ASCII), every other byte is copied through. A URL is `http://` or `https://` (any case) not
glued to a word before it, up to whitespace, a control character, `<`, `>` or `"`; trailing
punctuation (`.,:;!?'`) and closing brackets that do not close one opened inside the URL are not
part of it; in angle brackets (`<https://...>`) it runs to the `>`. Each URL goes through the
engine's own stages (`Rewriter.text_link`), so the skip rules are those of HTML links.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from rewriter.document.engine import Rewriter
from rewriter.document.inputs import TemplateError
from rewriter.models import Action, LinkRecord, Result
from rewriter.web.urls import find_template_expression

# RFC 5322: a line is at most 998 octets; RFC 3676: flowed lines should be at most 78.
MAX_LINE_OCTETS = 998
FLOWED_LINE_CHARACTERS = 78

_URL = re.compile(rb"(?<![A-Za-z0-9+.\-])[Hh][Tt][Tt][Pp][Ss]?://[^\x00-\x20\x7f<>\"]+")
_WORD_END = re.compile(rb"[\x00-\x20\x7f]")
_TRAILING = b".,:;!?'"
_CLOSERS = {ord(")"): b"(", ord("]"): b"[", ord("}"): b"{"}


@dataclass(frozen=True, slots=True)
class Found:
    """One URL in the text: its byte span."""

    start: int
    end: int


def find_urls(data: bytes) -> list[Found]:
    """The URLs of `data` as a mail client would linkify them, in order."""
    found = []
    for match in _URL.finditer(data):
        start, end = match.span()
        bracketed = start > 0 and data[start - 1 : start] == b"<" and data[end : end + 1] == b">"
        if not bracketed:
            end = _trim(data, start, end)
        if end - start > len(b"https://"):
            found.append(Found(start, end))
    return found


def _trim(data: bytes, start: int, end: int) -> int:
    """Drop trailing punctuation and unbalanced closing brackets, as clients do."""
    while end > start:
        last = data[end - 1]
        if last in _TRAILING:
            end -= 1
            continue
        opener = _CLOSERS.get(last)
        if opener is not None:
            url = data[start:end]
            if url.count(bytes((last,))) > url.count(opener):
                end -= 1
                continue
        break
    return end


def ascii_compatible(codec: str) -> bool:
    """Whether the charset writes ASCII as ASCII, byte for byte (so URLs can be found in it)."""
    try:
        info = codecs.lookup(codec)
    except (LookupError, ValueError):
        return False
    sample = b"https://a.example/?q=1&r=2#f <x> {y} ~"
    try:
        return info.encode(sample.decode("ascii"))[0] == sample and info.name not in ("utf-7",)
    except UnicodeError:
        return False


def rewrite_text(
    data: bytes,
    engine: Rewriter,
    *,
    file: str | None,
    context: str,
    codec: str = "utf-8",
    flowed: bool = False,
    long_lines: bool = True,
) -> Result:
    """Rewrite the URLs of plain text; every byte outside them is kept.

    A replaced URL that pushes its line past 78 characters (`flowed`) or 998 octets
    (`long_lines`: a MIME part is given quoted-printable instead) is reported.

    Raises TemplateError for a charset that does not write ASCII as ASCII.
    """
    if not ascii_compatible(codec):
        raise TemplateError(f"the charset {codec} is not supported for plain text")
    out: list[bytes] = []
    records: list[LinkRecord] = []
    warnings: list[str] = []
    position = 0
    lines = _Lines(data, codec)
    for found in find_urls(data):
        value, end = _value(data, found, codec)
        line, column = lines.locate(found.start)
        record = engine.text_link(
            value, file=file, line=line, column=column, context=context, codec=codec
        )
        records.append(record)
        if record.action is not Action.REWRITTEN or record.tracking_url is None:
            continue
        out += (data[position : found.start], record.tracking_url.encode("ascii"))
        position = end
        warning = _line_warning(data, found, len(record.tracking_url), file, line, flowed)
        if warning is not None and (flowed or long_lines):
            warnings.append(warning)
    out.append(data[position:])
    output = b"".join(out)
    return Result(output, tuple(records), codec, output != data, tuple(warnings))


def _value(data: bytes, found: Found, codec: str) -> tuple[str, int]:
    """The URL as text, and where its replacement ends. When the word it starts goes on into a
    template expression (`https://x.example/?u={{ id }}` stops at the space; `<%= id %>` at the
    `<`), the whole word is judged, so the policy sees the expression and skips the link."""
    url = data[found.start : found.end].decode(codec, "replace")
    word_end = _WORD_END.search(data, found.end)
    word = data[found.start : len(data) if word_end is None else word_end.start()]
    text = word.decode(codec, "replace")
    if find_template_expression(text) is not None and find_template_expression(url) is None:
        return text, found.end
    return url, found.end


def _line_warning(
    data: bytes, found: Found, new_length: int, file: str | None, line: int, flowed: bool
) -> str | None:
    """A replaced URL that pushes its line past the format's limit."""
    start = data.rfind(b"\n", 0, found.start) + 1
    stop = data.find(b"\n", found.end)
    stop = len(data) if stop < 0 else stop
    old = len(data[start:stop].rstrip(b"\r"))
    new = old - (found.end - found.start) + new_length
    limit, why = (
        (FLOWED_LINE_CHARACTERS, "format=flowed") if flowed else (MAX_LINE_OCTETS, "RFC 5322")
    )
    if new <= limit or old > limit:
        return None
    return (
        f"{file or '-'}:{line}: the tracking link makes this line {new} octets long,"
        f" over the {limit} of {why}"
    )


class _Lines:
    """Line and column (in characters) of offsets taken in increasing order."""

    def __init__(self, data: bytes, codec: str) -> None:
        self._data = data
        self._codec = codec
        self._offset = 0
        self._line = 1
        self._line_start = 0

    def locate(self, offset: int) -> tuple[int, int]:
        newlines = self._data.count(b"\n", self._offset, offset)
        if newlines:
            self._line += newlines
            self._line_start = self._data.rfind(b"\n", self._offset, offset) + 1
        self._offset = offset
        before = self._data[self._line_start : offset]
        return self._line, len(before.decode(self._codec, "replace")) + 1
