"""Every HTML-bearing template of ../shared/corpus (real third-party templates): rewritten with
the engine's proof of preservation, stable on a second run, and every tracking link resolving to
its original destination. Skipped when ../shared is absent (a fresh clone)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SHARED
from golden import DEFAULT_RULES

from rewriter.batch.factory import load_ring, make_rewriter
from rewriter.batch.sources import TEMPLATE_SUFFIXES
from rewriter.document.engine import Rewriter
from rewriter.models import Action
from rewriter.rules.loader import load_rules
from rewriter.tokens.format import decode_token

CORPUS = SHARED / "corpus"


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.suffix.lower() in TEMPLATE_SUFFIXES)


@pytest.fixture(scope="module")
def engine() -> Rewriter:
    return make_rewriter(load_rules(DEFAULT_RULES), keys=True)


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")
def test_corpus_has_templates() -> None:
    assert len(corpus_files()) > 400


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: str(p.relative_to(CORPUS)))
def test_corpus_template(path: Path, engine: Rewriter) -> None:
    data = path.read_bytes()
    relative = str(path.relative_to(CORPUS))
    result = engine.rewrite(data, file=relative, relative=relative)  # proves preservation
    again = engine.rewrite(result.output, file=relative, relative=relative)
    assert again.output == result.output
    ring = load_ring(engine.rules)
    for link in result.links:
        if link.action is Action.REWRITTEN:
            assert link.tracking_url is not None
            assert link.tracking_url.encode() in result.output
            token = link.tracking_url.rsplit("/", 1)[1]
            assert decode_token(token, ring).destination == link.destination
