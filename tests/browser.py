"""Headless Chromium for the tests that look at pages: Debian's `chromium`, driven by
Playwright. CI installs it (.ci/run) and must never skip these tests; elsewhere they skip with a
loud message when no browser is present."""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[1] / "out" / "test-artifacts"
# As root, Chromium needs --no-sandbox; the rest keeps it off this machine's closed network.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def browser() -> Iterator[Any]:
    """A launched browser, or a skip (a failure under CI) saying why there is none."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - a dev install always has it
        _missing("Playwright for Python is not installed")
    if CHROMIUM is None:
        _missing("no Chromium on this machine (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()


def _missing(why: str) -> None:
    message = f"BROWSER TESTS NOT RUN: {why}"
    if os.environ.get("CI"):
        pytest.fail(message)
    warnings.warn(message, stacklevel=2)
    pytest.skip(message)
