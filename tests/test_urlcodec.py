"""The URL codec of token format version 1: tables, round trip, strict decoding, golden values."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewriter.tokens import codec as urlcodec
from rewriter.tokens.codec import (
    CODE_LENGTHS,
    DICTIONARY,
    FIRST_CODE,
    MAX_CODE_LENGTH,
    CodecError,
    canonical_codes,
    decode,
    encode,
)

PRINTABLE_ASCII = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=400)
URL_LIKE = st.lists(
    st.sampled_from([*DICTIONARY, "a", "/", "?", "=", "&", "-", "7", "Z", "%", "~"]), max_size=60
).map("".join)


# --- The tables are format version 1: pinned ------------------------------------------------


def test_the_generator_reproduces_the_code_length_literal() -> None:
    # Fails if the training data, the dictionary or the generator changed: each of those would
    # change every token already sent. Make a new format version instead.
    assert urlcodec.training_code_lengths() == CODE_LENGTHS


def test_rebuild_prints_the_literal_that_is_in_the_module(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert urlcodec.main(["--rebuild"]) == 0
    printed = capsys.readouterr().out
    source = Path(urlcodec.__file__).read_text(encoding="utf-8")
    assert printed.strip() in source


def test_rebuild_needs_its_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert urlcodec.main([]) == 2
    assert "usage" in capsys.readouterr().err


def test_code_lengths_make_a_complete_code_over_every_byte() -> None:
    assert len(CODE_LENGTHS) == 256
    assert 8 <= max(CODE_LENGTHS) <= MAX_CODE_LENGTH  # >= 8: padding of < 8 ones is no symbol
    assert sum(2.0**-length for length in CODE_LENGTHS) == 1.0
    codes = canonical_codes(CODE_LENGTHS)
    assert len(set(codes)) == 256
    assert max(codes, key=lambda code: (len(code), code)) == "1" * max(CODE_LENGTHS)


def test_dictionary_entries_are_printable_ascii_and_codes_cannot_occur_in_a_url() -> None:
    assert len(set(DICTIONARY)) == len(DICTIONARY)
    assert FIRST_CODE >= 0x80 and FIRST_CODE + len(DICTIONARY) <= 0x100
    for entry in DICTIONARY:
        assert entry.isascii() and entry.isprintable() and len(entry) >= 3


def test_dictionary_is_pinned() -> None:
    assert DICTIONARY[:4] == ("https://www.", "http://www.", "https://", "http://")
    assert len(DICTIONARY) == 24
    assert DICTIONARY[4:6] == ("&utm_medium=email&utm_campaign=", "utm_source=")
    assert DICTIONARY[-1] == "index"


@pytest.mark.parametrize(
    ("lengths", "message"),
    [
        ((1, 1, 1), "complete prefix code"),
        ((2, 2, 2), "complete prefix code"),
        ((1, 0), "no code"),
    ],
)
def test_canonical_codes_refuses_lengths_that_are_not_a_complete_code(
    lengths: tuple[int, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        canonical_codes(lengths)


def test_canonical_codes_are_canonical() -> None:
    assert canonical_codes((2, 1, 3, 3)) == ["10", "0", "110", "111"]


# --- Golden encodings ------------------------------------------------------------------------

GOLDEN = [
    ("https://www.example.com/", b"", "e23bc1d068e1"),
    (
        "https://www.example.com/products/anvil?utm_source=newsletter&utm_medium=email"
        "&utm_campaign=spring_sale_2026&utm_content=hero",
        b"newsletters/2026-11.html",
        "78ee8b4652138a699e9cc8a289ae939bc47783a0d1c2064bbd528a41fb58daba75f38c0d8fb6b88346ba67a7"
        "362f45c265",
    ),
    (
        "http://example.org/a%20b?x=1#top",
        b"spring-sale-2026",
        "8c0d8fb511068a299e9cdf5a3bc1d068cc476a43d3655bf551f2a450",
    ),
]


@pytest.mark.parametrize(("destination", "context", "hex_code"), GOLDEN)
def test_golden_encodings(destination: str, context: bytes, hex_code: str) -> None:
    assert encode(destination, context).hex() == hex_code
    assert decode(bytes.fromhex(hex_code), len(context), 8192) == (context, destination)


# --- Round trip and strict decoding ----------------------------------------------------------


@given(PRINTABLE_ASCII, st.binary(max_size=255))
def test_round_trip(destination: str, context: bytes) -> None:
    assert decode(encode(destination, context), len(context), 8192) == (context, destination)


@given(URL_LIKE)
def test_round_trip_of_dictionary_heavy_text(destination: str) -> None:
    assert decode(encode(destination), 0, 8192) == (b"", destination)


def test_typical_urls_shrink_to_about_half() -> None:
    url = (
        "https://www.northwind.com/collections/winter/products/parka?variant=40211937853621"
        "&utm_source=newsletter&utm_medium=email&utm_campaign=winter_launch_2026"
        "&utm_content=hero_button"
    )
    assert len(encode(url)) / len(url) < 0.55


def test_padding_is_fewer_than_eight_one_bits() -> None:
    coded = encode("https://")  # one 7-bit symbol: one padding bit
    assert len(coded) == 1
    assert coded[0] & 1 == 1


@pytest.mark.parametrize(
    ("data", "context_length", "message"),
    [
        (encode("a.b/c")[:-1] + bytes([encode("a.b/c")[-1] & 0xFE]), 0, "bad padding"),
        (encode("a.b/c") + b"\xff", 0, "bad padding|printable"),
        (encode("https://a.com/", b"ctx"), 40, "ends inside the context"),
        (b"\x0e", 0, "bad padding"),  # "a" is 0000, then 1110 is no symbol and no padding
    ],
)
def test_malformed_streams_are_refused(data: bytes, context_length: int, message: str) -> None:
    with pytest.raises(CodecError, match=message):
        decode(data, context_length, 8192)


def test_a_whole_byte_of_padding_is_refused() -> None:
    destination = next(
        d
        for d in ("ab", "abc", "abcd", "aaaaaa", "aa", "eeee", "ea")
        if len(encode(d)) * 8 == sum(CODE_LENGTHS[b] for b in d.encode())
    )
    assert decode(encode(destination), 0, 8192)[1] == destination
    with pytest.raises(CodecError, match="bad padding"):
        decode(encode(destination) + b"\xff", 0, 8192)


def test_decoding_stops_at_the_length_cap() -> None:
    coded = encode("e" * 5000)
    assert decode(coded, 0, 5000)[1] == "e" * 5000
    with pytest.raises(CodecError, match="too"):
        decode(coded, 0, 4999)


def test_expansion_counts_against_the_cap() -> None:
    coded = encode("https://www." * 100)
    with pytest.raises(CodecError, match="too long"):
        decode(coded, 0, 1199)


def test_a_stray_code_byte_in_the_destination_is_refused() -> None:
    stray = bytes([0x05])  # a control byte: a valid symbol, but no URL has it
    coded = encode("x", stray)  # put it where the context would be, then decode it as URL
    with pytest.raises(CodecError, match="printable ASCII"):
        decode(coded, 0, 8192)


def test_non_ascii_destination_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="ASCII"):
        encode("https://é.com/")


@given(st.binary(max_size=300), st.integers(0, 255))
def test_decoding_arbitrary_bytes_raises_only_codec_error(data: bytes, context_length: int) -> None:
    try:
        context, destination = decode(data, context_length, 8192)
    except CodecError:
        return
    assert len(context) == context_length
    assert re.fullmatch(r"[ -~]*", destination)
