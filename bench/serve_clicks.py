"""The click figures of `make bench-serve` (issue 12), run by bench/serve.py after its table
(`.venv/bin/python bench/serve.py --only-clicks` runs them alone). On loopback, bounded:

1. at the maximum rate, `rewriter serve` recording into SQLite and PostgreSQL next to the
   log-line recorder: requests/s and their ratio, clicks stored and dropped, and clicks lost at
   SIGTERM (answered - stored - dropped; should be 0);
2. at half the service's maximum rate (paced): clicks stored == requests answered, per store;
3. each store's sustained insert rate through the queue recorder (bench/clicks.py's measure);
4. one worker killed with SIGKILL under load (SQLite): the service keeps answering, PRAGMA
   integrity_check, and the clicks lost (at most the queue bound, 10,000 per worker).

Requests answered are counted from the service's access log (one line per answer), except in
the SIGKILL run, where the killed worker's unwritten log lines die with it: there, by the client.
PostgreSQL is a private server started as the tests start theirs (tests/conftest_pg.py); when it
cannot start, its rows are skipped with a message.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import itertools
import os
import re
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from loadgen import LoadResult, load  # noqa: E402
from serve import HOST, RULES, SECRET, run_load, service  # noqa: E402

from rewriter.clicks.stores.base import CLICKS_TABLE  # noqa: E402

QUEUE_BOUND = 10_000  # clicks.queue_size's default: what one worker may hold
INSERT_CLICKS = 100_000  # clicks per sustained-insert measure
_ANSWERED = re.compile(rf" 302 {re.escape(HOST)} /l/ ")
_DROPPED = re.compile(r"stopped: (\d+) click\(s\) dropped")


@dataclass
class Run:
    name: str
    rate: float  # requests answered per second (the load generator's figure)
    answered: int
    stored: int
    dropped: int
    errors: int

    @property
    def lost(self) -> int:
        return self.answered - self.stored - self.dropped


def stored_count(url: str) -> int:
    if url == "log":
        return 0
    if url.startswith("sqlite:"):
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite://"))) as db:
            return int(db.execute(f"SELECT count(*) FROM {CLICKS_TABLE}").fetchone()[0])
    import psycopg

    with psycopg.connect(url) as db:
        row = db.execute(f"SELECT count(*) FROM {CLICKS_TABLE}").fetchone()
        return int(row[0]) if row else 0


def integrity(url: str) -> str:
    with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite://"))) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


def worker_pids(supervisor: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()
                if int(stat[1]) == supervisor:
                    pids.append(int(entry))
    return sorted(pids)


class Bench:
    def __init__(self, args: argparse.Namespace, folder: Path, token: str) -> None:
        self.args = args
        self.folder = folder
        self.token = token
        self.counter = itertools.count()

    def _log(self) -> str:
        return f"clicks-{next(self.counter)}.stderr"

    def _settle(self, name: str, url: str, log_name: str, rate: float, errors: int) -> Run:
        text = (self.folder / log_name).read_text(errors="replace")
        answered = len(_ANSWERED.findall(text))
        dropped = sum(int(n) for n in _DROPPED.findall(text))
        return Run(name, rate, answered, stored_count(url), dropped, errors)

    def at_maximum(self, name: str, url: str) -> Run:
        args, log_name = self.args, self._log()
        with service(args.workers, self.folder, self.token, clicks=url, log_name=log_name) as (
            port, path, host, expected, _pid,
        ):  # fmt: skip
            run_load(port, path, host, expected, 1, args.clients, args.connections)  # warm up
            rate, _, _, errors = run_load(
                port, path, host, expected, args.seconds, args.clients, args.connections
            )
        return self._settle(name, url, log_name, rate, errors)  # after SIGTERM

    def paced(self, name: str, url: str, rate: float) -> Run:
        args, log_name = self.args, self._log()
        with service(args.workers, self.folder, self.token, clicks=url, log_name=log_name) as (
            port, path, host, expected, _pid,
        ):  # fmt: skip
            result = load(("127.0.0.1", port), path, host, expected=expected,
                          seconds=args.seconds, processes=args.clients,
                          connections=args.connections, rate=rate)  # fmt: skip
        return self._settle(name, url, log_name, result.rate, result.errors)

    def killed(self, url: str) -> tuple[Run, float, str, int]:
        """(the run, requests/s after the kill, integrity_check, workers)."""
        args, log_name = self.args, self._log()
        workers = max(2, args.workers)
        outcome: list[LoadResult] = []
        with service(workers, self.folder, self.token, clicks=url, log_name=log_name) as (
            port, path, host, expected, pid,
        ):  # fmt: skip
            address = ("127.0.0.1", port)

            def under_load() -> None:
                outcome.append(load(address, path, host, expected=expected,
                                    seconds=args.seconds, processes=args.clients,
                                    connections=args.connections))  # fmt: skip

            thread = threading.Thread(target=under_load)
            thread.start()
            time.sleep(args.seconds / 3)
            victims = worker_pids(pid)
            if victims:
                os.kill(victims[0], signal.SIGKILL)
            thread.join(args.seconds + 120)
            after = load(address, path, host, expected=expected, seconds=2,
                         processes=args.clients, connections=args.connections)  # fmt: skip
        result = outcome[0]
        run = self._settle("sqlite, a worker killed", url, log_name, result.rate, result.errors)
        answered = result.requests + after.requests  # the client's count: see the docstring
        run.answered = answered
        return run, after.rate, integrity(url), workers


@contextlib.contextmanager
def private_postgres() -> Iterator[Callable[[], str] | None]:
    from conftest_pg import running_postgres

    context = running_postgres()
    try:
        server = context.__enter__()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # the tests' helper skips (a pytest outcome) when it cannot
        print(f"PostgreSQL not measured: it could not start here ({error})")
        yield None
        return
    counter = itertools.count()

    def fresh() -> str:
        import psycopg

        name = f"bench{next(counter)}"
        with psycopg.connect(server.url, autocommit=True) as admin:
            admin.execute(f"CREATE SCHEMA {name}")
        return f"{server.url}?options=-c%20search_path%3D{name}"

    try:
        yield fresh
    finally:
        context.__exit__(None, None, None)


def sustained_insert_rate(url: str) -> float:
    import logging

    from clickdata import many

    sys.path.insert(0, str(ROOT / "bench"))
    from clicks import sustained

    logging.getLogger("rewriter.clicks").setLevel(logging.ERROR)
    return sustained(url, many(INSERT_CLICKS))[0]


def click_figures(args: argparse.Namespace, token: str, service_rate: float | None) -> None:
    print(f"click figures: load average {os.getloadavg()[0]:.2f} at the start "
          f"({os.cpu_count()} processors shared with other work)")  # fmt: skip
    with (
        tempfile.TemporaryDirectory(prefix="rewriter-bench-clicks-") as name,
        private_postgres() as postgres,
    ):
        folder = Path(name)
        (folder / "rules.yaml").write_text(RULES)
        keys = folder / "bench.keys"
        keys.write_text(f"k1 {base64.urlsafe_b64encode(SECRET).decode().rstrip('=')}\n")
        keys.chmod(0o600)
        files = itertools.count()

        def sqlite_url() -> str:
            return f"sqlite://{folder / f'clicks{next(files)}.sqlite3'}"

        stores: list[tuple[str, Callable[[], str]]] = [("sqlite", sqlite_url)]
        if postgres is not None:
            stores.append(("postgresql", postgres))
        bench = Bench(args, folder, token)

        maximum = [bench.at_maximum("log lines", "log")]
        maximum += [bench.at_maximum(kind, make()) for kind, make in stores]
        log_rate = maximum[0].rate
        print(f"\nat the maximum rate ({args.workers} worker(s), {args.seconds:.0f} s, "
              "stopped by SIGTERM right after the load)")  # fmt: skip
        print(f"{'recorder':12} {'requests/s':>11} {'vs log':>7} {'answered':>9} "
              f"{'stored':>9} {'dropped':>8} {'lost':>5} {'errors':>7}")  # fmt: skip
        for run in maximum:
            ratio = run.rate / log_rate if log_rate else float("nan")
            stored, lost = (f"{run.stored:9,}", f"{run.lost:5,}") if run.stored else ("-", "-")
            print(f"{run.name:12} {run.rate:11,.0f} {ratio:7.2f} {run.answered:9,} "
                  f"{stored:>9} {run.dropped:8,} {lost:>5} {run.errors:7,}")  # fmt: skip
        sqlite_ratio = maximum[1].rate / log_rate if log_rate else float("nan")
        print(f"SQLite / log lines = {sqlite_ratio:.2f} (aim >= 0.90: "
              f"{'met' if sqlite_ratio >= 0.9 else 'NOT met'}); lost = answered - stored - "
              "dropped (0: SIGTERM loses none)")  # fmt: skip

        top = service_rate or log_rate
        half = top / 2
        print(f"\nat half the maximum rate ({half:,.0f} requests/s paced, half of "
              f"{top:,.0f}; bench/loadgen.py)")  # fmt: skip
        for kind, make in stores:
            run = bench.paced(kind, make(), half)
            same = "==" if run.stored == run.answered else "!="
            print(f"  {kind:11} {run.rate:9,.0f} requests/s: answered {run.answered:,} "
                  f"{same} stored {run.stored:,} (dropped {run.dropped}, "
                  f"errors {run.errors})")  # fmt: skip

        print(f"\nsustained insert rate through the queue recorder ({INSERT_CLICKS:,} clicks, "
              "one process, target >= 20,000 clicks/s)")  # fmt: skip
        for kind, make in stores:
            rate = sustained_insert_rate(make())
            print(f"  {kind:11} {rate:11,.0f} clicks/s ({'met' if rate >= 20_000 else 'NOT met'})")

        run, after, check, workers = bench.killed(sqlite_url())
        lost = run.answered - run.stored
        print(f"\none of {workers} workers killed (SIGKILL) a third into {args.seconds:.0f} s of "
              "load, SQLite:")  # fmt: skip
        print(f"  answered {run.answered:,} (client count), stored {run.stored:,}, lost {lost:,} "
              f"(bound {QUEUE_BOUND:,}: {'met' if lost <= QUEUE_BOUND else 'NOT met'}); "
              f"client errors {run.errors} (the killed worker's connections)")  # fmt: skip
        print(f"  after the kill: {after:,.0f} requests/s; PRAGMA integrity_check: {check}")
