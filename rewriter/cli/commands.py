"""What each command does, between parsed options and an exit code."""

from __future__ import annotations

import contextlib
import datetime
import itertools
import json
import os
import re
import signal
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO

from rewriter.batch.report import ExitCode, FileOutcome, FileState, Report
from rewriter.models import LinkRecord

if TYPE_CHECKING:
    from rewriter.batch.cache import Cache
    from rewriter.batch.process import Job
    from rewriter.batch.sources import PathError, Source
    from rewriter.document.engine import Rewriter
    from rewriter.rules.model import Rules
    from rewriter.status.notices import FailOn
    from rewriter.status.preload import PreloadList
    from rewriter.tokens.keys import KeyRing
    from rewriter.web.tracking import TrackingRoute


@dataclass(frozen=True, slots=True)
class RewriteOptions:
    paths: Sequence[str]
    rules_path: Path | None
    mode: str  # out | in-place | check | diff | stdout
    out_dir: Path | None = None
    report_path: Path | None = None
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    preload_list: Path | None = None
    quiet: bool = False
    workers: int | None = None  # None: the processors this process may use
    use_cache: bool = True
    fast: bool = False
    input_format: str | None = None  # html | txt | eml; None: by extension
    stdin_filename: str | None = None  # `-`'s name: attribution and messages
    context: str | None = None  # the attribution of every link, instead of the rules'
    annotate: bool = True  # False: no status attribute (the copy that is sent)


class CommandError(Exception):
    """Stops a command with a message and an exit code (usage and rules errors)."""

    def __init__(self, message: str, code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.code = code


def _err(message: str) -> None:
    sys.stderr.write(message + "\n")


def _plural(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _load_rules(rules_path: Path | None, *, remember: bool = False) -> Rules:
    from rewriter.batch.factory import load_rules_remembered
    from rewriter.rules.loader import RulesError, find_rules

    path = rules_path or find_rules(Path.cwd())
    if path is None:
        raise CommandError("no rules: pass --rules FILE or put a rewriter.yaml here or in a parent")
    try:
        return load_rules_remembered(path, remember=remember)
    except RulesError as error:
        raise CommandError(str(error)) from None
    except OSError as error:
        raise CommandError(f"{path}: cannot read: {error.strerror or error}") from None


def _with_options(rules: Rules, context: str | None, *, annotate: bool = True) -> Rules:
    """The rules as the command-line options change them. Changed rules have another digest,
    so the cache keys on the options too."""
    import dataclasses

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


def rewrite(options: RewriteOptions) -> int:
    from rewriter.cli.output import StdoutError, stdout_failed

    try:
        return _rewrite(options)
    except CommandError as error:
        _err(f"rewriter: {error}")
        return error.code
    except StdoutError as error:  # a document or a diff was lost: a failed file
        stdout_failed(error)
        return ExitCode.FAILED


def _rewrite(options: RewriteOptions) -> int:
    from rewriter.batch.factory import SetupError, load_preload_list, make_rewriter
    from rewriter.batch.process import Job, WriteMode

    _refuse_two_streams_on_stdout(options)
    rules = _load_rules(options.rules_path, remember=options.use_cache)
    rules = _with_options(rules, options.context, annotate=options.annotate)
    try:
        preload = load_preload_list(rules, options.preload_list)
        engine = make_rewriter(rules, keys=True, preload=preload)
    except SetupError as error:
        raise CommandError(str(error)) from None
    if options.mode == "stdout" or list(options.paths) == ["-"]:
        _warn_if_stale(preload, rules, options.quiet)
        return _rewrite_stdin(engine, options)
    job = Job(
        WriteMode(options.mode),
        options.out_dir,
        safe=not options.fast,
        keep_links=options.report_path is not None,
        fingerprints=_uses_cache(options),
        input_format=options.input_format,
    )
    return _rewrite_files(engine, job, options, preload)


def _rewrite_files(
    engine: Rewriter, job: Job, options: RewriteOptions, preload: PreloadList
) -> int:
    from rewriter.batch.progress import Progress
    from rewriter.batch.runner import EngineSettings, available_workers, run

    _refuse_unusable_paths(options.paths)
    if options.out_dir is not None:
        _refuse_overwriting_inputs(options.paths, options.out_dir)
    _warn_if_stale(preload, engine.rules, options.quiet)
    sources = _sources(options)
    first, found = _take_sources(sources, options.workers or available_workers())
    workers = max(1, found)  # fewer files than workers: fewer workers
    engine.link_texts = job.keep_links  # only a report shows link texts
    settings = EngineSettings(engine.rules, options.preload_list, job.keep_links)
    cache = _open_cache(engine, preload, job, options)
    shown = not options.quiet and sys.stderr.isatty()
    progress = Progress(_count(_sources(options)) if shown else 0, enabled=shown)
    report = Report(check=options.mode in ("check", "diff"))
    interrupted = False
    items = itertools.chain(first, sources)
    report_writer = _ReportWriter(options.report_path, _preload_label(preload))
    with report_writer as report_file, _terminate_as_interrupt():
        try:
            for outcome in run(items, job, engine, settings, workers=workers, cache=cache):
                if outcome.message or outcome.warnings or outcome.diff:
                    progress.clear()
                _show(outcome, options.quiet)
                report.add(outcome)
                report_file.write(outcome)
                progress.advance()
        except KeyboardInterrupt:
            interrupted = True
    progress.clear()
    if cache is not None:
        cache.save()
    if interrupted:
        done = sum(report.files.values())
        total = _count(_sources(options))
        _err(f"interrupted after {done} of {total} files; every file written is whole")
        _err(report.summary())
        return ExitCode.INTERRUPTED
    if not options.quiet:  # quiet: errors only
        _err(report.summary() if sum(report.files.values()) else _nothing_found(options.paths))
    return report.exit_code


def _sources(options: RewriteOptions) -> Iterator[Source | PathError]:
    """The files to rewrite, lazily, in sorted order (an output folder inside is not read)."""
    from rewriter.batch.sources import iter_sources

    skip = [options.out_dir] if options.out_dir is not None else []
    return iter_sources(options.paths, options.include, options.exclude, skip)


def _take_sources(
    items: Iterator[Source | PathError], wanted: int
) -> tuple[list[Source | PathError], int]:
    """The first items, up to `wanted` files, and how many files that is."""
    from rewriter.batch.sources import Source

    first: list[Source | PathError] = []
    found = 0
    for item in items:
        first.append(item)
        found += isinstance(item, Source)
        if found >= wanted:
            break
    return first, found


def _count(items: Iterator[Source | PathError]) -> int:
    """How many there are (a second walk: nothing is kept from the first)."""
    return sum(1 for _ in items)


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


def _refuse_unusable_paths(paths: Sequence[str]) -> None:
    """A path given that does not exist is a usage error, before any work (not a failed file)."""
    from rewriter.batch.sources import unusable_paths

    errors = unusable_paths(paths)
    if errors:
        raise CommandError("; ".join(f"{error.display}: {error.reason}" for error in errors))


def _nothing_found(paths: Sequence[str]) -> str:
    return f"no templates found under {', '.join(paths)}"


def _refuse_two_streams_on_stdout(options: RewriteOptions) -> None:
    """`--report -` writes the report to stdout, so nothing else may go there."""
    if options.report_path != Path("-") or options.mode not in ("stdout", "diff"):
        return
    other = "the diff" if options.mode == "diff" else "the rewritten document"
    raise CommandError(
        f"--report - would mix the report with {other} on stdout: give --report a file"
    )


def _uses_cache(options: RewriteOptions) -> bool:
    """The cache serves runs that write; --report needs every file's links, so it reads all."""
    writes = options.mode in ("out", "in-place")
    return options.use_cache and writes and options.report_path is None


def _open_cache(
    engine: Rewriter, preload: PreloadList, job: Job, options: RewriteOptions
) -> Cache | None:
    """The cache for this configuration; none for --check, --diff, --report or --no-cache."""
    if not job.fingerprints:
        return None
    from rewriter import __version__
    from rewriter.batch.cache import Cache, configuration_key
    from rewriter.batch.factory import cache_dir

    assert engine.ring is not None
    key = configuration_key(
        {
            "version": __version__,
            "rules": engine.rules.digest(),
            "keys": engine.ring.digest(),
            "preload": preload.digest,
            "mode": job.mode.value,
            "safe": str(job.safe),  # files written by --fast are not trusted by a safe run
            "input_format": str(job.input_format),
        }
    )
    return Cache(cache_dir(), key)


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM stops a batch the way Ctrl-C does: cleanly, with what was done."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _show(outcome: FileOutcome, quiet: bool, *, name_changed: bool = True) -> None:
    if outcome.message:
        _err(outcome.message)
    if not quiet:  # quiet: errors only
        for warning in outcome.warnings:
            _err(f"warning: {warning}")
    if outcome.diff:
        sys.stdout.flush()
        sys.stdout.buffer.write(outcome.diff)
        sys.stdout.flush()
    elif (
        name_changed
        and not quiet
        and outcome.state in (FileState.REWRITTEN, FileState.WOULD_CHANGE)
    ):
        _err(f"{outcome.state} {outcome.display}")


# Up to this size, stdin is read whole, checked, then written; above it, it streams.
STDIN_BUFFER_LIMIT = 16 << 20
STDIN_CHUNK = 1 << 20


def _rewrite_stdin(engine: Rewriter, options: RewriteOptions) -> int:
    stdin = sys.stdin.buffer
    head = stdin.read(STDIN_BUFFER_LIMIT + 1)
    streams = options.input_format in (None, "html")  # a message or text is read whole
    if len(head) > STDIN_BUFFER_LIMIT and options.mode == "stdout" and streams:
        return _stream_stdin(engine, options, head, stdin)
    return _rewrite_stdin_whole(engine, options, head + stdin.read())


def _rewrite_stdin_whole(engine: Rewriter, options: RewriteOptions, data: bytes) -> int:
    from rewriter.batch.process import safety_problems, unified_diff
    from rewriter.document.engine import PreservationError
    from rewriter.document.inputs import TemplateError
    from rewriter.mail.formats import InputFormat, input_format, rewrite_document

    name = options.stdin_filename or "-"
    report = Report(check=options.mode in ("check", "diff"))
    kind = input_format("-", options.input_format or "html")
    try:
        result = rewrite_document(
            engine, data, kind, file=name, relative=name, safe=not options.fast
        )
        problems = None
        if not options.fast and result.changed and kind is InputFormat.HTML:
            problems = safety_problems(data, result, engine, name, name)
        if problems:
            raise PreservationError(problems)
    except (PreservationError, TemplateError) as error:
        # Echo the input: a pre-send hook that ignores the exit code still sends a whole message.
        _write_stdout(data if options.mode == "stdout" else b"")
        outcome = FileOutcome(name, FileState.FAILED, message=f"{name}: error: {error}")
    else:
        state = FileState.UNCHANGED
        if result.changed:
            state = FileState.REWRITTEN if options.mode == "stdout" else FileState.WOULD_CHANGE
        outcome = FileOutcome(name, state, list(result.links), warnings=list(result.warnings))
        if options.mode == "stdout":
            _write_stdout(result.output)
        elif options.mode == "diff" and result.changed:
            outcome.diff = unified_diff(name, data, result.output)
    _show(outcome, options.quiet, name_changed=False)
    report.add(outcome)
    with _ReportWriter(options.report_path, _engine_preload_label(engine)) as report_file:
        report_file.write(outcome)
    if not options.quiet and options.mode != "stdout":
        _err(report.summary())
    return report.exit_code


def _stream_stdin(engine: Rewriter, options: RewriteOptions, head: bytes, stdin: BinaryIO) -> int:
    """A very large message: rewritten as it is read, in bounded memory. The byte proof runs as
    it goes and, unless --fast, the streaming safety check (round trip, idempotence); if either
    fails at the end, the output already written must not be used (exit 123)."""
    from itertools import chain

    from rewriter.document.engine import PreservationError
    from rewriter.document.inputs import TemplateError
    from rewriter.document.safety import StreamingCheck

    name = options.stdin_filename or "-"
    check = None if options.fast else StreamingCheck(engine, file=name)
    report = Report()
    rest = iter(lambda: stdin.read(STDIN_CHUNK), b"")

    def write(data: bytes) -> None:
        _write_stdout(data)
        if check is not None:
            check.output(data)

    with _ReportWriter(options.report_path, _engine_preload_label(engine)) as report_file:

        def on_link(record: LinkRecord) -> None:
            report.links[record.action] += 1
            report_file.write_record(record)
            if check is not None:
                check.link(record)

        problems: list[str] = []
        try:
            outcome = engine.rewrite_stream(
                chain((head,), rest), write, file=name, relative=name, on_link=on_link
            )
        except (PreservationError, TemplateError) as error:
            problems.append(str(error))
        found = [] if check is None else check.finish()
        if found:
            problems.append("the safety check failed: " + "; ".join(found))
    if problems:
        _err(f"{name}: error: {'; '.join(problems)}; the output written so far must not be used")
        report.files[FileState.FAILED] += 1
        return report.exit_code
    for warning in [] if options.quiet else outcome.warnings:
        _err(f"warning: {warning}")
    report.files[FileState.REWRITTEN if outcome.changed else FileState.UNCHANGED] += 1
    return report.exit_code


def _write_stdout(data: bytes) -> None:
    stream: BinaryIO = sys.stdout.buffer
    stream.write(data)
    stream.flush()


class _ReportWriter:
    """`--report FILE`: one JSON object per link, the file replaced atomically at the end;
    `--report -`: to stdout, as they come. Each record names the preload list its status
    comes from."""

    def __init__(self, path: Path | None, preload: str | None = None) -> None:
        self._path = path
        self._preload = preload
        self._handle: TextIO | None = None
        self._temporary: Path | None = None

    def __enter__(self) -> _ReportWriter:
        if self._path == Path("-"):
            self._handle, self._path = sys.stdout, None
        elif self._path is not None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._temporary = self._path.with_name(f".{self._path.name}.rewriter-tmp")
            self._handle = open(self._temporary, "w", encoding="utf-8")
        return self

    def write(self, outcome: FileOutcome) -> None:
        for link in outcome.links:
            self.write_record(link)

    def write_record(self, link: LinkRecord) -> None:
        if self._handle is not None:
            row = link.as_dict() | {"preload_list": self._preload}
            self._handle.write(json.dumps(row, ensure_ascii=False) + "\n")

    def __exit__(self, *exc: object) -> None:
        if self._handle is None or self._temporary is None or self._path is None:
            return  # nothing, or stdout
        self._handle.close()
        if exc[0] is None:
            os.replace(self._temporary, self._path)
        else:
            self._temporary.unlink(missing_ok=True)


def resolve(urls: Sequence[str], rules_path: Path | None, fmt: str = "text") -> int:
    """Per link, `link<TAB>destination` (or one JSON object); exit 1 if any does not verify.

    A link is a URL, a bare token, or `-`: one link per line of stdin."""
    from rewriter.batch.factory import SetupError, load_ring
    from rewriter.web.tracking import TrackingRoute

    try:
        rules = _load_rules(rules_path)
        ring = load_ring(rules)
    except (CommandError, SetupError) as error:
        _err(f"rewriter: {error}")
        return ExitCode.USAGE
    route = TrackingRoute(frozenset({rules.tracking_domain, *rules.legacy_domains}), rules.path)
    code = ExitCode.OK
    for link in _links_to_resolve(urls):
        row = _resolve_link(link, route, ring)
        if row["error"] is not None:
            code = ExitCode.FINDINGS
        if fmt == "json":
            print(json.dumps(row, ensure_ascii=False))
        elif row["error"] is not None:
            print(f"{link}\tinvalid: {row['error']}")
        else:
            print(f"{link}\t{row['destination']}")
    return code


def _links_to_resolve(given: Sequence[str]) -> Iterator[str]:
    """The links as given, `-` replaced by the non-blank lines of stdin."""
    for link in given:
        if link != "-":
            yield link
            continue
        for line in sys.stdin:
            if line.strip():
                yield line.strip()


def _resolve_link(link: str, route: TrackingRoute, ring: KeyRing) -> dict[str, object]:
    """What a link carries, verified; when it does not verify, what it claims (unverified)
    and why not."""
    from rewriter.tokens.format import TokenError, decode_token
    from rewriter.web.tracking import NotTracking, token_in_url

    row: dict[str, object] = dict.fromkeys(("link", "destination", "key_id", "context"))
    row |= {"link": link, "verified": False, "error": None}
    token = link if _BARE_TOKEN.fullmatch(link) else token_in_url(link, route)
    if isinstance(token, NotTracking):
        row["error"] = token.reason
        return row
    try:
        contents = decode_token(token, ring)
    except TokenError as error:
        row["error"] = str(error)
        with contextlib.suppress(TokenError):
            contents = decode_token(token)  # what it claims, shown as unverified
            row |= {"destination": contents.destination, "key_id": contents.key_id,
                    "context": contents.context}  # fmt: skip
        return row
    row |= {"destination": contents.destination, "key_id": contents.key_id,
            "context": contents.context, "verified": True}  # fmt: skip
    return row


_BARE_TOKEN = re.compile(r"[A-Za-z0-9_-]+")


def init(domain: str, rules_file: Path, key_file: Path) -> int:
    from rewriter.rules.loader import starter_rules
    from rewriter.tokens.keys import generate_key_file
    from rewriter.web.urls import HostError, normalize_host

    for path in (rules_file, key_file):
        if path.exists():
            _err(f"rewriter: {path} exists; not overwriting it")
            return ExitCode.USAGE
    relative_key = os.path.relpath(key_file.resolve(), rules_file.resolve().parent)
    try:
        text = starter_rules(normalize_host(domain), relative_key)
    except HostError as error:
        _err(f"rewriter: --domain: {error}")
        return ExitCode.USAGE
    try:
        generate_key_file(key_file)
    except OSError as error:
        _err(f"rewriter: {key_file}: cannot write: {error.strerror or error}")
        return ExitCode.USAGE
    try:
        with open(rules_file, "x", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as error:
        key_file.unlink(missing_ok=True)  # both or neither
        _err(f"rewriter: {rules_file}: cannot write: {error.strerror or error}")
        return ExitCode.USAGE
    _err(f"wrote {rules_file} and {key_file} (mode 0600; keep it secret, keep it out of git)")
    return ExitCode.OK


@dataclass(frozen=True, slots=True)
class InspectOptions:
    paths: Sequence[str]
    rules_path: Path | None
    preload_list: Path | None = None
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    stdin_filename: str | None = None  # `-`'s name: attribution and messages
    context: str | None = None  # the attribution of every link, instead of the rules'
    input_format: str | None = None  # html | txt | eml; None: by extension


@dataclass(slots=True)
class _Input:
    display: str
    relative: str
    data: bytes | None  # None: could not be read
    error: str | None = None
    stdin: bool = False  # read as HTML unless --input-format says otherwise


def _inputs(options: InspectOptions) -> Iterator[_Input]:
    """The documents to inspect: stdin for `-`, else files and folders, in sorted order."""
    from rewriter.batch.fsio import read_bytes
    from rewriter.batch.sources import PathError, iter_sources

    if list(options.paths) == ["-"]:
        name = options.stdin_filename or "-"
        yield _Input(name, name, sys.stdin.buffer.read(), stdin=True)
        return
    for item in iter_sources(options.paths, options.include, options.exclude):
        if isinstance(item, PathError):
            yield _Input(item.display, "", None, item.message)
            continue
        try:
            yield _Input(item.display, item.relative, read_bytes(item.path))
        except OSError as error:
            yield _Input(item.display, item.relative, None, f"{item.display}: error: "
                         f"cannot read: {error.strerror or error}")  # fmt: skip


def _inspector(options: InspectOptions) -> tuple[Rules, Rewriter, str]:
    """Rules, an engine that needs no key (but verifies tokens when a key is at hand), and the
    preload list's name and date. Warns once on stderr when the list is old."""
    from rewriter.batch.factory import SetupError, load_preload_list, load_ring_if_any

    rules = _with_options(_load_rules(options.rules_path), options.context)
    try:
        preload = load_preload_list(rules, options.preload_list)
    except SetupError as error:
        raise CommandError(str(error)) from None
    _warn_if_stale(preload, rules)
    try:
        ring = load_ring_if_any(rules)
    except SetupError as error:
        raise CommandError(str(error)) from None
    from rewriter.document.engine import Rewriter
    from rewriter.status.classify import Classifier

    engine = Rewriter(rules, ring, Classifier(rules, preload))
    return rules, engine, _preload_label(preload)


def _warn_if_stale(preload: PreloadList, rules: Rules, quiet: bool = False) -> None:
    """A list older than the rules allow: said once, by `links` and `check` and by `rewrite`
    (it writes statuses into the HTML); quiet means errors only."""
    from rewriter.status.preload import freshness_warning

    if quiet:
        return
    warning = freshness_warning(preload, datetime.date.today(), rules.preload_list_max_age_days)
    if warning:
        _err(f"warning: {warning}")


def _preload_label(preload: PreloadList) -> str:
    """The list's name and date, as every output names it."""
    dated = preload.date.isoformat() if preload.date else "undated"
    return f"{preload.name}, dated {dated}"


def _engine_preload_label(engine: Rewriter) -> str | None:
    return None if engine.classifier is None else _preload_label(engine.classifier.preload)


def links(options: InspectOptions, fmt: str | None) -> int:
    """List every link with its action and status."""
    from rewriter.batch.formats import writer_for

    try:
        _refuse_unusable_paths(options.paths)
        _, engine, preload = _inspector(options)
    except CommandError as error:
        _err(f"rewriter: {error}")
        return error.code
    terminal = sys.stdout.isatty()
    chosen = fmt or ("table" if terminal else "ndjson")
    colour = terminal and chosen == "table" and not os.environ.get("NO_COLOR")
    writer = writer_for(chosen, sys.stdout, preload, colour=colour)
    report = Report()
    for item in _inputs(options):
        outcome = _inspect(engine, item, options.input_format)
        if outcome.message:
            _err(outcome.message)
        writer.write(outcome.links)
        report.add(outcome)
    writer.finish()
    if not sum(report.files.values()):
        _err(_nothing_found(options.paths))
    return ExitCode.FAILED if report.files[FileState.FAILED] else ExitCode.OK


def _inspect(engine: Rewriter, item: _Input, chosen: str | None = None) -> FileOutcome:
    from rewriter.document.engine import PreservationError
    from rewriter.document.inputs import TemplateError
    from rewriter.mail.formats import input_format, rewrite_document

    if item.data is None:
        return FileOutcome(item.display, FileState.FAILED, message=item.error)
    kind = input_format(item.display, chosen or ("html" if item.stdin else None))
    try:
        result = rewrite_document(
            engine, item.data, kind, file=item.display, relative=item.relative, prove=False
        )
    except (PreservationError, TemplateError) as error:
        message = f"{item.display}: error: {error}"
        return FileOutcome(item.display, FileState.FAILED, message=message)
    outcome = FileOutcome(item.display, FileState.UNCHANGED, list(result.links))
    outcome.warnings.extend(result.warnings)
    outcome.size_before = len(item.data)
    outcome.size_after = len(result.output) if engine.ring is not None else None
    return outcome


def check(options: InspectOptions, fail_on: FailOn, as_of: datetime.date) -> int:
    """The pre-send gate: one line per violating link, then warnings; exit 1 on any failure."""
    from rewriter.status.notices import (
        estimated_size,
        message_notices,
        rules_notices,
        violation_line,
        violations,
        with_fail_on,
    )

    try:
        _refuse_unusable_paths(options.paths)
        rules, engine, preload = _inspector(options)
    except CommandError as error:
        _err(f"rewriter: {error}")
        return error.code
    notices = []
    failed_files = linked = violated = files = unverified = 0
    for item in _inputs(options):
        outcome = _inspect(engine, item, options.input_format)
        if outcome.state is FileState.FAILED:
            _err(outcome.message or f"{item.display}: error")
            failed_files += 1
            continue
        files += 1
        linked += len(outcome.links)
        unverified += sum(record.unverified for record in outcome.links)
        for record in violations(outcome.links, fail_on):
            print(violation_line(record, fail_on))
            violated += 1
        size = outcome.size_after
        if size is None:
            size = estimated_size(outcome.size_before or 0, outcome.links, rules)
        estimated = outcome.size_after is None
        notices += message_notices(item.display, size, outcome.links, rules, estimated=estimated)
    if not files and not failed_files:
        _err(_nothing_found(options.paths))
    notices += rules_notices(rules, as_of)
    notices = with_fail_on(notices, fail_on.codes)
    for notice in notices:
        print(notice.line())
    failures = violated + sum(1 for notice in notices if notice.level == "failure")
    print(
        f"checked {_plural(files, 'file')}, {_plural(linked, 'link')} "
        f"(preload list: {preload}; as of {as_of.isoformat()}): "
        f"{violated} violating, {_plural(len(notices), 'notice')}"
        + (f", {unverified} unverified" if unverified else "")
    )
    if failed_files:
        return ExitCode.FAILED
    return ExitCode.FINDINGS if failures else ExitCode.OK
