"""The commands that use the network: `probe` and `preload-list fetch` (and `check --probe`).

Registered by name in `cli.main.LAZY_COMMANDS`, so no other command imports this module, the
sockets or TLS.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from rewriter.batch.report import ExitCode

if TYPE_CHECKING:
    from rewriter.rules.loader import HostLines
    from rewriter.rules.model import Rules
    from rewriter.status.drift import Difference
    from rewriter.status.probe import Observation, ProbeSettings

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _connect_to_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--connect-to",
        multiple=True,
        metavar="HOST:PORT:ADDR:PORT",
        help="Send connections for HOST:PORT to ADDR:PORT instead, as curl's (repeatable).",
    )(function)


def _timeout_option(default: float) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--timeout",
        type=click.FloatRange(min=0.05, max=600),
        default=default,
        show_default=True,
        help="Seconds allowed for each network operation.",
    )


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("hosts", nargs=-1)
@click.option("--rules", "rules_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The rules file (default: rewriter.yaml here or in a parent).")  # fmt: skip
@_connect_to_option
@click.option("--ca-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Trust these CA certificates (PEM) instead of the system's store.")  # fmt: skip
@_timeout_option(5.0)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)  # fmt: skip
@click.option("--suggest", is_flag=True,
              help="Print the hosts: section of the rules as observed (YAML).")  # fmt: skip
def probe(
    hosts: tuple[str, ...],
    rules_path: Path | None,
    connect_to: tuple[str, ...],
    ca_file: Path | None,
    timeout: float,
    fmt: str,
    suggest: bool,
) -> None:
    """Look at what the hosts of the rules (or HOSTS) really serve, over the network: the TLS
    certificate on 443, the HSTS header over HTTPS, the redirect on plain HTTP; compare it with
    the rules. Exit 0 when every declaration matches, 1 on any drift, 2 on usage errors."""
    settings = _settings(connect_to, ca_file, timeout)
    rules, origin, lines = _rules(rules_path, required=not hosts)
    names = _hosts(hosts, rules)
    from rewriter.status.drift import compare, suggestion
    from rewriter.status.probe import probe_hosts

    observations = probe_hosts(names, settings)
    differences = compare(rules, observations, lines) if rules is not None else []
    if suggest:
        sys.stdout.write(suggestion(observations, rules.hosts if rules else ()))
        for difference in differences:
            click.echo(_render(difference, origin), err=True)
    elif fmt == "json":
        json.dump(_json(observations, differences, origin), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(_table(observations))
        for difference in differences:
            click.echo(_render(difference, origin))
    drifts = sum(1 for d in differences if d.kind == "drift")
    notes = len(differences) - drifts
    compared = f" against {origin}" if rules is not None else " (no rules: nothing compared)"
    click.echo(
        f"probed {_plural(len(observations), 'host')}{compared}: "
        f"{_plural(drifts, 'drift')}, {_plural(notes, 'note')}",
        err=True,
    )
    sys.exit(ExitCode.FINDINGS if drifts else ExitCode.OK)


def _settings(connect_to: Sequence[str], ca_file: Path | None, timeout: float) -> ProbeSettings:
    import ssl

    from rewriter.status.probe import ProbeSettings, parse_connect_to

    rules = []
    for text in connect_to:
        try:
            rules.append(parse_connect_to(text))
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--connect-to") from None
    if ca_file is not None:
        try:
            ssl.create_default_context(cafile=str(ca_file))
        except (OSError, ssl.SSLError) as error:
            message = f"{ca_file}: not a readable PEM file of CA certificates ({error})"
            raise click.BadParameter(message, param_hint="--ca-file") from None
    return ProbeSettings(tuple(rules), ca_file, timeout)


def _rules(
    rules_path: Path | None, *, required: bool
) -> tuple[Rules | None, str, dict[str, HostLines]]:
    from rewriter.rules.loader import RulesError, find_rules, host_lines, load_rules

    path = rules_path or find_rules(Path.cwd())
    if path is None:
        if required:
            raise click.UsageError(
                "no rules and no hosts: pass --rules FILE, put a rewriter.yaml here, or name hosts"
            )
        return None, "", {}
    try:
        return load_rules(path), str(path), host_lines(path)
    except RulesError as error:
        raise click.UsageError(str(error)) from None


def _hosts(given: Sequence[str], rules: Rules | None) -> list[str]:
    from rewriter.status.drift import probed_hosts
    from rewriter.web.urls import HostError, normalize_host

    if not given:
        assert rules is not None
        return probed_hosts(rules)
    names = []
    for text in given:
        try:
            names.append(normalize_host(text))
        except HostError as error:
            raise click.BadParameter(str(error), param_hint="HOSTS") from None
    return list(dict.fromkeys(names))


def _plural(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _render(difference: Difference, origin: str) -> str:
    return difference.render(origin or "(no rules)")


# --- output -------------------------------------------------------------------------------------


def _table(observations: Sequence[Observation]) -> str:
    lines = []
    for observation in observations:
        lines.append(observation.host)
        lines.append(f"  certificate  {_certificate_text(observation)}")
        lines.append(f"  hsts         {_hsts_text(observation)}")
        lines.append(f"  http         {_http_text(observation)}")
    return "\n".join(lines) + "\n" if lines else ""


def _certificate_text(observation: Observation) -> str:
    tls = observation.tls
    certificate = tls.certificate
    if certificate is None:
        return f"none: {tls.problem()}"
    names = ", ".join(certificate.names) or f"no DNS names (CN {certificate.common_name})"
    dates = (
        f"{certificate.not_before.date().isoformat()} to {certificate.not_after.date().isoformat()}"
    )
    if tls.valid:
        return f"valid for {names}, {dates}"
    return f"refused by browsers: {tls.problem()}; for {names}, {dates}"


def _hsts_text(observation: Observation) -> str:
    if observation.hsts is not None:
        return observation.hsts.describe()
    if observation.hsts_error is not None:
        return f"not read: {observation.hsts_error}"
    return "not read: no valid certificate (browsers ignore the header then)"


def _http_text(observation: Observation) -> str:
    http = observation.http
    if http.error is not None:
        return f"unreachable: {http.error}"
    if http.location is None:
        return f"{http.status}, no redirect: http:// clicks are served in plaintext"
    target = "https" if http.redirects_to_https() else "plain http"
    return f"{http.status} redirect to {http.location} ({target})"


def _json(
    observations: Sequence[Observation], differences: Sequence[Difference], origin: str
) -> dict[str, Any]:
    return {
        "rules": origin or None,
        "hosts": [_observation_json(o) for o in observations],
        "differences": [
            {"kind": d.kind, "host": d.host, "line": d.line, "message": d.message}
            for d in differences
        ],
    }


def _observation_json(observation: Observation) -> dict[str, Any]:
    tls = observation.tls
    certificate = tls.certificate
    hsts = observation.hsts
    return {
        "host": observation.host,
        "certificate": {
            "valid": tls.valid,
            "problem": tls.problem(),
            "names": list(certificate.names) if certificate else None,
            "not_before": certificate.not_before.isoformat() if certificate else None,
            "not_after": certificate.not_after.isoformat() if certificate else None,
        },
        "hsts": None
        if hsts is None
        else {
            "header": hsts.raw,
            "headers": hsts.count,
            "max_age": hsts.policy.max_age if hsts.policy else None,
            "include_subdomains": hsts.policy.include_subdomains if hsts.policy else None,
            "preload_directive": hsts.policy.preload_directive if hsts.policy else None,
            "problem": hsts.problem,
        },
        "hsts_error": observation.hsts_error,
        "http": {
            "error": observation.http.error,
            "status": observation.http.status,
            "location": observation.http.location,
            "redirects_to_https": observation.http.redirects_to_https(),
        },
    }


# --- check --probe ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProbeRequest:
    """What `check --probe` was asked: where to connect (tests, split horizons)."""

    connect_to: tuple[str, ...] = ()
    ca_file: Path | None = None
    timeout: float = 5.0


def observed(request: ProbeRequest) -> Callable[[Rules], Rules]:
    """For `check --probe`: a function that probes the rules' hosts, prints on stderr where the
    servers differ from the rules, and returns the rules with the facts observed. Raises
    click.BadParameter for a bad --connect-to (before any network use)."""
    settings = _settings(request.connect_to, request.ca_file, request.timeout)

    def judge_with_observations(rules: Rules) -> Rules:
        from rewriter.rules.loader import RulesError, host_lines
        from rewriter.status.drift import compare, probed_hosts, rules_as_observed
        from rewriter.status.probe import probe_hosts

        observations = probe_hosts(probed_hosts(rules), settings)
        origin = str(rules.source) if rules.source else "rules"
        try:
            lines = host_lines(rules.source) if rules.source else {}
        except RulesError:
            lines = {}
        differences = compare(rules, observations, lines)
        for difference in differences:
            click.echo(f"probe: {_render(difference, origin)}", err=True)
        drifts = sum(1 for d in differences if d.kind == "drift")
        click.echo(
            f"probe: {_plural(len(observations), 'host')} probed, {_plural(drifts, 'drift')}: "
            "judging with what the servers do",
            err=True,
        )
        return rules_as_observed(rules, observations)

    return judge_with_observations


# --- preload-list -------------------------------------------------------------------------------


@click.group("preload-list", context_settings=CONTEXT_SETTINGS)
def preload_list() -> None:
    """Chromium's HSTS preload list: fetch the current one (network), show the one kept.
    Use it with --preload-list fetched, or preload_list: {source: fetched} in the rules."""


@preload_list.command()
@click.option("--url", default=None, metavar="URL",
              help="A mirror serving the JSON or its base64 (default: Chromium's).")  # fmt: skip
@click.option("--force", is_flag=True, help="Store a list of fewer than 10,000 entries.")
@_timeout_option(60.0)
def fetch(url: str | None, force: bool, timeout: float) -> None:
    """Download Chromium's transport_security_state_static.json, check it, and keep it in the
    cache folder with the date and its SHA-256. Never runs by itself. Exit 0 stored, 1 nothing
    stored (the list kept before stays in use), 2 usage."""
    import datetime

    from rewriter.batch.factory import cache_dir
    from rewriter.status import fetch_list
    from rewriter.status.fetched import store

    source = url or fetch_list.DEFAULT_URL
    try:
        fetch_list.check_url(source)
    except fetch_list.UrlError as error:
        raise click.BadParameter(str(error), param_hint="--url") from None
    started = datetime.datetime.now(datetime.UTC)
    try:
        body, final = fetch_list.download(source, timeout)
        checked = fetch_list.check_list(fetch_list.decode(body), force=force)
    except fetch_list.FetchError as error:
        click.echo(f"rewriter: preload list not stored: {error}", err=True)
        sys.exit(ExitCode.FINDINGS)
    try:
        kept = store(
            cache_dir(), checked.data, final, started, checked.entries, checked.force_https
        )
    except OSError as error:
        click.echo(f"rewriter: {cache_dir()}: cannot write: {error.strerror or error}", err=True)
        sys.exit(ExitCode.FINDINGS)
    click.echo(
        f"stored the {kept.describe()}: {checked.entries:,} entries, "
        f"{checked.force_https:,} force-https, in {kept.path}",
        err=True,
    )
    sys.exit(ExitCode.OK)


@preload_list.command()
def show() -> None:
    """Name the list kept by the last fetch, its date and SHA-256; exit 1 if there is none."""
    from rewriter.batch.factory import cache_dir
    from rewriter.status.fetched import current
    from rewriter.status.preload import PreloadListError

    try:
        kept = current(cache_dir())
    except PreloadListError as error:
        click.echo(f"rewriter: {error}", err=True)
        sys.exit(ExitCode.FINDINGS)
    click.echo(f"{kept.describe()}: {kept.entries:,} entries, {kept.force_https:,} force-https")
    click.echo(f"sha256 {kept.sha256}, fetched {kept.fetched.isoformat()}, in {kept.path}")
    sys.exit(ExitCode.OK)
