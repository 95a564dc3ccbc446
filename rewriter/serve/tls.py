"""Certificates for the HTTPS listener: several, chosen by SNI, checked against the rules at
start, and swapped on SIGHUP without touching connections already established.

`SniContexts.server_context()` is the one SSLContext handed to the server. Its `sni_callback`
runs at every handshake (with or without SNI) and moves the connection to the context of the
certificate covering the name asked for (the first certificate when none does), taken from the
current set: replacing the set is all a reload needs.
"""

from __future__ import annotations

import datetime
import ssl
from dataclasses import dataclass
from pathlib import Path

from rewriter.rules.model import CertificateState, Rules


class CertificateError(Exception):
    """A certificate that cannot be served (unreadable, no key, or not for the tracking domain)."""


@dataclass(frozen=True, slots=True)
class CertificatePair:
    certfile: Path
    keyfile: Path


@dataclass(frozen=True, slots=True)
class LoadedCertificate:
    pair: CertificatePair
    names: tuple[str, ...]  # DNS names of the subject alternative names, lower case
    not_after: datetime.datetime
    context: ssl.SSLContext


def load_certificate(pair: CertificatePair) -> LoadedCertificate:
    """Read a certificate chain and its key. Raises CertificateError."""
    from cryptography import x509

    try:
        data = pair.certfile.read_bytes()
    except OSError as error:
        raise CertificateError(f"{pair.certfile}: cannot read: {error.strerror}") from None
    try:
        leaf = x509.load_pem_x509_certificates(data)[0]
    except ValueError:
        raise CertificateError(f"{pair.certfile}: not a PEM certificate") from None
    try:
        extension = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = tuple(name.lower() for name in extension.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = ()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    try:
        context.load_cert_chain(pair.certfile, pair.keyfile)
    except (OSError, ssl.SSLError) as error:
        message = f"{pair.certfile} with {pair.keyfile}: cannot load the certificate and key"
        raise CertificateError(f"{message} ({error})") from None
    return LoadedCertificate(pair, names, leaf.not_valid_after_utc, context)


def covers(names: tuple[str, ...], host: str) -> bool:
    """Whether a certificate for `names` is valid for `host` (a wildcard covers one label)."""
    for name in names:
        if name == host:
            return True
        if name.startswith("*.") and host.partition(".")[2] == name[2:] and "." in name[2:]:
            return True
    return False


def check_certificates(
    certificates: list[LoadedCertificate], rules: Rules, now: datetime.datetime
) -> tuple[list[str], list[str]]:
    """(errors, warnings) about the certificates given for the rules' hosts. An error (the
    tracking domain covered by none) stops the start."""
    errors: list[str] = []
    warnings: list[str] = []
    if not any(covers(cert.names, rules.tracking_domain) for cert in certificates):
        given = ", ".join(f"{c.pair.certfile} ({', '.join(c.names) or 'no DNS names'})"
                          for c in certificates)  # fmt: skip
        errors.append(f"no certificate covers the tracking domain {rules.tracking_domain}: {given}")
    for host in rules.legacy_domains:
        if not any(covers(cert.names, host) for cert in certificates):
            warnings.append(
                f"no certificate covers the legacy domain {host}: HTTPS links on it fail"
            )
    for cert in certificates:
        if cert.not_after <= now:
            warnings.append(f"{cert.pair.certfile}: expired on {cert.not_after:%Y-%m-%d}")
    declared = {facts.name: facts.certificate for facts in rules.hosts if facts.certificate}
    for host in (rules.tracking_domain, *rules.legacy_domains):
        fact = declared.get(host)
        serving = next((c for c in certificates if covers(c.names, host)), None)
        if fact is None or serving is None:
            continue
        if fact.state is not CertificateState.ACTIVE:
            warnings.append(
                f"hosts[{host}].certificate: declared {fact.state.value}, but a certificate "
                f"covering it is served ({serving.pair.certfile})"
            )
            continue
        if fact.expires is not None and fact.expires != serving.not_after.date():
            warnings.append(
                f"hosts[{host}].certificate.expires: declared {fact.expires}, the certificate "
                f"served expires on {serving.not_after:%Y-%m-%d} ({serving.pair.certfile})"
            )
        if fact.names and set(fact.names) != set(serving.names):
            warnings.append(
                f"hosts[{host}].certificate.names: declared {', '.join(fact.names)}, the "
                f"certificate served names {', '.join(serving.names)} ({serving.pair.certfile})"
            )
    return errors, warnings


class SniContexts:
    """The certificates in use, swapped as a whole on reload."""

    def __init__(self, certificates: list[LoadedCertificate]) -> None:
        if not certificates:
            raise CertificateError("HTTPS needs at least one certificate")
        self._certificates = certificates
        self._by_name: dict[str, ssl.SSLContext] = {}
        self.replace(certificates)
        self._server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._server.minimum_version = ssl.TLSVersion.TLSv1_2
        self._server.set_alpn_protocols(["http/1.1"])
        first = certificates[0].pair
        self._server.load_cert_chain(first.certfile, first.keyfile)
        self._server.sni_callback = self._choose

    def server_context(self) -> ssl.SSLContext:
        return self._server

    def replace(self, certificates: list[LoadedCertificate]) -> None:
        by_name: dict[str, ssl.SSLContext] = {}
        for cert in certificates:
            for name in cert.names:
                by_name.setdefault(name, cert.context)
        self._by_name, self._certificates = by_name, certificates

    def choose(self, server_name: str | None) -> ssl.SSLContext:
        """The context of the certificate for `server_name`: exact name, then wildcard."""
        by_name = self._by_name
        if server_name:
            name = server_name.lower().rstrip(".")
            found = by_name.get(name) or by_name.get("*." + name.partition(".")[2])
            if found is not None:
                return found
        return self._certificates[0].context

    def _choose(
        self, connection: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: object
    ) -> None:
        connection.context = self.choose(server_name)
