"""The tracking service over real HTTP and HTTPS on loopback: redirects, refusals, hosts, HSTS,
the upgrade, rotation, legacy domains and links, the kill switch, the fallback, SNI, the
compatibility fixture, and what it writes on stderr."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_helpers import (
    RETIRED_KEY,
    Service,
    Site,
    connect,
    fetch,
    make_site,
    send,
    token,
)

from rewriter.tokens.format import encode_token
from rewriter.tokens.keys import KeyRing
from rewriter.web.urls import parse_http_url

COMPAT = Path(__file__).parent / "data" / "compat" / "tokens-v1.json"
DESTINATION = 'https://www.example.org/spring?utm_source=newsletter&a=<b>&c="d"'


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return make_site(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def service(site: Site) -> Iterator[Service]:
    running = Service.start(site).ready()
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="module")
def http(service: Service) -> tuple[str, int]:
    return service.address("http")


@pytest.fixture(scope="module")
def https(service: Service) -> tuple[str, int]:
    return service.address("https")


# --- the hot path ------------------------------------------------------------------------------


def test_a_valid_token_redirects_with_302_and_the_right_headers(http: tuple[str, int]) -> None:
    reply = fetch(http, f"/l/{token(DESTINATION)}")
    assert reply.status == 302
    assert reply.header("location") == DESTINATION
    assert reply.header("cache-control") == "no-store"
    assert reply.header("referrer-policy") == "no-referrer"
    assert reply.header("strict-transport-security") is None  # never over plain HTTP
    escaped = (
        "https://www.example.org/spring?utm_source=newsletter&amp;a=&lt;b&gt;&amp;c=&quot;d&quot;"
    )
    assert f'<a href="{escaped}">'.encode() in reply.body
    assert b"<b>" not in reply.body


def test_head_answers_like_get_without_a_body(http: tuple[str, int]) -> None:
    get = fetch(http, f"/l/{token(DESTINATION)}")
    head = fetch(http, f"/l/{token(DESTINATION)}", method="HEAD")
    assert head.status == 302 and head.body == b""
    assert head.header("location") == get.header("location")
    assert head.header("content-length") == get.header("content-length")


def test_a_non_ascii_destination_is_served_as_ascii(http: tuple[str, int]) -> None:
    destination = parse_http_url("https://Bücher.example/straße?q=ü").href
    reply = fetch(http, f"/l/{token(destination)}")
    assert reply.header("location") == "https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%BC"


def test_keep_alive_serves_several_requests_on_one_connection(http: tuple[str, int]) -> None:
    with connect(http) as sock:
        for index in range(3):
            destination = f"https://www.example.org/{index}"
            assert send(sock, f"/l/{token(destination)}").header("location") == destination


# --- refusals ----------------------------------------------------------------------------------


def altered(text: str) -> str:
    middle = len(text) // 2
    return text[:middle] + ("A" if text[middle] != "A" else "B") + text[middle + 1 :]


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(altered(token(DESTINATION)), id="altered"),
        pytest.param(token(DESTINATION)[:-5], id="truncated"),
        pytest.param(encode_token(DESTINATION, "", KeyRing("k2", {"k2": b"x" * 32})), id="forged"),
        pytest.param(
            encode_token(DESTINATION, "", KeyRing("k9", {"k9": b"y" * 32})), id="unknown-key"
        ),
        pytest.param("not-a-token!", id="garbage"),
        pytest.param("", id="empty"),
        pytest.param(f"{token(DESTINATION)}/extra", id="two-segments"),
    ],
)
def test_bad_tokens_get_404_and_never_a_redirect(http: tuple[str, int], bad: str) -> None:
    reply = fetch(http, f"/l/{bad}")
    assert reply.status == 404
    assert reply.header("location") is None
    assert b"not valid" in reply.body


def test_a_destination_that_is_not_http_is_never_served(http: tuple[str, int]) -> None:
    # encode_token refuses nothing printable: a token for javascript: can exist if a key leaks
    bad = encode_token(
        "javascript:alert(1)", "", KeyRing("k2", {"k2": b"second signing key, the current!"})
    )
    reply = fetch(http, f"/l/{bad}")
    assert reply.status == 404 and reply.header("location") is None


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"])
def test_other_methods_get_405_with_allow(http: tuple[str, int], method: str) -> None:
    reply = fetch(
        http, f"/l/{token(DESTINATION)}", method=method, headers=[("Content-Length", "0")]
    )
    assert reply.status == 405
    assert reply.header("allow") == "GET, HEAD"
    assert reply.header("location") is None


def test_request_targets_over_8_kib_get_414_from_the_application(http: tuple[str, int]) -> None:
    assert fetch(http, "/l/" + "A" * (8192 - 3)).status == 404  # exactly 8 KiB: not too long
    assert fetch(http, "/l/" + "A" * (8192 - 2)).status == 414
    assert fetch(http, "/x?" + "q" * 100_000).status == 414


def test_oversized_headers_get_431(http: tuple[str, int]) -> None:
    assert fetch(http, f"/l/{token(DESTINATION)}", headers=[("X-Big", "b" * 9000)]).status == 431
    many = [(f"X-H{index}", "v" * 4000) for index in range(10)]
    assert fetch(http, f"/l/{token(DESTINATION)}", headers=many).status == 431
    huge = [(f"X-H{index}", "v" * 8000) for index in range(30)]  # 240 KB: still the app's 431
    assert fetch(http, f"/l/{token(DESTINATION)}", headers=huge).status == 431
    assert fetch(http, f"/l/{token(DESTINATION)}", headers=[("X-Ok", "o" * 4000)]).status == 302


# --- hosts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "go.example.com",
        "GO.Example.COM",
        "go.example.com.",
        "go.example.com:8080",
        "go.example.com.:80",
    ],
)
def test_the_tracking_host_in_any_spelling(http: tuple[str, int], host: str) -> None:
    assert fetch(http, f"/l/{token(DESTINATION)}", host=host).status == 302


@pytest.mark.parametrize(
    "host",
    ["evil.example", "example.com", "xgo.example.com", "go.example.com.evil", "127.0.0.1", None],
)
def test_other_hosts_get_404(http: tuple[str, int], host: str | None) -> None:
    reply = fetch(http, f"/l/{token(DESTINATION)}", host=host)
    assert reply.status == 404 and reply.header("location") is None


def test_only_the_tracking_path_carries_tokens(http: tuple[str, int]) -> None:
    assert fetch(http, f"/x/{token(DESTINATION)}").status == 404
    assert fetch(http, f"/{token(DESTINATION)}").status == 404
    assert fetch(http, "/").status == 404


@pytest.mark.parametrize("host", ["go.example.com", "anything.example", None])
def test_health_answers_whatever_the_host_with_key_ids_only(
    http: tuple[str, int], host: str | None
) -> None:
    reply = fetch(http, "/healthz", host=host)
    assert reply.status == 200
    assert json.loads(reply.body) == {
        "status": "ok",
        "keys": ["k2", "k1", "compat1"],
        "clicks_dropped": 0,
    }
    assert b"second signing key" not in reply.body


# --- HTTPS, SNI and HSTS -----------------------------------------------------------------------


def test_https_redirects_with_hsts_for_the_host_asked(site: Site, https: tuple[str, int]) -> None:
    tls = site.client_context()
    reply = fetch(https, f"/l/{token(DESTINATION)}", tls=tls, server_name="go.example.com")
    assert reply.status == 302 and reply.header("location") == DESTINATION
    assert reply.header("strict-transport-security") == "max-age=31536000; includeSubDomains"


def test_hsts_on_refusals_over_https_too(site: Site, https: tuple[str, int]) -> None:
    tls = site.client_context()
    reply = fetch(https, "/l/forged", tls=tls, server_name="go.example.com")
    assert reply.status == 404
    assert reply.header("strict-transport-security") == "max-age=31536000; includeSubDomains"


def test_the_certificate_is_chosen_by_sni(site: Site, https: tuple[str, int]) -> None:
    tls = site.client_context()
    for name in ("go.example.com", "click.example.com"):
        with connect(https, tls=tls, server_name=name) as sock:
            assert isinstance(sock, ssl.SSLSocket)
            certificate = sock.getpeercert()
            assert certificate is not None
            assert ("DNS", name) in certificate["subjectAltName"]
            assert send(sock, "/healthz", host=name).status == 200


def test_a_client_trusting_only_the_ca_refuses_a_name_no_certificate_covers(
    site: Site, https: tuple[str, int]
) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        connect(https, tls=site.client_context(), server_name="other.example.org")


def test_hsts_through_a_trusted_proxy_only(http: tuple[str, int]) -> None:
    forwarded = [("X-Forwarded-Proto", "https")]
    trusted = fetch(http, f"/l/{token(DESTINATION)}", headers=forwarded, source="127.0.0.2")
    assert trusted.header("strict-transport-security") == "max-age=31536000; includeSubDomains"
    untrusted = fetch(http, f"/l/{token(DESTINATION)}", headers=forwarded, source="127.0.0.1")
    assert untrusted.status == 302
    assert untrusted.header("strict-transport-security") is None


def test_upgrade_insecure_redirects_plain_http_with_308(
    site: Site, http: tuple[str, int], https: tuple[str, int]
) -> None:
    target = f"/l/{token(DESTINATION)}?x=1"
    reply = fetch(http, target, host="click.example.com")
    assert reply.status == 308
    assert reply.header("location") == f"https://click.example.com{target}"
    assert reply.header("strict-transport-security") is None
    over_tls = fetch(
        https,
        target,
        host="click.example.com",
        tls=site.client_context(),
        server_name="click.example.com",
    )
    assert over_tls.status == 302 and over_tls.header("location") == DESTINATION
    assert over_tls.header("strict-transport-security") == "max-age=600"
    # a trusted proxy that terminated TLS is not sent round again
    proxied = fetch(
        http,
        target,
        host="click.example.com",
        headers=[("X-Forwarded-Proto", "https")],
        source="127.0.0.2",
    )
    assert proxied.status == 302


# --- rotation, legacy domains and links, kill switch, fallback ---------------------------------


def test_tokens_of_every_key_in_the_ring_verify(http: tuple[str, int]) -> None:
    for key_id in ("k2", "k1"):
        destination = f"https://www.example.org/{key_id}"
        assert fetch(http, f"/l/{token(destination, key_id)}").header("location") == destination


def test_links_made_by_this_tool_resolve_on_legacy_domains(http: tuple[str, int]) -> None:
    reply = fetch(http, f"/l/{token(DESTINATION)}", host="old.example.net")
    assert reply.status == 302 and reply.header("location") == DESTINATION


def test_the_legacy_link_map_by_url_and_by_path(http: tuple[str, int]) -> None:
    by_url = fetch(http, "/ls/click?upn=abc123", host="click.example.com", source="127.0.0.2",
                   headers=[("X-Forwarded-Proto", "https")])  # fmt: skip
    assert by_url.status == 302
    assert by_url.header("location") == "https://www.example.com/spring-sale"
    by_path = fetch(http, "/r/2024", host="old.example.net")
    assert by_path.status == 302
    assert by_path.header("location") == "https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%BC"
    # the map's full URLs belong to their own host only
    assert fetch(http, "/ls/click?upn=abc123", host="old.example.net").header("location") == (
        "https://www.example.com/fallback"
    )


def test_unknown_legacy_paths_go_to_the_fallback_but_not_on_the_tracking_domain(
    http: tuple[str, int],
) -> None:
    reply = fetch(http, "/some/old/link?id=7", host="old.example.net")
    assert reply.status == 302 and reply.header("location") == "https://www.example.com/fallback"
    assert fetch(http, "/some/old/link?id=7").status == 404


def test_retired_keys_go_to_the_fallback_forged_tokens_never(http: tuple[str, int]) -> None:
    retired = token("https://www.example.org/old", RETIRED_KEY[0])
    reply = fetch(http, f"/l/{retired}")
    assert reply.status == 302 and reply.header("location") == "https://www.example.com/fallback"
    forged_k1 = encode_token(DESTINATION, "", KeyRing("k1", {"k1": b"z" * 32}))
    assert fetch(http, f"/l/{forged_k1}").status == 404


@pytest.mark.parametrize(
    "destination",
    ["https://login.phishing.example/account", "https://www.example.com/leaked/offer?id=1"],
)
def test_the_kill_switch_answers_410(http: tuple[str, int], destination: str) -> None:
    reply = fetch(http, f"/l/{token(destination)}")
    assert reply.status == 410
    assert reply.header("location") is None
    assert b"withdrawn" in reply.body
    assert fetch(http, f"/l/{token('https://www.example.com/offer')}").status == 302


def test_the_compatibility_fixture_resolves(http: tuple[str, int]) -> None:
    fixture = json.loads(COMPAT.read_text(encoding="utf-8"))
    assert fixture["key"].startswith("compat1 ")  # the service's ring holds this key
    for entry in fixture["tokens"]:
        reply = fetch(http, f"/l/{entry['token']}")
        assert (reply.status, reply.header("location")) == (302, entry["destination"])


# --- what goes to stderr -----------------------------------------------------------------------


def test_clicks_and_access_lines_on_stderr_without_tokens_or_queries(
    service: Service, http: tuple[str, int]
) -> None:
    marker = "https://www.example.org/logged?secret=personal"
    made = token(marker, context="campaigns/logged.html")
    fetch(http, f"/l/{made}", headers=[("User-Agent", "pytest-agent")])
    fetch(http, f"/l/{token('https://login.phishing.example/x')}")
    service.drain()
    clicks = [c for c in service.clicks() if c.get("context") == "campaigns/logged.html"]
    assert len(clicks) == 1
    click = clicks[0]
    assert click["status"] == "redirected" and click["host"] == "go.example.com"
    assert click["destination_host"] == "www.example.org" and click["destination_path"] == "/logged"
    assert click["destination_query"] is None  # clicks.store_query is off
    assert click["key_id"] == "k2" and click["token_version"] == 1
    assert click["user_agent"] == "pytest-agent" and click["method"] == "GET"
    assert click["label"] == "human"
    assert any(c["status"] == "withdrawn" for c in service.clicks())
    text = "\n".join(service.lines)
    assert made not in text and "secret=personal" not in text
    access = [
        line for line in service.lines if line.endswith("ms") and " 302 go.example.com /l/ " in line
    ]
    assert access
