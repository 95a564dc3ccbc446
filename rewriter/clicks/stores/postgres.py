"""Clicks in PostgreSQL, for several service machines writing to one database (psycopg 3).

A batch is copied (COPY, the fastest way in) into a temporary table, then inserted with
`ON CONFLICT (click_id) DO NOTHING`: a batch retried after a lost connection is stored once.
When the server goes away, the connection is dropped and `StoreError` raised; the recorder's
writer backs off and retries while clicks wait in its bounded queue, and the next write
connects again.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg

from rewriter.clicks.model import Click
from rewriter.clicks.records import COLUMNS, as_row, from_row
from rewriter.clicks.stores.base import (
    CLICKS_TABLE,
    SCHEMA_TABLE,
    StoreError,
    describe,
    newer_schema,
)

CONNECT_TIMEOUT_S = 5
# pg_advisory_xact_lock key for migrations: "rewriter" in ASCII, as a signed 64-bit number.
MIGRATION_LOCK = int.from_bytes(b"rewriter", "big")

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: the clicks, unique by click id
        f"""CREATE TABLE IF NOT EXISTS {CLICKS_TABLE} (
            click_id text NOT NULL PRIMARY KEY,
            time timestamptz NOT NULL,
            host text NOT NULL,
            token_version integer,
            key_id text,
            context text,
            destination_host text,
            destination_path text,
            destination_query text,
            method text NOT NULL,
            user_agent text,
            client text,
            label text NOT NULL,
            label_reason text NOT NULL,
            status text NOT NULL
        )""",
    ),
    (  # 2: reports and purges read by time
        f"CREATE INDEX IF NOT EXISTS {CLICKS_TABLE}_time ON {CLICKS_TABLE} (time)",
    ),
)
VERSION = len(MIGRATIONS)

_COLUMNS = ", ".join(COLUMNS)
_STAGING = "rewriter_clicks_incoming"
_TYPES = ["text", "timestamptz", "text", "int4", *["text"] * 11]


class PostgresStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self._db: psycopg.Connection[Any] | None = None
        self._staging_ready = False  # the temporary table lives as long as the connection

    def _connection(self) -> psycopg.Connection[Any]:
        if self._db is not None and not self._db.closed and not self._db.broken:
            return self._db
        self._drop_connection()
        try:
            db = psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT_S)
        except psycopg.Error as error:
            raise StoreError(
                f"{describe(self.url)}: cannot connect: {_first_line(error)}"
            ) from None
        self._db = db
        return db

    def _drop_connection(self) -> None:
        if self._db is not None:
            with contextlib.suppress(psycopg.Error):
                self._db.close()
        self._db = None
        self._staging_ready = False

    def migrate(self, target: int = VERSION) -> None:
        """`target` below VERSION is for tests that make an older database."""
        db = self._connection()
        try:
            with db.transaction():
                db.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                db.execute(
                    f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} "
                    "(version integer NOT NULL PRIMARY KEY, applied timestamptz NOT NULL)"
                )
                row = db.execute(f"SELECT max(version) FROM {SCHEMA_TABLE}").fetchone()
                found = int(row[0] or 0) if row else 0
                if found > VERSION:
                    raise newer_schema(found, VERSION)
                for version in range(found + 1, target + 1):
                    for statement in MIGRATIONS[version - 1]:
                        db.execute(statement)
                    db.execute(f"INSERT INTO {SCHEMA_TABLE} VALUES (%s, now())", (version,))
        except psycopg.Error as error:
            self._drop_connection()
            message = _first_line(error)
            raise StoreError(f"{describe(self.url)}: cannot prepare the store: {message}") from None

    def schema_version(self) -> int:
        row = self._connection().execute(f"SELECT max(version) FROM {SCHEMA_TABLE}").fetchone()
        self._connection().rollback()
        return int(row[0] or 0) if row else 0

    def write_batch(self, clicks: Sequence[Click]) -> None:
        try:
            db = self._connection()
            with db.transaction(), db.cursor() as cursor:
                if not self._staging_ready:
                    cursor.execute(
                        f"CREATE TEMP TABLE IF NOT EXISTS {_STAGING} "
                        f"(LIKE {CLICKS_TABLE}) ON COMMIT DELETE ROWS"
                    )
                with cursor.copy(
                    f"COPY {_STAGING} ({_COLUMNS}) FROM STDIN (FORMAT BINARY)"
                ) as copy:
                    copy.set_types(_TYPES)
                    for click in clicks:
                        copy.write_row(_without_nul(as_row(click)))
                cursor.execute(
                    f"INSERT INTO {CLICKS_TABLE} ({_COLUMNS}) SELECT {_COLUMNS} FROM {_STAGING} "
                    "ON CONFLICT (click_id) DO NOTHING"
                )
            self._staging_ready = True
        except psycopg.Error as error:
            # Refused data (a value the column cannot hold) fails again on retry; anything else
            # (the server away, a restart) is worth retrying on a new connection.
            permanent = isinstance(error, psycopg.errors.DataError | psycopg.errors.IntegrityError)
            self._drop_connection()
            message = f"{describe(self.url)}: cannot store clicks: {_first_line(error)}"
            raise StoreError(message, permanent=permanent) from None

    def read(
        self, since: datetime.datetime | None = None, until: datetime.datetime | None = None
    ) -> Iterator[Click]:
        low = since or datetime.datetime(1, 1, 2, tzinfo=datetime.UTC)
        high = until or datetime.datetime(9999, 12, 30, tzinfo=datetime.UTC)
        query = (
            f"SELECT {_COLUMNS} FROM {CLICKS_TABLE} WHERE time >= %s AND time < %s "
            "ORDER BY time, click_id"
        )
        try:
            db = self._connection()
            with db.transaction(), db.cursor(name="rewriter_clicks_read") as cursor:
                cursor.itersize = 5_000  # streamed from the server, never all in memory
                cursor.execute(query, (low, high))
                for row in cursor:
                    values = list(row)
                    values[1] = values[1].astimezone(datetime.UTC)
                    yield from_row(tuple(values))
        except psycopg.Error as error:
            self._drop_connection()
            raise StoreError(
                f"{describe(self.url)}: cannot read clicks: {_first_line(error)}"
            ) from None

    def purge_before(self, moment: datetime.datetime) -> int:
        try:
            db = self._connection()
            with db.transaction():
                cursor = db.execute(f"DELETE FROM {CLICKS_TABLE} WHERE time < %s", (moment,))
            return cursor.rowcount
        except psycopg.Error as error:
            self._drop_connection()
            raise StoreError(f"{describe(self.url)}: cannot purge: {_first_line(error)}") from None

    def close(self) -> None:
        self._drop_connection()


def _without_nul(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """PostgreSQL text cannot hold U+0000 (SQLite and JSON can): it becomes U+FFFD."""
    if any(isinstance(value, str) and "\x00" in value for value in row):
        return tuple(
            value.replace("\x00", "\ufffd") if isinstance(value, str) else value for value in row
        )
    return row


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
