"""Interrupting a batch: SIGTERM, Ctrl-C (SIGINT to the process group) and SIGKILL, in real
subprocesses, mid-way through a tree of 300 templates. After a clean interruption: exit 130, a
line saying so and the summary, the workers gone, every output file either absent or
byte-identical to what an uninterrupted run writes, no temporary file, and a rerun that finishes
the job from the cache. After SIGKILL: no output (or in-place input) is ever partial."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "tests" / "cases" / "rules.yaml"  # keys: env REWRITER_TEST_KEYS (conftest.py)
TEMPLATE = (ROOT / "samples" / "newsletter.html").read_bytes()
FILES = 300
STARTED = 20  # outputs that exist before the signal is sent
TEMPORARY = ".rewriter-tmp"
INTERRUPTED = re.compile(rf"interrupted after (\d+) of {FILES} files; every file written is whole")
SUMMARY = re.compile(
    r"(\d+) files? rewritten, (\d+) unchanged; \d+ links tracked, \d+ already tracked, \d+ skipped"
)


@dataclass(frozen=True)
class Prepared:
    tree: Path
    expected: dict[str, bytes]  # what an uninterrupted run writes, by relative path


def rewriter_command(*args: object) -> list[str]:
    return [sys.executable, "-m", "rewriter", "rewrite", *(str(arg) for arg in args)]


def environment(cache: Path) -> dict[str, str]:
    return {**os.environ, "REWRITER_CACHE_DIR": str(cache)}


def files(folder: Path) -> dict[str, bytes]:
    """The complete files under a folder (temporary files left out), by relative path."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in folder.rglob("*")
        if path.is_file() and not path.name.endswith(TEMPORARY)
    }


def temporaries(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.rglob(f"*{TEMPORARY}"))


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    """300 templates (the same newsletter under 300 names: each gets its own tokens, since the
    context is the path), and their outputs from one uninterrupted run."""
    root = tmp_path_factory.mktemp("interrupt")
    tree = root / "tree"
    for index in range(FILES):
        path = tree / f"part-{index % 3}" / f"n{index:03d}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(TEMPLATE)
    done = subprocess.run(
        rewriter_command(tree, "--rules", RULES, "--out", root / "expected", "--no-cache", "-q"),
        env=environment(root / "cache"),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    expected = files(root / "expected")
    assert len(expected) == FILES
    assert len(set(expected.values())) == FILES  # every output differs: a mix-up would show
    return Prepared(tree, expected)


def _default_sigint() -> None:
    # A terminal's Ctrl-C reaches a process whose SIGINT is at its default; a test runner
    # started in the background may have it ignored, and the child would inherit that.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


Launch = Callable[[Sequence[object], Path], "subprocess.Popen[bytes]"]


@pytest.fixture
def launch() -> Iterator[Launch]:
    """Starts the command in its own session (its own process group, as a shell job); whatever
    the test's outcome, no process of the group outlives it."""
    started: list[subprocess.Popen[bytes]] = []

    def start(args: Sequence[object], cwd: Path) -> subprocess.Popen[bytes]:
        with open(cwd / "stdout", "wb") as out, open(cwd / "stderr", "wb") as err:
            process = subprocess.Popen(
                rewriter_command(*args),
                cwd=cwd,
                env=environment(cwd / "cache"),
                stdout=out,
                stderr=err,
                start_new_session=True,
                preexec_fn=_default_sigint,  # noqa: PLW1509 (no threads in the test process)
            )
        started.append(process)
        return process

    yield start
    for process in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


def wait_until(process: subprocess.Popen[bytes], ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not ready():
        assert process.poll() is None, "the batch ended before the signal: make it longer"
        assert time.monotonic() < deadline, "the batch made no progress"
        time.sleep(0.005)


def outputs_exist(folder: Path, count: int = STARTED) -> Callable[[], bool]:
    return lambda: folder.is_dir() and len(files(folder)) >= count


def group_gone(group: int) -> bool:
    """True once no process of the group is left (the workers too)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


def assert_stopped_cleanly(process: subprocess.Popen[bytes], folder: Path, out: Path,
                           expected: dict[str, bytes]) -> int:  # fmt: skip
    """Exit 130, the workers gone, the two closing lines and no traceback, every output whole
    and the ones reported done all there; returns how many were reported done."""
    assert process.wait(timeout=15) == 130
    assert group_gone(process.pid), "a worker outlived the interrupted batch"
    lines = (folder / "stderr").read_text().splitlines()
    assert not [line for line in lines if "Traceback" in line or "Error" in line], lines
    interrupted = INTERRUPTED.fullmatch(lines[-2])
    summary = SUMMARY.fullmatch(lines[-1])
    assert interrupted and summary, lines[-2:]
    done = int(interrupted.group(1))
    assert 0 < done < FILES
    assert int(summary.group(1)) == done

    written = files(out)
    assert done <= len(written) < FILES
    assert temporaries(out) == []
    assert {name: expected[name] for name in written} == written  # whole, never partial
    # The files reported done are the first ones in sorted order, and all of them are there.
    assert set(sorted(expected)[:done]) <= set(written)
    return done


SIGNALS = {
    "SIGTERM to the process": lambda pid: os.kill(pid, signal.SIGTERM),
    "SIGINT to the group": lambda pid: os.killpg(pid, signal.SIGINT),  # Ctrl-C in a terminal
}
# With one worker the parent itself writes the files: the signal lands mid-write.
CLEAN = [("SIGTERM to the process", 2), ("SIGINT to the group", 2), ("SIGTERM to the process", 1)]


@pytest.mark.parametrize(
    ("how", "workers"), CLEAN, ids=[f"{how}, {workers} worker(s)" for how, workers in CLEAN]
)
def test_an_interrupted_batch_stops_cleanly_with_whole_files(
    prepared: Prepared, tmp_path: Path, launch: Launch, how: str, workers: int
) -> None:
    out = tmp_path / "out"
    process = launch(
        [prepared.tree, "--rules", RULES, "--out", out, "--workers", workers], tmp_path
    )
    wait_until(process, outputs_exist(out))
    SIGNALS[how](process.pid)
    assert_stopped_cleanly(process, tmp_path, out, prepared.expected)


def caught_signals(pid: int) -> int:
    """The mask of signals a process has a handler for (SigCgt in /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return int(line.split()[1], 16)
    raise AssertionError(f"no SigCgt for {pid}")


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_a_sigterm_to_the_group_stops_cleanly(
    prepared: Prepared, tmp_path: Path, launch: Launch
) -> None:
    """As CI cancels, systemd and docker stop do. The workers must leave SIGTERM and SIGINT to
    the parent: checked on the live processes first (/proc), since a handler inherited from
    the parent makes the symptom a race (a worker's traceback in some runs, a hang for good in
    about 1 of 20); then the stop itself."""
    out = tmp_path / "out"
    process = launch([prepared.tree, "--rules", RULES, "--out", out, "--workers", 2], tmp_path)
    wait_until(process, outputs_exist(out))
    handlers = (1 << (signal.SIGTERM - 1)) | (1 << (signal.SIGINT - 1))
    # The parent turns both into a clean stop.
    assert caught_signals(process.pid) & handlers == handlers
    workers = children(process.pid)
    assert len(workers) == 2
    handled = {pid: caught_signals(pid) & handlers for pid in workers}
    assert handled == dict.fromkeys(workers, 0)
    os.killpg(process.pid, signal.SIGTERM)
    assert_stopped_cleanly(process, tmp_path, out, prepared.expected)


def test_a_rerun_after_an_interruption_finishes_the_job(
    prepared: Prepared, tmp_path: Path, launch: Launch
) -> None:
    out = tmp_path / "out"
    args = [prepared.tree, "--rules", RULES, "--out", out, "--workers", 2]
    process = launch(args, tmp_path)
    # Half-way, so that the rerun has as much left to do as the first run did.
    wait_until(process, outputs_exist(out, FILES // 2))
    os.kill(process.pid, signal.SIGTERM)
    done = assert_stopped_cleanly(process, tmp_path, out, prepared.expected)

    rerun = subprocess.run(
        rewriter_command(*args), cwd=tmp_path, env=environment(tmp_path / "cache"),
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    assert files(out) == prepared.expected
    # What the cache remembered was not done again (one more may have been recorded just
    # before the signal without being counted).
    rewritten = [
        line for line in rerun.stderr.decode().splitlines() if line.startswith("rewritten ")
    ]
    assert FILES - done - 1 <= len(rewritten) <= FILES - done


def test_sigkill_of_the_group_never_leaves_a_partial_output(
    prepared: Prepared, tmp_path: Path, launch: Launch
) -> None:
    out = tmp_path / "out"
    process = launch([prepared.tree, "--rules", RULES, "--out", out, "--workers", 2], tmp_path)
    wait_until(process, outputs_exist(out))
    os.killpg(process.pid, signal.SIGKILL)
    assert process.wait(timeout=15) == -signal.SIGKILL
    written = files(out)
    assert STARTED <= len(written) < FILES
    assert {name: prepared.expected[name] for name in written} == written
    # Temporary files may remain after a SIGKILL (nothing can clean them up); they are hidden
    # (a leading dot), so a later run over the folder does not take them for templates.
    assert all(name.startswith(".") for name in temporaries(out))


def test_sigkill_during_in_place_leaves_each_input_original_or_rewritten(
    prepared: Prepared, tmp_path: Path, launch: Launch
) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(prepared.tree, tree)

    def rewritten() -> int:
        return sum(data != TEMPLATE for data in files(tree).values())

    process = launch(["tree", "--rules", RULES, "--in-place", "--workers", 2], tmp_path)
    wait_until(process, lambda: rewritten() >= STARTED)
    os.killpg(process.pid, signal.SIGKILL)
    assert process.wait(timeout=15) == -signal.SIGKILL
    now = files(tree)
    assert sorted(now) == sorted(prepared.expected)
    for name, data in now.items():
        assert data in (TEMPLATE, prepared.expected[name]), name
    assert STARTED <= rewritten() < FILES
    assert all(name.startswith(".") for name in temporaries(tree))
