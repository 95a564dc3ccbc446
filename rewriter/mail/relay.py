"""The SMTP relay: applications send to it, each message is rewritten and checked, then relayed
to the upstream server with the same envelope.

The server side is aiosmtpd; the upstream side is smtplib, run in a worker thread per call. The
upstream session is opened when MAIL arrives and each RCPT is passed on as it arrives, so each
recipient gets the upstream's own reply, and the DATA reply is the upstream's. What we refuse:
`550` (a click would break; permanent), `550 5.7.0` (DKIM-signed), `554 5.6.0` (not valid MIME),
`553 5.6.7` to MAIL (SMTPUTF8 asked for, and the upstream lacks it); anything that goes wrong on
our side answers `451` so the sender retries: no message is lost, and none is sent unrewritten.
Each relayed message gets a `Received:` field at the top (`trace`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import secrets
import smtplib
import ssl
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from rewriter.document.engine import PreservationError, Rewriter
from rewriter.document.inputs import TemplateError
from rewriter.mail.headers import line_ending
from rewriter.mail.mime import ContextRefused, DkimSigned, InvalidMessage, rewrite_message
from rewriter.mail.smtpdata import OnePieceDataSMTP
from rewriter.mail.trace import Client, host_name, received
from rewriter.status.notices import FailOn

log = logging.getLogger("rewriter.relay")
MAX_REPLY_TEXT = 400  # reply lines stay well under SMTP's 512-octet limit
# RFC 6531 3.2: a message that needs SMTPUTF8 must not go to a next hop without it; permanent
# (RFC 3463 X.6.7), so the sender does not retry what can never be relayed.
NO_SMTPUTF8 = (
    553,
    "5.6.7 the next hop (the upstream server) does not support SMTPUTF8, which this message"
    " needs: it cannot be relayed",
)


class Refusal(Exception):
    """A reply that refuses the message (the code says permanent or temporary)."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


def _reply(code: int, text: str) -> str:
    """One SMTP reply line: printable ASCII, bounded."""
    clean = "".join(c if " " <= c <= "~" else "?" for c in " ".join(text.split()))
    if len(clean) > MAX_REPLY_TEXT:
        clean = clean[: MAX_REPLY_TEXT - 3] + "..."
    return f"{code} {clean}"


# --- the gate: one message in, the rewritten message out (or a refusal)


@dataclass
class Gate:
    """Rewrites and checks one message. Thread-safe: one message at a time per engine (its
    memos are plain dicts)."""

    engine: Rewriter
    fail_on: FailOn = field(default_factory=FailOn)
    safe: bool = True
    hostname: str = "localhost"  # the domain of Message-IDs the relay adds
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def process(self, data: bytes) -> bytes:
        with self._lock:
            return self._process(data)

    def _process(self, data: bytes) -> bytes:
        from rewriter.status.notices import (
            message_notices,
            violation_line,
            violations,
            with_fail_on,
        )

        try:
            result = rewrite_message(
                data, self.engine, file="message", safe=self.safe,
                new_message_id=make_msgid(domain=self.hostname),
            )  # fmt: skip
        except InvalidMessage as error:
            raise Refusal(_reply(554, f"5.6.0 {error}")) from None
        except DkimSigned:
            raise Refusal(
                _reply(
                    550,
                    "5.7.0 the message is DKIM-signed and rewriting would break the signature:"
                    " send it unsigned and sign after rewriting (at the next hop)",
                )
            ) from None
        except ContextRefused as error:
            raise Refusal(_reply(550, f"5.7.1 {error}")) from None
        except PreservationError as error:
            raise Refusal(
                _reply(451, f"4.3.0 not sent: the safety check failed: {error}")
            ) from None
        except TemplateError as error:
            raise Refusal(_reply(554, f"5.6.0 {error}")) from None
        failing = violations(result.links, self.fail_on)
        if failing:
            more = f" (and {len(failing) - 1} more)" if len(failing) > 1 else ""
            text = f"5.7.1 a click would fail: {violation_line(failing[0], self.fail_on)}{more}"
            raise Refusal(_reply(550, text))
        notices = message_notices(
            "message", len(result.output), result.links, self.engine.rules, estimated=False
        )
        notices = with_fail_on(notices, self.fail_on.codes)
        failures = [notice for notice in notices if notice.level == "failure"]
        if failures:
            raise Refusal(_reply(550, f"5.7.1 {failures[0].line()}"))
        return result.output


# --- the upstream


@dataclass(frozen=True)
class UpstreamSettings:
    host: str
    port: int
    tls: str = "starttls"  # starttls | tls | none
    user: str | None = None
    password: str | None = None
    ca_file: Path | None = None  # a private CA; default: the system's
    timeout: float = 30.0
    local_hostname: str | None = None

    def context(self) -> ssl.SSLContext:
        """Certificates verified, host name checked."""
        return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)


class UpstreamError(Exception):
    """The upstream cannot take the message now (temporary, for our client)."""


class Upstream:
    """One blocking SMTP session with the upstream (used from a worker thread)."""

    def __init__(self, settings: UpstreamSettings) -> None:
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None

    def open(self) -> None:
        s = self.settings
        try:
            if s.tls == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, s.local_hostname, timeout=s.timeout, context=s.context()
                )
            else:
                smtp = smtplib.SMTP(s.host, s.port, s.local_hostname, timeout=s.timeout)
            self.smtp = smtp
            smtp.ehlo_or_helo_if_needed()
            if s.tls == "starttls":
                if not smtp.has_extn("starttls"):
                    raise UpstreamError("the upstream does not offer STARTTLS")
                smtp.starttls(context=s.context())
                smtp.ehlo()
            if s.user is not None:
                smtp.login(s.user, s.password or "")
        except (OSError, smtplib.SMTPException) as error:
            self.close()
            raise UpstreamError(f"upstream {s.host}:{s.port}: {_describe(error)}") from None
        except UpstreamError:
            self.close()
            raise

    def command(self, name: str, *args: Any) -> tuple[int, str]:
        """MAIL, RCPT, RSET or DATA: the upstream's reply, or UpstreamError if it is gone."""
        if self.smtp is None:
            raise UpstreamError("no upstream session")
        try:
            if name == "mail" and _smtputf8(args[1]) and not self.smtp.has_extn("smtputf8"):
                return NO_SMTPUTF8  # smtplib would refuse to send it: answered here, for good
            if name == "mail":
                code, text = self.smtp.mail(*args)
            elif name == "rcpt":
                code, text = self.smtp.rcpt(*args)
            elif name == "rset":
                code, text = self.smtp.rset()
            else:
                code, text = self.smtp.data(*args)
        except smtplib.SMTPDataError as error:  # the upstream refused DATA itself
            return error.smtp_code, _text(error.smtp_error)
        except (OSError, smtplib.SMTPException) as error:
            self.close()
            raise UpstreamError(f"upstream: {_describe(error)}") from None
        return code, _text(text)

    def close(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


def _smtputf8(options: Sequence[str]) -> bool:
    return any(option.upper() == "SMTPUTF8" for option in options)


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


def _describe(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{error.smtp_code} {_text(error.smtp_error)}"
    return str(error) or type(error).__name__


# --- the server side


@dataclass
class RelaySettings:
    networks: Sequence[str] = ("127.0.0.0/8", "::1/128")
    max_message_bytes: int = 25 << 20
    hostname: str | None = None


class RelayHandler:
    """aiosmtpd hooks: each SMTP command of a client, passed on to its own upstream session."""

    def __init__(self, gate: Gate, upstream: UpstreamSettings, networks: Sequence[str]) -> None:
        self.gate = gate
        self.upstream_settings = upstream
        self.networks = [ipaddress.ip_network(network) for network in networks]
        self.sessions: dict[int, Upstream] = {}

    def allowed(self, peer: Any) -> bool:
        try:
            address = ipaddress.ip_address(peer[0] if isinstance(peer, tuple) else peer)
        except (ValueError, TypeError, IndexError):
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if not self.allowed(session.peer):
            log.warning("refused a client outside the allowed networks: %r", session.peer)
            return "554 5.7.1 this client is not allowed to relay through this server"
        try:
            upstream, code, text = await self._mail(session, address, options)
        except UpstreamError as error:
            log.warning("%s", error)
            return _reply(451, f"4.4.1 cannot reach the upstream server, try again later ({error})")
        self.sessions[id(session)] = upstream
        if code == 250:
            envelope.mail_from = address
            envelope.mail_options.extend(options)
        return _reply(code, text)

    async def _mail(
        self, session: Session, address: str, options: list[str]
    ) -> tuple[Upstream, int, str]:
        """MAIL on this client's upstream session, kept from its last message when it is still
        up (a connection per message would double the latency), else a new one."""
        upstream = self.sessions.pop(id(session), None)
        if upstream is not None:
            try:
                code, text = await asyncio.to_thread(upstream.command, "mail", address, options)
                return upstream, code, text
            except UpstreamError:
                pass  # gone since: open a new one
        upstream = Upstream(self.upstream_settings)
        await asyncio.to_thread(upstream.open)
        code, text = await asyncio.to_thread(upstream.command, "mail", address, options)
        return upstream, code, text

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        upstream = self.sessions.get(id(session))
        if upstream is None:
            return "451 4.4.1 the upstream session is gone: start again with MAIL"
        try:
            code, text = await asyncio.to_thread(upstream.command, "rcpt", address, options)
        except UpstreamError as error:
            return _reply(451, f"4.4.2 {error}")
        if code in (250, 251):
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(options)
        return _reply(code, text)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        upstream = self.sessions.get(id(session))
        if upstream is None:
            return "451 4.4.1 the upstream session is gone: start again with MAIL"
        data = envelope.original_content or b""
        try:
            output = await asyncio.to_thread(self.gate.process, data)
        except Refusal as refusal:
            log.info("refused a message: %s", refusal.reply)
            await self._reset(upstream)
            return refusal.reply
        except Exception:  # a bug of ours: the sender retries, nothing goes out unrewritten
            log.exception("rewriting a message failed")
            await self._reset(upstream)
            return "451 4.3.0 the message could not be rewritten (an error on our side)"
        ident = secrets.token_hex(8)
        output = _trace(server, session, envelope, ident, output) + output
        try:
            code, text = await asyncio.to_thread(upstream.command, "data", output)
        except UpstreamError as error:
            await self._close(session)
            return _reply(451, f"4.4.2 {error}")
        log.info("message %s: the upstream answered %d", ident, code)
        return _reply(code, text)

    async def handle_RSET(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        upstream = self.sessions.get(id(session))
        if upstream is not None:
            await self._reset(upstream)
        return "250 2.0.0 OK"

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await self._close(session)
        return "221 2.0.0 Bye"

    async def handle_exception(self, error: Exception) -> str:
        log.exception("SMTP session error", exc_info=error)
        return "451 4.3.0 an error on our side, try again later"

    async def _reset(self, upstream: Upstream) -> None:
        with contextlib.suppress(UpstreamError):
            await asyncio.to_thread(upstream.command, "rset")

    async def _close(self, session: Session) -> None:
        upstream = self.sessions.pop(id(session), None)
        if upstream is not None:
            await asyncio.to_thread(upstream.close)

    def forget(self, session: Session | None) -> None:
        """A client that went away without QUIT: its upstream session is closed."""
        if session is None:
            return
        upstream = self.sessions.pop(id(session), None)
        if upstream is not None:
            threading.Thread(target=upstream.close, daemon=True).start()


def _trace(server: SMTP, session: Session, envelope: Envelope, ident: str, message: bytes) -> bytes:
    """The Received field for this message (`trace`), with the message's own line ending."""
    peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
    local = server.transport.get_extra_info("sockname") if server.transport else None
    client = Client(
        session.host_name, str(peer), session.extended_smtp, session.ssl is not None,
        bool(session.authenticated),
    )  # fmt: skip
    return received(
        client, host_name(server.hostname, str(local[0]) if local else ""), ident,
        envelope.rcpt_tos, smtputf8=bool(envelope.smtp_utf8), when=datetime.now().astimezone(),
        ending=line_ending(message, 0, len(message)),
    )  # fmt: skip


class _RelaySMTP(OnePieceDataSMTP):
    """Reads DATA in one piece (`smtpdata`), and closes the upstream session of a client that
    disconnects without QUIT."""

    def connection_lost(self, error: Exception | None) -> None:
        handler = self.event_handler
        if isinstance(handler, RelayHandler):
            handler.forget(self.session)
        super().connection_lost(error)


class RelayServer:
    """The listening relay, in the current event loop."""

    def __init__(self, gate: Gate, upstream: UpstreamSettings, settings: RelaySettings) -> None:
        self.handler = RelayHandler(gate, upstream, settings.networks)
        self.settings = settings
        self.server: asyncio.Server | None = None
        self.connections: weakref.WeakSet[SMTP] = weakref.WeakSet()

    def _protocol(self) -> SMTP:
        # No authenticator: AUTH is never offered to clients (the relay serves the networks the
        # rules allow, and authenticates itself to the upstream).
        protocol = _RelaySMTP(
            self.handler,
            data_size_limit=self.settings.max_message_bytes,
            hostname=self.settings.hostname,
            ident="rewriter relay",
            decode_data=False,
            enable_SMTPUTF8=True,
        )
        self.connections.add(protocol)
        return protocol

    async def start(self, host: str, port: int) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(self._protocol, host=host, port=port)
        bound = self.server.sockets[0].getsockname()
        return str(bound[0]), int(bound[1])

    async def close(self) -> None:
        """Stop listening and end every session (a message in flight gets no reply, so its
        sender retries: nothing was relayed for it)."""
        if self.server is not None:
            self.server.close()
            for protocol in list(self.connections):
                if protocol.transport is not None:
                    protocol.transport.close()
            await self.server.wait_closed()
        for key in list(self.handler.sessions):
            upstream = self.handler.sessions.pop(key)
            await asyncio.to_thread(upstream.close)


async def cancel_sessions() -> None:
    """End the sessions still open (a closed server leaves its connections to their clients)."""
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class RelayThread:
    """The relay in a thread of its own (tests, benchmarks, embedding in an application)."""

    def __init__(self, server: RelayServer, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server = server
        self.host, self.port = host, port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self, timeout: float = 10.0) -> tuple[str, int]:
        self.thread.start()
        future = asyncio.run_coroutine_threadsafe(
            self.server.start(self.host, self.port), self.loop
        )
        return future.result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        future = asyncio.run_coroutine_threadsafe(self.server.close(), self.loop)
        try:
            future.result(timeout)
            asyncio.run_coroutine_threadsafe(cancel_sessions(), self.loop).result(timeout)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout)
            self.loop.close()
