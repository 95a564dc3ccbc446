"""Golden cases: each tests/cases/<name>/ holds an input, optional rules, the expected output
(absent: the output must equal the input) and the expected link records."""

from __future__ import annotations

import json

import pytest
from golden import CASES, case_names, engine_for, expected_path, input_path, links_json, pinned, run

from rewriter.batch.factory import load_ring
from rewriter.document.engine import link_context
from rewriter.models import Action
from rewriter.tokens.format import decode_token


@pytest.mark.parametrize("name", case_names())
def test_output_is_exactly_as_expected(name: str) -> None:
    case = CASES / name
    data, result = run(case)
    expected = expected_path(case)
    assert result.output == (expected.read_bytes() if expected.exists() else data)


@pytest.mark.parametrize("name", case_names())
def test_link_records_are_as_expected(name: str) -> None:
    case = CASES / name
    _, result = run(case)
    expected = json.loads((case / "links.json").read_text(encoding="utf-8"))
    assert [pinned(link) for link in result.links] == expected
    assert links_json(result) == (case / "links.json").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", case_names())
def test_second_run_changes_nothing(name: str) -> None:
    case = CASES / name
    _, first = run(case)
    engine = engine_for(case)
    second = engine.rewrite(first.output, file=input_path(case).name)
    assert second.output == first.output
    assert not second.changed


@pytest.mark.parametrize("name", case_names())
def test_every_tracking_link_resolves_to_its_destination(name: str) -> None:
    case = CASES / name
    _, result = run(case)
    rules = engine_for(case).rules
    ring = load_ring(rules)
    prefix = rules.tracking_prefix
    for link in result.links:
        if link.action is Action.REWRITTEN:
            assert link.tracking_url is not None
            assert link.tracking_url.startswith(prefix)
            contents = decode_token(link.tracking_url.rsplit("/", 1)[1], ring)
            assert contents.verified
            assert contents.destination == link.destination
            assert contents.context == link_context(rules, input_path(case).name)
