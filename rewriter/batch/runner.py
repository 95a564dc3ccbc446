"""Run a batch: the cache, the worker processes, outcomes in sorted order, progress.

Files are taken in sorted order and their outcomes come back in that order through a bounded
window of work in flight, so output, summary and report do not depend on the number of workers,
and memory does not grow with the number of files. Workers are processes, each with its own
engine built once; they write the output files themselves and return small outcomes; only the
parent writes the summary, the report and the cache.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, wait
from pathlib import Path
from typing import TYPE_CHECKING

from rewriter.batch.job import EngineSettings, Job, Mode
from rewriter.batch.process import failed_outcome, process
from rewriter.batch.report import FileOutcome, FileState, count_links
from rewriter.batch.sources import PathError, Source

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from rewriter.batch.cache import Cache
    from rewriter.document.engine import Rewriter
    from rewriter.rules.model import Rules

WINDOW_PER_WORKER = 8  # outcomes in flight per worker: enough to keep them busy, and bounded


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
    window: deque[tuple[Source | None, Future[FileOutcome]]] = deque()
    try:
        for source in sources:
            _take_interrupts()
            if isinstance(source, PathError):
                window.append((None, _done(failed_outcome(source.display, source.reason))))
                continue
            hit = _cached(source, job, cache, settings.rules)
            if hit is not None:
                window.append((source, _done(hit)))
            else:
                if pool is None:  # started only when a file needs work
                    pool = ProcessPoolExecutor(
                        workers, initializer=_start_worker, initargs=(settings,)
                    )
                window.append((source, pool.submit(_work, source, job)))
            while len(window) >= workers * WINDOW_PER_WORKER:
                yield _finish(*_next_done(window), cache, settings.rules)
        while window:
            yield _finish(*_next_done(window), cache, settings.rules)
    except KeyboardInterrupt:
        if pool is not None:
            # Queued files are dropped; files being written finish (atomically)...
            pool.shutdown(wait=True, cancel_futures=True)
        # ...and are reported, as are those done but not yet handed over: in order, a prefix
        # of the window, since workers take files in order and the rest were cancelled.
        for done, future in window:
            if future.cancelled() or future.exception() is not None:
                break
            yield _finish(done, future, cache, settings.rules)
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _next_done(
    window: deque[tuple[Source | None, Future[FileOutcome]]],
) -> tuple[Source | None, Future[FileOutcome]]:
    """The oldest item once its file is done; an interruption meanwhile leaves it in place."""
    future = window[0][1]
    if not future.done():
        with _interruptible():
            wait([future])
    return window.popleft()


def _finish(
    source: Source | None, future: Future[FileOutcome], cache: Cache | None, rules: Rules
) -> FileOutcome:
    if source is None:  # a path error: nothing to remember
        return future.result()
    return _record(future.result(), source, cache, rules)


def _done(outcome: FileOutcome) -> Future[FileOutcome]:
    future: Future[FileOutcome] = Future()
    future.set_result(outcome)
    return future


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


def _work(source: Source, job: Job) -> FileOutcome:
    assert _worker_engine is not None
    return _slim(process(source, _worker_engine, job), job)


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
