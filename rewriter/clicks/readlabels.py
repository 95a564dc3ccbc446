"""Labels that need several clicks, computed when clicks are read, from the stored events, so
they hold across workers and machines. Labels set at request time are never changed.

A source is the stored (truncated) client address with the user agent; a click without a
stored address has no source, and neither label applies to it.

- Burst: among clicks labelled human, one source opening `burst_links` or more distinct links
  of one context within `burst_seconds`: those clicks count as scanners (a gateway that opens
  every link of a message with a browser's user agent).
- Duplicate: the same source and link, under the same label, within `duplicate_seconds` of the
  click last counted unique counts once in unique counts (reloads, double clicks). The label is
  part of it so that a browser's prefetch never makes the person's click that follows a
  duplicate.

Clicks come in time order and go out in the same order, each once final: memory holds the last
`burst_seconds` of clicks and one time per (source, link) seen within `duplicate_seconds`.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from rewriter.clicks.labels import Label
from rewriter.clicks.model import Click
from rewriter.clicks.records import to_ms

BURST_REASON = "burst: {links} links of one context within {seconds} s from one source"
_PRUNE_EVERY = 10_000


@dataclass(frozen=True, slots=True)
class Thresholds:
    burst_links: int = 3
    burst_seconds: int = 2
    duplicate_seconds: int = 3_600


@dataclass(slots=True)
class ReadClick:
    """A stored click with the label it counts under and whether it counts as unique."""

    click: Click
    time_ms: int
    label: str
    reason: str
    unique: bool = True
    link: tuple[str | None, str | None, str | None] = field(default=(None, None, None))

    @property
    def source(self) -> tuple[str, str] | None:
        client = self.click.client
        return None if client is None else (client, self.click.user_agent or "")


def label_clicks(clicks: Iterable[Click], thresholds: Thresholds) -> Iterator[ReadClick]:
    """The clicks (in time order) with their read-time labels, in the same order."""
    return _dedupe(_bursts(_wrap(clicks), thresholds), thresholds)


def _wrap(clicks: Iterable[Click]) -> Iterator[ReadClick]:
    for click in clicks:
        link = (click.destination_host, click.destination_path, click.destination_query)
        yield ReadClick(click, to_ms(click.time), click.label, click.label_reason, link=link)


def _bursts(clicks: Iterator[ReadClick], thresholds: Thresholds) -> Iterator[ReadClick]:
    window = thresholds.burst_seconds * 1000
    held: collections.deque[ReadClick] = collections.deque()  # not final yet, in time order
    recent: dict[tuple[object, ...], collections.deque[ReadClick]] = {}
    for item in clicks:
        while held and held[0].time_ms < item.time_ms - window:
            yield _release(held.popleft(), recent)
        held.append(item)
        source = item.source
        if item.click.label != Label.HUMAN or source is None:
            continue
        key = (source, item.click.context)
        group = recent.setdefault(key, collections.deque())
        while group and group[0].time_ms < item.time_ms - window:
            group.popleft()
        group.append(item)
        links = {member.link for member in group}
        if len(links) >= thresholds.burst_links:
            reason = BURST_REASON.format(links=len(links), seconds=thresholds.burst_seconds)
            for member in group:
                member.label, member.reason = Label.SCANNER, reason
    while held:
        yield _release(held.popleft(), recent)


def _release(
    item: ReadClick, recent: dict[tuple[object, ...], collections.deque[ReadClick]]
) -> ReadClick:
    source = item.source
    if source is not None:
        key = (source, item.click.context)
        group = recent.get(key)
        if group and group[0] is item:
            group.popleft()
        if group is not None and not group:
            del recent[key]
    return item


def _dedupe(clicks: Iterator[ReadClick], thresholds: Thresholds) -> Iterator[ReadClick]:
    window = thresholds.duplicate_seconds * 1000
    counted: dict[tuple[object, ...], int] = {}  # (label, source, context, link) -> time counted
    for seen, item in enumerate(clicks, 1):
        source = item.source
        if source is not None:
            key = (item.label, source, item.click.context, item.link)
            last = counted.get(key)
            if last is not None and item.time_ms - last < window:
                item.unique = False
            else:
                counted[key] = item.time_ms
        if seen % _PRUNE_EVERY == 0:
            expired = [old for old, time in counted.items() if time < item.time_ms - window]
            for old in expired:
                del counted[old]
        yield item
