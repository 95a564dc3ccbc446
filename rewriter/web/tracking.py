"""Which requests are our tracking links: the host, path prefix and port rules, in one place.

`resolve` reads links with it, and a redirect service can match requests with it: both must
accept exactly the links the rewriting makes (and the ones browsers turn them into: `https://`
after an HSTS upgrade, an upper-case host, a fully qualified host with its trailing dot), and
nothing else. Pure: no keys, no I/O; the token found is checked by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class TrackingRoute:
    """Where our tracking links live: their hosts (normalised: lower case, ASCII, no trailing
    dot) and their path prefix (`/l`: no trailing slash)."""

    hosts: frozenset[str]
    path: str


class NotTracking(NamedTuple):
    """Why a URL or request is not one of our tracking links."""

    reason: str


def token_in_url(url: str, route: TrackingRoute) -> str | NotTracking:
    """The token of a tracking link given as a URL, or why it is not one."""
    from rewriter.web.urls import UrlError, parse_http_url

    try:
        parsed = parse_http_url(url)
    except UrlError as error:
        return NotTracking(f"not a URL ({error})")
    # The parser drops the scheme's default port: any port left is another one.
    return token_at(parsed.host, parsed.path, route, scheme=parsed.scheme, port=parsed.port)


def token_at(
    host: str, path: str, route: TrackingRoute, *, scheme: str = "http", port: int | None = None
) -> str | NotTracking:
    """The token of a request for `path` on `host` (and `port`, None when absent), or why it
    is not one of our tracking links. The query and fragment are not part of `path`."""
    if scheme not in DEFAULT_PORTS:
        return NotTracking(f"{scheme}: is not http or https")
    if port is not None and port != DEFAULT_PORTS[scheme]:
        return NotTracking(f"port {port} is not the {scheme} port: tracking links have none")
    name = host.lower()
    name = name[:-1] if name.endswith(".") else name  # one dot: the fully qualified form
    if name not in route.hosts:
        return NotTracking(f"{host} is not a tracking domain of these rules")
    prefix = route.path + "/"
    if not path.startswith(prefix):
        return NotTracking(f"the path {path} is not under {prefix}")
    token = path[len(prefix) :]
    if not token or "/" in token:
        return NotTracking(f"the path {path} is not {prefix}<token>")
    return token
