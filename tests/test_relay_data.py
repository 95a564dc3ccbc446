"""The relay's DATA reader (`smtpdata`): the same message, replies and leftovers as aiosmtpd's own
line-by-line reading, whatever the chunks the bytes arrive in."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from rewriter.mail.smtpdata import TOO_LONG, TOO_MUCH, Data, read_data

LINE_LIMIT = 1001  # aiosmtpd's


def _read(
    chunks: Sequence[bytes], size_limit: int | None = None, eof: bool = False
) -> tuple[Data, bytes]:
    """What read_data makes of the chunks, fed one by one, and what it leaves in the stream."""

    async def run() -> tuple[Data, bytes]:
        reader = asyncio.StreamReader(limit=LINE_LIMIT)

        async def feed() -> None:
            for chunk in chunks:
                await asyncio.sleep(0)
                reader.feed_data(chunk)
            if eof:
                reader.feed_eof()

        feeding = asyncio.ensure_future(feed())
        data = await read_data(reader, size_limit, LINE_LIMIT)
        await feeding
        left = reader._buffer  # what the command loop reads next
        return data, bytes(left)

    return asyncio.run(run())


def _split(data: bytes, size: int) -> list[bytes]:
    return [data[index : index + size] for index in range(0, len(data), size)]


MESSAGE = b"Subject: x\r\n\r\n.starts with a dot\r\n..two\r\nbare\nLF .\r\n\r\n.\r\n"
CONTENT = b"Subject: x\r\n\r\nstarts with a dot\r\n.two\r\nbare\nLF .\r\n\r\n"


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 1000])
def test_dot_stuffing_removed_whatever_the_chunks(size: int) -> None:
    assert _read(_split(MESSAGE, size)) == (Data(CONTENT), b"")


def test_empty_message() -> None:
    assert _read([b".\r\n"]) == (Data(b""), b"")


def test_a_first_line_starting_with_a_dot() -> None:
    assert _read([b".x\r\n.\r\n"]) == (Data(b"x\r\n"), b"")


def test_bytes_after_the_end_stay_in_the_stream() -> None:
    assert _read([b"a\r\n.\r\nQUIT\r\n"]) == (Data(b"a\r\n"), b"QUIT\r\n")


def test_a_dot_line_without_crlf_before_it_does_not_end() -> None:
    data, _ = _read([b"a\n.\r\nb\r\n.\r\n"])
    assert data.content == b"a\n.\r\nb\r\n"


@pytest.mark.parametrize("length, refused", [(999, False), (1000, True)])
def test_line_limit_counts_the_crlf(length: int, refused: bool) -> None:
    data, _ = _read([b"a\r\n" + b"x" * length + b"\r\n.\r\n"])
    assert data == (Data(refusal=TOO_LONG) if refused else Data(b"a\r\n" + b"x" * length + b"\r\n"))


@pytest.mark.parametrize("size", [1, 10, 1 << 16])
def test_size_limit_refuses_after_the_end(size: int) -> None:
    body = b"".join(b"line %05d\r\n" % number for number in range(1000))  # 12,000 bytes
    assert _read(_split(body + b".\r\nQUIT\r\n", size), size_limit=12_000) == (
        Data(body),
        b"QUIT\r\n",
    )
    assert _read(_split(body + b".\r\nQUIT\r\n", size), size_limit=11_999) == (
        Data(refusal=TOO_MUCH),
        b"QUIT\r\n",
    )


def test_a_long_line_before_the_size_limit_is_too_long() -> None:
    data, _ = _read([b"x" * 5000 + b"\r\n" + b"y\r\n" * 5000 + b".\r\n"], size_limit=4000)
    assert data.refusal == TOO_LONG


def test_the_stream_ending_mid_data_cancels() -> None:
    with pytest.raises(asyncio.CancelledError):
        _read([b"a\r\nb"], eof=True)
