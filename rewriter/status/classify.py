"""Whether a click is served securely: a status and an actionable reason per hop and per link.

A click travels the tracking hop and then the destination hop; the link's status is the worse of
the two. Per hop, from worst to best:

- broken: HSTS applies (preloaded) or may apply (declared) and the host has no valid certificate,
  or an https:// hop to an own host without one: browsers refuse, with no click-through.
- unknown: the hop cannot be judged (no destination, an invalid host, an undeclared certificate
  that matters).
- insecure: no HSTS applies and the hop is plain http://.
- secure-after-first-visit: HSTS is declared for the host (or a parent with include_subdomains)
  but not preloaded: the first click from a fresh browser goes in plaintext.
- secure: https:// with a valid certificate, or http:// to a preloaded host with one.

Facts come from the rules (own hosts; they override the list) and the preload list (everyone
else). Statuses never depend on the clock; `gate` holds the checks that do.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Literal

from rewriter.models import Status, Verdict
from rewriter.rules.model import Certificate, CertificateState, HostFacts, Rules
from rewriter.status.preload import PreloadList, parents
from rewriter.web.urls import HostError, normalize_host

SECURED_DOMAINS_BUSINESS_DAYS = 3  # Marketo: certificates are provisioned within 3 business days

# The scheme and authority of an absolute URL (`\\` ends the authority too, as in browsers).
_SCHEME_AND_AUTHORITY = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#\\]*)")


@dataclass(frozen=True, slots=True)
class HopVerdict:
    """The status of one hop (tracking or destination) with its reason."""

    status: Status
    reason: str
    host: str  # normalised when valid, else as given


@dataclass(frozen=True, slots=True)
class Finding:
    """A time-dependent result of `check`: a failure stops the send, a warning is shown."""

    level: Literal["failure", "warning"]
    code: str
    host: str
    message: str


_UNDECODED = HopVerdict(
    Status.UNKNOWN, "the destination could not be decoded from the tracking link", ""
)


class Classifier:
    """Judges hops and links against the rules and a preload list; each host is judged once."""

    def __init__(self, rules: Rules, preload: PreloadList) -> None:
        self.rules = rules
        self.preload = preload
        self._facts: dict[str, HostFacts] = {facts.name: facts for facts in rules.hosts}
        self._hops: dict[tuple[str, str], HopVerdict] = {}
        self._verdicts: dict[tuple[HopVerdict | None, HopVerdict], Verdict] = {}
        # The user's own hosts: the rules describe them, the preload list never vouches for them.
        self._own = frozenset((rules.tracking_domain, *rules.legacy_domains))

    def hop(self, url_scheme: str, host: str) -> HopVerdict:
        """The verdict for a request to `url_scheme://host`, memoised per (scheme, host)."""
        key = (url_scheme, host)
        verdict = self._hops.get(key)
        if verdict is None:
            verdict = self._hops[key] = self._judge_hop(url_scheme.lower(), host)
        return verdict

    def link(self, tracking_url: str | None, destination: str | None) -> Verdict:
        """The worse of the tracking hop (if any) and the destination hop, with each one's ground.

        A tracking URL with no destination means the destination could not be decoded. The hop
        that decides comes first in the reason (on a tie, the tracking hop, the first a click
        takes); the other follows, so a reason never hides why a hop got its status.
        """
        if destination is not None:
            last = self._url_hop(destination)
        elif tracking_url is not None:
            last = _UNDECODED
        else:
            return Verdict(Status.UNKNOWN, "no URL to judge")
        if tracking_url is None:
            return self._verdict(None, last)
        return self._verdict(self._url_hop(tracking_url), last)

    def _verdict(self, first: HopVerdict | None, last: HopVerdict) -> Verdict:
        key = (first, last)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = self._verdicts[key] = _both_hops(first, last)
        return verdict

    def _url_hop(self, url: str) -> HopVerdict:
        parts = split_url(url)
        if parts is None:
            return HopVerdict(Status.UNKNOWN, f"{url!r}: not an absolute http(s) URL", "")
        return self.hop(*parts)

    def _judge_hop(self, scheme: str, raw_host: str) -> HopVerdict:
        if scheme in ("http", "https") and _is_ip_literal(raw_host):
            return _judge_ip(scheme, raw_host)
        if scheme in ("http", "https") and raw_host.endswith(".."):
            return _judge_dots(scheme, raw_host)
        try:
            host = normalize_host(raw_host)
        except HostError as error:
            return HopVerdict(Status.UNKNOWN, f"{error}: cannot be judged", raw_host)
        if scheme not in ("http", "https"):
            return HopVerdict(Status.UNKNOWN, f"{host}: {scheme}:// is not judged", host)
        certificate = certificate_of(host, self._facts, self._own)
        if scheme == "https":
            return _judge_https(host, certificate)
        hsts = self._hsts_of(host)
        if hsts is None:
            return HopVerdict(Status.INSECURE, self._insecure_reason(host), host)
        return _judge_http_with_hsts(host, hsts, certificate)

    def _insecure_reason(self, host: str) -> str:
        facts = self._facts.get(host)
        cleared = facts is not None and facts.hsts is not None and facts.hsts.max_age == 0
        detail = " (its HSTS header has max-age 0, which turns HSTS off)" if cleared else ""
        return f"{host}: plain http:// and no HSTS applies{detail}: the click works, in plaintext"

    def _hsts_of(self, host: str) -> _Hsts | None:
        return self._preloaded_via(host) or self._header_via(host)

    def _preloaded_via(self, host: str) -> _Hsts | None:
        """The nearest name whose preload entry covers `host`."""
        for name in _self_and_parents(host):
            entry = self._preload_entry(name)
            if entry is not None and (name == host or entry[1]):
                return _Hsts(name, *entry)
        return None

    def _preload_entry(self, name: str) -> tuple[_Source, bool] | None:
        """Whether `name` itself is preloaded, and with include_subdomains; the rules override."""
        facts = self._facts.get(name)
        declared = None if facts is None else facts.preloaded
        if declared is False:
            return None  # declared off the list, whatever the list says
        listed = self._own_list_entry(name)
        if facts is not None and declared:
            return _Source.PRELOAD_DECLARED, _declared_include_subdomains(facts, listed)
        return None if listed is None else (_Source.PRELOAD_LIST, listed)

    def _own_list_entry(self, name: str) -> bool | None:
        match = self.preload.lookup(name)
        return match.include_subdomains if match is not None and match.entry == name else None

    def _header_via(self, host: str) -> _Hsts | None:
        """The nearest declared HSTS header that applies to `host` (max-age 0 is no HSTS)."""
        for name in _self_and_parents(host):
            facts = self._facts.get(name)
            policy = None if facts is None else facts.hsts
            if policy is None or policy.max_age <= 0:
                continue
            if name == host or policy.include_subdomains:
                return _Hsts(name, _Source.HEADER, policy.include_subdomains, policy.max_age)
        return None


def gate(rules: Rules, as_of: datetime.date) -> list[Finding]:
    """The time-dependent checks of `rewriter check`, as of a given day."""
    findings: list[Finding] = []
    for facts in rules.hosts:
        if facts.certificate is not None:
            finding = _certificate_finding(facts.name, facts.certificate, as_of, rules)
            if finding is not None:
                findings.append(finding)
    https = _https_possible(rules, as_of)
    if https is not None:
        findings.append(https)
    return findings


def expected_by(requested: datetime.date) -> datetime.date:
    """When a Secured Domains certificate requested on `requested` should be active."""
    day, remaining = requested, SECURED_DOMAINS_BUSINESS_DAYS
    while remaining:
        day += datetime.timedelta(days=1)
        if day.weekday() < 5:  # Monday to Friday
            remaining -= 1
    return day


def _is_ip_literal(host: str) -> bool:
    if host.startswith("["):
        return True
    import ipaddress

    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def _judge_ip(scheme: str, host: str) -> HopVerdict:
    """Browsers never apply HSTS to an IP address (RFC 6797 8.1.1), and no list holds one."""
    if scheme == "https":
        reason = (
            f"{host}: https:// to an IP address (a third party: its certificate is assumed valid)"
        )
        return HopVerdict(Status.SECURE, reason, host)
    reason = (
        f"{host}: plain http:// to an IP address, where HSTS never applies:"
        " the click works, in plaintext"
    )
    return HopVerdict(Status.INSECURE, reason, host)


def _judge_dots(scheme: str, host: str) -> HopVerdict:
    """`a.com..`: browsers drop one trailing dot for the HSTS lookup, so no entry for `a.com`
    (nor any declaration in the rules) applies to it."""
    if scheme == "https":
        reason = (
            f"{host}: https:// to a host ending in more than one dot, which no certificate names:"
            " cannot be judged"
        )
        return HopVerdict(Status.UNKNOWN, reason, host)
    reason = (
        f"{host}: plain http:// and no HSTS applies (browsers drop one trailing dot only, so"
        f" nothing said of {host.rstrip('.')} applies): the click works, in plaintext"
    )
    return HopVerdict(Status.INSECURE, reason, host)


def _both_hops(first: HopVerdict | None, last: HopVerdict) -> Verdict:
    """The worse status; the reason gives the deciding hop's ground first, then the other's."""
    if first is None:
        return Verdict(last.status, f"destination hop: {last.reason}")
    tracking = f"tracking hop: {first.reason}"
    destination = f"destination hop: {last.reason}"
    if first.status.rank <= last.status.rank:
        return Verdict(first.status, f"{tracking}; {destination}")
    return Verdict(last.status, f"{destination}; {tracking}")


def split_url(url: str) -> tuple[str, str] | None:
    """(scheme, host) of an absolute URL with an authority, or None."""
    match = _SCHEME_AND_AUTHORITY.match(url)
    if match is None:
        return None
    scheme, authority = match.groups()
    authority = authority.rpartition("@")[2]
    if authority.startswith("["):  # an IPv6 literal keeps its colons
        return scheme.lower(), authority.partition("]")[0] + "]"
    return scheme.lower(), authority.partition(":")[0]


# --- facts --------------------------------------------------------------------------------------


class _Source(Enum):
    PRELOAD_LIST = "on the preload list"
    PRELOAD_DECLARED = "declared"
    HEADER = "header"


@dataclass(frozen=True, slots=True)
class _Hsts:
    """How HSTS reaches a host: through whose entry or header."""

    via: str
    source: _Source
    include_subdomains: bool
    max_age: int = 0

    @property
    def preloaded(self) -> bool:
        return self.source is not _Source.HEADER

    def describe(self, host: str) -> str:
        if self.source is _Source.HEADER:
            if self.via == host:
                return f"sends HSTS (max-age {self.max_age}, declared)"
            return f"HSTS via {self.via} (include_subdomains, declared)"
        if self.via == host:
            return (
                "on the preload list"
                if self.source is _Source.PRELOAD_LIST
                else "declared preloaded"
            )
        if "." not in self.via:
            return f"preloaded via the whole TLD .{self.via}"
        return f"preloaded via {self.via} (include_subdomains, {self.source.value})"


class CertificateKind(Enum):
    VALID = "valid"  # an own host with an active certificate covering it
    ASSUMED = "assumed"  # a third-party host: assumed valid
    INVALID = "invalid"  # an own host: pending, none, or not covering it
    UNDECLARED = "undeclared"  # an own host, but no certificate declared for it or a parent


@dataclass(frozen=True, slots=True)
class CertificateFinding:
    """What the rules say about the certificate a host would present."""

    kind: CertificateKind
    phrase: str  # for a reason: "certificate active", "the ... certificate is pending since ..."
    certificate: Certificate | None = None  # the declared certificate that covers the host


def certificate_of(
    host: str, facts: Mapping[str, HostFacts], own: Collection[str] = ()
) -> CertificateFinding:
    """The certificate of `host` per the rules: its own or a declared parent's that covers it.

    `own` names the user's hosts besides those under `hosts:` (the tracking and legacy domains):
    with nothing declared, their certificate is not known, never assumed.
    """
    declared = [(name, facts[name]) for name in _self_and_parents(host) if name in facts]
    if not declared and host in own:
        return CertificateFinding(CertificateKind.UNDECLARED, _undeclared())
    if not declared:
        return CertificateFinding(
            CertificateKind.ASSUMED, "certificate assumed valid (third-party host)"
        )
    certificates = [(name, f.certificate) for name, f in declared if f.certificate is not None]
    for name, certificate in certificates:
        covering = _covering_name(certificate, name, host)
        if covering is not None:
            return _finding_for(certificate, name, host, covering)
    if not certificates:
        return CertificateFinding(CertificateKind.UNDECLARED, _undeclared())
    return CertificateFinding(CertificateKind.INVALID, _not_covering(*certificates[0], host))


def _undeclared() -> str:
    return "no certificate is declared for it or a parent in the rules"


def _declare(host: str) -> str:
    """What to add to the rules so a hop to an own host can be judged."""
    return (
        f"declare it (hosts: {host}: certificate: status active, pending or none) to judge this hop"
    )


def _finding_for(
    certificate: Certificate, owner: str, host: str, covering: str
) -> CertificateFinding:
    if certificate.state is CertificateState.ACTIVE:
        phrase = "certificate active" if covering == host else f"certificate active ({covering})"
        return CertificateFinding(CertificateKind.VALID, phrase, certificate)
    if certificate.state is CertificateState.PENDING:
        return CertificateFinding(CertificateKind.INVALID, _pending(certificate), certificate)
    whose = "it has" if owner == host else f"{owner} has"
    return CertificateFinding(CertificateKind.INVALID, f"{whose} no certificate (declared none)")


def _pending(certificate: Certificate) -> str:
    if certificate.requested is None:
        return "the Secured Domains certificate is pending (no request date declared)"
    requested = certificate.requested
    return (
        f"the Secured Domains certificate is pending since {requested.isoformat()}, "
        f"expected by {expected_by(requested).isoformat()}"
    )


def _not_covering(owner: str, certificate: Certificate, host: str) -> str:
    if certificate.state is CertificateState.NONE:
        return f"no certificate covers it ({owner} declares none)"
    names = certificate.names or (owner,)
    wildcard = (
        " (a wildcard covers one level only)" if any(n.startswith("*.") for n in names) else ""
    )
    covered = ", ".join(names)
    return f"the {certificate.state.value} certificate of {owner} covers only {covered}{wildcard}"


def _covering_name(certificate: Certificate, owner: str, host: str) -> str | None:
    """The certificate name that covers `host` (names empty: the owner itself), or None."""
    for name in certificate.names or (owner,):
        pattern = name.lower()
        if pattern == host:
            return name
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            label = host[: -len(pattern) + 1]
            if label and "." not in label:
                return name
    return None


def _declared_include_subdomains(facts: HostFacts, listed: bool | None) -> bool:
    """Whether a host declared preloaded covers its subdomains.

    The list's own flag when it has the entry; else the declared header's directive; else True,
    since hstspreload.org accepts only submissions with includeSubDomains.
    """
    if listed is not None:
        return listed
    if facts.hsts is not None:
        return facts.hsts.include_subdomains
    return True


def _self_and_parents(host: str) -> Iterator[str]:
    yield host
    yield from parents(host)


# --- verdicts -----------------------------------------------------------------------------------


def _judge_https(host: str, certificate: CertificateFinding) -> HopVerdict:
    kind = certificate.kind
    if kind is CertificateKind.VALID or kind is CertificateKind.ASSUMED:
        return HopVerdict(Status.SECURE, f"{host}: https:// and {certificate.phrase}", host)
    if kind is CertificateKind.UNDECLARED:
        reason = f"{host}: https:// but {certificate.phrase}: {_declare(host)}"
        return HopVerdict(Status.UNKNOWN, reason, host)
    return HopVerdict(Status.BROKEN, f"{host}: https:// but {certificate.phrase}", host)


def _judge_http_with_hsts(host: str, hsts: _Hsts, certificate: CertificateFinding) -> HopVerdict:
    how = hsts.describe(host)
    kind = certificate.kind
    if kind is CertificateKind.INVALID:
        return HopVerdict(Status.BROKEN, f"{host}: {how} but {certificate.phrase}", host)
    if kind is CertificateKind.UNDECLARED:
        reason = f"{host}: {how} but {certificate.phrase}: {_declare(host)}"
        return HopVerdict(Status.UNKNOWN, reason, host)
    if hsts.preloaded:
        reason = f"{host}: {how} and {certificate.phrase}: http:// is upgraded before any request"
        return HopVerdict(Status.SECURE, reason, host)
    reason = (
        f"{host}: {how} and {certificate.phrase}, but not preloaded: the first click from a "
        f"browser that has not visited {hsts.via} goes in plaintext, later ones are upgraded"
    )
    return HopVerdict(Status.SECURE_AFTER_FIRST_VISIT, reason, host)


# --- the gate -----------------------------------------------------------------------------------


def _certificate_finding(
    host: str, certificate: Certificate, as_of: datetime.date, rules: Rules
) -> Finding | None:
    if certificate.state is CertificateState.ACTIVE and certificate.expires is not None:
        expires = certificate.expires
        days_left = (expires - as_of).days
        if days_left < 0:
            message = (
                f"{host}: the certificate expired on {expires.isoformat()}: every https:// or "
                "HSTS click fails; renew it and update `expires` in the rules"
            )
            return Finding("failure", "certificate-expired", host, message)
        if days_left <= rules.checks.expiry_warning_days:
            when = (
                "today" if days_left == 0 else f"in {days_left} day{'s' if days_left > 1 else ''}"
            )
            message = f"{host}: the certificate expires on {expires.isoformat()} ({when})"
            return Finding("warning", "certificate-expiring", host, message)
    if certificate.state is CertificateState.PENDING and certificate.requested is not None:
        expected = expected_by(certificate.requested)
        if as_of > expected:
            message = (
                f"{host}: the Secured Domains certificate requested on "
                f"{certificate.requested.isoformat()} was expected by {expected.isoformat()} "
                "and is still pending: ask support, and declare it active once it is"
            )
            return Finding("warning", "certificate-overdue", host, message)
    return None


def _https_possible(rules: Rules, as_of: datetime.date) -> Finding | None:
    if rules.scheme != "http":
        return None
    facts = {f.name: f for f in rules.hosts}
    found = certificate_of(rules.tracking_domain, facts)
    certificate = found.certificate
    if found.kind is not CertificateKind.VALID or certificate is None:
        return None
    if certificate.expires is not None and certificate.expires < as_of:
        return None  # expired: the failure above says so
    message = (
        f"{rules.tracking_domain}: the certificate is active: `scheme: https` is now possible, "
        "so every click is encrypted from the first"
    )
    return Finding("warning", "https-possible", rules.tracking_domain, message)
