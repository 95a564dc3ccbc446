"""The HTML standard's prescan for a meta charset, step by step, and the Encoding labels."""

from __future__ import annotations

import pytest

from rewriter.document.prescan import PRESCAN_BYTES, UNSUPPORTED, codec_for_label, meta_charsets

CASES = [
    # (what it shows, head, labels the prescan yields in order)
    ("meta charset", b'<meta charset="utf-8">', ["utf-8"]),
    ("unquoted, upper case", b"<META CHARSET=windows-1252>", ["windows-1252"]),
    ("single quotes", b"<meta charset='koi8-r'>", ["koi8-r"]),
    ("a slash after the name", b"<meta/charset=utf-8>", ["utf-8"]),
    ("spaces around =", b"<meta charset = utf-8 >", ["utf-8"]),
    (
        "http-equiv and content",
        b'<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">',
        ["iso-8859-1"],
    ),
    (
        "content before http-equiv",
        b'<meta content="text/html;charset=utf-8" http-equiv=content-type>',
        ["utf-8"],
    ),
    (
        "quoted charset in content",
        b"<meta http-equiv=content-type content='text/html; charset=\"big5\"'>",
        ["big5"],
    ),
    ("content without http-equiv", b'<meta content="text/html; charset=utf-8">', []),
    (
        "charset wins over content",
        b'<meta http-equiv=content-type content="charset=big5" charset=utf-8>',
        ["utf-8"],
    ),
    ("the first of a repeated attribute", b"<meta charset=utf-8 charset=big5>", ["utf-8"]),
    (
        "every meta, in order",
        b"<meta charset=x-unknown><meta charset=utf-8>",
        ["x-unknown", "utf-8"],
    ),
    ("inside a comment", b"<!-- <meta charset=big5> --><meta charset=utf-8>", ["utf-8"]),
    ("an unclosed comment hides the rest", b"<!-- <meta charset=big5>", []),
    (
        "inside another tag's value",
        b'<a title="<meta charset=big5>"><meta charset=utf-8>',
        ["utf-8"],
    ),
    (
        "inside an end tag's value",
        b'</p title="<meta charset=big5>"><meta charset=utf-8>',
        ["utf-8"],
    ),
    ("a doctype is stepped over", b"<!DOCTYPE html><meta charset=utf-8>", ["utf-8"]),
    (
        "a processing instruction",
        b'<?xml version="1.0" encoding="big5"?><meta charset=utf-8>',
        ["utf-8"],
    ),
    ("a lone < is text", b"1 < 2 <meta charset=utf-8>", ["utf-8"]),
    ("<metadata> is another tag", b"<metadata charset=big5><meta charset=utf-8>", ["utf-8"]),
    ("text in <title> is scanned as bytes", b"<title><meta charset=utf-8></title>", ["utf-8"]),
    ("an unclosed quote ends the prescan", b'<meta name="x charset=big5>', []),
    ("an = as the first byte of a name", b"<meta =x charset=utf-8>", ["utf-8"]),
]


@pytest.mark.parametrize(
    ("head", "labels"), [(head, labels) for _, head, labels in CASES], ids=[c[0] for c in CASES]
)
def test_prescan_finds_what_browsers_find(head: bytes, labels: list[str]) -> None:
    assert [label for label, _ in meta_charsets(head)] == labels


def test_the_prescan_reads_only_the_first_1024_bytes() -> None:
    declaration = b"<meta charset=big5>"
    fits = b" " * (PRESCAN_BYTES - len(declaration)) + declaration
    assert [label for label, _ in meta_charsets(fits + b"<meta charset=utf-8>")] == ["big5"]
    assert list(meta_charsets(b" " * PRESCAN_BYTES + declaration)) == []


def test_the_position_is_where_the_meta_tag_ends() -> None:
    head = b"<html><meta charset=utf-8><p>"
    assert list(meta_charsets(head)) == [("utf-8", head.index(b"<p>"))]


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("utf-8", "utf-8"),
        (" UTF8\t", "utf-8"),
        ("iso-8859-1", "cp1252"),  # browsers read Latin-1 as windows-1252
        ("us-ascii", "cp1252"),
        ("shift_jis", "cp932"),
        ("utf-16le", "utf-8"),  # in a meta declaration, UTF-16 means UTF-8
        ("iso-2022-jp", UNSUPPORTED),
        ("replacement", UNSUPPORTED),
        ("utf-7", None),
        ("hex", None),
        ("", None),
    ],
)
def test_labels_follow_the_encoding_standard(label: str, codec: str | None) -> None:
    assert codec_for_label(label) == codec
