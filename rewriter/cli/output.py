"""Standard output that cannot be written: one line on stderr and an exit code, never a traceback.

A full disk (`> /dev/full`) or a reader that went away (`| head`) shows up as an OSError from
whichever write or flush meets it, anywhere in a command. `guard_stdout` puts a layer under
`sys.stdout` that turns such an error into `StdoutError`, so that one place handles it, and
only errors of stdout (a file the batch cannot write is that file's failure, not this).
"""

from __future__ import annotations

import errno
import io
import os
import sys
from typing import BinaryIO


class StdoutError(Exception):
    """Writing to stdout failed; `quiet` when the reader closed the pipe (nothing to say)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(f"cannot write to stdout: {error.strerror or error}")
        self.quiet = error.errno == errno.EPIPE


class _GuardedBinary(io.BufferedIOBase):
    """Passes bytes to the real stdout; its OSErrors become StdoutError."""

    def __init__(self, inner: BinaryIO) -> None:
        super().__init__()
        self._inner = inner

    @property
    def name(self) -> str:
        return str(getattr(self._inner, "name", "<stdout>"))

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        try:
            return self._inner.write(data)
        except OSError as error:
            raise StdoutError(error) from None

    def flush(self) -> None:
        if self._inner.closed:  # a test runner's stream, gone with its run
            return
        try:
            self._inner.flush()
        except OSError as error:
            raise StdoutError(error) from None

    def isatty(self) -> bool:
        return self._inner.isatty()

    def fileno(self) -> int:
        return self._inner.fileno()


def guard_stdout() -> None:
    """Put the guard under `sys.stdout` (text and `.buffer` alike)."""
    stream = sys.stdout
    inner = getattr(stream, "buffer", None)
    if inner is None or isinstance(inner, _GuardedBinary):
        return
    stream.flush()
    sys.stdout = io.TextIOWrapper(
        _GuardedBinary(inner),
        encoding=stream.encoding,
        errors=stream.errors,
        line_buffering=bool(stream.line_buffering),
        write_through=True,  # the real stdout below buffers
    )


def stdout_failed(error: StdoutError) -> None:
    """Say so (unless the reader just closed the pipe), and send whatever is still buffered to
    /dev/null: otherwise the interpreter's own flush at exit fails again and prints
    "Exception ignored" (the way the Python documentation recommends for SIGPIPE)."""
    try:
        descriptor = sys.stdout.fileno()
    except (OSError, ValueError):  # io.UnsupportedOperation is both: not a real file
        descriptor = -1
    if descriptor >= 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, descriptor)
        os.close(devnull)
    if not error.quiet:
        sys.stderr.write(f"rewriter: {error}\n")
        sys.stderr.flush()
