"""Output formats for link records: an aligned table for people, JSON, NDJSON and CSV for tools.

Each writer streams: records are written file by file as they come, never collected (except
for `json`, whose one document is closed at the end). Every format names the preload list.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from typing import TextIO

from rewriter.models import LINK_FIELDS, Action, LinkRecord, Status

FORMATS = ("table", "json", "ndjson", "csv")

STATUS_COLOURS = {
    Status.BROKEN: "red",
    Status.UNKNOWN: "magenta",
    Status.INSECURE: "yellow",
    Status.SECURE_AFTER_FIRST_VISIT: "cyan",
    Status.SECURE: "green",
}


class LinkWriter:
    """Writes records in one format; `finish` closes the document."""

    def __init__(self, stream: TextIO, preload: str, *, colour: bool = False) -> None:
        self.stream = stream
        self.preload = preload
        self.colour = colour

    def write(self, records: Sequence[LinkRecord]) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Close the document (only JSON has anything to close)."""


class NdjsonWriter(LinkWriter):
    def write(self, records: Sequence[LinkRecord]) -> None:
        for record in records:
            row = record.as_dict() | {"preload_list": self.preload}
            self.stream.write(json.dumps(row, ensure_ascii=False) + "\n")


class JsonWriter(LinkWriter):
    def __init__(self, stream: TextIO, preload: str, *, colour: bool = False) -> None:
        super().__init__(stream, preload, colour=colour)
        self._first = True
        stream.write("{" + f'"preload_list": {json.dumps(self.preload)}, "links": [')

    def write(self, records: Sequence[LinkRecord]) -> None:
        for record in records:
            self.stream.write("\n  " if self._first else ",\n  ")
            self.stream.write(json.dumps(record.as_dict(), ensure_ascii=False))
            self._first = False

    def finish(self) -> None:
        self.stream.write("\n]}\n")


class CsvWriter(LinkWriter):
    def __init__(self, stream: TextIO, preload: str, *, colour: bool = False) -> None:
        super().__init__(stream, preload, colour=colour)
        columns = [*LINK_FIELDS, "preload_list"]
        self._writer = csv.DictWriter(stream, columns, lineterminator="\n")
        self._writer.writeheader()

    def write(self, records: Sequence[LinkRecord]) -> None:
        for record in records:
            row = record.as_dict() | {"preload_list": self.preload}
            # As JSON writes them, not as Python prints them (True/False).
            self._writer.writerow({name: _csv_cell(value) for name, value in row.items()})


def _csv_cell(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


class TableWriter(LinkWriter):
    """Aligned columns with fixed widths (so it streams), long values shortened with `…`;
    each file's links under the file's name. On a terminal (`width` given), the URL and
    reason columns share what the terminal has, so each link is one line."""

    COLUMNS = (("LINE:COL", 9), ("STATUS", 24), ("ACTION", 15), ("TEXT", 24), ("URL", 52))

    def __init__(
        self, stream: TextIO, preload: str, *, colour: bool = False, width: int | None = None
    ) -> None:
        super().__init__(stream, preload, colour=colour)
        self.columns, self.reason_width = _fitted(self.COLUMNS, width)
        stream.write(f"preload list: {preload}\n")
        header = "  ".join(name.ljust(size) for name, size in self.columns) + "  REASON"
        stream.write(self._style("  " + header, bold=True) + "\n")

    def write(self, records: Sequence[LinkRecord]) -> None:
        heading: str | None = None
        for record in records:
            if (record.file or "-") != heading:  # a message's parts each get their own
                heading = record.file or "-"
                self.stream.write(self._style(heading, bold=True) + "\n")
            self.stream.write("  " + self._row(record) + "\n")

    def _row(self, record: LinkRecord) -> str:
        status = str(record.status) if record.status is not None else "-"
        cells = (
            f"{record.line}:{record.column}",
            status,
            str(record.action),
            record.text or "-",
            record.original,
        )
        parts = [_fit(cell, size) for cell, (_, size) in zip(cells, self.columns, strict=True)]
        if record.status is not None:
            parts[1] = self._style(parts[1], fg=STATUS_COLOURS[record.status])
        reasons = [record.reason] if record.action is not Action.REWRITTEN else []
        reasons += [record.status_reason] if record.status_reason else []
        reason = "; ".join(reasons)
        if self.reason_width is not None:
            reason = _fit(reason, self.reason_width).rstrip()
        return "  ".join(parts) + "  " + reason

    def _style(self, text: str, *, fg: str | None = None, bold: bool = False) -> str:
        if not self.colour:
            return text
        import click

        return click.style(text, fg=fg, bold=bold)


def _fitted(
    columns: tuple[tuple[str, int], ...], width: int | None
) -> tuple[tuple[tuple[str, int], ...], int | None]:
    """Column widths for a terminal of `width` characters (None: not a terminal, as they are):
    line, status and action keep theirs; text, URL and reason share the rest."""
    if width is None:
        return columns, None
    (line, status, action, (text_name, text_max), (url_name, url_max)) = columns
    fixed = 2 + line[1] + status[1] + action[1] + 2 * 5  # indent, then a gap after each column
    room = max(width - fixed, 6 + 12 + 8)
    text = max(6, min(text_max, room // 5))
    url = max(12, min(url_max, room * 9 // 20))
    return (line, status, action, (text_name, text), (url_name, url)), room - text - url


def _fit(text: str, width: int) -> str:
    text = " ".join(text.split())
    if len(text) > width:
        return text[: width - 1] + "…"
    return text.ljust(width)


class HtmlWriter(LinkWriter):
    """One self-contained page (`rewriter.pages.report`), written when every link is in."""

    def __init__(self, stream: TextIO, preload: str, *, colour: bool = False) -> None:
        super().__init__(stream, preload, colour=colour)
        self._records: list[LinkRecord] = []

    def write(self, records: Sequence[LinkRecord]) -> None:
        self._records.extend(records)

    def finish(self) -> None:
        from rewriter.pages.report import links_page

        self.stream.write(links_page(self._records, self.preload))


def writer_for(
    fmt: str, stream: TextIO, preload: str, *, colour: bool, width: int | None = None
) -> LinkWriter:
    if fmt == "table":
        return TableWriter(stream, preload, colour=colour, width=width)
    writers: dict[str, type[LinkWriter]] = {
        "json": JsonWriter,
        "ndjson": NdjsonWriter,
        "csv": CsvWriter,
        "html": HtmlWriter,
    }
    return writers[fmt](stream, preload, colour=colour)
