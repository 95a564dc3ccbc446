"""Clicks in a SQLite file: WAL, synchronous=NORMAL, a busy timeout, one transaction per batch.

Several worker processes on one machine write to the same file: WAL lets readers go on while
one writer commits, and `BEGIN IMMEDIATE` with the busy timeout queues the writers.
"""

from __future__ import annotations

import datetime
import functools
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from rewriter.clicks.model import Click
from rewriter.clicks.records import COLUMNS, as_row, from_ms, from_row, to_ms
from rewriter.clicks.stores.base import CLICKS_TABLE, SCHEMA_TABLE, StoreError, newer_schema

BUSY_TIMEOUT_MS = 10_000
_MAX_ROWS_PER_STATEMENT = 1_000  # bounds the statement text (and SQLite's parse) per insert

# Each version's statements, applied in order, each idempotent. Never edit a shipped version:
# add one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: the clicks, unique by click id
        f"""CREATE TABLE IF NOT EXISTS {CLICKS_TABLE} (
            click_id TEXT NOT NULL PRIMARY KEY,
            time_ms INTEGER NOT NULL,
            host TEXT NOT NULL,
            token_version INTEGER,
            key_id TEXT,
            context TEXT,
            destination_host TEXT,
            destination_path TEXT,
            destination_query TEXT,
            method TEXT NOT NULL,
            user_agent TEXT,
            client TEXT,
            label TEXT NOT NULL,
            label_reason TEXT NOT NULL,
            status TEXT NOT NULL
        )""",
    ),
    (  # 2: reports and purges read by time
        f"CREATE INDEX IF NOT EXISTS {CLICKS_TABLE}_time ON {CLICKS_TABLE} (time_ms)",
    ),
)
VERSION = len(MIGRATIONS)

_STORED = ("click_id", "time_ms", *COLUMNS[2:])
_ROW = f"({', '.join('?' for _ in _STORED)})"


@functools.lru_cache(maxsize=16)  # a few batch sizes come back again and again
def _insert_rows(count: int) -> str:
    """INSERT OR IGNORE of `count` rows in one statement."""
    return (
        f"INSERT OR IGNORE INTO {CLICKS_TABLE} ({', '.join(_STORED)}) "
        f"VALUES {', '.join([_ROW] * count)}"
    )


_SELECT = f"SELECT {', '.join(_STORED)} FROM {CLICKS_TABLE}"


class SqliteStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode: transactions are begun and ended here, explicitly. The writer
            # thread of a recorder uses the connection after the thread that opened it.
            self._db = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            _use_wal(self._db)
            self._db.execute("PRAGMA synchronous = NORMAL")
            limit = self._db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            self._rows_per_statement = max(1, min(limit // len(_STORED), _MAX_ROWS_PER_STATEMENT))
        except (OSError, sqlite3.Error) as error:
            raise StoreError(f"{path}: cannot open the click store: {error}") from None

    def migrate(self, target: int = VERSION) -> None:
        """`target` below VERSION is for tests that make an older database."""
        try:
            with self._transaction():
                self._db.execute(
                    f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} "
                    "(version INTEGER NOT NULL PRIMARY KEY, applied TEXT NOT NULL)"
                )
                found = self._db.execute(f"SELECT max(version) FROM {SCHEMA_TABLE}").fetchone()[0]
                found = found or 0
                if found > VERSION:
                    raise newer_schema(found, VERSION)
                for version in range(found + 1, target + 1):
                    for statement in MIGRATIONS[version - 1]:
                        self._db.execute(statement)
                    self._db.execute(
                        f"INSERT INTO {SCHEMA_TABLE} VALUES (?, datetime('now'))", (version,)
                    )
        except sqlite3.Error as error:
            raise StoreError(f"{self.path}: cannot prepare the click store: {error}") from None

    def schema_version(self) -> int:
        row = self._db.execute(f"SELECT max(version) FROM {SCHEMA_TABLE}").fetchone()
        return int(row[0] or 0)

    def write_batch(self, clicks: Sequence[Click]) -> None:
        """One transaction, and as few statements as SQLite's limit on parameters allows.
        Not `executemany`: it releases the interpreter lock at every row, and where another
        thread is busy (the requests of the service) each row then waits up to the switch
        interval (5 ms) to get it back: 2,000 clicks took 2.8 s that way, 34 ms this way."""
        rows = [(row[0], to_ms(row[1]), *row[2:]) for row in map(as_row, clicks)]
        try:
            with self._transaction():
                for start in range(0, len(rows), self._rows_per_statement):
                    chunk = rows[start : start + self._rows_per_statement]
                    self._db.execute(_insert_rows(len(chunk)), [v for row in chunk for v in row])
        except sqlite3.Error as error:
            raise StoreError(f"{self.path}: cannot store clicks: {error}") from None

    def read(
        self, since: datetime.datetime | None = None, until: datetime.datetime | None = None
    ) -> Iterator[Click]:
        low = to_ms(since) if since else -(1 << 62)
        high = to_ms(until) if until else 1 << 62
        query = f"{_SELECT} WHERE time_ms >= ? AND time_ms < ? ORDER BY time_ms, click_id"
        try:
            for row in self._db.execute(query, (low, high)):
                yield from_row((row[0], from_ms(row[1]), *row[2:]))
        except sqlite3.Error as error:
            raise StoreError(f"{self.path}: cannot read clicks: {error}") from None

    def purge_before(self, moment: datetime.datetime) -> int:
        try:
            with self._transaction():
                cursor = self._db.execute(
                    f"DELETE FROM {CLICKS_TABLE} WHERE time_ms < ?", (to_ms(moment),)
                )
            return cursor.rowcount
        except sqlite3.Error as error:
            raise StoreError(f"{self.path}: cannot purge clicks: {error}") from None

    def integrity(self) -> str:
        """`ok`, or what PRAGMA integrity_check found."""
        rows = self._db.execute("PRAGMA integrity_check").fetchall()
        return "\n".join(str(row[0]) for row in rows)

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> _Immediate:
        return _Immediate(self._db)


def _use_wal(db: sqlite3.Connection) -> None:
    """PRAGMA journal_mode = WAL, retried while another process holds the file: switching the
    journal (or recovering a WAL) can answer "database is locked" at once, without waiting on
    the busy timeout, when two workers open a new store together."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class _Immediate:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error: takes the write lock at once, so
    the busy timeout applies instead of a deadlock between two readers turned writers."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if kind is None:
            self._db.execute("COMMIT")
        elif self._db.in_transaction:
            self._db.execute("ROLLBACK")
