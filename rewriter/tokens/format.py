"""Tracking tokens: self-contained, signed, versioned, deterministic, URL-safe and short.

A token is the base64url text (no padding, so one path segment) of these bytes:

    byte 0       format version (1)
    byte 1       high nibble: key id length - 1; low nibble: flags (bit 0: body is coded;
                 the other bits are 0 in version 1)
    key id       1-16 ASCII bytes of [A-Za-z0-9_-]
    1 byte       context length in bytes (0-255)
    body         raw: the context's UTF-8 bytes then the destination's ASCII bytes;
                 coded: both through `urlcodec` (whichever is shorter is kept)
    16 bytes     HMAC-SHA256(key, keys.TOKEN_MAC_DOMAIN + every byte above), truncated

The destination and the context come back from the token alone; reading one needs no key, but
only a ring holding the key can say it is genuine (`verified`). The same destination, context and
key always give the same token, on every machine (no zlib: its output differs between builds).

Length bound: with a fixed overhead of 19 bytes (version, key id length and flags, context
length, MAC), a token is at most

    ceil(4 * (19 + len(key id) + len(context as UTF-8) + len(destination)) / 3)

characters, because the raw body is kept whenever the coded one is not shorter
(`token_length_bound` computes it). Typical ratio: the coded body is about half the raw one
(median 0.50, at most 0.65, on generated 150-400-character marketing URLs with UTM parameters
and a 24-byte context; median 0.54 on the corpus's shorter links), so with key id "k1" and that
context a token is about 0.89 of its destination's length at the median, and a 300-character
URL gives a token of about 270 characters (`bench/token_lengths.py` measures it).
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from hmac import compare_digest
from math import ceil

from rewriter.tokens import codec as urlcodec
from rewriter.tokens.keys import KEY_ID, KeyRing

VERSION = 1
FLAG_CODED = 0x01
_KNOWN_FLAGS = FLAG_CODED
MAC_BYTES = 16
FIXED_OVERHEAD = 1 + 1 + 1 + MAC_BYTES  # version, key id length and flags, context length, MAC
MAX_CONTEXT_BYTES = 255
MAX_DESTINATION_LENGTH = 8192  # characters; no email link is longer, and decoding stops here
MAX_KEY_ID_LENGTH = 16
MAX_TOKEN_LENGTH = ceil(
    4 * (FIXED_OVERHEAD + MAX_KEY_ID_LENGTH + MAX_CONTEXT_BYTES + MAX_DESTINATION_LENGTH) / 3
)

_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")  # bytes.translate: str.translate is 10x slower
_BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_BASE64URL_BYTES = _BASE64URL.encode("ascii")
# By length modulo 4: the low bits of the last character that carry no data (must be 0).
_UNUSED_BITS = {0: 0, 2: 0b1111, 3: 0b11}


class TokenError(ValueError):
    """A malformed token, or (with a key ring) one forged, altered or signed by an unknown key."""


@dataclass(frozen=True, slots=True)
class TokenContents:
    """What a token carries. `verified` is True only when a key ring checked its MAC."""

    destination: str
    context: str
    key_id: str
    version: int
    verified: bool


def encode_token(destination: str, context: str, ring: KeyRing) -> str:
    """The token for a destination (a WHATWG-serialised URL) and a context, signed by ring.current.

    Raises ValueError for a destination that is empty, longer than MAX_DESTINATION_LENGTH or not
    printable ASCII, or a context longer than MAX_CONTEXT_BYTES in UTF-8.
    """
    if not (destination.isascii() and destination.isprintable()) or not destination:
        raise ValueError("the destination must be non-empty printable ASCII (a serialised URL)")
    if len(destination) > MAX_DESTINATION_LENGTH:
        raise ValueError(f"the destination is longer than {MAX_DESTINATION_LENGTH} characters")
    context_bytes = _context_bytes(context)
    key_id = ring.current.encode("ascii")
    coded = urlcodec.encode(destination, context_bytes)
    if len(coded) < len(context_bytes) + len(destination):
        flags, body = FLAG_CODED, coded
    else:
        flags, body = 0, context_bytes + destination.encode("ascii")
    signed = (
        bytes((VERSION, (len(key_id) - 1) << 4 | flags))
        + key_id
        + len(context_bytes).to_bytes(1, "big")
        + body
    )
    mac = ring.mac(ring.current, signed)[:MAC_BYTES]
    return _to_text(signed + mac)


def decode_token(token: str, ring: KeyRing | None = None) -> TokenContents:
    """What a token carries; with a ring, only if its MAC checks.

    Raises TokenError for anything that is not a token this format could have made, and with a
    ring for a forged or altered token ("forged or altered") or an unknown key id.
    """
    data = _from_text(token)
    if data[0] != VERSION:
        raise TokenError(f"unsupported token version {data[0]}")
    if len(data) < 2:
        raise TokenError("truncated")
    flags = data[1] & 0x0F
    if flags & ~_KNOWN_FLAGS:
        raise TokenError("unknown flags")
    context_at = 2 + (data[1] >> 4) + 1
    if len(data) < context_at + 1 + MAC_BYTES:
        raise TokenError("truncated")
    key_id = data[2:context_at].decode("latin-1")
    if (ring is None or key_id not in ring.keys) and not KEY_ID.fullmatch(key_id):
        raise TokenError("malformed key id")  # a ring's own key ids were checked when loaded
    signed, mac = data[:-MAC_BYTES], data[-MAC_BYTES:]
    if ring is not None:
        _verify(signed, mac, key_id, ring)
    context, destination = _body(signed[context_at + 1 :], signed[context_at], flags)
    return TokenContents(destination, context, key_id, VERSION, ring is not None)


def token_length_bound(destination: str, context: str, key_id: str) -> int:
    """The most characters `encode_token` can return for these (the bound in the docstring)."""
    size = FIXED_OVERHEAD + len(key_id) + len(context.encode("utf-8")) + len(destination)
    return ceil(4 * size / 3)


def _context_bytes(context: str) -> bytes:
    try:
        data = context.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the context is not valid Unicode text") from None
    if len(data) > MAX_CONTEXT_BYTES:
        raise ValueError(f"the context is longer than {MAX_CONTEXT_BYTES} bytes in UTF-8")
    return data


def _verify(signed: bytes, mac: bytes, key_id: str, ring: KeyRing) -> None:
    if key_id not in ring.keys:
        raise TokenError(f"signed by unknown key '{key_id}'")
    if not compare_digest(ring.mac(key_id, signed)[:MAC_BYTES], mac):
        raise TokenError("forged or altered")


def _body(body: bytes, context_length: int, flags: int) -> tuple[str, str]:
    """(context, destination) from the body bytes."""
    if flags & FLAG_CODED:
        try:
            context_bytes, destination = urlcodec.decode(
                body, context_length, MAX_DESTINATION_LENGTH
            )
        except urlcodec.CodecError as error:
            raise TokenError(f"malformed body: {error}") from None
    else:
        if len(body) < context_length:
            raise TokenError("truncated")
        context_bytes = body[:context_length]
        destination = body[context_length:].decode("latin-1")
        if not (destination.isascii() and destination.isprintable()):
            raise TokenError("malformed body: destination is not printable ASCII")
        if len(destination) > MAX_DESTINATION_LENGTH:
            raise TokenError("malformed body: destination too long")
    if not destination:
        raise TokenError("malformed body: empty destination")
    try:
        return context_bytes.decode("utf-8"), destination
    except UnicodeDecodeError:
        raise TokenError("malformed body: context is not UTF-8") from None


def _to_text(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=").decode()


def _from_text(token: str) -> bytes:
    """The bytes of a token, accepting only the one spelling `_to_text` produces."""
    if not isinstance(token, str):
        raise TokenError("not a string")
    if not token:
        raise TokenError("empty token")
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenError("too long")
    if len(token) % 4 == 1 or not token.isascii():
        raise TokenError("not base64url")
    raw = token.encode("ascii")
    if raw.translate(None, _BASE64URL_BYTES):  # deleting the alphabet leaves nothing
        raise TokenError("not base64url")
    unused_bits = _UNUSED_BITS[len(token) % 4]
    if unused_bits and _BASE64URL.index(token[-1]) & unused_bits:
        raise TokenError("not base64url")  # unused low bits set: another spelling of the bytes
    return binascii.a2b_base64(raw.translate(_FROM_URLSAFE) + b"=" * (-len(token) % 4))


def token_of(tracking_url: str) -> str:
    """The last path segment: where every version of our tracking links keeps the token."""
    return tracking_url.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
