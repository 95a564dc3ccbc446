"""Properties of the engine on generated email HTML (tests/strategies.py).

Each property runs on documents with tables, VML and conditional comments, every quoting, tokens,
entities, cp1252, UTF-8 with a BOM or UTF-16, CRLF, and random bytes spliced in. The invariant
checks live in tests/fuzz/invariants.py, shared with the atheris targets; how byte preservation is
checked independently of the engine's own proof is explained in its module docstring, and
`test_the_preservation_check_catches_any_inserted_byte` shows the check has teeth.

`REWRITER_PROPERTY_EXAMPLES` raises the number of examples per property (default 120; the file
then runs in well under a minute on two cores).
"""

from __future__ import annotations

import codecs
import os

import pytest
from fuzz.invariants import (
    CONTEXT_FILE,
    InvariantError,
    Refused,
    annotation_spans,
    check_idempotent,
    check_preserved,
    check_tokens,
    engine,
    fresh_engine,
    output_tokens,
    utf8_form,
)
from fuzz.invariants import rewrite as rewrite_or_refuse
from hypothesis import HealthCheck, assume, given, reject, settings
from hypothesis import strategies as st
from strategies import chunkings, email_documents, http_urls

from rewriter.document.engine import PreservationError, Rewriter
from rewriter.document.inputs import TemplateError
from rewriter.models import Action, LinkRecord, Reason, Result
from rewriter.tokens.format import TokenError, decode_token

EXAMPLES = int(os.environ.get("REWRITER_PROPERTY_EXAMPLES", "120"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# The golden cases' default rules, and the case rule sets that change what is written.
RULE_SETS = (None, "annotate-off", "inky-button", "https-scheme", "campaign-context")
BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@PROPERTY
@given(data=email_documents(), case=st.sampled_from(RULE_SETS))
def test_bytes_outside_link_values_are_preserved(data: bytes, case: str | None) -> None:
    """No exception but the documented TemplateError (a PreservationError means the engine broke
    bytes), and the output is the input with only rewritten values and the annotation changed."""
    rewriter = engine(case)
    check_preserved(data, rewrite(rewriter, data), rewriter.rules)


@PROPERTY
@given(data=email_documents(), case=st.sampled_from(RULE_SETS))
def test_a_second_run_changes_nothing(data: bytes, case: str | None) -> None:
    rewriter = engine(case)
    check_idempotent(rewriter, rewrite(rewriter, data))


@PROPERTY
@given(data=email_documents())
def test_two_engines_give_the_same_bytes_and_records(data: bytes) -> None:
    first = rewrite(engine(), data)
    second = rewrite(fresh_engine(), data)
    assert second.output == first.output
    assert second.links == first.links


@PROPERTY
@given(st.data())
def test_chunking_does_not_change_output_or_records(data: st.DataObject) -> None:
    document = data.draw(email_documents(), label="document")
    chunks = data.draw(chunkings(document), label="chunks")
    rewriter = engine()
    try:
        whole = rewrite_or_refuse(rewriter, document)
    except Refused:  # refused whole (binary data): refused however it is cut
        with pytest.raises(TemplateError):
            rewriter.rewrite_stream(chunks, lambda _chunk: None, file=CONTEXT_FILE)
        return
    out: list[bytes] = []
    outcome = rewriter.rewrite_stream(chunks, out.append, file=CONTEXT_FILE)
    assert b"".join(out) == whole.output
    assert tuple(outcome.links) == whole.links


@PROPERTY
@given(data=email_documents(), case=st.sampled_from(RULE_SETS))
def test_every_token_decodes_to_its_destination(data: bytes, case: str | None) -> None:
    rewriter = engine(case)
    result = rewrite(rewriter, data)
    check_tokens(rewriter, result)
    output = utf8_form(result.output, result.encoding)
    assert len(output_tokens(output, rewriter.rules.tracking_prefix)) >= sum(
        link.action is Action.REWRITTEN for link in result.links
    )


@PROPERTY
@given(st.data())
def test_a_token_with_one_character_changed_is_rejected(data: st.DataObject) -> None:
    url = data.draw(http_urls().filter(lambda url: "go.example" not in url.lower()), label="url")
    document = data.draw(email_documents(max_splices=0), label="document")
    document += b'\n<a href="' + url.replace('"', "%22").encode() + b'">x</a>'
    rewriter = engine()
    tokens = output_tokens(rewrite(rewriter, document).output, rewriter.rules.tracking_prefix)
    assume(tokens)
    token = data.draw(st.sampled_from(tokens), label="token")
    assert decode_token(token, rewriter.ring).verified
    index = data.draw(st.integers(0, len(token) - 1), label="index")
    other = data.draw(st.sampled_from(BASE64URL.replace(token[index], "")), label="character")
    forged = token[:index] + other + token[index + 1 :]
    with pytest.raises(TokenError):
        decode_token(forged, rewriter.ring)


def rewrite(rewriter: Rewriter, data: bytes) -> Result:
    """Rewrite; an input the engine refuses as it documents (TemplateError) is not an example."""
    try:
        return rewrite_or_refuse(rewriter, data)
    except Refused:
        reject()


# --- the preservation check itself -------------------------------------------------------


@PROPERTY
@given(st.data())
def test_the_preservation_check_catches_any_inserted_byte(data: st.DataObject) -> None:
    """A NUL inserted anywhere in the output, except inside our annotation attribute (which the
    check leaves free), makes the check fail."""
    document = data.draw(email_documents(), label="document")
    rewriter = engine()
    result = rewrite(rewriter, document)
    at = data.draw(st.integers(0, len(result.output)), label="at")
    spans = annotation_spans(result.output, rewriter.rules)
    assume(not any(start < at < end for start, end in spans))
    broken = result.output[:at] + b"\x00" + result.output[at:]
    with pytest.raises(InvariantError):
        check_preserved(document, _with_output(result, broken), rewriter.rules)


def _with_output(result: Result, output: bytes) -> Result:
    return Result(output, result.links, result.encoding, True, result.warnings)


def _record(original: str, tracking_url: str | None) -> LinkRecord:
    action = Action.SKIPPED if tracking_url is None else Action.REWRITTEN
    reason = Reason.SCHEME if tracking_url is None else Reason.TRACKED
    return LinkRecord(None, 1, 1, "a", "href", "", original, tracking_url, action, reason, "")


TRACK = "http://go.example.com/l/AAAA"
CHECKER_CASES = [
    # (input, claimed output, claimed rewritten originals, whether the check passes)
    (b'<a href="http://x/">', b'<a href="' + TRACK.encode() + b'">', ["http://x/"], True),
    (b"<a href=http://x/>", b"<a href=" + TRACK.encode() + b">", ["http://x/"], True),
    (b'<a href="x&amp;y">', b'<a href="' + TRACK.encode() + b'">', ["x&y"], True),
    (
        b'<a href="http://x/">',
        b'<a href="' + TRACK.encode() + b'" data-link-security="secure">',
        ["http://x/"],
        True,
    ),
    (b'<a href="http://x/">', b'<a href="' + TRACK.encode() + b'" >', ["http://x/"], False),
    (b'<a href="http://x/">', b'<A href="' + TRACK.encode() + b'">', ["http://x/"], False),
    (b'<a href="http://x/">', b'<a href="' + TRACK.encode() + b'">', [], False),
    (b'<a href="http://x/">', b'<a href="http://x/">', ["http://x/"], False),
    (b'<a href="http://x/">', b"<a href='" + TRACK.encode() + b"'>", ["http://x/"], False),
    (b'<a href="http://x/">\r\n', b'<a href="' + TRACK.encode() + b'">\n', ["http://x/"], False),
    (b'<a href="http://x/">', b'<a href="' + TRACK.encode() + b'">!', ["http://x/"], False),
    (b'<a href="http://x/">!', b'<a href="' + TRACK.encode() + b'">', ["http://x/"], False),
    # Annotations are skipped between values only: a link value is read whole, as written.
    (
        b'<a href=http://x/ data-link-security="s"/>',
        b"<a href=" + TRACK.encode() + b' data-link-security="t"/>',
        ["http://x/"],
        True,
    ),
    (
        b'<a href=http://x/ data-link-security="s"/>',
        b"<a href=" + TRACK.encode() + b"/>",
        ["http://x/"],
        False,
    ),
    (
        b'<a href="http://x/ data-link-security=1">',
        b'<a href="' + TRACK.encode() + b'">',
        ["http://x/ data-link-security=1"],
        True,
    ),
    (
        b'<a href="http://x/ data-link-security=1">',
        b'<a href="' + TRACK.encode() + b'">',
        ["http://x/"],
        False,
    ),
]


@pytest.mark.parametrize(("before", "after", "originals", "passes"), CHECKER_CASES)
def test_the_preservation_check_on_hand_made_outputs(
    before: bytes, after: bytes, originals: list[str], passes: bool
) -> None:
    records = tuple(_record(original, TRACK) for original in originals)
    result = Result(after, records, "utf-8", True)
    if passes:
        check_preserved(before, result, engine().rules)
    else:
        with pytest.raises(InvariantError):
            check_preserved(before, result, engine().rules)


def test_an_annotation_after_an_unquoted_value_is_not_read_into_it() -> None:
    # Found at 1,000 examples: the check once cut annotations out before reading values, so
    # `href=http&#58;//[::1]&quest;` ran on into `/href="` after the annotation it had cut.
    text = (
        '<a href=http&#58;//[::1]&quest; data-link-security="secure"/href=" http&#58;&#x2F;'
        '&#x2F;www.example.com&quest;">Hello</a>'
    )
    for data in (text.encode(), codecs.BOM_UTF16_LE + text.encode("utf-16-le")):
        check_preserved(data, rewrite(engine(), data), engine().rules)


def test_preservation_error_is_reported_as_an_invariant_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rewriter = fresh_engine()

    def broken(*args: object, **kwargs: object) -> Result:
        raise PreservationError("simulated")

    monkeypatch.setattr(rewriter, "rewrite", broken)
    with pytest.raises(InvariantError, match="PreservationError"):
        rewrite(rewriter, b"<a href=x>")


def test_the_idempotence_check_catches_another_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    rewriter = fresh_engine()
    first = rewrite(rewriter, b"<p>caf\xe9</p>")
    assert first.encoding == "utf-8"

    def as_cp1252(data: bytes, file: str | None = None) -> Result:
        return Result(data, (), "cp1252", False)

    monkeypatch.setattr(rewriter, "rewrite", as_cp1252)
    with pytest.raises(InvariantError, match="reads the output as cp1252"):
        check_idempotent(rewriter, first)
