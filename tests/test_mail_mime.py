"""Whole messages: golden .eml files for each transfer encoding and nesting, round trips through
Python's email parser, untouched parts byte for byte, refusals."""

from __future__ import annotations

import base64
import hashlib
import html
from email import policy
from email.message import Message
from email.parser import BytesParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mailhelp import CASES, crlf, engine_for, write_rules

from rewriter.cli.main import main
from rewriter.document.engine import Rewriter
from rewriter.document.inputs import TemplateError
from rewriter.mail import cte
from rewriter.mail.mime import (
    ContextRefused,
    DkimSigned,
    InvalidMessage,
    message_id_context,
    rewrite_message,
)
from rewriter.mail.structure import parse_message
from rewriter.models import Action, LinkRecord
from rewriter.tokens.format import decode_token

FAILING: dict[str, type[TemplateError]] = {
    "dkim": DkimSigned,
    "broken-qp": InvalidMessage,
    "unknown-charset": InvalidMessage,
    "missing-boundary": InvalidMessage,
    "bad-base64": InvalidMessage,
    "context-address": ContextRefused,
}
GOLDEN = sorted(
    path.stem
    for path in CASES.glob("*.eml")
    if not path.name.endswith(".expected.eml") and path.stem not in FAILING
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Rewriter:
    return engine_for(tmp_path_factory.mktemp("rules"))


def case(name: str) -> bytes:
    return (CASES / f"{name}.eml").read_bytes()


def parsed(data: bytes) -> Message:
    return BytesParser(policy=policy.compat32).parsebytes(data)


def leaves(message: Message) -> list[Message]:
    """Leaf parts as the standard library sees them, not descending into attached messages."""
    if message.get_content_maintype() == "multipart":
        payload = message.get_payload()
        assert isinstance(payload, list)
        return [leaf for part in payload for leaf in leaves(part)]
    return [message]


def token_of(record: LinkRecord) -> str:
    assert record.tracking_url is not None
    return record.tracking_url.rsplit("/", 1)[1]


@pytest.mark.parametrize("name", GOLDEN)
def test_golden(name: str, engine: Rewriter) -> None:
    result = rewrite_message(case(name), engine, file=f"{name}.eml")
    assert result.output == (CASES / f"{name}.expected.eml").read_bytes()
    again = rewrite_message(result.output, engine, file=f"{name}.eml")
    assert again.output == result.output  # idempotent


@pytest.mark.parametrize("name", GOLDEN)
def test_each_part_decodes_to_the_expected_text(name: str, engine: Rewriter) -> None:
    """Through Python's email parser: a rewritten part decodes to its original text with each
    tracked URL replaced by its tracking link; every other part decodes to exactly what it did."""
    before = case(name)
    result = rewrite_message(before, engine, file=f"{name}.eml")
    old_leaves, new_leaves = leaves(parsed(before)), leaves(parsed(result.output))
    assert len(old_leaves) == len(new_leaves)
    rewritten = [record for record in result.links if record.action is Action.REWRITTEN]
    for old, new in zip(old_leaves, new_leaves, strict=True):
        if old.get_content_maintype() == "message":  # an attached message: never rewritten
            assert new.as_bytes() == old.as_bytes()
            continue
        old_text, new_text = old.get_payload(decode=True), new.get_payload(decode=True)
        assert isinstance(old_text, bytes) and isinstance(new_text, bytes)
        expected = old_text
        charset = old.get_content_charset() or "us-ascii"
        if old.get_content_type() in ("text/plain", "text/html") and not _attachment(old):
            for record in rewritten:
                expected = _replace_one(expected, record, charset)
        assert new_text == expected
        assert new.get_content_type() == old.get_content_type()


def _attachment(part: Message) -> bool:
    return part.get_content_disposition() == "attachment"


def _replace_one(text: bytes, record: LinkRecord, charset: str) -> bytes:
    assert record.tracking_url is not None
    codec = "latin-1" if charset == "iso-8859-1" else "utf-8"
    for written in (record.original, html.escape(record.original, quote=False)):
        raw = written.encode(codec)
        if raw in text:
            return text.replace(raw, record.tracking_url.encode("ascii"), 1)
    return text


def test_qp_soft_break_is_not_part_of_the_url(engine: Rewriter) -> None:
    result = rewrite_message(case("qp-alternative"), engine, file="m.eml")
    tracked = [r for r in result.links if r.action is Action.REWRITTEN]
    full = "https://shop.example.com/track/order/12345?ref=mail&lang=en"
    assert [(r.file, r.original) for r in tracked if r.original == full] == [
        ("m.eml:part 1 text/plain", full),
        ("m.eml:part 2 text/html", full),
    ]
    # The same URL in the text and HTML parts gets the same tracking link.
    plain, rich = (r.tracking_url for r in tracked if r.original == full)
    assert plain == rich
    out = result.output
    # Lines that did not change keep their own encoding, soft breaks and all.
    assert (
        b"This line stays exactly as it is, with its own soft break in the middle of a=\r\n"
        b" sentence, and a trailing space encoded at the end=20\r\n" in out
    )
    assert (
        b"<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit. Lorem ipsum dolo=\r\n" in out
    )
    assert max(len(line) for line in out.split(b"\r\n")) <= 76 + 2
    # Headers are never rewritten.
    assert out.startswith(case("qp-alternative").split(b"\r\n\r\n", 1)[0])


def test_context_is_a_digest_of_the_message_id(engine: Rewriter) -> None:
    result = rewrite_message(case("qp-alternative"), engine, file="m.eml")
    digest = "mid:" + hashlib.sha256(b"qp-1@shop.example.com").hexdigest()[:24]
    assert message_id_context("<qp-1@shop.example.com>") == digest
    for record in result.links:
        if record.action is Action.REWRITTEN:
            assert decode_token(token_of(record), engine.ring).context == digest


def test_context_header_is_used_and_removed(engine: Rewriter) -> None:
    data = case("nested-mixed-related")
    result = rewrite_message(data, engine, file="m.eml")
    assert b"X-Rewriter-Context" not in result.output
    assert result.output.startswith(data.split(b"X-Rewriter-Context")[0])
    contexts = {
        decode_token(token_of(r), engine.ring).context
        for r in result.links
        if r.action is Action.REWRITTEN
    }
    assert contexts == {"order-777"}


def test_nested_parts_preamble_epilogue_and_attachments_are_untouched(engine: Rewriter) -> None:
    data = case("nested-mixed-related")
    result = rewrite_message(data, engine, file="m.eml")
    out = result.output
    for kept in (
        b"This is the preamble; https://shop.example.com/preamble is not a part.\r\n--mix\r\n",
        b"An attached file keeps https://shop.example.com/attachment as it is.",
        b"A forwarded message keeps https://shop.example.com/forwarded too.",
        b"--mix--\r\nThis is the epilogue.\r\n",
    ):
        assert kept in out
    before, after = parse_message(data), parse_message(out)
    assert [(p.number, p.content_type) for p in before.walk()] == [
        (p.number, p.content_type) for p in after.walk()
    ]
    for old, new in zip(before.walk(), after.walk(), strict=True):
        untouched = old.content_type not in ("text/plain", "text/html") or old.is_attachment
        if untouched and not old.children:
            assert data[old.start : old.end] == out[new.start : new.end]
    files = {r.file for r in result.links}
    assert files == {"m.eml:part 1.1.1 text/plain", "m.eml:part 1.1.2 text/html"}


def test_base64_part_is_reencoded_whole_with_its_line_length(engine: Rewriter) -> None:
    result = rewrite_message(case("base64-html"), engine, file="m.eml")
    head, body = result.output.split(b"\r\n\r\n", 1)
    assert head == case("base64-html").split(b"\r\n\r\n", 1)[0]
    lines = body.split(b"\r\n")
    assert lines[-1] == b""
    assert {len(line) for line in lines[:-2]} == {76}
    assert b'href="http://go.example.com/l/' in base64.b64decode(b"".join(lines))
    assert b'href="mailto:help@example.com"' in base64.b64decode(b"".join(lines))


@pytest.mark.parametrize(
    ("name", "header"),
    [("8bit-long-line", b"Content-Transfer-Encoding: 8bit\n"), ("7bit-long-line", None)],
)
def test_identity_encoding_over_998_octets_becomes_quoted_printable(
    engine: Rewriter, name: str, header: bytes | None
) -> None:
    data = case(name)
    out = rewrite_message(data, engine, file="m.eml").output
    assert max(len(line) for line in out.split(b"\n")) <= 76
    new_head = out.split(b"\n\n", 1)[0]
    old_head = data.split(b"\n\n", 1)[0]
    assert b"Content-Transfer-Encoding: quoted-printable\n" in new_head + b"\n"
    if header is None:  # added at the end of the headers
        assert new_head == old_head + b"\nContent-Transfer-Encoding: quoted-printable"
    else:  # replaced in place, every other header as it was
        assert new_head + b"\n" == (old_head + b"\n").replace(
            header, b"Content-Transfer-Encoding: quoted-printable\n"
        )


def test_latin1_part_is_read_in_its_charset(engine: Rewriter) -> None:
    result = rewrite_message(case("latin1-qp"), engine, file="m.eml")
    (record,) = result.links
    assert record.original == "https://shop.example.com/menu?plat=café"
    assert record.destination == "https://shop.example.com/menu?plat=caf%E9"
    assert b"Caf=E9 cr=E8me: http://go.example.com/l/" in result.output


def test_signed_message_is_never_touched(engine: Rewriter) -> None:
    result = rewrite_message(case("signed"), engine, file="m.eml")
    assert result.output == case("signed")
    assert result.links == ()
    assert "signed or encrypted" in result.warnings[0]


@pytest.mark.parametrize("name", sorted(FAILING))
def test_bad_messages_are_refused(name: str, engine: Rewriter) -> None:
    with pytest.raises(FAILING[name]):
        rewrite_message(case(name), engine, file="m.eml")


def test_dkim_warn_rewrites_with_a_warning(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, extra="messages:\n  dkim_signed: warn\n")
    result = rewrite_message(case("dkim"), engine, file="m.eml")
    assert result.changed
    assert "DKIM-Signature" in result.warnings[0]
    assert result.output.startswith(case("dkim").split(b"\r\n", 2)[0])


@pytest.mark.parametrize("name", sorted(FAILING))
def test_cli_reports_a_failed_file_and_writes_nothing(tmp_path: Path, name: str) -> None:
    rules = write_rules(tmp_path)
    out = tmp_path / "out"
    given = tmp_path / f"{name}.eml"
    given.write_bytes(case(name))
    result = CliRunner().invoke(
        main, ["rewrite", str(given), "--rules", str(rules), "--out", str(out)]
    )
    assert result.exit_code == 123, result.output
    assert f"{given}: error: " in result.output
    assert "Traceback" not in result.output
    assert not (out / given.name).exists()
    assert given.read_bytes() == case(name)


def test_cli_links_and_check_name_the_part(tmp_path: Path) -> None:
    rules = write_rules(tmp_path)
    given = tmp_path / "message.eml"
    given.write_bytes(
        case("qp-alternative").replace(
            b"https://shop.example.com/help", b"https://broken.example.org/h"
        )
    )
    runner = CliRunner()
    listed = runner.invoke(main, ["links", str(given), "--rules", str(rules), "--format", "csv"])
    assert listed.exit_code == 0, listed.output
    assert f"{given}:part 2 text/html" in listed.output
    checked = runner.invoke(main, ["check", str(given), "--rules", str(rules)])
    assert checked.exit_code == 1
    assert f"{given}:part 1 text/plain:3:12: broken: https://broken.example.org/h" in checked.output
    assert f"{given}:part 2 text/html:4:4: broken: https://broken.example.org/h" in checked.output
    # A DKIM-signed message can be inspected (nothing is rewritten).
    signed = tmp_path / "signed.eml"
    signed.write_bytes(case("dkim"))
    assert runner.invoke(main, ["links", str(signed), "--rules", str(rules)]).exit_code == 0


def test_stdin_reads_a_message_only_when_told(tmp_path: Path) -> None:
    rules = write_rules(tmp_path)
    runner = CliRunner()
    data = case("qp-alternative")
    told = runner.invoke(
        main, ["rewrite", "-", "--input-format", "eml", "--rules", str(rules)], input=data
    )
    assert told.exit_code == 0, told.output
    assert told.stdout_bytes == rewrite_message(data, engine_for(tmp_path), file="-").output
    # Not told: read as HTML (never guessed from the content), so nothing is decoded.
    untold = runner.invoke(main, ["rewrite", "-", "--rules", str(rules)], input=data)
    assert untold.exit_code == 0
    assert b"ref=3Dmail" in untold.stdout_bytes


# --- properties


_BYTES = st.binary(max_size=300)
_LINE_TEXT = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126, exclude_characters="-"), max_size=60
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(attachment=_BYTES, preamble=_LINE_TEXT, epilogue=_LINE_TEXT, subject=_LINE_TEXT)
def test_untouched_parts_are_kept_byte_for_byte(
    engine: Rewriter, attachment: bytes, preamble: str, epilogue: str, subject: str
) -> None:
    encoded = base64.encodebytes(attachment).decode().replace("\n", "\r\n")
    data = (
        crlf(
            f"Subject: {subject}\nMessage-ID: <p@example.com>\nMIME-Version: 1.0\n"
            f'Content-Type: multipart/mixed; boundary="b"\n\n{preamble}\n--b\n'
            "Content-Type: text/html; charset=utf-8\n\n"
            '<a href="https://shop.example.com/p">p</a>\n--b\n'
            "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
        )
        + encoded.encode()
        + crlf(f"--b--\n{epilogue}")
    )
    out = rewrite_message(data, engine, file="m.eml").output
    before, after = data.split(b"<a href=", 1), out.split(b"<a href=", 1)
    assert before[0] == after[0]  # headers, preamble, the first part's headers
    assert before[1].split(b"\r\n--b", 1)[1] == after[1].split(b"\r\n--b", 1)[1]  # the rest
    attached = leaves(parsed(out))[1].get_payload(decode=True)
    assert attached == attachment


_QP_LINES = st.lists(st.binary(max_size=120).map(lambda b: b.replace(b"\n", b"")), max_size=8)


@settings(max_examples=200, deadline=None)
@given(lines=_QP_LINES, changed=st.sets(st.integers(0, 7)), extra=st.binary(max_size=40))
def test_qp_reencoding_changes_only_the_changed_lines(
    lines: list[bytes], changed: set[int], extra: bytes
) -> None:
    old = b"".join(line + b"\r\n" for line in lines)
    body = cte.qp_encode(old)
    assert cte.qp_decode(body) == old
    new_lines = [
        line + extra.replace(b"\n", b"") if index in changed else line
        for index, line in enumerate(lines)
    ]
    new = b"".join(line + b"\r\n" for line in new_lines)
    out = cte.qp_reencode(body, new)
    assert cte.qp_decode(out) == new
    assert all(len(line) <= 76 for line in out.split(b"\r\n"))
    for index, line in enumerate(lines):  # an unchanged line keeps its encoded form
        if new_lines[index] == line:
            assert cte.qp_encode(line + b"\r\n") in out


_QP_PIECES = st.sampled_from(
    [b"a", b" ", b"\t", b"=\r\n", b"=\n", b"\r\n", b"\n", b"\r", b"=3D", b"=0D", b"=", b"=C3=A9"]
)


@settings(max_examples=500, deadline=None)
@given(pieces=st.lists(_QP_PIECES, max_size=16))
def test_qp_logical_lines_found_at_once_are_those_found_line_by_line(pieces: list[bytes]) -> None:
    body = b"".join(pieces)
    try:
        cte.qp_decode(body)
    except cte.EncodingError:
        return
    assert cte._qp_logical(body) == cte._logical_by_line(body)


def test_table_names_each_part(tmp_path: Path) -> None:
    rules = write_rules(tmp_path)
    given = tmp_path / "message.eml"
    given.write_bytes(case("qp-alternative"))
    listed = CliRunner().invoke(
        main, ["links", str(given), "--rules", str(rules), "--format", "table"]
    )
    assert listed.exit_code == 0, listed.output
    headings = [line for line in listed.output.splitlines() if line.startswith(str(given))]
    assert headings == [f"{given}:part 1 text/plain", f"{given}:part 2 text/html"]


_CASE_BYTES = [case(name) for name in [*GOLDEN, *sorted(FAILING)]]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    source=st.sampled_from(_CASE_BYTES),
    cuts=st.lists(st.tuples(st.integers(0, 6000), st.binary(max_size=8)), max_size=4),
)
def test_damaged_messages_fail_clearly_or_come_out_whole(
    engine: Rewriter, source: bytes, cuts: list[tuple[int, bytes]]
) -> None:
    """Bytes changed anywhere: either a clear refusal (a TemplateError, or the safety check's
    PreservationError), or a message whose structure is the one it had."""
    from rewriter.document.engine import PreservationError

    data = bytearray(source)
    for position, new in cuts:
        at = position % (len(data) + 1)
        data[at : at + len(new)] = new
    try:
        result = rewrite_message(bytes(data), engine, file="m.eml")
    except (TemplateError, PreservationError):
        return
    before, after = parse_message(bytes(data)), parse_message(result.output)
    assert [p.content_type for p in before.walk()] == [p.content_type for p in after.walk()]


def test_a_charset_name_with_a_nul_is_an_unknown_charset(engine: Rewriter) -> None:
    data = case("qp-alternative").replace(
        b"text/plain; charset=utf-8", b"text/plain; charset=ut\0f"
    )
    with pytest.raises(InvalidMessage, match="unknown charset"):
        rewrite_message(data, engine, file="m.eml")


def test_diff_shows_the_changed_lines_of_a_message(tmp_path: Path) -> None:
    rules = write_rules(tmp_path)
    given = tmp_path / "message.eml"
    given.write_bytes(case("nested-mixed-related"))
    result = CliRunner().invoke(main, ["rewrite", str(given), "--rules", str(rules), "--diff"])
    assert result.exit_code == 1, result.output
    removed = [line for line in result.stdout.splitlines() if line.startswith("-") and not
               line.startswith("---")]  # fmt: skip
    assert removed == [
        "-X-Rewriter-Context: order-777",
        "-See https://shop.example.com/orders/777 (or <https://shop.example.com/help>).",
        '-<p><img src=3D"cid:logo@shop"> <a href=3D"https://shop.example.com/orders/777=',
        '-">Your order</a></p>',
    ]
    assert given.read_bytes() == case("nested-mixed-related")
