"""A request as the service sees it, whatever the server: built from an ASGI scope."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_TARGET_BYTES = 8192  # longer request targets are answered 414
MAX_HEADER_LINE_BYTES = 8192  # a longer header field, or
MAX_HEADERS_BYTES = 32768  # more header bytes in all, is answered 431


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    target: str  # the path and query as sent (latin-1 of the raw bytes)
    host_header: str | None
    secure: bool  # over TLS, the listener's own or a trusted proxy's
    user_agent: str | None
    headers_too_large: bool
    client: str | None


def from_asgi(scope: Mapping[str, Any], trusted: Sequence[object]) -> Request:
    """The Request of an ASGI HTTP scope. X-Forwarded-Proto and X-Forwarded-For count only when
    the connection comes from a trusted proxy (`trusted`: ip networks)."""
    raw_path = scope.get("raw_path")
    path = raw_path if isinstance(raw_path, bytes) else str(scope.get("path", "/")).encode()
    query = scope.get("query_string") or b""
    assert isinstance(query, bytes)
    target = (path + b"?" + query if query else path).decode("latin-1")
    host = user_agent = forwarded_proto = forwarded_for = None
    total = longest = 0
    headers = scope.get("headers", ())
    assert isinstance(headers, Iterable)
    for name, value in headers:
        size = len(name) + len(value) + 4
        total += size
        longest = max(longest, size)
        if name == b"host":
            host = value.decode("latin-1")
        elif name == b"user-agent":
            user_agent = value.decode("latin-1")
        elif name == b"x-forwarded-proto":
            forwarded_proto = value.decode("latin-1")
        elif name == b"x-forwarded-for":
            forwarded_for = value.decode("latin-1")
    client_pair = scope.get("client")
    client = client_pair[0] if isinstance(client_pair, (tuple, list)) and client_pair else None
    secure = scope.get("scheme") == "https"
    if trusted and client is not None and _in(client, trusted):
        if forwarded_proto:
            secure = forwarded_proto.rsplit(",", 1)[-1].strip().lower() == "https"
        if forwarded_for:
            client = _forwarded_client(forwarded_for, trusted) or client
    return Request(
        method=str(scope.get("method", "GET")),
        target=target,
        host_header=host,
        secure=secure,
        user_agent=user_agent,
        headers_too_large=longest > MAX_HEADER_LINE_BYTES or total > MAX_HEADERS_BYTES,
        client=client,
    )


def _in(address: str, networks: Sequence[object]) -> bool:
    return _in_cached(address, tuple(networks))


@functools.lru_cache(maxsize=4096)
def _in_cached(address: str, networks: tuple[object, ...]) -> bool:
    """Parsing an address costs microseconds; the addresses seen repeat (proxies, clients)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)  # type: ignore[operator]


def _forwarded_client(header: str, trusted: Sequence[object]) -> str | None:
    """The rightmost address not of a trusted proxy: the one the nearest proxy saw."""
    for item in reversed(header.split(",")):
        address = item.strip()
        if address and not _in(address, trusted):
            return address
    return None
