"""`rewriter serve` records its clicks into a click store: real HTTP requests against the service
started on loopback, the store read back after the service stopped (SIGTERM flushes the queue).
PostgreSQL runs for real (tests/conftest_pg.py)."""

from __future__ import annotations

import datetime
import json
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from conftest_pg import PostgresServer, running_postgres
from service_helpers import RULES, Service, Site, connect, fetch, make_site, send, token

from rewriter.clicks.model import Click, ClickStatus
from rewriter.clicks.queue import QueueRecorder
from rewriter.clicks.stores import StoreError, open_store
from rewriter.rules.model import ClickSettings
from rewriter.serve.recording import open_recorder

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0"
CLICKS_RULES = RULES + "clicks:\n  scanner_user_agents: ['AcmeGuard/']\n"


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return make_site(tmp_path / "site", CLICKS_RULES)


def stored(url: str) -> list[Click]:
    store = open_store(url, create=False)
    try:
        return list(store.read())
    finally:
        store.close()


def run_clicks(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rewriter", "clicks", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_every_answer_is_stored_with_its_fields_and_label(site: Site, tmp_path: Path) -> None:
    database = tmp_path / "clicks.sqlite3"
    url = f"sqlite://{database}"
    service = Service.start(site, https=False, clicks=url).ready(1)
    http = service.address("http")
    offer = f"/l/{token('https://www.example.org/offer?utm_source=mail', context='spring.html')}"
    browser = [("User-Agent", BROWSER)]
    answers = [
        fetch(http, offer, headers=browser),
        fetch(http, offer, method="HEAD", headers=browser),
        fetch(http, offer, headers=[("User-Agent", BROWSER), ("Sec-Purpose", "prefetch")]),
        fetch(http, offer, headers=[("User-Agent", "curl/8.5.0")]),
        fetch(http, offer, headers=[("User-Agent", "Mozilla/5.0 Barracuda/1.0")]),
        fetch(http, offer, headers=[("User-Agent", "AcmeGuard/2.1 (link check)")]),
        fetch(http, offer),  # no user agent
        fetch(http, f"/l/{token('https://login.phishing.example/x')}", headers=browser),
        fetch(http, offer[:-4] + "AAAA", headers=browser),  # a forged token
        fetch(  # through the trusted proxy: the forwarded address is the client's
            http,
            offer,
            source="127.0.0.2",
            headers=[("User-Agent", BROWSER), ("X-Forwarded-For", "203.0.113.77")],
        ),
    ]
    assert [a.status for a in answers] == [302] * 7 + [410, 404, 302]
    upgrade = fetch(http, "/ls/click?upn=abc123", host="click.example.com", headers=browser)
    assert upgrade.status == 308  # not a click
    health = json.loads(fetch(http, "/healthz").body)
    assert health["clicks_dropped"] == 0
    assert service.stop() == 0
    service.wait_for("click(s) dropped")
    assert "rewriter: worker" in "\n".join(service.lines)
    assert f"clicks: stored in {database}" in "\n".join(service.lines)

    clicks = stored(url)
    assert len(clicks) == len(answers)
    assert len({c.click_id for c in clicks}) == len(clicks)
    assert all(len(c.click_id) == 32 and c.click_id[12] == "4" for c in clicks)  # uuid4 hex
    # stored in time order, and several share a millisecond: compared as a multiset
    labels = sorted((c.label, c.label_reason) for c in clicks)
    assert labels == sorted(
        [("human", "a browser's user agent")] * 4
        + [
            ("prefetch", "HEAD request"),
            ("prefetch", "sec-purpose: prefetch"),
            ("bot", "user agent: curl"),
            ("scanner", "user agent: Barracuda Email Protection"),
            ("scanner", "user agent: AcmeGuard/ (from the rules)"),
            ("bot", "no user agent"),
        ]
    )
    by_status = {status: [c for c in clicks if c.status == status] for status in ClickStatus}
    assert len(by_status[ClickStatus.REDIRECTED]) == 8
    # The browser's first GET, told apart by its fields: requests a millisecond apart can share
    # a timestamp, so time order cannot pick it.
    (first,) = [
        c
        for c in by_status[ClickStatus.REDIRECTED]
        if c.method == "GET" and c.label == "human" and str(c.client) == "127.0.0.0/24"
    ]
    assert (first.host, first.method) == ("go.example.com", "GET")
    assert (first.destination_host, first.destination_path) == ("www.example.org", "/offer")
    assert first.destination_query is None  # clicks.store_query is off
    assert (first.key_id, first.token_version, first.context) == ("k2", 1, "spring.html")
    assert first.time.microsecond % 1000 == 0 and first.time.utcoffset() is not None
    assert [c.label for c in clicks if c.method == "HEAD"] == ["prefetch"]
    browsers = [c for c in clicks if c.user_agent == BROWSER and c.label == "human"]
    assert sorted(str(c.client) for c in browsers) == ["127.0.0.0/24"] * 3 + ["203.0.113.0/24"]
    (withdrawn,) = by_status[ClickStatus.WITHDRAWN]
    assert withdrawn.destination_host == "login.phishing.example"
    (forged,) = by_status[ClickStatus.NOT_FOUND]
    assert forged.key_id == "k2" and forged.destination_host is None

    report = run_clicks("--clicks", url, "--by", "label", "--all", "--format", "json")
    assert report.returncode == 0, report.stderr
    rows = {row["key"]: row["clicks"] for row in json.loads(report.stdout)["rows"]}
    assert rows == {"human": 4, "prefetch": 2, "bot": 2, "scanner": 2}


def test_sigterm_stores_every_answered_click(site: Site, tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'clicks.sqlite3'}"
    service = Service.start(site, https=False, clicks=url).ready(1)
    link = f"/l/{token('https://www.example.org/many')}"
    answered = 0
    with connect(service.address("http")) as sock:  # one keep-alive connection, then SIGTERM
        for _ in range(400):
            answered += send(sock, link, headers=[("User-Agent", BROWSER)]).status == 302
    assert service.stop() == 0
    assert answered == 400
    assert len(stored(url)) == answered


def test_the_full_client_address_and_the_query_when_the_rules_ask(tmp_path: Path) -> None:
    rules = RULES + "clicks:\n  client_ip: full\n  store_query: true\n  store: sqlite:kept.db\n"
    site = make_site(tmp_path / "site", rules)
    service = Service.start(site, https=False, clicks=None).ready(1)  # the rules' store
    fetch(service.address("http"), f"/l/{token('https://www.example.org/q?id=7#top')}")
    assert service.stop() == 0
    (click,) = stored(f"sqlite:{site.folder / 'kept.db'}")
    assert (click.client, click.destination_query) == ("127.0.0.1", "id=7")


def test_the_default_store_is_in_the_data_folder(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    service = Service.start(site, https=False, clicks=None).ready(1)
    fetch(service.address("http"), f"/l/{token('https://www.example.org/x')}")
    assert service.stop() == 0
    default = tmp_path / "data" / "rewriter" / "clicks.sqlite3"
    assert [c.destination_path for c in stored(f"sqlite://{default}")] == ["/x"]


def test_clicks_log_keeps_the_log_lines_and_stores_nothing(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    service = Service.start(site, https=False, clicks="log").ready(1)
    fetch(service.address("http"), f"/l/{token('https://www.example.org/x')}", method="HEAD")
    assert service.stop() == 0
    service.drain()
    (click,) = service.clicks()
    assert (click["label"], click["destination_path"]) == ("prefetch", "/x")
    assert not (tmp_path / "data").exists()


def test_an_unusable_store_stops_the_start(site: Site) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rewriter", "serve", "--rules", str(site.rules),
         "--http", "127.0.0.1:0", "--clicks", "mysql://x"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--clicks: 'mysql://x' is not a click store" in result.stderr
    assert "listening" not in result.stderr


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with running_postgres() as running:
        yield running


def test_two_workers_record_into_postgresql(postgres: PostgresServer, site: Site) -> None:
    schema = f"s{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres.url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    url = f"{postgres.url}?options=-c%20search_path%3D{schema}"
    service = Service.start(site, "--workers", "2", https=False, clicks=url).ready(1)
    service.wait_for("stored in postgresql://postgres@127.0.0.1")
    http = service.address("http")
    answered = 0
    for n in range(60):  # fresh connections: spread over both workers by the kernel
        answered += fetch(http, f"/l/{token(f'https://www.example.org/{n}')}").status == 302
    assert service.stop() == 0
    service.wait_for("click(s) dropped", count=2)
    clicks = stored(url)
    assert answered == 60
    assert sorted(int(c.destination_path.strip("/")) for c in clicks if c.destination_path) == (
        list(range(60))
    )
    assert len({c.click_id for c in clicks}) == 60


def test_a_reload_keeps_the_recorder(site: Site, tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'clicks.sqlite3'}"
    service = Service.start(site, https=False, clicks=url).ready(1)
    http = service.address("http")
    fetch(http, f"/l/{token('https://www.example.org/before')}")
    service.process.send_signal(signal.SIGHUP)
    service.wait_for("reloaded")
    fetch(http, f"/l/{token('https://www.example.org/after')}")
    health = json.loads(fetch(http, "/healthz").body)
    assert service.stop() == 0
    assert health["clicks_dropped"] == 0
    assert sorted(str(c.destination_path) for c in stored(url)) == ["/after", "/before"]


def test_a_worker_whose_store_cannot_open_still_answers(tmp_path: Path) -> None:
    settings = ClickSettings()
    (tmp_path / "a-file").write_text("")
    unusable = f"sqlite://{tmp_path / 'a-file' / 'clicks.sqlite3'}"
    with pytest.raises(StoreError):  # the supervisor refuses to start
        open_recorder(unusable, settings)
    recorder = open_recorder(unusable, settings, worker=True)  # a worker drops and counts
    recorder.record(sample_click())
    assert recorder.dropped == 1
    away = open_recorder("postgresql://postgres@127.0.0.1:1/clicks", settings, worker=True)
    assert isinstance(away, QueueRecorder)  # waits for the server, clicks in the queue
    away.record(sample_click())
    assert away.dropped == 0 and away.waiting == 1
    away.close(timeout=0.2)
    assert away.dropped == 1  # never stored: counted


def sample_click() -> Click:
    return Click(
        click_id=uuid.uuid4().hex, time=datetime.datetime.now(datetime.UTC), host="go.example.com",
        token_version=1, key_id="k2", context="t.html", destination_host="www.example.org",
        destination_path="/", destination_query=None, method="GET", user_agent=BROWSER,
        client="127.0.0.0/24", label="human", label_reason="a browser's user agent",
        status=ClickStatus.REDIRECTED,
    )  # fmt: skip
