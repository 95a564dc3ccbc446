"""Character references in attribute values, decoded and escaped as the HTML standard says.

`decode_attribute_value` gives the value a browser's DOM holds for an attribute; Python's
`html.unescape` follows the rules for text, not attributes (`?a=1&copy=2` must stay as is), and
drops control characters the standard keeps, so it is not used here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# A numeric reference (hex, then decimal) or a run of alphanumerics that may name one.
_REFERENCE = re.compile(r"&(?:#[xX]([0-9A-Fa-f]+);?|#([0-9]+);?|([A-Za-z0-9]+)(;?))")

# The standard's remapping of numeric references to 0x80-0x9F (the windows-1252 C1 table).
_C1_REMAP = {
    0x80: "\u20ac", 0x82: "\u201a", 0x83: "\u0192", 0x84: "\u201e", 0x85: "\u2026",
    0x86: "\u2020", 0x87: "\u2021", 0x88: "\u02c6", 0x89: "\u2030", 0x8A: "\u0160",
    0x8B: "\u2039", 0x8C: "\u0152", 0x8E: "\u017d", 0x91: "\u2018", 0x92: "\u2019",
    0x93: "\u201c", 0x94: "\u201d", 0x95: "\u2022", 0x96: "\u2013", 0x97: "\u2014",
    0x98: "\u02dc", 0x99: "\u2122", 0x9A: "\u0161", 0x9B: "\u203a", 0x9C: "\u0153",
    0x9E: "\u017e", 0x9F: "\u0178",
}  # fmt: skip

_MAX_CODE_POINT = 0x10FFFF
_REPLACEMENT = "\ufffd"

# The named-reference table, loaded on the first value that holds an `&` (html.entities
# builds dictionaries of 2,231 names at import: about 2 ms the start-up need not pay).
_named: Mapping[str, str] | None = None


def decode_attribute_value(raw: str) -> str:
    """The value a browser gives this attribute: character references decoded as in an attribute.

    Also applies the input-stream rules that change attribute text: CR and CRLF become LF and
    NUL becomes U+FFFD.
    """
    if "&" not in raw and "\r" not in raw and "\x00" not in raw:
        return raw
    if "\r" in raw:
        raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in raw:
        raw = raw.replace("\x00", _REPLACEMENT)
    if "&amp;" in raw:
        # The common case (query strings): no reference spans an `&amp;`, so the pieces between
        # them decode on their own, most of them through the fast path.
        return "&".join([_decode_references(piece) for piece in raw.split("&amp;")])
    return _decode_references(raw)


def _decode_references(text: str) -> str:
    return _REFERENCE.sub(_decode_reference, text) if "&" in text else text


def _decode_reference(match: re.Match[str]) -> str:
    hex_digits, decimal_digits, name, semicolon = match.groups()
    if hex_digits is not None:
        return _code_point_text(_digits_value(hex_digits, 16))
    if decimal_digits is not None:
        return _code_point_text(_digits_value(decimal_digits, 10))
    return _named_text(name, semicolon, match)


def _digits_value(digits: str, base: int) -> int:
    # Past 7 significant digits any number is out of range; this also keeps int() away from
    # huge inputs (Python refuses decimal strings over 4,300 digits).
    significant = digits.lstrip("0")
    return _MAX_CODE_POINT + 1 if len(significant) > 7 else int(significant or "0", base)


def _code_point_text(code: int) -> str:
    if code == 0 or code > _MAX_CODE_POINT or 0xD800 <= code <= 0xDFFF:
        return _REPLACEMENT
    return _C1_REMAP.get(code) or chr(code)


def _named_text(name: str, semicolon: str, match: re.Match[str]) -> str:
    table = _named_table()
    if semicolon and (name + ";") in table:
        return table[name + ";"]
    # Without a semicolon, only a legacy name followed by neither `=` nor an alphanumeric is
    # decoded in an attribute. The run is maximal, so a legacy name that is a proper prefix of
    # it is always followed by an alphanumeric: only the whole run can qualify.
    next_char = semicolon or match.string[match.end() : match.end() + 1]
    if name in table and next_char != "=":
        return table[name] + semicolon
    return match.group(0)


def _named_table() -> Mapping[str, str]:
    global _named  # noqa: PLW0603 - loaded once, on first use
    if _named is None:
        from html.entities import html5

        _named = html5
    return _named


# Unquoted values end at whitespace or `>`; quotes, `<`, `=` and backtick are parse errors there.
_UNQUOTED_SPECIAL = {ord(c): f"&#{ord(c)};" for c in "\t\n\f\r \"'<=>`"}
_QUOTE_REFERENCES = {'"': "&quot;", "'": "&#39;"}


def escape_attribute_value(value: str, quote: str) -> str:
    """Escape `value` for an attribute quoted with `quote` (`"`, `'`, or `""` for unquoted).

    `decode_attribute_value(escape_attribute_value(v, q)) == v`, and the result cannot end the
    value or the tag early. CR is written `&#13;` (a raw CR would be read as LF). Raises
    ValueError for NUL (HTML has no way to write it in an attribute) and for an empty unquoted
    value (`href=` followed by nothing would take the next attribute's text).
    """
    if "\x00" in value:
        raise ValueError("an attribute value cannot hold U+0000")
    escaped = value.replace("&", "&amp;") if "&" in value else value
    if quote == "":
        if not value:
            raise ValueError("an unquoted attribute value cannot be empty")
        return escaped.translate(_UNQUOTED_SPECIAL)
    reference = _QUOTE_REFERENCES.get(quote)
    if reference is None:
        raise ValueError(f"quote must be '\"', \"'\" or '', not {quote!r}")
    if quote in escaped:
        escaped = escaped.replace(quote, reference)
    return escaped.replace("\r", "&#13;") if "\r" in escaped else escaped
