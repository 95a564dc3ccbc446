"""What the service answers, as a pure function of its configuration and one request.

Order of the checks: sizes (414, 431), the health endpoint (any host), the host (404 for any
host we do not serve), the method (405), the upgrade to HTTPS (308), then the tracking path
(tokens) or, on a legacy domain, the legacy link map and the fallback. Nothing here reads a
file, opens a connection or waits: the configuration was read before the first request.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from rewriter.clicks.model import Click, ClickStatus
from rewriter.serve import pages
from rewriter.serve.click import make_click, split_destination
from rewriter.serve.config import ServiceConfig
from rewriter.serve.hosts import HostKind, request_host
from rewriter.serve.request import MAX_TARGET_BYTES, Request
from rewriter.tokens.format import TokenContents, TokenError, decode_token

HEALTH_PATH = "/healthz"
ALLOWED_METHODS = ("GET", "HEAD")
_HTML = (b"content-type", b"text/html; charset=utf-8")
_NO_STORE = (b"cache-control", b"no-store")
_NO_REFERRER = (b"referrer-policy", b"no-referrer")

Header = tuple[bytes, bytes]  # as ASGI sends them: lower-case name, latin-1 value


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs 3x, at every request
class Response:
    status: int
    headers: list[Header]
    body: bytes
    click: Click | None = None
    log_path: str = "-"  # what the access log shows of the path: never a token
    host: str | None = None  # the host asked for, normalised (None: not a host name)


@dataclass(frozen=True, slots=True)
class _Answer:
    """What a verified token gets, as long as the configuration lasts: only the click is new
    at each request."""

    status: int
    headers: tuple[Header, ...]
    body: bytes
    click_status: ClickStatus
    contents: TokenContents


def _none_dropped() -> int:
    return 0


def respond(
    config: ServiceConfig, request: Request, dropped: Callable[[], int] = _none_dropped
) -> Response:
    """`dropped`: the clicks the recorder dropped so far, for the health endpoint."""
    host = request_host(request.host_header)
    response = _answer(config, request, host, dropped)
    response.host = host
    if request.secure and host is not None:
        hsts = config.hsts.get(host)
        if hsts is not None:  # RFC 6797 7.2: over HTTPS only
            response.headers.append((b"strict-transport-security", hsts))
    return response


def _answer(
    config: ServiceConfig, request: Request, host: str | None, dropped: Callable[[], int]
) -> Response:
    if len(request.target) > MAX_TARGET_BYTES:
        return _page(414, pages.URI_TOO_LONG)
    if request.headers_too_large:
        return _page(431, pages.HEADERS_TOO_LARGE)
    path = request.target.partition("?")[0]
    if path == HEALTH_PATH:
        return _health(config, request, dropped())
    kind = config.hosts.kind(host)
    if kind is None or host is None:
        return _page(404, pages.NOT_FOUND)
    if request.method not in ALLOWED_METHODS:
        return _not_allowed()
    if not request.secure and host in config.upgrade:
        location = f"https://{host}{_printable(request.target)}"
        return redirect_response(308, location, log_path="-")
    if path.startswith(config.token_prefix):
        return _token(config, request, host, path[len(config.token_prefix) :])
    if kind is HostKind.LEGACY:
        return _legacy(config, request, host)
    return _page(404, pages.NOT_FOUND, log_path=_first_segment(path))


def _token(config: ServiceConfig, request: Request, host: str, token: str) -> Response:
    log_path = config.token_prefix
    answer = config.answers.get(token)
    if answer is not None:  # the usual case: a link clicked before
        click = _token_click(config, request, host, answer.click_status, answer.contents)
        return Response(answer.status, list(answer.headers), answer.body, click, log_path)
    settings = config.rules.serve
    contents = config.verified.get(token)
    if contents is None:
        try:
            contents = decode_token(token, config.ring)
        except TokenError:
            key_id = _claimed_key_id(token)
            if key_id in settings.retired_keys and key_id not in config.ring.keys:
                return _fallback(config, request, host, log_path, key_id=key_id)
            click = make_click(config.clicks, request, host, ClickStatus.NOT_FOUND, key_id=key_id)
            return _page(404, pages.NOT_FOUND, click=click, log_path=log_path)
        config.remember(token, contents)
    if contents.key_id in settings.retired_keys:
        return _fallback(config, request, host, log_path, key_id=contents.key_id)
    destination = contents.destination
    if not is_redirectable(destination):
        click = make_click(
            config.clicks, request, host, ClickStatus.NOT_FOUND, key_id=contents.key_id
        )
        return _page(404, pages.NOT_FOUND, click=click, log_path=log_path)
    if _withdrawn(config, destination):
        click_status, response = ClickStatus.WITHDRAWN, _page(410, pages.WITHDRAWN)
    else:
        click_status, response = ClickStatus.REDIRECTED, redirect_response(302, destination)
    answer = _Answer(
        response.status, tuple(response.headers), response.body, click_status, contents
    )
    config.remember_answer(token, answer)
    click = _token_click(config, request, host, click_status, contents)
    return Response(answer.status, list(answer.headers), answer.body, click, log_path)


def _legacy(config: ServiceConfig, request: Request, host: str) -> Response:
    log_path = _first_segment(request.target.partition("?")[0])
    destination = config.legacy_map.find(host, request.target)
    if destination is None:
        return _fallback(config, request, host, log_path)
    if _withdrawn(config, destination):
        click = make_click(
            config.clicks, request, host, ClickStatus.WITHDRAWN, destination=destination
        )
        return _page(410, pages.WITHDRAWN, click=click, log_path=log_path)
    click = make_click(
        config.clicks, request, host, ClickStatus.REDIRECTED, destination=destination
    )
    return redirect_response(302, destination, click=click, log_path=log_path)


def _fallback(
    config: ServiceConfig, request: Request, host: str, log_path: str, key_id: str | None = None
) -> Response:
    fallback = config.rules.serve.fallback_url
    if fallback is None:
        click = make_click(config.clicks, request, host, ClickStatus.NOT_FOUND, key_id=key_id)
        return _page(404, pages.NOT_FOUND, click=click, log_path=log_path)
    click = make_click(
        config.clicks, request, host, ClickStatus.FALLBACK, destination=fallback, key_id=key_id
    )
    return redirect_response(302, fallback, click=click, log_path=log_path)


def _token_click(
    config: ServiceConfig,
    request: Request,
    host: str,
    status: ClickStatus,
    contents: TokenContents,
) -> Click:
    return make_click(
        config.clicks,
        request,
        host,
        status,
        destination=contents.destination,
        key_id=contents.key_id,
        context=contents.context,
        token_version=contents.version,
    )


def is_redirectable(destination: str) -> bool:
    """An http(s) URL of printable ASCII: nothing that could split a header or run a script."""
    lowered = destination[:8].lower()
    return (
        lowered.startswith(("http://", "https://"))
        and destination.isascii()
        and destination.isprintable()
    )


def _withdrawn(config: ServiceConfig, destination: str) -> bool:
    if len(config.withdrawn_hosts) and config.withdrawn_hosts.first_match(
        split_destination(destination)[0] or ""
    ):
        return True
    return (
        bool(len(config.withdrawn_urls))
        and config.withdrawn_urls.first_match(destination) is not None
    )


def _claimed_key_id(token: str) -> str | None:
    """The key id a token claims, read without verifying it (None: not even well formed)."""
    try:
        return decode_token(token).key_id
    except TokenError:
        return None


def _health(config: ServiceConfig, request: Request, dropped: int) -> Response:
    if request.method not in ALLOWED_METHODS:
        return _not_allowed()
    health = {"status": "ok", "keys": list(config.key_ids), "clicks_dropped": dropped}
    body = json.dumps(health).encode() + b"\n"
    headers = [(b"content-type", b"application/json"), _NO_STORE]
    return Response(200, headers, body, log_path=HEALTH_PATH)


def redirect_response(
    status: int, location: str, *, click: Click | None = None, log_path: str = "-"
) -> Response:
    """A redirect to `location` with its headers and page (the application adds the length)."""
    headers = [(b"location", location.encode("latin-1")), _HTML, _NO_STORE, _NO_REFERRER]
    return Response(status, headers, pages.redirect_page(location), click, log_path)


def _page(status: int, body: bytes, *, click: Click | None = None, log_path: str = "-") -> Response:
    return Response(status, [_HTML, _NO_STORE, _NO_REFERRER], body, click, log_path)


def _not_allowed() -> Response:
    response = _page(405, pages.METHOD_NOT_ALLOWED)
    response.headers.append((b"allow", ", ".join(ALLOWED_METHODS).encode()))
    return response


def _printable(target: str) -> str:
    """A request target fit for a header: bytes outside printable ASCII percent-encoded."""
    if target.isascii() and target.isprintable():
        return target
    return "".join(c if " " < c < "\x7f" else f"%{ord(c):02X}" for c in target)


def _first_segment(path: str) -> str:
    """The access log's view of a path that is not a token's: its first segment, short."""
    segment = "/" + path[1:].partition("/")[0]
    return segment[:40] if segment.isprintable() else "-"
