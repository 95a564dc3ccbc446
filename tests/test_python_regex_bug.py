"""The scanner gives the same links on every Python that `requires-python` admits.

CPython 3.11.0 to 3.11.4 match a possessive repeat of a group that can backtrack inside it
wrongly (gh-106052, fixed in 3.11.5); Debian 12's python3 is 3.11.2. There the scanner missed
every link after an Outlook conditional comment, silently. `make test` runs this suite under
that Python too when the machine has it, so these tests guard both.
"""

from __future__ import annotations

import re

import pytest
from test_conditional_flags import browser_links, html_files, scanned_links

from rewriter.document import scan as scan_module
from rewriter.document.scan import DEFAULT_LINK_TAGS, LinkTag, scan, scan_chunks


def test_possessive_groups_are_used_only_where_they_work() -> None:
    # The bug's own example (gh-106052): `(?:ab?c)*+` must not match "a", as `(?:ab?c)*` does not.
    broken = re.fullmatch(rb"(?:ab?c)*+", b"a") is not None
    assert scan_module.POSSESSIVE_GROUPS is not broken
    assert re.fullmatch(scan_module._possessive(rb"ab?c"), b"a") is None
    assert re.fullmatch(scan_module._possessive(rb"ab?c", b"?") + b"a", b"a") is not None
    assert re.fullmatch(scan_module._possessive(rb"ab?c", b"+"), b"acabc") is not None


# Each pattern shape of the scanner that a possessive group repeat builds, with input that the
# broken releases get wrong or that exercises its backtracking alternatives.
def test_tag_pattern() -> None:
    tag = scan_module._TAG
    match = tag.fullmatch(b'<a class="c" title=\'>\' data-x=y / href="x">')
    assert match is not None
    assert match.group(1) == b"a"
    assert tag.match(b'<a title="x>y') is None  # an open quote: the tag is not complete
    unquoted = tag.match(b"<a title=x>y")
    assert unquoted is not None
    assert unquoted.end() == 11
    assert tag.match(b'<a =x href="y">') is not None


def test_attribute_pattern() -> None:
    raw = b"<a href = \"x\" title='t' data=d checked>"
    found = [
        (m.group(1), m.group(2) or m.group(3) or m.group(4))
        for m in scan_module._ATTRIBUTE.finditer(raw, 2, len(raw) - 1)
    ]
    assert found == [(b"href", b"x"), (b"title", b"t"), (b"data", b"d"), (b"checked", None)]


@pytest.mark.parametrize(
    ("document", "event", "at"),
    [
        (b'<p class="x">t</p><a href="y">', "link", b"<a "),
        (b'<!-- a - b -- c - -><!-- --><a href="y">', "link", b"<a "),
        (b'<style type="t">a < b</style><a href="y">', "link", b"<a "),
        (b'<!--[if mso]><p class="x">t</p><![endif]--><a href="y">', "link", b"<a "),
        (b'<!--[if mso]><style>p{}</style><![endif]--><a href="y">', "link", b"<a "),
        (b'<!--[if mso]>a-b <br/><![endif]--><a href="y">', "link", b"<a "),
        (b'<!--[if mso]><v:rect href="y">', "comment", b"<!--"),
    ],
)
def test_skip_pattern_stops_at_the_first_event(document: bytes, event: str, at: bytes) -> None:
    match = scan_module._patterns(DEFAULT_LINK_TAGS).data.match(document)
    assert match is not None
    assert match.lastgroup == event
    assert match.start(event) - (0 if event == "comment" else 1) == document.index(at)


@pytest.mark.parametrize(
    ("document", "event", "at"),
    [
        (b'<p class="x">a-b</p><![endif]-->', "endcond", b"<!["),
        (b'<style>p{}</style>\n<br/><v:rect href="y">', "link", b"<v:"),
        (b"a - b -- c --!>", "endcond", b"--!>"),
    ],
)
def test_conditional_skip_pattern_stops_at_the_first_event(
    document: bytes, event: str, at: bytes
) -> None:
    match = scan_module._patterns(DEFAULT_LINK_TAGS).conditional.match(document)
    assert match is not None
    assert match.lastgroup == event
    assert match.start(event) - (1 if event == "link" else 0) == document.index(at)


# Documents the broken releases scanned wrongly (they found no link in any of them).
DOCUMENTS = [
    (
        b'<!--[if mso]>\n<style>td { x }</style>\n<![endif]-->\n<a href="http://a/">a</a>',
        [b'<a href="http://a/">'],
    ),
    (
        b'<!--[if mso]><v:rect href="http://v/"></v:rect><![endif]-->',
        [b'<v:rect href="http://v/">'],
    ),
    (b'<!--[if mso]><a href="http://v/">x</a><![endif]-->', [b'<a href="http://v/">']),
    (
        b'<!--[if mso]><style>p{}</style><![endif]--><a href="http://a/" class="b">',
        [b'<a href="http://a/" class="b">'],
    ),
]


@pytest.mark.parametrize(("document", "expected"), DOCUMENTS)
def test_documents_that_exposed_the_bug(document: bytes, expected: list[bytes]) -> None:
    assert [p.raw for p in scan(document) if isinstance(p, LinkTag)] == expected
    one_byte = [document[i : i + 1] for i in range(len(document))]
    assert [p.raw for p in scan_chunks(one_byte) if isinstance(p, LinkTag)] == expected


def test_samples_give_every_link_a_browser_sees() -> None:
    # samples/newsletter.html lost all its links on 3.11.2 (`make demo`: 11 links, not 21).
    from conftest import ROOT

    samples = html_files(ROOT / "samples")
    assert samples
    for path in samples:
        data = path.read_bytes()
        links = browser_links(data)
        assert links, path
        assert scanned_links(data) == links, path
