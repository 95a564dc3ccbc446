"""The hello-world ASGI application the service is compared with, on the same server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

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
