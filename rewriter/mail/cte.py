"""Content-Transfer-Encodings: decode a part's body, and write a rewritten body back so that
every line that did not change keeps its exact bytes.

quoted-printable: the body is decoded logical line by logical line (a soft line break, `=` at
the end of a physical line, only joins physical lines: it is never part of the text); after
rewriting, only the logical lines that changed are encoded again, the others are copied. base64:
decoded whole and, when anything changed, encoded whole again with the original line length and
line ending. 7bit/8bit/binary: the body itself; a rewritten body with a line over 998 octets is
given quoted-printable instead (the caller changes the header).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

MAX_LINE_OCTETS = 998
QP_LINE = 76  # RFC 2045: encoded lines of at most 76 characters, the soft break's `=` included
IDENTITY = frozenset({"7bit", "8bit", "binary"})

_LINE = re.compile(rb"[^\n]*\n|[^\n]+")


class EncodingError(ValueError):
    """A body that is not valid in its declared transfer encoding."""


def lines(data: bytes) -> list[bytes]:
    """Physical lines, each with its own line ending (LF or CRLF) kept."""
    return _LINE.findall(data)


def _ending(line: bytes) -> bytes:
    if line.endswith(b"\r\n"):
        return b"\r\n"
    return b"\n" if line.endswith(b"\n") else b""


def _usual_ending(physical: Sequence[bytes]) -> bytes:
    for line in physical:
        ending = _ending(line)
        if ending:
            return ending
    return b"\r\n"


# --- quoted-printable
#
# Decoding is binascii's (what the `email` package and so most software use); an `=` that is
# neither an escape nor a soft line break is refused rather than guessed at.

_BROKEN = re.compile(rb"=(?![0-9A-Fa-f]{2}|\r?\n|\Z)")
# A logical line: physical lines ending in a soft break (`=` just before the line end), then
# one that does not (or the end of the body).
_LOGICAL = re.compile(rb"(?:[^\n]*=\r?\n)*[^\n]*\n?")
_ENCODED_LF = re.compile(rb"=0[Aa]")


@dataclass(frozen=True, slots=True)
class _Logical:
    """A body's logical lines: line i is body[bounds[i]:bounds[i + 1]], decoded texts[i] (with
    the line ending of its hard break, if any)."""

    bounds: list[int]
    texts: list[bytes]


def _check_qp(body: bytes) -> None:
    broken = _BROKEN.search(body)
    if broken is not None:
        line = body.count(b"\n", 0, broken.start()) + 1
        raise EncodingError(f"quoted-printable: line {line} has an `=` that is not an escape")


def _qp_logical(body: bytes) -> _Logical | None:
    """The body's logical lines (physical lines joined by soft breaks), each decoded; None when
    an encoded LF sits inside one (then decoded lines do not map to encoded ones)."""
    if _ENCODED_LF.search(body) is None:
        # Decoding is line by line (no escape spans a hard break), so the decoded body's lines
        # are the logical lines' texts; only the last may decode to nothing (`=` at the end).
        bounds = _hard_breaks(body)
        texts = lines(binascii.a2b_qp(body))
        if len(texts) == len(bounds) - 2:
            texts.append(b"")
        if len(texts) == len(bounds) - 1:
            return _Logical(bounds, texts)
    return _logical_by_line(body)


def _logical_by_line(body: bytes) -> _Logical | None:
    """`_qp_logical` the slow way, each logical line found and decoded on its own (the
    reference the tests hold the fast way to)."""
    found = [match.span() for match in _LOGICAL.finditer(body) if match.end() > match.start()]
    texts = [binascii.a2b_qp(body[start:end]) for start, end in found]
    if any(b"\n" in text[:-1] for text in texts):
        return None
    return _Logical([0, *(end for _, end in found)], texts)


def _hard_breaks(body: bytes) -> list[int]:
    """0, the offset after each LF that is not part of a soft break, and the end."""
    physical = body.split(b"\n")
    ends = list(accumulate(map(len, physical)))  # in C: thousands of lines per part
    bounds = [0]
    bounds += [
        end + number
        for number, (line, end) in enumerate(zip(physical[:-1], ends[:-1], strict=True), 1)
        if not line.endswith((b"=", b"=\r"))
    ]
    if bounds[-1] != len(body):
        bounds.append(len(body))
    return bounds


def qp_decode(body: bytes) -> bytes:
    _check_qp(body)
    return binascii.a2b_qp(body)


def qp_encode_line(text: bytes, ending: bytes, soft_ending: bytes = b"\r\n") -> bytes:
    """One logical line (without its ending) as quoted-printable, soft-broken at 76."""
    encoded = binascii.b2a_qp(text, quotetabs=False, istext=False)
    if soft_ending != b"\n":
        encoded = encoded.replace(b"=\n", b"=" + soft_ending)
    return encoded + ending


def _encode(line: bytes, soft_ending: bytes) -> bytes:
    own = _ending(line)
    return qp_encode_line(line[: len(line) - len(own)], own, soft_ending)


def qp_encode(text: bytes, soft_ending: bytes = b"\r\n") -> bytes:
    """A whole body as quoted-printable (for a 7bit/8bit part whose lines grew too long)."""
    return b"".join(_encode(line, soft_ending) for line in lines(text))


def qp_reencode(body: bytes, new: bytes) -> bytes:
    """The quoted-printable body that decodes to `new`: each logical line of `body` that did not
    change is copied (its bytes exactly), the others are encoded. With as many lines before and
    after (the usual case), lines are compared one to one; otherwise the lines shared at the
    start and at the end are kept and those between encoded."""
    _check_qp(body)
    logical = _qp_logical(body)
    soft = usual_ending(body)
    if logical is None:  # an encoded LF inside a line: no map
        return qp_encode(new, soft)
    bounds, texts = logical.bounds, logical.texts
    new_lines = lines(new)
    if len(new_lines) == len(texts):
        out: list[bytes] = []
        position = 0
        pairs = zip(texts, new_lines, strict=True)
        for index in [number for number, (old, text) in enumerate(pairs) if old != text]:
            out += (body[position : bounds[index]], _encode(new_lines[index], soft))
            position = bounds[index + 1]
        out.append(body[position:])
        return b"".join(out)
    head, tail = _common_ends(texts, new_lines)
    middle = b"".join(_encode(text, soft) for text in new_lines[head : len(new_lines) - tail])
    return body[: bounds[head]] + middle + body[bounds[len(texts) - tail] :]


def _common_ends(old: Sequence[bytes], new: Sequence[bytes]) -> tuple[int, int]:
    """How many lines the two share at the start, and then at the end."""
    head = 0
    limit = min(len(old), len(new))
    while head < limit and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < limit - head and old[len(old) - 1 - tail] == new[len(new) - 1 - tail]:
        tail += 1
    return head, tail


# --- base64


def b64_decode(body: bytes) -> bytes:
    compact = re.sub(rb"[\r\n\t ]+", b"", body)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as error:
        raise EncodingError(f"base64: {error}") from None


def b64_encode(new: bytes, body: bytes) -> bytes:
    """`new` in base64, with the line length and line ending of the original `body`."""
    physical = lines(body)
    ending = _usual_ending(physical)
    width = len(physical[0].rstrip(b"\r\n")) if physical else 76
    width = max(4, min(76, width - width % 4)) if width >= 4 else 76
    encoded = base64.b64encode(new)
    chunks = [encoded[index : index + width] for index in range(0, len(encoded), width)]
    ends_with_newline = body.endswith(b"\n") or not body
    return ending.join(chunks) + (ending if ends_with_newline and chunks else b"")


# --- 7bit / 8bit


def too_long(data: bytes) -> bool:
    """Whether a line is longer than RFC 5322 allows (998 octets before its CRLF)."""
    return any(len(line.rstrip(b"\r\n")) > MAX_LINE_OCTETS for line in lines(data))


def usual_ending(body: bytes) -> bytes:
    """CRLF when the first line break is one (or there is none), else LF."""
    newline = body.find(b"\n")
    return b"\n" if newline >= 0 and body[newline - 1 : newline] != b"\r" else b"\r\n"
