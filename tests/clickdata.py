"""Clicks for the click tests: real records, made the way the service makes them."""

from __future__ import annotations

import datetime
import itertools
import uuid

from rewriter.clicks.model import Click, ClickStatus

T0 = datetime.datetime(2026, 11, 30, 9, 0, 0, tzinfo=datetime.UTC)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
_serial = itertools.count()


def click(
    seconds: float = 0.0,
    *,
    path: str = "/spring",
    context: str | None = "spring.html",
    client: str | None = "198.51.100.0/24",
    user_agent: str | None = CHROME,
    label: str = "human",
    reason: str = "a browser's user agent",
    host: str = "go.example.com",
    destination_host: str | None = "www.example.com",
    query: str | None = None,
    method: str = "GET",
    status: ClickStatus = ClickStatus.REDIRECTED,
    click_id: str | None = None,
) -> Click:
    return Click(
        click_id=click_id or uuid.uuid4().hex,
        time=T0 + datetime.timedelta(seconds=seconds),
        host=host,
        token_version=1,
        key_id="k1",
        context=context,
        destination_host=destination_host,
        destination_path=path,
        destination_query=query,
        method=method,
        user_agent=user_agent,
        client=client,
        label=label,
        label_reason=reason,
        status=status,
    )


def many(count: int, *, start: float = 0.0, prefix: str = "") -> list[Click]:
    """`count` distinct clicks a millisecond apart, ids prefixed (to tell writers apart)."""
    return [
        click(start + index / 1000, click_id=f"{prefix}{next(_serial):08d}{uuid.uuid4().hex[:8]}")
        for index in range(count)
    ]
