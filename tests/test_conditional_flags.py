"""Links after `<!--[if !mso]><!-- -->` and `<!--<![endif]-->` are not in a conditional comment.

For a browser, a comment ends at its first `-->`: inside `<!--[if ...]>`, the `-->` of a nested
`<!-- -->` ends the conditional comment too. The links after it are seen by every client, so
`links` must not flag them `in_conditional_comment`, nor warn that the input ends inside the
conditional comment. lxml (libxml2's HTML parser, independent of the scanner) serves as the
browser: the links outside conditional comments are the `<a>`/`<area>` elements it finds.
"""

from __future__ import annotations

import html
from pathlib import Path

import lxml.html
import pytest
from conftest import ROOT, SHARED
from golden import DEFAULT_RULES

from rewriter.batch.factory import make_rewriter
from rewriter.document.encoding import sniff
from rewriter.document.engine import Rewriter
from rewriter.document.scan import LinkTag, scan, scan_chunks
from rewriter.rules.loader import load_rules

CORPUS = SHARED / "corpus"

# (document, [(href, in a conditional comment)]) as a browser and Outlook read them.
DOCUMENTS = [
    # The "not Outlook" opener most templates use (sendwithus, mailgun): a browser's comment ends
    # at `<!-- -->`, Outlook skips to `<![endif]`.
    (
        b'<!--[if mso]><v:rect href="http://o/"></v:rect><![endif]-->\n'
        b'<!--[if !mso]><!-- --><a href="http://b/">b</a>\n<!--<![endif]-->\n'
        b'<a href="http://after/">after</a>',
        [("http://o/", True), ("http://b/", False), ("http://after/", False)],
    ),
    # The same with the short opener, as before.
    (
        b'<!--[if !mso]><!--><a href="http://b/">b</a><!--<![endif]--><a href="http://c/">',
        [("http://b/", False), ("http://c/", False)],
    ),
    # An Outlook block closed by `<!--<![endif]-->` (mailgun): its `-->` ends it for a browser.
    (
        b'<!--[if mso]>\n<table><tr><td><v:oval href="http://o/">\n<!--<![endif]-->\n'
        b'<a href="http://b/">b</a>',
        [("http://o/", True), ("http://b/", False)],
    ),
    # `<!-->` and `<!--->` inside a conditional comment end it as well.
    (b'<!--[if mso]><!-->x<a href="http://b/">', [("http://b/", False)]),
    (b'<!--[if mso]> <!---><a href="http://b/">', [("http://b/", False)]),
    (b'<!--[if mso]> <!-- x --!><a href="http://b/">', [("http://b/", False)]),
    # A conditional comment without any nested comment is unchanged.
    (
        b'<!--[if mso]><a href="http://o/"><![endif]--><a href="http://b/">',
        [("http://o/", True), ("http://b/", False)],
    ),
]


def _links(pieces: list[object]) -> list[tuple[str, bool]]:
    found = []
    for piece in pieces:
        if isinstance(piece, LinkTag):
            href = piece.attribute("href")
            assert href is not None
            found.append((piece.value(href).decode(), piece.in_conditional_comment))
    return found


@pytest.mark.parametrize(("document", "expected"), DOCUMENTS)
def test_conditional_flags(document: bytes, expected: list[tuple[str, bool]]) -> None:
    assert _links(list(scan(document))) == expected
    for cut in range(1, len(document)):
        halves = [document[:cut], document[cut:]]
        assert _links(list(scan_chunks(halves))) == expected, cut


@pytest.fixture(scope="module")
def engine() -> Rewriter:
    return make_rewriter(load_rules(DEFAULT_RULES), keys=True)


@pytest.mark.parametrize(("document", "expected"), DOCUMENTS)
def test_reported_flags_and_no_warning(
    document: bytes, expected: list[tuple[str, bool]], engine: Rewriter
) -> None:
    result = engine.rewrite(document, file="t.html")
    assert [(link.original, link.in_conditional_comment) for link in result.links] == expected
    assert result.warnings == ()


def test_an_open_conditional_comment_is_warned_by_line_and_column(engine: Rewriter) -> None:
    # Opened on line 3, many pieces before the end: the warning still names its line:col.
    document = (
        b'<a href="http://a/">a</a>\n<p>\xc3\xa9t\xc3\xa9</p>\n  \xc3\xa9 <!--[if mso]>\n'
        + b'<v:rect href="http://o/"></v:rect>\n' * 50
        + b"<p>no end"
    )
    expected = [
        "t.html:3:5: the input ends inside this conditional comment: nothing after it is a link"
    ]
    assert list(engine.rewrite(document, file="t.html").warnings) == expected
    for size in (1, 7, 64, 1000):
        chunks = [document[i : i + size] for i in range(0, len(document), size)]
        outcome = engine.rewrite_stream(iter(chunks), lambda _: None, file="t.html")
        assert list(outcome.warnings) == expected, size


@pytest.mark.parametrize(
    ("document", "where", "construct"),
    [
        (b'<a href="http://a/">\n\n <!-- open\n<a href="http://b/">', "3:2", "comment"),
        (b'<a href="http://a/">\n<style>\n<a href="http://b/">', "2:1", "<style> element"),
        (b'<a href="http://b/">\n<!--[if mso]><!-- x\n<a href="c">', "2:1", "conditional comment"),
    ],
)  # fmt: skip
def test_open_constructs_are_located(
    document: bytes, where: str, construct: str, engine: Rewriter
) -> None:
    message = f"t.html:{where}: the input ends inside this {construct}: nothing after it is a link"
    for size in (1, 2, 5, len(document)):
        chunks = [document[i : i + size] for i in range(0, len(document), size)]
        outcome = engine.rewrite_stream(iter(chunks), lambda _: None, file="t.html")
        assert list(outcome.warnings) == [message], size


def browser_links(data: bytes) -> list[str]:
    """The href of every `<a>` and `<area>` a browser shows (lxml: comments are comments)."""
    document = lxml.html.document_fromstring(data)
    return [str(e.get("href")) for e in document.iter("a", "area") if e.get("href") is not None]


def scanned_links(data: bytes) -> list[str]:
    """The href of every `<a>` and `<area>` the scanner finds outside conditional comments."""
    codec = sniff(data).codec
    found = []
    for piece in scan(data):
        if isinstance(piece, LinkTag) and piece.name in ("a", "area"):
            href = piece.attribute("href")
            if href is not None and not piece.in_conditional_comment:
                found.append(html.unescape(piece.value(href).decode(codec)))
    return found


def html_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".html", ".htm"))


@pytest.mark.parametrize(
    "path", html_files(ROOT / "samples") + html_files(CORPUS), ids=lambda p: p.name
)
def test_links_outside_conditional_comments_are_those_a_browser_sees(path: Path) -> None:
    data = path.read_bytes()
    assert scanned_links(data) == browser_links(data)
