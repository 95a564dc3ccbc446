"""Edits to one tag's bytes: a new link value, and our annotation attribute set, kept or removed.

Everything outside the edited spans is copied as it was: quoting, case, whitespace, other
attributes. `mask_tag` gives the form the byte-preservation proof compares: the same tag with
the link value blanked and the annotation attribute taken out.
"""

from __future__ import annotations

from dataclasses import dataclass

from rewriter.scan import Attribute, LinkTag

_WHITESPACE = b"\t\n\f\r "
_MASK = b"\x00"


@dataclass(frozen=True, slots=True)
class Edit:
    start: int
    end: int
    replacement: bytes


def apply_edits(data: bytes, edits: list[Edit]) -> bytes:
    """Apply non-overlapping edits, last first, so earlier offsets stay valid."""
    for edit in sorted(edits, key=lambda edit: edit.start, reverse=True):
        data = data[: edit.start] + edit.replacement + data[edit.end :]
    return data


def value_edit(attribute: Attribute, new_value: bytes) -> Edit:
    return Edit(attribute.value_start, attribute.value_end, new_value)


def annotation_edits(tag: LinkTag, after: Attribute, name: str, value: str | None) -> list[Edit]:
    """Set the annotation attribute to `value` (None: remove it), touching nothing else.

    A new attribute goes right after `after` (the link attribute), double-quoted.
    """
    existing = tag.attribute(name)
    if value is None:  # every copy goes: a repeated attribute is still ours
        return [_removal(tag.raw, copy) for copy in _copies(tag, name)]
    encoded = value.encode("ascii")
    if existing is None:
        return [Edit(after.end, after.end, b" " + name.encode("ascii") + b'="' + encoded + b'"')]
    if not existing.has_value:
        return [Edit(existing.end, existing.end, b'="' + encoded + b'"')]
    if tag.raw[existing.value_start : existing.value_end] == encoded:
        return []
    return [Edit(existing.value_start, existing.value_end, encoded)]


def _removal(raw: bytes, attribute: Attribute) -> Edit:
    """Remove an attribute with the whitespace before it."""
    start = attribute.start
    while start > 0 and raw[start - 1] in _WHITESPACE:
        start -= 1
    return Edit(start, attribute.end, b"")


def mask_tag(tag: LinkTag, link: Attribute | None, annotation: str | None) -> bytes:
    """The tag with the link value blanked and the annotation attribute removed."""
    edits = []
    if link is not None:
        edits.append(Edit(link.value_start, link.value_end, _MASK))
    if annotation is not None:
        edits += (_removal(tag.raw, copy) for copy in _copies(tag, annotation))
    return apply_edits(tag.raw, edits)


def _copies(tag: LinkTag, name: str) -> list[Attribute]:
    """Every attribute of this name, the first included (browsers read only the first)."""
    if tag.attribute(name) is None:  # the usual case, without parsing every attribute again
        return []
    return [attribute for attribute in tag.attributes if attribute.name == name]
