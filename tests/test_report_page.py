"""The HTML reports in a real browser: headless Chromium loads each page from disk with no
console error and no network request, shows the right counts, sorts and filters by clicking,
and keeps a hostile link text as text. Screenshots go to out/test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import ARTIFACTS, browser
from click.testing import CliRunner

from rewriter.cli.main import main

HOSTILE = """<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>
<a href="https://shop.example.com/a">Shop</a>
<a href="http://news.example.com/b">News &lt;script&gt;window.pwned=1&lt;/script&gt;</a>
<a href="https://shop.example.com/c?q=%22%3E%3Cscript%3Ewindow.pwned=2%3C/script%3E">Query</a>
<a href="javascript:window.pwned=3">Run</a>
<a href="mailto:help@example.com"><script>window.pwned=4</script>Mail</a>
<a href="http://news.example.com/d"><img alt="x" src="x" onerror="window.pwned=5">Image</a>
</body></html>
"""
RULES = """version: 1
tracking: {domain: go.example.com}
hosts:
  go.example.com:
    certificate: {status: active, expires: 2027-03-01}
    preloaded: true
  news.example.com:
    certificate: {status: none}
    hsts: {max_age: 31536000}
"""


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    yield from browser()


@pytest.fixture
def links_page(tmp_path: Path) -> Path:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "hostile.html").write_text(HOSTILE)
    (tmp_path / "rules.yaml").write_text(RULES)
    result = CliRunner().invoke(
        main,
        ["links", str(tmp_path / "templates"), "--rules", str(tmp_path / "rules.yaml"),
         "--format", "html"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    page = tmp_path / "links.html"
    page.write_text(result.stdout)
    return page


class Watched:
    """A page with every console message, page error and request it makes recorded."""

    def __init__(self, chromium: Any, path: Path) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page = chromium.new_page(viewport={"width": 1300, "height": 900})
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.url = path.as_uri()
        self.page.goto(self.url)

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(message.text)

    def shown(self) -> int:
        return int(self.page.locator("#shown").inner_text())

    def column(self, index: int) -> list[str]:
        cells = self.page.locator(f"#links tbody tr:not([hidden]) td:nth-child({index})")
        return [text.strip() for text in cells.all_inner_texts()]


def test_links_page_loads_offline_without_errors(chromium: Any, links_page: Path) -> None:
    watched = Watched(chromium, links_page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    watched.page.screenshot(path=str(ARTIFACTS / "links-report.png"), full_page=True)
    assert watched.errors == []
    assert watched.requests == [watched.url]  # the page itself, nothing else
    assert watched.page.evaluate("typeof window.pwned") == "undefined"


def test_links_page_counts(chromium: Any, links_page: Path) -> None:
    watched = Watched(chromium, links_page)
    assert watched.shown() == 6
    counts = {
        element.get_attribute("data-count"): int(element.inner_text())
        for element in watched.page.locator("[data-count]").all()
    }
    assert counts == {"broken": 2, "secure": 2, "none": 2}
    assert watched.page.title() == "Links: 6 in 1 files"


def test_links_page_sorts_by_clicking(chromium: Any, links_page: Path) -> None:
    watched = Watched(chromium, links_page)
    header = watched.page.locator("#links th", has_text="status")
    header.click()
    statuses = watched.column(5)
    assert statuses == sorted(statuses, key=["broken", "secure", "none"].index)
    header.click()
    assert watched.column(5) == list(reversed(statuses))
    assert header.get_attribute("aria-sort") == "descending"


def test_links_page_filters_by_text_and_status(chromium: Any, links_page: Path) -> None:
    watched = Watched(chromium, links_page)
    watched.page.fill("#filter", "news.example.com")
    assert watched.shown() == 2
    assert all("news.example.com" in url for url in watched.column(7))
    watched.page.fill("#filter", "")
    watched.page.select_option("#kind", "broken")
    assert watched.shown() == 2
    assert set(watched.column(5)) == {"broken"}


def test_hostile_text_stays_text_and_only_http_links_are_clickable(
    chromium: Any, links_page: Path
) -> None:
    watched = Watched(chromium, links_page)
    texts = watched.column(3)
    assert "News <script>window.pwned=1</script>" in texts
    hrefs = watched.page.eval_on_selector_all("#links a", "links => links.map(a => a.href)")
    assert hrefs and all(re.match(r"https?://", href) for href in hrefs)
    assert "javascript:window.pwned=3" in watched.column(7)  # shown, as text
    assert watched.page.evaluate("typeof window.pwned") == "undefined"


def test_diff_page(chromium: Any, tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(RULES)
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    (old / "a.html").write_text(HOSTILE)
    (new / "a.html").write_text(HOSTILE.replace('/a"', '/a2"'))
    (old / "gone.html").write_text(HOSTILE)
    page = tmp_path / "diff.html"
    result = CliRunner().invoke(
        main,
        ["diff", str(old), str(new), "--rules", str(tmp_path / "rules.yaml"),
         "--html", str(page)],
    )  # fmt: skip
    assert result.exit_code == 1
    watched = Watched(chromium, page)
    watched.page.screenshot(path=str(ARTIFACTS / "diff-report.png"), full_page=True)
    assert watched.errors == []
    assert watched.requests == [watched.url]
    assert watched.column(3) == ["retargeted", "file-removed"]
    watched.page.select_option("#kind", "file-removed")
    assert watched.column(1) == ["gone.html"]
