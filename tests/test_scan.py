"""The scanner finds exactly the link sites a browser (or Outlook) would see, and loses no byte."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewriter.document import scan as scan_module
from rewriter.document.scan import LinkTag, OversizedTag, Piece, Scanner, scan, scan_chunks

DEFAULT = ("a", "area", "v:*")


def links(html: bytes, tags: tuple[str, ...] = DEFAULT) -> list[tuple[str, bytes, bool]]:
    found = []
    for piece in scan(html, tags):
        if isinstance(piece, LinkTag):
            href = piece.attribute("href")
            value = piece.value(href) if href is not None else b"<none>"
            found.append((piece.name, value, piece.in_conditional_comment))
    return found


def joined(pieces: list[Piece]) -> bytes:
    return b"".join(
        p.raw if isinstance(p, LinkTag) else p for p in pieces if isinstance(p, (bytes, LinkTag))
    )


CASES = [
    # (html, expected [(tag, href, in conditional comment)])
    (b'<a href="x">', [("a", b"x", False)]),
    (b"<a href='x'>", [("a", b"x", False)]),
    (b"<a href=x>", [("a", b"x", False)]),
    (b"<A HREF=X>", [("a", b"X", False)]),
    (b'<a\n  class="c"\r\n  href="x"\n>', [("a", b"x", False)]),
    (b'<a title="a>b" href="x">', [("a", b"x", False)]),
    (b'<a title=\'it"s\' href="x">', [("a", b"x", False)]),
    (b'<a href="first" href="second">', [("a", b"first", False)]),
    (b'<a href = "spaced">', [("a", b"spaced", False)]),
    (b"<a href=x/>", [("a", b"x/", False)]),
    (b'<a href="x"/>', [("a", b"x", False)]),
    (b'<area shape=rect href="m">', [("area", b"m", False)]),
    (b'<v:roundrect href="vml">', [("v:roundrect", b"vml", False)]),
    (b'<V:OVAL HREF="vml">', [("v:oval", b"vml", False)]),
    (b'<abbr href="no"><address href="no"><b href="no">', []),
    (b'<link href="css"><img src="i"><base href="b">', []),
    (b'<div style="background:url(http://x)">', []),
    (b'<!-- <a href="c"> -->', []),
    (b'<!----><a href="after-empty-comment">', [("a", b"after-empty-comment", False)]),
    (b'<!--><a href="after-abrupt">', [("a", b"after-abrupt", False)]),
    (b'<!---><a href="after-abrupt2">', [("a", b"after-abrupt2", False)]),
    (b'<!-- x --!><a href="after-bang">', [("a", b"after-bang", False)]),
    (b'<script><a href="s"></script><a href="y">', [("a", b"y", False)]),
    (b'<script>"</script >"<a href="y">', [("a", b"y", False)]),
    (b'<style>a{}<a href="s"></STYLE><a href="y">', [("a", b"y", False)]),
    (b'<textarea><a href="t"></textarea>', []),
    (b'<title><a href="t"></title>', []),
    (b'<scripts><a href="y">', [("a", b"y", False)]),
    (b"<div title=\"<a href='q'>\">", []),
    (b'</div title="<a href=q>"><a href="y">', [("a", b"y", False)]),
    (b'<!DOCTYPE html><?xml version="1.0"?><a href="y">', [("a", b"y", False)]),
    (b'</ a href="bogus"><a href="y">', [("a", b"y", False)]),
    (b'a < b <a href="y">', [("a", b"y", False)]),
    (b'<!--[if mso]><v:rect href="m"></v:rect><![endif]-->', [("v:rect", b"m", True)]),
    (
        b'<!--[if mso | IE]><a href="m"><![endif]--><a href="n">',
        [("a", b"m", True), ("a", b"n", False)],
    ),
    (b'<!--[if !mso]><!--><a href="r"><!--<![endif]-->', [("a", b"r", False)]),
    (
        b'<!--[if mso]><style>a{}</style><a href="m"><![endif]-->',
        [("a", b"m", True)],
    ),
    # For a browser the inner comment's `-->` ends the conditional one: the link is seen by all.
    (b'<!--[if mso]><!-- inner --><a href="m"><![endif]-->', [("a", b"m", False)]),
    (b'<!--[if gte mso 9]><xml><o:x/></xml><![endif]--><a href="y">', [("a", b"y", False)]),
    (b'<a name="anchor">', [("a", b"<none>", False)]),
    (b"<a href>", [("a", b"", False)]),
    (b'<a href="x', []),  # cut off by the end of the input: no tag at all
    (b'<plaintext><a href="p">', []),
]


@pytest.mark.parametrize(("html", "expected"), CASES)
def test_finds_exactly_the_link_sites(html: bytes, expected: list[tuple[str, bytes, bool]]) -> None:
    assert links(html) == expected
    assert joined(list(scan(html))) == html


def test_configured_link_tags() -> None:
    html = b'<button href="inky"><a href="a">'
    assert links(html) == [("a", b"a", False)]
    assert links(html, ("a", "button")) == [("button", b"inky", False), ("a", b"a", False)]


def test_attribute_offsets_and_quotes() -> None:
    (tag,) = [p for p in scan(b"<a  x=1 HREF = 'v' y=\"w\" z>") if isinstance(p, LinkTag)]
    names = [
        (a.name, a.quote, a.has_value, tag.raw[a.value_start : a.value_end]) for a in tag.attributes
    ]
    assert names == [
        ("x", b"", True, b"1"),
        ("href", b"'", True, b"v"),
        ("y", b'"', True, b"w"),
        ("z", b"", False, b""),
    ]
    href = tag.attribute("href")
    assert href is not None
    assert tag.raw[href.start : href.end] == b"HREF = 'v'"


def test_link_text_lookahead_is_fixed_size() -> None:
    html = b'<a href="x">' + b"t" * (scan_module.LOOKAHEAD * 2)
    (tag,) = [p for p in scan(html) if isinstance(p, LinkTag)]
    assert len(tag.following) == scan_module.LOOKAHEAD


# Chunk independence: whatever the chunk boundaries, the same pieces come out.

FRAGMENTS = [
    b'<a href="http://x/1">t</a>',
    b"<A\nHREF='y'>",
    b"<!-- c <a href=z> -->",
    b'<!--[if mso]><v:roundrect href="m"><![endif]-->',
    b"<!--[if !mso]><!--><a href=r><!--<![endif]-->",
    b"<style>.a{}</style>",
    b"<script>'<a href=s>'</script>",
    b'<td title="a>b">',
    b"text < more -- text -",
    b"<!DOCTYPE html>",
    b"</div>",
    b"\r\n",
    b"\xff\xfe",
    b"<!-->",
    b"<abbr>",
    b"<area href=q>",
    b"<textarea><a href=t></textarea>",
]


@st.composite
def documents_and_cuts(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    parts = draw(st.lists(st.sampled_from(FRAGMENTS) | st.binary(max_size=8), max_size=30))
    document = b"".join(parts)
    cuts = sorted(draw(st.lists(st.integers(0, len(document)), max_size=12)))
    return document, cuts


def _link_tuples(pieces: list[Piece]) -> list[tuple[int, bytes, bool]]:
    return [(p.offset, p.raw, p.in_conditional_comment) for p in pieces if isinstance(p, LinkTag)]


@settings(max_examples=400, deadline=None)
@given(documents_and_cuts())
def test_chunking_never_changes_the_result(case: tuple[bytes, list[int]]) -> None:
    document, cuts = case
    bounds = [0, *cuts, len(document)]
    chunks = [document[a:b] for a, b in itertools.pairwise(bounds)]
    whole = list(scan(document))
    chunked = list(scan_chunks(chunks))
    assert joined(chunked) == document
    assert _link_tuples(chunked) == _link_tuples(whole)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_come_back_unchanged(data: bytes) -> None:
    assert joined(list(scan(data))) == data


def test_one_byte_chunks() -> None:
    document = b"".join(FRAGMENTS) * 3
    chunked = list(scan_chunks(document[i : i + 1] for i in range(len(document))))
    assert joined(chunked) == document
    assert _link_tuples(chunked) == _link_tuples(list(scan(document)))


# Oversized constructs stream through without being buffered whole.


def test_oversized_link_tag_is_reported_and_passed_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan_module, "MAX_TAG_BYTES", 1000)
    document = b'<p>x</p><a title="' + b"t" * 5000 + b'" href="http://x/">y</a><a href="z">'
    for chunks in ([document], [document[i : i + 100] for i in range(0, len(document), 100)]):
        pieces = list(scan_chunks(chunks))
        assert [(p.offset, p.name) for p in pieces if isinstance(p, OversizedTag)] == [(8, "a")]
        assert [p.value(p.attributes[0]) for p in pieces if isinstance(p, LinkTag)] == [b"z"]
        assert joined(pieces) == document


def test_oversized_other_tag_streams_with_bounded_buffer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan_module, "MAX_TAG_BYTES", 1000)
    scanner = Scanner()
    out = []
    out += list(scanner.feed(b'<div title="'))
    largest = 0
    for _ in range(200):
        out += list(scanner.feed(b"x" * 100 + b">"))  # `>` inside the quoted value: not an end
        largest = max(largest, len(scanner._buffer))
    out += list(scanner.feed(b'"><a href="after">'))
    out += list(scanner.close())
    assert largest < 1000 + 200
    assert [p.value(p.attributes[0]) for p in out if isinstance(p, LinkTag)] == [b"after"]


def test_long_comment_streams_with_bounded_buffer() -> None:
    scanner = Scanner()
    pieces = list(scanner.feed(b"<!-- "))
    for _ in range(1000):
        pieces += list(scanner.feed(b'<a href="no"> ' * 10))
        assert len(scanner._buffer) < 64
    pieces += list(scanner.feed(b'--><a href="yes">'))
    pieces += list(scanner.close())
    assert [p.value(p.attributes[0]) for p in pieces if isinstance(p, LinkTag)] == [b"yes"]
