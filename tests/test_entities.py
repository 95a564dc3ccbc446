"""Character references in attribute values: decoding as the HTML standard says, and escaping."""

from __future__ import annotations

import html
from html.entities import html5

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewriter.document.entities import decode_attribute_value, escape_attribute_value

DECODE_CASES = [
    # (raw attribute value, what the DOM holds)
    ("http://example.com/", "http://example.com/"),
    ("", ""),
    # named references with a semicolon
    ("a&amp;b", "a&b"),
    ("?a=1&amp;b=2&amp;c=3", "?a=1&b=2&c=3"),
    ("&lt;&gt;&quot;&apos;", "<>\"'"),
    ("&frac12;", "½"),
    ("&NotEqualTilde;", "≂̸"),  # two code points
    ("&CounterClockwiseContourIntegral;", "∳"),  # the longest name
    ("&AMP;", "&"),
    ("&Amp;", "&Amp;"),  # names are case-sensitive: not in the table
    ("&unknown;", "&unknown;"),
    # legacy names without a semicolon: the attribute rule
    ("?a=1&copy=2", "?a=1&copy=2"),  # followed by `=`: not decoded
    ("?a=1&copyx", "?a=1&copyx"),  # followed by an alphanumeric: not decoded
    ("?a=1&copy", "?a=1©"),  # at the end: decoded
    ("&amp x", "& x"),  # followed by a space: decoded
    ("&amp&amp;", "&&"),  # followed by `&`: decoded
    ("&amp;&amp", "&&"),
    ("&lt/", "</"),
    ("&ampx", "&ampx"),  # the text rule would give "&x"
    ("&notit;", "&notit;"),  # the text rule would give "¬it;"
    ("&not;", "¬"),
    ("&not", "¬"),
    ("&not=", "&not="),
    ("&AMP=", "&AMP="),
    ("&amp1", "&amp1"),  # digits count as alphanumerics
    ("&AElig", "Æ"),
    ("&times;2", "×2"),
    ("&timesb;", "⊠"),  # longest match over the table, not the first prefix
    # numeric references
    ("&#65;&#x41;&#X41;", "AAA"),
    ("&#65&#x41", "AA"),  # the semicolon is optional
    ("&#0065;", "A"),
    ("&#x000041;", "A"),
    ("&#65a", "Aa"),  # decimal stops at the first non-digit
    ("&#x41g", "Ag"),
    ("&#0;", "\ufffd"),
    ("&#xD800;", "\ufffd"),  # surrogate
    ("&#xDFFF;", "\ufffd"),
    ("&#x110000;", "\ufffd"),  # beyond Unicode
    ("&#99999999999999999999999999999;", "\ufffd"),
    ("&#x" + "F" * 5000 + ";", "\ufffd"),
    ("&#" + "9" * 5000 + ";", "\ufffd"),  # longer than Python's int() accepts
    ("&#" + "0" * 50 + "65;", "A"),
    ("&#x10FFFF;", "\U0010ffff"),
    ("&#xFFFE;", "\ufffe"),  # noncharacters are kept
    ("&#1;", "\x01"),  # control characters are kept
    ("&#13;", "\r"),
    ("&#x80;", "€"),  # the windows-1252 remapping of 0x80-0x9F
    ("&#128;&#130;&#x9F;", "€‚Ÿ"),
    ("&#x81;&#x8D;&#x8F;&#x90;&#x9D;", "\x81\x8d\x8f\x90\x9d"),  # holes in the table stay
    ("&#x7F;", "\x7f"),
    # not references at all
    ("&", "&"),
    ("&&", "&&"),
    ("& amp;", "& amp;"),
    ("&#;", "&#;"),
    ("&#x;", "&#x;"),
    ("&#xg;", "&#xg;"),
    ("&;", "&;"),
    # the input stream rules that change attribute text
    ("a\r\nb\rc\nd", "a\nb\nc\nd"),
    ("a\x00b", "a\ufffdb"),
]


@pytest.mark.parametrize(("raw", "expected"), DECODE_CASES)
def test_decode_attribute_value(raw: str, expected: str) -> None:
    assert decode_attribute_value(raw) == expected


def test_decode_returns_the_same_object_without_ampersand() -> None:
    value = "https://example.com/?utm_source=x"
    assert decode_attribute_value(value) is value


@pytest.mark.parametrize("raw", ["?a=1&copy=2", "&ampx", "&notit;", "&#1;"])
def test_python_unescape_differs_in_attributes(raw: str) -> None:
    # Why the module exists: html.unescape applies the rules for text.
    assert html.unescape(raw) != decode_attribute_value(raw)


# --- a literal transcription of the standard's tokenizer states, to test against -------------

_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_HEX = frozenset("0123456789abcdefABCDEF")
_C1 = {
    0x80: 0x20AC, 0x82: 0x201A, 0x83: 0x0192, 0x84: 0x201E, 0x85: 0x2026, 0x86: 0x2020,
    0x87: 0x2021, 0x88: 0x02C6, 0x89: 0x2030, 0x8A: 0x0160, 0x8B: 0x2039, 0x8C: 0x0152,
    0x8E: 0x017D, 0x91: 0x2018, 0x92: 0x2019, 0x93: 0x201C, 0x94: 0x201D, 0x95: 0x2022,
    0x96: 0x2013, 0x97: 0x2014, 0x98: 0x02DC, 0x99: 0x2122, 0x9A: 0x0161, 0x9B: 0x203A,
    0x9C: 0x0153, 0x9E: 0x017E, 0x9F: 0x0178,
}  # fmt: skip


def reference_decode(raw: str) -> str:
    """HTML §13.2.5.72-80 (character reference states) for an attribute, one character at a time."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "\ufffd")
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] != "&":
            out.append(text[i])
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt and nxt in _ALNUM:
            # Named: consume the maximum number of characters that is a name in the table.
            match = max(
                (n for n in range(1, 33) if text[i + 1 : i + 1 + n] in html5),
                default=0,
            )
            if not match:
                out.append("&")
                i += 1
                continue
            name = text[i + 1 : i + 1 + match]
            after = text[i + 1 + match : i + 2 + match]
            if not name.endswith(";") and after and (after == "=" or after in _ALNUM):
                out.append("&" + name)
            else:
                out.append(html5[name])
            i += 1 + match
        elif nxt == "#":
            j = i + 2
            is_hex = text[j : j + 1] in ("x", "X")
            if is_hex:
                j += 1
            digits = _HEX if is_hex else frozenset("0123456789")
            start = j
            code = 0
            while j < len(text) and text[j] in digits:
                code = min(code * (16 if is_hex else 10) + int(text[j], 16), 0x110000)
                j += 1
            if j == start:
                out.append(text[i:start])
                i = start
                continue
            if text[j : j + 1] == ";":
                j += 1
            if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                code = 0xFFFD
            out.append(chr(_C1.get(code, code)))
            i = j
        else:
            out.append("&")
            i += 1
    return "".join(out)


@pytest.mark.parametrize(("raw", "expected"), DECODE_CASES)
def test_reference_agrees_with_the_table(raw: str, expected: str) -> None:
    assert reference_decode(raw) == expected


_NAMES = sorted(html5)
_PIECES = st.one_of(
    st.sampled_from(_NAMES).map(lambda name: "&" + name),
    st.sampled_from(_NAMES).map(lambda name: "&" + name.rstrip(";")),
    st.sampled_from(["&", "&#", "&#x", "&#X", ";", "=", "x", "a", "0", "9", "F", " ", "&amp;"]),
    st.sampled_from(["\r", "\n", "\r\n", "\x00", "€", "/", "?", "#"]),
    st.integers(0, 0x11FFFF).map(lambda n: f"&#{n}"),
    st.integers(0, 0x11FFFF).map(lambda n: f"&#x{n:X};"),
    st.text(max_size=3),
)


@given(st.lists(_PIECES, max_size=12).map("".join))
def test_decode_matches_the_standard(raw: str) -> None:
    assert decode_attribute_value(raw) == reference_decode(raw)


# --- escaping ---------------------------------------------------------------------------------

ESCAPE_CASES = [
    # (value, quote, escaped)
    ("http://x/?a=1&b=2", '"', "http://x/?a=1&amp;b=2"),
    ("http://x/?a=1&b=2", "'", "http://x/?a=1&amp;b=2"),
    ("http://x/?a=1&b=2", "", "http://x/?a&#61;1&amp;b&#61;2"),
    ('say "hi"', '"', "say &quot;hi&quot;"),
    ('say "hi"', "'", 'say "hi"'),
    ("it's", "'", "it&#39;s"),
    ("it's", '"', "it's"),
    ("a b", "", "a&#32;b"),
    ("\t\n\f\r \"'<=>`", "", "&#9;&#10;&#12;&#13;&#32;&#34;&#39;&#60;&#61;&#62;&#96;"),
    ("<>=`", '"', "<>=`"),  # harmless inside quotes
    ("a\rb", '"', "a&#13;b"),  # a raw CR would be read back as LF
    ("a\nb", '"', "a\nb"),
    ("&amp;", '"', "&amp;amp;"),
    ("", '"', ""),
    ("", "'", ""),
    ("€ ü", '"', "€ ü"),
]


@pytest.mark.parametrize(("value", "quote", "escaped"), ESCAPE_CASES)
def test_escape_attribute_value(value: str, quote: str, escaped: str) -> None:
    assert escape_attribute_value(value, quote) == escaped
    assert decode_attribute_value(escaped) == value


@pytest.mark.parametrize(
    ("value", "quote", "message"),
    [
        ("", "", "cannot be empty"),
        ("a\x00b", '"', r"U\+0000"),
        ("a\x00b", "", r"U\+0000"),
        ("x", "`", "quote must be"),
        ("x", '""', "quote must be"),
    ],
)
def test_escape_refuses(value: str, quote: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        escape_attribute_value(value, quote)


_VALUES = st.lists(
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"))
    | st.sampled_from([*"&;#=\"'<>` \t\r\n\f", "&amp;", "&copy", "&#38;", "&quot;", "&#13;"]),
    max_size=8,
).map("".join)


@pytest.mark.parametrize("quote", ['"', "'"])
@given(value=_VALUES)
def test_escape_round_trips_quoted(quote: str, value: str) -> None:
    escaped = escape_attribute_value(value, quote)
    assert decode_attribute_value(escaped) == value
    assert quote not in escaped  # the value cannot end early
    assert "\r" not in escaped


@given(value=_VALUES.filter(bool))
def test_escape_round_trips_unquoted(value: str) -> None:
    escaped = escape_attribute_value(value, "")
    assert decode_attribute_value(escaped) == value
    assert escaped
    assert not set(escaped) & set("\t\n\f\r \"'<=>`")  # cannot end the value or the tag


@given(value=_VALUES)
def test_escaped_ampersands_start_references(value: str) -> None:
    # Every `&` written is one we put there: `&amp;` or a numeric reference, never a raw one.
    escaped = escape_attribute_value(value, '"')
    assert escaped.count("&") == escaped.count("&amp;") + escaped.count("&quot;") + escaped.count(
        "&#13;"
    )
