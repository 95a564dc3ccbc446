"""The ASGI applications the service is compared with, on the same server: `app`, hello world,
and `redirect`, the service's own answer to a link to REWRITER_BENCH_LOCATION (its 302, headers
and page, made by the service's routing) sent with no work at all: what the server alone allows
for that response."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

from rewriter.serve.routing import redirect_response

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Message, Receive, Send], Awaitable[None]]


def canned(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> App:
    """An application answering every request with the same response."""
    headers = [*headers, (b"content-length", str(len(body)).encode())]

    async def answer(scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return answer


app = canned(200, [(b"content-type", b"text/plain")], b"Hello, world!")

_REDIRECT = redirect_response(
    302, os.environ.get("REWRITER_BENCH_LOCATION", "https://example.org/")
)
redirect = canned(_REDIRECT.status, _REDIRECT.headers, _REDIRECT.body)
