"""`rewriter relay`: the SMTP relay as a command (registered lazily in cli/main.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from rewriter.batch.report import ExitCode

if TYPE_CHECKING:
    from rewriter.mail.relay import Gate, RelayServer
    from rewriter.status.notices import FailOn


def _address(text: str, option: str, default_port: int) -> tuple[str, int]:
    """HOST:PORT, [IPv6]:PORT, or HOST (the default port)."""
    host, port = text, str(default_port)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or port
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise click.BadParameter(f"expected HOST:PORT (got {text!r})", param_hint=option)
    return host, int(port)


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--rules",
    "rules_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The rules file (default: rewriter.yaml in this folder or a parent).",
)
@click.option(
    "--listen",
    default="127.0.0.1:2525",
    show_default=True,
    help="Where to listen (port 0: a free port, printed).",
)
@click.option("--upstream", required=True, help="The next hop's HOST:PORT (your MTA or ESP).")
@click.option(
    "--upstream-tls",
    type=click.Choice(["starttls", "tls", "none"]),
    default="starttls",
    show_default=True,
    help="How to reach the upstream; certificates are verified.",
)
@click.option(
    "--upstream-ca",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A CA certificate file for a private upstream certificate.",
)
@click.option("--upstream-user", help="Authenticate to the upstream as this user.")
@click.option(
    "--upstream-password-env",
    metavar="VAR",
    help="The environment variable holding the upstream password.",
)
@click.option(
    "--upstream-timeout",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="Seconds to wait for the upstream.",
)
@click.option(
    "--fail-on",
    default="broken",
    show_default=True,
    help="Comma-separated statuses that refuse a message (550).",
)
@click.option(
    "--preload-list",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A Chromium transport_security_state_static.json to use.",
)
@click.option("--fast", is_flag=True, help="Skip the independent safety check per message.")
@click.option("-v", "--verbose", is_flag=True, help="Log each session to stderr.")
def relay(
    rules_path: Path | None,
    listen: str,
    upstream: str,
    upstream_tls: str,
    upstream_ca: Path | None,
    upstream_user: str | None,
    upstream_password_env: str | None,
    upstream_timeout: float,
    fail_on: str,
    preload_list: Path | None,
    fast: bool,
    verbose: bool,
) -> None:
    """An SMTP relay that rewrites and checks every message, then sends it on to --upstream
    with the same envelope. It offers no AUTH to its clients: it serves the networks the rules
    allow (loopback by default)."""
    from rewriter.status.notices import parse_fail_on

    listen_host, listen_port = _address(listen, "--listen", 2525)
    up_host, up_port = _address(upstream, "--upstream", 25)
    try:
        statuses = parse_fail_on(fail_on)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--fail-on") from None
    password = None
    if upstream_user is not None:
        password = os.environ.get(upstream_password_env or "")
        if password is None:
            _fail("--upstream-user needs --upstream-password-env naming a variable that is set")
        if upstream_tls == "none":
            _fail("--upstream-user over --upstream-tls none would send the password in clear")
    gate = _gate(rules_path, preload_list, statuses, fast)
    if verbose:
        import logging

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    from rewriter.mail.relay import RelayServer, RelaySettings, UpstreamSettings

    settings = UpstreamSettings(
        up_host, up_port, upstream_tls, upstream_user, password, upstream_ca, upstream_timeout
    )
    mail = gate.engine.rules.mail
    server = RelayServer(gate, settings, RelaySettings(mail.relay_networks, mail.max_message_bytes))
    sys.exit(asyncio.run(_serve(server, listen_host, listen_port)))


def _gate(rules_path: Path | None, preload_list: Path | None, statuses: FailOn, fast: bool) -> Gate:
    from rewriter.batch.factory import SetupError, load_preload_list, make_rewriter
    from rewriter.cli.common import CommandError, load_rules
    from rewriter.mail.relay import Gate

    try:
        rules = load_rules(rules_path)
        engine = make_rewriter(rules, keys=True, preload=load_preload_list(rules, preload_list))
    except (CommandError, SetupError) as error:
        _fail(str(error))
    import socket

    return Gate(engine, statuses, safe=not fast, hostname=socket.gethostname())


async def _serve(server: RelayServer, host: str, port: int) -> int:
    from rewriter.mail.relay import cancel_sessions

    try:
        bound_host, bound_port = await server.start(host, port)
    except OSError as error:
        _fail(f"cannot listen on {host}:{port}: {error.strerror or error}")
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    click.echo(f"rewriter relay: listening on {shown}:{bound_port}", err=True)
    sys.stderr.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.close()
    await cancel_sessions()
    return ExitCode.OK


def _fail(message: str) -> NoReturn:
    click.echo(f"rewriter: {message}", err=True)
    sys.exit(ExitCode.USAGE)
