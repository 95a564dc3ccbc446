"""The ASGI applications the service is compared with, on the same server: `app`, hello world,
and `redirect`, the service's own answer to the benchmark's link (the 302 and its headers and
body, from REWRITER_BENCH_LOCATION) sent with no work at all: what the server alone allows for
that response."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

from rewriter.serve import pages

_HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"13")]


async def app(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": b"Hello, world!"})


_LOCATION = os.environ.get("REWRITER_BENCH_LOCATION", "https://www.example.org/")
_BODY = pages.redirect_page(_LOCATION)
_REDIRECT_HEADERS = [
    (b"location", _LOCATION.encode("latin-1")),
    (b"content-type", b"text/html; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-length", str(len(_BODY)).encode()),
]


async def redirect(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 302, "headers": _REDIRECT_HEADERS})
    await send({"type": "http.response.body", "body": _BODY})
