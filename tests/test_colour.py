"""Colour on a terminal, as black does it: `rewrite --diff` and the `links` table, with
`--color/--no-color` and NO_COLOR; the table fits the terminal's width."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from golden import DEFAULT_RULES

from rewriter.batch.formats import TableWriter
from rewriter.cli.common import coloured_diff
from rewriter.cli.main import main
from rewriter.models import Action, LinkRecord, Reason, Status

ANSI = re.compile(r"\x1b\[[0-9;]*m")
PAGE = (
    b'<p><a href="https://www.example.com/a-rather-long-path/that-goes-on-and-on?utm_source=x">'
    b"A</a></p>\n<p>unchanged</p>\n"
)


def template(tmp_path: Path) -> Path:
    path = tmp_path / "t.html"
    path.write_bytes(PAGE)
    return path


def on_a_terminal(*arguments: str, env: dict[str, str]) -> str:
    """Run the command with stdout on a pseudo-terminal; what it printed there."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "rewriter", *arguments],
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **env},
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closes with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def test_coloured_diff_paints_each_kind_of_line_and_keeps_its_bytes() -> None:
    diff = b"--- a\n+++ a\n@@ -1 +1 @@\n-old\r\n+new\n context\n"
    painted = coloured_diff(diff)
    assert painted.splitlines() == [
        b"\x1b[1m--- a\x1b[0m",
        b"\x1b[1m+++ a\x1b[0m",
        b"\x1b[36m@@ -1 +1 @@\x1b[0m",
        b"\x1b[31m-old\x1b[0m",
        b"\x1b[32m+new\x1b[0m",
        b" context",
    ]
    assert ANSI.sub("", painted.decode()) == diff.decode()  # CRLF kept


def test_diff_colour_on_request_only(tmp_path: Path) -> None:
    path = str(template(tmp_path))
    runner = CliRunner()
    base = ["rewrite", path, "--diff", "--rules", str(DEFAULT_RULES)]
    plain = runner.invoke(main, base)
    forced = runner.invoke(main, [*base, "--color"])
    refused = runner.invoke(main, [*base, "--no-color"])
    assert plain.exit_code == forced.exit_code == refused.exit_code == 1
    assert "\x1b[" not in plain.stdout and "\x1b[" not in refused.stdout
    assert "\x1b[31m-" in forced.stdout and "\x1b[32m+" in forced.stdout
    assert ANSI.sub("", forced.stdout) == plain.stdout


def test_on_a_terminal_the_diff_is_coloured_unless_no_color(tmp_path: Path) -> None:
    path = str(template(tmp_path))
    arguments = ("rewrite", path, "--diff", "--rules", str(DEFAULT_RULES))
    coloured = on_a_terminal(*arguments, env={})
    plain = on_a_terminal(*arguments, env={"NO_COLOR": "1"})
    assert "\x1b[32m+" in coloured
    assert "\x1b[" not in plain and "+<p><a href=" in plain


def test_links_table_fits_the_terminal(tmp_path: Path) -> None:
    path = str(template(tmp_path))
    for columns in (90, 140):
        text = on_a_terminal("links", path, "--rules", str(DEFAULT_RULES),
                             env={"COLUMNS": str(columns)})  # fmt: skip
        lines = [ANSI.sub("", line) for line in text.splitlines() if line.startswith("  ")]
        assert lines and max(len(line) for line in lines) <= columns
        assert "\x1b[" in text  # statuses coloured on a terminal


def record(url: str) -> LinkRecord:
    return LinkRecord("t.html", 1, 1, "a", "href", "A", url, None, Action.SKIPPED,
                      Reason.SCHEME, "a mailto: link is not a click to track " * 4,
                      status=Status.INSECURE, status_reason="plain http " * 10)  # fmt: skip


def test_table_widths_without_a_terminal_are_fixed() -> None:
    stream = io.StringIO()
    writer = TableWriter(stream, "list", width=None)
    writer.write([record("mailto:" + "x" * 200)])
    row = stream.getvalue().splitlines()[-1]
    assert "plain http plain http" in row  # the reason is never cut off a file or a pipe
    assert len(row) > 200
