"""The diff as text (coloured on a terminal), JSON or NDJSON."""

from __future__ import annotations

import json
from collections import Counter
from typing import TextIO

from rewriter.diff.compare import Change, LinkChange
from rewriter.diff.links import LinkView
from rewriter.diff.run import FileDiff, FileState, Summary

_COLOURS = {
    Change.ADDED: "32",
    Change.REMOVED: "31",
    Change.RETARGETED: "33",
    Change.STATUS_CHANGED: "35",
}
_LABELS = {
    Change.ADDED: "added",
    Change.REMOVED: "removed",
    Change.RETARGETED: "retargeted",
    Change.STATUS_CHANGED: "status changed",
}


class TextWriter:
    def __init__(self, out: TextIO, *, colour: bool = False) -> None:
        self._out = out
        self._colour = colour

    def file(self, item: FileDiff) -> None:
        write = self._out.write
        if item.state is FileState.SAME:
            return
        if item.state is FileState.FAILED:
            return  # reported on stderr by the command
        if item.state is FileState.ADDED:
            write(self._paint(f"{item.name}: file added ({_links(item.links_new)})\n", "32"))
            return
        if item.state is FileState.REMOVED:
            write(self._paint(f"{item.name}: file removed ({_links(item.links_old)})\n", "31"))
            return
        write(self._paint(item.name, "1") + "\n")
        rewraps: Counter[str] = Counter()
        for change in item.diff.changes:
            if change.kind is Change.REWRAPPED:
                rewraps[change.detail] += 1
            else:
                write(self._change_line(change))
        for detail, count in sorted(rewraps.items()):
            write(f"  {_links(count)} re-wrapped: {detail}\n")
        if item.diff.other_changes:
            noun = "change" if item.diff.other_changes == 1 else "changes"
            write(f"  {item.diff.other_changes} other {noun} outside links:\n")
            for line in item.diff.other_sample:
                write(f"    {self._paint(line, '31' if line[0] == '-' else '32')}\n")

    def _change_line(self, change: LinkChange) -> str:
        where = change.new or change.old
        assert where is not None
        label = self._paint(f"{_LABELS[change.kind]:<14}", _COLOURS[change.kind])
        if change.kind is Change.RETARGETED:
            assert change.old is not None and change.new is not None
            what = f"{_target(change.old)} -> {_target(change.new)}"
        elif change.kind is Change.STATUS_CHANGED:
            what = f"{_target(where)}: {change.detail}"
        else:
            what = _target(where) + (f" ({where.status})" if where.status else "")
        extra = f" ({change.detail})" if change.kind is Change.RETARGETED and change.detail else ""
        return f"  {where.line}:{where.column}  {label}  {what}{extra}\n"

    def _paint(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self._colour else text

    def finish(self, summary: Summary) -> None:
        pass


def summary_line(summary: Summary) -> str:
    files = summary.files
    compared = sum(files.values())
    parts = [f"{files[state]} {state}" for state in FileState if files[state]]
    links = [f"{summary.changes[k]} {k}" for k in _KIND_ORDER if summary.changes[k]]
    line = f"{compared} {'file' if compared == 1 else 'files'} compared"
    if parts:
        line += f" ({', '.join(parts)})"
    line += f"; links: {', '.join(links) if links else 'no change'}"
    if summary.other_changes:
        line += f"; {summary.other_changes} other changes outside links"
    return line


_KIND_ORDER = [str(kind) for kind in Change]


def _links(count: int) -> str:
    return f"{count} link" if count == 1 else f"{count} links"


def _target(link: LinkView) -> str:
    return link.target


def file_dict(item: FileDiff) -> dict[str, object]:
    return {
        "file": item.name,
        "state": str(item.state),
        "links": {"old": item.links_old, "new": item.links_new},
        "changes": [_change_dict(change) for change in item.diff.changes],
        "other_changes": item.diff.other_changes,
        "other_sample": item.diff.other_sample,
        "error": item.error,
    }


def _change_dict(change: LinkChange) -> dict[str, object]:
    return {
        "kind": str(change.kind),
        "old": None if change.old is None else _link_dict(change.old),
        "new": None if change.new is None else _link_dict(change.new),
        "detail": change.detail,
    }


def _link_dict(link: LinkView) -> dict[str, object]:
    wrapping = link.wrapping
    return {
        "line": link.line,
        "column": link.column,
        "text": link.text,
        "value": link.value,
        "target": link.target,
        "status": link.status,
        "status_from": link.status_from,
        "tracking": None
        if wrapping is None
        else {
            "host": wrapping.host,
            "key_id": wrapping.key_id,
            "version": wrapping.version,
            "context": wrapping.context,
            "verified": wrapping.verified,
        },
    }


class JsonWriter:
    """One JSON object: every file that differs, then the summary."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._files: list[dict[str, object]] = []

    def file(self, item: FileDiff) -> None:
        if item.state is not FileState.SAME:
            self._files.append(file_dict(item))

    def finish(self, summary: Summary) -> None:
        document = {"files": self._files, "summary": summary.as_dict()}
        self._out.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")


class NdjsonWriter:
    """One JSON object per file that differs, as it is compared, then the summary."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def file(self, item: FileDiff) -> None:
        if item.state is not FileState.SAME:
            self._out.write(json.dumps(file_dict(item), ensure_ascii=False) + "\n")

    def finish(self, summary: Summary) -> None:
        self._out.write(json.dumps({"summary": summary.as_dict()}) + "\n")
