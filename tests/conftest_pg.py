"""A real PostgreSQL server for the tests that need one (imported by them, not a conftest).

Debian's `postgresql` package provides the server (`/usr/lib/postgresql/<version>/bin`). initdb
refuses to run as root, and CI runs as root, so the server runs as an unprivileged system user
(`rewriter-test`, created when missing), on a private data folder and a free loopback port, and
is stopped afterwards. When it cannot start, the tests skip with a loud warning, except under
CI=true, where they fail: CI must run them (.ci/run installs the package).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

USER = "rewriter-test"
START_TIMEOUT_S = 30


class PostgresServer:
    """A throwaway cluster; `url` connects to its `postgres` database as `postgres`."""

    def __init__(self, bindir: Path, folder: Path, port: int, user: str | None) -> None:
        self.bindir = bindir
        self.folder = folder
        self.data = folder / "data"
        self.port = port
        self.user = user  # None: run as this process's own user
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def _run(self, *args: str, timeout: float = START_TIMEOUT_S) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(
            command, check=True, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL
        )

    def init(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--locale=C", "--no-sync", "--no-instructions",
        )  # fmt: skip

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        log = str(self.folder / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    return Path(found[-1]).parent if found else None


def _version(path: str) -> int:
    number = Path(path).parent.parent.name
    return int(number) if number.isdigit() else 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _unprivileged_user() -> str | None:
    """Root: the test user (created once); anyone else runs the server as themselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
            check=True,
            capture_output=True,
        )
    return USER


def _unavailable(why: str) -> None:
    message = f"POSTGRESQL TESTS NOT RUN: {why} (apt-get install postgresql)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    warnings.warn(message, pytest.PytestWarning, stacklevel=2)
    pytest.skip(message)


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    bindir = _bindir()
    if bindir is None:
        _unavailable("no /usr/lib/postgresql/*/bin/initdb")
        raise AssertionError("unreachable")
    folder = Path(tempfile.mkdtemp(prefix="rewriter-pg-"))
    try:
        user = _unprivileged_user()
        if user is not None:
            os.chmod(folder, 0o700)
            shutil.chown(folder, user)
        server = PostgresServer(bindir, folder, _free_port(), user)
        server.init()
        server.start()
    except (OSError, subprocess.SubprocessError) as error:
        detail = getattr(error, "stderr", b"") or b""
        shutil.rmtree(folder, ignore_errors=True)
        _unavailable(f"the server did not start: {error} {detail.decode(errors='replace')[-300:]}")
        raise AssertionError("unreachable") from None
    try:
        yield server
    finally:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)
