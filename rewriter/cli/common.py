"""What every command shares: rules loading, the options that change them, the messages, the
click options of several commands. No command's own logic."""

from __future__ import annotations

import dataclasses
import datetime
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from rewriter.batch.report import ExitCode, FileOutcome, FileState

if TYPE_CHECKING:
    from rewriter.rules.model import Rules
    from rewriter.status.preload import PreloadList


class CommandError(Exception):
    """Stops a command with a message and an exit code (usage and rules errors)."""

    def __init__(self, message: str, code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.code = code


class UsageFailure(click.UsageError):
    exit_code = ExitCode.USAGE


def err(message: str) -> None:
    sys.stderr.write(message + "\n")


def plural(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def load_rules(rules_path: Path | None, *, remember: bool = False) -> Rules:
    from rewriter.batch.factory import load_rules_remembered
    from rewriter.rules.errors import RulesError

    path = rules_path
    if path is None:
        from rewriter.rules.loader import find_rules  # the reader itself: only when searching

        path = find_rules(Path.cwd())
    if path is None:
        raise CommandError("no rules: pass --rules FILE or put a rewriter.yaml here or in a parent")
    try:
        return load_rules_remembered(path, remember=remember)
    except RulesError as error:
        raise CommandError(str(error)) from None
    except OSError as error:
        raise CommandError(f"{path}: cannot read: {error.strerror or error}") from None


def with_options(rules: Rules, context: str | None, *, annotate: bool = True) -> Rules:
    """The rules as the command-line options change them. Changed rules have another digest,
    so the cache keys on the options too."""
    from rewriter.rules.model import ContextMode
    from rewriter.tokens.context import context_problem

    if context is not None:
        problem = context_problem(context)
        if problem is not None:
            raise CommandError(f"--context {context!r}: {problem}")
        rules = dataclasses.replace(rules, context=ContextMode.CAMPAIGN, campaign=context)
    if not annotate:
        rules = dataclasses.replace(rules, annotate=False)
    return rules


def warn_if_stale(preload: PreloadList, rules: Rules, quiet: bool = False) -> None:
    """A list older than the rules allow: said once, by `links` and `check` and by `rewrite`
    (it writes statuses into the HTML); quiet means errors only."""
    from rewriter.status.preload import freshness_warning

    if quiet:
        return
    warning = freshness_warning(preload, datetime.date.today(), rules.preload_list_max_age_days)
    if warning:
        err(f"warning: {warning}")


def preload_label(preload: PreloadList) -> str:
    """The list's name and date, as every output names it."""
    dated = preload.date.isoformat() if preload.date else "undated"
    return f"{preload.name}, dated {dated}"


def refuse_unusable_paths(paths: Sequence[str]) -> None:
    """A path given that does not exist is a usage error, before any work (not a failed file)."""
    from rewriter.batch.sources import unusable_paths

    errors = unusable_paths(paths)
    if errors:
        raise CommandError("; ".join(f"{error.display}: {error.reason}" for error in errors))


def wants_colour(option: bool | None) -> bool:
    """`--color`/`--no-color` when given, else colour on a terminal unless NO_COLOR is set
    (as black does)."""
    import os

    if option is not None:
        return option
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def coloured_diff(diff: bytes) -> bytes:
    """A unified diff with ANSI colours: file names bold, hunks cyan, removals red, additions
    green (the document's own bytes are untouched between the codes)."""
    styles = ((b"+++", b"1"), (b"---", b"1"), (b"@@", b"36"), (b"-", b"31"), (b"+", b"32"))
    lines = []
    for line in diff.splitlines(keepends=True):
        code = next((style for prefix, style in styles if line.startswith(prefix)), None)
        if code is None:
            lines.append(line)
            continue
        body = line.rstrip(b"\r\n")
        lines.append(b"\x1b[" + code + b"m" + body + b"\x1b[0m" + line[len(body) :])
    return b"".join(lines)


def nothing_found(paths: Sequence[str]) -> str:
    return f"no templates found under {', '.join(paths)}"


def stdin_only(paths: Sequence[str], stdin_filename: str | None) -> None:
    if stdin_filename is not None and list(paths) != ["-"]:
        raise UsageFailure("--stdin-filename names the document read from -: give - as the path")


# Options that several commands take.
rules_option = click.option(
    "--rules",
    "rules_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The rules file (default: rewriter.yaml in this folder or a parent).",
)
include_option = click.option(
    "--include", multiple=True, help="Glob of files to take in folders (repeatable)."
)
exclude_option = click.option(
    "--exclude", multiple=True, help="Glob of files to leave out (repeatable)."
)
stdin_filename_option = click.option(
    "--stdin-filename",
    metavar="NAME",
    help="The name of the document read from - (stdin): its attribution and its name in messages.",
)
context_option = click.option(
    "--context",
    metavar="VALUE",
    help="The attribution every tracking link carries (a campaign or message id), instead of"
    " the rules' (never an email address: anyone holding a link can read it).",
)


class _PreloadListPath(click.Path):
    """A file, or `fetched`: the list `preload-list fetch` kept (a file so named is ./fetched)."""

    def convert(
        self,
        value: str | os.PathLike[str],
        param: click.Parameter | None,
        ctx: click.Context | None,
    ) -> str | bytes | os.PathLike[str]:
        if value == "fetched":
            from rewriter.rules.model import FETCHED_PRELOAD_LIST

            return FETCHED_PRELOAD_LIST
        return super().convert(value, param, ctx)


input_format_option = click.option(
    "--input-format",
    type=click.Choice(["html", "txt", "eml"]),
    help="Read every input as this (default: by extension, .eml a message, .txt plain text,"
    " else HTML; stdin is HTML).",
)


preload_option = click.option(
    "--preload-list",
    type=_PreloadListPath(dir_okay=False, path_type=Path),
    help="A Chromium transport_security_state_static.json to use instead of the bundled list,"
    " or `fetched` for the one `preload-list fetch` kept.",
)


def show_outcome(
    outcome: FileOutcome, quiet: bool, *, name_changed: bool = True, colour: bool = False
) -> None:
    """A document's messages on stderr, its diff on stdout."""
    if outcome.message:
        err(outcome.message)
    if not quiet:  # quiet: errors only
        for warning in outcome.warnings:
            err(f"warning: {warning}")
    if outcome.diff:
        sys.stdout.flush()
        sys.stdout.buffer.write(coloured_diff(outcome.diff) if colour else outcome.diff)
        sys.stdout.flush()
    elif (
        name_changed
        and not quiet
        and outcome.state in (FileState.REWRITTEN, FileState.WOULD_CHANGE)
    ):
        err(f"{outcome.state} {outcome.display}")


color_option = click.option(
    "--color/--no-color",
    "color",
    default=None,
    help="Colour the diff (default: on a terminal, unless NO_COLOR is set).",
)
