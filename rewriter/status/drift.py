"""What the servers do, compared with what the rules declare: drift, notes, and the facts observed.

Each disagreement is one line pointing at the declaration:
`rules.yaml:12: go.example.com: declared pending since 2026-11-25, but the server presents a valid
certificate for go.example.com until 2027-02-25: declare it active`.

- Certificates: the declaration that applies to the host (its own, or a parent's that covers it,
  as the statuses read them) says valid (active) or not (pending, none, not covering); the server
  says valid (a trusted chain, in date, covering the host) or not (any other certificate, or none
  to be had). A host declared active that cannot be reached is drift; one declared pending or
  none that offers no valid certificate matches.
- HSTS: the header the host's own declaration names (none when it names none), compared with the
  first header of an error-free HTTPS response; max-age 0 counts as no HSTS, as in browsers.
  Only compared when the certificate is valid, since browsers ignore the header otherwise.
- `preloaded:` cannot be seen on a server: never compared, kept as declared.

A host the rules name but do not describe (the tracking domain, a legacy domain) gets notes, not
drift: nothing was declared that could be wrong.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from rewriter.rules.model import Certificate, CertificateState, HostFacts, HstsPolicy, Rules
from rewriter.status.classify import CertificateKind, certificate_of
from rewriter.status.hsts_header import describe_policy
from rewriter.status.preload import parents
from rewriter.status.probe import CERT_HAS_EXPIRED, Observation, TlsResult

if TYPE_CHECKING:
    from rewriter.rules.loader import HostLines

Kind = Literal["drift", "note"]


@dataclass(frozen=True, slots=True)
class Difference:
    """One disagreement (drift) or one undeclared fact worth declaring (note)."""

    kind: Kind
    host: str
    line: int | None  # in the rules file: the declaration it is about
    message: str

    def render(self, origin: str) -> str:
        place = f"{origin}:{self.line}" if self.line is not None else origin
        label = "note: " if self.kind == "note" else ""
        return f"{place}: {self.host}: {label}{self.message}"


def probed_hosts(rules: Rules) -> list[str]:
    """The hosts `probe` looks at by default: the tracking domain, the legacy ones, `hosts:`."""
    names = [rules.tracking_domain, *rules.legacy_domains, *(f.name for f in rules.hosts)]
    return list(dict.fromkeys(names))


def compare(
    rules: Rules, observations: Iterable[Observation], lines: Mapping[str, HostLines]
) -> list[Difference]:
    """Every disagreement between the rules and the observations, host by host; `lines` (from
    `rules.loader.host_lines`) points each at its declaration."""
    facts = {f.name: f for f in rules.hosts}
    found: list[Difference] = []
    for observation in observations:
        found += _certificate(observation, facts, lines)
        found += _hsts(observation, facts.get(observation.host), lines)
    return found


# --- certificates -------------------------------------------------------------------------------


def _certificate(
    observation: Observation, facts: Mapping[str, HostFacts], lines: Mapping[str, HostLines]
) -> list[Difference]:
    host, tls = observation.host, observation.tls
    finding = certificate_of(host, facts)
    declared = _declared_certificate(host, facts, finding.certificate)
    if finding.kind in (CertificateKind.ASSUMED, CertificateKind.UNDECLARED) or declared is None:
        line = _line(lines, host, "host")
        message = f"no certificate declared; {_seen(tls)}: {_advice(tls)}"
        return [Difference("note", host, line, message)]
    owner, certificate = declared
    line = _line(lines, owner, "certificate")
    said = _declared_phrase(host, owner, certificate, finding.kind)
    if finding.kind is CertificateKind.VALID:
        if tls.valid and owner == host:
            return _active_details(host, certificate, tls, said, line)
        if tls.valid or (owner == host and _same_expired(certificate, tls)):
            return []
        return [Difference("drift", host, line, f"{said}, but {_seen(tls)}: {_advice(tls)}")]
    if tls.valid:
        message = f"{said}, but {_seen(tls)}: declare it active"
        return [Difference("drift", host, line, message)]
    return []


def _same_expired(certificate: Certificate, tls: TlsResult) -> bool:
    """Declared with the expiry of the expired certificate the server presents: `check` fails
    on the date already, as it should."""
    return (
        _expired_only(tls)
        and tls.certificate is not None
        and certificate.expires == tls.certificate.not_after.date()
    )


def _expired_only(tls: TlsResult) -> bool:
    """A trusted certificate for the host whose only fault is its end date."""
    return tls.error is None and tls.verify_code == CERT_HAS_EXPIRED and tls.covers


def _declared_certificate(
    host: str, facts: Mapping[str, HostFacts], applying: Certificate | None
) -> tuple[str, Certificate] | None:
    """The declaration the statuses read for `host`: whose, and which."""
    first: tuple[str, Certificate] | None = None
    for name in (host, *parents(host)):
        certificate = facts[name].certificate if name in facts else None
        if certificate is None:
            continue
        if certificate is applying:
            return name, certificate
        first = first or (name, certificate)
    return first


def _declared_phrase(host: str, owner: str, certificate: Certificate, kind: CertificateKind) -> str:
    whose = "" if owner == host else f" for {owner}"
    if certificate.state is CertificateState.PENDING:
        since = f" since {certificate.requested.isoformat()}" if certificate.requested else ""
        return f"declared pending{since}{whose}"
    if certificate.state is CertificateState.NONE:
        return f"declared none{whose}"
    if kind is not CertificateKind.VALID:
        names = ", ".join(certificate.names or (owner,))
        return f"declared only the certificate of {owner} (for {names}), which does not cover it"
    until = f" until {certificate.expires.isoformat()}" if certificate.expires else ""
    if owner != host:
        return f"declared active through the certificate of {owner}{until}"
    return f"declared active{until}"


def _active_details(
    host: str, certificate: Certificate, tls: TlsResult, said: str, line: int | None
) -> list[Difference]:
    """An active declaration and a valid certificate: do the expiry and the names agree?"""
    assert tls.certificate is not None
    found = []
    expires = tls.certificate.not_after.date()
    if certificate.expires is not None and certificate.expires != expires:
        message = (
            f"{said}, but the server presents a valid certificate until {expires.isoformat()}: "
            f"declare expires: {expires.isoformat()}"
        )
        found.append(Difference("drift", host, line, message))
    names = tls.certificate.names
    if certificate.names and set(certificate.names) != set(names):
        message = (
            f"declared for {', '.join(certificate.names)}, but the certificate covers "
            f"{', '.join(names)}: declare names: {_yaml_list(names)}"
        )
        found.append(Difference("drift", host, line, message))
    return found


def _seen(tls: TlsResult) -> str:
    """What the server does, as the second half of a sentence."""
    certificate = tls.certificate
    if tls.valid and certificate is not None:
        return (
            f"the server presents a valid certificate for {', '.join(certificate.names)} "
            f"until {certificate.not_after.date().isoformat()}"
        )
    if tls.error is not None or certificate is None:
        return f"the server cannot be reached over TLS ({tls.problem()})"
    if _expired_only(tls):
        return (
            f"the server presents a certificate that expired on "
            f"{certificate.not_after.date().isoformat()}"
        )
    return f"the server presents a certificate browsers refuse ({tls.problem()})"


def _advice(tls: TlsResult) -> str:
    """What to declare so that the rules say what the server does."""
    certificate = tls.certificate
    if tls.valid:
        return "declare it active"
    if _expired_only(tls) and certificate is not None:
        return f"declare expires: {certificate.not_after.date().isoformat()} (and renew it)"
    if certificate is not None and tls.error is None and tls.verify_error is None:
        return f"declare names: {_yaml_list(certificate.names)} (it does not cover the host)"
    return "declare it none (or fix the server)"


def observed_certificate(tls: TlsResult, declared: Certificate | None) -> Certificate:
    """The certificate declaration that says what the server does.

    A valid certificate is active with its expiry and names; one that is trusted but expired,
    or trusted but not covering the host, is active too, so that `check` says exactly that;
    anything else is none, or the pending declaration it agrees with.
    """
    certificate = tls.certificate
    if certificate is not None and tls.error is None:
        expires = certificate.not_after.date()
        only_dates = tls.verify_code == CERT_HAS_EXPIRED
        if tls.verify_error is None or only_dates:
            return Certificate(CertificateState.ACTIVE, expires=expires, names=certificate.names)
    if declared is not None and declared.state is CertificateState.PENDING:
        return declared
    return Certificate(CertificateState.NONE)


# --- HSTS ---------------------------------------------------------------------------------------


def _hsts(
    observation: Observation, own: HostFacts | None, lines: Mapping[str, HostLines]
) -> list[Difference]:
    host, reading = observation.host, observation.hsts
    if not observation.tls.valid:
        return []  # browsers take the header only from an error-free HTTPS response
    if reading is None:
        if own is not None and own.hsts is not None:
            line = _line(lines, host, "hsts")
            why = observation.hsts_error or "no answer"
            message = f"declared HSTS {describe_policy(own.hsts)}, but the request failed ({why})"
            return [Difference("note", host, line, message)]
        return []
    seen = _effective(reading.policy)
    if own is None:
        if seen is None:
            return []
        message = f"no HSTS declared; the server sends {reading.describe()}: {_hsts_advice(seen)}"
        return [Difference("note", host, _line(lines, host, "host"), message)]
    if _effective(own.hsts) == seen:
        return []
    said = "declared no HSTS" if own.hsts is None else f"declared HSTS {describe_policy(own.hsts)}"
    line = _line(lines, host, "hsts") if own.hsts is not None else _line(lines, host, "host")
    message = f"{said}, but the server sends {reading.describe()}: {_hsts_advice(seen)}"
    return [Difference("drift", host, line, message)]


def _effective(policy: HstsPolicy | None) -> HstsPolicy | None:
    """max-age 0 tells browsers to forget the host: the same as no header."""
    return None if policy is None or policy.max_age == 0 else policy


def _hsts_advice(policy: HstsPolicy | None) -> str:
    if policy is None:
        return "remove its hsts declaration"
    return f"declare hsts: {hsts_yaml(policy)}"


# --- the facts observed -------------------------------------------------------------------------


def observed_facts(observation: Observation, declared: HostFacts | None) -> HostFacts:
    """The host's facts as the server shows them; what cannot be observed stays as declared
    (`preloaded`, and the HSTS header when no valid HTTPS response was had)."""
    certificate = observed_certificate(
        observation.tls, declared.certificate if declared is not None else None
    )
    hsts = declared.hsts if declared is not None else None
    if observation.tls.valid and observation.hsts is not None:
        hsts = observation.hsts.policy
    preloaded = declared.preloaded if declared is not None else None
    return HostFacts(observation.host, certificate, hsts, preloaded)


def rules_as_observed(rules: Rules, observations: Sequence[Observation]) -> Rules:
    """The rules with each probed host's facts replaced by what its server does."""
    facts = {f.name: f for f in rules.hosts}
    for observation in observations:
        facts[observation.host] = observed_facts(observation, facts.get(observation.host))
    return dataclasses.replace(rules, hosts=tuple(facts[name] for name in sorted(facts)))


def suggestion(observations: Sequence[Observation], declared_hosts: Iterable[HostFacts]) -> str:
    """The `hosts:` section of the rules as observed, in YAML (`preloaded:` as declared)."""
    declared = {f.name: f for f in declared_hosts}
    out = ["hosts:"]
    for observation in observations:
        facts = observed_facts(observation, declared.get(observation.host))
        out.append(f"  {facts.name}:")
        assert facts.certificate is not None
        out.append(f"    certificate: {certificate_yaml(facts.certificate)}")
        if facts.hsts is not None:
            out.append(f"    hsts: {hsts_yaml(facts.hsts)}")
        if facts.preloaded is not None:
            out.append(f"    preloaded: {str(facts.preloaded).lower()}   # as declared")
    return "\n".join(out) + "\n"


def certificate_yaml(certificate: Certificate) -> str:
    parts = [f"status: {certificate.state.value}"]
    if certificate.expires is not None:
        parts.append(f"expires: {certificate.expires.isoformat()}")
    if certificate.names:
        parts.append(f"names: {_yaml_list(certificate.names)}")
    if certificate.requested is not None:
        parts.append(f"requested: {certificate.requested.isoformat()}")
    return "{" + ", ".join(parts) + "}"


def hsts_yaml(policy: HstsPolicy) -> str:
    return (
        f"{{max_age: {policy.max_age}, include_subdomains: {str(policy.include_subdomains).lower()}"
        f", preload_directive: {str(policy.preload_directive).lower()}}}"
    )


def _yaml_list(names: Sequence[str]) -> str:
    return "[" + ", ".join(json.dumps(n) if "*" in n else n for n in names) + "]"


def _line(
    lines: Mapping[str, HostLines], host: str, key: Literal["host", "certificate", "hsts"]
) -> int | None:
    place = lines.get(host)
    if place is None:
        return None
    line: int | None = getattr(place, key)
    return line if line is not None else place.host
