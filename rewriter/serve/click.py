"""One function builds every click the service records: its id and time, what the token and the
request say, the label set from the request alone, and what the rules let a record keep of the
client (its address truncated, its user agent cut) and of the destination (its query or not)."""

from __future__ import annotations

import datetime
import functools
import random
import time
from dataclasses import dataclass, field

from rewriter.clicks.labels import (
    UserAgentPatterns,
    label_request,
    truncate_client,
    truncate_user_agent,
)
from rewriter.clicks.model import Click, ClickStatus
from rewriter.rules.model import ClickSettings, ClientIp
from rewriter.serve.request import Request

_MEMO_SIZE = 4096  # requests repeat their user agents: a few hundred distinct ones a minute

# What a click keeps of the request's own headers: (label, reason, user agent as stored).
RequestPart = tuple[str, str, str | None]


@dataclass(frozen=True, slots=True)
class ClickPolicy:
    """What the rules say a click record keeps, read once per configuration (so once per worker
    between reloads): one set of user-agent patterns, and a memo of what a request's headers
    give a click (the same browsers and scanners come back at every click)."""

    patterns: UserAgentPatterns
    client_ip: ClientIp = ClientIp.TRUNCATED
    store_query: bool = False
    _memo: dict[tuple[str, str | None, tuple[tuple[str, str], ...] | None], RequestPart] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def from_settings(cls, settings: ClickSettings) -> ClickPolicy:
        return cls(
            UserAgentPatterns.builtin(settings.scanner_user_agents),
            settings.client_ip,
            settings.store_query,
        )

    def request_part(self, request: Request) -> RequestPart:
        """The label, its reason and the stored user agent of a request, from its method,
        user agent and prefetch hints alone."""
        purpose = tuple(request.purpose.items()) if request.purpose else None
        key = (request.method, request.user_agent, purpose)
        known = self._memo.get(key)
        if known is None:
            headers = {"user-agent": request.user_agent or ""}
            if request.purpose:
                headers.update(request.purpose)
            label, reason = label_request(request.method, headers, self.patterns)
            known = (label.value, reason, truncate_user_agent(request.user_agent))
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()  # simpler than an LRU, and as good for the hot few
            self._memo[key] = known
        return known


# A version-4 UUID from 128 random bits: the version nibble set to 4, the variant bits to 10.
_UUID4_MASK = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)
_UUID4_BITS = (0x4 << 76) | (0x2 << 62)


def new_click_id() -> str:
    """A version-4 UUID in hex. Its 122 random bits come from the process's Mersenne Twister,
    which Python reseeds in each forked worker: unique across workers and restarts without a
    getrandom call per click (ids need to be unique, not secret). Formatted directly: a
    uuid.UUID object would cost four times as much, at every click."""
    return "%032x" % (random.getrandbits(128) & _UUID4_MASK | _UUID4_BITS)


_EPOCH = datetime.datetime.fromtimestamp(0, datetime.UTC)


def now_to_the_millisecond() -> datetime.datetime:
    """The time now (UTC), cut to the millisecond."""
    return _utc_millisecond(time.time_ns() // 1_000_000)


@functools.lru_cache(maxsize=4)  # clicks of the same millisecond share one datetime, made once
def _utc_millisecond(millisecond: int) -> datetime.datetime:
    return _EPOCH + datetime.timedelta(milliseconds=millisecond)


def make_click(
    policy: ClickPolicy,
    request: Request,
    host: str,
    status: ClickStatus,
    *,
    destination: str | None = None,
    key_id: str | None = None,
    context: str | None = None,
    token_version: int | None = None,
) -> Click:
    destination_host, destination_path, query = split_destination(destination)
    label, reason, user_agent = policy.request_part(request)
    return Click(
        new_click_id(),
        now_to_the_millisecond(),
        host,
        token_version,
        key_id,
        context,
        destination_host,
        destination_path,
        query if policy.store_query else None,
        request.method,
        user_agent,
        _client(request.client, policy.client_ip),
        label,
        reason,
        status,
    )


@functools.lru_cache(maxsize=4096)  # the same clients click again and again
def _client(address: str | None, mode: ClientIp) -> str | None:
    return truncate_client(address, mode)


@functools.lru_cache(maxsize=4096)  # the same destinations are clicked again and again
def split_destination(url: str | None) -> tuple[str | None, str | None, str | None]:
    """(host, path, query) of a serialised http(s) URL; the fragment is dropped."""
    if url is None:
        return None, None, None
    rest = url.partition("://")[2].partition("#")[0]
    authority_end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    host = rest[:authority_end].rsplit("@", 1)[-1]
    if not host.endswith("]"):
        host = host.rsplit(":", 1)[0] if ":" in host else host
    path, question, query = rest[authority_end:].partition("?")
    return host.lower(), path or "/", query if question else None
