"""What the user's hosts really serve: one TLS handshake, one HTTPS request, one plain HTTP request.

For each host, over the network (the only module of the tool, with `fetch_list`, that uses it):

- a TLS handshake with SNI on port 443: whether the chain validates against the system's trust
  store (or a CA file), the names the certificate covers, its dates;
- when the certificate is valid for the host, `GET /` over that connection, for the
  Strict-Transport-Security header (a browser takes it only from an error-free HTTPS response);
- `GET /` over plain HTTP on port 80: whether it redirects, and where.

Every socket operation has a timeout and hosts are probed a few at a time, so a run takes at
most about (hosts / concurrency) x 4 timeouts. `--connect-to` sends a name's connections to
another address, as curl's option does; the name is still the one sent in SNI and `Host`.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

from rewriter.status.certificate_info import (
    CertificateFormatError,
    CertificateInfo,
    read_certificate,
)
from rewriter.status.hsts_header import HstsReading, read_hsts

HTTPS_PORT = 443
HTTP_PORT = 80
DEFAULT_TIMEOUT = 5.0
DEFAULT_CONCURRENCY = 8
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

# Opens a TCP connection to (address, port) within a timeout; replaceable so that name-resolution
# failures can be tested without asking a real resolver.
Connector = Callable[[tuple[str, int], float], socket.socket]


@dataclass(frozen=True, slots=True)
class ConnectTo:
    """`HOST:PORT:ADDR:PORT`: connections to HOST:PORT go to ADDR:PORT (curl's --connect-to).

    An empty HOST or PORT matches any; an empty ADDR or PORT keeps the original one.
    """

    host: str  # "" for any
    port: int | None  # None for any
    address: str  # "" for the same host
    address_port: int | None  # None for the same port

    def applies(self, host: str, port: int) -> bool:
        return self.host in ("", host) and self.port in (None, port)


def parse_connect_to(text: str) -> ConnectTo:
    """Parse `HOST:PORT:ADDR:PORT` (IPv6 addresses in brackets). Raises ValueError."""
    parts: list[str] = []
    rest = text
    for index in range(4):
        if rest.startswith("["):
            close = rest.find("]")
            if close == -1:
                raise ValueError(f"{text!r}: an unclosed [ in an IPv6 address")
            parts.append(rest[1:close])
            rest = rest[close + 1 :]
            if index < 3 and not rest.startswith(":"):
                raise ValueError(f"{text!r}: expected HOST:PORT:ADDR:PORT")
            rest = rest[1:] if index < 3 else rest
        elif index < 3:
            part, colon, rest = rest.partition(":")
            if not colon:
                raise ValueError(f"{text!r}: expected HOST:PORT:ADDR:PORT")
            parts.append(part)
        else:
            parts.append(rest)
            rest = ""
    if rest:
        raise ValueError(f"{text!r}: expected HOST:PORT:ADDR:PORT")
    host, port, address, address_port = parts
    return ConnectTo(
        host.lower().rstrip("."), _port(port, text), address, _port(address_port, text)
    )


def _port(text: str, whole: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{whole!r}: {text!r} is not a port number")
    return int(text)


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    connect_to: tuple[ConnectTo, ...] = ()
    ca_file: Path | None = None  # None: the system's trust store
    timeout: float = DEFAULT_TIMEOUT
    concurrency: int = DEFAULT_CONCURRENCY

    def route(self, host: str, port: int) -> tuple[str, int]:
        """Where a connection to host:port really goes (the first --connect-to that applies)."""
        for rule in self.connect_to:
            if rule.applies(host, port):
                return rule.address or host, rule.address_port or port
        return host, port


# OpenSSL's verify codes for a certificate out of its dates (X509_V_ERR_CERT_...).
CERT_NOT_YET_VALID = 9
CERT_HAS_EXPIRED = 10


@dataclass(frozen=True, slots=True)
class TlsResult:
    """The handshake on port 443. `error` is set when no TLS session could be had at all."""

    error: str | None = None
    certificate: CertificateInfo | None = None
    verify_error: str | None = None  # why OpenSSL refuses the chain or its dates; None: accepted
    verify_code: int | None = None
    covers: bool = False  # the certificate's names cover the host

    @property
    def valid(self) -> bool:
        """A certificate browsers accept for this host: a trusted chain, in date, covering it."""
        return (
            self.error is None
            and self.verify_error is None
            and self.certificate is not None
            and self.covers
        )

    def problem(self) -> str | None:
        """Why browsers refuse this host's certificate (None when they accept it)."""
        if self.error is not None:
            return self.error
        problems = [self.verify_error] if self.verify_error else []
        if self.certificate is not None and not self.covers:
            problems.append(not_covering(self.certificate))
        return "; ".join(problems) or None


@dataclass(frozen=True, slots=True)
class HttpResult:
    """The plain HTTP answer on port 80."""

    error: str | None = None
    status: int | None = None
    location: str | None = None  # absolute, when the answer is a redirect

    def redirects_to_https(self) -> bool:
        return self.location is not None and self.location.lower().startswith("https://")


@dataclass(frozen=True, slots=True)
class Observation:
    """What one host serves."""

    host: str
    tls: TlsResult
    hsts: HstsReading | None  # None: not read (no valid certificate, or the request failed)
    hsts_error: str | None
    http: HttpResult


def probe_hosts(
    hosts: Sequence[str], settings: ProbeSettings, connector: Connector | None = None
) -> list[Observation]:
    """Observations of `hosts`, in their order, probed `settings.concurrency` at a time."""
    if not hosts:
        return []
    prober = _Prober(settings, connector or _open_connection)
    workers = max(1, min(settings.concurrency, len(hosts)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe") as pool:
        return list(pool.map(prober.observe, hosts))


def _open_connection(address: tuple[str, int], timeout: float) -> socket.socket:
    return socket.create_connection(address, timeout=timeout)


class _Prober:
    def __init__(self, settings: ProbeSettings, connector: Connector) -> None:
        self.settings = settings
        self.connector = connector
        self.verifying = ssl.create_default_context(
            cafile=str(settings.ca_file) if settings.ca_file else None
        )
        # The names are checked here, against the certificate's names, so that a wrong name is
        # told apart from an untrusted chain; the chain and the dates are OpenSSL's to judge.
        self.verifying.check_hostname = False
        self.inspecting = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # no trust store to load
        self.inspecting.check_hostname = False
        self.inspecting.verify_mode = ssl.CERT_NONE

    def observe(self, host: str) -> Observation:
        tls, connection = self.handshake(host)
        hsts: HstsReading | None = None
        hsts_error = None
        if connection is not None:
            try:
                hsts = read_hsts(self.get(connection, host, https=True)[2])
            except (OSError, http.client.HTTPException) as error:
                hsts_error = self.reason(error, host, HTTPS_PORT)
        return Observation(host, tls, hsts, hsts_error, self.plain_http(host))

    def connect(self, host: str, port: int) -> socket.socket:
        return self.connector(self.settings.route(host, port), self.settings.timeout)

    def handshake(self, host: str) -> tuple[TlsResult, ssl.SSLSocket | None]:
        """The TLS result, and the open connection when the certificate is valid for `host`."""
        try:
            connection = self.verifying.wrap_socket(
                self.connect(host, HTTPS_PORT), server_hostname=host
            )
        except ssl.SSLCertVerificationError as error:
            return self.inspect(host, _verify_message(error), error.verify_code), None
        except OSError as error:
            return TlsResult(error=self.reason(error, host, HTTPS_PORT)), None
        try:
            certificate = read_certificate(connection.getpeercert(binary_form=True) or b"")
        except CertificateFormatError as error:
            connection.close()
            return TlsResult(error=f"the certificate cannot be read ({error})"), None
        if not certificate.covers(host):
            connection.close()
            return TlsResult(certificate=certificate), None
        return TlsResult(certificate=certificate, covers=True), connection

    def inspect(self, host: str, verify_error: str, verify_code: int | None) -> TlsResult:
        """A second handshake, accepting any certificate, to describe the one that failed."""
        try:
            with self.inspecting.wrap_socket(
                self.connect(host, HTTPS_PORT), server_hostname=host
            ) as connection:
                certificate = read_certificate(connection.getpeercert(binary_form=True) or b"")
        except (OSError, CertificateFormatError):
            return TlsResult(verify_error=verify_error, verify_code=verify_code)
        return TlsResult(
            certificate=certificate,
            verify_error=verify_error,
            verify_code=verify_code,
            covers=certificate.covers(host),
        )

    def plain_http(self, host: str) -> HttpResult:
        try:
            status, location, _ = self.get(self.connect(host, HTTP_PORT), host, https=False)
        except (OSError, http.client.HTTPException) as error:
            return HttpResult(error=self.reason(error, host, HTTP_PORT))
        return HttpResult(status=status, location=location)

    def get(
        self, connection: socket.socket, host: str, *, https: bool
    ) -> tuple[int, str | None, list[str]]:
        """`GET /` on an open connection: status, absolute redirect target, HSTS headers."""
        client: http.client.HTTPConnection
        if https:
            # The context is never used (the socket is ours); given, so none is built per request.
            client = http.client.HTTPSConnection(
                host, HTTPS_PORT, timeout=self.settings.timeout, context=self.inspecting
            )
        else:
            client = http.client.HTTPConnection(host, HTTP_PORT, timeout=self.settings.timeout)
        client.sock = connection  # already connected (and routed); Host: is the name itself
        try:
            client.request("GET", "/", headers={"User-Agent": "rewriter-probe", "Accept": "*/*"})
            response = client.getresponse()
            location = response.getheader("Location")
            hsts = response.headers.get_all("Strict-Transport-Security") or []
            status = response.status
        finally:
            client.close()
        scheme = "https" if https else "http"
        if status in _REDIRECTS and location:
            return status, urljoin(f"{scheme}://{host}/", location.strip()), hsts
        return status, None, hsts

    def reason(self, error: BaseException, host: str, port: int) -> str:
        """Why a connection failed, in the words the report uses (DNS, refused, timeout...)."""
        address, real_port = self.settings.route(host, port)
        where = f"{address}:{real_port}"
        if isinstance(error, socket.gaierror):
            return f"DNS: {address} does not resolve ({error.strerror or error})"
        if isinstance(error, ConnectionRefusedError):
            return f"refused: nothing listens on {where}"
        if isinstance(error, TimeoutError):
            return f"timeout: no answer from {where} within {self.settings.timeout:g} s"
        if isinstance(error, ssl.SSLError):
            detail = error.reason or str(error)
            alert = "ALERT" in str(detail) or str(detail).startswith("TLSV1_")
            kind = "TLS alert" if alert else "TLS handshake failed"
            return f"{kind}: {detail} ({where})"
        if isinstance(error, ConnectionResetError):
            return f"reset: {where} closed the connection"
        if isinstance(error, http.client.HTTPException):
            return f"not an HTTP answer from {where} ({type(error).__name__})"
        return f"{error.strerror if isinstance(error, OSError) else error} ({where})"


def _verify_message(error: ssl.SSLCertVerificationError) -> str:
    return str(error.verify_message or error.reason or error)


def not_covering(certificate: CertificateInfo) -> str:
    names = ", ".join(certificate.names) or "no DNS names"
    wildcard = " (a wildcard covers one level)" if any("*" in n for n in certificate.names) else ""
    return f"the certificate covers only {names}{wildcard}"
