"""The click stores (SQLite, PostgreSQL, JSON lines) and the queue recorder that feeds them.

PostgreSQL runs for real (tests/conftest_pg.py): a server of our own on a free loopback port."""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import multiprocessing
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from clickdata import CHROME, T0, click, many
from conftest_pg import PostgresServer, running_postgres

from rewriter.clicks.model import Click, ClickStatus
from rewriter.clicks.queue import QueueRecorder
from rewriter.clicks.stores import Store, StoreError, open_store, postgres, sqlite
from rewriter.clicks.stores.postgres import PostgresStore
from rewriter.clicks.stores.sqlite import SqliteStore

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    with running_postgres() as running:
        yield running


def fresh_database(server: PostgresServer) -> str:
    """A URL whose tables live in a schema of their own (much faster than a new database)."""
    name = f"t{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {name}")
    return f"{server.url}?options=-c%20search_path%3D{name}"


def make_url(kind: str, request: pytest.FixtureRequest, folder: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:{folder / 'clicks.sqlite3'}"
    if kind == "jsonl":
        return f"jsonl:{folder / 'clicks.jsonl'}"
    return fresh_database(request.getfixturevalue("server"))


@pytest.fixture(params=["sqlite", "postgresql", "jsonl"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return make_url(request.param, request, tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The stores with a schema and a purge."""
    return make_url(request.param, request, tmp_path)


def stored(url: str) -> list[Click]:
    store = open_store(url)
    try:
        return list(store.read())
    finally:
        store.close()


def every_field() -> list[Click]:
    return [
        click(2, query="utm_source=mail&x=%C3%A9", user_agent="Mozilla/5.0 «é»"),
        click(1, context=None, client=None, user_agent=None, status=ClickStatus.FALLBACK),
        Click(
            click_id=uuid.uuid4().hex,
            time=T0 + datetime.timedelta(milliseconds=3_123),
            host="go.example.com",
            token_version=None,
            key_id=None,
            context=None,
            destination_host=None,
            destination_path=None,
            destination_query=None,
            method="GET",
            user_agent=None,
            client="2001:db8::/48",
            label="bot",
            label_reason="no user agent",
            status=ClickStatus.NOT_FOUND,
        ),
    ]


def test_round_trip_in_time_order(url: str) -> None:
    clicks = every_field()
    store = open_store(url)
    store.write_batch(clicks)
    store.close()
    assert stored(url) == sorted(clicks, key=lambda item: item.time)


def test_a_batch_written_twice_is_stored_once(url: str) -> None:
    first, second = many(50), many(50)
    store = open_store(url)
    store.write_batch(first)
    store.write_batch(first[25:] + second)  # retried after a lost acknowledgement, plus new ones
    store.close()
    assert sorted(item.click_id for item in stored(url)) == sorted(
        item.click_id for item in first + second
    )


def test_read_between_times(url: str) -> None:
    store = open_store(url)
    store.write_batch([click(0), click(10), click(20)])
    since, until = T0 + datetime.timedelta(seconds=10), T0 + datetime.timedelta(seconds=20)
    assert [item.time for item in store.read(since, until)] == [since]
    store.close()


def test_purge_before(database_url: str) -> None:
    store = open_store(database_url)
    store.write_batch([click(0), click(10), click(20)])
    assert store.purge_before(T0 + datetime.timedelta(seconds=15)) == 2
    assert [item.time for item in store.read()] == [T0 + datetime.timedelta(seconds=20)]
    store.close()


def test_json_lines_refuse_purge(tmp_path: Path) -> None:
    store = open_store(f"jsonl:{tmp_path / 'c.jsonl'}")
    with pytest.raises(StoreError, match="rotate it"):
        store.purge_before(T0)


# --- schema and migrations


def open_at(url: str, version: int) -> SqliteStore | PostgresStore:
    """A store whose schema is only at `version` (an older rewriter made it)."""
    store: SqliteStore | PostgresStore
    if url.startswith("sqlite:"):
        store = SqliteStore(Path(url.removeprefix("sqlite:")))
    else:
        store = PostgresStore(url)
    store.migrate(target=version)
    return store


def indexes(url: str) -> set[str]:
    if url.startswith("sqlite:"):
        with sqlite3.connect(url.removeprefix("sqlite:")) as db:
            rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
    else:
        with psycopg.connect(url) as db:
            rows = db.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
            ).fetchall()
    return {row[0] for row in rows}


def test_migration_from_empty_is_idempotent(database_url: str) -> None:
    for _ in range(3):
        store = open_at(database_url, sqlite.VERSION)
        store.migrate()
        assert store.schema_version() == sqlite.VERSION == postgres.VERSION == 2
        store.close()
    assert "rewriter_clicks_time" in indexes(database_url)


def test_migration_from_an_older_schema_keeps_the_clicks(database_url: str) -> None:
    old = open_at(database_url, 1)
    assert old.schema_version() == 1
    assert "rewriter_clicks_time" not in indexes(database_url)
    kept = click(5)
    old.write_batch([kept])  # version 1 already has every column
    old.close()
    store = open_store(database_url)  # what an upgraded rewriter does at start
    assert isinstance(store, SqliteStore | PostgresStore)
    assert store.schema_version() == 2
    assert list(store.read()) == [kept]
    store.close()
    assert "rewriter_clicks_time" in indexes(database_url)


def test_a_newer_schema_is_refused(database_url: str) -> None:
    store = open_at(database_url, 2)
    table = "rewriter_schema"
    if database_url.startswith("sqlite:"):
        with sqlite3.connect(database_url.removeprefix("sqlite:")) as db:
            db.execute(f"INSERT INTO {table} VALUES (9, 'later')")
    else:
        with psycopg.connect(database_url) as db:
            db.execute(f"INSERT INTO {table} VALUES (9, now())")
    store.close()
    with pytest.raises(StoreError, match="schema version 9, newer than this version"):
        open_store(database_url)


def test_unreachable_stores_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError, match="cannot open the click store"):
        open_store(f"sqlite:{tmp_path / 'file' / 'clicks.sqlite3'}")
    port = 9  # discard: nothing listens there
    with pytest.raises(StoreError, match=r"postgresql://app@127\.0\.0\.1:9/x: cannot connect"):
        open_store(f"postgresql://app:secret@127.0.0.1:{port}/x")


# --- two worker processes at once


def test_two_worker_processes_write_at_once(url: str) -> None:
    count = 3_000
    writers = [
        subprocess.Popen(
            [sys.executable, str(HERE / "clickwriter.py"), url, prefix, str(count)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for prefix in ("a", "b")
    ]
    for writer in writers:
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err.decode()
        assert out.split() == [str(count).encode(), b"0"]  # all written, none dropped
    ids = [item.click_id for item in stored(url)]
    assert len(ids) == len(set(ids)) == 2 * count
    assert {identity[0] for identity in ids} == {"a", "b"}
    if url.startswith("sqlite:"):
        with sqlite3.connect(url.removeprefix("sqlite:")) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


# --- the queue recorder


class GatedStore:
    """A real SQLite store whose writes wait until the test opens the gate: a slow store."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.entered = threading.Event()
        self.gate = threading.Event()

    def migrate(self) -> None:
        self.inner.migrate()

    def write_batch(self, clicks: Sequence[Click]) -> None:
        self.entered.set()
        assert self.gate.wait(30)
        self.inner.write_batch(clicks)

    def read(
        self, since: datetime.datetime | None = None, until: datetime.datetime | None = None
    ) -> Iterator[Click]:
        return self.inner.read(since, until)

    def purge_before(self, moment: datetime.datetime) -> int:
        return self.inner.purge_before(moment)

    def close(self) -> None:
        self.inner.close()


def test_a_full_queue_drops_counts_and_logs_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:{tmp_path / 'clicks.sqlite3'}"
    store = GatedStore(open_store(url))
    recorder = QueueRecorder(store, capacity=100, batch_size=10, interval=0.01)
    recorder.record(click())
    assert store.entered.wait(10)  # the writer holds that one click, blocked in the store
    with caplog.at_level(logging.WARNING, logger="rewriter.clicks"):
        for item in many(300):
            recorder.record(item)  # returns at once, whatever the store does
    assert recorder.dropped == 200
    assert recorder.waiting == 101
    drops = [record for record in caplog.records if "dropped" in record.getMessage()]
    assert len(drops) == 1  # once per interval, not once per click
    assert "the click queue is full: clicks dropped so far: 1" in drops[0].getMessage()
    store.gate.set()
    recorder.close()
    assert (recorder.written, recorder.dropped) == (101, 200)
    assert len(stored(url)) == 101


def test_close_flushes_and_later_clicks_are_counted(tmp_path: Path) -> None:
    url = f"sqlite:{tmp_path / 'clicks.sqlite3'}"
    recorder = QueueRecorder(open_store(url), interval=60)  # the writer would sleep a minute
    clicks = many(1_234)
    for item in clicks:
        recorder.record(item)
    recorder.close()  # SIGTERM: everything pending is stored before exit
    recorder.record(click())
    assert (recorder.written, recorder.dropped) == (1_234, 1)
    assert stored(url) == clicks


def test_a_postgresql_restart_while_recording(server: PostgresServer) -> None:
    url = fresh_database(server)
    recorder = QueueRecorder(open_store(url), batch_size=50, interval=0.01, backoff=(0.05, 0.1))
    before, during, after = many(500), many(500), many(500)
    for item in before:
        recorder.record(item)
    assert recorder.flush(30)
    server.stop()
    try:
        for item in during:
            recorder.record(item)  # the server is away: they wait in the queue
        assert not recorder.flush(0.3)
        assert recorder.waiting == 500
        # It backs off: neither new clicks nor a flush make it retry at once (about 5 tries
        # in 0.3 s; without backoff, one per click and per flush poll, hundreds).
        assert 1 <= recorder.failures < 20
    finally:
        server.start()
    for item in after:
        recorder.record(item)
    recorder.close(timeout=30)
    assert (recorder.written, recorder.dropped) == (1_500, 0)
    ids = [item.click_id for item in stored(url)]
    assert sorted(ids) == sorted(item.click_id for item in before + during + after)


def test_clicks_left_when_the_store_stays_away_are_counted(server: PostgresServer) -> None:
    url = fresh_database(server)
    recorder = QueueRecorder(open_store(url), interval=0.01, backoff=(0.01, 0.05))
    server.stop()
    try:
        for item in many(40):
            recorder.record(item)
        recorder.close(timeout=0.3)  # shutdown while the database is down
    finally:
        server.start()
    assert (recorder.written, recorder.dropped) == (0, 40)
    assert stored(url) == []


def test_a_click_the_store_refuses_is_dropped_alone(database_url: str) -> None:
    good = many(30)
    bad = dataclasses.replace(good[0], click_id="bad", token_version=2**70)  # no column holds it
    recorder = QueueRecorder(open_store(database_url), interval=0.01, backoff=(0.01, 0.05))
    for item in [*good[:10], bad, *good[10:]]:
        recorder.record(item)
    recorder.close(timeout=30)
    assert (recorder.written, recorder.dropped) == (30, 1)
    assert sorted(item.click_id for item in stored(database_url)) == sorted(
        item.click_id for item in good
    )


def test_text_with_nul_is_kept(url: str) -> None:
    store = open_store(url)
    store.write_batch([click(user_agent="Mozilla\x00/5.0", path="/a\x00b")])
    store.close()
    (kept,) = stored(url)
    assert (kept.user_agent, kept.destination_path) in [
        ("Mozilla\x00/5.0", "/a\x00b"),  # SQLite and JSON keep it
        ("Mozilla\ufffd/5.0", "/a\ufffdb"),  # PostgreSQL text cannot hold U+0000
    ]


def test_a_json_line_is_one_flat_object(tmp_path: Path) -> None:
    path = tmp_path / "clicks.jsonl"
    store = open_store(f"jsonl:{path}")
    store.write_batch([click(1.2345, click_id="c1", query="a=1")])
    store.close()
    assert json.loads(path.read_text()) == {
        "click_id": "c1",
        "time": "2026-11-30T09:00:01.234Z",
        "host": "go.example.com",
        "token_version": 1,
        "key_id": "k1",
        "context": "spring.html",
        "destination_host": "www.example.com",
        "destination_path": "/spring",
        "destination_query": "a=1",
        "method": "GET",
        "user_agent": CHROME,
        "client": "198.51.100.0/24",
        "label": "human",
        "label_reason": "a browser's user agent",
        "status": "redirected",
    }
    assert path.read_text().count("\n") == 1


def test_sqlite_stores_a_batch_in_a_few_statements_not_one_per_row(tmp_path: Path) -> None:
    """executemany releases the interpreter lock at every row, and with the service's requests
    keeping another thread busy, each row then waited up to 5 ms for it back (2,000 clicks: 2.8 s,
    measured): a batch goes in as multi-row statements, in one transaction."""
    store = SqliteStore(tmp_path / "clicks.sqlite3")
    store.migrate()
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    clicks = many(2_500)
    store.write_batch(clicks)
    store._db.set_trace_callback(None)
    inserts = [s for s in statements if s.startswith("INSERT")]
    assert len(inserts) == 3  # 1,000 rows per statement at most
    assert [s.split()[0] for s in statements if not s.startswith("INSERT")] == ["BEGIN", "COMMIT"]
    store.close()
    assert len(stored(f"sqlite://{tmp_path / 'clicks.sqlite3'}")) == 2_500


def _open_new_store(path: str, barrier: Any, results: Any) -> None:
    try:
        barrier.wait()
        store = SqliteStore(Path(path))
        store.migrate()
        store.close()
        results.put("ok")
    except Exception as error:  # reported to the test, which names it
        results.put(repr(error))


def test_workers_opening_a_new_sqlite_store_together_all_succeed(tmp_path: Path) -> None:
    """Switching a new file to WAL answered "database is locked" at once, without the busy
    timeout, to about one start in fifteen of three workers opening it together (measured)."""
    context = multiprocessing.get_context("fork")
    for round_number in range(20):
        path = str(tmp_path / f"round{round_number}.sqlite3")
        barrier, results = context.Barrier(3), context.Queue()
        workers = [
            context.Process(target=_open_new_store, args=(path, barrier, results)) for _ in range(3)
        ]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(timeout=60)
        assert outcomes == ["ok"] * 3, outcomes
