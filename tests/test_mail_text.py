"""Plain text: URLs found as mail clients linkify them, rewritten byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mailhelp import engine_for

from rewriter.document.engine import Rewriter
from rewriter.document.inputs import TemplateError
from rewriter.mail.text import find_urls, rewrite_text
from rewriter.models import Action, Reason
from rewriter.tokens.format import decode_token


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Rewriter:
    return engine_for(tmp_path_factory.mktemp("rules"), context="none")


def urls(text: str) -> list[str]:
    data = text.encode("utf-8")
    return [data[f.start : f.end].decode() for f in find_urls(data)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see https://a.example/x.", ["https://a.example/x"]),
        ("see https://a.example/x, then", ["https://a.example/x"]),
        ("(https://a.example/x)", ["https://a.example/x"]),
        ("(see https://en.example/wiki/A_(b))", ["https://en.example/wiki/A_(b)"]),
        ("[https://a.example/x]", ["https://a.example/x"]),
        ("<https://a.example/x.>", ["https://a.example/x."]),
        ('"https://a.example/x"', ["https://a.example/x"]),
        ("HTTPS://A.example/Q?x=1&y=2!", ["HTTPS://A.example/Q?x=1&y=2"]),
        ("ftp://a.example/x mailto:a@b.example www.example.com", []),
        ("xhttps://a.example/x", []),
        ("https://", []),
        ("one https://a.example/1\ntwo https://b.example/2?", ["https://a.example/1", "https://b.example/2"]),
        ("https://a.example/é?q=ü.", ["https://a.example/é?q=ü"]),
    ],
)  # fmt: skip
def test_urls_are_found_as_mail_clients_linkify_them(text: str, expected: list[str]) -> None:
    assert urls(text) == expected


def test_rewrites_only_the_urls(engine: Rewriter) -> None:
    data = b"Hi,\r\n\r\nyour order: https://shop.example.com/o/1. Thanks!\r\n-- \r\nshop\r\n"
    result = rewrite_text(data, engine, file="mail.txt", context="")
    (record,) = result.links
    assert record.action is Action.REWRITTEN
    assert record.tracking_url is not None
    assert result.output == data.replace(
        b"https://shop.example.com/o/1", record.tracking_url.encode()
    )
    assert (record.line, record.column) == (3, 13)
    token = record.tracking_url.rsplit("/", 1)[1]
    assert decode_token(token, engine.ring).destination == "https://shop.example.com/o/1"


def test_skip_rules_are_those_of_html(engine: Rewriter) -> None:
    data = (
        b"a https://x.internal.example.com/p b http://go.example.com/l/abc c {{reset_url}}\n"
        b"d https://shop.example.com/?u={{ user.id }} e https://shop.example.com/<%= id %>\n"
    )
    result = rewrite_text(data, engine, file="t.txt", context="")
    reasons = [record.reason_code for record in result.links]
    assert reasons == [
        Reason.EXCLUDED_HOST,
        Reason.OWN_DOMAIN,
        Reason.TEMPLATE,
        Reason.TEMPLATE,
    ]
    assert result.output == data


def test_same_url_same_token_as_html(engine: Rewriter) -> None:
    html = engine.rewrite(b'<a href="https://shop.example.com/a?b=1&amp;c=2">x</a>', context="c")
    text = rewrite_text(b"https://shop.example.com/a?b=1&c=2", engine, file="t", context="c")
    assert html.links[0].tracking_url == text.links[0].tracking_url is not None


def test_line_pushed_past_the_limit_is_reported(engine: Rewriter) -> None:
    line = b"x" * 950 + b" https://shop.example.com/a\n"
    result = rewrite_text(line, engine, file="t.txt", context="")
    assert len(result.warnings) == 1
    assert "t.txt:1: the tracking link makes this line" in result.warnings[0]
    assert "998" in result.warnings[0]
    long_url = b"https://shop.example.com/orders/2026/12/02/123456789?u=1"
    flowed = rewrite_text(b"Read " + long_url + b" now.\n", engine, file="f", context="",
                          flowed=True)  # fmt: skip
    assert len(flowed.links[0].tracking_url or "") > 78
    assert "format=flowed" in flowed.warnings[0]
    short = rewrite_text(b"https://shop.example.com/a\n", engine, file="t", context="")
    assert short.warnings == ()


def test_charset_that_is_not_ascii_compatible_is_refused(engine: Rewriter) -> None:
    with pytest.raises(TemplateError):
        rewrite_text("https://a.example/".encode("utf-16"), engine, file="t", context="",
                     codec="utf-16")  # fmt: skip


def test_idempotent(engine: Rewriter) -> None:
    data = b"a https://shop.example.com/a. b (https://shop.example.com/b) <https://c.example/>\n"
    once = rewrite_text(data, engine, file="t", context="").output
    assert once != data
    assert rewrite_text(once, engine, file="t", context="").output == once


_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200)
_PIECES = st.lists(
    st.one_of(
        _TEXT,
        st.sampled_from([
            "https://shop.example.com/a", "http://b.example/x?y=1", "(https://c.example/p_(q))",
            "<https://d.example/>", "https://e.example/.", " ", "\r\n", "{{x}}",
        ]),
    ),
    max_size=12,
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(pieces=_PIECES)
def test_every_byte_outside_the_urls_is_kept(engine: Rewriter, pieces: list[str]) -> None:
    data = "".join(pieces).encode("utf-8")
    result = rewrite_text(data, engine, file="t", context="")
    # Put each original URL back in place of its tracking link: the input comes back.
    restored = result.output
    for record in result.links:
        if record.action is Action.REWRITTEN and record.tracking_url is not None:
            restored = restored.replace(record.tracking_url.encode(), record.original.encode(), 1)
    assert restored == data
    assert rewrite_text(result.output, engine, file="t", context="").output == result.output


def test_txt_files_are_taken_when_named_not_by_a_folder_walk(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from mailhelp import write_rules

    from rewriter.cli.main import main

    rules = write_rules(tmp_path, context="path")
    source = tmp_path / "in"
    source.mkdir()
    (source / "README.txt").write_text("see https://shop.example.com/readme\n")
    (source / "page.html").write_text('<a href="https://shop.example.com/p">p</a>')
    runner = CliRunner()
    walked = runner.invoke(main, ["rewrite", str(source), "--rules", str(rules), "--out",
                                  str(tmp_path / "out")])  # fmt: skip
    assert walked.exit_code == 0, walked.output
    assert not (tmp_path / "out" / "README.txt").exists()
    named = runner.invoke(main, ["rewrite", str(source / "README.txt"), "--rules", str(rules),
                                 "--out", str(tmp_path / "out2")])  # fmt: skip
    assert named.exit_code == 0, named.output
    written = (tmp_path / "out2" / "README.txt").read_bytes()
    assert written.startswith(b"see http://go.example.com/l/") and written.endswith(b"\n")
    included = runner.invoke(main, ["rewrite", str(source), "--include", "*.txt", "--rules",
                                    str(rules), "--out", str(tmp_path / "out3")])  # fmt: skip
    assert included.exit_code == 0, included.output
    assert (tmp_path / "out3" / "README.txt").read_bytes() == written
