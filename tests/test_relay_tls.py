"""The relay reaches its upstream over STARTTLS and verifies the certificate: with the private CA
given (`--upstream-ca`) the message goes through; without it, nothing is sent (451)."""

from __future__ import annotations

import shutil
import smtplib
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP
from mailhelp import Recorder, ServerThread, crlf, engine_for

from rewriter.mail.relay import Gate, RelayServer, RelaySettings, RelayThread, UpstreamSettings

MESSAGE = crlf(
    "From: app@example.com\nTo: someone@example.net\nMessage-ID: <tls@example.com>\n"
    "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n"
    "Your order: https://shop.example.com/orders/1\n"
)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return key, cert


@pytest.fixture
def tls_upstream(certificate: tuple[Path, Path]) -> Iterator[tuple[Recorder, int]]:
    key, cert = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    recorder = Recorder()
    server = ServerThread(
        lambda: SMTP(recorder, hostname="upstream.test", tls_context=context, require_starttls=True)
    )
    port = server.start()
    yield recorder, port
    server.stop()


def send(tmp_path: Path, port: int, ca_file: Path | None) -> None:
    upstream = UpstreamSettings("127.0.0.1", port, tls="starttls", ca_file=ca_file, timeout=5)
    relay = RelayThread(RelayServer(Gate(engine_for(tmp_path)), upstream, RelaySettings()))
    host, relay_port = relay.start()
    try:
        with smtplib.SMTP(host, relay_port, timeout=10) as client:
            client.sendmail("app@example.com", ["someone@example.net"], MESSAGE)
    finally:
        relay.stop()


def test_starttls_with_the_private_ca_delivers(
    tmp_path: Path, tls_upstream: tuple[Recorder, int], certificate: tuple[Path, Path]
) -> None:
    recorder, port = tls_upstream
    send(tmp_path, port, certificate[1])
    assert len(recorder.messages) == 1
    assert b"http://go.example.com/l/" in recorder.messages[0][2]


def test_an_unverified_certificate_sends_nothing(
    tmp_path: Path, tls_upstream: tuple[Recorder, int]
) -> None:
    recorder, port = tls_upstream
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        send(tmp_path, port, None)
    assert refused.value.smtp_code == 451
    assert b"certificate" in refused.value.smtp_error.lower()
    assert recorder.messages == []
    assert not any(command.startswith("MAIL") for command in recorder.commands)


def test_the_relay_authenticates_to_the_upstream_when_told(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    key, cert = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    seen: list[tuple[bytes, bytes]] = []

    def authenticator(server: SMTP, session: object, envelope: object, mechanism: str,
                      data: object) -> AuthResult:  # fmt: skip
        assert isinstance(data, LoginPassword)
        seen.append((data.login, data.password))
        return AuthResult(success=data.login == b"app" and data.password == b"s3cret")

    recorder = Recorder()
    server = ServerThread(
        lambda: SMTP(recorder, hostname="upstream.test", tls_context=context,
                     require_starttls=True, auth_required=True, authenticator=authenticator)
    )  # fmt: skip
    port = server.start()
    try:
        upstream = UpstreamSettings("127.0.0.1", port, "starttls", "app", "s3cret", cert, 5)
        relay = RelayThread(RelayServer(Gate(engine_for(tmp_path)), upstream, RelaySettings()))
        host, relay_port = relay.start()
        try:
            with smtplib.SMTP(host, relay_port, timeout=10) as client:
                client.sendmail("app@example.com", ["someone@example.net"], MESSAGE)
        finally:
            relay.stop()
    finally:
        server.stop()
    assert seen == [(b"app", b"s3cret")]
    assert len(recorder.messages) == 1
