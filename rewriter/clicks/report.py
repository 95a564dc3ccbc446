"""`rewriter clicks`: clicks per group, unique clicks, and the share labelled automated; human
clicks only by default, the automated ones summed apart."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from rewriter.clicks.labels import AUTOMATED, Label
from rewriter.clicks.readlabels import ReadClick


class GroupBy(StrEnum):
    DESTINATION = "destination"
    CONTEXT = "context"
    HOST = "host"
    DAY = "day"
    LABEL = "label"


def _destination(item: ReadClick) -> str | None:
    click = item.click
    if click.destination_host is None:
        return None
    query = f"?{click.destination_query}" if click.destination_query else ""
    return f"{click.destination_host}{click.destination_path or '/'}{query}"


_KEYS: dict[GroupBy, Callable[[ReadClick], str | None]] = {
    GroupBy.DESTINATION: _destination,
    GroupBy.CONTEXT: lambda item: item.click.context,
    GroupBy.HOST: lambda item: item.click.host,
    GroupBy.DAY: lambda item: item.click.time.date().isoformat(),
    GroupBy.LABEL: lambda item: item.label,
}


@dataclass(slots=True)
class Row:
    key: str | None
    clicks: int = 0  # counted clicks: human ones, or every label with --all
    unique: int = 0
    automated: int = 0  # clicks of the group labelled automated (counted or not)
    seen: int = 0  # every click of the group

    @property
    def automated_share(self) -> float:
        return self.automated / self.seen if self.seen else 0.0


@dataclass(slots=True)
class Report:
    by: GroupBy
    every_label: bool
    rows: list[Row] = field(default_factory=list)
    automated: dict[str, int] = field(default_factory=dict)


def build(items: Iterable[ReadClick], by: GroupBy, *, every_label: bool = False) -> Report:
    key_of = _KEYS[by]
    rows: dict[str | None, Row] = {}
    automated = {str(label): 0 for label in AUTOMATED}
    for item in items:
        key = key_of(item)
        row = rows.get(key)
        if row is None:
            row = rows[key] = Row(key)
        row.seen += 1
        is_human = item.label == Label.HUMAN
        if not is_human:
            automated[item.label] = automated.get(item.label, 0) + 1
            row.automated += 1
        if is_human or every_label:
            row.clicks += 1
            row.unique += item.unique
    counted = [row for row in rows.values() if row.clicks]
    if by is GroupBy.DAY:
        counted.sort(key=lambda row: row.key or "")
    else:
        counted.sort(key=lambda row: (-row.clicks, row.key is None, row.key or ""))
    return Report(by, every_label, counted, automated)


def as_json(report: Report) -> str:
    data = {
        "by": report.by.value,
        "rows": [
            {"key": row.key, "clicks": row.clicks, "unique": row.unique} for row in report.rows
        ],
        "automated": report.automated,
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def as_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["key", "clicks", "unique", "automated_share"])
    for row in report.rows:
        writer.writerow([row.key or "", row.clicks, row.unique, f"{row.automated_share:.4f}"])
    return out.getvalue()


def as_table(report: Report) -> str:
    header = (report.by.value, "clicks", "unique", "automated")
    lines = [
        (row.key or "(none)", str(row.clicks), str(row.unique), f"{row.automated_share:.0%}")
        for row in report.rows
    ]
    width = max([len(header[0]), *(len(line[0]) for line in lines)])
    numbers = [max([len(header[i]), *(len(line[i]) for line in lines)]) for i in (1, 2, 3)]

    def format_line(cells: tuple[str, ...]) -> str:
        rest = "  ".join(cell.rjust(size) for cell, size in zip(cells[1:], numbers, strict=True))
        return f"{cells[0].ljust(width)}  {rest}"

    text = [format_line(header), *map(format_line, lines)]
    if not lines:
        text.append("(no clicks)")
    total = sum(report.automated.values())
    parts = ", ".join(f"{label} {count}" for label, count in report.automated.items())
    where = "counted above" if report.every_label else "not counted above"
    text.append(f"automated ({where}): {total}" + (f" ({parts})" if total else ""))
    return "\n".join(text) + "\n"
