"""The engine's re-scan proof (fast mode keeps it): an output that differs from its input outside
the rewritten link values is refused, whether or not any link was rewritten."""

from __future__ import annotations

import pytest
from golden import DEFAULT_RULES

from rewriter.batch.factory import make_rewriter
from rewriter.document.engine import PROOF_BATCH, PreservationError, Rewriter
from rewriter.document.scan import LinkTag
from rewriter.models import LinkRecord
from rewriter.rules.loader import load_rules

TRACKED = b'<p><a href="https://www.example.com/">x</a></p>\n'
SKIPPED = b'<p><a href="mailto:a@example.com">x</a></p>\n'
NO_LINK = b"<p>no link</p>\n"


class Faulty(Rewriter):
    """An engine whose splice also changes the tag's name (a byte outside the link value)."""

    def process(self, tag: LinkTag, document: object) -> tuple[bytes, LinkRecord | None, bool]:
        new_raw, record, masked = super().process(tag, document)  # type: ignore[arg-type]
        return new_raw.replace(b"<a ", b"<A ", 1), record, masked


@pytest.fixture(scope="module")
def engine() -> Rewriter:
    return make_rewriter(load_rules(DEFAULT_RULES), keys=True)


@pytest.fixture(scope="module")
def faulty(engine: Rewriter) -> Faulty:
    return Faulty(engine.rules, engine.ring, engine.classifier)


@pytest.mark.parametrize(
    "data",
    [TRACKED, SKIPPED, NO_LINK * (PROOF_BATCH // len(NO_LINK)) + SKIPPED],
    ids=["rewritten", "skipped", "after-a-full-batch"],
)
def test_a_change_outside_the_values_is_refused(faulty: Faulty, data: bytes) -> None:
    with pytest.raises(PreservationError, match="outside the rewritten link values"):
        faulty.rewrite(data)


@pytest.mark.parametrize("data", [TRACKED, SKIPPED, NO_LINK, NO_LINK * PROOF_BATCH])
def test_a_faithful_output_passes(engine: Rewriter, data: bytes) -> None:
    result = engine.rewrite(data)
    assert result.changed is (data == TRACKED)
    assert (result.output == data) is (data != TRACKED)
