"""One function builds every click the service records: its id and time, what the token and the
request say, the label set from the request alone, and what the rules let a record keep of the
client (its address truncated, its user agent cut) and of the destination (its query or not)."""

from __future__ import annotations

import datetime
import functools
import random
import uuid
from dataclasses import dataclass

from rewriter.clicks.labels import (
    UserAgentPatterns,
    label_request,
    truncate_client,
    truncate_user_agent,
)
from rewriter.clicks.model import Click, ClickStatus
from rewriter.rules.model import ClickSettings, ClientIp
from rewriter.serve.request import Request


@dataclass(frozen=True, slots=True)
class ClickPolicy:
    """What the rules say a click record keeps, read once per configuration (so once per worker
    between reloads): one set of user-agent patterns, with its memo."""

    patterns: UserAgentPatterns
    client_ip: ClientIp = ClientIp.TRUNCATED
    store_query: bool = False

    @classmethod
    def from_settings(cls, settings: ClickSettings) -> ClickPolicy:
        return cls(
            UserAgentPatterns.builtin(settings.scanner_user_agents),
            settings.client_ip,
            settings.store_query,
        )


def new_click_id() -> str:
    """A version-4 UUID in hex. Its 122 random bits come from the process's Mersenne Twister,
    which Python reseeds in each forked worker: unique across workers and restarts without a
    getrandom call per click (ids need to be unique, not secret)."""
    return uuid.UUID(int=random.getrandbits(128), version=4).hex


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
    now = datetime.datetime.now(datetime.UTC)
    headers = {"user-agent": request.user_agent or ""}
    if request.purpose:
        headers.update(request.purpose)
    label, reason = label_request(request.method, headers, policy.patterns)
    return Click(
        click_id=new_click_id(),
        time=now.replace(microsecond=now.microsecond // 1000 * 1000),
        host=host,
        token_version=token_version,
        key_id=key_id,
        context=context,
        destination_host=destination_host,
        destination_path=destination_path,
        destination_query=query if policy.store_query else None,
        method=request.method,
        user_agent=truncate_user_agent(request.user_agent),
        client=_client(request.client, policy.client_ip),
        label=label.value,
        label_reason=reason,
        status=status,
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
