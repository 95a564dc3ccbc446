"""The `rewriter` command: a thin layer over the library.

Data goes to stdout (rewritten documents, diffs, link tables); messages go to stderr. The exit
codes are those of `report.ExitCode`.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from rewriter.batch.report import ExitCode

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# Commands of the larger layers, imported only when named: the pre-send path (`rewrite -`,
# `check -`) must not pay for the service, the relay or the probe at every start.
LAZY_COMMANDS: dict[str, str] = {
    "clicks": "rewriter.clicks.command:clicks",
    "diff": "rewriter.diff.command:diff",
    "preload-list": "rewriter.status.commands:preload_list",
    "probe": "rewriter.status.commands:probe",
    "relay": "rewriter.mail.command:relay",
    "serve": "rewriter.serve.command:serve",
}


class _Commands(click.Group):
    """A group that imports a lazy command's module only when that command runs or is listed,
    and handles a stdout that cannot be written for every command."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            module, _, attribute = LAZY_COMMANDS[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Every command: a stdout that cannot be written is one line on stderr and exit 2
        (`rewrite` says 123 itself when files were processed), never a traceback."""
        from rewriter.cli.output import StdoutError, guard_stdout, stdout_failed

        guard_stdout()
        try:
            try:
                return super().main(*args, **kwargs)
            finally:
                sys.stdout.flush()  # here, where a failure can still be reported
        except StdoutError as error:
            stdout_failed(error)
            sys.exit(ExitCode.USAGE)


@click.group(cls=_Commands, context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="rewriter")
def main() -> None:
    """Rewrite the links of email templates into signed, branded tracking links, byte for byte,
    and tell, link by link, whether a click will be served securely."""


def _register() -> None:
    from rewriter.cli.init import init
    from rewriter.cli.inspect import check, links
    from rewriter.cli.resolve import resolve
    from rewriter.cli.rewrite import rewrite

    for command in (rewrite, links, check, resolve, init):
        main.add_command(command)


_register()
