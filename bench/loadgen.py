"""A bounded keep-alive HTTP/1.1 load client, used by bench/serve.py when `wrk` is not
installed: several processes, each with several connections, each sending one GET after
another for a fixed time, then stopping by itself. Answers must carry Content-Length."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]  # seconds, one per answered request

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _connection(
    address: tuple[str, int],
    request: bytes,
    deadline: float,
    expected: int,
    out: list[float],
    errors: list[int],
    interval: float = 0.0,
) -> None:
    """`interval`: the least time between two requests' starts (0: one after another)."""
    try:
        reader, writer = await asyncio.open_connection(*address)
    except OSError:
        errors[0] += 1
        return
    try:
        due = time.perf_counter()
        while time.perf_counter() < deadline:
            if interval:
                due += interval
                if (ahead := due - time.perf_counter()) > 0:
                    await asyncio.sleep(ahead)
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            if int(head[9:12]) != expected:
                errors[0] += 1
            out.append(time.perf_counter() - start)
    except (OSError, asyncio.IncompleteReadError, ValueError):
        errors[0] += 1
    finally:
        writer.close()


def _process(
    job: tuple[tuple[str, int], bytes, float, int, int, float],
) -> tuple[list[float], int]:
    address, request, seconds, connections, expected, interval = job

    async def run() -> tuple[list[float], int]:
        out: list[float] = []
        errors = [0]
        deadline = time.perf_counter() + seconds
        await asyncio.gather(
            *(
                _connection(address, request, deadline, expected, out, errors, interval)
                for _ in range(connections)
            )
        )
        return out, errors[0]

    try:
        import uvloop
    except ImportError:
        return asyncio.run(run())
    return uvloop.run(run())


def load(
    address: tuple[str, int],
    path: str,
    host: str,
    *,
    expected: int,
    seconds: float = 5.0,
    processes: int = 1,
    connections: int = 32,
    rate: float | None = None,
) -> LoadResult:
    """`rate`: requests per second in all, paced (None: as fast as the server answers)."""
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: loadgen\r\n\r\n".encode()
    interval = processes * connections / rate if rate else 0.0
    job = (address, request, seconds, connections, expected, interval)
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        parts = pool.map(_process, [job] * processes)
    latencies = [value for part, _ in parts for value in part]
    return LoadResult(len(latencies), sum(errors for _, errors in parts), seconds, latencies)
