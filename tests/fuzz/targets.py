"""The fuzz targets: each takes the fuzzer's bytes and raises on any invariant failure.

They need no atheris, so tests/test_fuzz_regressions.py replays stored inputs through the very
same code. Anything they derive from the input (chunk sizes, options) is a pure function of the
bytes, so a finding reproduces exactly.

- `scanner`: `scan_chunks` over a chunking drawn from the input's CRC: the pieces join back to the
  input, every link tag sits at its offset, and the link tags (offsets, bytes, attributes, the
  lookahead, conditional-comment flag) are the same as when the whole input is scanned at once.
- `compiled`: the compiled scanner against the pure-Python one (the reference) on the same
  input, whole and over a chunking drawn from the input, with a link-tag set picked by byte 0:
  the same pieces (every field a caller reads) and the same end state. `make fuzz` builds the
  extension with AddressSanitizer for it. Coverage guides it through the Python scanner's
  branches (atheris instruments Python; gcc cannot instrument C for libFuzzer).
- `urls`: byte 0 picks a document encoding; the rest (UTF-8, invalid bytes as lone surrogates) is
  an attribute value as written: `decode_attribute_value`, `escape_attribute_value` round trips,
  `clean_url_value`, `reference_kind`, `find_template_expression`, `parse_http_url`. Only
  `UrlError` may escape `parse_http_url`; a parsed URL is printable ASCII and parses to itself.
- `engine`: `Rewriter.rewrite` raises nothing but its documented TemplateError (a
  PreservationError is a failure), the output is the input outside rewritten values (checked
  independently), a second run reads it in the same encoding and changes nothing, every token
  verifies and carries its destination, and `rewrite_stream` over a chunking drawn from the
  input gives the same bytes and records (or, for a document `rewrite` refuses as binary data,
  refuses it too).
"""

from __future__ import annotations

import contextlib
import random
import zlib
from collections.abc import Callable

from fuzz.invariants import (
    CONTEXT_FILE,
    InvariantError,
    Refused,
    check_idempotent,
    check_preserved,
    check_tokens,
    chunked,
    engine,
    rewrite,
)
from rewriter.document.engine import PreservationError, Rewriter
from rewriter.document.entities import decode_attribute_value, escape_attribute_value
from rewriter.document.inputs import TemplateError
from rewriter.document.scan import LinkTag, OversizedTag, Piece, Scanner, scan, scan_chunks
from rewriter.models import Result
from rewriter.tokens import codec
from rewriter.tokens.format import TokenError, decode_token, encode_token
from rewriter.tokens.keys import KeyRing
from rewriter.web.urls import (
    RefKind,
    UrlError,
    clean_url_value,
    find_template_expression,
    parse_http_url,
    reference_kind,
)

LINK_TAGS = ("a", "area", "v:*", "button")
ENCODINGS = ("utf-8", "cp1252", "iso8859-2", "koi8-r", "cp932", "gb18030", "euc_kr", "utf-16-le")
SMALL_FOR_BYTE_CHUNKS = 512  # one-byte chunks re-run the scanner per byte: keep inputs small


def scanner(data: bytes) -> None:
    chunks = chunked(data, _cuts(data))
    pieces = list(scan_chunks(chunks, LINK_TAGS))
    joined = b"".join(_bytes_of(piece) for piece in pieces)
    if joined != data:
        raise InvariantError(f"pieces join to {joined!r}, not the input (chunks {chunks!r})")
    for piece in pieces:
        if isinstance(piece, LinkTag) and not data.startswith(piece.raw, piece.offset):
            raise InvariantError(f"link tag at {piece.offset} is not the input's bytes: {piece!r}")
    whole = _links(list(scan(data, LINK_TAGS)))
    if _links(pieces) != whole:
        raise InvariantError(
            f"link tags depend on chunking: {_links(pieces)!r} vs {whole!r} (chunks {chunks!r})"
        )


def _cuts(data: bytes) -> list[int]:
    """Chunk boundaries drawn from the input itself: whole, byte by byte, or random sizes."""
    rng = random.Random(zlib.crc32(data))
    mode = rng.randrange(4)
    if mode == 0 or not data:
        return []
    if mode == 1 and len(data) <= SMALL_FOR_BYTE_CHUNKS:
        return list(range(1, len(data)))
    largest = 64 if mode == 2 else 1024
    cuts, at = [], 0
    while at < len(data):
        at += rng.randint(1, largest)
        cuts.append(at)
    return cuts


def _bytes_of(piece: Piece) -> bytes:
    if isinstance(piece, LinkTag):
        return piece.raw
    if isinstance(piece, OversizedTag):
        return b""  # a marker: its bytes follow as plain pieces
    return piece


def _links(pieces: list[Piece]) -> list[tuple[object, ...]]:
    """What the engine reads of each link tag (not its lazily filled attribute cache)."""
    found: list[tuple[object, ...]] = []
    for piece in pieces:
        if isinstance(piece, LinkTag):
            found.append(
                (piece.offset, piece.raw, piece.name, piece.attributes_at,
                 piece.in_conditional_comment, piece.following)
            )  # fmt: skip
        elif isinstance(piece, OversizedTag):
            found.append((piece.offset, piece.name))
    return found


# Link-tag sets for `compiled`: the defaults, every tag (raw-text names too), `?` wildcards.
COMPILED_TAG_SETS: tuple[tuple[str, ...], ...] = (
    LINK_TAGS,
    ("a",),
    ("*",),
    ("?", "t?tle", "script", "v:*", "o:*"),
)


def compiled(data: bytes) -> None:
    tags = COMPILED_TAG_SETS[data[0] % len(COMPILED_TAG_SETS)] if data else LINK_TAGS
    for chunks in ([data], chunked(data, _cuts(data))):
        reference = _scanned(chunks, tags, compiled=False)
        found = _scanned(chunks, tags, compiled=True)
        if found != reference:
            first = next(
                i for i, (a, b) in enumerate(zip(found, reference, strict=False)) if a != b
            )
            raise InvariantError(
                f"the compiled scanner differs at piece {first}: {found[first : first + 2]!r} vs "
                f"{reference[first : first + 2]!r} (tags {tags!r}, chunks {chunks!r})"
            )


def _scanned(chunks: list[bytes], tags: tuple[str, ...], *, compiled: bool) -> list[object]:
    """Every piece as a caller reads it, then what the input ended inside."""
    scanner = Scanner(tags, compiled=compiled)
    out: list[object] = []
    for index, chunk in enumerate(chunks):
        for piece in scanner.feed(chunk, last=index == len(chunks) - 1):
            out.extend(_links([piece]) if not isinstance(piece, bytes) else [piece])
    out.append((scanner.unfinished, scanner.open_constructs()))
    return out


def urls(data: bytes) -> None:
    if not data:
        return
    encoding = ENCODINGS[data[0] % len(ENCODINGS)]
    raw = data[1:].decode("utf-8", "surrogateescape")
    value = decode_attribute_value(raw)
    _check_escaping(value)
    cleaned = clean_url_value(value)
    if clean_url_value(cleaned) != cleaned:
        raise InvariantError(f"clean_url_value is not idempotent on {value!r}")
    kind, _scheme = reference_kind(cleaned)
    find_template_expression(raw)
    find_template_expression(cleaned)
    try:
        url = parse_http_url(value, encoding)
    except UrlError:
        return
    if kind is not RefKind.HTTP:
        raise InvariantError(f"{value!r} parsed as an http(s) URL but its kind is {kind}")
    href = url.href
    if not (href.isascii() and href.isprintable()) or not url.host:
        raise InvariantError(f"{value!r} parsed to {href!r} (host {url.host!r})")
    if parse_http_url(href).href != href:
        raise InvariantError(f"{href!r} (from {value!r}) does not parse to itself")


def _check_escaping(value: str) -> None:
    if "\x00" in value:
        return  # HTML cannot write NUL in an attribute; escape_attribute_value refuses it
    for quote in ('"', "'", ""):
        if quote == "" and not value:
            continue
        escaped = escape_attribute_value(value, quote)
        if decode_attribute_value(escaped) != value:
            raise InvariantError(f"escaping {value!r} for {quote!r} does not round trip")
        ends = quote if quote else "\t\n\f\r >"
        if any(char in escaped for char in ends):
            raise InvariantError(f"{escaped!r} can end a {quote!r}-quoted value early")


def engine_target(data: bytes) -> None:
    rewriter = engine()
    chunks = chunked(data, _cuts(data))
    try:
        result = rewrite(rewriter, data)
    except Refused:
        _check_stream_refuses(rewriter, chunks)  # the documented outcome for binary data
        return
    check_preserved(data, result, rewriter.rules)
    check_idempotent(rewriter, result)
    check_tokens(rewriter, result)
    _check_stream(rewriter, chunks, result)


def _check_stream(rewriter: Rewriter, chunks: list[bytes], whole: Result) -> None:
    """`rewrite_stream` over the input's own chunking gives the same bytes and records."""
    out: list[bytes] = []
    try:
        outcome = rewriter.rewrite_stream(chunks, out.append, file=CONTEXT_FILE)
    except PreservationError as error:
        raise InvariantError(f"rewrite_stream: {error} (chunks {chunks!r})") from error
    except TemplateError as error:
        raise InvariantError(
            f"rewrite_stream refused what rewrite() accepted: {error} (chunks {chunks!r})"
        ) from error
    if b"".join(out) != whole.output or tuple(outcome.links) != whole.links:
        raise InvariantError(
            f"rewrite_stream: output or records differ from rewrite() (chunks {chunks!r})"
        )


def _check_stream_refuses(rewriter: Rewriter, chunks: list[bytes]) -> None:
    """A document `rewrite()` refuses is refused however it is cut."""
    try:
        rewriter.rewrite_stream(chunks, lambda _chunk: None, file=CONTEXT_FILE)
    except TemplateError:
        return
    except PreservationError as error:
        raise InvariantError(f"rewrite_stream: {error} (chunks {chunks!r})") from error
    raise InvariantError(f"rewrite_stream accepted what rewrite() refused (chunks {chunks!r})")


_RING = KeyRing("fuzz", {"fuzz": bytes(range(32))})


def tokens(data: bytes) -> None:
    """The token decoder on any bytes: its compiled twin gives the symbols and end state of the
    Python loop (so ASan sees it read any stream), and a token made of any text is refused with
    TokenError or read back; any printable URL text round trips through a token."""
    if codec._compiled_decode is not None:
        compiled_symbols, node = codec._compiled_decode(data, *codec._compiled_tables())
        if (compiled_symbols, node << 8) != codec._decode_in_python(data):
            raise InvariantError(f"the compiled token decoder differs on {data!r}")
    text = data.decode("latin-1")
    with contextlib.suppress(TokenError):  # refused, or read back: nothing else
        decode_token(text, _RING)
    url = "https://" + "".join(c for c in text if " " < c < "\x7f")
    if decode_token(encode_token(url, "ctx", _RING), _RING).destination != url:
        raise InvariantError(f"{url!r} does not round trip through a token")


TARGETS: dict[str, Callable[[bytes], None]] = {
    "scanner": scanner,
    "compiled": compiled,
    "urls": urls,
    "engine": engine_target,
    "tokens": tokens,
}
