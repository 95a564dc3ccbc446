"""The proof of byte preservation, the last stage of every piece before it is written.

The output must equal the input outside the values of links on the tracking domain and our
annotation attribute on them (non-negotiable #1). The engine writes the input as pieces: bytes
between link tags, and link tags. So the proof takes each piece with the bytes about to be
written for it:

- bytes between link tags, and link tags nothing was done to, are compared with the input's
  bytes directly: they must be the same bytes; so must every link tag the engine decided not
  to change (not rewritten, not on the tracking domain);
- any other link tag that changed is read again from the output bytes alone, independently of the
  splice that made it: it must be one whole start tag of the same name, as long as a tag may be,
  not ending a conditional comment it is inside, with a link value on the tracking domain; and
  once that value and our annotation are masked out of both, its bytes must equal the input
  tag's.

Then the output reads, piece for piece, as the input does: what lies between the edited tags is
the input's own bytes, and each edited tag ends where it ended before, as the same tag, so the
scanner's state after it is the same. This is what re-scanning the whole output proved, at the
cost of comparing bytes and reading the edited tags alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rewriter.document.scan import MAX_TAG_BYTES, Attribute, LinkTag, read_tag
from rewriter.document.splice import mask_tag
from rewriter.document.stages import LINK_ATTRIBUTE

# Where a browser ends a comment: inside a conditional comment, a tag holding it is not a tag.
_COMMENT_END = re.compile(rb"--!?>")


class PreservationError(Exception):
    """The output differs from the input outside the link values: nothing may be written."""


@dataclass(frozen=True, slots=True)
class ReadTag:
    """A start tag read from bytes alone (the output side of the proof)."""

    raw: bytes
    name: str
    attributes: list[Attribute]

    def attribute(self, name: str) -> Attribute | None:
        """The first attribute with this name, as browsers read it."""
        return next((attribute for attribute in self.attributes if attribute.name == name), None)

    def value(self, attribute: Attribute) -> bytes:
        return self.raw[attribute.value_start : attribute.value_end]


def read_alone(raw: bytes) -> ReadTag | None:
    """The tag these bytes are, read by themselves; None when they are not exactly one tag."""
    read = read_tag(raw)
    if read is None:
        return None
    name, attributes = read
    return ReadTag(raw, name.decode("latin-1").lower(), attributes)  # as the scanner names it


class Proof:
    """The proof for one document: every piece, before it is written."""

    def __init__(self, annotation: str, is_own: Callable[[bytes], bool]) -> None:
        self._annotation = annotation
        self._is_own = is_own  # whether a raw link value (as written) is on the tracking domain

    def text(self, before: bytes, after: bytes) -> None:
        """Bytes between link tags: written as they were read."""
        if after != before:
            _refuse("between the link tags")

    def tag(self, tag: LinkTag, after: bytes, *, may_change: bool) -> None:
        """A link tag: the same bytes, or (a link the engine decided is ours to change: rewritten
        or on the tracking domain) the same tag but for its link value and annotation."""
        if after == tag.raw:
            return
        problem = self._edited_problem(tag, after) if may_change else "not a link to change"
        if problem is not None:
            _refuse(f"in the <{tag.name}> tag at byte {tag.offset} ({problem})")

    def _edited_problem(self, tag: LinkTag, after: bytes) -> str | None:
        if len(after) > MAX_TAG_BYTES:
            return f"larger than {MAX_TAG_BYTES:,} bytes: it would not be read as a tag"
        read = read_alone(after)
        if read is None or read.name != tag.name:
            return "it no longer reads as the same tag"
        if tag.in_conditional_comment and _COMMENT_END.search(after):
            return "it would end the conditional comment it is in"
        before_link, after_link = tag.attribute(LINK_ATTRIBUTE), read.attribute(LINK_ATTRIBUTE)
        if before_link is None or after_link is None:
            return f"its {LINK_ATTRIBUTE} is gone"
        if not self._is_own(read.value(after_link)):
            return "its link is not on the tracking domain"
        masked_before = mask_tag(tag, before_link, self._annotation)
        if mask_tag(read, after_link, self._annotation) != masked_before:
            return "more changed than its link value and annotation"
        return None


def _refuse(where: str) -> None:
    raise PreservationError(
        f"the output differs from the input outside the rewritten link values: {where}"
    )
