"""Inputs that are not plain ASCII-compatible HTML: refused with a reason, or transcoded.

The engine reads bytes in which `<`, quotes and `>` are ASCII (UTF-8 and every legacy charset an
email uses). Two kinds of input are not like that:
- binary data (an image or archive named `.html`): refused, so it is never "rewritten";
- UTF-16 with a byte-order mark: decoded to a UTF-8 view, rewritten, and encoded back, so the
  output is UTF-16 again with every character but the changed links as it was.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterable, Iterator

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"RIFF", "a RIFF file (WebP, WAV, AVI)"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"\x1f\x8b", "gzip data"),
    (b"\x7fELF", "an executable"),
)
# Control bytes that text never holds (tab, LF, FF, CR and ESC excluded).
_CONTROLS = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)])
_SAMPLE = 1024  # the engine passes the first 1024 bytes, whatever the chunks
_BINARY_SHARE = 0.10

Write = Callable[[bytes], object]


class TemplateError(Exception):
    """A document that cannot be processed as a template; the message says why."""


def binary_kind(head: bytes) -> str | None:
    """What binary data the first bytes look like, or None for text."""
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    sample = head[:_SAMPLE]
    controls = len(sample) - len(sample.translate(None, _CONTROLS))
    if sample and controls > len(sample) * _BINARY_SHARE:
        return "binary data (or UTF-16 without a byte-order mark)"
    return None


def utf8_view(chunks: Iterable[bytes], codec: str) -> Iterator[bytes]:
    """UTF-16 chunks as UTF-8 (lone surrogates kept, so the way back is exact)."""
    decoder = codecs.getincrementaldecoder(codec)("surrogatepass")
    try:
        for chunk in chunks:
            yield decoder.decode(chunk).encode("utf-8", "surrogatepass")
        yield decoder.decode(b"", final=True).encode("utf-8", "surrogatepass")
    except UnicodeDecodeError as error:
        raise TemplateError(f"not valid {codec.upper()}: {error.reason}") from None


def encoding_back(write: Write, codec: str) -> Write:
    """A writer that takes the UTF-8 view's output and writes it in `codec`."""
    decoder = codecs.getincrementaldecoder("utf-8")("surrogatepass")
    encoder = codecs.getincrementalencoder(codec)("surrogatepass")

    def write_back(data: bytes) -> None:
        write(encoder.encode(decoder.decode(data)))

    return write_back
