"""How fast each click store takes clicks through the queue recorder (issue 12):
`.venv/bin/python bench/clicks.py [--clicks N] [--repeat R]`.

For SQLite, PostgreSQL (a throwaway server, started as the tests start theirs) and JSON lines:
1. the sustained insert rate: N clicks recorded as fast as one thread can, with a queue large
   enough to hold them all, timed until the last one is stored (target: 20,000 clicks/s);
2. the cost of one `record` call on the request path;
3. the clicks dropped when the same burst meets the default bound (10,000 waiting).
Prints one table; exits 0 whatever the figures. Everything written goes under a temporary folder.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from clickdata import many  # noqa: E402
from conftest_pg import running_postgres  # noqa: E402

from rewriter.clicks.model import Click  # noqa: E402
from rewriter.clicks.queue import QueueRecorder  # noqa: E402
from rewriter.clicks.stores import open_store  # noqa: E402

TARGET = 20_000


def sustained(url: str, clicks: list[Click]) -> tuple[float, float, float]:
    """Clicks per second until all are stored (wall clock), this process's CPU microseconds
    per click (the machine may be shared: CPU time shows what one free core would do), and
    microseconds per `record` call."""
    recorder = QueueRecorder(open_store(url), capacity=len(clicks))
    start, cpu = time.perf_counter(), time.process_time()
    for click in clicks:
        recorder.record(click)
    recorded = time.perf_counter()
    assert recorder.flush(600), "the store did not keep up within 10 minutes"
    done, cpu = time.perf_counter(), time.process_time() - cpu
    recorder.close()
    assert recorder.dropped == 0
    count = len(clicks)
    return count / (done - start), cpu / count * 1e6, (recorded - start) / count * 1e6


def dropped_at_bound(url: str, clicks: list[Click]) -> int:
    recorder = QueueRecorder(open_store(url))  # the default bound
    for click in clicks:
        recorder.record(click)
    recorder.close(timeout=600)
    return recorder.dropped


@contextlib.contextmanager
def stores(folder: Path) -> Iterator[list[tuple[str, Callable[[], str]]]]:
    counter = iter(range(1_000_000))

    def sqlite() -> str:
        return f"sqlite:{folder / f'clicks{next(counter)}.sqlite3'}"

    def jsonl() -> str:
        return f"jsonl:{folder / f'clicks{next(counter)}.jsonl'}"

    with running_postgres() as server:

        def postgresql() -> str:
            import psycopg

            name = f"bench{next(counter)}"
            with psycopg.connect(server.url, autocommit=True) as admin:
                admin.execute(f"CREATE SCHEMA {name}")
            return f"{server.url}?options=-c%20search_path%3D{name}"

        yield [("sqlite", sqlite), ("postgresql", postgresql), ("jsonl", jsonl)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    logging.getLogger("rewriter.clicks").setLevel(logging.ERROR)  # drops are counted below
    clicks = many(options.clicks)
    print(f"{options.clicks:,} clicks per run, best and worst of {options.repeat} runs")
    print(f"{os.cpu_count()} processors, load average {os.getloadavg()[0]:.1f} at the start")
    header = (
        "store",
        "clicks/s (wall)",
        "target",
        "CPU µs/click",
        "record µs",
        "dropped at 10,000",
    )
    print(
        f"{header[0]:<11}{header[1]:>20}{header[2]:>9}{header[3]:>14}{header[4]:>11}  {header[5]}"
    )
    with (
        tempfile.TemporaryDirectory(prefix="rewriter-bench-clicks-") as folder,
        stores(Path(folder)) as kinds,
    ):
        for name, make_url in kinds:
            runs = [sustained(make_url(), clicks) for _ in range(options.repeat)]
            rates = sorted(rate for rate, _, _ in runs)
            cpu = min(cost for _, cost, _ in runs)
            record = min(cost for _, _, cost in runs)
            dropped = dropped_at_bound(make_url(), clicks)
            verdict = "met" if rates[0] >= TARGET else "best" if rates[-1] >= TARGET else "NOT MET"
            span = f"{rates[-1]:,.0f} / {rates[0]:,.0f}"
            print(
                f"{name:<11}{span:>20}{verdict:>9}{cpu:>14.1f}{record:>11.2f}"
                f"  {dropped:,} of {len(clicks):,}"
            )
    print("target: met by every run, or by the best only; CPU µs/click: this process alone")
    print("(the PostgreSQL server's own work is not in it)")


if __name__ == "__main__":
    main()
