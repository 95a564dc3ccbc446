"""The service's parts without a server: the ASGI callable from REWRITER_RULES, host matching,
the legacy link map's errors, the log-line recorder, the certificate checks."""

from __future__ import annotations

import asyncio
import datetime
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from service_helpers import Site, make_site, token

from rewriter.clicks.logline import LogLineRecorder
from rewriter.clicks.model import Click, ClickStatus
from rewriter.rules.loader import load_rules
from rewriter.serve.app import create_app
from rewriter.serve.click import split_destination
from rewriter.serve.config import ServiceError
from rewriter.serve.hosts import request_host
from rewriter.serve.legacymap import LegacyMapError, load_legacy_map
from rewriter.serve.tls import CertificatePair, check_certificates, covers, load_certificate


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return make_site(tmp_path_factory.mktemp("units"))


class Recorded:
    """A Recorder that keeps the clicks (for assertions)."""

    def __init__(self) -> None:
        self.clicks: list[Click] = []
        self.dropped = 0

    def record(self, click: Click) -> None:
        self.clicks.append(click)

    def close(self) -> None:
        pass


def call(
    app: Any, target: str, host: str = "go.example.com", method: str = "GET"
) -> dict[str, Any]:
    path, _, query = target.partition("?")
    scope = {
        "type": "http", "method": method, "scheme": "http", "path": path,
        "raw_path": path.encode(), "query_string": query.encode(),
        "headers": [(b"host", host.encode()), (b"user-agent", b"unit")],
        "client": ("192.0.2.1", 5000),
    }  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start, body = sent
    return {"status": start["status"], "headers": dict(start["headers"]), "body": body["body"]}


def test_create_app_reads_the_rules_named_by_the_environment(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REWRITER_RULES", str(site.rules))
    monkeypatch.setenv("REWRITER_CLICKS", "log")
    app = create_app()
    recorded = Recorded()
    app.recorder = recorded
    answer = call(app, f"/l/{token('https://www.example.org/x')}")
    assert answer["status"] == 302
    assert answer["headers"][b"location"] == b"https://www.example.org/x"
    assert [click.status for click in recorded.clicks] == [ClickStatus.REDIRECTED]
    assert recorded.clicks[0].context == "t.html"
    assert recorded.clicks[0].client == "192.0.2.0/24"  # truncated to its /24 by default
    app.close()


def test_create_app_without_rules_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REWRITER_RULES", raising=False)
    with pytest.raises(ServiceError, match="REWRITER_RULES"):
        create_app()


def test_the_lifespan_shutdown_closes_the_recorder(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REWRITER_CLICKS", "log")
    app = create_app(site.rules)
    closed: list[bool] = []
    app.recorder.close = lambda: closed.append(True)  # type: ignore[method-assign]
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    asyncio.run(app({"type": "lifespan"}, receive, send))
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert closed == [True]


@pytest.mark.parametrize(
    ("header", "host"),
    [
        ("go.example.com", "go.example.com"),
        ("GO.EXAMPLE.COM.", "go.example.com"),
        ("go.example.com:443", "go.example.com"),
        ("go.example.com.:8080", "go.example.com"),
        ("go.example.com:", None),
        ("go.example.com:123456", None),
        ("[::1]:80", None),
        ("go example.com", None),
        ("", None),
        (None, None),
    ],
)
def test_request_host(header: str | None, host: str | None) -> None:
    assert request_host(header) == host


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("url,where\n", ":1: the first line must be the header old,destination"),
        ("old,destination\n/a,https://x.example/,extra\n", ":2: expected 2 columns"),
        ("old,destination\n/a,javascript:alert(1)\n", ":2: destination:"),
        ("old,destination\n\n/a,https://x.example/\nftp://x/a,https://x.example/\n", ":4: old:"),
    ],
)
def test_legacy_map_errors_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "map.csv"
    path.write_text(text)
    with pytest.raises(LegacyMapError, match=message):
        load_legacy_map(path)


def test_legacy_map_reads_urls_and_paths(tmp_path: Path) -> None:
    path = tmp_path / "map.csv"
    path.write_text(
        "old,destination\nhttp://Click.Example.com:80/a?b=1,https://x.example/1\n/p,https://x.example/2\n"
    )
    legacy = load_legacy_map(path)
    assert legacy.find("click.example.com", "/a?b=1") == "https://x.example/1"
    assert legacy.find("other.example", "/a?b=1") is None
    assert legacy.find("other.example", "/p") == "https://x.example/2"
    assert len(legacy) == 2


def test_split_destination() -> None:
    assert split_destination("https://u:p@Example.com:8443/a/b?q=1#f") == (
        "example.com",
        "/a/b",
        "q=1",
    )
    assert split_destination("http://[2001:db8::1]:80?x") == ("[2001:db8::1]", "/", "x")
    assert split_destination("https://example.com") == ("example.com", "/", None)


def click(number: int) -> Click:
    return Click(
        click_id=f"id{number}", time=datetime.datetime(2026, 12, 2, 12, 0, 0, 123000, datetime.UTC),
        host="go.example.com", token_version=1, key_id="k2", context="é.html",
        destination_host="example.com", destination_path="/", destination_query=None,
        method="GET", user_agent="ua", client=None, label="human",
        label_reason="not labelled yet", status=ClickStatus.REDIRECTED,
    )  # fmt: skip


def test_the_log_line_recorder_writes_one_json_object_per_click(tmp_path: Path) -> None:
    path = tmp_path / "stderr.txt"
    with path.open("w") as stream:
        recorder = LogLineRecorder(stream)
        for number in range(500):
            recorder.record(click(number))
        recorder.close()
        recorder.record(click(999))  # after close: counted, not written
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 500
    first = json.loads(lines[0])
    assert first["event"] == "click" and first["click_id"] == "id0"
    assert first["time"] == "2026-12-02T12:00:00.123Z" and first["context"] == "é.html"
    assert recorder.dropped == 1


def test_a_click_line_is_json_holding_every_field_of_the_click() -> None:
    import dataclasses

    from rewriter.clicks.logline import click_line

    odd = dataclasses.replace(
        click(1), user_agent='quote " backslash \\ tab \t nul \x00 é ✓', client=None, key_id=None
    )
    parsed = json.loads(click_line(odd))
    for field in dataclasses.fields(Click):
        value = getattr(odd, field.name)
        expected = (
            value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            if field.name == "time"
            else value
        )
        assert parsed[field.name] == expected, field.name
    assert parsed["event"] == "click"


def test_the_recorder_drops_instead_of_blocking_when_its_queue_is_full() -> None:
    read, write = os.pipe()
    stream = io.TextIOWrapper(io.FileIO(write, "w"))
    os.set_blocking(write, True)
    recorder = LogLineRecorder(stream, max_pending=10)
    # nobody reads the pipe: the writer thread blocks once it is full; record never does
    for number in range(100_000):
        recorder.record(click(number))
    assert recorder.dropped > 0
    os.close(read)  # the writer's next write fails: counted, and close returns
    recorder.close()
    stream.close()


def test_certificate_checks(site: Site) -> None:
    rules = load_rules(site.rules)
    go = load_certificate(CertificatePair(*site.certs["go"]))
    click_cert = load_certificate(CertificatePair(*site.certs["click"]))
    now = datetime.datetime.now(datetime.UTC)
    errors, warnings = check_certificates([go, click_cert], rules, now)
    assert errors == []
    assert any("old.example.net" in warning for warning in warnings)  # legacy, not covered
    errors, _ = check_certificates([click_cert], rules, now)
    assert errors and "go.example.com" in errors[0]
    _, warnings = check_certificates([go], rules, go.not_after + datetime.timedelta(days=1))
    assert any("expired" in warning for warning in warnings)


@pytest.mark.parametrize(
    ("names", "host", "covered"),
    [
        (("go.example.com",), "go.example.com", True),
        (("*.example.com",), "go.example.com", True),
        (("*.example.com",), "a.go.example.com", False),
        (("*.com",), "example.com", False),
        (("other.example.com",), "go.example.com", False),
    ],
)
def test_covers(names: tuple[str, ...], host: str, covered: bool) -> None:
    assert covers(names, host) is covered


def test_the_verified_token_cache_is_bounded_and_can_be_off(site: Site) -> None:
    from rewriter.serve.config import load_config
    from rewriter.serve.request import Request
    from rewriter.serve.routing import respond

    def ask(config: Any, text: str) -> int:
        request = Request("GET", f"/l/{text}", "go.example.com", False, None, False, None)
        return respond(config, request).status

    config = load_config(site.rules, token_cache=3)
    tokens = [token(f"https://www.example.org/{n}") for n in range(5)]
    for text in tokens:
        assert ask(config, text) == 302
    assert 1 <= len(config.verified) <= 3
    assert ask(config, tokens[0][:-3] + "AAA") == 404
    assert all(text in tokens for text in config.verified)  # forgeries are never remembered
    off = load_config(site.rules, token_cache=0)
    assert ask(off, tokens[0]) == 302 and off.verified == {}


def test_a_missing_legacy_link_map_is_the_service_s_error_not_the_rules(site: Site) -> None:
    from rewriter.serve.config import load_config

    folder = site.rules.parent / "no-map"
    folder.mkdir()
    rules = folder / "rules.yaml"
    rules.write_text(site.rules.read_text())
    (folder / "service.keys").write_bytes(site.keys.read_bytes())
    (folder / "service.keys").chmod(0o600)
    assert load_rules(rules).serve.legacy_link_map == folder / "legacy.csv"  # rules load fine
    with pytest.raises(ServiceError, match=r"serve.legacy_link_map: .*legacy.csv: cannot read"):
        load_config(rules)
