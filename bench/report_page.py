"""The HTML report at scale: `make bench-report`, or `.venv/bin/python bench/report_page.py`.

Builds the `links --format html` page for 10,000 links, then prints its size and the time
headless Chromium takes to load it and to sort its table by a click (median of 5 runs each).
Needs Debian's chromium and Playwright (the dev extra); says so and exits 0 when either is
missing.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rewriter.models import Action, LinkRecord, Reason, Status
from rewriter.pages.report import links_page

LINKS = 10_000
RUNS = 5
STATUSES = list(Status)


def records() -> list[LinkRecord]:
    return [
        LinkRecord(
            file=f"templates/campaign-{index // 50:03d}.html",
            line=10 + index % 50,
            column=5,
            tag="a",
            attribute="href",
            text=f"Link number {index}",
            original=f"https://shop.example.com/product/{index}?utm_source=mail",
            tracking_url=f"http://go.example.com/l/{'A' * 60}{index}",
            action=Action.REWRITTEN,
            reason_code=Reason.TRACKED,
            reason="tracked",
            destination=f"https://shop.example.com/product/{index}?utm_source=mail",
            status=STATUSES[index % len(STATUSES)],
            status_reason="tracking hop: preloaded; destination hop: https, valid certificate",
        )
        for index in range(LINKS)
    ]


def main() -> int:
    chromium = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("bench-report: Playwright is not installed (pip install -e '.[dev]')")
        return 0
    if chromium is None:
        print("bench-report: no chromium on this machine (apt-get install chromium)")
        return 0
    started = time.perf_counter()
    page_text = links_page(records(), "bench list, dated 2026-12-01")
    render = time.perf_counter() - started
    folder = Path(tempfile.mkdtemp(prefix="rewriter-bench-report-"))
    try:
        path = folder / "report.html"
        path.write_text(page_text, encoding="utf-8")
        loads, sorts = [], []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
            )
            for _ in range(RUNS):
                page = browser.new_page()
                started = time.perf_counter()
                page.goto(path.as_uri(), wait_until="load")
                loads.append(time.perf_counter() - started)
                header = page.locator("#links th", has_text="destination")
                started = time.perf_counter()
                header.click()
                page.wait_for_function("document.querySelector('#links th[aria-sort]') !== null")
                sorts.append(time.perf_counter() - started)
                page.close()
            browser.close()
    finally:
        shutil.rmtree(folder)
    size = len(page_text.encode("utf-8"))
    print(f"{'figure':<40} measured")
    print(f"{'links':<40} {LINKS:,}")
    print(f"{'page size':<40} {size / 1e6:.2f} MB ({size / LINKS:.0f} bytes per link)")
    print(f"{'render (Python)':<40} {render * 1000:.0f} ms")
    print(f"{'Chromium load, median of ' + str(RUNS):<40} {statistics.median(loads) * 1000:.0f} ms")
    print(f"{'Chromium sort by click, median':<40} {statistics.median(sorts) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
