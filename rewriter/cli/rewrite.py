"""`rewriter rewrite`: files, folders or stdin, through the one document path."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from rewriter.batch.job import Job, Mode
from rewriter.batch.report import Report
from rewriter.cli.common import (
    CommandError,
    UsageFailure,
    color_option,
    context_option,
    err,
    exclude_option,
    include_option,
    input_format_option,
    load_rules,
    nothing_found,
    preload_label,
    preload_option,
    refuse_unusable_paths,
    rules_option,
    show_outcome,
    stdin_filename_option,
    stdin_only,
    wants_colour,
    warn_if_stale,
    with_options,
)

if TYPE_CHECKING:
    from rewriter.batch.job import EngineSettings
    from rewriter.batch.sources import PathError, Source
    from rewriter.document.engine import Rewriter
    from rewriter.status.preload import PreloadList

# Up to this size, stdin is read whole, checked, then written; above it, it streams.
STDIN_BUFFER_LIMIT = 16 << 20


@dataclass(frozen=True, slots=True)
class RewriteOptions:
    paths: Sequence[str]
    rules_path: Path | None
    mode: Mode
    out_dir: Path | None = None
    report_path: Path | None = None
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    preload_list: Path | None = None
    quiet: bool = False
    workers: int | None = None  # None: the processors this process may use
    use_cache: bool = True
    fast: bool = False
    stdin_filename: str | None = None  # `-`'s name: attribution and messages
    context: str | None = None  # the attribution of every link, instead of the rules'
    input_format: str | None = None  # html | txt | eml; None: by extension (stdin: html)
    annotate: bool = True  # False: no status attribute (the copy that is sent)
    colour: bool = False  # colour the diff (--color, or a terminal without NO_COLOR)

    @property
    def stdin(self) -> bool:
        return list(self.paths) == ["-"]


@click.command()
@click.argument("paths", nargs=-1, required=True)
@rules_option
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write the rewritten tree under this folder.")  # fmt: skip
@click.option("--in-place", is_flag=True, help="Rewrite the files themselves (atomically).")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if anything would change.")
@click.option("--diff", is_flag=True, help="Write nothing; print a unified diff.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write one JSON object per link to this file (- for stdout).")  # fmt: skip
@include_option
@exclude_option
@preload_option
@click.option("--workers", type=click.IntRange(min=1),
              help="Worker processes (default: the processors this process may use).")  # fmt: skip
@click.option("--no-cache", is_flag=True, help="Process every file, even those unchanged.")
@click.option("--fast", is_flag=True,
              help="Skip the independent safety check; keep the byte comparison.")  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@stdin_filename_option
@context_option
@input_format_option
@click.option("--no-annotate", is_flag=True,
              help="No status attribute (the copy that is sent); removes ours.")  # fmt: skip
@color_option
def rewrite(
    paths: tuple[str, ...],
    out_dir: Path | None,
    in_place: bool,
    check: bool,
    diff: bool,
    no_cache: bool,
    no_annotate: bool,
    color: bool | None,
    **options: object,
) -> None:
    """Rewrite every outbound link in PATHS (files, folders, or - for stdin to stdout)."""
    if "-" in paths and len(paths) > 1:
        raise UsageFailure("- (stdin) cannot be combined with other paths")
    try:
        mode = Mode.from_flags(
            stdin=paths == ("-",), out_dir=out_dir, in_place=in_place, check=check, diff=diff
        )
    except ValueError as error:
        raise UsageFailure(str(error)) from None
    stdin_only(paths, options["stdin_filename"])  # type: ignore[arg-type]
    chosen = RewriteOptions(
        paths, mode=mode, out_dir=out_dir, use_cache=not no_cache, annotate=not no_annotate,
        colour=wants_colour(color), **options,  # type: ignore[arg-type]
    )  # fmt: skip
    sys.exit(run_rewrite(chosen))


def run_rewrite(options: RewriteOptions) -> int:
    from rewriter.cli.output import StdoutError, stdout_failed

    report = Report(check=options.mode.would_change_is_a_finding)
    try:
        _rewrite(options, report)
    except CommandError as error:
        err(f"rewriter: {error}")
        return error.code
    except StdoutError as error:  # a document or a diff was lost: a failed file
        stdout_failed(error)
        report.output_lost = True
    return report.exit_code


def _rewrite(options: RewriteOptions, report: Report) -> None:
    from rewriter.batch.factory import SetupError, build_engine, load_preload_list
    from rewriter.batch.job import EngineSettings

    _refuse_two_streams_on_stdout(options)
    if not options.stdin:
        refuse_unusable_paths(options.paths)
        if options.out_dir is not None:
            _refuse_overwriting_inputs(options.paths, options.out_dir)
    rules = load_rules(options.rules_path, remember=options.use_cache)
    rules = with_options(rules, options.context, annotate=options.annotate)
    # Link texts cost a fifth of the time and only a report shows them.
    settings = EngineSettings(
        rules, options.preload_list, link_texts=options.report_path is not None
    )
    try:
        preload = load_preload_list(rules, options.preload_list)
        engine = build_engine(settings, preload=preload)
    except SetupError as error:
        raise CommandError(str(error)) from None
    warn_if_stale(preload, rules, options.quiet)
    job = Job(
        options.mode,
        options.out_dir,
        safe=not options.fast,
        keep_links=options.report_path is not None,
        fingerprints=_uses_cache(options),
        input_format=options.input_format,
    )
    if options.stdin:
        _rewrite_stdin(engine, job, options, report, preload)
    else:
        _rewrite_files(engine, settings, job, options, report, preload)


def _rewrite_files(
    engine: Rewriter,
    settings: EngineSettings,
    job: Job,
    options: RewriteOptions,
    report: Report,
    preload: PreloadList,
) -> None:
    from rewriter.batch.cache import open_cache
    from rewriter.batch.progress import Progress
    from rewriter.batch.report_file import ReportFile
    from rewriter.batch.runner import available_workers, run, terminate_as_interrupt
    from rewriter.batch.sources import count_sources, take_sources

    sources = _sources(options)
    first, found = take_sources(sources, options.workers or available_workers())
    workers = max(1, found)  # fewer files than workers: fewer workers
    cache = open_cache(engine, preload, job)
    shown = not options.quiet and sys.stderr.isatty()
    progress = Progress(count_sources(_sources(options)) if shown else 0, enabled=shown)
    items = itertools.chain(first, sources)
    report_file = ReportFile(options.report_path, preload_label(preload))
    with report_file, terminate_as_interrupt():
        try:
            for outcome in run(items, job, engine, settings, workers=workers, cache=cache):
                if outcome.message or outcome.warnings or outcome.diff:
                    progress.clear()
                show_outcome(outcome, options.quiet, colour=options.colour)
                report.add(outcome)
                report_file.write(outcome)
                progress.advance()
        except KeyboardInterrupt:
            report.interrupted = True
    progress.clear()
    if cache is not None:
        cache.save()
    if report.interrupted:
        total = count_sources(_sources(options))
        err(f"interrupted after {report.processed} of {total} files; every file written is whole")
        err(report.summary())
    elif not options.quiet:  # quiet: errors only
        err(report.summary() if report.processed else nothing_found(options.paths))


def _rewrite_stdin(
    engine: Rewriter, job: Job, options: RewriteOptions, report: Report, preload: PreloadList
) -> None:
    """A message on stdin: the same path as a file, written to stdout (a very large one is
    rewritten as it streams, in bounded memory)."""
    from rewriter.batch.process import process
    from rewriter.batch.report_file import ReportFile
    from rewriter.batch.sources import StdinSource

    name = options.stdin_filename or "-"
    stdin = sys.stdin.buffer
    head = stdin.read(STDIN_BUFFER_LIMIT + 1)
    with ReportFile(options.report_path, preload_label(preload)) as report_file:
        streams = options.input_format in (None, "html")  # a message or text is read whole
        if len(head) > STDIN_BUFFER_LIMIT and job.mode is Mode.STDOUT and streams:
            from rewriter.cli.stream import stream_stdin

            stream_stdin(engine, job, name, head, stdin, report, report_file, options.quiet)
            return
        outcome = process(StdinSource(head + stdin.read(), name), engine, job)
        if outcome.output is not None:
            _write_stdout(outcome.output)
        show_outcome(outcome, options.quiet, name_changed=False, colour=options.colour)
        report.add(outcome)
        report_file.write(outcome)
    if not options.quiet and job.mode is not Mode.STDOUT:
        err(report.summary())


def _write_stdout(data: bytes) -> None:
    stream = sys.stdout.buffer
    stream.write(data)
    stream.flush()


def _sources(options: RewriteOptions) -> Iterator[Source | PathError]:
    """The files to rewrite, lazily, in sorted order (an output folder inside is not read)."""
    from rewriter.batch.sources import iter_sources

    skip = [options.out_dir] if options.out_dir is not None else []
    return iter_sources(options.paths, options.include, options.exclude, skip)


def _refuse_overwriting_inputs(paths: Sequence[str], out_dir: Path) -> None:
    """`--out` that is an input or a folder above one could write over inputs (or over the
    templates next to them): refuse before anything is written."""
    from rewriter.batch.sources import output_overlap

    overlap = output_overlap(paths, out_dir)
    if overlap is not None:
        given, same = overlap
        where = "would overwrite" if same else "is a folder above"
        raise CommandError(
            f"--out {out_dir} {where} the input {given}: choose another folder (or --in-place)"
        )


def _refuse_two_streams_on_stdout(options: RewriteOptions) -> None:
    """`--report -` writes the report to stdout, so nothing else may go there."""
    if options.report_path != Path("-") or options.mode not in (Mode.STDOUT, Mode.DIFF):
        return
    other = "the diff" if options.mode is Mode.DIFF else "the rewritten document"
    raise CommandError(
        f"--report - would mix the report with {other} on stdout: give --report a file"
    )


def _uses_cache(options: RewriteOptions) -> bool:
    """The cache serves runs that write files; --report needs every file's links."""
    writes = options.mode in (Mode.OUT, Mode.IN_PLACE)
    return options.use_cache and writes and options.report_path is None
