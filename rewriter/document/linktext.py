"""The text a reader sees for a link, for reports: trimmed and short."""

from __future__ import annotations

import re
from collections.abc import Callable

from rewriter.document.entities import decode_attribute_value

MAX_TEXT = 60

_TAG = re.compile(rb"<[^>]*+>?")
_ALT = re.compile(rb"<img\b[^>]*?\balt[\t\n\f\r ]*=[\t\n\f\r ]*(?:\"([^\"]*)\"|'([^']*)')", re.I)
_SPACE = re.compile(r"\s+")


def link_text(following: bytes, tag_name: str, decode: Callable[[bytes], str]) -> str:
    """The text between a link's start tag and its end tag (or an image's alt text).

    `<area>` has no content: its text is its own `alt`, which the caller reads.
    """
    end = following.lower().find(b"</" + tag_name.encode("latin-1"))
    content = following if end < 0 else following[:end]
    text = _clean(decode(_TAG.sub(b" ", content)))
    if not text:
        alt = _ALT.search(content)
        if alt is not None:
            text = _clean(decode(alt.group(1) if alt.group(1) is not None else alt.group(2)))
            text = f"[image: {text}]" if text else "[image]"
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _clean(text: str) -> str:
    return _SPACE.sub(" ", decode_attribute_value(text)).strip()
