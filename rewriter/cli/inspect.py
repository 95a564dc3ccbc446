"""`rewriter links` and `rewriter check`: documents read through the one document path in
inspect mode (nothing is written), their links listed or judged."""

from __future__ import annotations

import dataclasses
import datetime
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from rewriter.batch.job import Job, Mode
from rewriter.batch.report import FileOutcome, Report
from rewriter.cli.common import (
    CommandError,
    UsageFailure,
    context_option,
    err,
    exclude_option,
    include_option,
    input_format_option,
    load_rules,
    nothing_found,
    plural,
    preload_label,
    preload_option,
    refuse_unusable_paths,
    rules_option,
    stdin_filename_option,
    stdin_only,
    warn_if_stale,
    with_options,
)

if TYPE_CHECKING:
    from rewriter.document.engine import Rewriter
    from rewriter.rules.model import Rules
    from rewriter.status.notices import FailOn

INSPECT = Job(Mode.INSPECT, safe=False, keep_links=True)


@dataclass(frozen=True, slots=True)
class InspectOptions:
    paths: Sequence[str]
    rules_path: Path | None
    preload_list: Path | None = None
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    stdin_filename: str | None = None  # `-`'s name: attribution and messages
    context: str | None = None  # the attribution of every link, instead of the rules'
    input_format: str | None = None  # html | txt | eml; None: by extension (stdin: html)


def _document_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options of every command that reads documents the way `rewrite` does."""
    for option in reversed(
        (
            include_option,
            exclude_option,
            preload_option,
            stdin_filename_option,
            context_option,
            input_format_option,
        )
    ):
        command = option(command)
    return command


@click.command()
@click.argument("paths", nargs=-1, required=True)
@rules_option
@click.option("--format", "fmt", type=click.Choice(["table", "json", "ndjson", "csv", "html"]),
              help="Output format (default: table on a terminal, else ndjson).")  # fmt: skip
@_document_options
def links(paths: tuple[str, ...], fmt: str | None, **options: object) -> None:
    """List every link in PATHS (or - for stdin) with its action, status and reasons."""
    stdin_only(paths, options["stdin_filename"])  # type: ignore[arg-type]
    sys.exit(run_links(InspectOptions(paths, **options), fmt))  # type: ignore[arg-type]


@click.command()
@click.argument("paths", nargs=-1, required=True)
@rules_option
@click.option("--fail-on", default="broken", show_default=True,
              help="Comma-separated statuses and notice codes that fail the check besides broken"
                   " (which always does): unknown, insecure, secure-after-first-visit, secure;"
                   " unverified, clip, max-links, url-length, https-possible,"
                   " certificate-expired, certificate-expiring, certificate-overdue.")  # fmt: skip
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Judge certificate dates as of this day (default: today).")  # fmt: skip
@_document_options
@click.option("--probe", is_flag=True,
              help="Probe the rules' hosts first; judge with what they serve.")  # fmt: skip
@click.option("--connect-to", multiple=True, metavar="HOST:PORT:ADDR:PORT",
              help="With --probe: connect to ADDR:PORT for HOST:PORT, as curl's.")  # fmt: skip
def check(
    paths: tuple[str, ...],
    fail_on: str,
    as_of: datetime.datetime | None,
    probe: bool,
    connect_to: tuple[str, ...],
    **options: object,
) -> None:
    """Fail (exit 1) when a click on a link in PATHS (or - for stdin) would not be served as
    required; needs no key."""
    from rewriter.status.notices import parse_fail_on

    try:
        chosen = parse_fail_on(fail_on)
    except ValueError as error:
        raise UsageFailure(f"--fail-on: {error}") from None
    stdin_only(paths, options["stdin_filename"])  # type: ignore[arg-type]
    day = as_of.date() if as_of is not None else datetime.date.today()
    observe = None
    if probe or connect_to:
        if not probe:
            raise UsageFailure("--connect-to applies only with --probe")
        from rewriter.status.commands import ProbeRequest, observed

        observe = observed(ProbeRequest(connect_to))
    inspect = InspectOptions(paths, **options)  # type: ignore[arg-type]
    sys.exit(run_check(inspect, chosen, day, observe))


def inspector(
    options: InspectOptions,
    *,
    link_texts: bool = True,
    observe: Callable[[Rules], Rules] | None = None,
) -> tuple[Rules, Rewriter, str]:
    """Rules, an engine that needs no key (but verifies tokens when a key is at hand), and the
    preload list's name and date. Warns once on stderr when the list is old. `observe` (from
    `check --probe`) replaces the declared host facts with those the servers show."""
    from rewriter.batch.factory import SetupError, build_engine, load_preload_list
    from rewriter.batch.job import EngineSettings, KeyUse

    rules = with_options(load_rules(options.rules_path), options.context)
    if observe is not None:
        rules = observe(rules)
    try:
        preload = load_preload_list(rules, options.preload_list)
        warn_if_stale(preload, rules)
        settings = EngineSettings(rules, options.preload_list, KeyUse.VERIFY, link_texts)
        engine = build_engine(settings, preload=preload)
    except SetupError as error:
        raise CommandError(str(error)) from None
    return rules, engine, preload_label(preload)


def _outcomes(engine: Rewriter, options: InspectOptions) -> Iterator[FileOutcome]:
    """Each document inspected, stdin for `-`, else files and folders in sorted order."""
    from rewriter.batch.process import failed_outcome, process
    from rewriter.batch.sources import PathError, StdinSource, iter_sources

    job = dataclasses.replace(INSPECT, input_format=options.input_format)
    if list(options.paths) == ["-"]:
        yield process(StdinSource(sys.stdin.buffer.read(), options.stdin_filename or "-"),
                      engine, job)  # fmt: skip
        return
    for item in iter_sources(options.paths, options.include, options.exclude):
        if isinstance(item, PathError):
            yield failed_outcome(item.display, item.reason)
        else:
            yield process(item, engine, job)


def run_links(options: InspectOptions, fmt: str | None) -> int:
    """List every link with its action and status."""
    from rewriter.batch.formats import writer_for

    try:
        refuse_unusable_paths(options.paths)
        _, engine, preload = inspector(options)
    except CommandError as error:
        err(f"rewriter: {error}")
        return error.code
    terminal = sys.stdout.isatty()
    chosen = fmt or ("table" if terminal else "ndjson")
    colour = terminal and chosen == "table" and not os.environ.get("NO_COLOR")
    width = shutil.get_terminal_size().columns if terminal else None
    writer = writer_for(chosen, sys.stdout, preload, colour=colour, width=width)
    report = Report()
    for outcome in _outcomes(engine, options):
        if outcome.message:
            err(outcome.message)
        writer.write(outcome.links)
        report.add(outcome)
    writer.finish()
    if not report.processed:
        err(nothing_found(options.paths))
    return report.exit_code


def run_check(
    options: InspectOptions,
    fail_on: FailOn,
    as_of: datetime.date,
    observe: Callable[[Rules], Rules] | None = None,
) -> int:
    """The pre-send gate: one line per violating link, then warnings; exit 1 on any failure.
    With `observe` (`check --probe`), the hosts' facts are those their servers show."""
    from rewriter.batch.report import FileState
    from rewriter.status.notices import (
        estimated_size,
        message_notices,
        rules_notices,
        violation_line,
        violations,
        with_fail_on,
    )

    try:
        refuse_unusable_paths(options.paths)
        rules, engine, preload = inspector(options, observe=observe)
    except CommandError as error:
        err(f"rewriter: {error}")
        return error.code
    report = Report()
    notices = []
    linked = violated = unverified = 0
    for outcome in _outcomes(engine, options):
        report.add(outcome)
        if outcome.state is FileState.FAILED:
            err(outcome.message or f"{outcome.display}: error")
            continue
        linked += len(outcome.links)
        unverified += sum(record.unverified for record in outcome.links)
        for record in violations(outcome.links, fail_on):
            print(violation_line(record, fail_on))
            violated += 1
        size = outcome.size_after
        if size is None:
            size = estimated_size(outcome.size_before or 0, outcome.links, rules)
        estimated = outcome.size_after is None
        notices += message_notices(outcome.display, size, outcome.links, rules, estimated=estimated)
    if not report.processed:
        err(nothing_found(options.paths))
    notices += rules_notices(rules, as_of)
    notices = with_fail_on(notices, fail_on.codes)
    for notice in notices:
        print(notice.line())
    report.findings = violated + sum(1 for notice in notices if notice.level == "failure")
    files = report.processed - report.files[FileState.FAILED]
    print(
        f"checked {plural(files, 'file')}, {plural(linked, 'link')} "
        f"(preload list: {preload}; as of {as_of.isoformat()}): "
        f"{violated} violating, {plural(len(notices), 'notice')}"
        + (f", {unverified} unverified" if unverified else "")
    )
    return report.exit_code
