"""`--!>` ends a comment as `-->` does (an HTML parse error, but browsers end the comment there).

The scanner recognises it in three places: the skip patterns, the Python code that streams
through a comment cut by a chunk boundary, and the check that leaves alone a link tag in which a
conditional comment ends. Each is covered here, so a scanner that stops recognising `--!>`
anywhere fails a test.
"""

from __future__ import annotations

import pytest
from golden import DEFAULT_RULES

from rewriter.batch.factory import make_rewriter
from rewriter.document.engine import Rewriter
from rewriter.document.scan import LinkTag, Piece, scan, scan_chunks
from rewriter.models import Action
from rewriter.rules.loader import load_rules

# (document, the comment ending in `--!>` in it, the links a browser sees after it)
DOCUMENTS = [
    (
        b'<p>x</p><!-- a <a href="http://in/"> b --!><a href="http://out/">o</a>',
        b'<!-- a <a href="http://in/"> b --!>',
        [(b'<a href="http://out/">', False)],
    ),
    (
        b'<!-- - -- ---!><a href="http://out/">',
        b"<!-- - -- ---!>",
        [(b'<a href="http://out/">', False)],
    ),
    (
        b'<!--[if mso]><v:rect href="http://o/"></v:rect><![endif]--!><a href="http://out/">',
        b'<!--[if mso]><v:rect href="http://o/"></v:rect><![endif]--!>',
        [(b'<v:rect href="http://o/">', True), (b'<a href="http://out/">', False)],
    ),
    (
        b'<!--[if mso]>text only --!><a href="http://out/">',
        b"<!--[if mso]>text only --!>",
        [(b'<a href="http://out/">', False)],
    ),
    (
        b'<!--[if !mso]><!-- x --!><a href="http://b/"><!--<![endif]--!><a href="http://c/">',
        b"<!--[if !mso]><!-- x --!>",
        [(b'<a href="http://b/">', False), (b'<a href="http://c/">', False)],
    ),
]


def _tags(pieces: list[Piece]) -> list[tuple[int, bytes, bool]]:
    return [(p.offset, p.raw, p.in_conditional_comment) for p in pieces if isinstance(p, LinkTag)]


@pytest.mark.parametrize(("document", "comment", "after"), DOCUMENTS)
def test_whole_and_cut_inside_the_comment_give_the_same_links(
    document: bytes, comment: bytes, after: list[tuple[bytes, bool]]
) -> None:
    whole = _tags(list(scan(document)))
    assert [(raw, flag) for _, raw, flag in whole] == after
    start = document.index(comment)
    for cut in range(start, start + len(comment) + 1):
        pieces = list(scan_chunks([document[:cut], document[cut:]]))
        assert b"".join(p.raw if isinstance(p, LinkTag) else p for p in pieces) == document
        assert _tags(pieces) == whole, cut


@pytest.fixture(scope="module")
def engine() -> Rewriter:
    return make_rewriter(load_rules(DEFAULT_RULES), keys=True)


@pytest.mark.parametrize("end", [b"-->", b"--!>"])
@pytest.mark.parametrize(
    "template",
    [
        b'<!--[if mso]><v:roundrect href="https://shop.example.com/?x=END" fill="t"><![endif]-->',
        b"<!--[if mso]><a title='END' href=\"https://shop.example.com/\">Go</a><![endif]-->",
        b'<!--[if mso | IE]><a href=https://shop.example.com/?END>x</a><![endif]-->',
    ],
)  # fmt: skip
def test_a_comment_end_inside_a_conditional_link_leaves_it_alone(
    template: bytes, end: bytes, engine: Rewriter
) -> None:
    # The same tag without the comment end is rewritten: the test's link is a real one.
    plain = template.replace(b"END", b"end")
    assert engine.rewrite(plain, file="t.html").output != plain
    # For a browser the comment ends inside the tag: editing it would move that end.
    document = template.replace(b"END", end)
    result = engine.rewrite(document, file="t.html")
    assert result.output == document
    assert not [link for link in result.links if link.action is Action.REWRITTEN]
