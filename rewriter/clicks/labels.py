"""Labels set at request time, from the request alone, and what a click record keeps of the
client: its address truncated as the rules say, its user agent cut to a bounded length.

Everything here is pure and cheap: it runs on the redirect's path. Labels that need several clicks
(bursts, duplicates) are computed when clicks are read (`readlabels`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from rewriter.rules.model import ClientIp

MAX_USER_AGENT = 256  # characters kept; real browsers send 100 to 200
_MEMO_SIZE = 4096  # user agents repeat: a service sees a few hundred distinct ones a minute
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Label(StrEnum):
    HUMAN = "human"
    BOT = "bot"
    SCANNER = "scanner"
    PREFETCH = "prefetch"


AUTOMATED: tuple[Label, ...] = (Label.SCANNER, Label.PREFETCH, Label.BOT)


@dataclass(frozen=True, slots=True)
class Pattern:
    """A part of a User-Agent header (matched ignoring case) and who sends it."""

    text: str
    who: str


def read_patterns(path: Path) -> tuple[Pattern, ...]:
    """`part | who` lines; `#` starts a comment line."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        text, _, who = line.partition(" | ")
        out.append(Pattern(text.strip(), who.strip() or text.strip()))
    return tuple(out)


class UserAgentPatterns:
    """Tells a scanner's or a bot's user agent from a person's browser, with a bounded memo."""

    def __init__(self, scanners: Iterable[Pattern], bots: Iterable[Pattern]) -> None:
        self._kinds: dict[str, tuple[Label, str]] = {}
        for label, patterns in ((Label.SCANNER, scanners), (Label.BOT, bots)):
            for pattern in patterns:  # the first kind named wins: scanners before bots
                self._kinds.setdefault(pattern.text.lower(), (label, pattern.who))
        alternatives = sorted(self._kinds, key=len, reverse=True)  # the longest part first
        self._regex = re.compile("|".join(map(re.escape, alternatives)), re.IGNORECASE)
        self._memo: dict[str, tuple[Label, str]] = {}

    @classmethod
    def builtin(cls, extra_scanners: Iterable[str] = ()) -> UserAgentPatterns:
        """The lists shipped with the package, plus the rules' `clicks.scanner_user_agents`."""
        here = Path(__file__).parent
        scanners = read_patterns(here / "scanners.txt")
        extra = tuple(Pattern(text, f"{text} (from the rules)") for text in extra_scanners)
        return cls(extra + scanners, read_patterns(here / "bots.txt"))

    def classify(self, user_agent: str) -> tuple[Label, str]:
        known = self._memo.get(user_agent)
        if known is not None:
            return known
        found = self._regex.search(user_agent)
        if found is None:
            result = (Label.HUMAN, "a browser's user agent")
        else:
            label, who = self._kinds[found.group().lower()]
            result = (label, f"user agent: {who}")
        if len(self._memo) >= _MEMO_SIZE:
            self._memo.clear()  # simpler than an LRU, and as good for a few hot user agents
        self._memo[user_agent] = result
        return result


def label_request(
    method: str, headers: Mapping[str, str], user_agent_patterns: UserAgentPatterns
) -> tuple[Label, str]:
    """The label of one request and why. `headers` has lower-case names."""
    if method.upper() == "HEAD":
        return Label.PREFETCH, "HEAD request"
    for name in ("sec-purpose", "purpose", "x-purpose", "x-moz"):
        value = headers.get(name)
        if value is not None and _says_prefetch(value):
            return Label.PREFETCH, f"{name}: {value.strip()[:40]}"
    user_agent = (headers.get("user-agent") or "").strip()
    if not user_agent:
        return Label.BOT, "no user agent"
    return user_agent_patterns.classify(user_agent)


def _says_prefetch(value: str) -> bool:
    """`prefetch`, `prefetch;prerender` (Sec-Purpose is a structured list), `preview`."""
    first = value.split(",", 1)[0].split(";", 1)[0].strip().lower()
    return first in ("prefetch", "preview")


def truncate_client(address: str | None, mode: ClientIp) -> str | None:
    """The client address a record keeps: nothing, the /24 (IPv4) or /48 (IPv6) network written
    with its prefix length (`192.0.2.0/24`), or the whole address. None for what is not an
    address (a Unix socket's peer)."""
    if mode is ClientIp.NONE or not address:
        return None
    try:
        ip = ipaddress.ip_address(address.strip().removeprefix("[").removesuffix("]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:192.0.2.7 is an IPv4 client on a dual-stack socket
    if mode is ClientIp.FULL:
        return str(ip)
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def truncate_user_agent(user_agent: str | None, limit: int = MAX_USER_AGENT) -> str | None:
    """At most `limit` characters, control characters replaced (a record is one line of text);
    None when there is none."""
    if user_agent is None:
        return None
    text = _CONTROL.sub("\ufffd", user_agent[:limit]).strip()
    return text or None
