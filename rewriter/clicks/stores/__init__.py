"""Where clicks are kept: SQLite (the default), PostgreSQL, or JSON lines. Chosen by a URL."""

from __future__ import annotations

import os
from pathlib import Path

from rewriter.clicks.stores.base import NoStore, Store, StoreError, describe

__all__ = ["NoStore", "Store", "StoreError", "default_path", "describe", "open_store"]


def default_path() -> Path:
    """clicks.sqlite3 in the user's data folder: $XDG_DATA_HOME/rewriter, else
    ~/.local/share/rewriter."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local/share")
    return Path(base) / "rewriter" / "clicks.sqlite3"


def sqlite_path(url: str) -> Path:
    """The file of `sqlite:` (the default file), `sqlite:///abs/path` or `sqlite:relative/path`."""
    path = url.removeprefix("sqlite:")
    if path.startswith("//"):
        path = path[2:]  # sqlite:///var/x is /var/x, as for file: URLs
    return Path(path) if path.strip() else default_path()


def open_store(url: str | None, *, create: bool = True) -> Store:
    """The store a URL names (None: the default SQLite file), its schema migrated. `create=False`
    refuses a SQLite or JSON lines file that does not exist (a report creates nothing). Raises
    StoreError with a message for a person."""
    url = url or "sqlite:"
    if url.startswith("sqlite:"):
        from rewriter.clicks.stores.sqlite import SqliteStore

        path = sqlite_path(url)
        if not create and not path.exists():
            raise NoStore(f"no clicks recorded yet: {path} does not exist")
        store: Store = SqliteStore(path)
    elif url.startswith(("postgresql://", "postgres://")):
        from rewriter.clicks.stores.postgres import PostgresStore

        store = PostgresStore(url)
    elif url.startswith("jsonl:"):
        from rewriter.clicks.stores.jsonl import JsonLinesStore

        target = url.removeprefix("jsonl:")
        if not target:
            raise StoreError("jsonl: needs a file (jsonl:PATH) or - for stdout (jsonl:-)")
        if not create and target != "-" and not Path(target).exists():
            raise NoStore(f"no clicks recorded yet: {target} does not exist")
        store = JsonLinesStore(target)
    else:
        raise StoreError(
            f"{describe(url)!r} is not a click store: use sqlite:///PATH, postgresql://..., "
            "jsonl:PATH or jsonl:-"
        )
    try:
        store.migrate()
    except BaseException:
        store.close()
        raise
    return store
