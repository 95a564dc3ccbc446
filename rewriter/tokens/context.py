"""What may be an attribution context given by hand (`--context`): a campaign or message id.

Tokens are signed, not encrypted: anyone holding a link can read its context. So a value that
looks like an email address (a recipient's, most likely) is refused, and the value must fit the
token's context field.
"""

from __future__ import annotations

import re

from rewriter.tokens.format import MAX_CONTEXT_BYTES

# local@domain.tld, also percent-encoded (%40) as it would be in a URL.
_EMAIL = re.compile(r"[^\s@]+(?:@|%40)[^\s@.]+(?:\.[^\s@.]+)+", re.IGNORECASE)


def context_problem(value: str) -> str | None:
    """Why `value` cannot be the attribution of tracking links, or None if it can."""
    if not value.strip() or not value.isprintable():
        return "must be printable text, not empty"
    if len(value.encode("utf-8")) > MAX_CONTEXT_BYTES:
        return f"longer than {MAX_CONTEXT_BYTES} bytes of UTF-8 (the limit of a token's context)"
    if _EMAIL.search(value):
        return (
            "looks like an email address: tokens are signed, not encrypted, so anyone holding a"
            " link can read its context; use a campaign or message id"
        )
    return None
