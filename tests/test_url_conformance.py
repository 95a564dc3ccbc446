"""The Web Platform Tests' URL data (../shared/conformance) against our parser and host parser.

Selected from urltestdata.json: every entry with an absolute input (base `about:blank` or null)
that must fail, or whose expected result is an http or https URL. Failures with another scheme
or a relative input are kept: parse_http_url must refuse them too, though for the simpler
reason that they are not absolute http(s) URLs. Entries with another base are relative
references, which parse_http_url does not resolve. From toascii.json: every entry, through
url_host_to_ascii and, as the WPT harness does, through `https://<input>/x`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rewriter.web.urls import (
    RefKind,
    UrlError,
    clean_url_value,
    parse_http_url,
    reference_kind,
    url_host_to_ascii,
)

CONFORMANCE = Path(__file__).resolve().parents[1].parent / "shared" / "conformance"
if not (CONFORMANCE / "urltestdata.json").is_file() or not (CONFORMANCE / "toascii.json").is_file():
    pytest.skip(f"no WPT URL data in {CONFORMANCE}", allow_module_level=True)

# Entries that cannot apply, by input, each with the reason. None today: every selected entry
# runs. Add here, with a comment, rather than filtering silently.
EXCLUDED: dict[str, str] = {}


def _load(name: str) -> list[dict[str, Any]]:
    entries = json.loads((CONFORMANCE / name).read_text(encoding="utf-8"))
    return [entry for entry in entries if isinstance(entry, dict)]  # strings are comments


def _selected_url_tests() -> list[dict[str, Any]]:
    return [
        entry
        for entry in _load("urltestdata.json")
        if entry["base"] in (None, "about:blank")
        and (entry.get("failure") or entry["protocol"] in ("http:", "https:"))
        and entry["input"] not in EXCLUDED
    ]


URL_TESTS = _selected_url_tests()
HOST_TESTS = _load("toascii.json")


def _case_id(entry: dict[str, Any]) -> str:
    return ascii(entry["input"])[:60]


def test_how_many_cases_run() -> None:
    # The counts for the copy described in ../shared/conformance/README.md; a different copy
    # changes them, which is fine, but a selection that quietly shrinks is not.
    failures = [entry for entry in URL_TESTS if entry.get("failure")]
    http_failures = [
        entry
        for entry in failures
        if reference_kind(clean_url_value(entry["input"]))[0] is RefKind.HTTP
    ]
    assert len(URL_TESTS) >= 250
    assert len(URL_TESTS) - len(failures) >= 100  # expected http(s) parses
    assert len(http_failures) >= 140  # failures an http(s) parser must detect by itself
    assert len(HOST_TESTS) >= 40


@pytest.mark.parametrize("entry", URL_TESTS, ids=_case_id)
def test_urltestdata(entry: dict[str, Any]) -> None:
    if entry.get("failure"):
        with pytest.raises(UrlError):
            parse_http_url(entry["input"])
        return
    url = parse_http_url(entry["input"])
    port = "" if url.port is None else str(url.port)
    got = {
        "href": url.href,
        "protocol": url.scheme + ":",
        "host": url.host + (":" + port if port else ""),
        "hostname": url.host,
        "port": port,
        "pathname": url.path,
        "search": "?" + url.query if url.query else "",
        "hash": "#" + url.fragment if url.fragment else "",
    }
    assert got == {key: entry[key] for key in got}


@pytest.mark.parametrize("entry", HOST_TESTS, ids=_case_id)
def test_toascii(entry: dict[str, Any]) -> None:
    assert url_host_to_ascii(entry["input"]) == entry["output"]


@pytest.mark.parametrize("entry", HOST_TESTS, ids=_case_id)
def test_toascii_in_a_url(entry: dict[str, Any]) -> None:
    expected = entry["output"]
    if expected is None:
        with pytest.raises(UrlError):
            parse_http_url(f"https://{entry['input']}/x")
        return
    url = parse_http_url(f"https://{entry['input']}/x")
    assert (url.host, url.path, url.href) == (expected, "/x", f"https://{expected}/x")
