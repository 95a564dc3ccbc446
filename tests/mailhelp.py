"""Shared helpers of the mail tests: rules, an engine, messages, a recording SMTP server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

from rewriter.batch.factory import make_rewriter
from rewriter.document.engine import Rewriter
from rewriter.mail.relay import cancel_sessions
from rewriter.rules.loader import load_rules

CASES = Path(__file__).resolve().parent / "mail_cases"

RULES = """\
tracking:
  domain: go.example.com
  context: {context}
keys:
  env: REWRITER_TEST_KEYS
links:
  exclude_hosts: ["*.internal.example.com"]
annotation:
  enabled: false
hosts:
  broken.example.org:             # HSTS preloaded, no certificate: every click fails
    certificate: {{status: none}}
    preloaded: true
{extra}"""


def write_rules(folder: Path, context: str = "message", extra: str = "") -> Path:
    path = folder / "rewriter.yaml"
    path.write_text(RULES.format(context=context, extra=extra), encoding="utf-8")
    return path


def engine_for(folder: Path, context: str = "message", extra: str = "") -> Rewriter:
    return make_rewriter(load_rules(write_rules(folder, context, extra)), keys=True)


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("utf-8")


@dataclass
class Recorder:
    """An upstream SMTP server's handler that records what it is sent; RCPT to an address
    starting with `refused` is refused, as a real server refuses an unknown mailbox."""

    commands: list[str] = field(default_factory=list)
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.commands.append(f"MAIL {address}")
        envelope.mail_from = address
        return "250 2.1.0 sender ok"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.commands.append(f"RCPT {address}")
        if address.startswith("refused"):
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 recipient ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.commands.append("DATA")
        content = envelope.original_content or b""
        if b"\r\nSubject: refuse me\r\n" in content:  # as a content filter would
            return "554 5.7.1 rejected by the upstream's content filter"
        self.messages.append((str(envelope.mail_from), list(envelope.rcpt_tos), content))
        return "250 2.0.0 queued as 42"


class ServerThread:
    """An asyncio server in a thread of its own, on a free loopback port."""

    def __init__(self, protocol: Callable[[], asyncio.BaseProtocol]) -> None:
        self.protocol = protocol
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: asyncio.Server | None = None
        self.port = 0

    def start(self) -> int:
        self.thread.start()

        async def start() -> asyncio.Server:
            return await self.loop.create_server(self.protocol, "127.0.0.1", 0)

        self.server = asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)
        self.port = int(self.server.sockets[0].getsockname()[1])
        return self.port

    def stop(self) -> None:
        async def stop() -> None:
            assert self.server is not None
            self.server.close()
            await self.server.wait_closed()
            await cancel_sessions()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def recording_server(recorder: Recorder, *, smtputf8: bool = False) -> ServerThread:
    """aiosmtpd's server: SMTPUTF8 advertised only when asked (its default: not)."""
    return ServerThread(
        lambda: SMTP(
            recorder, hostname="upstream.test", decode_data=False, enable_SMTPUTF8=smtputf8
        )
    )
