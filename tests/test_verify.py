"""The safe mode's independent check (`document.safety`): silent on every correct rewrite (the
golden cases, the shared corpus, generated email HTML), and loud, saying where, on each kind of
broken output. Problems are compared as exact strings: they are what a person reads."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from golden import CASES, DEFAULT_RULES, case_names, engine_for, input_path, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import email_documents

from rewriter.batch.factory import make_rewriter
from rewriter.batch.sources import TEMPLATE_SUFFIXES
from rewriter.document.engine import Rewriter
from rewriter.document.inputs import TemplateError
from rewriter.document.safety import (
    idempotence_problems,
    round_trip_problems,
    safe_check,
    structure_problems,
)
from rewriter.models import Action, LinkRecord, Result
from rewriter.rules.loader import load_rules

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
NAME = "spring.html"

DOCUMENT = b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Spring sale</title></head>
<body>
<table><tr><td class="hero">Hello, spring!</td></tr></table>
<table><tr><td><a href="https://www.example.com/sale" class="button">Shop</a>
<a href="https://www.example.com/sale?utm_source=mail&amp;x=1">Again</a></td></tr></table>
<!-- footer: keep -->
<!--[if mso]><v:roundrect href="https://www.example.com/vml" arcsize="10%">
<center>Shop</center></v:roundrect><![endif]-->
<p>Unsubscribe: <a href="https://www.example.com/unsubscribe">here</a></p>
</body></html>
"""
SALE, SALE_UTM, VML = (
    "https://www.example.com/sale",
    "https://www.example.com/sale?utm_source=mail&x=1",
    "https://www.example.com/vml",
)
TD = "/html/body/table[2]/tr/td"
VML_PATH = "/html/body/comment()[2]/html/body/v:roundrect"


@pytest.fixture(scope="module")
def engine() -> Rewriter:
    return make_rewriter(load_rules(DEFAULT_RULES), keys=True)


@pytest.fixture(scope="module")
def result(engine: Rewriter) -> Result:
    return engine.rewrite(DOCUMENT, file=NAME, relative=NAME)


def tracking(result: Result, original: str) -> str:
    (url,) = {link.tracking_url for link in result.links if link.original == original}
    assert url is not None
    return url


def check(engine: Rewriter, after: bytes, records: tuple[LinkRecord, ...]) -> list[str]:
    return safe_check(DOCUMENT, after, engine, records, file=NAME, relative=NAME)


# Correct rewrites pass.


def test_the_document_is_rewritten_and_passes(engine: Rewriter, result: Result) -> None:
    rewritten = [link.original for link in result.links if link.action is Action.REWRITTEN]
    assert rewritten == [SALE, SALE_UTM, VML]
    assert check(engine, result.output, result.links) == []


@pytest.mark.parametrize("name", case_names())
def test_every_golden_case_passes(name: str) -> None:
    case = CASES / name
    data, result = run(case)
    source = input_path(case).name
    engine = engine_for(case)
    assert safe_check(data, result.output, engine, result.links, file=source, relative=source) == []


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.suffix.lower() in TEMPLATE_SUFFIXES)


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")
def test_the_corpus_is_there_to_check() -> None:
    assert len(corpus_files()) > 400


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: str(p.relative_to(CORPUS)))
def test_every_corpus_template_passes(path: Path, engine: Rewriter) -> None:
    """A real oracle test: a failure here is a bug in the engine, not in the test."""
    data = path.read_bytes()
    relative = str(path.relative_to(CORPUS))
    result = engine.rewrite(data, file=relative, relative=relative)
    problems = safe_check(
        data, result.output, engine, result.links, file=relative, relative=relative
    )
    assert problems == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(email_documents())
def test_generated_email_html_passes(engine: Rewriter, data: bytes) -> None:
    try:
        result = engine.rewrite(data, file=NAME, relative=NAME)
    except TemplateError:
        return  # refused as binary data: nothing would be written
    assert check_pair(engine, data, result) == []


def check_pair(engine: Rewriter, data: bytes, result: Result) -> list[str]:
    return safe_check(data, result.output, engine, result.links, file=NAME, relative=NAME)


# Broken outputs are caught, each with where and what.


def replace_once(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) >= 1, old
    return data.replace(old, new, 1)


BROKEN_STRUCTURE = [
    (
        "a changed byte in text",
        b"Hello, spring!",
        b"Hello, Spring!",
        ["structure: /html/body/table[1]/tr/td text: 'Hello, spring!' became 'Hello, Spring!'"],
    ),
    (
        "another attribute of a link tag changed",
        b'class="button"',
        b'class="buttons"',
        [f"structure: {TD}/a[1]@class: 'button' became 'buttons'"],
    ),
    (
        "an attribute added to a tag that is not a link",
        b'<td class="hero">',
        b'<td class="hero" bgcolor="red">',
        ["structure: /html/body/table[1]/tr/td@bgcolor: added ('red')"],
    ),
    (
        "our annotation on a tag that is not a link",
        b'<td class="hero">',
        b'<td class="hero" data-link-security="secure">',
        ["structure: /html/body/table[1]/tr/td@data-link-security: added ('secure')"],
    ),
    (
        "a comment changed",
        b"footer: keep",
        b"footer: kept",
        ["structure: /html/body/comment()[1] text: ' footer: keep ' became ' footer: kept '"],
    ),
    (
        "a removed comment",
        b"<!-- footer: keep -->\n",
        b"",
        [
            "structure: /html/body/comment()[1] text: ' footer: keep ' became"
            " '[if mso]><v:roundrect href=\"http://go.example.com/l/ATF0ZXN0'...",
            "structure: /html/body/comment()[2]: comment became <p>",
        ],
    ),
    (
        "an attribute changed inside a conditional comment",
        b'arcsize="10%"',
        b'arcsize="20%"',
        [f"structure: {VML_PATH}@arcsize: '10%' became '20%'"],
    ),
    (
        "text changed inside a conditional comment",
        b"<center>Shop</center>",
        b"<center>Shop!</center>",
        [f"structure: {VML_PATH}/center text: 'Shop' became 'Shop!'"],
    ),
    (
        "a conditional comment's condition changed",
        b"<!--[if mso]>",
        b"<!--[if !mso]>",
        ["structure: /html/body/comment()[2]: condition '[if mso]>' became '[if !mso]>'"],
    ),
    (
        "the doctype changed",
        b"<!DOCTYPE html>",
        b"<!DOCTYPE html5>",
        ["structure: /: doctype ('html', None, None) became ('html5', None, None)"],
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [case[1:] for case in BROKEN_STRUCTURE],
    ids=[case[0] for case in BROKEN_STRUCTURE],
)
def test_a_structure_change_is_caught(
    engine: Rewriter, result: Result, old: bytes, new: bytes, expected: list[str]
) -> None:
    assert check(engine, replace_once(result.output, old, new), result.links) == expected


def test_a_quote_escaping_bug_is_caught(engine: Rewriter, result: Result) -> None:
    link = f'href="{tracking(result, SALE)}"'.encode()
    broken = replace_once(result.output, link, link + b' y"')
    assert check(engine, broken, result.links) == [f"structure: {TD}/a[1]@y\": added ('')"]


def test_a_link_in_a_conditional_comment_sent_elsewhere_is_caught(
    engine: Rewriter, result: Result
) -> None:
    vml, sale = tracking(result, VML), tracking(result, SALE)
    broken = replace_once(result.output, vml.encode(), sale.encode())
    assert check(engine, broken, result.links) == [
        f"structure: {VML_PATH}@href: '{VML}' became '{sale[:60]}'..., which is not the"
        " tracking link made for it",
        f"round trip: {NAME}:8:14: {vml} is not in the output",
    ]


def test_a_link_given_another_link_s_tracking_url_is_caught(
    engine: Rewriter, result: Result
) -> None:
    sale, other = tracking(result, SALE), tracking(result, SALE_UTM)
    broken = replace_once(result.output, sale.encode(), other.encode())
    assert check(engine, broken, result.links) == [
        f"structure: {TD}/a[1]@href: '{SALE}' became '{other[:60]}'..., which is not the"
        " tracking link made for it",
        f"round trip: {NAME}:5:16: {sale} is not in the output",
    ]


def test_a_link_given_a_value_of_its_own_choosing_is_caught(
    engine: Rewriter, result: Result
) -> None:
    broken = replace_once(result.output, tracking(result, SALE).encode(), b"https://evil.example/")
    problems = check(engine, broken, result.links)
    assert problems[0] == (
        f"structure: {TD}/a[1]@href: '{SALE}' became 'https://evil.example/', which is not the"
        " tracking link made for it"
    )


def test_a_rewritten_link_missing_from_the_output_is_caught(
    engine: Rewriter, result: Result
) -> None:
    vml = tracking(result, VML)
    broken = replace_once(result.output, vml.encode(), VML.encode())
    again = replace_once(broken, VML.encode(), vml.encode())
    at = broken.index(VML.encode()) + len("http")  # where "https://www" and "http://go" part
    assert check(engine, broken, result.links) == [
        f"idempotence: a second rewrite changes the output at byte {at} (line 8):"
        f" {excerpt(broken, at)} became {excerpt(again, at)}",
        f"round trip: {NAME}:8:14: {vml} is not in the output",
    ]


def test_a_token_that_leads_elsewhere_is_caught(engine: Rewriter, result: Result) -> None:
    sale = tracking(result, SALE)
    records = tuple(
        dataclasses.replace(link, destination="https://www.example.com/other")
        if link.original == SALE
        else link
        for link in result.links
    )
    assert check(engine, result.output, records) == [
        f"round trip: {NAME}:5:16: {sale} leads to {SALE}, not to https://www.example.com/other"
    ]


def test_a_forged_token_is_caught(engine: Rewriter, result: Result) -> None:
    sale = tracking(result, SALE)
    forged = sale[:-10] + ("A" if sale[-10] != "A" else "B") + sale[-9:]
    records = tuple(
        dataclasses.replace(link, tracking_url=forged) if link.original == SALE else link
        for link in result.links
    )
    broken = replace_once(result.output, sale.encode(), forged.encode())
    problems = check(engine, broken, records)
    # A second rewrite reads the forged token as broken, and says so in the annotation.
    assert problems[0].startswith("idempotence: a second rewrite changes the output at byte")
    assert problems[1:] == [
        f"round trip: {NAME}:5:16: the token of {forged} does not verify (forged or altered)"
    ]


def test_a_rewritten_record_without_a_tracking_link_is_caught(
    engine: Rewriter, result: Result
) -> None:
    records = (dataclasses.replace(result.links[0], tracking_url=None), *result.links[1:])
    assert round_trip_problems(result.output, engine, records) == [
        f"round trip: {NAME}:5:16: rewritten without a tracking link"
    ]


def excerpt(data: bytes, at: int) -> str:
    """How a problem shows bytes: 60 of them from 30 before the difference."""
    return f"{data[at - 30 : at + 30]!r}..."


class Unstable(Rewriter):
    """An engine whose second pass changes its own output."""

    def rewrite(
        self,
        data: bytes,
        *,
        file: str | None = None,
        relative: str | None = None,
        prove: bool = True,
    ) -> Result:
        result = super().rewrite(data, file=file, relative=relative, prove=prove)
        return dataclasses.replace(result, output=result.output.replace(b"Again", b"Again!"))


class Crashing(Rewriter):
    def rewrite(
        self,
        data: bytes,
        *,
        file: str | None = None,
        relative: str | None = None,
        prove: bool = True,
    ) -> Result:
        raise RuntimeError("boom")


def test_an_output_that_changes_on_a_second_run_is_caught(engine: Rewriter, result: Result) -> None:
    unstable = Unstable(engine.rules, engine.ring, engine.classifier)
    output = result.output
    at = output.index(b"Again") + len(b"Again")
    again = output.replace(b"Again", b"Again!")
    assert check(unstable, output, result.links) == [
        f"idempotence: a second rewrite changes the output at byte {at} (line 6):"
        f" {excerpt(output, at)} became {excerpt(again, at)}"
    ]
    assert excerpt(output, at) == (
        "b'a-link-security=\"secure\">Again</a></td></tr></table>\\n<!-- fo'..."
    )
    assert idempotence_problems(result.output, engine, file=NAME, relative=NAME) == []


def test_a_check_that_cannot_run_is_a_problem_not_a_crash(engine: Rewriter, result: Result) -> None:
    crashing = Crashing(engine.rules, engine.ring, engine.classifier)
    assert check(crashing, result.output, result.links) == [
        "idempotence: the check could not run: RuntimeError: boom"
    ]


def test_identical_input_and_output_need_no_second_rewrite(engine: Rewriter) -> None:
    crashing = Crashing(engine.rules, engine.ring, engine.classifier)
    assert safe_check(b"<p>no links</p>", b"<p>no links</p>", crashing, []) == []


# Encodings: both documents are read the way the engine reads the input.

LINK = b'<a href="https://www.example.com/">x</a>'


def changed_text(engine: Rewriter, data: bytes, old: bytes, new: bytes) -> list[str] | None:
    result = engine.rewrite(data)
    assert result.output != data
    assert safe_check(data, result.output, engine, result.links) == []
    return structure_problems(data, replace_once(result.output, old, new), engine, result.links)


def test_windows_1252_is_read_as_declared(engine: Rewriter) -> None:
    data = b'<html><head><meta charset="windows-1252"></head><body><p>caf\xe9 \x80</p>' + LINK
    assert changed_text(engine, data, b"caf\xe9", b"caf\xe8") == [
        "structure: /html/body/p text: 'caf\u00e9 \u20ac' became 'caf\u00e8 \u20ac'"
    ]


def test_undeclared_text_is_read_as_utf8(engine: Rewriter) -> None:
    data = "<p>café</p>".encode() + LINK
    assert changed_text(engine, data, "é".encode(), "è".encode()) == [
        "structure: /html/body/p text: 'café' became 'cafè'"
    ]


def test_undecodable_bytes_stay_distinct(engine: Rewriter) -> None:
    data = b"<p>bad \xff\xfe bytes</p>" + LINK
    assert changed_text(engine, data, b"\xff\xfe", b"\xfe\xff") == [
        "structure: /html/body/p text: 'bad \\udcff\\udcfe bytes' became 'bad \\udcfe\\udcff bytes'"
    ]


def test_undecodable_bytes_in_a_rewritten_link(engine: Rewriter) -> None:
    """The engine reads them as U+FFFD (one per invalid sequence), this check one per byte."""
    data = b'<p>x</p><a href="https://www.example.com/\xff\xfe\xc3">x</a>'
    result = engine.rewrite(data)
    assert result.links[0].action is Action.REWRITTEN
    assert safe_check(data, result.output, engine, result.links) == []


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_a_bom_is_compared_as_text(engine: Rewriter, codec: str) -> None:
    data = '\ufeff<p>é</p><a href="https://www.example.com/">x</a>'.encode(codec)
    result = engine.rewrite(data)
    assert result.links[0].action is Action.REWRITTEN
    assert safe_check(data, result.output, engine, result.links) == []
    broken = replace_once(result.output, "é".encode(codec), "è".encode(codec))
    assert structure_problems(data, broken, engine, result.links) == [
        "structure: /html/body/p text: 'é' became 'è'"
    ]


def test_a_charset_declaration_pushed_out_of_the_prescan_is_caught(engine: Rewriter) -> None:
    """A longer link value before `<meta charset>` can push it past the first 1024 bytes, where
    the engine (and the HTML prescan) no longer look: the engine refuses such a rewrite, and the
    check catches such an output all the same."""
    data = LINK + b" " * 940 + b'<meta charset="windows-1252"><p>caf\xe9</p>'
    with pytest.raises(TemplateError, match="would move the charset declaration"):
        engine.rewrite(data)
    pushed = b" " * 200 + data
    problems = structure_problems(data, pushed, engine, ())
    assert problems is not None
    assert "structure: the output reads as utf-8, the input as cp1252" in problems


# Input lxml cannot parse: nothing to compare when both fail alike, a problem when one does.

DEEP = b"<div>" * 10_000 + LINK + b"</div>" * 10_000


@pytest.mark.parametrize(
    "data",
    [b"", b"  \n\t", b"<!-- only a comment -->", DEEP],
    ids=["empty", "blank", "only a comment", "10,000 nested tags"],
)
def test_when_lxml_parses_neither_there_is_nothing_to_compare(
    engine: Rewriter, data: bytes
) -> None:
    result = engine.rewrite(data)
    assert structure_problems(data, result.output, engine, result.links) is None
    assert safe_check(data, result.output, engine, result.links) == []


def test_binary_data_is_compared_like_any_text(engine: Rewriter) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    assert structure_problems(png, png, engine, []) == []
    (problem,) = structure_problems(png, png.replace(b"IHDR", b"IHDX"), engine, []) or [""]
    assert problem.startswith("structure: /html/body text: '\\udc89PNG\\n\\x1a\\n")
    assert "IHDR" in problem.split(" became ")[0]
    assert "IHDX" in problem.split(" became ")[1]


def test_when_lxml_parses_only_one_it_is_a_problem(engine: Rewriter) -> None:
    assert structure_problems(DEEP, b"<p>x</p>", engine, []) == [
        "structure: lxml parses input and output differently: the input stops early (Excessive"
        " depth in document: 2048, use XML_PARSE_HUGE option), the output parses"
    ]
    assert structure_problems(b"<p>x</p>", b"", engine, []) == [
        "structure: lxml parses input and output differently: the input parses, the output has"
        " no element"
    ]


@pytest.mark.parametrize(
    "data",
    [
        b"<p>a\x00b</p>" + LINK,
        b'<p><a href="https://www.example.com/',
        b"<p>" + LINK + b'<!--[if mso]><a href="https://www.example.com/c">',
        b'<v:\x00shape href="https://www.example.com/">x</v:\x00shape>',
        b'<v:\x1cx href="https://www.example.com/">x</v:\x1cx>',
        b'<p title="' + b"x" * 2_000_000 + b'">' + LINK,
        LINK * 2_000,
    ],
    ids=[
        "NUL",
        "ends inside a value",
        "ends inside a conditional comment",
        "NUL in a link tag name",
        "control character in a link tag name",
        "a 2 MB attribute",
        "2,000 links",
    ],
)
def test_odd_input_that_is_rewritten_correctly_passes(engine: Rewriter, data: bytes) -> None:
    result = engine.rewrite(data)
    assert safe_check(data, result.output, engine, result.links) == []


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=300))
def test_never_raises_on_any_bytes(engine: Rewriter, before: bytes, after: bytes) -> None:
    problems = safe_check(before, after, engine, [])
    assert all(problem.split(": ", 1)[0] in CHECKS for problem in problems)


CHECKS = ("structure", "idempotence", "round trip")


# Conditional comments inside conditional comments: the engine, like Outlook, reads on.


def test_nested_conditional_comments_are_compared_as_html(engine: Rewriter) -> None:
    data = (
        b'<p>a</p><!--[if mso]><!--[if gte mso 9]><v:roundrect href="https://www.example.com/n"'
        b' arcsize="5%">x</v:roundrect><![endif]--><![endif]--><p>b</p>'
    )
    result = engine.rewrite(data)
    assert result.output != data
    assert safe_check(data, result.output, engine, result.links) == []
    broken = replace_once(result.output, b'arcsize="5%"', b'arcsize="6%"')
    assert structure_problems(data, broken, engine, result.links) == [
        "structure: /html/body/comment()[1]/html/body/comment()/html/body/v:roundrect@arcsize:"
        " '5%' became '6%'"
    ]


END_IN_VALUE = (
    b'<p>a</p><!--[if mso]><a href="https://www.example.com/a-->b">x</a><![endif]--><p>visible</p>'
)


def test_a_rewrite_that_moves_the_end_of_a_comment_is_caught(engine: Rewriter) -> None:
    """For a browser the comment ends inside the value; removing that `-->` hides what follows."""
    broken = END_IN_VALUE.replace(b"a-->b", b"tracked")
    assert structure_problems(END_IN_VALUE, broken, engine, []) == [
        "structure: /html/body/comment()[1] text: ...'href=\"https://www.example.com/a'"
        " became ...'href=\"https://www.example.com/tracked\">x</a><![endif]'",
        "structure: /html/body/comment()[1] text after it: 'b\">x' became nothing",
        "structure: /html/body/comment()[2]: comment became <p>",
    ]


def test_the_engine_leaves_a_comment_end_in_a_value_alone(engine: Rewriter) -> None:
    result = engine.rewrite(END_IN_VALUE)
    assert safe_check(END_IN_VALUE, result.output, engine, result.links) == []


def test_problems_name_their_check(engine: Rewriter, result: Result) -> None:
    unstable = Unstable(engine.rules, engine.ring, engine.classifier)
    broken = replace_once(result.output, b"Hello", b"Hallo")
    records = (dataclasses.replace(result.links[0], tracking_url=None), *result.links[1:])
    problems = check(unstable, broken, records)
    assert list(dict.fromkeys(problem.split(": ", 1)[0] for problem in problems)) == [
        "structure",
        "idempotence",
        "round trip",
    ]
