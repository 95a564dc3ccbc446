"""A progress line on a terminal: files done, files per second, time left."""

from __future__ import annotations

import sys
import time
from typing import TextIO

REFRESH_SECONDS = 0.1


class Progress:
    """Draws `[ 120/4500] 310 files/s, 0:14 left` on stderr; nothing when disabled."""

    def __init__(self, total: int, *, enabled: bool, stream: TextIO | None = None) -> None:
        self.total = total
        self.enabled = enabled and total > 1
        self.stream = stream or sys.stderr
        self.done = 0
        self._start = time.monotonic()
        self._drawn = 0.0

    def advance(self) -> None:
        self.done += 1
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._drawn >= REFRESH_SECONDS or self.done == self.total:
            self._drawn = now
            self._draw(now - self._start)

    def clear(self) -> None:
        """Remove the line (before a message is printed, and at the end)."""
        if self.enabled and self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def _draw(self, elapsed: float) -> None:
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        width = len(str(self.total))
        line = (
            f"[{self.done:>{width}}/{self.total}] {rate:,.0f} files/s, "
            f"{int(left // 60)}:{int(left % 60):02d} left"
        )
        self.stream.write("\r\x1b[K" + line)
        self.stream.flush()
