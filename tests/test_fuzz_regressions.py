"""Regression cases from fuzzing (tests/fuzz/run.py) and the property tests (test_properties.py).

Each input is replayed through the same fuzz target that found it (tests/fuzz/targets.py), or
checked directly. The first two sections guard the fixes of bugs that fuzzing found: a quoted
attribute value still open at a chunk boundary or at the end of the input (rewriter/scan.py
`_VALUE`, `_ATTRS`), a repeated annotation attribute with annotation off (rewriter/splice.py),
the binary-data verdict depending on the chunking (rewriter/engine.py); then `<!--->` cut in two,
an end tag's quoted value holding `>` cut in two (rewriter/scan.py), an annotation removal that
joined its neighbours (rewriter/splice.py `_safe_removals`), a meta charset moved by rewriting
and labels browsers do not know (rewriter/prescan.py, rewriter/engine.py `_SameEncoding`). The
last section holds inputs that must keep passing. Minimised inputs too large to read inline live
in tests/fuzz_corpus/<target>/ and must all pass their target.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pytest
from fuzz import targets
from fuzz.invariants import (
    CONTEXT_FILE,
    InvariantError,
    check_idempotent,
    check_preserved,
    engine,
)
from fuzz.targets import TARGETS, engine_target, scanner

from rewriter.document.inputs import TemplateError
from rewriter.document.scan import LinkTag, Piece, scan, scan_chunks
from rewriter.models import Action, Result

CORPUS = Path(__file__).resolve().parent / "fuzz_corpus"


def link_tags(pieces: Iterable[Piece]) -> list[tuple[int, bytes]]:
    return [(piece.offset, piece.raw) for piece in pieces if isinstance(piece, LinkTag)]


def rewritten_whole_and_cut(before: bytes, after: bytes) -> Result:
    """The engine's result on `before + after`, checked to be the same (output and links) when
    the input comes as the two chunks `before` and `after`."""
    rewriter = engine()
    whole = rewriter.rewrite(before + after, file=CONTEXT_FILE)
    out: list[bytes] = []
    outcome = rewriter.rewrite_stream([before, after], out.append, file=CONTEXT_FILE)
    assert tuple(outcome.links) == whole.links
    assert b"".join(out) == whole.output
    return whole


# --- guards of fixed bugs ------------------------------------------------------------------
# A quoted value still open where a chunk (or the input) ends: the scanner once read it as
# unquoted and ended the tag at a `>` inside it, so link tags appeared or vanished with the cut.


def test_link_tags_do_not_depend_on_a_cut_inside_a_quoted_value() -> None:
    # `<p e="><a "tieo>` is one <p> tag (e = `><a `, then `tieo`): no link, as a browser reads
    # it and as scan() says, wherever the input is cut (after the `>` inside the value, too).
    data = b'<p e="><a "tieo>'
    assert link_tags(scan(data)) == []
    assert link_tags(scan_chunks([data[:7], data[7:]])) == []


def test_rewrite_stream_does_not_depend_on_a_cut_inside_a_quoted_value() -> None:
    # The engine re-chunks the first 1,024 bytes (encoding sniff), so the cut comes after them.
    before = b"<p>" + b"x" * 1100 + b'</p>\n<p title=">'
    after = b'<a href=http://example.com/>">x</p>'
    whole = rewritten_whole_and_cut(before, after)
    assert whole.output == before + after  # no link: the <a> is inside the title value
    assert whole.links == ()


def test_a_cut_inside_a_quoted_value_does_not_hide_a_link() -> None:
    # `<t v="><!--">` is one tag (v = `><!--`); the link after it is real. Cut after `<t v=">`,
    # the tag must not end there, or `<!--` reads as a comment that swallows the link.
    before = b"<p>" + b"x" * 1100 + b'</p>\n<t v=">'
    after = b'<!--"><a href=http://example.com/>x</a>'
    whole = rewritten_whole_and_cut(before, after)
    assert [link.action for link in whole.links] == [Action.REWRITTEN]


@pytest.mark.parametrize(
    "data",
    [
        b'<p title="><a href=http://example.com/>',
        # Found by the engine target in UTF-16 (the engine works on its UTF-8 view).
        codecs.BOM_UTF16_LE + '<d s="><a href=http:x>'.encode("utf-16-le"),
    ],
    ids=["utf-8", "utf-16"],
)
def test_a_document_ending_inside_a_quoted_value_is_left_alone(data: bytes) -> None:
    # A browser reaches the end of the input inside the first tag (eof-in-tag) and drops it:
    # there is no link, and nothing changes (this once raised PreservationError).
    result = engine().rewrite(data, file=CONTEXT_FILE)
    assert result.output == data
    assert result.links == ()


def test_the_engine_target_passes_on_a_truncated_quoted_value() -> None:
    engine_target(b'<p title="><a href=http://example.com/>')


# Minimised by tests/fuzz/run.py (scanner target, chunking drawn from the input's CRC): each is
# cut inside a quoted value holding `>` (the first inside `l\xe1rge="8&> '>`, the last inside
# `va4ign="uterspiciatjs </p>...`), where the chunked scan once found or lost link tags.
SCANNER_CRASHERS = [
    b' <s l\xe1rge="8&> \'><a hre<!\x01\x00\x00\x00"s >\n',
    b'<t v="><!--"><a>',  # hand-minimised from a 189-byte finding: the chunked scan lost <a>
    b'<o r=">q<a a">i',
    b'<!doctype html>\n<ht3l lang="und"  1r="    <+div>\x02    \n ~   lign:middle;" va4ign="'
    b'uterspiciatjs </p>\n      <p><a href="#\x02olor-schemes:light darker">'
    b"\n<lerspaicitjs ceblock;bor",
]


@pytest.mark.parametrize("data", SCANNER_CRASHERS)
def test_scanner_crashers_found_by_fuzzing(data: bytes) -> None:
    scanner(data)


@pytest.mark.parametrize("data", SCANNER_CRASHERS)
def test_scanner_crashers_give_the_same_link_tags_at_every_cut(data: bytes) -> None:
    whole = link_tags(scan(data))
    for cut in range(1, len(data)):
        assert link_tags(scan_chunks([data[:cut], data[cut:]])) == whole, cut


# With annotation off, every copy of the annotation attribute is removed (only the first once
# was, and the engine's proof then refused the file).
@pytest.mark.parametrize(
    "data",
    [
        b'<a href="http://x.example/" data-link-security="a" data-link-security="b">',
        b'<a href="http://go.example.com/l/x" data-link-security="a" data-link-security="b">',
    ],
)
def test_annotation_off_removes_every_annotation(data: bytes) -> None:
    rewriter = engine("annotate-off")
    result = rewriter.rewrite(data, file=CONTEXT_FILE)
    assert b"data-link-security" not in result.output
    check_preserved(data, result, rewriter.rules)
    check_idempotent(rewriter, result)


# Binary data is judged on exactly the first 1,024 bytes (PRESCAN_BYTES), however the input is
# cut: it was judged on the first chunk, however long, so the verdict depended on the chunking.
TEXT_THEN_CONTROLS = (
    b"<p>" + b"x" * 1100 + b"</p>" + b"\x01" * 2000 + b'<a href="http://e.example/">'
)
CONTROLS_THEN_TEXT = b"\x01" * 200 + b"<p>" + b"x" * 3000 + b'</p><a href="http://e.example/">'


@pytest.mark.parametrize(
    ("data", "cut", "refused"),
    [(TEXT_THEN_CONTROLS, 1107, False), (CONTROLS_THEN_TEXT, 1024, True)],
    ids=["text", "ctl"],
)
def test_refusing_binary_data_does_not_depend_on_chunking(
    data: bytes, cut: int, refused: bool
) -> None:
    # TEXT_THEN_CONTROLS was refused whole but rewritten when cut after 1,107 bytes;
    # CONTROLS_THEN_TEXT was rewritten whole but refused when cut after 1,024 bytes.
    rewriter = engine()
    try:
        whole: bytes | None = rewriter.rewrite(data, file=CONTEXT_FILE).output
    except TemplateError:
        whole = None
    out: list[bytes] = []
    try:
        rewriter.rewrite_stream([data[:cut], data[cut:]], out.append, file=CONTEXT_FILE)
        streamed: bytes | None = b"".join(out)
    except TemplateError:
        streamed = None
    assert (whole is None) is refused
    assert streamed == whole


@pytest.mark.parametrize("data", [TEXT_THEN_CONTROLS, CONTROLS_THEN_TEXT], ids=["text", "ctl"])
def test_the_engine_target_passes_on_binary_data_near_the_sample_end(data: bytes) -> None:
    engine_target(data)


# --- guards of the fixes of five more bugs found by the second round of fuzzing -------------

# With annotation off, removing an annotation attribute must not join what was before it to
# what follows (a `/`, the next name, `=`): rewriter/splice.py `_safe_removals`.


@pytest.mark.parametrize(
    "data",
    [
        # Each is refused: the engine's proof sees the joined bytes (PreservationError).
        b'<a href=http://x.example/ data-link-security="secure"/>Hello</a>',  # href `T/`
        b'<a href=http://go.example.com/l/abc data-link-security="secure"/>Hello</a>',
        b"<area href=http://x.example/ data-link-security/>",
        b'<a href=http://x.example/ data-link-security="s"title=y>x</a>',  # href `Ttitle=y`
        b'<a title=y data-link-security="s"/href=http://x.example/>x</a>',  # title `y/href=..`
        b'<a data-link-security="s"href=http://x.example/>x</a>',  # the tag `<ahref=..>`
    ],
)
def test_annotation_off_removes_an_annotation_followed_by_a_slash_or_a_name(data: bytes) -> None:
    rewriter = engine("annotate-off")
    result = rewriter.rewrite(data, file=CONTEXT_FILE)
    assert b"data-link-security" not in result.output
    check_preserved(data, result, rewriter.rules)
    check_idempotent(rewriter, result)


def test_annotation_off_leaves_the_other_attributes_as_they_were() -> None:
    # The tag holds `download` (no value), the annotation, `=x` (a name: after a quoted value,
    # `=` starts one) and href. Removing the annotation would give `download=x` (the attribute
    # would get a value) with or without the space before it: it is left in place, stale but
    # harmless, and every other attribute stays as it was.
    data = b'<a download data-link-security="s"=x href=http://x.example/>'
    result = engine("annotate-off").rewrite(data, file=CONTEXT_FILE)
    (before,) = [piece for piece in scan(data) if isinstance(piece, LinkTag)]
    (after,) = [piece for piece in scan(result.output) if isinstance(piece, LinkTag)]
    assert [(a.name, a.has_value) for a in after.attributes] == [
        (a.name, a.has_value) for a in before.attributes
    ]
    assert b'data-link-security="s"=x' in result.output


# `<!--->` is a whole (empty) comment even when a chunk ends after `<!---`: the scanner waits
# for the byte that decides (rewriter/scan.py `Scanner._comment`).


def test_a_cut_inside_an_abruptly_closed_comment_does_not_hide_a_link() -> None:
    data = b"<!---><a href=x>"
    assert link_tags(scan(data)) == [(6, b"<a href=x>")]
    assert link_tags(scan_chunks([data[:5], data[5:]])) == [(6, b"<a href=x>")]  # got []


def test_rewrite_stream_reads_an_abruptly_closed_comment_cut_in_two() -> None:
    # The engine re-chunks the first 1,024 bytes (encoding sniff), so the cut comes after them.
    before = b"<p>" + b"x" * 1100 + b"</p><!---"
    after = b"><a href=http://example.com/>x</a>"
    # The cut stream once gave no link and the input unchanged.
    whole = rewritten_whole_and_cut(before, after)
    assert [link.action for link in whole.links] == [Action.REWRITTEN]


# Found by the scanner target (tests/fuzz/run.py, 300 s), minimised: one-byte chunks.
def test_the_scanner_target_passes_on_an_abruptly_closed_comment() -> None:
    scanner(b"<!---><a   >\x8c\x91 (\n")


# An end tag whose quoted value holds `>` and is cut by a chunk boundary is still one end tag,
# never a bogus comment ending at that `>` (rewriter/scan.py, the skip pattern).


def test_link_tags_do_not_depend_on_a_cut_inside_an_end_tag_value() -> None:
    # `</p title="><a href=x>">` is one end tag (title = `><a href=x>`): no link.
    data = b'</p title="><a href=x>">'
    assert link_tags(scan(data)) == []
    assert link_tags(scan_chunks([data[:12], data[12:]])) == []  # got [(12, b'<a href=x>')]


def test_rewrite_stream_does_not_depend_on_a_cut_inside_an_end_tag_value() -> None:
    before = b"<p>" + b"x" * 1100 + b'</p>\n</p title=">'
    after = b'<a href=http://example.com/>">x</p>'
    whole = rewritten_whole_and_cut(before, after)
    assert whole.output == before + after  # no link: the <a> is inside the title value


def test_a_cut_inside_an_end_tag_value_does_not_hide_a_link() -> None:
    before = b"<p>" + b"x" * 1100 + b'</p>\n</p title=">'
    after = b'<!--"><a href=http://example.com/>x</a>'
    # The cut stream once gave no link, and a warning that a comment was open.
    whole = rewritten_whole_and_cut(before, after)
    assert [link.action for link in whole.links] == [Action.REWRITTEN]


# Found by the scanner target (second 300 s run), minimised: one-byte chunks.
def test_the_scanner_target_passes_on_an_end_tag_value_holding_a_gt() -> None:
    scanner(b'</o\t\x00="><a h" >}')


# tests/fuzz_corpus/engine/46d2d4893f3a.bin and ddee29f9c812.bin: found by the engine target
# (two 300 s runs), each cut by its chunking at byte 1,024 inside an end tag's quoted value
# holding `>`; rewrite_stream refused one and saw a link rewrite() did not in the other. They
# are replayed with the rest of that folder by test_stored_inputs_pass_their_fuzz_target.


# The meta charset is found by the HTML standard's prescan (never inside an attribute value),
# and a rewrite that would push it past the first 1,024 bytes is refused (rewriter/prescan.py,
# rewriter/engine.py `_SameEncoding`).
META_IN_A_VALUE = (
    b"<v:\nHREF=http&colon;h?<meta charset=windows-1252><v: href=http:\xd0\xb8\xd0\x80>"
)
META_PUSHED_OUT = (
    b'<a href="http://example.com/">Home</a>\n<p>' + b"x" * 900 + b"</p>\n"
    b'<meta charset=windows-1252>\n<a href="http://example.com/caf\xe9">Caf\xe9</a>\n'
)


def test_a_meta_inside_a_link_value_is_not_a_declaration() -> None:
    rewriter = engine()
    first = rewriter.rewrite(META_IN_A_VALUE, file=CONTEXT_FILE)
    assert first.encoding == "utf-8"  # the prescan skips attribute values, as browsers do
    again = rewriter.rewrite(first.output, file=CONTEXT_FILE)
    assert again.output == first.output


def test_a_rewrite_that_would_push_the_meta_out_of_reach_is_refused() -> None:
    with pytest.raises(TemplateError, match="would move the charset declaration"):
        engine().rewrite(META_PUSHED_OUT, file=CONTEXT_FILE)


# META_IN_A_VALUE was found by the engine target (300 s), minimised.
@pytest.mark.parametrize("data", [META_IN_A_VALUE, META_PUSHED_OUT], ids=["in-value", "pushed"])
def test_the_engine_target_passes_when_a_rewrite_moves_a_meta(data: bytes) -> None:
    engine_target(data)


# Only the Encoding standard's labels count; any other is ignored, as browsers ignore it
# (rewriter/prescan.py `codec_for_label`).


CRASHING_LABELS = (b"hex", b"rot13", b"base64", b"undefined", b"idna", b"punycode")
FOREIGN_LABELS = (b"utf-7", b"u7", b"utf-32", b"cp037", b"hz")


@pytest.mark.parametrize("label", CRASHING_LABELS + FOREIGN_LABELS)
def test_a_label_browsers_do_not_know_is_ignored(label: bytes) -> None:
    data = b"<meta charset=" + label + b'><a href="http://example.com/?q=+-~">caf\xc3\xa9</a>'
    result = engine().rewrite(data, file=CONTEXT_FILE)
    assert result.encoding == "utf-8"  # as with no declaration
    assert [link.original for link in result.links] == ["http://example.com/?q=+-~"]


# Found by the engine target (second 300 s run), minimised: read as UTF-7, `+` starts a shift.
def test_the_engine_target_passes_on_a_utf7_label() -> None:
    engine_target(b"<meta charset=u7><a href=HTTP:+>")


# --- inputs that must keep passing ---------------------------------------------------------

PASSING = [
    # (target, input)
    ("scanner", b'<p e="x>y"><a href=z>'),  # a complete quoted value holding `>`
    ("scanner", b"<!--[if mso]><v:roundrect href=x><![endif]--><a href=y>"),
    ("scanner", b"<!--[if !mso]><!--><a href=x><!--<![endif]-->"),
    ("scanner", b"<script><a href=x></scRIPT ><a href=y>"),
    ("scanner", b"<a href=x" + b" " * 3000 + b">"),
    ("urls", b"\x00http://[::1]/"),
    ("urls", b"\x01java&#x09;script:alert(1)"),
    ("urls", b"\x02http://fa\xc3\x9f.de/?q=\xe2\x82\xac"),
    ("urls", b"\x03https://a@b@c/\\x"),
    ("urls", b"\x04http://exa%41mple.com/"),
    ("urls", b"\x05&#0;&#x110000;&#xD800;&copy=&amp"),
    ("engine", b'<a href="http://example.com/?a=1&amp;b=2">x</a>'),
    ("engine", b"\xef\xbb\xbf<a href='https://example.com/'>x</a>\r\n"),
    ("engine", b'<a href=http://example.com/\x00>x</a><a href="\xff">'),
    ("engine", b'<meta charset=windows-1252><a href="http://example.com/caf\xe9">x</a>'),
    ("engine", b'<!--[if mso]><v:roundrect href="http://example.com/"></v:roundrect><![endif]-->'),
    ("engine", b'<a href="http://go.example.com/l/AAAA" data-link-security="old">x</a>'),
    # Two annotations with annotation on: the first (the one browsers read) is updated.
    ("engine", b'<a href="http://x.example/" data-link-security="a" data-link-security="b">'),
    # The preservation check reads a link value as the tokenizer does, before it skips any
    # annotation: an annotation after an unquoted value, or annotation-like text inside a value.
    ("engine", b'<a href=http://x.example/ data-link-security="secure"/>x</a>'),
    ("engine", b'<a href=http://x/ data-link-security="s"/href="http://www.example.com/">x</a>'),
    ("engine", b"<a href=http://x.example/a/data-link-security/b>x</a>"),
    ("engine", b'<a href="http://x.example/a/ data-link-security=1">x</a>'),
    ("engine", b'<a href="http://go.example.com/l/data-link-security">x</a>'),
]


@pytest.mark.parametrize(("target", "data"), PASSING)
def test_inputs_pass_their_fuzz_target(target: str, data: bytes) -> None:
    TARGETS[target](data)


def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*/*.bin")) if CORPUS.is_dir() else []


@pytest.mark.parametrize("path", corpus_files(), ids=lambda path: f"{path.parent.name}/{path.name}")
def test_stored_inputs_pass_their_fuzz_target(path: Path) -> None:
    TARGETS[path.parent.name](path.read_bytes())


def test_the_scanner_target_catches_a_lost_byte(monkeypatch: pytest.MonkeyPatch) -> None:
    def lossy(chunks: Iterable[bytes], link_tags: Sequence[str]) -> Iterator[Piece]:
        yield b"".join(chunks)[1:]

    monkeypatch.setattr(targets, "scan_chunks", lossy)
    with pytest.raises(InvariantError, match="pieces join"):
        scanner(b"<a href=x>")


def test_the_scanner_target_catches_chunk_dependence(monkeypatch: pytest.MonkeyPatch) -> None:
    def linkless(chunks: Iterable[bytes], link_tags: Sequence[str]) -> Iterator[Piece]:
        yield b"".join(chunks)

    monkeypatch.setattr(targets, "scan_chunks", linkless)
    with pytest.raises(InvariantError, match="depend on chunking"):
        scanner(b"<a href=x>")
