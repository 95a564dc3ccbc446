"""One document, whatever it comes from and whatever the command: read, rewrite (or only
inspect), check, deliver; one outcome each.

A document that cannot be read or processed becomes a failed outcome with a message; nothing
raises for bad input, so a batch goes on. Nothing is written for a document whose rewrite
failed its proof or the safety check.
"""

from __future__ import annotations

import os
from pathlib import Path

from rewriter.batch.cache import Fingerprint, fingerprint_of
from rewriter.batch.job import Job, Mode
from rewriter.batch.report import FileOutcome, FileState
from rewriter.batch.sources import Document, Source, StdinSource
from rewriter.document.engine import PreservationError, Rewriter
from rewriter.document.inputs import TemplateError
from rewriter.mail.formats import InputFormat, input_format, rewrite_document
from rewriter.models import Result


def process(source: Document, engine: Rewriter, job: Job) -> FileOutcome:
    """Do the job on one document; never raises for bad input."""
    display = source.display
    try:
        data, status = source.read()
    except OSError as error:
        return failed_outcome(display, f"cannot read: {error.strerror or error}")
    inspecting = job.mode is Mode.INSPECT
    stdin = job.input_format or ("html" if isinstance(source, StdinSource) else None)
    kind = input_format(display, stdin)  # messages and plain text check themselves when safe
    try:
        result = rewrite_document(
            engine, data, kind, file=display, relative=source.relative, prove=not inspecting,
            safe=job.safe and not inspecting,
        )  # fmt: skip
    except (PreservationError, TemplateError) as error:
        return _failed(display, data, job, str(error))
    if job.safe and result.changed and not inspecting and kind is InputFormat.HTML:
        problems = safety_problems(data, result, engine, display, source.relative)
        if problems:
            return _failed(display, data, job, problems)
    outcome = FileOutcome(display, _state(result, job), list(result.links))
    outcome.warnings.extend(result.warnings)
    if inspecting:
        outcome.size_before = len(data)
        outcome.size_after = len(result.output) if engine.ring is not None else None
        return outcome
    try:
        written = _deliver(source, data, result, job, outcome)
    except OSError as error:
        return failed_outcome(display, f"cannot write: {error.strerror or error}")
    if job.fingerprints and status is not None:
        outcome.fingerprints = _fingerprints(data, status, result.output, written, job)
    return outcome


def _failed(display: str, data: bytes, job: Job, message: str) -> FileOutcome:
    outcome = failed_outcome(display, message)
    if job.mode is Mode.STDOUT:
        # Echo the input: a pre-send hook that ignores the exit code still sends a whole message.
        outcome.output = data
    return outcome


def _fingerprints(
    data: bytes, status: os.stat_result, output: bytes, written: os.stat_result | None, job: Job
) -> tuple[Fingerprint, Fingerprint]:
    """What the cache remembers: the input as read and the output as written. In place, the
    path now holds the output, so that is what the next run will find there."""
    read = fingerprint_of(data, status)
    if written is None:
        return read, read
    made = fingerprint_of(output, written)
    return (made, made) if job.mode is Mode.IN_PLACE else (read, made)


def safety_problems(
    data: bytes, result: Result, engine: Rewriter, file: str, relative: str
) -> str | None:
    """The safe mode's independent check (lxml, idempotence, round trip), as one message."""
    from rewriter.document.safety import safe_check

    problems = safe_check(data, result.output, engine, result.links, file=file, relative=relative)
    if not problems:
        return None
    return "the safety check failed, nothing written: " + "; ".join(problems)


def _state(result: Result, job: Job) -> FileState:
    if not result.changed or job.mode is Mode.INSPECT:
        return FileState.UNCHANGED
    return FileState.REWRITTEN if job.mode.writes else FileState.WOULD_CHANGE


def _deliver(
    source: Document, data: bytes, result: Result, job: Job, outcome: FileOutcome
) -> os.stat_result | None:
    """Write (or diff) the result; the written file's status, None when no file was written."""
    if job.mode is Mode.STDOUT:
        outcome.output = result.output  # the command writes it: stdout is the parent's
        return None
    if job.mode is Mode.DIFF:
        if result.changed:
            outcome.diff = unified_diff(source.display, data, result.output)
        return None
    if job.mode is Mode.OUT:
        assert job.out_dir is not None and isinstance(source, Source)
        return _write_out(job.out_dir / source.relative, source.path, result.output)
    if job.mode is Mode.IN_PLACE and result.changed:
        assert isinstance(source, Source)
        return _write_in_place(source, result.output, outcome)
    return None


def _write_out(target: Path, original: Path, output: bytes) -> os.stat_result:
    from rewriter.batch.fsio import write_atomic

    mode = _mode_of(original)
    # Not flushed to disk: a power cut costs a rerun, never an original.
    try:
        return write_atomic(target, output, mode=mode, durable=False)
    except FileNotFoundError:  # the first file of its folder (a mkdir per file is slow)
        target.parent.mkdir(parents=True, exist_ok=True)
        return write_atomic(target, output, mode=mode, durable=False)


def _write_in_place(source: Source, output: bytes, outcome: FileOutcome) -> os.stat_result:
    from rewriter.batch.fsio import hard_link_count, write_atomic

    links = hard_link_count(source.path)
    written = write_atomic(source.path, output)
    if links > 1:
        outcome.warnings.append(
            f"{source.display}: has {links} hard links; only this name now holds the"
            " rewritten file, the other names keep the original"
        )
    return written


def unified_diff(name: str, before: bytes, after: bytes) -> bytes:
    import difflib

    lines = difflib.diff_bytes(
        difflib.unified_diff,
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=name.encode(),
        tofile=name.encode(),
    )
    return b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines)


def _mode_of(path: Path) -> int | None:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return None


def failed_outcome(display: str, message: str) -> FileOutcome:
    """A document (or a path given) that could not be processed: `display: error: message`."""
    return FileOutcome(display, FileState.FAILED, message=f"{display}: error: {message}")
