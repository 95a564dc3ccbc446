"""Which character encoding a document uses, found the way browsers find it.

The bytes are never re-encoded: the encoding is needed only to read attribute values (the URL a
browser would follow), link text and columns. Labels map to codecs as the WHATWG Encoding
standard says (so `iso-8859-1` and `us-ascii` mean windows-1252, as in every browser).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

# Browsers look for a declaration in the first 1024 bytes.
PRESCAN_BYTES = 1024

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# `<meta charset=...>` and `<meta http-equiv="Content-Type" content="text/html; charset=...">`.
_META_CHARSET = re.compile(
    rb"<meta\b[^>]*?charset[\t\n\f\r ]*=[\t\n\f\r ]*[\"']?[\t\n\f\r ]*([A-Za-z0-9._:-]+)",
    re.IGNORECASE,
)

# WHATWG labels whose Python codec differs from the label's plain meaning.
_LABEL_TO_CODEC = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "l1": "cp1252",
    "ascii": "cp1252",
    "us-ascii": "cp1252",
    "iso-8859-9": "cp1254",
    "latin5": "cp1254",
    "shift_jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "big5": "big5hkscs",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "x-user-defined": "cp1252",
    # A meta declaration of UTF-16 cannot be right for ASCII-compatible bytes: browsers use UTF-8.
    "utf-16": "utf-8",
    "utf-16le": "utf-8",
    "utf-16be": "utf-8",
}
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


def codec_for_label(label: str) -> str | None:
    """The Python codec for an encoding label, or None when Python does not know it."""
    key = label.strip().lower()
    codec = _LABEL_TO_CODEC.get(key, key)
    try:
        name = codecs.lookup(codec).name
    except LookupError:
        return None
    return "utf-8" if name == "utf-8" else name


def sniff(head: bytes) -> DocumentEncoding:
    """The document's encoding from its first bytes: a BOM, else a meta declaration, else UTF-8."""
    for bom, bom_codec in _BOMS:
        if head.startswith(bom):
            return DocumentEncoding(bom_codec, None, "bom", bom)
    found = _META_CHARSET.finditer(head, 0, PRESCAN_BYTES)
    declarations = [match.group(1).decode("ascii") for match in found]
    for position, label in enumerate(declarations):
        codec = codec_for_label(label)
        if codec is None:
            continue
        later = declarations[position + 1 :]
        conflict = next((d for d in later if codec_for_label(d) not in (codec, None)), None)
        return DocumentEncoding(codec, label, "meta", conflict=conflict)
    return DocumentEncoding("utf-8", None, "default")
