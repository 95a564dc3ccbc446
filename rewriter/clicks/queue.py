"""The recorder the service uses: a bounded in-memory queue per worker, emptied into a store by
a background writer thread, in batches.

`record` is a deque append and a length check: it never blocks, never raises and never waits for
the store. When the queue is full (the store is slow or away), the click is dropped, counted, and
a warning logged at most once per interval. The writer retries a failed batch with backoff, so a
PostgreSQL restart costs nothing while the queue holds; the batch is stored once, since stores
skip click ids already stored. `close` stops taking clicks and flushes what is pending (SIGTERM).
"""

from __future__ import annotations

import collections
import logging
import threading
import time

from rewriter.clicks.model import Click
from rewriter.clicks.stores.base import Store, StoreError

log = logging.getLogger("rewriter.clicks")

BATCH_SIZE = 2_000
INTERVAL_S = 0.1  # the longest a click waits before the writer looks
BACKOFF_S = (0.05, 5.0)  # first and longest pause after a failed batch
LOG_INTERVAL_S = 10.0
CLOSE_TIMEOUT_S = 10.0


class QueueRecorder:
    def __init__(
        self,
        store: Store,
        *,
        capacity: int = 10_000,
        batch_size: int = BATCH_SIZE,
        interval: float = INTERVAL_S,
        backoff: tuple[float, float] = BACKOFF_S,
        log_interval: float = LOG_INTERVAL_S,
    ) -> None:
        self._store = store
        self._capacity = capacity
        self._batch_size = batch_size
        self._interval = interval
        self._backoff = backoff
        self._log_interval = log_interval
        self._pending: collections.deque[Click] = collections.deque()
        self._wake = threading.Event()  # new clicks to write, or a flush
        self._stop = threading.Event()  # close: cuts a pause after a failed batch short
        self._closing = False
        self._deadline = float("inf")
        self._in_flight = 0
        self._written = 0
        self._failures = 0
        self._dropped = 0
        self._count_lock = threading.Lock()
        self._last_log: dict[str, float] = {}
        self._thread = threading.Thread(target=self._run, name="click-writer", daemon=True)
        self._thread.start()

    # --- the request path

    def record(self, click: Click) -> None:
        try:
            if self._closing or len(self._pending) >= self._capacity:
                self._drop(
                    1, "the click queue is full" if not self._closing else "the recorder is closed"
                )
                return
            self._pending.append(click)
            if len(self._pending) >= self._batch_size:
                self._wake.set()
        except Exception:  # never fail a redirect, whatever happens here
            pass

    # --- what the service shows

    @property
    def dropped(self) -> int:
        return self._dropped

    @property
    def written(self) -> int:
        return self._written

    @property
    def failures(self) -> int:
        """Batches the store failed to take (each retried or settled since)."""
        return self._failures

    @property
    def waiting(self) -> int:
        return len(self._pending) + self._in_flight

    def flush(self, timeout: float = CLOSE_TIMEOUT_S) -> bool:
        """Wait until every click taken so far is stored (or dropped); False on timeout."""
        end = time.monotonic() + timeout
        while self.waiting and time.monotonic() < end:
            self._wake.set()  # a writer pausing after a failed batch does not listen to it
            time.sleep(0.005)
        return not self.waiting

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Stop taking clicks, store what is pending (retrying until `timeout`; what is left
        then is dropped and counted), and close the store."""
        if self._closing:
            return
        self._deadline = time.monotonic() + timeout
        self._closing = True
        self._wake.set()
        self._stop.set()
        self._thread.join(timeout + 1.0)
        if not self._thread.is_alive() and self._pending:  # taken while the writer stopped
            late = list(self._pending)
            self._pending.clear()
            try:
                self._store.write_batch(late)
                self._written += len(late)
            except Exception:
                self._drop(len(late), "the store failed at shutdown")
        try:
            self._store.close()
        except Exception as error:
            log.warning("closing the click store: %s", error)

    # --- the writer thread

    def _run(self) -> None:
        batch: list[Click] = []
        pause = 0.0
        while True:
            if not batch:
                batch = self._take()
            if batch:
                if self._write(batch):
                    batch, pause = [], 0.0
                    continue
                if time.monotonic() >= self._deadline:
                    self._give_up(batch)
                    return
                pause = min(max(pause * 2, self._backoff[0]), self._backoff[1])
                self._pause(pause)
                continue
            if self._closing:
                return
            self._sleep(self._interval)

    def _take(self) -> list[Click]:
        # Counted in flight before leaving the queue, so `waiting` never reads low (`flush`).
        # Only this thread takes from the queue, so it holds at least `count` clicks.
        count = self._in_flight = min(len(self._pending), self._batch_size)
        popleft = self._pending.popleft
        return [popleft() for _ in range(count)]

    def _write(self, batch: list[Click]) -> bool:
        """True when the batch is settled (stored, or its refused clicks dropped); False to
        retry it later (the store is away). Retrying is safe: stores skip ids already stored."""
        try:
            self._store.write_batch(batch)
        except StoreError as error:
            if error.permanent:
                return self._write_singly(batch, error)
            self._failures += 1
            self._log_rate_limited(
                "store", "cannot store %d clicks (%d waiting), retrying: %s",
                len(batch), self.waiting, error,
            )  # fmt: skip
            return False
        except Exception as error:  # a bug, or what is not a click: retrying would not help
            return self._write_singly(batch, error)
        self._written += len(batch)
        self._in_flight = 0
        return True

    def _write_singly(self, batch: list[Click], error: Exception) -> bool:
        """A batch refused for what it holds: each click alone, and those refused again are
        dropped and counted, so one bad click never holds up the others. `batch` keeps the
        clicks not settled when the store goes away meanwhile."""
        log.warning(
            "a batch of %d clicks was refused (%s): storing them one by one", len(batch), error
        )
        while batch:
            try:
                self._store.write_batch(batch[:1])
                self._written += 1
            except StoreError as refused:
                if not refused.permanent:
                    self._failures += 1
                    return False
                self._drop(1, f"a click the store refuses ({refused})")
            except Exception as refused:
                self._drop(1, f"a click the store refuses ({refused!r})")
            del batch[0]
            self._in_flight = len(batch)
        return True

    def _give_up(self, batch: list[Click]) -> None:
        left = len(batch) + len(self._pending)
        self._pending.clear()
        self._in_flight = 0
        self._drop(left, "the store did not answer before shutdown")
        log.error("%d clicks could not be stored before shutdown and are lost", left)

    def _sleep(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def _pause(self, seconds: float) -> None:
        """The backoff after a failed batch: new clicks do not cut it short (they would make
        the writer hammer a store that is down), closing does, once; while closing it is bounded
        by the deadline."""
        if self._closing:
            time.sleep(max(0.0, min(seconds, self._deadline - time.monotonic())))
        else:
            self._stop.wait(seconds)

    def _drop(self, count: int, why: str) -> None:
        with self._count_lock:
            self._dropped += count
            total = self._dropped
        self._log_rate_limited("drop", "%s: clicks dropped so far: %d", why, total)

    def _log_rate_limited(self, kind: str, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last_log.get(kind, -self._log_interval) >= self._log_interval:
            self._last_log[kind] = now
            log.warning(message, *args)
