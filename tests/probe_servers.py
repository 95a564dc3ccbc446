"""Real servers on loopback for the probe tests: HTTPS with per-name certificates, plain HTTP.

One HTTPS listener serves many names, as a virtual-hosting server does: the certificate is
chosen by SNI (an unknown name gets a TLS alert), the response headers by the name. Certificates
come from a throwaway CA made with trustme; the tests give its PEM as --ca-file.
"""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NOW = datetime.datetime.now(datetime.UTC).replace(microsecond=0, tzinfo=None)
DAY = datetime.timedelta(days=1)


@dataclass
class Pem:
    """A certificate chain and key, as PEM bytes."""

    chain: bytes
    key: bytes


def leaf(ca: trustme.CA, *names: str, **dates: datetime.datetime) -> Pem:
    cert = ca.issue_cert(*names, **dates)
    return Pem(b"".join(p.bytes() for p in cert.cert_chain_pems), cert.private_key_pem.bytes())


def self_signed(name: str) -> Pem:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 90 * DAY)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return Pem(cert.public_bytes(serialization.Encoding.PEM), key_pem)


@dataclass
class Site:
    """What the HTTPS server does for one name."""

    certificate: Pem
    hsts: Sequence[str] = ()  # Strict-Transport-Security values, each its own header


@dataclass
class Plain:
    """What the plain HTTP server does for one name: redirect (to `location`) or answer 200."""

    location: str | None = None
    status: int = 301


@dataclass
class Servers:
    https_port: int
    http_port: int
    ca_file: Path
    closed_port: int
    silent_port: int
    contexts: dict[str, ssl.SSLContext] = field(default_factory=dict)

    def connect_to(self, *names: str) -> list[str]:
        """--connect-to options sending each name's 443 and 80 to these servers."""
        out = []
        for name in names:
            out += ["--connect-to", f"{name}:443:127.0.0.1:{self.https_port}"]
            out += ["--connect-to", f"{name}:80:127.0.0.1:{self.http_port}"]
        return out


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # handshakes that fail on purpose (alerts, clients refusing the certificate)


def _handler(sites: Mapping[str, Site], plain: Mapping[str, Plain], https: bool) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            name = (self.headers.get("Host") or "").rsplit(":", 1)[0]
            if https:
                self.send_response(200)
                for value in sites[name].hsts:
                    self.send_header("Strict-Transport-Security", value)
            else:
                answer = plain.get(name, Plain())
                self.send_response(answer.status if answer.location else 200)
                if answer.location:
                    self.send_header("Location", answer.location)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def running(
    folder: Path,
    ca: trustme.CA,
    sites: Mapping[str, Site],
    plain: Mapping[str, Plain],
    ports: tuple[int, int] = (0, 0),
) -> Iterator[Servers]:
    """An HTTPS and an HTTP server on 127.0.0.1 (on `ports`, default any free ones), a closed
    port and a silent one."""
    contexts = {}
    for number, (name, site) in enumerate(sites.items()):
        chain, key = folder / f"chain{number}.pem", folder / f"key{number}.pem"
        chain.write_bytes(site.certificate.chain)
        key.write_bytes(site.certificate.key)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(chain, key)
        contexts[name] = context

    def choose(connection: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> int | None:
        if name not in contexts:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        connection.context = contexts[name]
        return None

    front = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    front.load_cert_chain(*_any_certificate(folder, ca))
    front.sni_callback = choose
    secure = _Quiet(("127.0.0.1", ports[0]), _handler(sites, plain, https=True))
    secure.socket = front.wrap_socket(
        secure.socket, server_side=True, do_handshake_on_connect=False
    )
    insecure = _Quiet(("127.0.0.1", ports[1]), _handler(sites, plain, https=False))
    ca_file = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepted by the kernel, never answered
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (secure, insecure)]
    for thread in threads:
        thread.start()
    try:
        yield Servers(
            secure.server_address[1],
            insecure.server_address[1],
            ca_file,
            closed.getsockname()[1],
            silent.getsockname()[1],
            contexts,
        )
    finally:
        for server in (secure, insecure):
            server.shutdown()
            server.server_close()
        closed.close()
        silent.close()


def _any_certificate(folder: Path, ca: trustme.CA) -> tuple[Path, Path]:
    pem = leaf(ca, "default.invalid")
    chain, key = folder / "default-chain.pem", folder / "default-key.pem"
    chain.write_bytes(pem.chain)
    key.write_bytes(pem.key)
    return chain, key
