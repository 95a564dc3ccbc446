"""`rewriter probe` against real TLS and HTTP servers on loopback, certificates from a throwaway CA.

Every name is sent to 127.0.0.1 with --connect-to, so no test resolves a name or leaves the
machine; timeouts are kept short where a test waits for one.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from click.testing import CliRunner
from probe_servers import DAY, NOW, Plain, Servers, Site, leaf, running, self_signed

from rewriter.cli.main import main
from rewriter.status.probe import ConnectTo, ProbeSettings, probe_hosts

PRELOADABLE = "max-age=31536000; includeSubDomains; preload"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    ca = trustme.CA()
    sites = {
        "go.example.com": Site(leaf(ca, "go.example.com"), [PRELOADABLE]),
        "expired.example.com": Site(
            leaf(ca, "expired.example.com", not_before=NOW - 90 * DAY, not_after=NOW - 2 * DAY)
        ),
        "future.example.com": Site(
            leaf(ca, "future.example.com", not_before=NOW + 2 * DAY, not_after=NOW + 90 * DAY)
        ),
        "wrong.example.com": Site(leaf(ca, "other.example.com")),
        "pages.example.com": Site(leaf(ca, "*.example.com"), ["max-age=0"]),
        "a.b.example.com": Site(leaf(ca, "*.example.com")),
        "self.example.com": Site(self_signed("self.example.com")),
        "dup.example.com": Site(leaf(ca, "dup.example.com"), ["max-age=300", PRELOADABLE]),
        "garbage.example.com": Site(leaf(ca, "garbage.example.com"), ["max-age=soon; preload"]),
        "plain.example.com": Site(leaf(ca, "plain.example.com")),
        "elsewhere.example.com": Site(leaf(ca, "elsewhere.example.com"), ["max-age=600"]),
    }
    plain = {
        "go.example.com": Plain("https://go.example.com/"),
        "elsewhere.example.com": Plain("https://landing.example.net/start", status=302),
        "pages.example.com": Plain("/login"),  # relative: still plain http
    }
    with running(tmp_path_factory.mktemp("servers"), ca, sites, plain) as found:
        yield found


def routes(servers: Servers, *names: str) -> list[str]:
    """--connect-to for these names, plus a closed and a silent name, and --ca-file."""
    served = [n for n in names if n not in ("closed.example.com", "silent.example.com")]
    args = servers.connect_to(*served, "unknown.example.com")
    args += ["--connect-to", f"closed.example.com::127.0.0.1:{servers.closed_port}"]
    args += ["--connect-to", f"silent.example.com::127.0.0.1:{servers.silent_port}"]
    # Short only where a timeout is what the test waits for: under a loaded CI machine a TLS
    # handshake on loopback has taken more than half a second.
    timeout = "0.5" if "silent.example.com" in names else "5"
    return [*args, "--ca-file", str(servers.ca_file), "--timeout", timeout]


def probe_json(servers: Servers, *names: str) -> dict[str, Any]:
    result = CliRunner().invoke(
        main, ["probe", *names, *routes(servers, *names), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return {host["host"]: host for host in document["hosts"]}


def test_a_valid_certificate_its_names_dates_header_and_redirect(servers: Servers) -> None:
    host = probe_json(servers, "go.example.com")["go.example.com"]
    assert host["certificate"]["valid"] is True
    assert host["certificate"]["problem"] is None
    assert host["certificate"]["names"] == ["go.example.com"]
    assert host["hsts"]["max_age"] == 31536000
    assert host["hsts"]["include_subdomains"] is True
    assert host["hsts"]["preload_directive"] is True
    assert host["http"] == {
        "error": None,
        "status": 301,
        "location": "https://go.example.com/",
        "redirects_to_https": True,
    }


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("expired.example.com", "certificate has expired"),
        ("future.example.com", "certificate is not yet valid"),
        ("wrong.example.com", "the certificate covers only other.example.com"),
        ("a.b.example.com", "covers only *.example.com (a wildcard covers one level)"),
        ("self.example.com", "self-signed certificate"),
    ],
)
def test_certificates_browsers_refuse_are_described(
    servers: Servers, name: str, problem: str
) -> None:
    host = probe_json(servers, name)[name]
    assert host["certificate"]["valid"] is False
    assert problem in host["certificate"]["problem"]
    assert host["certificate"]["names"]  # the certificate was read all the same
    assert host["hsts"] is None  # a header from a refused connection counts for nothing


def test_a_wildcard_one_level_up_is_valid(servers: Servers) -> None:
    host = probe_json(servers, "pages.example.com")["pages.example.com"]
    assert host["certificate"]["valid"] is True
    assert host["certificate"]["names"] == ["*.example.com"]


def test_the_certificate_dates_are_those_the_server_presents(servers: Servers) -> None:
    host = probe_json(servers, "expired.example.com")["expired.example.com"]
    assert host["certificate"]["not_after"] == (NOW - 2 * DAY).isoformat() + "+00:00"


@pytest.mark.parametrize(
    ("name", "max_age", "subdomains", "headers", "problem"),
    [
        ("plain.example.com", None, None, 0, None),  # none
        ("pages.example.com", 0, False, 1, None),  # max-age=0
        ("go.example.com", 31536000, True, 1, None),  # includeSubDomains; preload
        ("dup.example.com", 300, False, 2, None),  # only the first header counts
        ("garbage.example.com", None, None, 1, "max-age must be a number of seconds"),
    ],
)
def test_hsts_header_variants(
    servers: Servers,
    name: str,
    max_age: int | None,
    subdomains: bool | None,
    headers: int,
    problem: str | None,
) -> None:
    hsts = probe_json(servers, name)[name]["hsts"]
    assert hsts["max_age"] == max_age
    assert hsts["include_subdomains"] == subdomains
    assert hsts["headers"] == headers
    if problem is None:
        assert hsts["problem"] is None
    else:
        assert problem in hsts["problem"]


def test_http_that_does_not_redirect_and_one_that_leaves_the_host(servers: Servers) -> None:
    hosts = probe_json(servers, "plain.example.com", "elsewhere.example.com", "pages.example.com")
    assert hosts["plain.example.com"]["http"]["status"] == 200
    assert hosts["plain.example.com"]["http"]["location"] is None
    assert hosts["plain.example.com"]["http"]["redirects_to_https"] is False
    elsewhere = hosts["elsewhere.example.com"]["http"]
    assert (elsewhere["status"], elsewhere["location"]) == (
        302,
        "https://landing.example.net/start",
    )
    assert elsewhere["redirects_to_https"] is True
    relative = hosts["pages.example.com"]["http"]
    assert relative["location"] == "http://pages.example.com/login"
    assert relative["redirects_to_https"] is False


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("closed.example.com", "refused: nothing listens on 127.0.0.1:"),
        ("silent.example.com", "timeout: no answer from 127.0.0.1:"),
        ("unknown.example.com", "TLS alert: TLSV1_UNRECOGNIZED_NAME"),
    ],
)
def test_unreachable_hosts_say_why(servers: Servers, name: str, reason: str) -> None:
    host = probe_json(servers, name)[name]
    assert host["certificate"]["valid"] is False
    assert host["certificate"]["names"] is None
    assert reason in host["certificate"]["problem"]


def test_a_name_that_does_not_resolve_is_reported_as_dns() -> None:
    def unresolvable(address: tuple[str, int], timeout: float) -> socket.socket:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    [observation] = probe_hosts(["nowhere.example.com"], ProbeSettings(), unresolvable)
    assert observation.tls.error == (
        "DNS: nowhere.example.com does not resolve (Name or service not known)"
    )
    assert observation.http.error == observation.tls.error


def test_connect_to_is_applied_per_name_and_port() -> None:
    settings = ProbeSettings(
        (
            ConnectTo("go.example.com", 443, "127.0.0.1", 8443),
            ConnectTo("", 80, "::1", None),
        )
    )
    assert settings.route("go.example.com", 443) == ("127.0.0.1", 8443)
    assert settings.route("go.example.com", 80) == ("::1", 80)
    assert settings.route("pages.example.com", 443) == ("pages.example.com", 443)


def test_the_table_shows_each_host(servers: Servers) -> None:
    names = ("go.example.com", "expired.example.com", "closed.example.com")
    result = CliRunner().invoke(main, ["probe", *names, *routes(servers, *names)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "go.example.com\n  certificate  valid for go.example.com, " in out
    assert "  hsts         max-age=31536000; includeSubDomains; preload\n" in out
    assert "  http         301 redirect to https://go.example.com/ (https)\n" in out
    assert "expired.example.com\n  certificate  refused by browsers: certificate has expired" in out
    assert "closed.example.com\n  certificate  none: refused: nothing listens on" in out
    assert "probed 3 hosts (no rules: nothing compared): 0 drifts, 0 notes" in result.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    cases = [
        ["probe", "go.example.com", "--connect-to", "go.example.com:443"],
        ["probe", "go.example.com", "--connect-to", "a:99999:b:1"],
        ["probe", "go.example.com", "--ca-file", str(tmp_path / "absent.pem")],
        ["probe", "not a host!"],
        ["probe", "--rules", str(tmp_path / "absent.yaml")],
    ]
    (tmp_path / "garbage.pem").write_text("not a certificate")
    cases.append(["probe", "go.example.com", "--ca-file", str(tmp_path / "garbage.pem")])
    for args in cases:
        result = runner.invoke(main, args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output


def test_no_rules_and_no_hosts_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rewriter", "probe"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "no rules and no hosts" in result.stderr
