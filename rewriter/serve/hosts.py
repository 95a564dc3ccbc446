"""Which host a request asked for, and whether the service answers it.

The `Host` header is matched the way browsers send it: any case, an optional port, an optional
trailing dot. Only the rules' tracking domain and legacy tracking domains are served; anything
else (including a header that is not a plain host name) is nobody's.
"""

from __future__ import annotations

import functools
import re
from enum import Enum

from rewriter.rules.model import Rules

_HOST_AND_PORT = re.compile(r"([A-Za-z0-9.-]+?)\.?(?::[0-9]{1,5})?")


class HostKind(Enum):
    TRACKING = "tracking"
    LEGACY = "legacy"


@functools.lru_cache(maxsize=1024)  # browsers send the same few spellings of our hosts
def request_host(header: str | None) -> str | None:
    """The host name of a `Host` header, lower case, without port or trailing dot; None when the
    header is absent or not a plain DNS host name (IP literals are never our tracking domains)."""
    if not header:
        return None
    match = _HOST_AND_PORT.fullmatch(header.strip())
    return match.group(1).lower() if match else None


class HostMatcher:
    """The hosts the rules serve, by normalised name."""

    __slots__ = ("_kinds",)

    def __init__(self, rules: Rules) -> None:
        self._kinds = {rules.tracking_domain: HostKind.TRACKING}
        for host in rules.legacy_domains:
            self._kinds.setdefault(host, HostKind.LEGACY)

    def kind(self, host: str | None) -> HostKind | None:
        return self._kinds.get(host) if host is not None else None
