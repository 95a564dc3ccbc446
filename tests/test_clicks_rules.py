"""The rules' clicks: block: defaults, values, store URLs relative to the rules file, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from rewriter.rules.loader import RulesError, load_rules
from rewriter.rules.model import ClickSettings, ClientIp

HEAD = "tracking: {domain: go.example.com}\n"


def settings(tmp_path: Path, text: str) -> ClickSettings:
    path = tmp_path / "rules.yaml"
    path.write_text(HEAD + text)
    return load_rules(path).clicks


def test_defaults(tmp_path: Path) -> None:
    assert settings(tmp_path, "") == ClickSettings()
    assert ClickSettings().client_ip is ClientIp.TRUNCATED
    assert (ClickSettings().burst_links, ClickSettings().burst_seconds) == (3, 2)


def test_every_key(tmp_path: Path) -> None:
    loaded = settings(
        tmp_path,
        "clicks:\n"
        "  store: postgresql://clicks@db.internal/clicks\n"
        "  client_ip: none\n"
        "  store_query: true\n"
        "  scanner_user_agents: [AcmeGuard, AcmeGuard, 'Link Check/2']\n"
        "  queue_size: 500\n"
        "  burst_links: 4\n"
        "  burst_seconds: 5\n"
        "  duplicate_seconds: 0\n",
    )
    assert loaded == ClickSettings(
        store="postgresql://clicks@db.internal/clicks",
        client_ip=ClientIp.NONE,
        store_query=True,
        scanner_user_agents=("AcmeGuard", "Link Check/2"),
        queue_size=500,
        burst_links=4,
        burst_seconds=5,
        duplicate_seconds=0,
    )


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("sqlite:", "sqlite:"),
        ("sqlite:///var/lib/rewriter/clicks.sqlite3", "sqlite:/var/lib/rewriter/clicks.sqlite3"),
        ("sqlite:data/clicks.sqlite3", "sqlite:{folder}/data/clicks.sqlite3"),
        ("sqlite:../clicks.sqlite3", "sqlite:{parent}/clicks.sqlite3"),
        ("jsonl:-", "jsonl:-"),
        ("jsonl:clicks.jsonl", "jsonl:{folder}/clicks.jsonl"),
        ("postgres://h/db", "postgres://h/db"),
    ],
)
def test_store_urls(tmp_path: Path, written: str, stored: str) -> None:
    expected = stored.format(folder=tmp_path, parent=tmp_path.parent)
    assert settings(tmp_path, f"clicks: {{store: '{written}'}}\n").store == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("clicks: {store: 'mysql://x'}", "clicks.store: 'mysql://x' is not a click store"),
        ("clicks: {store: 'sqlite:-'}", "clicks.store: 'sqlite:-' is not a click store"),
        ("clicks: {client_ip: partial}", "clicks.client_ip: must be one of none, truncated, full"),
        ("clicks: {burst_links: 1}", "clicks.burst_links: must be at least 2 (got 1)"),
        ("clicks: {queue_size: 0}", "clicks.queue_size: must be at least 1 (got 0)"),
        ("clicks: {store_query: yes}", "clicks.store_query: expected true or false"),
        ("clicks: {scanner_user_agents: ['']}", "clicks.scanner_user_agents[0]: must be printable"),
        ("clicks: {burst: 3}", "clicks.burst: unknown key (did you mean 'burst_links'?)"),
    ],
)
def test_refusals_name_file_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(RulesError) as raised:
        settings(tmp_path, text + "\n")
    assert str(raised.value).startswith(f"{tmp_path / 'rules.yaml'}:2: ")
    assert message in str(raised.value)
