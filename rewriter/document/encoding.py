"""Which character encoding a document uses, found the way browsers find it.

The bytes are never re-encoded: the encoding is needed only to read attribute values (the URL a
browser would follow), link text and columns. Declarations are found by the HTML standard's
prescan and labels map to codecs as the WHATWG Encoding standard says (so `iso-8859-1` and
`us-ascii` mean windows-1252, as in every browser; `hex` or `utf-7` mean nothing): `prescan`.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from functools import lru_cache

from rewriter.document.prescan import PRESCAN_BYTES, UNSUPPORTED, codec_for_label, meta_charsets

__all__ = ["PRESCAN_BYTES", "UNSUPPORTED", "DocumentEncoding", "codec_for_label", "sniff"]

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# UTF-8 continuation bytes, deleted to count characters quickly.
_CONTINUATION = bytes(range(0x80, 0xC0))


@dataclass(frozen=True, slots=True)
class DocumentEncoding:
    """The encoding of one document and where it came from."""

    codec: str  # a Python codec name
    declared: str | None  # the label as written in the document, if any
    source: str  # "bom", "meta" or "default"
    bom: bytes = b""
    conflict: str | None = None  # a second, different declaration (browsers use the first)

    @property
    def is_utf8(self) -> bool:
        return self.codec == "utf-8"

    @property
    def is_utf16(self) -> bool:
        return self.codec.startswith("utf-16")

    def decode(self, data: bytes) -> str:
        """Text as a browser would see it; undecodable bytes become U+FFFD, as in browsers."""
        if data.isascii():
            return data.decode("ascii")
        return data.decode(self.codec, "replace")

    def count_characters(self, data: bytes) -> int:
        """How many characters the bytes hold (for columns)."""
        if data.isascii() or _is_single_byte(self.codec):
            return len(data)
        if self.is_utf8:
            return len(data.translate(None, _CONTINUATION))
        return len(data.decode(self.codec, "replace"))


def _is_single_byte(codec: str) -> bool:
    return codec.startswith(("cp125", "iso8859", "latin", "koi8", "mac-", "cp8"))


def sniff(head: bytes) -> DocumentEncoding:
    """The document's encoding from its first bytes: a BOM, else a meta declaration, else UTF-8."""
    return _sniff(head[:PRESCAN_BYTES])  # all it reads; a small key for the memo


# The safe mode reads each head again, and the output's twice; a batch has hundreds of distinct
# heads, templates of one family share theirs. Bounded: at most about 1 KB a head, so about 1 MB.
@lru_cache(maxsize=1024)
def _sniff(head: bytes) -> DocumentEncoding:
    for bom, bom_codec in _BOMS:
        if head.startswith(bom):
            return DocumentEncoding(bom_codec, None, "bom", bom)
    declarations = [label for label, _ in meta_charsets(head)]
    for position, label in enumerate(declarations):
        codec = codec_for_label(label)
        if codec is None:  # a label browsers do not know: they read on
            continue
        later = declarations[position + 1 :]
        conflict = next((d for d in later if codec_for_label(d) not in (codec, None)), None)
        return DocumentEncoding(codec, label, "meta", conflict=conflict)
    return DocumentEncoding("utf-8", None, "default")
