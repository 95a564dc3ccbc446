"""The `rewriter` command: a thin layer over the library.

Data goes to stdout (rewritten documents, diffs, link tables); messages go to stderr. The exit
codes are those of `report.ExitCode`.
"""

from __future__ import annotations

import datetime
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import click

from rewriter.batch.report import ExitCode

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class UsageFailure(click.UsageError):
    exit_code = ExitCode.USAGE


# Commands of the larger layers, imported only when named: the pre-send path (`rewrite -`,
# `check -`) must not pay for the service, the relay or the probe at every start.
LAZY_COMMANDS: dict[str, str] = {
    "serve": "rewriter.serve.command:serve",
}


class _Commands(click.Group):
    """A group that imports a lazy command's module only when that command runs or is listed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            module, _, attribute = LAZY_COMMANDS[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Commands, context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="rewriter")
def main() -> None:
    """Rewrite the links of email templates into signed, branded tracking links, byte for byte,
    and tell, link by link, whether a click will be served securely."""


_rules_option = click.option(
    "--rules",
    "rules_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The rules file (default: rewriter.yaml in this folder or a parent).",
)
_include_option = click.option(
    "--include", multiple=True, help="Glob of files to take in folders (repeatable)."
)
_exclude_option = click.option(
    "--exclude", multiple=True, help="Glob of files to leave out (repeatable)."
)
_preload_option = click.option(
    "--preload-list",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A Chromium transport_security_state_static.json to use instead of the bundled list.",
)


@main.command()
@click.argument("paths", nargs=-1, required=True)
@_rules_option
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write the rewritten tree under this folder.")  # fmt: skip
@click.option("--in-place", is_flag=True, help="Rewrite the files themselves (atomically).")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if anything would change.")
@click.option("--diff", is_flag=True, help="Write nothing; print a unified diff.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write one JSON object per link to this file.")  # fmt: skip
@_include_option
@_exclude_option
@_preload_option
@click.option("--workers", type=click.IntRange(min=1),
              help="Worker processes (default: the processors this process may use).")  # fmt: skip
@click.option("--no-cache", is_flag=True, help="Process every file, even those unchanged.")
@click.option("--fast", is_flag=True,
              help="Skip the independent safety check; keep the byte comparison.")  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
def rewrite(
    paths: tuple[str, ...],
    rules_path: Path | None,
    out_dir: Path | None,
    in_place: bool,
    check: bool,
    diff: bool,
    report_path: Path | None,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    preload_list: Path | None,
    workers: int | None,
    no_cache: bool,
    fast: bool,
    quiet: bool,
) -> None:
    """Rewrite every outbound link in PATHS (files, folders, or - for stdin to stdout)."""
    from rewriter.cli import commands

    mode = _write_mode(paths, out_dir, in_place, check, diff)
    code = commands.rewrite(
        commands.RewriteOptions(
            paths=paths,
            rules_path=rules_path,
            mode=mode,
            out_dir=out_dir,
            report_path=report_path,
            include=include,
            exclude=exclude,
            preload_list=preload_list,
            quiet=quiet,
            workers=workers,
            use_cache=not no_cache,
            fast=fast,
        )
    )
    sys.exit(code)


def _write_mode(
    paths: Sequence[str], out_dir: Path | None, in_place: bool, check: bool, diff: bool
) -> str:
    chosen = [
        name
        for name, on in (
            ("--out", out_dir is not None),
            ("--in-place", in_place),
            ("--check", check),
            ("--diff", diff),
        )
        if on
    ]
    if len(chosen) > 1:
        raise UsageFailure(f"choose one of {', '.join(chosen)}")
    if "-" in paths:
        if len(paths) > 1:
            raise UsageFailure("- (stdin) cannot be combined with other paths")
        if out_dir is not None or in_place:
            raise UsageFailure("- (stdin) writes to stdout: --out and --in-place do not apply")
        return "check" if check else "diff" if diff else "stdout"
    if not chosen:
        raise UsageFailure(
            "say where the output goes: --out DIR or --in-place (or --check, --diff)"
        )
    return chosen[0].lstrip("-")


@main.command()
@click.argument("paths", nargs=-1, required=True)
@_rules_option
@click.option("--format", "fmt", type=click.Choice(["table", "json", "ndjson", "csv"]),
              help="Output format (default: table on a terminal, else ndjson).")  # fmt: skip
@_include_option
@_exclude_option
@_preload_option
def links(
    paths: tuple[str, ...],
    rules_path: Path | None,
    fmt: str | None,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    preload_list: Path | None,
) -> None:
    """List every link in PATHS (or - for stdin) with its action, status and reasons."""
    from rewriter.cli import commands

    options = commands.InspectOptions(paths, rules_path, preload_list, include, exclude)
    sys.exit(commands.links(options, fmt))


@main.command()
@click.argument("paths", nargs=-1, required=True)
@_rules_option
@click.option("--fail-on", default="broken", show_default=True,
              help="Comma-separated statuses that fail the check.")  # fmt: skip
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Judge certificate dates as of this day (default: today).")  # fmt: skip
@_include_option
@_exclude_option
@_preload_option
def check(
    paths: tuple[str, ...],
    rules_path: Path | None,
    fail_on: str,
    as_of: datetime.datetime | None,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    preload_list: Path | None,
) -> None:
    """Fail (exit 1) when a click on a link in PATHS (or - for stdin) would not be served as
    required; needs no key."""
    from rewriter.cli import commands
    from rewriter.status.notices import parse_fail_on

    try:
        statuses = parse_fail_on(fail_on)
    except ValueError as error:
        raise UsageFailure(f"--fail-on: {error}") from None
    day = as_of.date() if as_of is not None else datetime.date.today()
    options = commands.InspectOptions(paths, rules_path, preload_list, include, exclude)
    sys.exit(commands.check(options, statuses, day))


@main.command()
@click.argument("urls", nargs=-1, required=True)
@_rules_option
def resolve(urls: tuple[str, ...], rules_path: Path | None) -> None:
    """Print the destination of each tracking link; exit 1 if any is forged or unknown."""
    from rewriter.cli import commands

    sys.exit(commands.resolve(urls, rules_path))


@main.command()
@click.option("--domain", default="go.example.com", show_default=True,
              help="Your branded tracking domain.")  # fmt: skip
@click.option("--rules-file", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("rewriter.yaml"), show_default=True)  # fmt: skip
@click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("rewriter.keys"), show_default=True)  # fmt: skip
def init(domain: str, rules_file: Path, key_file: Path) -> None:
    """Write a starter rules file and a fresh key file (mode 0600); never overwrites."""
    from rewriter.cli import commands

    sys.exit(commands.init(domain, rules_file, key_file))


def fail(message: str, code: ExitCode = ExitCode.USAGE) -> NoReturn:
    click.echo(f"rewriter: {message}", err=True)
    sys.exit(code)
