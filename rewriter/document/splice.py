"""Edits to one tag's bytes: a new link value, and our annotation attribute set, kept or removed.

Everything outside the edited spans is copied as it was: quoting, case, whitespace, other
attributes. `mask_tag` gives the form the byte-preservation proof compares: the same tag with
the link value blanked and the annotation attribute taken out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rewriter.document.scan import Attribute, read_tag

_WHITESPACE = b"\t\n\f\r "
_SPACES = (b"\t", b"\n", b"\f", b"\r", b" ")
_MASK = b"\x00"


class Tag(Protocol):
    """A start tag and its attributes: one the scanner found (`LinkTag`), or one the proof read
    again from the output alone."""

    @property
    def raw(self) -> bytes: ...

    @property
    def name(self) -> str: ...

    @property
    def attributes(self) -> list[Attribute]: ...

    def attribute(self, name: str) -> Attribute | None: ...


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


def annotation_edits(tag: Tag, after: Attribute, name: str, value: str | None) -> list[Edit]:
    """Set the annotation attribute to `value` (None: remove it), touching nothing else.

    A new attribute goes right after `after` (the link attribute), double-quoted.
    """
    existing = tag.attribute(name)
    if value is None:  # every copy goes: a repeated attribute is still ours
        return _safe_removals(tag, _copies(tag, name))
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


def _safe_removals(tag: Tag, copies: list[Attribute]) -> list[Edit]:
    """Removals that leave every other attribute exactly as it was.

    Taking the whitespace before an attribute can join its neighbours (`href=x data-...="s"/>`
    would make the unquoted value `x/`); then only the attribute itself goes, and if even that
    would change another attribute (`download data-...="s"=x` gives `download=x`), the
    attribute stays: a stale annotation is harmless, a changed tag is not.
    """
    if not copies:
        return []
    with_space = [_removal(tag.raw, copy) for copy in copies]
    if all(tag.raw[copy.end : copy.end + 1] in (b">", *_SPACES) for copy in copies):
        return with_space  # followed by whitespace or `>`: nothing can join (the usual case)
    kept = (tag.name, _attribute_tuples(tag.raw, tag.attributes, without=copies))
    for edits in (with_space, [Edit(copy.start, copy.end, b"") for copy in copies]):
        candidate = apply_edits(tag.raw, edits)
        parsed = read_tag(candidate)
        if parsed is None:
            continue
        # Named as the scanner names tags (`read_tag` folds only ASCII: `<v:Ã>` is `v:ã`).
        name = parsed[0].decode("latin-1").lower()
        if (name, _attribute_tuples(candidate, parsed[1])) == kept:
            return edits
    return []


def _attribute_tuples(
    raw: bytes,
    attributes: list[Attribute],
    without: list[Attribute] = (),  # type: ignore[assignment]
) -> list[tuple[str, bytes, bytes, bool]]:
    removed = {attribute.start for attribute in without}
    return [
        (a.name, raw[a.value_start : a.value_end], a.quote, a.has_value)
        for a in attributes
        if a.start not in removed
    ]


def mask_tag(tag: Tag, link: Attribute | None, annotation: str | None) -> bytes:
    """The tag with the link value blanked and the annotation attribute removed, the way the
    rewrite removes it (so that input and output mask to the same bytes)."""
    edits = []
    if link is not None:
        edits.append(Edit(link.value_start, link.value_end, _MASK))
    if annotation is not None:
        copies = _copies(tag, annotation)
        removals = _safe_removals(tag, copies)
        if removals or not copies:
            edits += removals
        else:  # left in place by the rewrite (see _safe_removals): only its value is masked
            edits += (Edit(copy.value_start, copy.value_end, _MASK) for copy in copies)
    return apply_edits(tag.raw, edits)


def _copies(tag: Tag, name: str) -> list[Attribute]:
    """Every attribute of this name, the first included (browsers read only the first)."""
    if tag.attribute(name) is None:  # the usual case, without parsing every attribute again
        return []
    return [attribute for attribute in tag.attributes if attribute.name == name]
