"""Diff files or trees, one pair at a time, with a running summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from rewriter.batch.sources import PathError
from rewriter.diff.compare import VISIBLE, DocumentDiff, compare
from rewriter.diff.links import DocumentView, view_document
from rewriter.diff.trees import Pair
from rewriter.document.engine import PreservationError, Rewriter
from rewriter.document.inputs import TemplateError


class FileState(StrEnum):
    SAME = "same"
    CHANGED = "changed"
    ADDED = "added"
    REMOVED = "removed"
    FAILED = "failed"


@dataclass(slots=True)
class FileDiff:
    name: str
    state: FileState
    diff: DocumentDiff = field(default_factory=DocumentDiff)
    links_old: int = 0
    links_new: int = 0
    error: str | None = None

    @property
    def visible(self) -> bool:
        """Whether a person clicking would see a difference in this file."""
        return self.state in (FileState.ADDED, FileState.REMOVED) or self.diff.visible


@dataclass(slots=True)
class Summary:
    files: Counter[str] = field(default_factory=Counter)
    changes: Counter[str] = field(default_factory=Counter)
    other_changes: int = 0

    def add(self, item: FileDiff) -> None:
        self.files[item.state] += 1
        self.changes.update(str(change.kind) for change in item.diff.changes)
        self.other_changes += item.diff.other_changes

    @property
    def visible(self) -> bool:
        return bool(
            self.files[FileState.ADDED]
            or self.files[FileState.REMOVED]
            or any(self.changes[kind] for kind in VISIBLE)
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "files": {state: self.files[state] for state in FileState},
            "links": {kind: self.changes[kind] for kind in _KINDS},
            "other_changes": self.other_changes,
            "visible": self.visible,
        }


_KINDS = ("added", "removed", "retargeted", "status-changed", "re-wrapped")


def diff_pairs(items: Iterator[Pair | PathError], engine: Rewriter) -> Iterator[FileDiff]:
    for item in items:
        if isinstance(item, PathError):
            yield FileDiff(item.display, FileState.FAILED, error=item.reason)
        else:
            yield diff_pair(item, engine)


def diff_pair(pair: Pair, engine: Rewriter) -> FileDiff:
    try:
        old = _view(engine, pair.old)
        new = _view(engine, pair.new)
    except _Unreadable as error:
        return FileDiff(pair.name, FileState.FAILED, error=str(error))
    if old is None:
        assert new is not None
        return FileDiff(pair.name, FileState.ADDED, links_new=len(new.links))
    if new is None:
        return FileDiff(pair.name, FileState.REMOVED, links_old=len(old.links))
    diff = compare(old, new)
    state = FileState.CHANGED if diff.changes or diff.other_changes else FileState.SAME
    return FileDiff(pair.name, state, diff, len(old.links), len(new.links))


class _Unreadable(Exception):
    pass


def _view(engine: Rewriter, path: Path | None) -> DocumentView | None:
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError as error:
        raise _Unreadable(f"{path}: cannot read: {error.strerror or error}") from None
    try:
        return view_document(engine, data, str(path))
    except (TemplateError, PreservationError) as error:
        raise _Unreadable(f"{path}: {error}") from None
