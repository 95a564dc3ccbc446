"""Clicks as JSON lines (one object per click), for platforms that ship logs to a pipeline of
their own. Each batch is one `write` on a file opened for appending, so the lines of several
worker processes never interleave. Reading skips a click id already read (a batch written twice
after an error) and lines that are not clicks."""

from __future__ import annotations

import datetime
import json
import os
import sys
from collections.abc import Iterator, Sequence

from rewriter.clicks.model import Click
from rewriter.clicks.records import from_json, to_json
from rewriter.clicks.stores.base import StoreError


class JsonLinesStore:
    def __init__(self, target: str) -> None:
        self.target = target  # a path, or - for stdout
        self._fd: int | None = None

    def migrate(self) -> None:
        return None  # no schema: every line carries its field names

    def write_batch(self, clicks: Sequence[Click]) -> None:
        data = "".join(
            json.dumps(to_json(click), ensure_ascii=False, separators=(",", ":")) + "\n"
            for click in clicks
        ).encode()
        try:
            if self.target == "-":
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
                return
            if self._fd is None:
                flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
                self._fd = os.open(self.target, flags, 0o640)
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
        except (OSError, ValueError) as error:
            raise StoreError(f"{self.target}: cannot write clicks: {error}") from None

    def read(
        self, since: datetime.datetime | None = None, until: datetime.datetime | None = None
    ) -> Iterator[Click]:
        if self.target == "-":
            raise StoreError("jsonl:- is written to stdout: there is nothing to read back")
        seen: set[str] = set()
        clicks: list[Click] = []
        try:
            with open(self.target, encoding="utf-8", errors="replace") as lines:
                for line in lines:
                    click = _parse(line)
                    if click is None or click.click_id in seen:
                        continue
                    seen.add(click.click_id)
                    if (since is None or click.time >= since) and (
                        until is None or click.time < until
                    ):
                        clicks.append(click)
        except OSError as error:
            raise StoreError(f"{self.target}: cannot read clicks: {error.strerror}") from None
        clicks.sort(key=lambda click: (click.time, click.click_id))
        yield from clicks

    def purge_before(self, moment: datetime.datetime) -> int:
        raise StoreError(
            f"{self.target}: JSON lines are not purged in place (a running service appends to "
            "the file): rotate it with your log rotation instead"
        )

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _parse(line: str) -> Click | None:
    try:
        data = json.loads(line)
        return from_json(data) if isinstance(data, dict) else None
    except (ValueError, KeyError, TypeError):
        return None
