"""Per-message latency of the SMTP relay, in its default (safe) mode, for a 100 KB message.

Run: `.venv/bin/python bench/relay.py [--messages 100] [--size 100000]`.

An application (smtplib, one connection kept open, as mailers do) sends each message through
the relay (`rewriter relay`, a process of its own, in its default safe mode and with `--fast`)
to an upstream SMTP server on loopback that accepts everything (aiosmtpd reading DATA in one
piece, as the relay does: aiosmtpd's own line-by-line DATA costs its event loop about 8 ms per
100 KB message, which every row would carry as the upstream's share). Each message is a
multipart/alternative of a rendered HTML body (from ../shared/corpus, else samples/) and its
plain-text links, quoted-printable, about --size bytes; each message's URLs carry their own id,
so no message is served by the memos of the one before. Printed: the time the application waits
per message (MAIL to the DATA reply) through the relay and straight to the upstream, and the
relay's own work (rewrite and safety checks) measured in process, and the relay process's CPU
time per message (Linux: from /proc; wall times on a shared machine move with its load, CPU
time much less). Target: p50 under 15 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import quopri
import re
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import measure
from aiosmtpd.smtp import SMTP, Envelope, Session
from dataset import CORPUS, SAMPLES, rendered_messages, templates_in

from rewriter.batch.factory import make_rewriter
from rewriter.document.engine import Rewriter
from rewriter.mail.relay import (
    Gate,
    cancel_sessions,
)
from rewriter.mail.smtpdata import OnePieceDataSMTP
from rewriter.rules.loader import load_rules

RULES = """\
tracking:
  domain: go.example.com
  context: message
keys:
  env: REWRITER_BENCH_KEYS
"""
DESTINATIONS = [
    f"https://www.example.com/products/{n}?utm_source=newsletter&utm_medium=email&utm_campaign=w{n}"
    for n in range(40)
]
_URL = re.compile(rb"https?://[^\s\"'<>]+")


class Accept:
    """An upstream that accepts every message (and keeps none)."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return "250 2.0.0 accepted"


class Upstream:
    """The accepting upstream, listening on loopback in a thread of its own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: asyncio.Server | None = None

    def start(self) -> int:
        self.thread.start()

        async def listen() -> asyncio.Server:
            return await self.loop.create_server(
                lambda: OnePieceDataSMTP(Accept(), hostname="upstream.bench"), "127.0.0.1", 0
            )

        self.server = asyncio.run_coroutine_threadsafe(listen(), self.loop).result(10)
        return int(self.server.sockets[0].getsockname()[1])

    def stop(self) -> None:
        async def close() -> None:
            assert self.server is not None
            self.server.close()
            await cancel_sessions()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def messages(count: int, size: int) -> list[bytes]:
    origin = CORPUS if CORPUS.is_dir() else SAMPLES
    (body,) = rendered_messages(templates_in(origin), DESTINATIONS, [size - size // 10])
    out = []
    for number in range(count):
        html = body.replace(b"utm_source=newsletter", b"utm_source=newsletter&m=%d" % number)
        links = b"\n".join(sorted(set(_URL.findall(html)))[:60])
        text = b"Read this message online or follow these links:\n\n" + links + b"\n"
        out.append(_mime(number, text, html))
    return out


def _mime(number: int, text: bytes, html: bytes) -> bytes:
    def part(kind: str, data: bytes) -> bytes:
        encoded = quopri.encodestring(data).replace(b"\n", b"\r\n")
        return (
            (
                f"--b\r\nContent-Type: {kind}; charset=utf-8\r\n"
                "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            ).encode()
            + encoded
            + b"\r\n"
        )

    head = (
        "From: news@example.com\r\nTo: reader@example.net\r\nSubject: Weekly\r\n"
        f"Message-ID: <bench-{number}@example.com>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
    ).encode()
    return head + part("text/plain", text) + part("text/html", html) + b"--b--\r\n"


def _timed(work: Callable[[bytes], object], message: bytes) -> float:
    start = time.perf_counter()
    work(message)
    return time.perf_counter() - start


def _html_safe(engine: Rewriter, message: bytes) -> None:
    """The HTML part through the engine and its safe mode, as for a template (no MIME)."""
    from rewriter.document.safety import safe_check

    html = quopri.decodestring(message.split(b"text/html", 1)[1].split(b"\r\n\r\n", 1)[1])
    result = engine.rewrite(html, file="part", context="")
    safe_check(html, result.output, engine, result.links, file="part")


def _cpu_seconds(pid: int) -> float:
    """A process's CPU time (user + system) from /proc; -1 where there is none."""
    import os

    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return -1.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def send_all(port: int, batch: list[bytes]) -> list[float]:
    waits = []
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        for message in batch:
            start = time.perf_counter()
            client.sendmail("news@example.com", ["reader@example.net"], message)
            waits.append(time.perf_counter() - start)
    return waits


def through_relay(
    rules: Path, upstream_port: int, warm: list[bytes], batch: list[bytes], flags: list[str]
) -> tuple[list[float], float]:
    """Each message's wait through `rewriter relay` (a process of its own, as users run it), and
    the relay process's CPU seconds for the batch (-1 where /proc is not there)."""
    relay = subprocess.Popen(
        [sys.executable, "-m", "rewriter", "relay", "--rules", str(rules), "--listen",
         "127.0.0.1:0", "--upstream", f"127.0.0.1:{upstream_port}", "--upstream-tls", "none",
         *flags],
        stderr=subprocess.PIPE, text=True, cwd=rules.parent,
    )  # fmt: skip
    try:
        assert relay.stderr is not None
        relay_port = int(relay.stderr.readline().rsplit(":", 1)[1])
        send_all(relay_port, warm)
        cpu_before = _cpu_seconds(relay.pid)
        waits = send_all(relay_port, batch)
        cpu = _cpu_seconds(relay.pid) - cpu_before
    finally:
        relay.terminate()
        relay.wait(30)
    return waits, cpu if cpu_before >= 0 else -1.0


def summary(name: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"{name:<34} p50 {measure.percentile(ms, 0.5):7.1f} ms   p95 "
        f"{measure.percentile(ms, 0.95):7.1f} ms   max {max(ms):7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--size", type=int, default=100_000)
    args = parser.parse_args()
    import os

    os.environ["REWRITER_BENCH_KEYS"] = "bench " + base64.urlsafe_b64encode(bytes(32)).decode()
    warm, batch = messages(5, args.size), messages(args.messages, args.size)
    sizes = sorted(len(m) for m in batch)
    hrefs = batch[0].count(b"href=3D")
    print(
        f"{len(batch)} messages of {sizes[0]:,}-{sizes[-1]:,} bytes (text + HTML, QP;"
        f" {hrefs} links in the HTML); load average {os.getloadavg()[0]:.1f}"
        f" on {os.cpu_count()} CPUs"
    )

    upstream = Upstream()
    upstream_port = upstream.start()
    with tempfile.TemporaryDirectory() as folder:
        rules = Path(folder, "rules.yaml")
        rules.write_text(RULES)
        try:
            through, cpu = through_relay(rules, upstream_port, warm, batch, [])
            through_fast, cpu_fast = through_relay(rules, upstream_port, warm, batch, ["--fast"])
            direct = send_all(upstream_port, batch)
        finally:
            upstream.stop()
        fresh = Gate(make_rewriter(load_rules(rules), keys=True), safe=True)
        work = [_timed(fresh.process, message) for message in batch]
        fast = Gate(make_rewriter(load_rules(rules), keys=True), safe=False)
        work_fast = [_timed(fast.process, message) for message in batch]
        engine = make_rewriter(load_rules(rules), keys=True)
        html_only = [_timed(lambda m: _html_safe(engine, m), message) for message in batch]
    print(summary("application -> relay -> upstream", through))
    if cpu >= 0:
        print(f"{'the relay process, CPU per message':<34} {cpu / len(batch) * 1000:7.1f} ms")
    print(summary("  the same, relay --fast", through_fast))
    if cpu_fast >= 0:
        print(f"{'  its CPU per message':<34} {cpu_fast / len(batch) * 1000:7.1f} ms")
    print(summary("application -> upstream (no relay)", direct))
    print(summary("relay's own work (rewrite + checks)", work))
    print(summary("  the same, --fast (no safety check)", work_fast))
    print(summary("of which the HTML part alone", html_only))
    p50 = measure.percentile([s * 1000 for s in through], 0.5)
    verdict = "met" if p50 < 15 else "NOT met"
    print(f"safe mode through the relay: p50 {p50:.1f} ms (target < 15 ms: {verdict})")


if __name__ == "__main__":
    main()
