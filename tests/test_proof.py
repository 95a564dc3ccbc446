"""The engine's proof (fast mode keeps it): an output that differs from its input outside the
rewritten link values is refused, whether or not any link was rewritten."""

from __future__ import annotations

import pytest
from golden import DEFAULT_RULES

from rewriter.batch.factory import make_rewriter
from rewriter.document import engine as engine_module
from rewriter.document.engine import PreservationError, Rewriter
from rewriter.document.stages import splice
from rewriter.rules.loader import load_rules

TRACKED = b'<p><a href="https://www.example.com/">x</a></p>\n'
SKIPPED = b'<p><a href="mailto:a@example.com">x</a></p>\n'
NO_LINK = b"<p>no link</p>\n"
PROOF_BATCH = 1 << 16  # the bytes the proof once re-scanned at a time: a long document


def faulty_splice(*args: object) -> bytes:
    """A splice that also changes the tag's name (a byte outside the link value)."""
    return splice(*args).replace(b"<a ", b"<A ", 1)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def engine() -> Rewriter:
    return make_rewriter(load_rules(DEFAULT_RULES), keys=True)


@pytest.fixture
def faulty(engine: Rewriter, monkeypatch: pytest.MonkeyPatch) -> Rewriter:
    monkeypatch.setattr(engine_module, "splice", faulty_splice)
    return Rewriter(engine.rules, engine.ring, engine.classifier)


@pytest.mark.parametrize(
    "data",
    [TRACKED, SKIPPED, NO_LINK * (PROOF_BATCH // len(NO_LINK)) + SKIPPED],
    ids=["rewritten", "skipped", "after-a-full-batch"],
)
def test_a_change_outside_the_values_is_refused(faulty: Rewriter, data: bytes) -> None:
    with pytest.raises(PreservationError, match="outside the rewritten link values"):
        faulty.rewrite(data)


@pytest.mark.parametrize("data", [TRACKED, SKIPPED, NO_LINK, NO_LINK * PROOF_BATCH])
def test_a_faithful_output_passes(engine: Rewriter, data: bytes) -> None:
    result = engine.rewrite(data)
    assert result.changed is (data == TRACKED)
    assert (result.output == data) is (data != TRACKED)
