"""Tokens already sent keep resolving: the committed fixture of format version 1 (made with a
fixed test key by tests/data/compat/make_tokens_v1.py) decodes, verifies and re-encodes
exactly, in this version and every later one. Never regenerate the fixture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rewriter.tokens.format import TokenError, decode_token, encode_token
from rewriter.tokens.keys import KeyRing

FIXTURE = json.loads(
    (Path(__file__).parent / "data" / "compat" / "tokens-v1.json").read_text(encoding="utf-8")
)
RING = KeyRing.from_text(FIXTURE["key"], "the compatibility fixture")
ENTRIES = FIXTURE["tokens"]


def test_the_fixture_is_format_version_1_and_not_empty() -> None:
    assert FIXTURE["format_version"] == 1
    assert len(ENTRIES) >= 10


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda entry: entry["token"][:24])
def test_every_fixture_token_resolves_to_its_destination(entry: dict[str, str]) -> None:
    contents = decode_token(entry["token"], RING)
    assert contents.verified and contents.version == 1 and contents.key_id == "compat1"
    assert (contents.destination, contents.context) == (entry["destination"], entry["context"])


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda entry: entry["token"][:24])
def test_the_same_input_still_makes_the_same_token(entry: dict[str, str]) -> None:
    assert encode_token(entry["destination"], entry["context"], RING) == entry["token"]


def test_the_fixture_tokens_verify_after_new_keys_are_added() -> None:
    newer = "k9 " + "A" * 43
    ring = KeyRing.from_text(newer + "\n" + FIXTURE["key"], "rotated")
    assert ring.current == "k9"
    for entry in ENTRIES:
        assert decode_token(entry["token"], ring).destination == entry["destination"]


def test_the_fixture_tokens_do_not_verify_without_their_key() -> None:
    other = KeyRing.from_text("compat1 " + "B" * 43, "another key with the same id")
    for entry in ENTRIES:
        with pytest.raises(TokenError):
            decode_token(entry["token"], other)
