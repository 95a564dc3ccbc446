"""`rewriter init`: a starter rules file and a fresh key file, never overwriting either."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from rewriter.batch.report import ExitCode
from rewriter.cli.common import err


@click.command()
@click.option("--domain", default="go.example.com", show_default=True,
              help="Your branded tracking domain.")  # fmt: skip
@click.option("--rules-file", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("rewriter.yaml"), show_default=True)  # fmt: skip
@click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("rewriter.keys"), show_default=True)  # fmt: skip
def init(domain: str, rules_file: Path, key_file: Path) -> None:
    """Write a starter rules file and a fresh key file (mode 0600); never overwrites."""
    sys.exit(run_init(domain, rules_file, key_file))


def run_init(domain: str, rules_file: Path, key_file: Path) -> int:
    from rewriter.rules.starter import starter_rules
    from rewriter.tokens.keys import generate_key_file
    from rewriter.web.urls import HostError, normalize_host

    for path in (rules_file, key_file):
        if path.exists():
            err(f"rewriter: {path} exists; not overwriting it")
            return ExitCode.USAGE
    relative_key = os.path.relpath(key_file.resolve(), rules_file.resolve().parent)
    try:
        text = starter_rules(normalize_host(domain), relative_key)
    except HostError as error:
        err(f"rewriter: --domain: {error}")
        return ExitCode.USAGE
    try:
        generate_key_file(key_file)
    except OSError as error:
        err(f"rewriter: {key_file}: cannot write: {error.strerror or error}")
        return ExitCode.USAGE
    try:
        with open(rules_file, "x", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as error:
        key_file.unlink(missing_ok=True)  # both or neither
        err(f"rewriter: {rules_file}: cannot write: {error.strerror or error}")
        return ExitCode.USAGE
    err(f"wrote {rules_file} and {key_file} (mode 0600; keep it secret, keep it out of git)")
    return ExitCode.OK
