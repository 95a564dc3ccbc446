"""The tracking service as an ASGI application: `create_app()` under any ASGI server.

    REWRITER_RULES=/etc/rewriter/rewriter.yaml uvicorn --factory rewriter.serve.app:create_app

The application keeps no state between requests (tokens carry their destination), so any
number of instances can run side by side. It writes one access-log line per request to stderr
and hands each click to its recorder (a queue written to the click store in the background),
never waiting for either.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from rewriter.clicks.logline import LineWriter, LogLineRecorder
from rewriter.clicks.model import Recorder
from rewriter.serve.config import (
    CLICKS_ENV,
    DEFAULT_TOKEN_CACHE,
    RULES_ENV,
    TOKEN_CACHE_ENV,
    ServiceConfig,
    ServiceError,
    load_config,
)
from rewriter.serve.recording import StoreError, open_recorder, store_url
from rewriter.serve.request import from_asgi
from rewriter.serve.routing import respond

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# time (ns since the epoch), status, host, path prefix, seconds taken
AccessEntry = tuple[int, int, str, str, float]


def access_line(entry: AccessEntry) -> str:
    """`2026-12-02T18:00:00.123Z 302 go.example.com /l/ 0.21ms`: never a token or a query."""
    when, status, host, path, seconds = entry
    second, nanoseconds = divmod(when, 1_000_000_000)
    return (
        f"{_utc_second(second)}.{nanoseconds // 1_000_000:03d}Z {status} {host} {path} "
        f"{seconds * 1000:.2f}ms"
    )


@functools.lru_cache(maxsize=4)  # thousands of lines share each second
def _utc_second(second: int) -> str:
    """`2026-12-02T18:00:00`: a time in whole seconds since the epoch, in UTC."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


class TrackingApp:
    """The ASGI callable. `reload()` swaps in a configuration read again from the rules file;
    requests in flight finish with the one they started with."""

    def __init__(
        self,
        rules_path: Path,
        *,
        config: ServiceConfig | None = None,
        recorder: Recorder | None = None,
        access_log: bool = True,
        token_cache: int = DEFAULT_TOKEN_CACHE,
    ) -> None:
        self.rules_path = rules_path
        self.token_cache = token_cache
        self.config: ServiceConfig = config or load_config(rules_path, token_cache)
        _warm_up()
        self.recorder: Recorder = recorder or LogLineRecorder(sys.stderr)
        self._access: LineWriter[AccessEntry] | None = (
            LineWriter(sys.stderr, access_line) if access_log else None
        )

    def reload(self) -> ServiceConfig:
        """Read the rules, keys and legacy link map again. Raises ServiceError, keeping the
        configuration in use."""
        self.config = load_config(self.rules_path, self.token_cache)
        return self.config

    def _dropped(self) -> int:
        return self.recorder.dropped

    def close(self) -> None:
        """Flush the recorder and the access log (shutdown)."""
        self.recorder.close()
        if self._access is not None:
            self._access.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1008})

    async def _http(self, scope: Scope, send: Send) -> None:
        started = time.perf_counter()
        config = self.config
        request = from_asgi(scope, config.is_trusted)
        response = respond(config, request, self._dropped)
        if response.click is not None:
            self.recorder.record(response.click)
        body = b"" if request.method == "HEAD" else response.body
        headers = response.headers
        headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        if self._access is not None:
            host = response.host or "-"
            elapsed = time.perf_counter() - started
            self._access.write((time.time_ns(), response.status, host, response.log_path, elapsed))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _warm_up() -> None:
    """Build the decoder's tables and import what the first request would (~60 ms) now."""
    from rewriter.tokens.format import decode_token, encode_token
    from rewriter.tokens.keys import KeyRing

    ring = KeyRing("warm", {"warm": bytes(32)})
    decode_token(encode_token("https://example.com/?utm_source=x", "", ring), ring)


def create_app(rules_path: Path | str | None = None) -> TrackingApp:
    """The application, configured from `rules_path` or the REWRITER_RULES environment
    variable (and REWRITER_TOKEN_CACHE: verified tokens remembered, 0 for none; REWRITER_CLICKS:
    the click store's URL, or `log`, instead of the rules' clicks.store). Servers call it in each
    worker process, so each has its own recorder. Raises ServiceError when neither names usable
    rules, or the click store cannot be opened."""
    if rules_path is None:
        named = os.environ.get(RULES_ENV)
        if not named:
            raise ServiceError(f"set {RULES_ENV} to the path of the rules file")
        rules_path = named
    cache = os.environ.get(TOKEN_CACHE_ENV, str(DEFAULT_TOKEN_CACHE))
    if not cache.isdigit():
        raise ServiceError(f"{TOKEN_CACHE_ENV} must be a whole number (got {cache!r})")
    config = load_config(Path(rules_path), int(cache))
    settings = config.rules.clicks
    try:
        recorder = open_recorder(store_url(os.environ.get(CLICKS_ENV), settings), settings)
    except StoreError as error:
        raise ServiceError(str(error)) from None
    return TrackingApp(Path(rules_path), config=config, recorder=recorder, token_cache=int(cache))


__all__ = ["ServiceError", "TrackingApp", "create_app"]
