"""The SMTP relay with real SMTP on loopback: an smtplib client sends through the relay to a
recording SMTP server started here; what the recorder received is checked byte for byte."""

from __future__ import annotations

import os
import re
import smtplib
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mailhelp import Recorder, ServerThread, crlf, engine_for, recording_server

from rewriter.mail.mime import rewrite_message
from rewriter.mail.relay import (
    Gate,
    RelayServer,
    RelaySettings,
    RelayThread,
    UpstreamSettings,
)
from rewriter.status.notices import FailOn

MESSAGE = crlf(
    """From: app@example.com
To: someone@example.net
Subject: Your order
Message-ID: <order-1234@app.example.com>
X-Rewriter-Context: order-1234
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

Track it at https://shop.example.com/orders/1234.
--b1
Content-Type: text/html; charset=utf-8

<p><a href="https://shop.example.com/orders/1234">Track it</a></p>
--b1--
"""
)
BROKEN = MESSAGE.replace(b"https://shop.example.com/orders/1234.", b"https://broken.example.org/x.")
DKIM = b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1; b=abc\r\n" + MESSAGE
NOT_MIME = crlf(
    """From: app@example.com
To: someone@example.net
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="missing"

no boundary line at all
"""
)


_TRACE = re.compile(rb"\AReceived: [^\r\n]*\r\n(?:\t[^\r\n]*\r\n)*")


def untraced(delivered: bytes) -> tuple[bytes, bytes]:
    """The Received field the relay put first, and the message after it."""
    found = _TRACE.match(delivered)
    assert found is not None, delivered[:200]
    return found.group(), delivered[found.end() :]


class Relay:
    def __init__(self, folder: Path, upstream_port: int, networks: tuple[str, ...]) -> None:
        self.gate = Gate(engine_for(folder), FailOn())
        upstream = UpstreamSettings("127.0.0.1", upstream_port, tls="none", timeout=5)
        server = RelayServer(self.gate, upstream, RelaySettings(networks, 1 << 20))
        self.thread = RelayThread(server)
        self.host, self.port = self.thread.start()

    def client(self) -> smtplib.SMTP:
        return smtplib.SMTP(self.host, self.port, timeout=10)


@pytest.fixture
def recorder() -> Iterator[tuple[Recorder, int]]:
    found = Recorder()
    server = recording_server(found)
    port = server.start()
    yield found, port
    server.stop()


@pytest.fixture
def relay(tmp_path: Path, recorder: tuple[Recorder, int]) -> Iterator[Relay]:
    running = Relay(tmp_path, recorder[1], ("127.0.0.0/8", "::1/128"))
    yield running
    running.thread.stop()


def test_delivered_bytes_are_the_rewritten_message(
    relay: Relay, recorder: tuple[Recorder, int], tmp_path: Path
) -> None:
    found, _ = recorder
    with relay.client() as client:
        refused = client.sendmail("app@example.com", ["someone@example.net"], MESSAGE)
    assert refused == {}
    expected = rewrite_message(MESSAGE, engine_for(tmp_path), file="message").output
    assert [(sender, rcpts) for sender, rcpts, _ in found.messages] == [
        ("app@example.com", ["someone@example.net"])
    ]
    _, delivered = untraced(found.messages[0][2])
    assert delivered == expected
    assert b"X-Rewriter-Context" not in delivered
    assert delivered.count(b"http://go.example.com/l/") == 2
    assert b"https://shop.example.com" not in delivered


def test_failing_check_is_refused_with_550_naming_the_link(
    relay: Relay, recorder: tuple[Recorder, int]
) -> None:
    found, _ = recorder
    with relay.client() as client, pytest.raises(smtplib.SMTPDataError) as refused:
        client.sendmail("app@example.com", ["someone@example.net"], BROKEN)
    assert refused.value.smtp_code == 550
    assert b"https://broken.example.org/x" in refused.value.smtp_error
    assert found.messages == []
    assert "DATA" not in found.commands


def test_upstream_down_answers_451(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    running = Relay(tmp_path, port, ("127.0.0.0/8",))
    try:
        with running.client() as client, pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("app@example.com", ["someone@example.net"], MESSAGE)
        assert refused.value.smtp_code == 451
    finally:
        running.thread.stop()


def test_each_recipient_gets_the_upstreams_reply(
    relay: Relay, recorder: tuple[Recorder, int]
) -> None:
    found, _ = recorder
    with relay.client() as client:
        refused = client.sendmail(
            "app@example.com", ["refused@example.net", "someone@example.net"], MESSAGE
        )
    assert refused == {"refused@example.net": (550, b"5.1.1 no such mailbox here")}
    assert [(sender, rcpts) for sender, rcpts, _ in found.messages] == [
        ("app@example.com", ["someone@example.net"])
    ]


def test_dkim_signed_message_is_refused_550_570(
    relay: Relay, recorder: tuple[Recorder, int]
) -> None:
    found, _ = recorder
    with relay.client() as client, pytest.raises(smtplib.SMTPDataError) as refused:
        client.sendmail("app@example.com", ["someone@example.net"], DKIM)
    assert refused.value.smtp_code == 550
    assert refused.value.smtp_error.startswith(b"5.7.0")
    assert b"sign after rewriting" in refused.value.smtp_error
    assert found.messages == []


def test_invalid_mime_is_refused_554_560(relay: Relay, recorder: tuple[Recorder, int]) -> None:
    found, _ = recorder
    with relay.client() as client, pytest.raises(smtplib.SMTPDataError) as refused:
        client.sendmail("app@example.com", ["someone@example.net"], NOT_MIME)
    assert refused.value.smtp_code == 554
    assert refused.value.smtp_error.startswith(b"5.6.0")
    assert found.messages == []


def test_session_goes_on_after_a_refusal(relay: Relay, recorder: tuple[Recorder, int]) -> None:
    found, _ = recorder
    with relay.client() as client:
        with pytest.raises(smtplib.SMTPDataError):
            client.sendmail("app@example.com", ["someone@example.net"], DKIM)
        client.sendmail("app@example.com", ["someone@example.net"], MESSAGE)
        client.sendmail("app@example.com", ["other@example.net"], MESSAGE)
    assert [rcpts for _, rcpts, _ in found.messages] == [
        ["someone@example.net"],
        ["other@example.net"],
    ]


def test_no_auth_offered_and_size_advertised(relay: Relay) -> None:
    with relay.client() as client:
        client.ehlo()
        assert not client.has_extn("auth")
        assert client.esmtp_features["size"] == str(1 << 20)
        code, _ = client.docmd("AUTH", "PLAIN AGFAYg==")
        assert code >= 500


def test_message_id_is_added_when_missing(relay: Relay, recorder: tuple[Recorder, int]) -> None:
    found, _ = recorder
    message = MESSAGE.replace(b"Message-ID: <order-1234@app.example.com>\r\n", b"")
    with relay.client() as client:
        client.sendmail("app@example.com", ["someone@example.net"], message)
    delivered = found.messages[0][2]
    head = delivered.split(b"\r\n\r\n", 1)[0]
    assert head.count(b"\r\nMessage-ID: <") == 1


def test_clients_outside_the_allowed_networks_are_refused(
    tmp_path: Path, recorder: tuple[Recorder, int]
) -> None:
    found, port = recorder
    running = Relay(tmp_path, port, ("10.0.0.0/8",))
    try:
        with running.client() as client, pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("app@example.com", ["someone@example.net"], MESSAGE)
        assert refused.value.smtp_code == 554
    finally:
        running.thread.stop()
    assert found.commands == []


def test_relay_command_prints_the_bound_port_and_relays(
    tmp_path: Path, recorder: tuple[Recorder, int]
) -> None:
    from mailhelp import write_rules

    found, port = recorder
    rules = write_rules(tmp_path)
    command = [
        sys.executable, "-m", "rewriter", "relay", "--rules", str(rules),
        "--listen", "127.0.0.1:0", "--upstream", f"127.0.0.1:{port}", "--upstream-tls", "none",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stderr=subprocess.PIPE, env=os.environ.copy(), cwd=tmp_path, text=True
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert line.startswith("rewriter relay: listening on 127.0.0.1:")
        bound = int(line.rsplit(":", 1)[1])
        assert bound > 0
        with smtplib.SMTP("127.0.0.1", bound, timeout=10) as client:
            client.sendmail("app@example.com", ["someone@example.net"], MESSAGE)
    finally:
        process.terminate()
        process.wait(10)
    assert process.returncode == 0
    assert len(found.messages) == 1
    assert b"http://go.example.com/l/" in found.messages[0][2]


def test_upstream_closing_mid_session_gives_451_not_a_loss(tmp_path: Path) -> None:
    recorder = Recorder()
    upstream = recording_server(recorder)
    port = upstream.start()
    running = Relay(tmp_path, port, ("127.0.0.0/8",))
    try:
        with running.client() as client:
            client.ehlo()
            assert client.docmd("MAIL", "FROM:<app@example.com>")[0] == 250
            assert client.docmd("RCPT", "TO:<someone@example.net>")[0] == 250
            upstream.stop()  # the upstream goes away before DATA
            _close_upstream_sessions(running)
            code, _ = client.docmd("DATA")
            if code == 354:
                client.send(MESSAGE + b".\r\n")
                code, _ = client.getreply()
            assert code == 451
    finally:
        running.thread.stop()
    assert recorder.messages == []


def _close_upstream_sessions(running: Relay) -> None:
    """Drop the relay's upstream sockets, as a crashed upstream would."""
    handler = running.thread.server.handler
    for upstream in handler.sessions.values():
        if upstream.smtp is not None and upstream.smtp.sock is not None:
            upstream.smtp.sock.shutdown(socket.SHUT_RDWR)


def test_recording_server_helper_is_a_real_smtp_server() -> None:
    recorder = Recorder()
    server: ServerThread = recording_server(recorder)
    port = server.start()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.sendmail("a@example.com", ["b@example.net"], b"Subject: x\r\n\r\nbody\r\n")
    finally:
        server.stop()
    assert recorder.messages == [
        ("a@example.com", ["b@example.net"], b"Subject: x\r\n\r\nbody\r\n")
    ]


def test_concurrent_sessions_each_deliver_their_own_message(
    relay: Relay, recorder: tuple[Recorder, int]
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    found, _ = recorder

    def send(number: int) -> None:
        with relay.client() as client:
            client.sendmail("app@example.com", [f"reader{number}@example.net"], MESSAGE)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(send, range(8)))
    assert sorted(rcpts[0] for _, rcpts, _ in found.messages) == sorted(
        f"reader{number}@example.net" for number in range(8)
    )
    assert len({untraced(content)[1] for _, _, content in found.messages}) == 1


def test_the_data_reply_is_the_upstreams(relay: Relay, recorder: tuple[Recorder, int]) -> None:
    found, _ = recorder
    message = MESSAGE.replace(b"Subject: Your order", b"Subject: refuse me")
    with relay.client() as client, pytest.raises(smtplib.SMTPDataError) as refused:
        client.sendmail("app@example.com", ["someone@example.net"], message)
    assert refused.value.smtp_code == 554  # a 5xx from the upstream stays a 5xx
    assert refused.value.smtp_error == b"5.7.1 rejected by the upstream's content filter"
    assert found.messages == []


def test_dot_lines_and_a_pipelined_quit_after_data(
    relay: Relay, recorder: tuple[Recorder, int], tmp_path: Path
) -> None:
    found, _ = recorder
    message = MESSAGE.replace(b"Track it at", b".\r\n..\r\n.Track it at")
    with relay.client() as client:
        client.ehlo()
        assert client.docmd("MAIL", "FROM:<app@example.com>")[0] == 250
        assert client.docmd("RCPT", "TO:<someone@example.net>")[0] == 250
        assert client.docmd("DATA")[0] == 354
        stuffed = message.replace(b"\r\n.", b"\r\n..")
        client.send(stuffed + b".\r\nQUIT\r\n")  # QUIT without waiting for the DATA reply
        assert client.getreply()[0] == 250
        assert client.getreply()[0] == 221
    expected = rewrite_message(message, engine_for(tmp_path), file="message").output
    assert [untraced(content)[1] for _, _, content in found.messages] == [expected]


def test_too_much_data_is_refused_552_and_the_next_mail_goes_through(
    relay: Relay, recorder: tuple[Recorder, int]
) -> None:
    found, _ = recorder
    huge = MESSAGE + (b"x" * 998 + b"\r\n") * 1100  # over the relay's 1 MiB here
    with relay.client() as client:
        client.ehlo()
        assert client.docmd("MAIL", "FROM:<app@example.com>")[0] == 250  # no SIZE said
        assert client.docmd("RCPT", "TO:<someone@example.net>")[0] == 250
        assert client.docmd("DATA")[0] == 354
        client.send(huge + b".\r\n")
        assert client.getreply()[0] == 552
        client.sendmail("app@example.com", ["someone@example.net"], MESSAGE)
    assert len(found.messages) == 1


def test_received_trace_field_first_and_the_rest_byte_for_byte(
    relay: Relay, recorder: tuple[Recorder, int], tmp_path: Path
) -> None:
    from email import message_from_bytes
    from email.utils import parsedate_to_datetime

    found, _ = recorder
    with relay.client() as client:
        client.ehlo("app.example.com")
        client.sendmail("app@example.com", ["someone@example.net"], MESSAGE)
        client.sendmail("app@example.com", ["a@example.net", "b@example.net"], MESSAGE)
    with relay.client() as client:
        client.helo("old.example.com")  # plain SMTP
        client.sendmail("app@example.com", ["someone@example.net"], MESSAGE)
    expected = rewrite_message(MESSAGE, engine_for(tmp_path), file="message").output
    traces = []
    for _, _, delivered in found.messages:
        trace, rest = untraced(delivered)
        assert rest == expected  # one block added at the top, nothing else changed
        assert b"\nReceived:" not in rest and not rest.startswith(b"Received:")
        lines = trace.split(b"\r\n")[:-1]
        assert b"\n" not in trace.replace(b"\r\n", b"")
        assert all(len(line) <= 78 for line in lines)
        assert all(line.startswith(b"\t") for line in lines[1:])
        header = str(message_from_bytes(delivered)["Received"])
        date = header.rsplit(";", 1)[1].strip()
        assert parsedate_to_datetime(date).tzinfo is not None
        traces.append(" ".join(header.split()))
    one, two, plain = traces
    assert one.startswith(
        "from app.example.com ([127.0.0.1]) by localhost (rewriter relay) with ESMTP id "
    )
    assert "for <someone@example.net>;" in one
    assert " for " not in two  # several recipients: none named
    assert plain.startswith(
        "from old.example.com ([127.0.0.1]) by localhost (rewriter relay) with SMTP id "
    )
    assert len({trace.split(" id ")[1].split()[0] for trace in traces}) == 3


def test_smtputf8_to_an_upstream_without_it_is_refused_for_good(tmp_path: Path) -> None:
    found = Recorder()
    upstream = recording_server(found)  # does not advertise SMTPUTF8
    running = Relay(tmp_path, upstream.start(), ("127.0.0.0/8",))
    message = MESSAGE.replace(
        b"To: someone@example.net", "To: Jürgen <jürgen@example.net>".encode()
    )
    try:
        with running.client() as client:
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                client.sendmail(
                    "app@example.com", ["jürgen@example.net"], message, mail_options=["SMTPUTF8"]
                )
            assert refused.value.smtp_code == 553
            assert refused.value.smtp_error.startswith(b"5.6.7 the next hop")
            assert b"does not support SMTPUTF8" in refused.value.smtp_error
            client.sendmail("app@example.com", ["someone@example.net"], MESSAGE)  # goes on
    finally:
        running.thread.stop()
        upstream.stop()
    assert found.commands[0] == "MAIL app@example.com"  # the refused MAIL never went upstream
    assert len(found.messages) == 1


def test_smtputf8_to_an_upstream_with_it_is_relayed(tmp_path: Path) -> None:
    found = Recorder()
    upstream = recording_server(found, smtputf8=True)
    running = Relay(tmp_path, upstream.start(), ("127.0.0.0/8",))
    message = MESSAGE.replace(
        b"To: someone@example.net", "To: Jürgen <jürgen@example.net>".encode()
    )
    try:
        with running.client() as client:
            client.sendmail(
                "app@example.com", ["jürgen@example.net"], message, mail_options=["SMTPUTF8"]
            )
    finally:
        running.thread.stop()
        upstream.stop()
    trace, rest = untraced(found.messages[0][2])
    assert b" with UTF8SMTP id " in trace
    assert "for <jürgen@example.net>;".encode() in trace
    assert rest == rewrite_message(message, engine_for(tmp_path), file="message").output
