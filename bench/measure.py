"""Timing and memory measurements: in process (wall and CPU), subprocesses, peak RSS."""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TIME_BINARY = Path("/usr/bin/time")
# Measures a command's peak RSS where /usr/bin/time is missing: a fresh process has no other
# children whose peak could be mistaken for the command's.
_RSS_HELPER = (
    "import resource, subprocess, sys\n"
    "with open(sys.argv[1], 'rb') as stdin:\n"
    "    code = subprocess.run(sys.argv[2:], stdin=stdin, stdout=subprocess.DEVNULL).returncode\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)\n"
)


@dataclass(slots=True)
class Timings:
    """Wall and CPU seconds of each run of one thing; the best run is the figure."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def add(self, wall: float, cpu: float) -> None:
        self.wall.append(wall)
        self.cpu.append(cpu)

    @property
    def best_wall(self) -> float:
        return min(self.wall)

    @property
    def best_cpu(self) -> float:
        return min(self.cpu)


def timed(work: Callable[[], object], timings: Timings) -> None:
    """Run `work` once in this process, adding its wall and process CPU time."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    timings.add(time.perf_counter() - wall, time.process_time() - cpu)


@dataclass(frozen=True, slots=True)
class Run:
    wall: float
    cpu: float  # user + system of the process and the children it waited for
    code: int


def run_command(
    command: Sequence[str],
    env: Mapping[str, str],
    *,
    stdin: Path | None = None,
    cwd: Path | None = None,
) -> Run:
    """Run a command to the end, stdout discarded; its wall time, CPU time and exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(stdin or os.devnull, "rb") as source:
        done = subprocess.run(
            command, stdin=source, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=dict(env), cwd=cwd, check=False,
        )  # fmt: skip
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode not in (0, 1):
        sys.stderr.write(done.stderr.decode("utf-8", "replace")[-2000:])
    return Run(wall, cpu, done.returncode)


# A CPU-bound pure-Python loop: no I/O, no shared data, about a second of work.
_SPIN = "total = 0\nfor number in range(25_000_000):\n    total += number\n"


def parallel_ceiling() -> tuple[float, float]:
    """What this machine gives two processes: the wall time of the loop alone, then of two at
    once. On two real cores the second is the first; shared or hyper-threaded ones are slower."""
    command = [sys.executable, "-c", _SPIN]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    alone = time.perf_counter() - start
    start = time.perf_counter()
    pair = [subprocess.Popen(command) for _ in range(2)]
    for process in pair:
        process.wait()
    together = time.perf_counter() - start
    return alone, together


def peak_rss(
    command: Sequence[str], env: Mapping[str, str], scratch: Path, *, stdin: Path | None = None
) -> tuple[int, int, str]:
    """Peak resident memory of a command in bytes (the largest of its processes), its exit code,
    and how it was measured; `scratch` is a folder for a temporary file."""
    if TIME_BINARY.exists():
        return _peak_rss_gnu_time(command, env, scratch / "peak-rss.txt", stdin)
    helper = [sys.executable, "-c", _RSS_HELPER, str(stdin or os.devnull), *command]
    done = subprocess.run(helper, capture_output=True, env=dict(env), check=True, text=True)
    kib, code = done.stdout.split()
    return int(kib) * 1024, int(code), "resource.getrusage(RUSAGE_CHILDREN) in a fresh process"


def _peak_rss_gnu_time(
    command: Sequence[str], env: Mapping[str, str], report: Path, stdin: Path | None
) -> tuple[int, int, str]:
    try:
        run = run_command(
            [str(TIME_BINARY), "-f", "%M", "-o", str(report), *command], env, stdin=stdin
        )
        kib = int(report.read_text().split()[-1])
    finally:
        report.unlink(missing_ok=True)
    return kib * 1024, run.code, f"{TIME_BINARY} -f %M"


def percentile(values: Sequence[float], share: float) -> float:
    """The `share` quantile (0 < share < 1), interpolated between the nearest runs."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return cuts[round(share * 100) - 1]


def subprocess_env(extra: Mapping[str, str], pycache: Path) -> dict[str, str]:
    """The environment a user's shell would give: bytecode written and reused (into a folder of
    ours, so nothing lands in the project), plus `extra`."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env.update(extra)
    return env


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
