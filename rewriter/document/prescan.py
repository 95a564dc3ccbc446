"""The HTML standard's prescan for a `<meta>` charset, and the Encoding standard's labels.

Browsers read the first 1024 bytes tag by tag (comments skipped, other tags' attributes skipped
whole) and take the first `<meta charset>` or `<meta http-equiv=content-type content=...>` whose
label they know. A regular expression would also see a `<meta` inside an attribute value, and
accept labels no browser knows; this follows the standard's steps instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

PRESCAN_BYTES = 1024
_SPACE = b"\t\n\f\r "

# Encoding standard labels (lower case) -> the Python codec that decodes the same way.
# Encodings not ASCII-compatible in the sense the scanner needs (ISO-2022-JP, the "replacement"
# ones) map to None: refused rather than misread.
_LABELS: dict[str, str | None] = {}
_ENCODINGS: dict[str | None, tuple[str, ...]] = {
    "utf-8": ("unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "utf-8", "utf8",
              "x-unicode20utf8"),
    "cp866": ("866", "cp866", "csibm866", "ibm866"),
    "iso8859-2": ("csisolatin2", "iso-8859-2", "iso-ir-101", "iso8859-2", "iso88592",
                  "iso_8859-2", "iso_8859-2:1987", "l2", "latin2"),
    "iso8859-3": ("csisolatin3", "iso-8859-3", "iso-ir-109", "iso8859-3", "iso88593",
                  "iso_8859-3", "iso_8859-3:1988", "l3", "latin3"),
    "iso8859-4": ("csisolatin4", "iso-8859-4", "iso-ir-110", "iso8859-4", "iso88594",
                  "iso_8859-4", "iso_8859-4:1988", "l4", "latin4"),
    "iso8859-5": ("csisolatincyrillic", "cyrillic", "iso-8859-5", "iso-ir-144", "iso8859-5",
                  "iso88595", "iso_8859-5", "iso_8859-5:1988"),
    "iso8859-6": ("arabic", "asmo-708", "csiso88596e", "csiso88596i", "csisolatinarabic",
                  "ecma-114", "iso-8859-6", "iso-8859-6-e", "iso-8859-6-i", "iso-ir-127",
                  "iso8859-6", "iso88596", "iso_8859-6", "iso_8859-6:1987"),
    "iso8859-7": ("csisolatingreek", "ecma-118", "elot_928", "greek", "greek8", "iso-8859-7",
                  "iso-ir-126", "iso8859-7", "iso88597", "iso_8859-7", "iso_8859-7:1987",
                  "sun_eu_greek"),
    "iso8859-8": ("csiso88598e", "csisolatinhebrew", "hebrew", "iso-8859-8", "iso-8859-8-e",
                  "iso-ir-138", "iso8859-8", "iso88598", "iso_8859-8", "iso_8859-8:1988",
                  "visual", "csiso88598i", "iso-8859-8-i", "logical"),
    "iso8859-10": ("csisolatin6", "iso-8859-10", "iso-ir-157", "iso8859-10", "iso885910", "l6",
                   "latin6"),
    "iso8859-13": ("iso-8859-13", "iso8859-13", "iso885913"),
    "iso8859-14": ("iso-8859-14", "iso8859-14", "iso885914"),
    "iso8859-15": ("csisolatin9", "iso-8859-15", "iso8859-15", "iso885915", "iso_8859-15", "l9"),
    "iso8859-16": ("iso-8859-16",),
    "koi8-r": ("cskoi8r", "koi", "koi8", "koi8-r", "koi8_r"),
    "koi8-u": ("koi8-ru", "koi8-u"),
    "mac-roman": ("csmacintosh", "mac", "macintosh", "x-mac-roman"),
    "cp874": ("dos-874", "iso-8859-11", "iso8859-11", "iso885911", "tis-620", "windows-874"),
    "cp1250": ("cp1250", "windows-1250", "x-cp1250"),
    "cp1251": ("cp1251", "windows-1251", "x-cp1251"),
    "cp1252": ("ansi_x3.4-1968", "ascii", "cp1252", "cp819", "csisolatin1", "ibm819",
               "iso-8859-1", "iso-ir-100", "iso8859-1", "iso88591", "iso_8859-1",
               "iso_8859-1:1987", "l1", "latin1", "us-ascii", "windows-1252", "x-cp1252",
               "x-user-defined"),
    "cp1253": ("cp1253", "windows-1253", "x-cp1253"),
    "cp1254": ("cp1254", "csisolatin5", "iso-8859-9", "iso-ir-148", "iso8859-9", "iso88599",
               "iso_8859-9", "iso_8859-9:1989", "l5", "latin5", "windows-1254", "x-cp1254"),
    "cp1255": ("cp1255", "windows-1255", "x-cp1255"),
    "cp1256": ("cp1256", "windows-1256", "x-cp1256"),
    "cp1257": ("cp1257", "windows-1257", "x-cp1257"),
    "cp1258": ("cp1258", "windows-1258", "x-cp1258"),
    "mac-cyrillic": ("x-mac-cyrillic", "x-mac-ukrainian"),
    "gb18030": ("chinese", "csgb2312", "csiso58gb231280", "gb2312", "gb_2312", "gb_2312-80",
                "gbk", "iso-ir-58", "x-gbk", "gb18030"),
    "big5hkscs": ("big5", "big5-hkscs", "cn-big5", "csbig5", "x-x-big5"),
    "euc_jp": ("cseucpkdfmtjapanese", "euc-jp", "x-euc-jp"),
    "cp932": ("csshiftjis", "ms932", "ms_kanji", "shift-jis", "shift_jis", "sjis",
              "windows-31j", "x-sjis"),
    "cp949": ("cseuckr", "csksc56011987", "euc-kr", "iso-ir-149", "korean", "ks_c_5601-1987",
              "ks_c_5601-1989", "ksc5601", "ksc_5601", "windows-949"),
    # In a meta declaration, UTF-16 means UTF-8 (the bytes being read are ASCII-compatible).
    "utf-16": ("unicodefffe", "utf-16be", "csunicode", "iso-10646-ucs-2", "ucs-2", "unicode",
               "unicodefeff", "utf-16", "utf-16le"),
    None: ("csiso2022jp", "iso-2022-jp", "csiso2022kr", "hz-gb-2312", "iso-2022-cn",
           "iso-2022-cn-ext", "iso-2022-kr", "replacement"),
}  # fmt: skip
for _codec, _labels in _ENCODINGS.items():
    for _label in _labels:
        _LABELS[_label] = _codec

UNSUPPORTED = "unsupported"


def codec_for_label(label: str) -> str | None:
    """The Python codec for a web encoding label; None for a label browsers do not know;
    UNSUPPORTED for an encoding this tool cannot read byte by byte (ISO-2022-JP and the like)."""
    key = label.strip("\t\n\f\r ").lower()
    if key not in _LABELS:
        return None
    codec = _LABELS[key]
    if codec is None:
        return UNSUPPORTED
    return "utf-8" if codec == "utf-16" else codec


def meta_charsets(head: bytes) -> Iterator[tuple[str, int]]:
    """Every charset label a `<meta>` declares in the first 1024 bytes, with where its tag ends,
    in order, as the prescan finds them (the caller takes the first it knows)."""
    data = head[:PRESCAN_BYTES]
    position = 0
    while (found := _MARKUP.search(data, position)) is not None:
        comment, meta, tag, _other = found.groups()
        start = found.start()
        if comment is not None:
            end = data.find(b"-->", start + 2)
            position = len(data) if end < 0 else end + 3
        elif meta is not None:
            label, position = _meta(data, start + 5)
            if label is not None:
                yield label, position
        elif tag is not None:
            position = _skip_tag(data, start)
        else:
            end = data.find(b">", start + 2)
            position = len(data) if end < 0 else end + 1


def _skip_tag(data: bytes, position: int) -> int:
    name = _TAG_NAME.match(data, position)
    assert name is not None  # the pattern may match nothing
    position = name.end()
    while True:
        attribute, position = _attribute(data, position)
        if attribute is None:
            return position


def _meta(data: bytes, position: int) -> tuple[str | None, int]:
    """The charset of one `<meta>` (after its name): `charset`, or http-equiv + content."""
    seen: set[bytes] = set()
    charset: str | None = None
    pragma = False
    from_content: str | None = None
    while True:
        attribute, position = _attribute(data, position)
        if attribute is None:
            break
        name, value = attribute
        if name in seen:
            continue
        seen.add(name)
        if name == b"http-equiv" and value.lower() == b"content-type":
            pragma = True
        elif name == b"content" and from_content is None:
            from_content = _charset_in_content(value)
        elif name == b"charset" and charset is None:
            charset = value.decode("latin-1")
    if charset is not None:
        return charset, position
    if pragma and from_content is not None:
        return from_content, position
    return None, position


# The standard's "get an attribute", one match: spaces and slashes, then `>` (no attribute) or
# a name (its first byte may be `=`), then optionally `=` and a quoted or unquoted value.
_ATTRIBUTE = re.compile(
    rb"[\t\n\f\r /]*+"
    rb"(?:(>)|(.[^\t\n\f\r />=]*+)[\t\n\f\r ]*+"
    rb"(?:=[\t\n\f\r ]*+(?:\"([^\"]*+)(\")?|'([^']*+)(')?|([^\t\n\f\r >]*+)))?)?",
    re.DOTALL,
)
# What the prescan looks at, in the standard's order: a comment, a `<meta` followed by a space or
# slash, another start or end tag, and `<!`, `</`, `<?` (skipped to the next `>`). Every other
# byte, a lone `<` included, is stepped over.
_MARKUP = re.compile(rb"<(?:(!--)|([mM][eE][tT][aA])(?=[\t\n\f\r /])|(/?[A-Za-z])|([!/?]))")
_TAG_NAME = re.compile(rb"[^\t\n\f\r >]*+")


def _attribute(data: bytes, position: int) -> tuple[tuple[bytes, bytes] | None, int]:
    """The standard's "get an attribute": ((name, value) or None, the position after it)."""
    found = _ATTRIBUTE.match(data, position)
    assert found is not None  # every part of the pattern may be empty
    ended, name, double, double_end, single, single_end, bare = found.groups()
    if ended is not None:
        return None, found.end()
    if name is None:  # the end of the bytes
        return None, found.end() + 1
    if double is not None:
        value, closed = double, double_end is not None
    elif single is not None:
        value, closed = single, single_end is not None
    else:
        value, closed = bare or b"", True
    if not closed:
        return None, len(data)
    return (name.lower(), value), found.end()


def _charset_in_content(content: bytes) -> str | None:
    """The standard's "extract a character encoding from a meta element" (its content)."""
    lower = content.lower()
    position = 0
    while True:
        found = lower.find(b"charset", position)
        if found < 0:
            return None
        position = found + 7
        while position < len(content) and content[position] in _SPACE:
            position += 1
        if content[position : position + 1] != b"=":
            continue
        position += 1
        while position < len(content) and content[position] in _SPACE:
            position += 1
        first = content[position : position + 1]
        if first in (b'"', b"'"):
            end = content.find(first, position + 1)
            return None if end < 0 else content[position + 1 : end].decode("latin-1")
        end = position
        while end < len(content) and content[end] not in _SPACE and content[end] != ord(";"):
            end += 1
        return content[position:end].decode("latin-1") or None
