"""The Strict-Transport-Security header as a browser reads it (RFC 6797 section 6.1 and 8.1).

    Strict-Transport-Security = "Strict-Transport-Security" ":" [ directive ] *( ";" [ directive ] )
    directive = directive-name [ "=" directive-value ]; name a token, value a token or quoted-string

Directive names are case-insensitive; each may appear once; `max-age` (delta-seconds) is required;
`includeSubDomains` takes no value; unknown directives (`preload` among them, which RFC 6797 does
not define) are ignored by browsers. A header that breaks any of this is ignored whole (6.1, 8.1).
When a response carries several such headers, only the first is processed (8.1).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rewriter.rules.model import HstsPolicy

# RFC 7230 token characters, and a quoted-string with its backslash escapes.
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_VALUE = rf'(?P<token>{_TOKEN})|"(?P<quoted>(?:[^"\\]|\\.)*)"'
_DIRECTIVE = re.compile(rf"[ \t]*(?P<name>{_TOKEN})[ \t]*(?:=[ \t]*(?:{_VALUE}))?[ \t]*")
_DELTA_SECONDS = re.compile(r"[0-9]+")
# Browsers cap max-age (Chromium at one year); the value itself is what we report, bounded so a
# 10,000-digit number does not become a huge int.
_MAX_AGE_DIGITS = 19


@dataclass(frozen=True, slots=True)
class HstsReading:
    """What the headers of one HTTPS response say.

    `policy` is None when there is no header, or when the first one is malformed (`problem`
    says why). `count` is how many Strict-Transport-Security headers the response held.
    """

    policy: HstsPolicy | None
    raw: str | None  # the first header's value, as sent
    count: int = 0
    problem: str | None = None

    def describe(self) -> str:
        if self.count == 0:
            return "no Strict-Transport-Security header"
        if self.policy is None:
            return f"a malformed Strict-Transport-Security header ({self.problem}), ignored"
        text = describe_policy(self.policy)
        if self.count > 1:
            text += f" (the first of {self.count} headers; browsers process only the first)"
        return text


def describe_policy(policy: HstsPolicy) -> str:
    parts = [f"max-age={policy.max_age}"]
    if policy.include_subdomains:
        parts.append("includeSubDomains")
    if policy.preload_directive:
        parts.append("preload")
    return "; ".join(parts)


def read_hsts(values: Sequence[str]) -> HstsReading:
    """The reading of a response's Strict-Transport-Security header values, in order."""
    if not values:
        return HstsReading(None, None)
    first = values[0]
    try:
        policy = parse_hsts(first)
    except ValueError as error:
        return HstsReading(None, first, len(values), str(error))
    return HstsReading(policy, first, len(values))


def parse_hsts(value: str) -> HstsPolicy:
    """One header value as a policy. Raises ValueError naming what is wrong."""
    seen: dict[str, str | None] = {}
    for name, directive_value in _directives(value):
        if name.lower() in seen:
            raise ValueError(f"the directive {name} appears twice")
        seen[name.lower()] = directive_value
    if "max-age" not in seen:
        raise ValueError("no max-age directive")
    max_age = seen["max-age"]
    if max_age is None or not _DELTA_SECONDS.fullmatch(max_age):
        raise ValueError(f"max-age must be a number of seconds (got {max_age!r})")
    if len(max_age.lstrip("0")) > _MAX_AGE_DIGITS:
        raise ValueError("max-age is too large")
    if seen.get("includesubdomains") is not None:
        raise ValueError("includeSubDomains takes no value")
    return HstsPolicy(
        max_age=int(max_age),
        include_subdomains="includesubdomains" in seen,
        preload_directive="preload" in seen,
    )


def _directives(value: str) -> list[tuple[str, str | None]]:
    """(name, value) of each directive, empty ones skipped; a quoted `;` does not split."""
    found: list[tuple[str, str | None]] = []
    position = 0
    while position < len(value):
        if not value[position:].split(";", 1)[0].strip(" \t"):
            position = value.find(";", position)  # an empty directive
            position = len(value) if position == -1 else position + 1
            continue
        match = _DIRECTIVE.match(value, position)
        end = match.end() if match else position
        if match is None or (end < len(value) and value[end] != ";"):
            bad = value[position:].split(";", 1)[0].strip()
            raise ValueError(f"{bad!r} is not a directive")
        quoted = match["quoted"]
        text = match["token"] if quoted is None else re.sub(r"\\(.)", r"\1", quoted)
        found.append((match["name"], text))
        position = end + 1
    return found
