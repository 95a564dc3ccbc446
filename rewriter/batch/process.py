"""Many files: read, rewrite, write atomically (or check, or diff), one outcome each.

A file that cannot be read or processed becomes a failed outcome with a message; the batch goes
on. Nothing is written for a file whose rewrite failed its proof.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from rewriter.batch.cache import Fingerprint, fingerprint_of
from rewriter.batch.report import FileOutcome, FileState
from rewriter.document.engine import PreservationError, Rewriter
from rewriter.document.inputs import TemplateError
from rewriter.mail.formats import InputFormat, input_format, rewrite_document
from rewriter.models import Result

if TYPE_CHECKING:  # a pre-send hook on stdin needs neither files nor folders
    from rewriter.batch.sources import Source


class WriteMode(Enum):
    """What to do with a rewritten file: decided once from the flags."""

    OUT = "out"  # mirror the tree under an output folder
    IN_PLACE = "in-place"
    CHECK = "check"  # write nothing; report what would change
    DIFF = "diff"  # write nothing; produce a unified diff

    @property
    def writes(self) -> bool:
        return self in (WriteMode.OUT, WriteMode.IN_PLACE)


@dataclass(frozen=True, slots=True)
class Job:
    """Everything about what to do with each file, decided once from the options."""

    mode: WriteMode
    out_dir: Path | None = None
    safe: bool = True  # the independent check before writing (False: --fast)
    keep_links: bool = False  # send every link record back (for --report)
    fingerprints: bool = False  # send back what was read and written (for the cache)
    input_format: str | None = None  # html | txt | eml; None: by the file's extension


def process_source(source: Source, engine: Rewriter, job: Job) -> FileOutcome:
    """Rewrite one file as the job says; never raises for bad input."""
    from rewriter.batch.fsio import read_with_status

    display = source.display
    try:
        data, status = read_with_status(source.path)
    except OSError as error:
        return failed_outcome(display, f"cannot read: {error.strerror or error}")
    kind = input_format(display, job.input_format)
    try:
        result = rewrite_document(
            engine, data, kind, file=display, relative=source.relative, safe=job.safe
        )
    except (PreservationError, TemplateError) as error:
        return failed_outcome(display, str(error))
    if job.safe and result.changed and kind is InputFormat.HTML:
        problems = safety_problems(data, result, engine, display, source.relative)
        if problems:
            return failed_outcome(display, problems)
    outcome = FileOutcome(display, _state(result, job), list(result.links))
    outcome.warnings.extend(result.warnings)
    try:
        written = _deliver(source, data, result, job, outcome)
    except OSError as error:
        return failed_outcome(display, f"cannot write: {error.strerror or error}")
    if job.fingerprints:
        outcome.fingerprints = _fingerprints(data, status, result.output, written, job)
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
    return (made, made) if job.mode is WriteMode.IN_PLACE else (read, made)


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
    if not result.changed:
        return FileState.UNCHANGED
    return FileState.REWRITTEN if job.mode.writes else FileState.WOULD_CHANGE


def _deliver(
    source: Source, data: bytes, result: Result, job: Job, outcome: FileOutcome
) -> os.stat_result | None:
    """Write (or diff) the result; the written file's status, None when nothing was written."""
    from rewriter.batch.fsio import hard_link_count, write_atomic

    if job.mode is WriteMode.OUT:
        assert job.out_dir is not None
        target = job.out_dir / source.relative
        mode = _mode_of(source.path)
        # Not flushed to disk: a power cut costs a rerun, never an original.
        try:
            return write_atomic(target, result.output, mode=mode, durable=False)
        except FileNotFoundError:  # the first file of its folder (a mkdir per file is slow)
            target.parent.mkdir(parents=True, exist_ok=True)
            return write_atomic(target, result.output, mode=mode, durable=False)
    if job.mode is WriteMode.IN_PLACE and result.changed:
        links = hard_link_count(source.path)
        written = write_atomic(source.path, result.output)
        if links > 1:
            outcome.warnings.append(
                f"{source.display}: has {links} hard links; only this name now holds the"
                " rewritten file, the other names keep the original"
            )
        return written
    if job.mode is WriteMode.DIFF and result.changed:
        outcome.diff = unified_diff(source.display, data, result.output)
    return None


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
    """A file (or a path given) that could not be processed: `display: error: message`."""
    return FileOutcome(display, FileState.FAILED, message=f"{display}: error: {message}")
