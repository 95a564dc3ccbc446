"""The smaller wins of the speed issue, and what they must not lose: link records made faster
but the same frozen records; the charset sniff's memo large enough for a batch, and bounded;
the safe mode's round trip skipping only the tokens the engine has just signed."""

from __future__ import annotations

import dataclasses
import inspect
import pickle

import pytest
from golden import DEFAULT_RULES

from rewriter.batch.factory import make_rewriter
from rewriter.document import encoding, safety
from rewriter.document.engine import Rewriter
from rewriter.models import Action, LinkRecord, Reason, Status, new_link_record
from rewriter.rules.loader import load_rules
from rewriter.tokens.format import TokenContents

# A distinct value for every field, so that a field set from the wrong argument shows.
VALUES = (
    "f.html", 3, 5, "a", "href", "text", "https://x.example/", "http://go.example.com/l/T",
    Action.REWRITTEN, Reason.REISSUED, "detail", "https://y.example/", True, Status.INSECURE,
    "why", True,
)  # fmt: skip


def test_a_fast_record_is_the_record() -> None:
    fast, slow = new_link_record(*VALUES), LinkRecord(*VALUES)
    assert type(fast) is LinkRecord
    assert fast == slow and hash(fast) == hash(slow)
    assert [getattr(fast, f.name) for f in dataclasses.fields(LinkRecord)] == list(VALUES)
    assert pickle.loads(pickle.dumps(fast)) == slow
    assert dataclasses.replace(fast, line=4) == dataclasses.replace(slow, line=4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.line = 4  # type: ignore[misc]


def test_the_fast_record_takes_every_field_in_order_with_its_default() -> None:
    # A field added to LinkRecord must be added to new_link_record too.
    parameters = inspect.signature(new_link_record).parameters
    fields = dataclasses.fields(LinkRecord)
    assert list(parameters) == [f.name for f in fields]
    assert [p.default for p in parameters.values()] == [
        inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default for f in fields
    ]
    defaults = new_link_record(*VALUES[:11])
    assert defaults == LinkRecord(*VALUES[:11])


def test_the_sniff_memo_holds_a_batch_of_heads_and_is_bounded() -> None:
    maxsize = encoding._sniff.cache_info().maxsize
    assert maxsize is not None and maxsize >= 512
    encoding._sniff.cache_clear()
    heads = [b'<meta charset="windows-1252"><!-- template %d -->' % n for n in range(300)]
    first = [encoding.sniff(head) for head in heads]
    assert [encoding.sniff(head) for head in heads] == first
    assert encoding._sniff.cache_info().hits == len(heads)


@pytest.fixture(scope="module")
def engine() -> Rewriter:
    return make_rewriter(load_rules(DEFAULT_RULES), keys=True)


DOCUMENT = b'<a href="https://www.example.com/a">a</a><a href="https://www.example.com/b">b</a>'


def counting_decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    decoded: list[str] = []
    decode = safety.decode_token

    def counting(token: str, ring: object = None) -> TokenContents:
        decoded.append(token)
        return decode(token, ring)  # type: ignore[arg-type]

    monkeypatch.setattr(safety, "decode_token", counting)
    return decoded


def test_the_round_trip_does_not_decode_what_the_engine_just_signed(
    engine: Rewriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = engine.rewrite(DOCUMENT, file="t.html")
    decoded = counting_decodes(monkeypatch)
    assert safety.round_trip_problems(result.output, engine, result.links) == []
    assert decoded == []


def test_the_round_trip_reads_back_every_link_another_engine_signed(
    engine: Rewriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = engine.rewrite(DOCUMENT, file="t.html")
    other = Rewriter(engine.rules, engine.ring, engine.classifier)  # nothing signed here
    decoded = counting_decodes(monkeypatch)
    assert safety.round_trip_problems(result.output, other, result.links) == []
    assert len(decoded) == 2


def test_the_round_trip_still_catches_a_record_that_does_not_match_its_token(
    engine: Rewriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = engine.rewrite(DOCUMENT, file="t.html")
    first, second = result.links
    swapped = (dataclasses.replace(first, destination=second.destination), second)
    decoded = counting_decodes(monkeypatch)
    problems = safety.round_trip_problems(result.output, engine, swapped)
    assert len(decoded) == 1  # the one that is not what was signed is read back
    assert problems == [
        f"round trip: t.html:1:1: {first.tracking_url} leads to {first.destination},"
        f" not to {second.destination}"
    ]
    forged = (dataclasses.replace(first, tracking_url=first.tracking_url + "x"), second)  # type: ignore[operator]
    assert "does not verify" in safety.round_trip_problems(result.output, engine, forged)[0]
