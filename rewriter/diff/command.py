"""`rewriter diff OLD NEW`: options in, the diff out, an exit code that gates CI."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from rewriter.batch.fsio import write_atomic
from rewriter.batch.report import FileState as ReportState
from rewriter.batch.report import Report
from rewriter.cli.common import (
    CommandError,
    color_option,
    exclude_option,
    include_option,
    preload_option,
    rules_option,
    wants_colour,
)
from rewriter.cli.inspect import InspectOptions, inspector
from rewriter.diff import render
from rewriter.diff.run import FileDiff, FileState, Summary, diff_pairs
from rewriter.diff.trees import pairs
from rewriter.pages.report import diff_page


@click.command("diff")
@click.argument("old", type=click.Path(exists=True, path_type=Path))
@click.argument("new", type=click.Path(exists=True, path_type=Path))
@rules_option
@click.option("--format", "fmt", type=click.Choice(["text", "json", "ndjson"]), default="text",
              show_default=True, help="Output format.")  # fmt: skip
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a self-contained HTML page of the diff to this file.")  # fmt: skip
@include_option
@exclude_option
@preload_option
@color_option
def diff(old: Path, new: Path, **options: Any) -> None:
    """Compare two files or two trees link by link, tracking links decoded: exit 1 when a
    person clicking would see a difference (a link added, removed or retargeted, a status
    changed, a file added or removed); re-wrapped links and other bytes are summarised."""
    if old.is_dir() != new.is_dir():
        raise click.UsageError("compare two files or two folders", click.get_current_context())
    sys.exit(run(old, new, **options))


def run(
    old: Path,
    new: Path,
    rules_path: Path | None,
    fmt: str,
    html_path: Path | None,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    preload_list: Path | None,
    color: bool | None,
) -> int:
    try:
        texts = html_path is not None or fmt != "text"  # the text output shows no link text
        _, engine, preload = inspector(
            InspectOptions((), rules_path, preload_list), link_texts=texts
        )
    except CommandError as error:
        click.echo(f"rewriter: {error}", err=True)
        return error.code
    writer: render.TextWriter | render.JsonWriter | render.NdjsonWriter
    if fmt == "json":
        writer = render.JsonWriter(sys.stdout)
    elif fmt == "ndjson":
        writer = render.NdjsonWriter(sys.stdout)
    else:
        writer = render.TextWriter(sys.stdout, colour=wants_colour(color))
    page = _Page(html_path, preload) if html_path is not None else None
    summary = Summary()
    for item in diff_pairs(pairs(old, new, include, exclude), engine):
        if item.state is FileState.FAILED:
            click.echo(f"{item.name}: error: {item.error}", err=True)
        writer.file(item)
        if page is not None:
            page.add(item)
        summary.add(item)
    writer.finish(summary)
    if fmt == "text":
        click.echo(render.summary_line(summary), err=True)
    if page is not None:
        page.write(summary)
    report = Report(findings=int(summary.visible))
    report.files[ReportState.FAILED] = summary.files[FileState.FAILED]
    return report.exit_code


class _Page:
    """The HTML page of the diff, written atomically at the end."""

    def __init__(self, path: Path, preload: str) -> None:
        self._path = path
        self._preload = preload
        self._files: list[FileDiff] = []

    def add(self, item: FileDiff) -> None:
        if item.state is not FileState.SAME:
            self._files.append(item)

    def write(self, summary: Summary) -> None:
        write_atomic(self._path, diff_page(self._files, summary, self._preload).encode("utf-8"))
