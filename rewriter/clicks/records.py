"""A click as stored: its columns in order, its time as UTC milliseconds, its JSON object."""

from __future__ import annotations

import datetime
from typing import Any

from rewriter.clicks.model import Click, ClickStatus

COLUMNS: tuple[str, ...] = (
    "click_id",
    "time",
    "host",
    "token_version",
    "key_id",
    "context",
    "destination_host",
    "destination_path",
    "destination_query",
    "method",
    "user_agent",
    "client",
    "label",
    "label_reason",
    "status",
)

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def to_ms(moment: datetime.datetime) -> int:
    """Milliseconds since 1970 UTC; a naive time is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def from_ms(ms: int) -> datetime.datetime:
    return _EPOCH + datetime.timedelta(milliseconds=ms)


def as_row(click: Click) -> tuple[Any, ...]:
    """The click's values in COLUMNS order, its time as it is (each store converts it)."""
    return (
        click.click_id,
        click.time,
        click.host,
        click.token_version,
        click.key_id,
        click.context,
        click.destination_host,
        click.destination_path,
        click.destination_query,
        click.method,
        click.user_agent,
        click.client,
        click.label,
        click.label_reason,
        click.status.value,
    )


def from_row(row: tuple[Any, ...]) -> Click:
    """A click from values in COLUMNS order, its time already a UTC datetime."""
    (click_id, time, host, version, key_id, context, d_host, d_path, d_query) = row[:9]
    method, user_agent, client, label, reason, status = row[9:]
    return Click(
        click_id=click_id,
        time=time,
        host=host,
        token_version=version,
        key_id=key_id,
        context=context,
        destination_host=d_host,
        destination_path=d_path,
        destination_query=d_query,
        method=method,
        user_agent=user_agent,
        client=client,
        label=label,
        label_reason=reason,
        status=ClickStatus(status),
    )


def iso_time(moment: datetime.datetime) -> str:
    """`2026-12-02T18:30:32.123Z`: UTC, milliseconds."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    elif moment.utcoffset():
        moment = moment.astimezone(datetime.UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def to_json(click: Click) -> dict[str, Any]:
    data = dict(zip(COLUMNS, as_row(click), strict=True))
    data["time"] = iso_time(click.time)
    return data


def from_json(data: dict[str, Any]) -> Click:
    """Raises KeyError, ValueError or TypeError for what is not a click object."""
    time = datetime.datetime.fromisoformat(str(data["time"]).replace("Z", "+00:00"))
    values = [data[name] for name in COLUMNS]
    values[1] = time.astimezone(datetime.UTC)
    return from_row(tuple(values))
