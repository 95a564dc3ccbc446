"""Two documents' links aligned in document order, and each difference named by what it means
for a person clicking."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from rewriter.diff.links import DocumentView, LinkView, Wrapping

SAMPLE_HUNKS = 3  # "other changes" shown, the rest counted
SAMPLE_LINES = 4  # lines shown per side of a hunk


class Change(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    RETARGETED = "retargeted"
    STATUS_CHANGED = "status-changed"
    REWRAPPED = "re-wrapped"


# What a person clicking would notice: these make `rewriter diff` exit 1.
VISIBLE = frozenset({Change.ADDED, Change.REMOVED, Change.RETARGETED, Change.STATUS_CHANGED})


@dataclass(frozen=True, slots=True)
class LinkChange:
    kind: Change
    old: LinkView | None
    new: LinkView | None
    detail: str = ""


@dataclass(slots=True)
class DocumentDiff:
    """How two versions of one document differ: link changes, then other byte changes."""

    changes: list[LinkChange] = field(default_factory=list)
    other_changes: int = 0
    other_sample: list[str] = field(default_factory=list)

    @property
    def visible(self) -> bool:
        return any(change.kind in VISIBLE for change in self.changes)


def compare(old: DocumentView, new: DocumentView) -> DocumentDiff:
    diff = DocumentDiff(list(align(old.links, new.links)))
    diff.other_changes, diff.other_sample = _other_changes(old.skeleton, new.skeleton)
    return diff


def align(old: Sequence[LinkView], new: Sequence[LinkView]) -> Iterator[LinkChange]:
    """Pair links by where clicks go, in document order (a sequence alignment, so a link
    inserted in the middle does not shift every pair after it)."""
    matcher = difflib.SequenceMatcher(
        None, [link.target for link in old], [link.target for link in new], autojunk=False
    )
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                yield from _same_target(old[i], new[j])
            continue
        paired = min(i2 - i1, j2 - j1)
        for k in range(paired):
            before, after = old[i1 + k], new[j1 + k]
            yield LinkChange(Change.RETARGETED, before, after, _retarget_detail(before, after))
        for i in range(i1 + paired, i2):
            yield LinkChange(Change.REMOVED, old[i], None)
        for j in range(j1 + paired, j2):
            yield LinkChange(Change.ADDED, None, new[j])


def _same_target(old: LinkView, new: LinkView) -> Iterator[LinkChange]:
    if old.status != new.status:
        yield LinkChange(Change.STATUS_CHANGED, old, new, f"{old.status} -> {new.status}")
    rewrap = _rewrap_detail(old.wrapping, new.wrapping)
    if rewrap or old.value != new.value:
        yield LinkChange(Change.REWRAPPED, old, new, rewrap or "new link, same destination")


def _retarget_detail(old: LinkView, new: LinkView) -> str:
    notes = []
    if old.status != new.status:
        notes.append(f"{old.status} -> {new.status}")
    for side, link in (("old", old), ("new", new)):
        if link.wrapping is not None and not link.wrapping.verified:
            notes.append(f"{side} link unverified")
    return "; ".join(notes)


def _rewrap_detail(old: Wrapping | None, new: Wrapping | None) -> str:
    if old is None and new is None:
        return ""
    if old is None:
        return "now tracked"
    if new is None:
        return "no longer tracked"
    notes = []
    if old.host != new.host:
        notes.append(f"domain {old.host} -> {new.host}")
    if old.key_id != new.key_id:
        notes.append(f"key {old.key_id} -> {new.key_id}")
    if old.version != new.version:
        notes.append(f"token version {old.version} -> {new.version}")
    if old.context != new.context:
        notes.append(f"context {old.context!r} -> {new.context!r}")
    if not new.verified:
        notes.append("new link unverified")
    return ", ".join(notes)


def _other_changes(old: bytes, new: bytes) -> tuple[int, list[str]]:
    """Hunks of byte changes outside link values, and the first few of them as text."""
    if old == new:
        return 0, []
    before = old.splitlines(keepends=True)
    after = new.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    hunks = [op for op in matcher.get_opcodes() if op[0] != "equal"]
    sample: list[str] = []
    for _, i1, i2, j1, j2 in hunks[:SAMPLE_HUNKS]:
        sample += [f"-{_shown(line)}" for line in before[i1:i2][:SAMPLE_LINES]]
        sample += [f"+{_shown(line)}" for line in after[j1:j2][:SAMPLE_LINES]]
    return len(hunks), sample


def _shown(line: bytes) -> str:
    """A line of the masked document as text: masked link values show as `…`."""
    return line.decode("utf-8", "replace").rstrip("\r\n").replace("\x00", "…")
