"""The one-message path imports only what it uses: each command's module only when that command
runs, JSON only for a report, the rules reader (and YAML) only when the rules are not
remembered, the batch runner only for a batch. Checked on real runs (`python -X importtime`),
never timed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "tests" / "cases" / "rules.yaml"
MESSAGE = (ROOT / "samples" / "newsletter.html").read_bytes()

# Never needed by a one-message run of another command (nor by that run's own work).
ALWAYS_AWAY = {
    "rewriter.clicks",
    "rewriter.diff",
    "rewriter.cli.init",
    "rewriter.cli.resolve",
    "rewriter.batch.runner",
    "concurrent.futures",
    "json",
    "yaml",
    "rewriter.rules.loader",  # the rules are remembered: the reader is not needed
}
COMMANDS = {
    "rewrite - --fast": (["rewrite", "-", "--fast"], {"rewriter.cli.inspect"}),
    "rewrite -": (["rewrite", "-"], {"rewriter.cli.inspect"}),
    "check -": (["check", "-"], {"rewriter.cli.rewrite"}),
}


def imported(args: list[str], cache: Path) -> tuple[set[str], bytes]:
    """The modules a run imported, and its stdout."""
    env = {**os.environ, "REWRITER_CACHE_DIR": str(cache)}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "rewriter", *args, "--rules", str(RULES)],
        input=MESSAGE,
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr.decode()
    names = set()
    for line in done.stderr.decode().splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    assert "rewriter.document.engine" in names  # the measurement itself works
    return names, done.stdout


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_one_message_run_imports_only_what_it_uses(tmp_path: Path, name: str) -> None:
    args, away = COMMANDS[name]
    # A rewrite validates the rules and remembers them (check reads, never writes, that cache).
    imported(["rewrite", "-", "--fast"], tmp_path / "cache")
    names, _ = imported(args, tmp_path / "cache")
    unexpected = {
        module
        for module in names
        if any(module == gone or module.startswith(gone + ".") for gone in ALWAYS_AWAY | away)
    }
    assert unexpected == set()


def test_a_report_still_writes_json(tmp_path: Path) -> None:
    """JSON, imported late, is there when a report asks for it."""
    report = tmp_path / "report.ndjson"
    names, output = imported(
        ["rewrite", "-", "--fast", "--report", str(report)], tmp_path / "cache"
    )
    assert "json" in names
    assert output != MESSAGE
    assert report.read_text().count('"preload_list"') >= 3


def test_a_bad_rules_file_is_still_named_by_file_line_and_key(tmp_path: Path) -> None:
    """The error class lives apart from the reader now: what the user sees is unchanged."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES.read_text().replace("tracking:", "tracking:\n  nonsense: 1", 1))
    done = subprocess.run(
        [sys.executable, "-m", "rewriter", "rewrite", "-", "--rules", str(rules)],
        input=MESSAGE,
        capture_output=True,
        env={**os.environ, "REWRITER_CACHE_DIR": str(tmp_path / "cache")},
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.decode().startswith(f"rewriter: {rules}:")
    assert "tracking.nonsense" in done.stderr.decode()
    assert "Traceback" not in done.stderr.decode()
