"""Which scanner runs: the compiled one when it is built, the pure-Python one otherwise or when
REWRITER_SCANNER=python says so; `rewriter --version` names it. Through real processes, since
the choice is made at import."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

# Whether the extension is there (this process may run with REWRITER_SCANNER=python).
BUILT = importlib.util.find_spec("rewriter.document._cscan") is not None
DOCUMENT = b'<!--[if mso]><v:rect href="http://m.example/"><![endif]--><a href="http://x.example/">'


def run(*args: str, scanner: str | None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "REWRITER_SCANNER"}
    if scanner is not None:
        env["REWRITER_SCANNER"] = scanner
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def version(scanner: str | None) -> str:
    result = run("-m", "rewriter", "--version", scanner=scanner)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_version_names_the_pure_python_scanner_when_forced() -> None:
    assert version("python").endswith("(scanner: python)\n")


def test_version_names_the_scanner_chosen_by_default() -> None:
    assert version(None).endswith(f"(scanner: {'c' if BUILT else 'python'})\n")


@pytest.mark.skipif(not BUILT, reason="the compiled scanner is not built")
def test_version_names_the_compiled_scanner_when_forced() -> None:
    assert version("c").endswith("(scanner: c)\n")


# As where no compiler built the extension: its import fails.
WITHOUT_EXTENSION = (
    "import sys\n"
    "sys.modules['rewriter.document._cscan'] = None\n"
    "from rewriter.document.scan import SCANNER\n"
    "print(SCANNER)\n"
)


def test_without_the_extension_the_pure_python_scanner_is_used() -> None:
    result = run("-c", WITHOUT_EXTENSION, scanner=None)
    assert (result.returncode, result.stdout) == (0, "python\n"), result.stderr


def test_forcing_the_compiled_scanner_without_it_fails_clearly() -> None:
    result = run("-c", WITHOUT_EXTENSION, scanner="c")
    assert result.returncode != 0
    assert "REWRITER_SCANNER=c, but the compiled scanner is not built" in result.stderr


def test_an_unknown_scanner_name_is_refused() -> None:
    result = run("-m", "rewriter", "--version", scanner="rust")
    assert result.returncode != 0
    assert "REWRITER_SCANNER='rust': expected 'c' or 'python'" in result.stderr


@pytest.mark.parametrize("scanner", ["c", "python"])
def test_each_scanner_finds_the_same_links_in_a_process(scanner: str) -> None:
    if scanner == "c" and not BUILT:
        pytest.skip("the compiled scanner is not built")
    code = (
        "import sys\n"
        "from rewriter.document.scan import SCANNER, LinkTag, scan\n"
        "found = [(p.offset, p.raw, p.in_conditional_comment)"
        " for p in scan(sys.stdin.buffer.read()) if isinstance(p, LinkTag)]\n"
        "print(SCANNER, found)\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "REWRITER_SCANNER"}
    env["REWRITER_SCANNER"] = scanner
    result = subprocess.run(
        [sys.executable, "-c", code], input=DOCUMENT, env=env, capture_output=True, timeout=60,
        check=True,
    )  # fmt: skip
    assert result.stdout.decode() == (
        f"{scanner} [(13, b'<v:rect href=\"http://m.example/\">', True),"
        " (58, b'<a href=\"http://x.example/\">', False)]\n"
    )
