"""One click, as the service hands it over, and the interface every recorder offers."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class ClickStatus(StrEnum):
    """How the service answered the request."""

    REDIRECTED = "redirected"
    NOT_FOUND = "not-found"
    WITHDRAWN = "withdrawn"
    FALLBACK = "fallback"


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs 7x, at every click
class Click:
    """One answered request on the tracking path. Never holds a key; holds the query of the
    destination only when the rules ask for it (it may carry personal data). Made once per
    click and never changed after (recorders read it from another thread)."""

    click_id: str  # unique (uuid4 hex): a batch stored twice is stored once
    time: datetime.datetime  # UTC, milliseconds
    host: str  # the tracking host asked for, lower case, no port
    token_version: int | None
    key_id: str | None
    context: str | None
    destination_host: str | None
    destination_path: str | None
    destination_query: str | None
    method: str
    user_agent: str | None  # truncated
    client: str | None  # the client address, truncated as the rules say (None: not kept)
    label: str  # human | bot | scanner | prefetch, set from the request alone
    label_reason: str
    status: ClickStatus


class Recorder(Protocol):
    """Takes clicks from the request path. `record` never blocks, never raises, and returns at
    once; `close` flushes what is pending (SIGTERM, shutdown)."""

    @property
    def dropped(self) -> int: ...

    def record(self, click: Click) -> None: ...

    def close(self) -> None: ...
