"""The secure-serving classifier: every branch of the statuses, links, and the time gate."""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewriter.models import Status, Verdict
from rewriter.rules.model import Certificate, CertificateState, Checks, HostFacts, HstsPolicy, Rules
from rewriter.status.classify import Classifier, Finding, HopVerdict, expected_by, gate, split_url
from rewriter.status.preload import (
    PreloadList,
    PreloadMatch,
    bundled_preload_list,
    load_chromium_json,
)

SMALL_LIST = Path(__file__).parent / "data" / "preload" / "transport_security_state_static.json"
YEAR = 31_536_000
D = datetime.date.fromisoformat


def active(*names: str, expires: str | None = None) -> Certificate:
    return Certificate(CertificateState.ACTIVE, D(expires) if expires else None, names)


def pending(requested: str | None) -> Certificate:
    return Certificate(CertificateState.PENDING, requested=D(requested) if requested else None)


NO_CERTIFICATE = Certificate(CertificateState.NONE)

HOSTS = (
    # A parent that sends HSTS with include_subdomains (declared), and a wildcard certificate.
    HostFacts(
        "example.com",
        active("example.com", "*.example.com", expires="2027-03-01"),
        HstsPolicy(YEAR, include_subdomains=True),
    ),
    HostFacts("go.example.com", pending("2026-11-25")),  # the tracking domain, still pending
    HostFacts("none.example.com", NO_CERTIFICATE),
    HostFacts("zero.example.com", pending("2026-11-23"), HstsPolicy(0)),
    HostFacts("other.example.com", active("www.example.com")),  # names another host only
    # A parent whose HSTS has no include_subdomains.
    HostFacts("example.net", active(), HstsPolicy(YEAR)),
    HostFacts("click.example.net", NO_CERTIFICATE),
    # Own hosts under list entries.
    HostFacts("go.listed-inc.com", pending("2026-11-25")),
    HostFacts("ok.listed-inc.com", active()),
    HostFacts("go.listed-noinc.com", NO_CERTIFICATE),
    # Own hosts under preloaded TLDs.
    HostFacts("go.brand.app", active()),
    HostFacts("go.brand.dev", pending("2026-11-27")),
    # Declarations overriding the list, both ways.
    HostFacts("preloaded-off.com", NO_CERTIFICATE, preloaded=False),
    HostFacts(
        "declared-on.org",
        active("declared-on.org", "*.declared-on.org"),
        HstsPolicy(YEAR, include_subdomains=True, preload_directive=True),
        preloaded=True,
    ),
    HostFacts("assumed.org", active("assumed.org", "*.assumed.org"), preloaded=True),
    HostFacts("noinc-declared.org", active(), HstsPolicy(YEAR), preloaded=True),
    HostFacts("off-tld.app", pending("2026-11-25"), preloaded=False),
    # max-age 0 turns HSTS off.
    HostFacts("cleared.com", NO_CERTIFICATE, HstsPolicy(0, include_subdomains=True)),
    # HSTS declared but no certificate declared anywhere.
    HostFacts("undeclared.io", None, HstsPolicy(YEAR, include_subdomains=True)),
    # An IDN own host: münchen.example.
    HostFacts("xn--mnchen-3ya.example", pending("2026-11-25"), HstsPolicy(YEAR)),
)

RULES = Rules(tracking_domain="go.example.com", hosts=HOSTS)

PENDING_GO = "the Secured Domains certificate is pending since 2026-11-25, expected by 2026-11-30"
UPGRADED = "http:// is upgraded before any request"
PLAINTEXT = "plain http:// and no HSTS applies: the click works, in plaintext"
THIRD_PARTY = "certificate assumed valid (third-party host)"
FIRST_VISIT = "but not preloaded: the first click from a browser that has not visited"
WILDCARD_ONE_LEVEL = (
    "the active certificate of example.com covers only example.com, *.example.com "
    "(a wildcard covers one level only)"
)

CASES = [
    # (scheme, host, status, reason)
    # HSTS declared on a parent with include_subdomains: pending, none, not covering, valid.
    (
        "http",
        "go.example.com",
        Status.BROKEN,
        f"go.example.com: HSTS via example.com (include_subdomains, declared) but {PENDING_GO}",
    ),
    (
        "http",
        "none.example.com",
        Status.BROKEN,
        "none.example.com: HSTS via example.com (include_subdomains, declared) "
        "but it has no certificate (declared none)",
    ),
    (
        "http",
        "a.b.example.com",
        Status.BROKEN,
        "a.b.example.com: HSTS via example.com (include_subdomains, declared) "
        f"but {WILDCARD_ONE_LEVEL}",
    ),
    (
        "http",
        "other.example.com",
        Status.SECURE_AFTER_FIRST_VISIT,  # its own names miss it, the parent's wildcard covers it
        "other.example.com: HSTS via example.com (include_subdomains, declared) and certificate "
        f"active (*.example.com), {FIRST_VISIT} example.com goes in plaintext, later ones are "
        "upgraded",
    ),
    (
        "http",
        "www.example.com",
        Status.SECURE_AFTER_FIRST_VISIT,
        "www.example.com: HSTS via example.com (include_subdomains, declared) and certificate "
        f"active (*.example.com), {FIRST_VISIT} example.com goes in plaintext, later ones are "
        "upgraded",
    ),
    (
        "http",
        "example.com",
        Status.SECURE_AFTER_FIRST_VISIT,
        f"example.com: sends HSTS (max-age {YEAR}, declared) and certificate active, "
        f"{FIRST_VISIT} example.com goes in plaintext, later ones are upgraded",
    ),
    # max-age 0 on a host does not lift its parent's include_subdomains policy.
    (
        "http",
        "zero.example.com",
        Status.BROKEN,
        "zero.example.com: HSTS via example.com (include_subdomains, declared) but the Secured "
        "Domains certificate is pending since 2026-11-23, expected by 2026-11-26",
    ),
    # A parent's HSTS without include_subdomains does not reach its subdomains.
    ("http", "click.example.net", Status.INSECURE, f"click.example.net: {PLAINTEXT}"),
    (
        "http",
        "example.net",
        Status.SECURE_AFTER_FIRST_VISIT,
        f"example.net: sends HSTS (max-age {YEAR}, declared) and certificate active, "
        f"{FIRST_VISIT} example.net goes in plaintext, later ones are upgraded",
    ),
    # The https:// scheme: an own host without a valid certificate is broken, with one secure.
    ("https", "go.example.com", Status.BROKEN, f"go.example.com: https:// but {PENDING_GO}"),
    (
        "https",
        "click.example.net",
        Status.BROKEN,
        "click.example.net: https:// but it has no certificate (declared none)",
    ),
    (
        "https",
        "www.example.com",
        Status.SECURE,
        "www.example.com: https:// and certificate active (*.example.com)",
    ),
    ("HTTPS", "example.net", Status.SECURE, "example.net: https:// and certificate active"),
    # A parent on the list with include_subdomains.
    (
        "http",
        "go.listed-inc.com",
        Status.BROKEN,
        "go.listed-inc.com: preloaded via listed-inc.com (include_subdomains, on the preload "
        f"list) but {PENDING_GO}",
    ),
    (
        "http",
        "ok.listed-inc.com",
        Status.SECURE,
        "ok.listed-inc.com: preloaded via listed-inc.com (include_subdomains, on the preload "
        f"list) and certificate active: {UPGRADED}",
    ),
    # A parent on the list without include_subdomains.
    ("http", "go.listed-noinc.com", Status.INSECURE, f"go.listed-noinc.com: {PLAINTEXT}"),
    # Whole preloaded TLDs.
    (
        "http",
        "go.brand.app",
        Status.SECURE,
        f"go.brand.app: preloaded via the whole TLD .app and certificate active: {UPGRADED}",
    ),
    (
        "http",
        "go.brand.dev",
        Status.BROKEN,
        "go.brand.dev: preloaded via the whole TLD .dev but the Secured Domains certificate is "
        "pending since 2026-11-27, expected by 2026-12-02",
    ),
    # Declared `preloaded: false` removes the list's entry (a preloaded TLD still applies).
    ("http", "preloaded-off.com", Status.INSECURE, f"preloaded-off.com: {PLAINTEXT}"),
    ("http", "go.preloaded-off.com", Status.INSECURE, f"go.preloaded-off.com: {PLAINTEXT}"),
    (
        "https",
        "go.preloaded-off.com",
        Status.BROKEN,
        "go.preloaded-off.com: https:// but no certificate covers it "
        "(preloaded-off.com declares none)",
    ),
    (
        "http",
        "off-tld.app",
        Status.BROKEN,
        f"off-tld.app: preloaded via the whole TLD .app but {PENDING_GO}",
    ),
    # Declared `preloaded: true` where the list has nothing.
    (
        "http",
        "declared-on.org",
        Status.SECURE,
        f"declared-on.org: declared preloaded and certificate active: {UPGRADED}",
    ),
    (
        "http",
        "go.declared-on.org",
        Status.SECURE,
        "go.declared-on.org: preloaded via declared-on.org (include_subdomains, declared) and "
        f"certificate active (*.declared-on.org): {UPGRADED}",
    ),
    (
        "http",
        "go.assumed.org",  # no header declared: hstspreload.org requires include_subdomains
        Status.SECURE,
        "go.assumed.org: preloaded via assumed.org (include_subdomains, declared) and "
        f"certificate active (*.assumed.org): {UPGRADED}",
    ),
    ("http", "go.noinc-declared.org", Status.INSECURE, f"go.noinc-declared.org: {PLAINTEXT}"),
    # Third parties, on and off the list.
    (
        "http",
        "github.com",
        Status.SECURE,
        f"github.com: on the preload list and {THIRD_PARTY}: {UPGRADED}",
    ),
    (
        "http",
        "gist.github.com",
        Status.SECURE,
        "gist.github.com: preloaded via github.com (include_subdomains, on the preload list) "
        f"and {THIRD_PARTY}: {UPGRADED}",
    ),
    (
        "http",
        "news.app",
        Status.SECURE,
        f"news.app: preloaded via the whole TLD .app and {THIRD_PARTY}: {UPGRADED}",
    ),
    ("http", "x.listed-noinc.com", Status.INSECURE, f"x.listed-noinc.com: {PLAINTEXT}"),
    ("http", "pinned.com", Status.INSECURE, f"pinned.com: {PLAINTEXT}"),  # pinning only
    ("http", "www.python.org", Status.INSECURE, f"www.python.org: {PLAINTEXT}"),  # not on this list
    ("https", "www.python.org", Status.SECURE, f"www.python.org: https:// and {THIRD_PARTY}"),
    # Upper case, trailing dot and IDN hosts are normalised before any lookup.
    (
        "http",
        "GO.Example.COM.",
        Status.BROKEN,
        f"go.example.com: HSTS via example.com (include_subdomains, declared) but {PENDING_GO}",
    ),
    (
        "http",
        "Shop.Bücher.com.",
        Status.SECURE,
        "shop.xn--bcher-kva.com: preloaded via xn--bcher-kva.com (include_subdomains, on the "
        f"preload list) and {THIRD_PARTY}: {UPGRADED}",
    ),
    (
        "http",
        "Café.APP",
        Status.SECURE,
        f"xn--caf-dma.app: preloaded via the whole TLD .app and {THIRD_PARTY}: {UPGRADED}",
    ),
    (
        "http",
        "MÜNCHEN.example",
        Status.BROKEN,
        f"xn--mnchen-3ya.example: sends HSTS (max-age {YEAR}, declared) but {PENDING_GO}",
    ),
    # max-age 0: no HSTS, said so.
    (
        "http",
        "cleared.com",
        Status.INSECURE,
        "cleared.com: plain http:// and no HSTS applies (its HSTS header has max-age 0, which "
        "turns HSTS off): the click works, in plaintext",
    ),
    ("http", "go.cleared.com", Status.INSECURE, f"go.cleared.com: {PLAINTEXT}"),
    # Certificates that matter but are not declared: cannot be judged.
    (
        "http",
        "go.undeclared.io",
        Status.UNKNOWN,
        "go.undeclared.io: HSTS via undeclared.io (include_subdomains, declared) but no "
        "certificate is declared for it or a parent in the rules: declare it (hosts: "
        "go.undeclared.io: certificate: status active, pending or none) to judge this hop",
    ),
    (
        "https",
        "undeclared.io",
        Status.UNKNOWN,
        "undeclared.io: https:// but no certificate is declared for it or a parent in the "
        "rules: declare it (hosts: undeclared.io: certificate: status active, pending or none)"
        " to judge this hop",
    ),
    # Hops that cannot be judged at all.
    ("ftp", "example.org", Status.UNKNOWN, "example.org: ftp:// is not judged"),
    (
        "http",
        "exa mple.com",
        Status.UNKNOWN,
        "'exa mple.com': not a valid host name: cannot be judged",
    ),
    ("http", "", Status.UNKNOWN, "'': empty host name: cannot be judged"),
]


@pytest.fixture(scope="module")
def small_list() -> PreloadList:
    return load_chromium_json(SMALL_LIST, None)


@pytest.fixture
def classifier(small_list: PreloadList) -> Classifier:
    return Classifier(RULES, small_list)


@pytest.mark.parametrize(("scheme", "host", "status", "reason"), CASES)
def test_hop(classifier: Classifier, scheme: str, host: str, status: Status, reason: str) -> None:
    verdict = classifier.hop(scheme, host)
    assert verdict.status is status
    assert verdict.reason == reason


def test_hop_reports_the_normalised_host(classifier: Classifier) -> None:
    assert classifier.hop("http", "Shop.Bücher.com.").host == "shop.xn--bcher-kva.com"
    assert classifier.hop("http", "exa mple.com").host == "exa mple.com"


def test_every_status_is_reached() -> None:
    assert {status for _, _, status, _ in CASES} == set(Status)


# --- with the bundled list ----------------------------------------------------------------------

BUNDLED_CASES = [
    ("http", "github.com", Status.SECURE, f"github.com: on the preload list and {THIRD_PARTY}"),
    ("http", "docs.github.com", Status.SECURE, "docs.github.com: preloaded via github.com ("),
    ("http", "www.paypal.com", Status.SECURE, "www.paypal.com: on the preload list and"),
    ("http", "x.paypal.com", Status.INSECURE, f"x.paypal.com: {PLAINTEXT}"),
    ("http", "google.com", Status.INSECURE, f"google.com: {PLAINTEXT}"),  # pinning only
    ("http", "example.org", Status.INSECURE, f"example.org: {PLAINTEXT}"),
    ("http", "Foo.Dev.", Status.SECURE, "foo.dev: preloaded via the whole TLD .dev and"),
    ("http", "go.brand.app", Status.SECURE, "go.brand.app: preloaded via the whole TLD .app and"),
    ("https", "example.org", Status.SECURE, f"example.org: https:// and {THIRD_PARTY}"),
]


@pytest.mark.parametrize(("scheme", "host", "status", "reason"), BUNDLED_CASES)
def test_hop_with_the_bundled_list(scheme: str, host: str, status: Status, reason: str) -> None:
    verdict = Classifier(RULES, bundled_preload_list()).hop(scheme, host)
    assert (verdict.status, verdict.reason[: len(reason)]) == (status, reason)


# --- links --------------------------------------------------------------------------------------

TRACKING = "http://go.example.com/l/abc123"
GOOD_TRACKING = "http://go.brand.app/l/abc123"

LINK_CASES = [
    # tracking URL, destination, status, reason
    (
        TRACKING,
        "https://www.python.org/",
        Status.BROKEN,
        f"tracking hop: go.example.com: HSTS via example.com (include_subdomains, declared) but "
        f"{PENDING_GO}",
    ),
    (
        GOOD_TRACKING,
        "http://www.python.org/about?x=1",
        Status.INSECURE,
        f"destination hop: www.python.org: {PLAINTEXT}",
    ),
    (
        GOOD_TRACKING,
        "https://user:pw@Example.ORG:8443/path",
        Status.SECURE,  # a tie: the first hop is named
        f"tracking hop: go.brand.app: preloaded via the whole TLD .app and certificate active: "
        f"{UPGRADED}",
    ),
    (
        GOOD_TRACKING,
        None,
        Status.UNKNOWN,
        "destination hop: the destination could not be decoded from the tracking link",
    ),
    (
        TRACKING,
        None,
        Status.BROKEN,  # broken is worse than unknown
        "tracking hop: go.example.com: HSTS via example.com",
    ),
    (None, "http://github.com/x", Status.SECURE, "destination hop: github.com: on the preload"),
    (None, "https://go.example.com/", Status.BROKEN, "destination hop: go.example.com: https://"),
    (None, "mailto:someone@example.org", Status.UNKNOWN, "destination hop: 'mailto:someone@"),
    (None, "https://[::1]/", Status.SECURE, "destination hop: [::1]: https:// to an IP address"),
    (None, None, Status.UNKNOWN, "no URL to judge"),
]


@pytest.mark.parametrize(("tracking", "destination", "status", "reason"), LINK_CASES)
def test_link(
    classifier: Classifier,
    tracking: str | None,
    destination: str | None,
    status: Status,
    reason: str,
) -> None:
    verdict = classifier.link(tracking, destination)
    assert isinstance(verdict, Verdict)
    assert (verdict.status, verdict.reason[: len(reason)]) == (status, reason)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://go.example.com/l/x", ("http", "go.example.com")),
        ("HTTPS://Example.com", ("https", "Example.com")),
        ("https://user:p@ss@host.example:8080/a?b#c", ("https", "host.example")),
        ("http://host.example?q=a/b", ("http", "host.example")),
        ("http://host.example#frag/x", ("http", "host.example")),
        ("http://[2001:db8::1]:80/", ("http", "[2001:db8::1]")),
        ("mailto:a@b.example", None),
        ("//host.example/x", None),
        ("/relative", None),
    ],
)
def test_split_url(url: str, expected: tuple[str, str] | None) -> None:
    assert split_url(url) == expected


LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
NAMES = st.sampled_from(
    ["example.com", "example.net", "listed-inc.com", "brand.app", "declared-on.org", "x.org"]
)


@given(label=LABEL, name=NAMES, scheme=st.sampled_from(["http", "https"]))
def test_case_and_trailing_dot_never_change_a_verdict(label: str, name: str, scheme: str) -> None:
    classifier = Classifier(RULES, load_chromium_json(SMALL_LIST, None))
    host = f"{label}.{name}"
    plain = classifier.hop(scheme, host)
    assert classifier.hop(scheme.upper(), host.upper() + ".") == plain


@given(
    first=st.sampled_from([TRACKING, GOOD_TRACKING, "https://go.example.com/l/x", None]),
    second=st.sampled_from(
        ["http://www.example.com/", "https://a.b.example.com/", "http://news.app/", None]
    ),
)
def test_a_link_is_as_bad_as_its_worst_hop(first: str | None, second: str | None) -> None:
    classifier = Classifier(RULES, load_chromium_json(SMALL_LIST, None))
    verdict = classifier.link(first, second)
    hops = [classifier.link(None, url).status for url in (first, second) if url is not None]
    if first is not None and second is None:
        hops.append(Status.UNKNOWN)
    if hops:
        assert verdict.status is min(hops, key=lambda status: status.rank)


# --- each distinct host is judged once ----------------------------------------------------------


def test_each_host_is_judged_once_and_looked_up_once(
    small_list: PreloadList, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookups: Counter[str] = Counter()

    def counting(host: str) -> PreloadMatch | None:
        lookups[host] += 1
        return small_list.lookup(host)

    classifier = Classifier(RULES, PreloadList("counting", None, "d", counting))
    judged: Counter[tuple[str, str]] = Counter()
    judge = classifier._judge_hop

    def counting_judge(scheme: str, host: str) -> HopVerdict:
        judged[(scheme, host)] += 1
        return judge(scheme, host)

    monkeypatch.setattr(classifier, "_judge_hop", counting_judge)
    destinations = [f"http://site{i % 50}.example.org/p{i}" for i in range(1000)]
    verdicts = [classifier.link(TRACKING, url) for url in destinations * 2]
    assert {v.status for v in verdicts} == {Status.BROKEN}
    assert max(judged.values()) == 1
    assert len(judged) == 51
    assert max(lookups.values()) == 1  # the list memoises each name it is asked about
    first = classifier.hop("http", "www.example.com")
    assert classifier.hop("http", "www.example.com") is first


# --- the gate -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("2026-11-23", "2026-11-26"),  # Monday -> Thursday
        ("2026-11-25", "2026-11-30"),  # Wednesday -> Monday
        ("2026-11-27", "2026-12-02"),  # Friday -> Wednesday
        ("2026-11-28", "2026-12-02"),  # Saturday -> Wednesday
        ("2026-11-29", "2026-12-02"),  # Sunday -> Wednesday
    ],
)
def test_expected_by_counts_business_days(requested: str, expected: str) -> None:
    assert expected_by(D(requested)) == D(expected)


def _gate_rules(*hosts: HostFacts, scheme: str = "http", tracking: str = "go.example.com") -> Rules:
    return Rules(tracking_domain=tracking, scheme=scheme, hosts=hosts, checks=Checks())


EXPIRING = HostFacts("go.example.com", active(expires="2027-03-01"))
PENDING = HostFacts("go.example.com", pending("2026-11-25"))
HTTPS_POSSIBLE = Finding(
    "warning",
    "https-possible",
    "go.example.com",
    "go.example.com: the certificate is active: `scheme: https` is now possible, so every "
    "click is encrypted from the first",
)


@pytest.mark.parametrize(
    ("facts", "as_of", "expected"),
    [
        (EXPIRING, "2027-02-14", [HTTPS_POSSIBLE]),  # 15 days left: no warning yet
        (
            EXPIRING,
            "2027-02-15",
            [
                Finding(
                    "warning",
                    "certificate-expiring",
                    "go.example.com",
                    "go.example.com: the certificate expires on 2027-03-01 (in 14 days)",
                ),
                HTTPS_POSSIBLE,
            ],
        ),
        (
            EXPIRING,
            "2027-03-01",
            [
                Finding(
                    "warning",
                    "certificate-expiring",
                    "go.example.com",
                    "go.example.com: the certificate expires on 2027-03-01 (today)",
                ),
                HTTPS_POSSIBLE,
            ],
        ),
        (
            EXPIRING,
            "2027-03-02",
            [
                Finding(
                    "failure",
                    "certificate-expired",
                    "go.example.com",
                    "go.example.com: the certificate expired on 2027-03-01: every https:// or "
                    "HSTS click fails; renew it and update `expires` in the rules",
                )
            ],
        ),
        (PENDING, "2026-11-30", []),  # expected by 2026-11-30: not late yet
        (
            PENDING,
            "2026-12-01",
            [
                Finding(
                    "warning",
                    "certificate-overdue",
                    "go.example.com",
                    "go.example.com: the Secured Domains certificate requested on 2026-11-25 "
                    "was expected by 2026-11-30 and is still pending: ask support, and declare "
                    "it active once it is",
                )
            ],
        ),
        (HostFacts("go.example.com", pending(None)), "2030-01-01", []),
        (HostFacts("go.example.com", NO_CERTIFICATE), "2026-12-01", []),
        (HostFacts("go.example.com", active()), "2030-01-01", [HTTPS_POSSIBLE]),  # no expiry
    ],
)
def test_gate(facts: HostFacts, as_of: str, expected: list[Finding]) -> None:
    assert gate(_gate_rules(facts), D(as_of)) == expected


def test_gate_with_expiry_warning_days_from_the_rules() -> None:
    rules = replace(_gate_rules(EXPIRING), checks=Checks(expiry_warning_days=30))
    codes = [finding.code for finding in gate(rules, D("2027-01-30"))]
    assert codes == ["certificate-expiring", "https-possible"]


def test_gate_https_possible_only_on_http_and_with_a_covering_certificate() -> None:
    wildcard = HostFacts("example.com", active("*.example.com"))
    assert gate(_gate_rules(wildcard), D("2026-12-01")) == [HTTPS_POSSIBLE]
    assert gate(_gate_rules(wildcard, scheme="https"), D("2026-12-01")) == []
    assert gate(_gate_rules(wildcard, tracking="a.go.example.com"), D("2026-12-01")) == []
    assert gate(_gate_rules(HostFacts("other.com", active())), D("2026-12-01")) == []


def test_gate_checks_every_declared_host() -> None:
    rules = _gate_rules(
        HostFacts("example.com", active("example.com", expires="2026-01-01")),
        PENDING,
        HostFacts("www.example.com", active(expires="2026-12-10")),
    )
    findings = gate(rules, D("2026-12-01"))
    assert [(f.level, f.code, f.host) for f in findings] == [
        ("failure", "certificate-expired", "example.com"),
        ("warning", "certificate-overdue", "go.example.com"),
        ("warning", "certificate-expiring", "www.example.com"),
    ]


def test_statuses_do_not_depend_on_the_clock() -> None:
    # An expired certificate still counts as active for the status; only the gate reads dates.
    rules = _gate_rules(HostFacts("go.example.com", active(expires="2000-01-01")))
    verdict = Classifier(rules, bundled_preload_list()).hop("https", "go.example.com")
    assert verdict == HopVerdict(
        Status.SECURE, "go.example.com: https:// and certificate active", "go.example.com"
    )


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("http://[2001:db8::1]/x", Status.INSECURE),
        ("https://[2001:db8::1]/x", Status.SECURE),
        ("http://192.0.2.1:8080/a", Status.INSECURE),
        ("https://192.0.2.1/", Status.SECURE),
    ],
)
def test_ip_address_destinations_never_get_hsts(url: str, status: Status) -> None:
    classifier = Classifier(
        Rules("go.example.com"), PreloadList("empty", None, "0", lambda _: None)
    )
    verdict = classifier.link(None, url)
    assert verdict.status is status
    assert "IP address" in verdict.reason
