"""A request as the service sees it, whatever the server: built from an ASGI scope."""

from __future__ import annotations

import functools
import ipaddress
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_TARGET_BYTES = 8192  # longer request targets are answered 414
MAX_HEADER_LINE_BYTES = 8192  # a longer header field, or
MAX_HEADERS_BYTES = 32768  # more header bytes in all, is answered 431
_PURPOSE_HEADERS = (b"sec-purpose", b"purpose", b"x-purpose", b"x-moz")  # clicks.labels reads


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs 3x, at every request
class Request:
    method: str
    target: str  # the path and query as sent (latin-1 of the raw bytes)
    host_header: str | None
    secure: bool  # over TLS, the listener's own or a trusted proxy's
    user_agent: str | None
    headers_too_large: bool
    client: str | None
    purpose: dict[str, str] | None = None  # prefetch hints (Sec-Purpose, Purpose...), if any


def from_asgi(scope: Mapping[str, Any], is_trusted: Callable[[str], bool] | None) -> Request:
    """The Request of an ASGI HTTP scope. X-Forwarded-Proto and X-Forwarded-For count only when
    the connection comes from a trusted proxy (`is_trusted`, None when there is none)."""
    raw_path = scope.get("raw_path")
    path = raw_path if isinstance(raw_path, bytes) else str(scope.get("path", "/")).encode()
    query = scope.get("query_string") or b""
    target = (path + b"?" + query if query else path).decode("latin-1")
    headers = scope.get("headers") or ()
    named = dict(headers)  # names are lower case in ASGI; a repeated field: the last counts
    host = named.get(b"host")
    user_agent = named.get(b"user-agent")
    purpose: dict[str, str] | None = None
    for name in _PURPOSE_HEADERS:
        value = named.get(name)
        if value is not None:
            purpose = purpose or {}
            purpose[name.decode()] = value.decode("latin-1")
    client_pair = scope.get("client")
    client = client_pair[0] if client_pair else None
    secure = scope.get("scheme") == "https"
    if is_trusted is not None and client is not None and is_trusted(client):
        forwarded_proto = named.get(b"x-forwarded-proto")
        if forwarded_proto:
            secure = forwarded_proto.rsplit(b",", 1)[-1].strip().lower() == b"https"
        forwarded_for = named.get(b"x-forwarded-for")
        if forwarded_for:
            client = _forwarded_client(forwarded_for.decode("latin-1"), is_trusted) or client
    return Request(
        method=str(scope.get("method", "GET")),
        target=target,
        host_header=host.decode("latin-1") if host is not None else None,
        secure=secure,
        user_agent=user_agent.decode("latin-1") if user_agent is not None else None,
        headers_too_large=_too_large(headers),
        client=client,
        purpose=purpose,
    )


def _too_large(headers: Sequence[tuple[bytes, bytes]]) -> bool:
    """Whether one header field (name, value, ": " and CRLF) is longer than
    MAX_HEADER_LINE_BYTES, or all of them together longer than MAX_HEADERS_BYTES. The total is
    summed in C; fields are looked at one by one only when it could hide a long one."""
    total = sum(map(len, itertools.chain.from_iterable(headers))) + 4 * len(headers)
    if total <= MAX_HEADER_LINE_BYTES:
        return False
    longest = max(len(name) + len(value) + 4 for name, value in headers)
    return longest > MAX_HEADER_LINE_BYTES or total > MAX_HEADERS_BYTES


def trust_checker(networks: Sequence[Network]) -> Callable[[str], bool] | None:
    """Whether an address is one of `networks`, memoised (parsing an address costs
    microseconds and the same proxies and clients come back); None when there are none."""
    if not networks:
        return None

    @functools.lru_cache(maxsize=4096)
    def is_trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in networks)

    return is_trusted


def _forwarded_client(header: str, is_trusted: Callable[[str], bool]) -> str | None:
    """The rightmost address not of a trusted proxy: the one the nearest proxy saw."""
    for item in reversed(header.split(",")):
        address = item.strip()
        if address and not is_trusted(address):
            return address
    return None
