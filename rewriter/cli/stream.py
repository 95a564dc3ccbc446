"""A very large message on stdin: rewritten as it is read, in bounded memory.

The byte proof runs as it goes and, unless --fast, the streaming safety check (round trip,
idempotence); if either fails at the end, the output already written must not be used (exit
123). The lxml comparison, which needs whole documents, is left out here.
"""

from __future__ import annotations

import sys
from itertools import chain
from typing import TYPE_CHECKING, BinaryIO

from rewriter.batch.report import FileState, Report
from rewriter.cli.common import err
from rewriter.models import LinkRecord

if TYPE_CHECKING:
    from rewriter.batch.job import Job
    from rewriter.batch.report_file import ReportFile
    from rewriter.document.engine import Rewriter

STDIN_CHUNK = 1 << 20


def stream_stdin(
    engine: Rewriter,
    job: Job,
    name: str,
    head: bytes,
    stdin: BinaryIO,
    report: Report,
    report_file: ReportFile,
    quiet: bool,
) -> None:
    from rewriter.document.engine import PreservationError
    from rewriter.document.inputs import TemplateError
    from rewriter.document.safety import StreamingCheck

    check = StreamingCheck(engine, file=name) if job.safe else None
    rest = iter(lambda: stdin.read(STDIN_CHUNK), b"")

    def write(data: bytes) -> None:
        stream = sys.stdout.buffer
        stream.write(data)
        stream.flush()
        if check is not None:
            check.output(data)

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
        err(f"{name}: error: {'; '.join(problems)}; the output written so far must not be used")
        report.files[FileState.FAILED] += 1
        return
    for warning in [] if quiet else outcome.warnings:
        err(f"warning: {warning}")
    report.files[FileState.REWRITTEN if outcome.changed else FileState.UNCHANGED] += 1
