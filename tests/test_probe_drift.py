"""`rewriter probe` comparing real loopback servers with the rules: drift lines, exit codes,
--suggest, and `check --probe`."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner, Result
from probe_servers import DAY, NOW, Plain, Servers, Site, leaf, running, self_signed

from rewriter.cli.main import main
from rewriter.rules.loader import load_rules

UNTIL = (NOW + 90 * DAY).replace(hour=12, minute=0, second=0)
UNTIL_DAY = UNTIL.date().isoformat()
EXPIRED = (NOW - 3 * DAY).replace(hour=12, minute=0, second=0)
EXPIRED_DAY = EXPIRED.date().isoformat()
HEADER = "max-age=31536000; includeSubDomains; preload"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    ca = trustme.CA()
    sites = {
        "go.example.com": Site(leaf(ca, "go.example.com", not_after=UNTIL), [HEADER]),
        "pages.example.com": Site(leaf(ca, "*.example.com", not_after=UNTIL), ["max-age=0"]),
        "old.example.com": Site(
            leaf(ca, "old.example.com", not_before=NOW - 90 * DAY, not_after=EXPIRED)
        ),
        "self.example.com": Site(self_signed("self.example.com")),
        "deep.pages.example.com": Site(leaf(ca, "*.example.com", not_after=UNTIL)),
    }
    plain = {"go.example.com": Plain("https://go.example.com/")}
    with running(tmp_path_factory.mktemp("servers"), ca, sites, plain) as found:
        yield found


def probe(servers: Servers, rules: Path, *more: str) -> Result:
    names = ["go.example.com", "pages.example.com", "old.example.com", "self.example.com"]
    names.append("deep.pages.example.com")
    args = ["probe", "--rules", str(rules), *servers.connect_to(*names)]
    args += ["--connect-to", f"down.example.com::127.0.0.1:{servers.closed_port}"]
    args += [
        "--ca-file",
        str(servers.ca_file),
        "--timeout",
        "5",
        *more,
    ]  # generous: nothing here waits for it
    return CliRunner().invoke(main, args)


def write_rules(folder: Path, hosts: str, domain: str = "go.example.com") -> Path:
    path = folder / "rewriter.yaml"
    path.write_text(f"version: 1\ntracking:\n  domain: {domain}\nhosts:\n{hosts}")
    return path


def drift_lines(result: Result) -> list[str]:
    return [line for line in result.stdout.splitlines() if "rewriter.yaml:" in line]


def test_a_pending_certificate_that_became_valid_is_drift(servers: Servers, tmp_path: Path) -> None:
    rules = write_rules(
        tmp_path,
        "  go.example.com:\n"
        "    certificate: {status: pending, requested: 2026-11-25}\n"
        "    hsts: {max_age: 31536000, include_subdomains: true, preload_directive: true}\n",
    )
    result = probe(servers, rules)
    assert result.exit_code == 1, result.output
    assert drift_lines(result) == [
        f"{rules}:6: go.example.com: declared pending since 2026-11-25, but the server presents "
        f"a valid certificate for go.example.com until {UNTIL_DAY}: declare it active"
    ]
    assert "1 drift, 0 notes" in result.stderr


def test_declarations_that_match_exit_0(servers: Servers, tmp_path: Path) -> None:
    rules = write_rules(
        tmp_path,
        "  go.example.com:\n"
        f"    certificate: {{status: active, expires: {UNTIL_DAY}, names: [go.example.com]}}\n"
        "    hsts: {max_age: 31536000, include_subdomains: true, preload_directive: true}\n"
        "    preloaded: false\n"
        "  pages.example.com:\n"
        f"    certificate: {{status: active, expires: {UNTIL_DAY}}}\n"  # max-age=0 is no HSTS
        "  self.example.com:\n"
        "    certificate: {status: pending, requested: 2026-11-25}\n"
        "  down.example.com:\n"
        "    certificate: {status: none}\n",
    )
    result = probe(servers, rules)
    assert result.exit_code == 0, result.output
    assert drift_lines(result) == []
    assert "probed 4 hosts against" in result.stderr


def test_a_host_declared_active_that_cannot_be_reached_is_drift(
    servers: Servers, tmp_path: Path
) -> None:
    rules = write_rules(
        tmp_path,
        f"  down.example.com:\n    certificate: {{status: active, expires: {UNTIL_DAY}}}\n",
    )
    result = probe(
        servers, rules, "--connect-to", f"go.example.com::127.0.0.1:{servers.closed_port}"
    )
    assert result.exit_code == 1
    [line] = [line for line in drift_lines(result) if "down.example.com" in line]
    assert line.startswith(f"{rules}:6: down.example.com: declared active until {UNTIL_DAY}, ")
    assert (
        "but the server cannot be reached over TLS (refused: nothing listens on 127.0.0.1:" in line
    )
    assert line.endswith(": declare it none (or fix the server)")


def test_expired_wrong_dates_and_names(servers: Servers, tmp_path: Path) -> None:
    rules = write_rules(
        tmp_path,
        "  old.example.com:\n"
        f"    certificate: {{status: active, expires: {UNTIL_DAY}}}\n"
        "  go.example.com:\n"
        "    certificate:\n"
        "      {status: active, expires: 2030-01-01, names: [go.example.com, example.com]}\n"
        "    hsts: {max_age: 31536000, include_subdomains: true, preload_directive: true}\n"
        "  deep.pages.example.com:\n"
        "    certificate: {status: active}\n",
    )
    lines = drift_lines(probe(servers, rules))
    assert lines == [
        f"{rules}:8: go.example.com: declared active until 2030-01-01, but the server presents a "
        f"valid certificate until {UNTIL_DAY}: declare expires: {UNTIL_DAY}",
        f"{rules}:8: go.example.com: declared for go.example.com, example.com, but the "
        "certificate covers go.example.com: declare names: [go.example.com]",
        f"{rules}:12: deep.pages.example.com: declared active, but the server presents a "
        "certificate browsers refuse (the certificate covers only *.example.com (a wildcard "
        'covers one level)): declare names: ["*.example.com"] (it does not cover the host)',
        f"{rules}:6: old.example.com: declared active until {UNTIL_DAY}, but the server presents "
        f"a certificate that expired on {EXPIRED_DAY}: declare expires: {EXPIRED_DAY} "
        "(and renew it)",
    ]


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        (None, "declared no HSTS, but the server sends max-age=31536000; includeSubDomains; "
               "preload: declare hsts: {max_age: 31536000, include_subdomains: true, "
               "preload_directive: true}"),
        ("{max_age: 600}", "declared HSTS max-age=600, but the server sends max-age=31536000; "
                           "includeSubDomains; preload: declare hsts: {max_age: 31536000, "
                           "include_subdomains: true, preload_directive: true}"),
    ],
)  # fmt: skip
def test_hsts_drift(servers: Servers, tmp_path: Path, declared: str | None, expected: str) -> None:
    hsts = f"    hsts: {declared}\n" if declared else ""
    rules = write_rules(
        tmp_path,
        f"  go.example.com:\n    certificate: {{status: active, expires: {UNTIL_DAY}}}\n{hsts}",
    )
    result = probe(servers, rules)
    assert result.exit_code == 1
    line = 7 if declared else 5
    assert drift_lines(result) == [f"{rules}:{line}: go.example.com: {expected}"]


def test_max_age_0_against_a_declared_header_is_drift(servers: Servers, tmp_path: Path) -> None:
    rules = write_rules(
        tmp_path,
        "  pages.example.com:\n"
        f"    certificate: {{status: active, expires: {UNTIL_DAY}}}\n"
        "    hsts: {max_age: 86400}\n",
        domain="pages.example.com",
    )
    result = probe(servers, rules)
    assert drift_lines(result) == [
        f"{rules}:7: pages.example.com: declared HSTS max-age=86400, but the server sends "
        "max-age=0: remove its hsts declaration"
    ]


def test_undeclared_hosts_get_notes_not_drift(servers: Servers, tmp_path: Path) -> None:
    rules = write_rules(tmp_path, "  self.example.com:\n    certificate: {status: none}\n")
    result = probe(servers, rules)
    assert result.exit_code == 0, result.output
    assert drift_lines(result) == [
        f"{rules}:3: go.example.com: note: no certificate declared; the server presents a valid "
        f"certificate for go.example.com until {UNTIL_DAY}: declare it active",
        f"{rules}:3: go.example.com: note: no HSTS declared; the server sends max-age=31536000; "
        "includeSubDomains; preload: declare hsts: {max_age: 31536000, include_subdomains: "
        "true, preload_directive: true}",
    ]


def test_the_suggestion_is_valid_rules_that_then_match(servers: Servers, tmp_path: Path) -> None:
    rules = write_rules(
        tmp_path,
        "  go.example.com:\n"
        "    certificate: {status: pending, requested: 2026-11-25}\n"
        "    preloaded: true\n"
        "  old.example.com:\n    certificate: {status: active}\n"
        "  self.example.com:\n    certificate: {status: active}\n"
        "  down.example.com:\n    certificate: {status: pending, requested: 2026-11-30}\n"
        "  deep.pages.example.com:\n    certificate: {status: none}\n",
    )
    result = probe(servers, rules, "--suggest")
    assert result.exit_code == 1
    suggested = result.stdout
    assert suggested == (
        "hosts:\n"
        "  go.example.com:\n"
        f"    certificate: {{status: active, expires: {UNTIL_DAY}, names: [go.example.com]}}\n"
        "    hsts: {max_age: 31536000, include_subdomains: true, preload_directive: true}\n"
        "    preloaded: true   # as declared\n"
        "  deep.pages.example.com:\n"
        f'    certificate: {{status: active, expires: {UNTIL_DAY}, names: ["*.example.com"]}}\n'
        "  down.example.com:\n"
        "    certificate: {status: pending, requested: 2026-11-30}\n"
        "  old.example.com:\n"
        f"    certificate: {{status: active, expires: {EXPIRED_DAY}, names: [old.example.com]}}\n"
        "  self.example.com:\n"
        "    certificate: {status: none}\n"
    )
    assert "declare it active" in result.stderr  # the drift goes to stderr with --suggest
    again = tmp_path / "again"
    again.mkdir()
    path = again / "rewriter.yaml"
    path.write_text("version: 1\ntracking:\n  domain: go.example.com\n" + suggested)
    load_rules(path)
    rerun = probe(servers, path)
    assert rerun.exit_code == 0, rerun.output
    assert drift_lines(rerun) == []


def test_check_probe_judges_with_what_the_servers_do(servers: Servers, tmp_path: Path) -> None:
    # Declared pending: a preloaded host without a certificate breaks every click. The server
    # has a valid one: with --probe, the check judges with it, says so, and passes.
    rules = write_rules(
        tmp_path,
        "  go.example.com:\n"
        "    certificate: {status: pending, requested: 2026-11-25}\n"
        "    preloaded: true\n",
    )
    page = tmp_path / "mail.html"
    page.write_bytes(b'<a href="https://shop.example.org/">shop</a>\n')
    offline = CliRunner().invoke(main, ["check", str(page), "--rules", str(rules)])
    assert offline.exit_code == 1
    assert "broken" in offline.stdout
    routes = servers.connect_to("go.example.com")
    as_of = ["--as-of", datetime.date.today().isoformat()]
    online = CliRunner().invoke(
        main,
        ["check", str(page), "--rules", str(rules), "--probe", *routes, *as_of],
        env={"SSL_CERT_FILE": str(servers.ca_file)},  # the system store, as OpenSSL finds it
    )
    assert "probe: " in online.stderr
    assert (
        f"probe: {rules}:6: go.example.com: declared pending since 2026-11-25, but the server "
        f"presents a valid certificate for go.example.com until {UNTIL_DAY}: declare it active"
    ) in online.stderr
    assert "broken" not in online.stdout, online.stdout
    assert online.exit_code == 0, online.output


def test_a_host_covered_by_a_parents_declaration(servers: Servers, tmp_path: Path) -> None:
    rules = write_rules(
        tmp_path,
        "  example.com:\n"
        "    certificate:\n"
        f'      {{status: active, expires: {UNTIL_DAY}, names: [example.com, "*.example.com"]}}\n',
        domain="self.example.com",
    )
    result = probe(servers, rules)
    assert result.exit_code == 1
    [line] = [line for line in drift_lines(result) if ": self.example.com: " in line]
    assert line == (
        f"{rules}:6: self.example.com: declared active through the certificate of example.com "
        f"until {UNTIL_DAY}, but the server presents a certificate browsers refuse (self-signed "
        "certificate): declare it none (or fix the server)"
    )


def test_suggest_without_rules_describes_the_hosts_given(servers: Servers, tmp_path: Path) -> None:
    args = ["probe", "go.example.com", "self.example.com", "--suggest", "--timeout", "5"]
    args += [*servers.connect_to("go.example.com", "self.example.com")]
    result = CliRunner().invoke(main, [*args, "--ca-file", str(servers.ca_file)])
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "hosts:\n"
        "  go.example.com:\n"
        f"    certificate: {{status: active, expires: {UNTIL_DAY}, names: [go.example.com]}}\n"
        "    hsts: {max_age: 31536000, include_subdomains: true, preload_directive: true}\n"
        "  self.example.com:\n"
        "    certificate: {status: none}\n"
    )
    assert "(no rules: nothing compared)" in result.stderr


def test_check_connect_to_needs_probe_and_a_bad_one_is_a_usage_error(tmp_path: Path) -> None:
    rules = write_rules(tmp_path, "  go.example.com:\n    certificate: {status: none}\n")
    page = tmp_path / "mail.html"
    page.write_bytes(b"<p>no links</p>\n")
    base = ["check", str(page), "--rules", str(rules)]
    alone = CliRunner().invoke(main, [*base, "--connect-to", "a:443:127.0.0.1:1"])
    assert alone.exit_code == 2
    assert "--connect-to applies only with --probe" in alone.output
    bad = CliRunner().invoke(main, [*base, "--probe", "--connect-to", "a:443"])
    assert bad.exit_code == 2
    assert "expected HOST:PORT:ADDR:PORT" in bad.output
