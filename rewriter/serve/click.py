"""One function builds every click the service records, so that labelling (human, bot,
scanner, prefetch) can be plugged in at one place."""

from __future__ import annotations

import datetime
import functools
import itertools
import os

from rewriter.clicks.model import Click, ClickStatus
from rewriter.serve.request import Request

MAX_USER_AGENT = 256


# Click ids: 32 hex digits, like a uuid4's, made of 64 random bits drawn once per process and a
# counter: unique across processes and restarts, without a getrandom call per click (which
# cost more than verifying the token under load).
class _ClickIds:
    def __init__(self) -> None:
        self.reseed()
        os.register_at_fork(after_in_child=self.reseed)  # workers are forked

    def reseed(self) -> None:
        self.prefix = os.urandom(8).hex()
        self.counter = itertools.count()

    def new(self) -> str:
        return f"{self.prefix}{next(self.counter):016x}"


new_click_id = _ClickIds().new


def make_click(
    request: Request,
    host: str,
    status: ClickStatus,
    *,
    destination: str | None = None,
    key_id: str | None = None,
    context: str | None = None,
    token_version: int | None = None,
    record_query: bool = False,
) -> Click:
    destination_host, destination_path, query = split_destination(destination)
    now = datetime.datetime.now(datetime.UTC)
    return Click(
        click_id=new_click_id(),
        time=now.replace(microsecond=now.microsecond // 1000 * 1000),
        host=host,
        token_version=token_version,
        key_id=key_id,
        context=context,
        destination_host=destination_host,
        destination_path=destination_path,
        destination_query=query if record_query else None,
        method=request.method,
        user_agent=request.user_agent[:MAX_USER_AGENT] if request.user_agent else None,
        client=None,  # not kept until the rules say how to truncate it (the click store's issue)
        label="human",
        label_reason="not labelled yet",
        status=status,
    )


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
