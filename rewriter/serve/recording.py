"""The recorder a worker of the service uses: the queue recorder writing to the click store the
command line or the rules name (SQLite in the user's data folder by default), or the log-line
recorder (`log`). Each worker makes its own after it is forked: a store's connection and a
writer thread do not survive a fork."""

from __future__ import annotations

import sys

from rewriter.clicks.logline import LogLineRecorder
from rewriter.clicks.model import Recorder
from rewriter.clicks.stores import StoreError, describe, open_store
from rewriter.rules.model import ClickSettings

LOG = "log"  # --clicks log: one JSON object per click on stderr, nothing stored


def store_url(option: str | None, settings: ClickSettings) -> str | None:
    """--clicks, else the rules' clicks.store, else None (the default SQLite file)."""
    return option or settings.store


def open_recorder(url: str | None, settings: ClickSettings) -> Recorder:
    """Raises StoreError (with a message for a person) when the store cannot be opened."""
    if url == LOG:
        return LogLineRecorder(sys.stderr)
    from rewriter.clicks.queue import QueueRecorder

    return QueueRecorder(open_store(url), capacity=settings.queue_size)


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
