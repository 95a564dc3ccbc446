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


def sustained(url: str, clicks: list[Click]) -> tuple[float, float]:
    """(clicks per second until all are stored, microseconds per record call)."""
    recorder = QueueRecorder(open_store(url), capacity=len(clicks))
    start = time.perf_counter()
    for click in clicks:
        recorder.record(click)
    recorded = time.perf_counter()
    assert recorder.flush(600), "the store did not keep up within 10 minutes"
    done = time.perf_counter()
    recorder.close()
    assert recorder.dropped == 0
    return len(clicks) / (done - start), (recorded - start) / len(clicks) * 1e6


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
    clicks = many(options.clicks)
    print(f"{options.clicks:,} clicks per run, best and worst of {options.repeat} runs")
    print(f"{'store':<12}{'clicks/s':>22}{'target':>10}{'record µs':>11}{'dropped at 10,000':>19}")
    with (
        tempfile.TemporaryDirectory(prefix="rewriter-bench-clicks-") as folder,
        stores(Path(folder)) as kinds,
    ):
        for name, make_url in kinds:
            runs = [sustained(make_url(), clicks) for _ in range(options.repeat)]
            rates = sorted(rate for rate, _ in runs)
            cost = min(cost for _, cost in runs)
            dropped = dropped_at_bound(make_url(), clicks)
            verdict = "met" if rates[0] >= TARGET else "NOT MET"
            span = f"{rates[-1]:,.0f} / {rates[0]:,.0f}"
            print(
                f"{name:<12}{span:>22}{verdict:>10}{cost:>11.2f}{dropped:>12,} of {len(clicks):,}"
            )


if __name__ == "__main__":
    main()
