"""The engine as a driver of stages: decide, sign, classify, splice, prove, write, in that order,
with the memos of decide, classify and sign; and the stages as functions over data."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from golden import DEFAULT_RULES

from rewriter.batch.factory import make_rewriter
from rewriter.document import engine as engine_module
from rewriter.document import stages
from rewriter.document.encoding import sniff
from rewriter.document.engine import Rewriter
from rewriter.document.proof import Proof
from rewriter.document.scan import LinkTag, scan
from rewriter.models import Action, Reason, Status
from rewriter.rules.loader import load_rules

LINK = b'<a href="https://www.example.com/">x</a>'


@pytest.fixture(scope="module")
def engine() -> Rewriter:
    return make_rewriter(load_rules(DEFAULT_RULES), keys=True)


def traced(
    engine: Rewriter, monkeypatch: pytest.MonkeyPatch, calls: list[str]
) -> Callable[[bytes], bytes]:
    """A fresh engine whose stages note their names as they run; returns its rewrite."""
    for name in ("decide", "sign", "classify", "splice"):
        stage = getattr(engine_module, name)

        def noting(
            *args: object, _name: str = name, _stage: Callable[..., object] = stage
        ) -> object:
            calls.append(_name)
            return _stage(*args)

        monkeypatch.setattr(engine_module, name, noting)
    prove_tag = Proof.tag

    def proving(self: Proof, *args: object, **kwargs: bool) -> None:
        calls.append("prove")
        prove_tag(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Proof, "tag", proving)
    fresh = Rewriter(engine.rules, engine.ring, engine.classifier)

    def rewrite(data: bytes) -> bytes:
        out: list[bytes] = []

        def write(piece: bytes) -> None:
            if piece.startswith(b"<a "):
                calls.append("write")
            out.append(piece)

        fresh.rewrite_stream([data], write, file="t.html")
        return b"".join(out)

    return rewrite


def test_the_stages_run_in_order_and_the_memos_hold(
    engine: Rewriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    rewrite = traced(engine, monkeypatch, calls)
    output = rewrite(LINK + LINK)
    first = ["decide", "sign", "classify", "splice", "prove", "write"]
    # The second copy: decide and classify come from their memos; sign from its own (the token).
    assert calls == [*first, "sign", "splice", "prove", "write"]
    assert output == engine.rewrite(LINK + LINK, file="t.html").output


def test_the_stages_are_functions_over_data(engine: Rewriter) -> None:
    (tag,) = [piece for piece in scan(LINK) if isinstance(piece, LinkTag)]
    link = tag.attribute("href")
    assert link is not None
    setup = engine.setup
    judged = stages.decide(setup, tag.value(link), (), sniff(LINK))
    assert judged.decision.action is Action.REWRITTEN and judged.tracking.url is None
    tokens: list[tuple[str, str]] = []

    def token(destination: str, context: str) -> str:
        tokens.append((destination, context))
        return "TOKEN"

    tracking = stages.sign(setup, judged, "ctx", token)
    assert tokens == [("https://www.example.com/", "ctx")]
    assert tracking.url == setup.prefix + "TOKEN"
    verdict = stages.classify(setup, judged.decision, tracking)
    # The verdict is the tracking hop's and the destination's, not the token's: the same as
    # without one (what lets the engine memoise it per link value, across files).
    assert verdict == stages.classify(setup, judged.decision, judged.tracking)
    assert verdict is not None and verdict.status is Status.SECURE
    assert stages.ours(judged.decision, tracking)
    assert stages.splice(setup, tag, link, judged.decision, tracking, verdict) == (
        b'<a href="' + setup.prefix.encode() + b'TOKEN" data-link-security="'
        + str(verdict.status).encode() + b'">'
    )  # fmt: skip


def test_a_link_not_ours_is_spliced_to_its_own_bytes(engine: Rewriter) -> None:
    data = b'<a href="mailto:a@example.com" title=t>'
    (tag,) = [piece for piece in scan(data) if isinstance(piece, LinkTag)]
    link = tag.attribute("href")
    assert link is not None
    judged = stages.decide(engine.setup, tag.value(link), (), sniff(data))
    assert judged.decision.reason_code is Reason.SCHEME
    tracking = stages.sign(engine.setup, judged, "ctx", lambda d, c: "unused")
    assert not stages.ours(judged.decision, tracking)
    verdict = stages.classify(engine.setup, judged.decision, tracking)
    assert stages.splice(engine.setup, tag, link, judged.decision, tracking, verdict) is tag.raw


def test_the_memos_are_bounded(engine: Rewriter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "MEMO_SIZE", 3)
    fresh = Rewriter(engine.rules, engine.ring, engine.classifier)
    data = b"".join(b'<a href="https://www.example.com/%d">x</a>' % n for n in range(10))
    assert fresh.rewrite(data, file="t.html").output == engine.rewrite(data, file="t.html").output
    assert 0 < len(fresh._judged) <= 3 and 0 < len(fresh._verdicts) <= 3
    assert 0 < len(fresh._tokens) <= 3 and 0 < len(fresh._signed) <= 3
