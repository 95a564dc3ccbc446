"""Reading rules files: exact values for good files, file:line and key for every bad one."""

from __future__ import annotations

import random
import socket
from datetime import date
from pathlib import Path

import pytest

from rewriter.rules import loader as rulesfile
from rewriter.rules.loader import (
    MAX_RULES_BYTES,
    RulesError,
    find_rules,
    load_rules,
    starter_rules,
)
from rewriter.rules.model import (
    DEFAULT_CLICK_TRACKERS,
    DEFAULT_NO_TRACK,
    Certificate,
    CertificateState,
    Checks,
    ClickTracker,
    ContextMode,
    HostFacts,
    HstsPolicy,
    KeySource,
    MarkerMatch,
    NoTrackMarker,
    Rules,
)
from rewriter.web.urls import HostError, normalize_host

ROOT = Path(__file__).resolve().parents[1]
HEAD = "tracking:\n  domain: go.example.com\n"  # lines 1-2 of most cases below


def write(tmp_path: Path, content: str | bytes, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


def load_error(path: Path) -> RulesError:
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    return caught.value


# (id, file content, line, column, key, message). Lines are 1-based; column only for YAML errors.
BAD_FILES: list[tuple[str, str | bytes, int | None, int | None, str, str]] = [
    # unknown keys, at every level, with the closest valid key
    ("unknown-top", HEAD + "link: {}\n", 3, None, "link", "unknown key (did you mean 'links'?)"),
    (
        "unknown-top-misplaced",
        HEAD + "domain: go.example.com\n",
        3,
        None,
        "domain",
        "unknown key (it belongs under tracking)",
    ),
    (
        "unknown-top-far",
        HEAD + "colour: blue\n",
        3,
        None,
        "colour",
        "unknown key (expected one of: version, tracking, keys, links, annotation, hosts, "
        "preload_list, checks, clicks, messages, serve)",
    ),
    (
        "unknown-tracking",
        "tracking:\n  domian: go.example.com\n",
        2,
        None,
        "tracking.domian",
        "unknown key (did you mean 'domain'?)",
    ),
    (
        "unknown-keys",
        HEAD + "keys:\n  fil: a.keys\n",
        4,
        None,
        "keys.fil",
        "unknown key (did you mean 'file'?)",
    ),
    (
        "unknown-links",
        HEAD + "links:\n  exclude_host: [a.com]\n",
        4,
        None,
        "links.exclude_host",
        "unknown key (did you mean 'exclude_hosts'?)",
    ),
    (
        "unknown-marker",
        HEAD + "links:\n  no_track:\n    - {atribute: data-x}\n",
        5,
        None,
        "links.no_track[0].atribute",
        "unknown key (did you mean 'attribute'?)",
    ),
    (
        "unknown-tracker",
        HEAD + "links:\n  click_trackers:\n    - name: X\n      host: [x.com]\n",
        6,
        None,
        "links.click_trackers[0].host",
        "unknown key (did you mean 'hosts'?)",
    ),
    (
        "unknown-annotation",
        HEAD + "annotation:\n  enable: false\n",
        4,
        None,
        "annotation.enable",
        "unknown key (did you mean 'enabled'?)",
    ),
    (
        "unknown-host-fact",
        HEAD + "hosts:\n  go.example.com:\n    certficate: {status: none}\n",
        5,
        None,
        "hosts[go.example.com].certficate",
        "unknown key (did you mean 'certificate'?)",
    ),
    (
        "unknown-certificate",
        HEAD + "hosts:\n  go.example.com:\n    certificate:\n      status: active\n"
        "      expiry: 2027-01-01\n",
        7,
        None,
        "hosts[go.example.com].certificate.expiry",
        "unknown key (did you mean 'expires'?)",
    ),
    (
        "unknown-hsts",
        HEAD + "hosts:\n  go.example.com:\n    hsts: {maxage: 1}\n",
        5,
        None,
        "hosts[go.example.com].hsts.maxage",
        "unknown key (did you mean 'max_age'?)",
    ),
    (
        "unknown-preload-list",
        HEAD + "preload_list:\n  max_age: 30\n",
        4,
        None,
        "preload_list.max_age",
        "unknown key (did you mean 'max_age_days'?)",
    ),
    (
        "unknown-checks",
        HEAD + "checks:\n  max_link: 5\n",
        4,
        None,
        "checks.max_link",
        "unknown key (did you mean 'max_links'?)",
    ),
    (
        "merge-key",
        "tracking:\n  <<: {domain: go.example.com}\n",
        2,
        None,
        "tracking.<<",
        "unknown key (expected one of: domain, scheme, path, legacy_domains, context, campaign)",
    ),
    # wrong types
    (
        "scheme-list",
        HEAD + "  scheme: [http]\n",
        3,
        None,
        "tracking.scheme",
        "expected a string (got a list)",
    ),
    (
        "tracking-string",
        "tracking: go.example.com\n",
        1,
        None,
        "tracking",
        "expected a mapping (got 'go.example.com')",
    ),
    (
        "section-empty",
        HEAD + "links:\n",
        3,
        None,
        "links",
        "expected a mapping (got nothing)",
    ),
    (
        "tags-string",
        HEAD + "links:\n  tags: a\n",
        4,
        None,
        "links.tags",
        "expected a list (got 'a')",
    ),
    (
        "max-links-text",
        HEAD + "checks:\n  max_links: many\n",
        4,
        None,
        "checks.max_links",
        "expected a whole number (got 'many')",
    ),
    (
        "max-age-sexagesimal",
        HEAD + "hosts:\n  go.example.com:\n    hsts: {max_age: 1:20}\n",
        5,
        None,
        "hosts[go.example.com].hsts.max_age",
        "expected a whole number (got '1:20')",
    ),
    (
        "enabled-yes",
        HEAD + "annotation:\n  enabled: yes\n",
        4,
        None,
        "annotation.enabled",
        "expected true or false (got 'yes', which is read as text)",
    ),
    (
        "preloaded-number",
        HEAD + "hosts:\n  go.example.com:\n    preloaded: 1\n",
        5,
        None,
        "hosts[go.example.com].preloaded",
        "expected true or false (got 1)",
    ),
    (
        "python-tag",
        HEAD + "annotation:\n  enabled: !!python/object/apply:os.system [ls]\n",
        4,
        None,
        "annotation.enabled",
        "expected true or false "
        "(got a value tagged tag:yaml.org,2002:python/object/apply:os.system)",
    ),
    (
        "bad-date",
        HEAD
        + "hosts:\n  go.example.com:\n    certificate: {status: active, expires: 2026-02-30}\n",
        5,
        None,
        "hosts[go.example.com].certificate.expires",
        "'2026-02-30' is not a real date",
    ),
    (
        "date-wrong-format",
        HEAD + "hosts:\n  go.example.com:\n    certificate: {status: active, expires: 1 March}\n",
        5,
        None,
        "hosts[go.example.com].certificate.expires",
        "expected a date like 2026-11-25 (got '1 March')",
    ),
    # enums
    (
        "scheme-ftp",
        HEAD + "  scheme: ftp\n",
        3,
        None,
        "tracking.scheme",
        "must be one of http, https (got 'ftp')",
    ),
    (
        "context-bad",
        HEAD + "  context: campaigns\n",
        3,
        None,
        "tracking.context",
        "must be one of path, campaign, message, none (got 'campaigns')",
    ),
    (
        "status-bad",
        HEAD + "hosts:\n  go.example.com:\n    certificate: {status: expired}\n",
        5,
        None,
        "hosts[go.example.com].certificate.status",
        "must be one of active, pending, none (got 'expired')",
    ),
    (
        "fail-on-bad",
        HEAD + "checks:\n  fail_on: [clip, clipping]\n",
        4,
        None,
        "checks.fail_on[1]",
        "must be one of clip, max-links, url-length, https-possible (got 'clipping')",
    ),
    (
        "version-2",
        "version: 2\n" + HEAD,
        1,
        None,
        "version",
        "must be 1, the only version there is",
    ),
    # host names
    (
        "public-suffix",
        "tracking:\n  domain: co.uk\n",
        2,
        None,
        "tracking.domain",
        "'co.uk' is a public suffix, not a domain of yours: "
        "use a host under your own domain, like go.example.co.uk",
    ),
    (
        "ipv4",
        "tracking:\n  domain: 192.0.2.1\n",
        2,
        None,
        "tracking.domain",
        "'192.0.2.1' is an IP address: use a host name",
    ),
    (
        "ipv6",
        "tracking:\n  domain: '[::1]'\n",
        2,
        None,
        "tracking.domain",
        "'[::1]' is an IP address: use a host name",
    ),
    (
        "ipv4-short-form",
        "tracking:\n  domain: go.0x7f\n",
        2,
        None,
        "tracking.domain",
        "'go.0x7f' ends in a number, so browsers read it as an IPv4 address: use a host name",
    ),
    (
        "host-with-space",
        "tracking:\n  domain: go example.com\n",
        2,
        None,
        "tracking.domain",
        "'go example.com': not a valid host name",
    ),
    (
        "host-wildcard",
        "tracking:\n  domain: '*.example.com'\n",
        2,
        None,
        "tracking.domain",
        "'*.example.com': a wildcard is not allowed here",
    ),
    (
        "legacy-private-suffix",
        HEAD + "  legacy_domains: [click.example.com, github.io]\n",
        3,
        None,
        "tracking.legacy_domains[1]",
        "'github.io' is a public suffix, not a domain of yours: "
        "use a host under your own domain, like go.example.github.io",
    ),
    (
        "legacy-is-tracking",
        HEAD + "  legacy_domains:\n    - GO.example.com.\n",
        4,
        None,
        "tracking.legacy_domains[0]",
        "'go.example.com' is the tracking domain itself",
    ),
    (
        "host-key-ip",
        HEAD + "hosts:\n  10.0.0.1: {preloaded: false}\n",
        4,
        None,
        "hosts[10.0.0.1]",
        "'10.0.0.1' is an IP address: use a host name",
    ),
    (
        "certificate-name-bad-wildcard",
        HEAD + "hosts:\n  go.example.com:\n    certificate:\n      status: active\n"
        "      names: [go.example.com, 'g*.example.com']\n",
        7,
        None,
        "hosts[go.example.com].certificate.names[1]",
        "'g*.example.com': only a whole leftmost label can be a wildcard (*.example.com)",
    ),
    (
        "exclude-host-bad",
        HEAD + "links:\n  exclude_hosts: ['a..example.com']\n",
        4,
        None,
        "links.exclude_hosts[0]",
        "'a..example.com': an empty label (two dots, or a leading dot)",
    ),
    # consistency between keys
    (
        "pending-without-requested",
        HEAD + "hosts:\n  example.com:\n    certificate:\n      status: pending\n",
        6,
        None,
        "hosts[example.com].certificate.requested",
        "required with status pending: the date the certificate was requested",
    ),
    (
        "expires-with-pending",
        HEAD + "hosts:\n  example.com:\n    certificate:\n      status: pending\n"
        "      requested: 2026-11-25\n      expires: 2027-11-25\n",
        8,
        None,
        "hosts[example.com].certificate.expires",
        "only with status active (status is pending)",
    ),
    (
        "requested-with-active",
        HEAD + "hosts:\n  example.com:\n    certificate: {status: active, requested: 2026-11-25}\n",
        5,
        None,
        "hosts[example.com].certificate.requested",
        "only with status pending (status is active)",
    ),
    (
        "hsts-without-max-age",
        HEAD + "hosts:\n  example.com:\n    hsts:\n      include_subdomains: true\n",
        6,
        None,
        "hosts[example.com].hsts.max_age",
        "required: the max-age the header sends, in seconds",
    ),
    (
        "max-age-negative",
        HEAD + "hosts:\n  example.com:\n    hsts: {max_age: -1}\n",
        5,
        None,
        "hosts[example.com].hsts.max_age",
        "must be at least 0 (got -1)",
    ),
    (
        "campaign-missing",
        HEAD + "  context: campaign\n",
        2,
        None,
        "tracking.campaign",
        "required when context is campaign",
    ),
    (
        "campaign-without-context",
        HEAD + "  campaign: spring-sale\n",
        3,
        None,
        "tracking.campaign",
        "used only when context is campaign (context is path)",
    ),
    (
        "no-tracking",
        "version: 1\n",
        1,
        None,
        "tracking",
        "required: at least tracking.domain",
    ),
    (
        "no-domain",
        "tracking:\n  scheme: http\n",
        2,
        None,
        "tracking.domain",
        "required: your branded tracking domain",
    ),
    (
        "marker-word-and-equals",
        HEAD + "links:\n  no_track:\n    - {attribute: data-x, word: a, equals: b}\n",
        5,
        None,
        "links.no_track[0].equals",
        "give word or equals, not both",
    ),
    (
        "marker-two-words",
        HEAD + "links:\n  no_track:\n    - {attribute: class, word: 'a b'}\n",
        5,
        None,
        "links.no_track[0].word",
        "must be one word, no spaces",
    ),
    (
        "tracker-without-hosts",
        HEAD + "links:\n  click_trackers:\n    - name: X\n",
        5,
        None,
        "links.click_trackers[0].hosts",
        "required",
    ),
    (
        "tags-empty",
        HEAD + "links:\n  tags: []\n",
        4,
        None,
        "links.tags",
        "must list at least one item",
    ),
    (
        "exclude-path-relative",
        HEAD + "links:\n  exclude_paths: [unsubscribe*]\n",
        4,
        None,
        "links.exclude_paths[0]",
        "a path glob starts with / or * (got 'unsubscribe*'; did you mean '/unsubscribe*'?)",
    ),
    # paths and names
    (
        "path-relative",
        HEAD + "  path: l\n",
        3,
        None,
        "tracking.path",
        "must start with / (got 'l'; did you mean '/l'?)",
    ),
    (
        "path-dot-segment",
        HEAD + "  path: /l/../x\n",
        3,
        None,
        "tracking.path",
        "'/l/../x': browsers resolve . and .. segments away",
    ),
    (
        "path-reserved",
        HEAD + "  path: /l?x=1\n",
        3,
        None,
        "tracking.path",
        "'/l?x=1': only letters, digits, - . _ ~ and / are allowed",
    ),
    (
        "path-empty-segment",
        HEAD + "  path: /a//b\n",
        3,
        None,
        "tracking.path",
        "an empty segment (//) in '/a//b'",
    ),
    (
        "annotation-attribute",
        HEAD + "annotation:\n  attribute: data link\n",
        4,
        None,
        "annotation.attribute",
        "'data link' is not a valid attribute name",
    ),
    (
        "env-name",
        HEAD + "keys:\n  env: ACME-KEYS\n",
        4,
        None,
        "keys.env",
        "'ACME-KEYS' is not a variable name",
    ),
    (
        "preload-list-missing",
        HEAD + "preload_list:\n  file: nowhere.json\n",
        4,
        None,
        "preload_list.file",
        "no such file: {folder}/nowhere.json",
    ),
    # duplicate keys
    (
        "duplicate-top",
        HEAD + "tracking:\n  domain: go.example.org\n",
        3,
        None,
        "tracking",
        "duplicate key (first on line 1)",
    ),
    (
        "duplicate-nested",
        HEAD + "  scheme: http\n  scheme: https\n",
        4,
        None,
        "tracking.scheme",
        "duplicate key (first on line 3)",
    ),
    (
        "duplicate-host-normalised",
        HEAD + "hosts:\n  Example.com: {}\n  example.com.: {}\n",
        5,
        None,
        "hosts[example.com.]",
        "the same host as on line 4",
    ),
    # YAML itself
    (
        "anchor",
        "tracking: &t\n  domain: go.example.com\n",
        1,
        11,
        "",
        "anchors (&name) are not allowed",
    ),
    ("alias", HEAD + "links:\n  tags: *tags\n", 4, 9, "", "aliases (*name) are not allowed"),
    (
        "billion-laughs",
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
        "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
        "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
        "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
        "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
        "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n",
        1,
        4,
        "",
        "anchors (&name) are not allowed",
    ),
    (
        "syntax-error",
        "tracking:\n  domain: go.example.com\n scheme: http\n",
        3,
        2,
        "",
        "YAML syntax error: expected <block end>, but found '<block mapping start>'",
    ),
    (
        "tab-indent",
        "tracking:\n\tdomain: go.example.com\n",
        2,
        1,
        "",
        "YAML syntax error: found character '\\t' that cannot start any token",
    ),
    (
        "two-documents",
        HEAD + "---\n" + HEAD,
        3,
        1,
        "",
        "YAML syntax error: expected a single document in the stream, but found another document",
    ),
    (
        "too-deep",
        HEAD + "links:\n  tags: " + "[" * 50 + "]" * 50 + "\n",
        4,
        27,
        "",
        "nested too deeply",
    ),
    (
        "too-many-values",
        HEAD + "links:\n  tags:\n" + "    - a\n" * 10_000,
        9_996,  # keys count as values too: 9 before the first item
        7,
        "",
        "more than 10,000 values: not a rules file",
    ),
    (
        "control-character",
        HEAD + "  campaign: a\x07b\n",
        3,
        14,
        "",
        "control character U+0007 is not allowed in YAML",
    ),
    (
        "not-utf8",
        HEAD.encode() + b"  campaign: caf\xe9\n",
        3,
        16,
        "",
        "not UTF-8 (byte 0xe9): save the file as UTF-8",
    ),
    ("empty", "", None, None, "tracking.domain", "required, but the file is empty"),
    (
        "only-comments",
        "# nothing yet\n",
        None,
        None,
        "tracking.domain",
        "required, but the file is empty",
    ),
    (
        "too-large",
        HEAD + "#" * MAX_RULES_BYTES + "\n",
        None,
        None,
        "",
        f"larger than {MAX_RULES_BYTES:,} bytes: not a rules file",
    ),
]


@pytest.mark.parametrize(
    ("content", "line", "column", "key", "message"),
    [case[1:] for case in BAD_FILES],
    ids=[case[0] for case in BAD_FILES],
)
def test_bad_files_name_file_line_and_key(
    tmp_path: Path,
    content: str | bytes,
    line: int | None,
    column: int | None,
    key: str,
    message: str,
) -> None:
    path = write(tmp_path, content)
    message = message.replace("{folder}", str(tmp_path))
    error = load_error(path)
    assert (error.file, error.line, error.column, error.key) == (path, line, column, key)
    assert error.message == message
    place = ":".join(str(part) for part in (path, line, column) if part is not None)
    assert str(error) == (f"{place}: {key}: {message}" if key else f"{place}: {message}")


def test_error_format_matches_the_documented_example() -> None:
    error = RulesError(
        Path("rules/acme.yaml"), 7, "tracking.scheme", "must be one of http, https (got 'ftp')"
    )
    assert (
        str(error) == "rules/acme.yaml:7: tracking.scheme: must be one of http, https (got 'ftp')"
    )
    assert str(RulesError(Path("r.yaml"), 3, "", "oops", column=5)) == "r.yaml:3:5: oops"
    assert str(RulesError(Path("r.yaml"), None, "", "cannot read")) == "r.yaml: cannot read"


def test_enough_bad_files() -> None:
    assert len(BAD_FILES) >= 25


def test_a_huge_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as stream:
        stream.truncate(1 << 30)  # 1 GiB, sparse: reading it all would take seconds and memory
    error = load_error(path)
    assert str(error) == f"{path}: larger than {MAX_RULES_BYTES:,} bytes: not a rules file"


def test_a_file_of_exactly_the_limit_loads(tmp_path: Path) -> None:
    padding = MAX_RULES_BYTES - len(HEAD) - 1
    path = write(tmp_path, HEAD + "#" * padding + "\n")
    assert path.stat().st_size == MAX_RULES_BYTES
    assert load_rules(path).tracking_domain == "go.example.com"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    assert str(load_error(path)) == f"{path}: cannot read: No such file or directory"


def test_minimal_file_gives_the_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD)
    assert load_rules(path) == Rules(tracking_domain="go.example.com", source=path)


FULL = """\
\ufeffversion: 1
tracking:
  domain: GO.Example.COM.
  scheme: https
  path: /t/c/
  legacy_domains: [click.example.com, Bücher.example, click.example.com]
  context: campaign
  campaign: 2026
keys:
  file: ../keys/acme.keys
  env: ACME_LINK_KEYS
links:
  tags: [A, area, "v:*", button]
  no_track:
    - {attribute: data-no-track}
    - {attribute: Class, word: skip-me}
    - {attribute: clicktracking, equals: off}
    - {attribute: data-track, equals: no}
    - {attribute: data-msys-clicktrack, equals: 0}
    - {attribute: autotrack, equals: false}
  builtin_no_track: false
  exclude_hosts: ["*.Internal.example.com", "bücher.example"]
  exclude_paths: ["/unsubscribe*", "*/preferences"]
  click_trackers:
    - {name: Braze, hosts: ["*.braze.com"], paths: ["/click*"]}
    - name: Own
      hosts: [t.example.net]
  builtin_click_trackers: false
annotation:
  enabled: false
  attribute: Data-Status
hosts:
  www.example.com:
    certificate: {status: active, expires: "2027-03-01", names: ["*.Example.com", example.com]}
  example.com:
    certificate: {status: pending, requested: 2026-11-25}
    hsts: {max_age: 63072000, include_subdomains: true}
  go.example.com:
    certificate: {status: none}
    hsts: {max_age: 0, preload_directive: true}
    preloaded: false
  landing.example.com: {}
preload_list:
  file: chromium.json
  max_age_days: 30
checks:
  clip_bytes: 50000
  max_links: 10
  max_tracking_url_length: 200
  expiry_warning_days: 0
  fail_on: [url-length, clip, url-length]
"""


def test_full_file_maps_to_exact_values(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "chromium.json").write_text("{}")
    path = write(folder, FULL)
    assert load_rules(path) == Rules(
        tracking_domain="go.example.com",
        scheme="https",
        path="/t/c",
        legacy_domains=("click.example.com", "xn--bcher-kva.example"),
        context=ContextMode.CAMPAIGN,
        campaign="2026",
        keys=KeySource(file=tmp_path / "keys" / "acme.keys", env="ACME_LINK_KEYS"),
        link_tags=("a", "area", "v:*", "button"),
        no_track=(
            NoTrackMarker("data-no-track"),
            NoTrackMarker("class", MarkerMatch.WORD, "skip-me"),
            NoTrackMarker("clicktracking", MarkerMatch.EQUALS, "off"),
            NoTrackMarker("data-track", MarkerMatch.EQUALS, "no"),
            NoTrackMarker("data-msys-clicktrack", MarkerMatch.EQUALS, "0"),
            NoTrackMarker("autotrack", MarkerMatch.EQUALS, "false"),
        ),
        exclude_hosts=("*.internal.example.com", "xn--bcher-kva.example"),
        exclude_paths=("/unsubscribe*", "*/preferences"),
        click_trackers=(
            ClickTracker("Braze", ("*.braze.com",), ("/click*",)),
            ClickTracker("Own", ("t.example.net",)),
        ),
        annotate=False,
        annotation_attribute="data-status",
        hosts=(
            HostFacts(
                "example.com",
                Certificate(CertificateState.PENDING, requested=date(2026, 11, 25)),
                HstsPolicy(63072000, include_subdomains=True),
            ),
            HostFacts(
                "go.example.com",
                Certificate(CertificateState.NONE),
                HstsPolicy(0, preload_directive=True),
                preloaded=False,
            ),
            HostFacts("landing.example.com"),
            HostFacts(
                "www.example.com",
                Certificate(
                    CertificateState.ACTIVE,
                    expires=date(2027, 3, 1),
                    names=("*.example.com", "example.com"),
                ),
            ),
        ),
        preload_list=folder / "chromium.json",
        preload_list_max_age_days=30,
        checks=Checks(
            clip_bytes=50000,
            max_links=10,
            max_tracking_url_length=200,
            expiry_warning_days=0,
            fail_on_warnings=("url-length", "clip"),
        ),
        source=path,
    )


@pytest.mark.parametrize("word", ["off", "no", "on", "yes", "n", "y", "Off", "NO"])
def test_yaml_1_1_booleans_stay_text(tmp_path: Path, word: str) -> None:
    path = write(tmp_path, HEAD + f"links:\n  no_track:\n    - {{attribute: x, equals: {word}}}\n")
    assert load_rules(path).no_track[-1] == NoTrackMarker("x", MarkerMatch.EQUALS, word)


def test_user_markers_and_trackers_are_added_to_the_builtin_ones(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEAD + "links:\n  no_track: [{attribute: data-no-track}, {attribute: ses:no-track}]\n"
        "  click_trackers: [{name: Braze, hosts: ['*.braze.com']}]\n",
    )
    rules = load_rules(path)
    assert rules.no_track == (*DEFAULT_NO_TRACK, NoTrackMarker("data-no-track"))  # no repeats
    assert rules.click_trackers == (
        *DEFAULT_CLICK_TRACKERS,
        ClickTracker("Braze", ("*.braze.com",)),
    )


def test_builtins_can_be_turned_off_alone(tmp_path: Path) -> None:
    path = write(
        tmp_path, HEAD + "links:\n  builtin_no_track: false\n  builtin_click_trackers: false\n"
    )
    rules = load_rules(path)
    assert (rules.no_track, rules.click_trackers) == ((), ())


@pytest.mark.parametrize(
    ("given", "expected"), [("/", ""), ("/l//", "/l"), ("/a-b.c_d~e/f", "/a-b.c_d~e/f")]
)
def test_tracking_path_is_normalised(tmp_path: Path, given: str, expected: str) -> None:
    assert load_rules(write(tmp_path, HEAD + f"  path: {given}\n")).path == expected


def test_relative_paths_resolve_from_the_rules_folder_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "rules").mkdir()
    write(tmp_path / "rules", HEAD + "keys:\n  file: acme.keys\n")
    monkeypatch.chdir(tmp_path)
    rules = load_rules(Path("rules/rules.yaml"))
    assert rules.keys == KeySource(file=tmp_path / "rules" / "acme.keys")
    assert rules.source == Path("rules/rules.yaml")


def test_campaign_context(tmp_path: Path) -> None:
    rules = load_rules(write(tmp_path, HEAD + "  context: campaign\n  campaign: spring-sale\n"))
    assert (rules.context, rules.campaign) == (ContextMode.CAMPAIGN, "spring-sale")


def test_a_clean_load_makes_no_network_call_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    for variable in ("HOME", "XDG_CACHE_HOME", "TLDEXTRACT_CACHE"):
        monkeypatch.setenv(variable, str(home))

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    rulesfile._suffix_extractor.cache_clear()
    rulesfile._suffix_list_text.cache_clear()
    bad = write(tmp_path, "tracking:\n  domain: co.uk\n")
    assert load_rules(ROOT / "rules" / "example.yaml").tracking_domain == "go.example.com"
    assert load_error(bad).key == "tracking.domain"
    monkeypatch.setattr(rulesfile, "_suffix_list_text", lambda: None)  # the tldextract path
    assert load_rules(ROOT / "rules" / "example.yaml").tracking_domain == "go.example.com"
    assert load_error(bad).key == "tracking.domain"
    assert list(home.iterdir()) == []


def snapshot_rules() -> list[str]:
    text = rulesfile._suffix_list_text()
    if text is None:
        pytest.skip("tldextract's bundled snapshot is not where the fast lookup expects it")
    return [line for line in text.splitlines() if line and not line.startswith("//")]


def test_public_suffix_lookup_agrees_with_tldextract() -> None:
    rules = snapshot_rules()
    special = [rule for rule in rules if rule.startswith(("*", "!"))]
    sample = special + random.Random(7).sample(rules, 1500)
    names = set()
    for rule in sample:
        base = rule.lstrip("!").removeprefix("*.")
        names.update({base, "x." + base, base.partition(".")[2]})
    listed = set(rules)
    checked = 0
    for name in sorted(names - {""}):
        try:
            host = normalize_host(name)
        except HostError:
            continue
        checked += 1
        ours = rulesfile._is_public_suffix(host)
        if ours != rulesfile._is_public_suffix_by_tldextract(host):
            # tldextract misses a wildcard match when a deeper rule exists under the name
            # (`*.futurecms.at` with `*.ex.futurecms.at`: ex.futurecms.at is a public suffix).
            unicode_name = ".".join(rulesfile._unicode_label(label) for label in host.split("."))
            parent = unicode_name.partition(".")[2]
            assert ours, host
            assert f"*.{parent}" in listed and f"!{unicode_name}" not in listed, host
            assert any(rule.endswith("." + unicode_name) for rule in rules), host
    assert checked > 3000


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("co.uk", True),
        ("uk", True),
        ("github.io", True),  # private section
        ("foo.ck", True),  # *.ck
        ("www.ck", False),  # !www.ck
        ("xn--p1ai", True),  # рф
        ("xn--80aswg.xn--p1ai", False),  # сайт.рф
        ("go.example.com", False),
        ("localhost", False),
    ],
)
@pytest.mark.parametrize("fast", [True, False])
def test_public_suffixes(
    host: str, expected: bool, fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if fast:
        snapshot_rules()
    else:
        monkeypatch.setattr(rulesfile, "_suffix_list_text", lambda: None)
    assert rulesfile._is_public_suffix(host) is expected


def test_find_rules_walks_up_the_parents(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    (deep / "mail.html").write_text("")
    assert find_rules(deep) is None or not find_rules(deep).is_relative_to(tmp_path)  # type: ignore[union-attr]
    rules = write(tmp_path / "a", HEAD, "rewriter.yaml")
    assert find_rules(deep) == rules
    assert find_rules(deep / "mail.html") == rules  # a file: start from its folder
    assert find_rules(tmp_path / "a" / "b" / ".." / "b") == rules
    nearer = write(tmp_path / "a" / "b", HEAD, "rewriter.yaml")
    assert find_rules(deep) == nearer
    (deep / "rewriter.yaml").mkdir()  # a folder of that name is not a rules file
    assert find_rules(deep) == nearer


def test_starter_rules_load(tmp_path: Path) -> None:
    path = write(tmp_path, starter_rules("Go.Acme.com.", "acme.keys"))
    assert load_rules(path) == Rules(
        tracking_domain="go.acme.com", keys=KeySource(file=tmp_path / "acme.keys"), source=path
    )


@pytest.mark.parametrize(
    ("domain", "key_file", "expected_domain"),
    [
        ("true", "null", "true"),  # names that YAML would read as a boolean or null
        ("bücher.example", "my keys/#1.keys", "xn--bcher-kva.example"),
        ("go.acme.com", '-"odd" \\ name', "go.acme.com"),
        ("go.acme.com", "123", "go.acme.com"),
    ],
)
def test_starter_rules_quote_what_needs_quoting(
    tmp_path: Path, domain: str, key_file: str, expected_domain: str
) -> None:
    rules = load_rules(write(tmp_path, starter_rules(domain, key_file)))
    assert rules.tracking_domain == expected_domain
    assert rules.keys.file == tmp_path / key_file


@pytest.mark.parametrize("domain", ["co.uk", "192.0.2.1", "go example.com", "*.acme.com"])
def test_starter_rules_refuse_what_cannot_be_a_tracking_domain(domain: str) -> None:
    with pytest.raises(HostError):
        starter_rules(domain, "acme.keys")
