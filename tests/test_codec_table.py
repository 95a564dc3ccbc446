"""The table-driven decoder of the URL codec gives exactly what the bit-by-bit decoder it
replaced gave: the same symbols for every stream, the same error for every bad one; and its
compiled twin (rewriter/tokens/_cdecode.c) gives exactly what its Python loop gives."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from functools import cache

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rewriter.tokens import codec
from rewriter.tokens.codec import CodecError, canonical_codes


# The decoder of commit 27498ce (format version 1's first decoder), kept as the reference.
def reference_decode_symbols(data: bytes, max_symbols: int) -> bytes:
    table = _reference_table()
    width = max(codec.CODE_LENGTHS)
    total = len(data) * 8
    bits = format(int.from_bytes(data, "big"), f"0{total}b") if data else ""
    padded = bits + "0" * width
    symbols = bytearray()
    position = 0
    while len(symbols) <= max_symbols:
        entry = table[int(padded[position : position + width], 2)]
        length = entry & 0x1F
        if position + length > total:
            break
        symbols.append(entry >> 5)
        position += length
    else:
        raise CodecError("stream decodes to too many bytes")
    rest = bits[position:]
    if len(rest) >= 8 or rest != "1" * len(rest):
        raise CodecError("bad padding")
    return bytes(symbols)


@cache
def _reference_table() -> list[int]:
    width = max(codec.CODE_LENGTHS)
    table = [0] * (1 << width)
    for symbol, code in enumerate(canonical_codes(codec.CODE_LENGTHS)):
        span = 1 << (width - len(code))
        start = int(code, 2) * span
        table[start : start + span] = [symbol << 5 | len(code)] * span
    return table


def outcome(decoder: object, data: bytes, max_symbols: int) -> bytes | str:
    assert callable(decoder)
    try:
        result = decoder(data, max_symbols)
    except CodecError as error:
        return f"error: {error}"
    assert isinstance(result, bytes)
    return result


# Whether the compiled twin is built (this process may run with REWRITER_SCANNER=python, which
# leaves it unused but importable).
BUILT = importlib.util.find_spec("rewriter.tokens._cdecode") is not None
needs_twin = pytest.mark.skipif(not BUILT, reason="the compiled token decoder is not built")


def compiled_outcome(data: bytes) -> tuple[bytes, int]:
    from rewriter.tokens._cdecode import decode_symbols

    symbols, node = decode_symbols(data, *codec._compiled_tables())
    return symbols, node << 8


@settings(max_examples=3000)
@given(st.binary(max_size=300), st.integers(min_value=0, max_value=500))
@example(b"", 0)
@example(b"\xff", 0)
@example(b"\xfe", 5)
@example(b"\xff\xff", 3)
def test_same_outcome_as_the_bit_by_bit_decoder_on_any_bytes(data: bytes, limit: int) -> None:
    assert outcome(codec._decode_symbols, data, limit) == outcome(
        reference_decode_symbols, data, limit
    )


@settings(max_examples=1000)
@given(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=400),
    st.binary(max_size=40),
)
def test_same_symbols_as_the_bit_by_bit_decoder_on_encoded_urls(url: str, context: bytes) -> None:
    data = codec.encode(url, context)
    new = codec._decode_symbols(data, 10_000)
    assert new == reference_decode_symbols(data, 10_000)
    assert codec.decode(data, len(context), 8192) == (context, url)
    if BUILT:  # and each twin on its own, whichever _decode_symbols uses
        assert compiled_outcome(data) == codec._decode_in_python(data)


@pytest.mark.parametrize("cut", [1, 2, 5])
def test_a_cut_stream_fails_the_same_way(cut: int) -> None:
    data = codec.encode("https://www.example.com/newsletter?utm_source=email", b"ctx")
    for end in range(len(data) - cut, len(data)):
        assert outcome(codec._decode_symbols, data[:end], 100) == outcome(
            reference_decode_symbols, data[:end], 100
        )


@needs_twin
@settings(max_examples=3000)
@given(st.binary(max_size=600))
@example(b"")
@example(b"\xff" * 40)  # the longest codes, and padding states
@example(b"\x00" * 40)
def test_the_compiled_twin_gives_the_symbols_and_end_state_of_the_python_loop(data: bytes) -> None:
    assert compiled_outcome(data) == codec._decode_in_python(data)


@needs_twin
def test_the_compiled_twin_refuses_tables_of_the_wrong_size() -> None:
    from rewriter.tokens._cdecode import decode_symbols

    nodes, packed, stride = codec._compiled_tables()
    with pytest.raises(ValueError, match="wrong size"):
        decode_symbols(b"abc", nodes[:-1], packed, stride)
    with pytest.raises(ValueError, match="wrong size"):
        decode_symbols(b"abc", nodes, packed, stride + 1)


def decoder_in_a_process(scanner: str | None) -> str:
    env = {key: value for key, value in os.environ.items() if key != "REWRITER_SCANNER"}
    if scanner is not None:
        env["REWRITER_SCANNER"] = scanner
    code = "from rewriter.tokens.codec import DECODER; print(DECODER)"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
        check=True,
    )  # fmt: skip
    return result.stdout.strip()


def test_the_pure_python_twins_are_chosen_together() -> None:
    assert decoder_in_a_process("python") == "python"
    assert decoder_in_a_process(None) == ("c" if BUILT else "python")
