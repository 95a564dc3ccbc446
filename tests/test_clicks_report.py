"""Labels computed when clicks are read (bursts, duplicates) and `rewriter clicks`: each format,
each grouping, the rules' thresholds, the time window and the purge. Clicks are written to a
real SQLite store, then read by the command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from clickdata import click

from rewriter.cli.main import main
from rewriter.clicks.model import Click
from rewriter.clicks.readlabels import Thresholds, label_clicks
from rewriter.clicks.stores import open_store

A = "198.51.100.0/24"
B = "203.0.113.0/24"
C = "192.0.2.0/24"
DAY = 86_400


def campaign() -> list[Click]:
    """A person (A) clicking twice within the hour, once on another link and again later; a
    gateway (B) with a browser's user agent opening three links in 1.2 s; a person (C) opening
    three links over 3 s; a prefetch, a curl, a known scanner; clicks with no stored address."""
    return [
        click(-5, method="HEAD", label="prefetch", reason="HEAD request"),  # before A's click
        click(0),
        click(600),  # A again within the hour: a duplicate
        click(7_200, path="/summer"),
        click(10_900),  # more than an hour after A's counted click: unique again
        click(DAY + 10),  # the next day
        click(100.0, client=B),
        click(100.5, client=B, path="/summer"),
        click(101.2, client=B, path="/autumn"),
        click(101.5, client=B, path="/winter", context="other.html"),  # another context
        click(200.0, client=C),
        click(200.4, client=C, path="/summer"),
        click(203.0, client=C, path="/autumn"),  # 2.6 s after the second: no burst
        click(400, client=C, user_agent="curl/8.5.0", label="bot", reason="user agent: curl"),
        click(500, client="198.18.0.0/24", user_agent="Barracuda Sentinel (EE)", label="scanner"),
        # client_ip: none: no source, so never a burst, never a duplicate
        click(600.0, client=None, host="click.example.com"),
        click(600.1, client=None, host="click.example.com", path="/summer"),
        click(600.2, client=None, host="click.example.com", path="/autumn"),
        click(601.0, client=None, host="click.example.com"),
    ]


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:{tmp_path / 'clicks.sqlite3'}"
    store = open_store(url)
    store.write_batch(campaign())
    store.close()
    return url


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["clicks", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def report(store_url: str, *args: str) -> dict[str, object]:
    code, out, err = run("--clicks", store_url, "--format", "json", *args)
    assert code == 0, err
    data: dict[str, object] = json.loads(out)
    return data


def rows(data: dict[str, object]) -> list[tuple[str | None, int, int]]:
    items = data["rows"]
    assert isinstance(items, list)
    return [(row["key"], row["clicks"], row["unique"]) for row in items]


AUTOMATED = {"scanner": 4, "prefetch": 1, "bot": 1}


def test_json_by_destination_has_the_documented_shape(store_url: str) -> None:
    assert report(store_url) == {
        "by": "destination",
        "rows": [
            {"key": "www.example.com/spring", "clicks": 7, "unique": 6},
            {"key": "www.example.com/summer", "clicks": 3, "unique": 3},
            {"key": "www.example.com/autumn", "clicks": 2, "unique": 2},
            {"key": "www.example.com/winter", "clicks": 1, "unique": 1},
        ],
        "automated": AUTOMATED,
    }


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("context", [("spring.html", 12, 11), ("other.html", 1, 1)]),
        ("host", [("go.example.com", 9, 8), ("click.example.com", 4, 4)]),
        ("day", [("2026-11-30", 12, 11), ("2026-12-01", 1, 1)]),
        ("label", [("human", 13, 12)]),
    ],
)
def test_each_grouping(store_url: str, by: str, expected: list[tuple[str, int, int]]) -> None:
    data = report(store_url, "--by", by)
    assert data["by"] == by
    assert rows(data) == expected
    assert data["automated"] == AUTOMATED


def test_all_counts_every_label(store_url: str) -> None:
    data = report(store_url, "--by", "label", "--all")
    # The prefetch before A's first click made neither of them a duplicate of the other.
    assert rows(data) == [("human", 13, 12), ("scanner", 4, 4), ("bot", 1, 1), ("prefetch", 1, 1)]
    assert data["automated"] == AUTOMATED
    assert rows(report(store_url, "--all"))[0] == ("www.example.com/spring", 11, 10)


def test_csv(store_url: str) -> None:
    code, out, _ = run("--clicks", store_url, "--format", "csv")
    assert code == 0
    assert out == (
        "key,clicks,unique,automated_share\n"
        "www.example.com/spring,7,6,0.3636\n"  # 4 automated of 11
        "www.example.com/summer,3,3,0.2500\n"
        "www.example.com/autumn,2,2,0.3333\n"
        "www.example.com/winter,1,1,0.0000\n"
    )


def test_table(store_url: str) -> None:
    code, out, _ = run("--clicks", store_url, "--by", "context")
    assert code == 0
    assert out == (
        "context      clicks  unique  automated\n"
        "spring.html      12      11        33%\n"
        "other.html        1       1         0%\n"
        "automated (not counted above): 6 (scanner 4, prefetch 1, bot 1)\n"
    )


def test_since_and_until(store_url: str) -> None:
    assert rows(report(store_url, "--since", "2026-12-01")) == [("www.example.com/spring", 1, 1)]
    data = report(store_url, "--until", "2026-11-30", "--by", "day")
    assert rows(data) == [("2026-11-30", 12, 11)]  # the whole day given is included
    data = report(store_url, "--since", "2026-11-30T09:01:40Z", "--until", "2026-11-30T09:01:42")
    assert rows(data) == [("www.example.com/winter", 1, 1)]
    assert data["automated"] == {"scanner": 3, "prefetch": 0, "bot": 0}  # B's burst, alone


def test_thresholds_come_from_the_rules(store_url: str, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "tracking: {domain: go.example.com}\nclicks: {burst_links: 4, duplicate_seconds: 0}\n"
    )
    data = report(store_url, "--rules", str(rules), "--by", "label")
    assert rows(data) == [("human", 16, 16)]  # B is no burst now, and no click a duplicate
    assert data["automated"] == {"scanner": 1, "prefetch": 1, "bot": 1}


def test_the_store_comes_from_the_rules(store_url: str, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    relative = Path(store_url.removeprefix("sqlite:")).name  # relative to the rules file
    rules.write_text(
        f"tracking: {{domain: go.example.com}}\nclicks: {{store: 'sqlite:{relative}'}}\n"
    )
    code, out, err = run("--rules", str(rules), "--format", "json", "--by", "label")
    assert code == 0, err
    assert rows(json.loads(out)) == [("human", 13, 12)]


def test_purge_before(store_url: str) -> None:
    code, out, err = run("--clicks", store_url, "--purge-before", "2026-12-01")
    assert (code, out) == (0, "")
    assert err == "18 clicks recorded before 2026-12-01 00:00:00 UTC deleted\n"
    assert rows(report(store_url, "--all")) == [("www.example.com/spring", 1, 1)]
    code, _, err = run("--clicks", store_url, "--purge-before", "2026-12-01")
    assert err.startswith("0 clicks recorded before")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "--since: 'yesterday' is not a date (2026-12-01) or time"),
        (["--clicks", "mysql://x"], "'mysql://x' is not a click store"),
        (["--clicks", "jsonl:-"], "jsonl:- is written to stdout: there is nothing to read back"),
        (["--by", "week"], "Invalid value for '--by'"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    code, _, err = run(*args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_a_bad_rules_file_names_file_line_and_key(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("tracking: {domain: go.example.com}\nclicks:\n  client_ip: some\n")
    code, _, err = run("--rules", str(rules))
    assert code == 2
    assert f"{rules}:3: clicks.client_ip: must be one of none, truncated, full" in err


def test_no_store_yet_is_an_empty_report(tmp_path: Path) -> None:
    missing = tmp_path / "none.sqlite3"
    code, out, err = run("--clicks", f"sqlite:{missing}", "--format", "json")
    assert code == 0
    assert json.loads(out) == {
        "by": "destination",
        "rows": [],
        "automated": {"scanner": 0, "prefetch": 0, "bot": 0},
    }
    assert "no clicks recorded yet" in err
    assert not missing.exists()  # a report creates nothing


def test_the_command_is_registered_in_the_installed_tool(store_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rewriter", "clicks", "--clicks", store_url, "--by", "label",
         "--format", "json"],
        capture_output=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert rows(json.loads(result.stdout)) == [("human", 13, 12)]


# --- the read-time labels on their own


def labelled(clicks: list[Click], **thresholds: int) -> list[tuple[str, bool]]:
    return [(item.label, item.unique) for item in label_clicks(clicks, Thresholds(**thresholds))]


def test_a_burst_needs_distinct_links_within_the_window() -> None:
    three = [click(0), click(1, path="/b"), click(2, path="/c")]  # 2.0 s: inside
    assert labelled(three) == [("scanner", True)] * 3
    spread = [click(0), click(1, path="/b"), click(2.001, path="/c")]
    assert labelled(spread) == [("human", True)] * 3
    same_link = [click(0), click(0.1), click(0.2)]  # one link three times: duplicates
    assert labelled(same_link) == [("human", True), ("human", False), ("human", False)]


def test_request_time_labels_are_never_changed() -> None:
    clicks = [
        click(0),
        click(0.1, path="/b", label="prefetch", reason="HEAD request"),
        click(0.2, path="/c", label="bot", reason="user agent: curl"),
        click(0.3, path="/d"),
    ]
    items = list(label_clicks(clicks, Thresholds()))
    assert [(item.label, item.reason) for item in items] == [
        ("human", "a browser's user agent"),
        ("prefetch", "HEAD request"),
        ("bot", "user agent: curl"),
        ("human", "a browser's user agent"),
    ]


def test_burst_reason_and_the_source_includes_the_user_agent() -> None:
    clicks = [click(0), click(0.5, path="/b", user_agent="Other/1.0"), click(1, path="/c")]
    assert labelled(clicks) == [("human", True)] * 3  # two sources behind one network
    items = list(label_clicks([click(0), click(0.5, path="/b"), click(1, path="/c")], Thresholds()))
    assert items[0].reason == "burst: 3 links of one context within 2 s from one source"


def test_duplicates_count_from_the_click_counted_unique() -> None:
    clicks = [click(0), click(1_800), click(3_599), click(3_600), click(5_000)]
    assert [unique for _, unique in labelled(clicks)] == [True, False, False, True, False]


def test_output_order_is_input_order() -> None:
    clicks = [click(second / 10, path=f"/{second % 7}", client=f"10.0.{second % 3}.0/24")
              for second in range(500)]  # fmt: skip
    items = list(label_clicks(clicks, Thresholds()))
    assert [item.click for item in items] == clicks
