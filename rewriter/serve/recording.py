"""The recorder a worker of the service uses: the queue recorder writing to the click store the
command line or the rules name (SQLite in the user's data folder by default), or the log-line
recorder (`log`). Each worker makes its own after it is forked: a store's connection and a
writer thread do not survive a fork."""

from __future__ import annotations

import logging
import sys

from rewriter.clicks.logline import LogLineRecorder
from rewriter.clicks.model import Click, Recorder
from rewriter.clicks.stores import StoreError, describe, open_store
from rewriter.rules.model import ClickSettings

log = logging.getLogger("rewriter.clicks")

LOG = "log"  # --clicks log: one JSON object per click on stderr, nothing stored


def store_url(option: str | None, settings: ClickSettings) -> str | None:
    """--clicks, else the rules' clicks.store, else None (the default SQLite file)."""
    return option or settings.store


def open_recorder(url: str | None, settings: ClickSettings, *, worker: bool = False) -> Recorder:
    """Raises StoreError (with a message for a person) when the store cannot be opened, except
    in a `worker` (the supervisor opened and migrated the store before forking it), which must
    answer whatever the store does: there, a PostgreSQL server away is waited for (clicks wait
    in the queue, the connection is made again with backoff), and any other store that cannot
    be opened any more gets a recorder that drops and counts every click."""
    if url == LOG:
        return LogLineRecorder(sys.stderr)
    from rewriter.clicks.queue import QueueRecorder

    try:
        store = open_store(url)
    except StoreError as error:
        if not worker:
            raise
        if url is not None and url.startswith(("postgresql://", "postgres://")):
            from rewriter.clicks.stores.postgres import PostgresStore

            log.warning("%s: clicks wait in the queue until it answers", error)
            return QueueRecorder(PostgresStore(url), capacity=settings.queue_size)
        log.error("%s: this worker's clicks are dropped and counted", error)
        return DroppingRecorder()
    return QueueRecorder(store, capacity=settings.queue_size)


class DroppingRecorder:
    """What a worker records with when its store cannot be opened: redirects go on, and every
    click is counted as dropped (the health endpoint and the shutdown line show it)."""

    def __init__(self) -> None:
        self._dropped = 0

    @property
    def dropped(self) -> int:
        return self._dropped

    def record(self, click: Click) -> None:
        self._dropped += 1

    def close(self) -> None:
        pass


def check_store(url: str | None) -> str:
    """Open the store once (creating and migrating it) and close it, so that a store that
    cannot be used stops the start before any worker is forked. Returns what to print."""
    if url == LOG:
        return "clicks: one JSON line each on stderr (--clicks log)"
    from rewriter.clicks.stores import sqlite_path

    store = open_store(url)
    store.close()
    if url is None or url.startswith("sqlite:"):
        return f"clicks: stored in {sqlite_path(url or 'sqlite:')}"
    return f"clicks: stored in {describe(url)}"


__all__ = ["LOG", "StoreError", "check_store", "open_recorder", "store_url"]
