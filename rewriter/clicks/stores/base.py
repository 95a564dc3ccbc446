"""What every click store offers. Stores are used by one thread at a time."""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Sequence
from typing import Protocol

from rewriter.clicks.model import Click

SCHEMA_TABLE = "rewriter_schema"
CLICKS_TABLE = "rewriter_clicks"


class StoreError(Exception):
    """A store that cannot be opened, written or read; the message is for a person.
    `permanent`: the data was refused (retrying the same clicks would fail again), as opposed
    to a store that is away for now."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class NoStore(StoreError):
    """The store's file does not exist (and was not to be created)."""


class Store(Protocol):
    def migrate(self) -> None:
        """Bring the schema to this version, idempotently, under a lock: several workers start
        at once. Refuses a schema newer than this version knows."""

    def write_batch(self, clicks: Sequence[Click]) -> None:
        """Store the clicks in one transaction. A click whose id is already stored is skipped,
        so a batch retried after a lost connection is stored once. Raises StoreError."""

    def read(
        self, since: datetime.datetime | None = None, until: datetime.datetime | None = None
    ) -> Iterator[Click]:
        """The clicks with since <= time < until, in time order."""

    def purge_before(self, moment: datetime.datetime) -> int:
        """Delete the clicks older than `moment`; how many were deleted."""

    def close(self) -> None: ...


def newer_schema(found: int, known: int) -> StoreError:
    return StoreError(
        f"the click store has schema version {found}, newer than this version of rewriter "
        f"knows ({known}): upgrade rewriter"
    )


def describe(url: str) -> str:
    """The URL without a password or query (which may hold one), for messages."""
    url = url.partition("?")[0]
    if "://" in url and "@" in url.partition("://")[2].partition("/")[0]:
        scheme, _, rest = url.partition("://")
        credentials, _, host = rest.partition("@")
        return f"{scheme}://{credentials.partition(':')[0]}@{host}"
    return url
