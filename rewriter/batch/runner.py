"""Run a batch: the cache, the worker processes, outcomes in sorted order, progress.

Files are taken in sorted order and their outcomes come back in that order through a bounded
window of work in flight, so output, summary and report do not depend on the number of workers,
and memory does not grow with the number of files. Workers are processes, each with its own
engine built once, sent batches of files (one task per file cost the parent as much CPU as a
small file's processing); they write the output files themselves and return small outcomes;
only the parent writes the summary, the report and the cache.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from rewriter.batch.job import EngineSettings, Job, Mode
from rewriter.batch.process import failed_outcome, process
from rewriter.batch.report import FileOutcome, FileState, count_links
from rewriter.batch.sources import PathError, Source

if TYPE_CHECKING:
    from concurrent.futures import Executor, Future

    from rewriter.batch.cache import Cache
    from rewriter.document.engine import Rewriter
    from rewriter.rules.model import Rules

# Files per task sent to a worker: the pool costs the parent about 100 µs of CPU per task, as
# much as a small file's whole processing, so tasks of one file made the parent a third
# competitor for two processors. A batch is also cut at BATCH_BYTES, to stay short.
BATCH_FILES = 32
BATCH_BYTES = 1 << 20
# Files in flight per worker (outcomes waiting included): two batches each, so that a worker
# finds the next batch queued when it finishes one; bounded whatever the number of files.
WINDOW_PER_WORKER = 2 * BATCH_FILES


def available_workers() -> int:
    """The processors this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run(
    sources: Iterable[Source | PathError],
    job: Job,
    engine: Rewriter,
    settings: EngineSettings,
    *,
    workers: int = 1,
    cache: Cache | None = None,
) -> Iterator[FileOutcome]:
    """Outcomes in the order of `sources`, processed by `workers` processes (1: here); a path
    that could not be taken is a failed file, in its place.

    Ctrl-C and SIGTERM (raised as KeyboardInterrupt) are held while a file is processed and
    while the caller handles its outcome, and taken only between files or while waiting for a
    worker: every file written has its outcome handed over before the interruption is.
    """
    with _interrupts_held():
        if workers <= 1:
            for source in sources:
                _take_interrupts()
                if isinstance(source, PathError):
                    yield failed_outcome(source.display, source.reason)
                    continue
                hit = _cached(source, job, cache, engine.rules)
                yield (
                    hit
                    if hit is not None
                    else _record(
                        _slim(process(source, engine, job), job), source, cache, engine.rules
                    )
                )
            return
        yield from _run_pool(sources, job, settings, workers, cache)


_STOPS = {signal.SIGINT, signal.SIGTERM}
# Holding signals needs POSIX thread signal masks; elsewhere an interruption is taken at once.
_CAN_HOLD = hasattr(signal, "pthread_sigmask")


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """Block Ctrl-C and SIGTERM in this thread (and in the threads and processes it starts):
    the kernel keeps them pending until `_take_interrupts` or the end."""
    if not _CAN_HOLD:
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # a pending one is raised here


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """Let a held interruption in (raised as its handler says) while inside."""
    if not _CAN_HOLD:
        yield
        return
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOPS)


def _take_interrupts() -> None:
    with _interruptible():
        pass


def _run_pool(
    sources: Iterable[Source | PathError],
    job: Job,
    settings: EngineSettings,
    workers: int,
    cache: Cache | None,
) -> Iterator[FileOutcome]:
    from concurrent.futures import ProcessPoolExecutor

    pool: Executor | None = None
    window: deque[_Slot] = deque()
    batcher = _Batcher()

    def submit(batch: _Batch) -> None:
        nonlocal pool
        if pool is None:  # started only when a file needs work
            pool = ProcessPoolExecutor(workers, initializer=_start_worker, initargs=(settings,))
        batch.future = pool.submit(_work_batch, batch.sources, job)

    try:
        for source in sources:
            _take_interrupts()
            if isinstance(source, PathError):
                window.append(_Slot(None, failed_outcome(source.display, source.reason)))
                continue
            hit = _cached(source, job, cache, settings.rules)
            if hit is not None:
                window.append(_Slot(source, hit))
            else:
                batch, full = batcher.add(source)
                window.append(_Slot(source, batch, len(batch.sources) - 1))
                if full:
                    submit(batcher.take())
            while len(window) >= workers * WINDOW_PER_WORKER:
                yield _finish(_next_done(window, batcher, submit), cache, settings.rules)
        if batcher.open is not None:
            submit(batcher.take())
        while window:
            yield _finish(_next_done(window, batcher, submit), cache, settings.rules)
    except KeyboardInterrupt:
        if pool is not None:
            # Queued batches are dropped; batches being written finish (each file atomically)...
            pool.shutdown(wait=True, cancel_futures=True)
        # ...and are reported, as are those done but not yet handed over: in order, a prefix
        # of the window, since workers take batches in order and the rest were cancelled.
        for slot in window:
            if slot.outcome() is None:
                break
            yield _finish(slot, cache, settings.rules)
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


class _Batch:
    """Files sent to a worker in one task; `future` is None until it is sent."""

    __slots__ = ("future", "size", "sources")

    def __init__(self) -> None:
        self.sources: list[Source] = []
        self.size = 0  # bytes, as far as known before reading
        self.future: Future[list[FileOutcome]] | None = None


class _Batcher:
    """Groups the files that need work into batches: small ones first, so that a short batch
    still spreads over the workers, then up to BATCH_FILES files or BATCH_BYTES bytes, so that
    the parent's cost per task is shared by many files and a batch stays short to finish
    (an interruption waits for the batches being written)."""

    __slots__ = ("limit", "open")

    def __init__(self) -> None:
        self.open: _Batch | None = None
        self.limit = 1  # files in the next batch: doubles up to BATCH_FILES

    def add(self, source: Source) -> tuple[_Batch, bool]:
        """The batch `source` joined, and whether it is full (to be sent now)."""
        if self.open is None:
            self.open = _Batch()
        batch = self.open
        batch.sources.append(source)
        batch.size += _size(source)
        return batch, len(batch.sources) >= self.limit or batch.size >= BATCH_BYTES

    def take(self) -> _Batch:
        """The open batch, closed."""
        assert self.open is not None
        batch, self.open = self.open, None
        self.limit = min(self.limit * 2, BATCH_FILES)
        return batch


def _size(source: Source) -> int:
    try:
        return source.path.stat().st_size
    except OSError:  # the worker reports it
        return 0


class _Slot:
    """One file's place in the window: its outcome, known or to come from its batch."""

    __slots__ = ("batch", "done", "index", "source")

    def __init__(self, source: Source | None, done: FileOutcome | _Batch, index: int = 0) -> None:
        self.source = source  # None: a path error, nothing to remember
        self.done = done if isinstance(done, FileOutcome) else None
        self.batch = done if isinstance(done, _Batch) else None
        self.index = index

    def ready(self) -> bool:
        return self.done is not None or (
            self.batch is not None and self.batch.future is not None and self.batch.future.done()
        )

    def outcome(self) -> FileOutcome | None:
        """The outcome if its batch ended well; None if it was never sent, was cancelled or
        failed."""
        if self.done is not None:
            return self.done
        assert self.batch is not None
        future = self.batch.future
        if future is None or not future.done() or future.cancelled():
            return None
        if future.exception() is not None:
            return None
        return future.result()[self.index]

    def result(self) -> FileOutcome:
        """The outcome; raises what the worker raised."""
        if self.done is not None:
            return self.done
        assert self.batch is not None and self.batch.future is not None
        return self.batch.future.result()[self.index]


def _next_done(window: deque[_Slot], batcher: _Batcher, submit: Callable[[_Batch], None]) -> _Slot:
    """The oldest slot once its file is done; an interruption meanwhile leaves it in place."""
    slot = window[0]
    if not slot.ready():
        if slot.batch is not None and slot.batch.future is None:
            submit(batcher.take())  # the oldest file waits in the open batch: send it
        assert slot.batch is not None and slot.batch.future is not None
        from concurrent.futures import wait

        with _interruptible():
            wait([slot.batch.future])
    return window.popleft()


def _finish(slot: _Slot, cache: Cache | None, rules: Rules) -> FileOutcome:
    if slot.source is None:  # a path error: nothing to remember
        return slot.result()
    return _record(slot.result(), slot.source, cache, rules)


def _output_path(source: Source, job: Job) -> Path:
    if job.mode is Mode.OUT:
        assert job.out_dir is not None
        return job.out_dir / source.relative
    return source.path


def _context(source: Source, rules: Rules) -> str:
    """The attribution the file's tokens carry: part of what the cache knows it by."""
    from rewriter.document.engine import link_context

    return link_context(rules, source.relative)


def _cached(source: Source, job: Job, cache: Cache | None, rules: Rules) -> FileOutcome | None:
    if cache is None:
        return None
    entry = cache.lookup(source.path, _output_path(source, job), context=_context(source, rules))
    if entry is None:
        return None
    return FileOutcome(source.display, FileState.UNCHANGED, counts=entry.counts, cached=True)


def _record(outcome: FileOutcome, source: Source, cache: Cache | None, rules: Rules) -> FileOutcome:
    """Remember a file whose output is written and whole (never a failure), as the worker
    read and wrote it."""
    if (
        cache is not None
        and outcome.fingerprints is not None
        and outcome.state is not FileState.FAILED
    ):
        counts = outcome.counts or count_links(outcome.links)
        cache.record(source.path, outcome.fingerprints, counts, context=_context(source, rules))
    return outcome


# In the worker processes.

_worker_engine: Rewriter | None = None


def _start_worker(settings: EngineSettings) -> None:
    # The parent handles Ctrl-C and SIGTERM (also when sent to the whole group): a worker
    # finishes the file it is writing, then the parent shuts the pool down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if _CAN_HOLD:  # ignored now: no need for the parent's hold, inherited on fork
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPS)
    global _worker_engine  # noqa: PLW0603 (one engine per worker process, built once)
    from rewriter.batch.factory import build_engine

    _worker_engine = build_engine(settings)


def _work_batch(sources: list[Source], job: Job) -> list[FileOutcome]:
    """The files of one batch, in order (one bad file is a failed outcome, never a stop)."""
    engine = _worker_engine
    assert engine is not None
    return [_slim(process(source, engine, job), job) for source in sources]


def _slim(outcome: FileOutcome, job: Job) -> FileOutcome:
    """Keep counts, not every record, unless a report needs them."""
    if not job.keep_links:
        outcome.counts = count_links(outcome.links)
        outcome.links = []
    return outcome


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM stops a batch the way Ctrl-C does: cleanly, with what was done."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
