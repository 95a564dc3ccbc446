"""Workers get batches of files: far fewer tasks than files, and outcomes, output, order and
the cache exactly as with one worker (or three), path errors and a failing file in between."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from test_runner import (
    PNG,
    SAMPLES,
    comparable,
    engine_for,
    template_inputs,
    tree_state,
    write,
)

from rewriter.batch.cache import Cache
from rewriter.batch.job import Job, Mode
from rewriter.batch.report import FileState
from rewriter.batch.runner import BATCH_BYTES, BATCH_FILES, _Batcher, run
from rewriter.batch.sources import PathError, Source

FILES = 150


def many_sources(tree: Path) -> list[Source | PathError]:
    """FILES templates (every sample and case input, round and round), a file that fails in
    the middle of a batch, and two paths that cannot be taken."""
    inputs = template_inputs()
    items: list[Source | PathError] = []
    for index in range(FILES):
        path = inputs[index % len(inputs)]
        relative = f"f-{index:04d}{path.suffix}"
        write(tree / relative, path.read_bytes())
        items.append(Source(tree / relative, relative))
    write(tree / "f-0070.html", PNG)  # refused as binary: a failed file inside a batch
    items.insert(40, PathError("missing-one", "no such file"))
    items.insert(100, PathError("missing-two", "no such file"))
    return items


@pytest.fixture
def submitted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many files each task sent to the pool held."""
    sizes: list[int] = []
    original = ProcessPoolExecutor.submit

    def counting(self: ProcessPoolExecutor, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        sizes.append(len(args[0]))
        return original(self, fn, *args, **kwargs)

    monkeypatch.setattr(ProcessPoolExecutor, "submit", counting)
    return sizes


def test_batches_give_the_outcomes_and_output_of_one_worker(
    tmp_path: Path, submitted: list[int]
) -> None:
    sources = many_sources(tmp_path / "tree")
    engine, settings = engine_for()
    outcomes = {}
    for workers in (1, 2, 3):
        job = Job(Mode.OUT, tmp_path / f"out{workers}", keep_links=True)
        outcomes[workers] = list(run(sources, job, engine, settings, workers=workers))

    expected = [comparable(outcome) for outcome in outcomes[1]]
    assert [comparable(outcome) for outcome in outcomes[2]] == expected
    assert [comparable(outcome) for outcome in outcomes[3]] == expected
    assert [outcome.display for outcome in outcomes[2]] == [item.display for item in sources]
    states = [outcome.state for outcome in outcomes[2]]
    assert states.count(FileState.FAILED) == 3  # the binary file and the two missing paths
    assert tree_state(tmp_path / "out2") == tree_state(tmp_path / "out1")
    assert tree_state(tmp_path / "out3") == tree_state(tmp_path / "out1")
    # Every file that needed work was sent once, in far fewer tasks than files, the first
    # ones small (both runs with workers: 2 and 3).
    assert sum(submitted) == 2 * FILES
    assert len(submitted) <= 2 * (FILES // 8)
    assert submitted[:3] == [1, 2, 4]
    assert max(submitted) == BATCH_FILES


def test_batches_and_the_cache(tmp_path: Path, submitted: list[int]) -> None:
    """Files the cache knows are never sent; a rerun with two workers sends only the files
    changed since, and hands back the same outcomes as a run with one."""
    sources = many_sources(tmp_path / "tree")
    engine, settings = engine_for()
    job = Job(Mode.OUT, tmp_path / "out", fingerprints=True)
    cache = Cache(tmp_path / "cache", "key")
    first = list(run(sources, job, engine, settings, workers=2, cache=cache))
    assert not any(outcome.cached for outcome in first)
    sent_first = sum(submitted)
    assert sent_first == FILES

    changed = {5, 77, 120}
    for index in changed:
        path = tmp_path / "tree" / f"f-{index:04d}.html"
        if path.exists():
            path.write_bytes((SAMPLES / "newsletter.html").read_bytes() + b"<!-- changed -->")
    second = list(run(sources, job, engine, settings, workers=2, cache=cache))
    sent_again = sum(submitted) - sent_first
    not_cached = [outcome.display for outcome in second if not outcome.cached]
    # The failing file and the path errors are never remembered; the changed files are redone.
    assert sent_again == len(not_cached) - 2
    assert {str(tmp_path / "tree" / "f-0070.html")} < set(not_cached)
    assert [outcome.display for outcome in second] == [item.display for item in sources]


def test_the_batcher_grows_to_its_size_and_cuts_at_its_bytes(tmp_path: Path) -> None:
    small = tmp_path / "small.html"
    small.write_bytes(b"<a href='http://example.com/'>x</a>")
    large = tmp_path / "large.html"
    large.write_bytes(b"x" * (BATCH_BYTES // 3 + 1))
    batcher = _Batcher()
    sizes = []
    for _ in range(200):
        batch, full = batcher.add(Source(small, "small.html"))
        if full:
            sizes.append(len(batcher.take().sources))
    assert sizes[:7] == [1, 2, 4, 8, 16, 32, 32]
    assert set(sizes[5:]) == {BATCH_FILES}
    if batcher.open is not None:
        batcher.take()
    # Three large files fill a batch by their bytes, whatever its count.
    fills = [batcher.add(Source(large, "large.html"))[1] for _ in range(3)]
    assert fills == [False, False, True]
    assert len(batcher.take().sources) == 3
    # A file that cannot be read counts for nothing here (its worker reports it).
    batch, full = batcher.add(Source(tmp_path / "gone.html", "gone.html"))
    assert (batch.size, full) == (0, False)
