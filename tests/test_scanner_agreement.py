"""The compiled scanner gives exactly the pieces of the pure-Python one (the reference): over
every golden case, the shared corpus, the hypothesis documents and the fuzz corpus, whole and cut
into chunks, with several sets of link tags. Skipped as a whole where the extension is not built
(the rest of the suite then runs on the pure-Python scanner)."""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Sequence
from pathlib import Path

import pytest
from conftest import SHARED
from golden import CASES, case_names, input_path
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import chunkings, email_documents

from rewriter.document import scan as scan_module
from rewriter.document.scan import LinkTag, OversizedTag, Scanner

pytestmark = pytest.mark.skipif(
    scan_module._compiled_skip is None, reason="the compiled scanner is not built"
)

TESTS = Path(__file__).resolve().parent
CORPUS = SHARED / "corpus"
FUZZ_CORPUS = TESTS / "fuzz_corpus"
TAG_SETS: tuple[tuple[str, ...], ...] = (
    ("a", "area", "v:*"),
    ("a", "area", "v:*", "button"),
    ("a",),
    ("*",),  # every tag, raw-text ones included: the events' order decides
    ("?", "t?tle", "script", "v:*", "o:*"),
    (),
)

Seen = tuple[object, ...]


def pieces(chunks: Sequence[bytes], tags: Sequence[str], *, compiled: bool) -> list[Seen]:
    """Every piece with everything a caller can read from it, then the end state."""
    scanner = Scanner(tags, compiled=compiled)
    out: list[Seen] = []
    for index, chunk in enumerate(chunks):
        for piece in scanner.feed(chunk, last=index == len(chunks) - 1):
            if isinstance(piece, LinkTag):
                out.append(
                    (
                        "link",
                        piece.offset,
                        piece.raw,
                        piece.name,
                        piece.attributes_at,
                        piece.in_conditional_comment,
                        piece.following,
                    )
                )
            elif isinstance(piece, OversizedTag):
                out.append(("oversized", piece.offset, piece.name))
            else:
                out.append(("bytes", piece))
    out.append(("end", scanner.unfinished, scanner.open_constructs()))
    return out


def assert_agree(data: bytes, tags: Sequence[str] = TAG_SETS[0], cuts: Sequence[int] = ()) -> None:
    bounds = [0, *sorted(cuts), len(data)]
    chunks = [data[start:end] for start, end in itertools.pairwise(bounds)]
    expected = pieces(chunks, tags, compiled=False)
    assert pieces(chunks, tags, compiled=True) == expected
    joined = b"".join(p[2] if p[0] == "link" else p[1] for p in expected if p[0] != "end")  # type: ignore[misc]
    assert joined == data or any(p[0] == "oversized" for p in expected)


def cuts_for(data: bytes, count: int = 6) -> list[int]:
    """Cuts drawn from the bytes (the same each run)."""
    seed = zlib.crc32(data)
    return sorted((seed * (index + 1) * 2654435761) % (len(data) + 1) for index in range(count))


def test_the_compiled_skip_is_in_use_by_default() -> None:
    """Guards the selection: with the extension built and no REWRITER_SCANNER=python, the
    scanner really runs the compiled skip (otherwise this suite compares Python with itself)."""
    scanner = Scanner()
    assert (scanner._compiled is not None) == (scan_module.SCANNER == "c")
    assert Scanner(compiled=True)._compiled is not None
    assert Scanner(compiled=False)._compiled is None


def test_globs_the_compiled_skip_cannot_take_keep_the_pattern() -> None:
    assert Scanner(("a*b",), compiled=True)._compiled is None
    assert Scanner(("a b",), compiled=True)._compiled is None
    assert_agree(b'<a href="x"><ab href=y><a*b href=z>', ("a*b",))
    many = (*(f"x{index}" for index in range(scan_module.MAX_COMPILED_GLOBS)), "a")
    assert Scanner(many, compiled=True)._compiled is None
    assert Scanner(many[1:], compiled=True)._compiled is not None
    assert_agree(b'<x63 href="x"><a href=y>', many)
    assert_agree(b'<x63 href="x"><a href=y>', many[1:])


HAND_MADE = [
    b"",
    b"<",
    b"<a",
    b"<a ",
    b'<a href="x',
    b'<a href="x">',
    b"<!--",
    b"<!---",
    b"<!-- -- --!> <a href=1>",
    b"<!--[if mso]>",
    b"<!--[if mso]><a href=1><![endif]-->",
    b"<!--[if mso]><style>a{}</style><a href=1><![endif]   -->",
    b"<!--[if mso]><b>-- -> --!> <![endif] x -->",
    b"<!--[if !mso]><!--><a href=r><!--<![endif]-->",
    b"<!--[if mso]><!-- inner --><a href=m><![endif]-->",
    b"<!--[if mso]><title>x</title><a href=1><![endif]-->",
    b"<!--[if mso]><![endif]x><a href=1>--><a href=2>",
    b"<!--[if]><a href=1>",
    b"<![endif]--><a href=1>",
    b"<style>a</style ><a href=1>",
    b"<STYLE x='>'>a</StYlE/><a href=1>",
    b"<script>a</scripts></script\t><a href=1>",
    b"<title>unclosed <a href=1>",
    b"<textarea><a href=1></textarea><a href=2>",
    b"<plaintext><a href=1>",
    b"<xmp><a href=1></xmp>",
    b"</a href='>'><a href=1>",
    b"</ x><a href=1></><a href=2></",
    b"<? x ?><! y><a href=1>",
    b"<a b=\"'>\" c='\">' href=1>",
    b"<a =x href=1 / =y>",
    b"<a href = 'x' title= y>",
    b'<a title="unclosed href=1><a href=2>',
    b"<v:rect href=1><V:OVAL href=2><v: href=3><v href=4>",
    b"<button href=1><area href=2><abbr href=3>",
    b"a < b <a\x00 href=1><a\xff href=2>\x80<a\x0bhref=3>",
    b"<a\x0chref=1><a\rhref=2>",
]


@pytest.mark.parametrize("data", HAND_MADE)
@pytest.mark.parametrize("tags", TAG_SETS, ids=lambda tags: ",".join(tags) or "none")
def test_hand_made_edges(data: bytes, tags: tuple[str, ...]) -> None:
    assert_agree(data, tags)
    for cut in range(len(data) + 1):
        assert_agree(data, tags, [cut])


@pytest.mark.parametrize("case", case_names())
def test_golden_cases(case: str) -> None:
    data = input_path(CASES / case).read_bytes()
    for tags in TAG_SETS:
        assert_agree(data, tags)
        assert_agree(data, tags, cuts_for(data))


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(path for path in CORPUS.rglob("*") if path.is_file())


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")
def test_the_shared_corpus() -> None:
    files = corpus_files()
    assert len(files) > 400
    for path in files:
        data = path.read_bytes()
        assert_agree(data, TAG_SETS[1])
        assert_agree(data, TAG_SETS[1], cuts_for(data))


def fuzz_inputs() -> list[Path]:
    return sorted(FUZZ_CORPUS.glob("*/*.bin"))


@pytest.mark.parametrize("path", fuzz_inputs(), ids=lambda path: f"{path.parent.name}/{path.name}")
def test_the_fuzz_corpus(path: Path) -> None:
    data = path.read_bytes()
    for tags in TAG_SETS:
        assert_agree(data, tags)
        assert_agree(data, tags, cuts_for(data, 12))


@settings(max_examples=300, deadline=None)
@given(data=st.data(), tags=st.sampled_from(TAG_SETS))
def test_hypothesis_documents(data: st.DataObject, tags: tuple[str, ...]) -> None:
    document = data.draw(email_documents(), label="document")
    assert_agree(document, tags)
    chunks = data.draw(chunkings(document), label="chunks")
    cuts = [sum(len(chunk) for chunk in chunks[: index + 1]) for index in range(len(chunks) - 1)]
    assert_agree(document, tags, cuts)


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=200)
    | st.lists(
        st.sampled_from(
            [
                b"<",
                b">",
                b"-",
                b"!",
                b"/",
                b"?",
                b"=",
                b'"',
                b"'",
                b" ",
                b"\n",
                b"a",
                b"v:x",
                b"<a ",
                b"<!--",
                b"-->",
                b"--!>",
                b"[if mso]>",
                b"<![endif]",
                b"<style>",
                b"</style>",
                b"<title>",
                b"</title",
                b"<script",
                b"<!-->",
                b" href=x",
                b"<area",
            ]
        ),
        max_size=40,
    ).map(b"".join),
    tags=st.sampled_from(TAG_SETS),
    cut=st.integers(0, 400),
)
def test_markup_soup(data: bytes, tags: tuple[str, ...], cut: int) -> None:
    assert_agree(data, tags)
    assert_agree(data, tags, [min(cut, len(data))])
