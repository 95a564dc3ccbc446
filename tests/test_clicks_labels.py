"""Labels set at request time, from the request alone, and what a record keeps of the client."""

from __future__ import annotations

from pathlib import Path

import pytest

from rewriter.clicks import labels
from rewriter.clicks.labels import (
    Label,
    UserAgentPatterns,
    label_request,
    read_patterns,
    truncate_client,
    truncate_user_agent,
)
from rewriter.rules.model import ClientIp

PATTERNS = UserAgentPatterns.builtin(["ExampleGateway/"])

BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    # A phone named Cubot: "bot" alone must not make it a bot.
    "Mozilla/5.0 (Linux; Android 13; Cubot P80) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36",
    # Outlook desktop checks a link with Office's user agent before the browser opens it: often
    # the only request of a person's click, so it stays human.
    "Mozilla/4.0 (compatible; ms-office; MSOffice 16)",
]


def label(method: str = "GET", **headers: str) -> tuple[Label, str]:
    return label_request(method, {k.replace("_", "-"): v for k, v in headers.items()}, PATTERNS)


@pytest.mark.parametrize("user_agent", BROWSERS)
def test_browsers_are_human(user_agent: str) -> None:
    assert label(user_agent=user_agent) == (Label.HUMAN, "a browser's user agent")


def test_head_is_a_prefetch_whatever_the_user_agent() -> None:
    assert label("HEAD", user_agent=BROWSERS[0]) == (Label.PREFETCH, "HEAD request")
    assert label("head")[0] is Label.PREFETCH


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("sec-purpose", "prefetch"),
        ("sec-purpose", "prefetch;prerender"),
        ("sec-purpose", "prefetch;anonymous-client-ip"),
        ("purpose", "prefetch"),
        ("purpose", "Prefetch"),
        ("x-moz", "prefetch"),
    ],
)
def test_prefetch_headers(name: str, value: str) -> None:
    headers = {name: value, "user-agent": BROWSERS[0]}
    assert label_request("GET", headers, PATTERNS) == (Label.PREFETCH, f"{name}: {value}")


def test_other_purposes_are_not_prefetches() -> None:
    headers = {"sec-purpose": "prerender-ish", "user-agent": BROWSERS[0]}
    assert label_request("GET", headers, PATTERNS)[0] is Label.HUMAN


@pytest.mark.parametrize(
    ("user_agent", "who"),
    [
        ("Barracuda Sentinel (EE)", "Barracuda Email Protection"),
        ("Mozilla/5.0 (compatible; Proofpoint URL Defense)", "Proofpoint URL Defense"),
        ("Mimecast URL Protect/1.0", "Mimecast URL Protect"),
        (
            "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/534+ (KHTML, like Gecko) "
            "BingPreview/1.0b",
            "Microsoft (Outlook.com and Defender link preview)",
        ),
        ("Cisco-IronPort-WSA/12.0", "Cisco Secure Email (IronPort)"),
        ("W3C-checklink/5.0.0 libwww-perl/6.77", "W3C link checker"),
        ("ExampleGateway/2.1 (link check)", "ExampleGateway/ (from the rules)"),
    ],
)
def test_gateways_and_link_checkers_are_scanners(user_agent: str, who: str) -> None:
    assert label(user_agent=user_agent) == (Label.SCANNER, f"user agent: {who}")


@pytest.mark.parametrize(
    ("user_agent", "who"),
    [
        ("curl/8.5.0", "curl"),
        ("python-requests/2.32.3", "python-requests"),
        ("Wget/1.21.4", "Wget"),
        ("Go-http-client/2.0", "Go's HTTP client"),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot"),
        (
            "Mozilla/5.0 (compatible; Foo/1.0; +https://foo.example/)",
            "a crawler (its contact address)",
        ),
        ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "Slack link preview"),
        ("Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0.0.0", "a headless browser"),
    ],
)
def test_crawlers_and_http_libraries_are_bots(user_agent: str, who: str) -> None:
    assert label(user_agent=user_agent) == (Label.BOT, f"user agent: {who}")


@pytest.mark.parametrize("headers", [{}, {"user-agent": ""}, {"user-agent": "   "}])
def test_no_user_agent_is_a_bot(headers: dict[str, str]) -> None:
    assert label_request("GET", headers, PATTERNS) == (Label.BOT, "no user agent")


def test_a_pattern_from_the_rules_wins_over_a_bot_pattern() -> None:
    patterns = UserAgentPatterns.builtin(["curl/"])
    assert label_request("GET", {"user-agent": "curl/8.5.0"}, patterns)[0] is Label.SCANNER


def test_answers_are_memoised_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(labels, "_MEMO_SIZE", 3)
    patterns = UserAgentPatterns.builtin()
    for number in range(10):
        assert patterns.classify(f"curl/{number}")[0] is Label.BOT
        assert len(patterns._memo) <= 3


def test_data_files_parse_and_ship(tmp_path: Path) -> None:
    folder = Path(labels.__file__).parent
    for name in ("scanners.txt", "bots.txt"):
        patterns = read_patterns(folder / name)
        assert len(patterns) > 10
        assert all(pattern.text and pattern.who for pattern in patterns)
        assert all(" | " not in pattern.text for pattern in patterns)
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert '"rewriter.clicks" = ["scanners.txt", "bots.txt"]' in pyproject
    custom = tmp_path / "extra.txt"
    custom.write_text("# a comment\n\nAcmeScan | Acme\nBare\n")
    assert [(p.text, p.who) for p in read_patterns(custom)] == [
        ("AcmeScan", "Acme"),
        ("Bare", "Bare"),
    ]


@pytest.mark.parametrize(
    ("address", "truncated", "full"),
    [
        ("192.0.2.77", "192.0.2.0/24", "192.0.2.77"),
        ("2001:db8:abcd:1234:5678::1", "2001:db8:abcd::/48", "2001:db8:abcd:1234:5678::1"),
        ("[2001:db8::1]", "2001:db8::/48", "2001:db8::1"),
        ("::ffff:203.0.113.9", "203.0.113.0/24", "203.0.113.9"),  # a dual-stack socket
        (" 10.1.2.3 ", "10.1.2.0/24", "10.1.2.3"),
    ],
)
def test_client_addresses(address: str, truncated: str, full: str) -> None:
    assert truncate_client(address, ClientIp.TRUNCATED) == truncated
    assert truncate_client(address, ClientIp.FULL) == full
    assert truncate_client(address, ClientIp.NONE) is None


@pytest.mark.parametrize("address", [None, "", "unix:/run/x.sock", "300.1.1.1", "example.com"])
def test_what_is_not_an_address_is_not_kept(address: str | None) -> None:
    for mode in ClientIp:
        assert truncate_client(address, mode) is None


def test_user_agents_are_cut_and_kept_on_one_line() -> None:
    assert truncate_user_agent(None) is None
    assert truncate_user_agent("  ") is None
    assert truncate_user_agent("a" * 1000) == "a" * labels.MAX_USER_AGENT
    assert truncate_user_agent("x\r\nInjected: 1", limit=50) == "x\ufffd\ufffdInjected: 1"
    assert truncate_user_agent(BROWSERS[0]) == BROWSERS[0]
