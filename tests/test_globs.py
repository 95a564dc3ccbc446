"""Globs: `*` and `?` only, the same answers as fnmatch, and no catastrophic backtracking."""

from __future__ import annotations

import fnmatch
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewriter.web import globs
from rewriter.web.globs import Glob, GlobSet

patterns = st.text(alphabet="ab.*?", max_size=8)
texts = st.text(alphabet="ab./", max_size=12)


@given(patterns, texts)
def test_agrees_with_fnmatchcase(pattern: str, text: str) -> None:
    assert Glob(pattern, case_sensitive=True).matches(text) == fnmatch.fnmatchcase(text, pattern)


@given(st.text(alphabet="aAbB*?", max_size=8), st.text(alphabet="aAbB", max_size=10))
def test_case_insensitive_agrees_with_fnmatch_on_lower_case(pattern: str, text: str) -> None:
    expected = fnmatch.fnmatchcase(text.lower(), pattern.lower())
    assert Glob(pattern).matches(text) == expected


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("*.example.com", "go.example.com", True),
        ("*.example.com", "a.b.example.com", True),  # `*` crosses dots
        ("*.example.com", "example.com", False),
        ("*.EXAMPLE.com", "Go.Example.COM", True),
        ("/unsubscribe*", "/unsubscribe/now?x=1", True),
        ("/track/click*", "/track/clicks", True),
        ("/c/*", "/c/", True),
        ("/c/*", "/c", False),
        ("protect-*.mimecast.com", "protect-eu.mimecast.com", True),
        ("v:*", "v:roundrect", True),
        ("v:*", "vml", False),
        ("a", "a", True),
        ("a", "area", False),
        ("?", "", False),
        ("?", "é", True),
        ("a?c", "a\nc", True),  # `?` is any character, as in fnmatch
        ("*", "", True),
        ("", "", True),
        ("", "a", False),
        ("**", "anything/at.all", True),
        ("*ab?d*", "xxabcabxdyy", True),
        ("*ab?d*", "xxabcab", False),
        ("a*b*c", "abbbc", True),
        ("a*b*c", "acb", False),
        ("*aa*aa", "aaa", False),  # middle and last segments must not overlap
        ("*aa*aa", "aaaa", True),
    ],
)
def test_examples(pattern: str, text: str, expected: bool) -> None:
    assert Glob(pattern).matches(text) is expected


def test_case_sensitive_when_asked() -> None:
    assert not Glob("/Path*", case_sensitive=True).matches("/path/x")
    assert Glob("/Path*", case_sensitive=True).matches("/Path/x")


@contextmanager
def hang_guard(seconds: int) -> Iterator[None]:
    """Turn a hang into a failure instead of a stuck test run (not a timing assertion)."""

    def expire(signum: int, frame: object) -> None:
        raise AssertionError("the glob matcher hung")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize(
    "pattern",
    [
        "*a*a*a*a*a*a*a*b",
        "*a?a*a?a*a?a*a?a*b",
        "*?*?*?*?*?*?*?*b",
        "a*a*a*a*a*a*a*a*a*a*a*a*c",
        "*a?b*a?b*a?b*a",  # the `?` segments' literal anchor matches everywhere, the rest nowhere
    ],
)
def test_hostile_patterns_do_not_backtrack(pattern: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A backtracking engine tries about 5000**7 ways to place the stars here before failing.
    calls = 0
    fits = globs._fits

    def counting_fits(segment: str, text: str, at: int) -> bool:
        nonlocal calls
        calls += 1
        return fits(segment, text, at)

    monkeypatch.setattr(globs, "_fits", counting_fits)
    text = "a" * 5000
    started = time.perf_counter()
    with hang_guard(10):
        assert not Glob(pattern).matches(text)
    elapsed = time.perf_counter() - started
    print(f"{pattern}: {elapsed * 1e3:.2f} ms, {calls} segment checks")
    # each segment is searched once, moving forward: at most one check per segment and character
    assert calls <= pattern.count("*") * len(text)


def test_glob_set_returns_the_first_matching_pattern_in_order() -> None:
    globset = GlobSet(["*.example.com", "go.example.com", "*.net", "exact.net"])
    assert globset.first_match("go.example.com") == "*.example.com"
    assert globset.first_match("EXACT.net") == "*.net"
    assert globset.first_match("example.org") is None
    assert len(globset) == 4


def test_glob_set_exact_pattern_before_a_wildcard_wins() -> None:
    globset = GlobSet(["exact.net", "*.net"])
    assert globset.first_match("Exact.Net") == "exact.net"
    assert globset.first_match("other.net") == "*.net"


def test_glob_set_case_sensitive() -> None:
    globset = GlobSet(["/A*", "/b"], case_sensitive=True)
    assert globset.first_match("/a") is None
    assert globset.first_match("/Ab") == "/A*"
    assert globset.first_match("/B") is None


@given(st.lists(patterns, max_size=5), texts)
def test_glob_set_agrees_with_trying_each_pattern(pattern_list: list[str], text: str) -> None:
    expected = next((p for p in pattern_list if fnmatch.fnmatchcase(text, p)), None)
    assert GlobSet(pattern_list, case_sensitive=True).first_match(text) == expected


@given(
    st.lists(st.text(alphabet="aAb*?", max_size=5), max_size=6), st.text(alphabet="aAb", max_size=8)
)
def test_case_insensitive_glob_set_agrees_with_fnmatch(pattern_list: list[str], text: str) -> None:
    expected = next((p for p in pattern_list if fnmatch.fnmatchcase(text.lower(), p.lower())), None)
    assert GlobSet(pattern_list).first_match(text) == expected


def test_glob_set_keeps_order_across_shapes() -> None:
    patterns = ["/a?c", "/ab*", "*bc", "/abc", "*"]  # other, prefix, suffix, exact, everything
    globset = GlobSet(patterns, case_sensitive=True)
    assert globset.first_match("/abc") == "/a?c"
    assert globset.first_match("/abd") == "/ab*"
    assert globset.first_match("xbc") == "*bc"
    assert globset.first_match("zzz") == "*"
    assert GlobSet(patterns[::-1], case_sensitive=True).first_match("/abc") == "*"
    assert GlobSet([]).first_match("") is None
