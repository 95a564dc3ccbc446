"""Shared test fixtures: a fixed signing key, the cases folder, the shared material."""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "tests" / "cases"
SHARED = ROOT.parent / "shared"

TEST_KEY_ENV = "REWRITER_TEST_KEYS"
TEST_KEYS = "test " + base64.urlsafe_b64encode(b"rewriter test key, not secret :)").decode().rstrip(
    "="
)

# The golden cases' rules name this variable; set it for every test (and the subprocesses).
os.environ[TEST_KEY_ENV] = TEST_KEYS
# The tool's cache folder (rules, file fingerprints): never the real one of whoever runs tests.
os.environ["REWRITER_CACHE_DIR"] = tempfile.mkdtemp(prefix="rewriter-tests-cache-")


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not present (a fresh clone): skipping")
    return SHARED
