"""The `rewriter serve` command: click options only; `server.run` does the work."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from rewriter.serve.tls import CertificatePair


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--rules", "rules_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The rules file (default: rewriter.yaml here or in a parent).")  # fmt: skip
@click.option("--http", "http_addresses", multiple=True, metavar="ADDR:PORT",
              help="Serve plain HTTP here (repeatable; port 0: a free port).")  # fmt: skip
@click.option("--https", "https_addresses", multiple=True, metavar="ADDR:PORT",
              help="Serve HTTPS here (repeatable; needs --certfile and --keyfile).")  # fmt: skip
@click.option("--certfile", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="A PEM certificate chain (repeatable: one per domain, chosen by SNI; "
                   "the first is the default).")  # fmt: skip
@click.option("--keyfile", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The key of each --certfile, in the same order.")  # fmt: skip
@click.option("--workers", type=click.IntRange(min=1),
              help="Worker processes, each serving every listener (not per listener). "
                   "Default: one per usable processor.")  # fmt: skip
@click.option("--graceful-timeout", type=click.FloatRange(min=0), default=20.0, show_default=True,
              help="Seconds given to requests in flight at SIGTERM.")  # fmt: skip
@click.option("--token-cache", type=click.IntRange(min=0), default=10_000, show_default=True,
              help="Verified tokens each worker remembers (0: verify every click).")  # fmt: skip
@click.option("--clicks", "clicks", metavar="URL",
              help="Where clicks are stored: sqlite:///PATH, postgresql://..., jsonl:PATH, "
                   "jsonl:-, or `log` (one JSON line each on stderr, nothing stored). "
                   "Default: clicks.store in the rules, else clicks.sqlite3 in the user's "
                   "data folder.")  # fmt: skip
def serve(
    rules_path: Path | None,
    http_addresses: tuple[str, ...],
    https_addresses: tuple[str, ...],
    certfile: tuple[Path, ...],
    keyfile: tuple[Path, ...],
    workers: int | None,
    graceful_timeout: float,
    token_cache: int,
    clicks: str | None,
) -> None:
    """Answer every tracking link: verify its token, record the click, redirect (302).

    Listens only where told, on HTTP and HTTPS at once, and prints the addresses it bound on
    stderr. SIGHUP reloads the rules, keys, legacy link map, kill switch and certificates
    without closing connections; SIGTERM finishes the requests in flight, stores the clicks
    still queued, and stops. Each worker records clicks through a bounded queue into the click
    store (never slowing a redirect: a full queue drops and counts, shown by /healthz and at
    shutdown). One access-log line per request goes to stderr.
    """
    from rewriter.rules.loader import find_rules
    from rewriter.serve import server

    usage = click.UsageError
    if not http_addresses and not https_addresses:
        raise usage("say where to listen: --http ADDR:PORT and/or --https ADDR:PORT")
    if https_addresses and not certfile:
        raise usage("--https needs --certfile and --keyfile")
    if len(certfile) != len(keyfile):
        raise usage("give one --keyfile for each --certfile, in the same order")
    if certfile and not https_addresses:
        raise usage("--certfile is used only with --https")
    try:
        listeners = tuple(server.parse_address(a, False) for a in http_addresses) + tuple(
            server.parse_address(a, True) for a in https_addresses
        )
    except ValueError as error:
        raise usage(str(error)) from None
    if rules_path is None:
        rules_path = find_rules(Path.cwd())
        if rules_path is None:
            raise usage("no rules: give --rules FILE (or put rewriter.yaml in this folder)")
    options = server.ServeOptions(
        rules_path=rules_path,
        listeners=listeners,
        certificates=tuple(CertificatePair(c, k) for c, k in zip(certfile, keyfile, strict=True)),
        workers=workers or server.default_workers(),
        graceful_seconds=graceful_timeout,
        token_cache=token_cache,
        clicks=clicks,
    )
    sys.exit(server.run(options))
