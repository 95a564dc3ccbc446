"""`rewriter preload-list fetch` against a loopback HTTP server serving lists in Chromium's format,
and the fetched list in use (`--preload-list fetched`, `preload_list: {source: fetched}`)."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner, Result

from rewriter.cli.main import main

ONLY_HERE = "only-in-the-fetched-list.example"  # not on the bundled list


def chromium_list(count: int, *, extra: str = "") -> bytes:
    """A list in the layout of Chromium's transport_security_state_static.json."""
    entries = [
        '    { "name": "pinned.example", "policy": "google", "pins": "test" },',
        f'    {{ "name": "{ONLY_HERE}", "policy": "custom", "mode": "force-https", '
        '"include_subdomains": true },',
    ]
    for number in range(count - 2):
        subdomains = "true" if number % 3 else "false"
        entries.append(
            f'    {{ "name": "site{number}.example", "policy": "bulk-1-year", '
            f'"mode": "force-https", "include_subdomains": {subdomains} }},'
        )
    entries[-1] = entries[-1].rstrip(",")
    text = (
        "// Copyright 2026 The Chromium Authors (a test fixture in the same layout)\n"
        "// This file contains the HSTS preloaded list. // not a string\n"
        "{\n"
        '  // "pinsets" maps names to lists of public key hashes\n'
        '  "pinsets": [ { "name": "test", "static_spki_hashes": ["TestSPKI"] } ],\n'
        '  "entries": [\n'
        "    // Entries in Chromium's own layout: name, policy, mode, flags.\n"
        + "\n".join(entries)
        + extra
        + "\n  ]\n}\n"
    )
    return text.encode()


BIG = chromium_list(12_000)
SMALL = chromium_list(40)
BAD_MODE = SMALL.replace(b'"mode": "force-https"', b'"mode": "force-http"', 1)
BAD_FLAG = SMALL.replace(b'"include_subdomains": true', b'"include_subdomains": "yes"', 1)


class _Handler(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, dict[str, str], bytes]]] = {}

    def do_GET(self) -> None:
        status, headers, body = self.routes.get(self.path, (404, {}, b"not found"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    port = httpd.server_address[1]
    base = f"http://127.0.0.1:{port}"
    _Handler.routes = {
        "/chromium?format=TEXT": (200, {}, base64.b64encode(BIG)),
        "/wrapped.b64": (200, {}, base64.encodebytes(BIG)),  # base64 in 76-column lines
        "/list.json": (200, {}, BIG),
        "/small.json": (200, {}, SMALL),
        "/truncated.json": (200, {}, BIG[: len(BIG) // 2]),
        "/cut.json": (200, {"Content-Length": str(len(BIG))}, BIG[:5000]),
        "/garbage": (200, {}, b"<html>\x00\xff not a list at all"),
        "/bad-mode.json": (200, {}, BAD_MODE),
        "/bad-flag.json": (200, {}, BAD_FLAG),
        "/moved": (302, {"Location": "/list.json"}, b""),
        "/elsewhere": (302, {"Location": f"http://localhost:{port}/list.json"}, b""),
        "/gone": (404, {}, b"gone"),
    }
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield base
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("REWRITER_CACHE_DIR", str(folder))
    return folder


def fetch(*args: str) -> Result:
    return CliRunner().invoke(main, ["preload-list", "fetch", "--timeout", "5", *args])


def stored(cache: Path) -> tuple[dict[str, Any], bytes]:
    meta = json.loads((cache / "preload-fetched" / "fetched.json").read_text())
    return meta, (cache / "preload-fetched" / meta["file"]).read_bytes()


def test_fetch_decodes_base64_checks_and_stores_with_date_and_sha256(
    server: str, cache: Path
) -> None:
    url = f"{server}/chromium?format=TEXT"
    result = fetch("--url", url)
    assert result.exit_code == 0, result.output
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    meta, data = stored(cache)
    assert data == BIG  # the JSON itself, decoded, comments and all
    assert meta["sha256"] == hashlib.sha256(BIG).hexdigest()
    assert meta["url"] == url
    assert meta["fetched"].startswith(today)
    assert (meta["entries"], meta["force_https"]) == (12_000, 11_999)
    assert f"stored the Chromium list fetched {today} from {url} (sha256 " in result.stderr
    assert "12,000 entries, 11,999 force-https" in result.stderr
    shown = CliRunner().invoke(main, ["preload-list", "show"])
    assert shown.exit_code == 0
    assert f"Chromium list fetched {today} from {url}" in shown.stdout
    assert meta["sha256"] in shown.stdout


@pytest.mark.parametrize("path", ["/list.json", "/wrapped.b64", "/moved"])
def test_plain_json_wrapped_base64_and_same_host_redirects(
    server: str, cache: Path, path: str
) -> None:
    result = fetch("--url", server + path)
    assert result.exit_code == 0, result.output
    assert stored(cache)[1] == BIG


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/small.json", "only 40 entries, where Chromium's list has over 150,000: refused"),
        ("/truncated.json", "not valid JSON at line"),
        ("/cut.json", "the download was cut short (5,000 bytes received)"),
        ("/garbage", "neither JSON nor base64-encoded JSON"),
        ("/bad-mode.json", "entry 1: only-in-the-fetched-list.example: unknown mode 'force-http'"),
        ("/bad-flag.json", "'include_subdomains' must be true or false"),
        ("/elsewhere", "redirected to another host (http://localhost:"),
        ("/gone", "the server answered HTTP 404"),
    ],
)
def test_what_is_refused_stores_nothing_and_keeps_the_last_list(
    server: str, cache: Path, path: str, message: str
) -> None:
    assert fetch("--url", f"{server}/list.json").exit_code == 0
    before = stored(cache)
    result = fetch("--url", server + path, "--force" if "bad" in path else "--timeout=5")
    assert result.exit_code == 1, result.output
    assert "preload list not stored: " in result.stderr
    assert message in result.stderr
    assert stored(cache) == before


def test_a_small_list_is_stored_with_force(server: str, cache: Path) -> None:
    result = fetch("--url", f"{server}/small.json", "--force")
    assert result.exit_code == 0, result.output
    assert stored(cache)[1] == SMALL


@pytest.mark.parametrize(
    "url", ["http://example.com/list.json", "ftp://127.0.0.1/list", "file:///etc/passwd"]
)
def test_only_https_except_loopback(cache: Path, url: str) -> None:
    result = fetch("--url", url)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert not cache.exists()


# The tracking hop is secure (preloaded, certificate active): a link's status is its destination's.
RULES = (
    "version: 1\ntracking:\n  domain: go.example.com\nhosts:\n  go.example.com:\n"
    "    certificate: {status: active}\n    preloaded: true\n"
)
PAGE = f'<a href="http://www.{ONLY_HERE}/">x</a>\n'.encode()


def links(folder: Path, *args: str, rules: str = RULES) -> Result:
    (folder / "rewriter.yaml").write_text(rules)
    (folder / "mail.html").write_bytes(PAGE)
    command = ["links", str(folder / "mail.html"), "--rules", str(folder / "rewriter.yaml")]
    return CliRunner().invoke(main, [*command, "--format", "json", *args])


def destination_status(result: Result) -> str:
    [record] = json.loads(result.stdout)["links"]
    status: str = record["status"]
    return status


def test_the_fetched_list_in_use_is_named_with_its_date(
    server: str, cache: Path, tmp_path: Path
) -> None:
    url = f"{server}/list.json"
    assert fetch("--url", url).exit_code == 0
    bundled = links(tmp_path)
    assert destination_status(bundled) == "insecure"
    by_option = links(tmp_path, "--preload-list", "fetched")
    assert by_option.exit_code == 0, by_option.output
    assert destination_status(by_option) == "secure"
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    named = json.loads(by_option.stdout)["preload_list"]
    assert named.startswith(f"Chromium list fetched {today} from {url} (sha256 ")
    assert named.endswith(f", dated {today}")
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    check = CliRunner().invoke(
        main,
        ["check", str(tmp_path / "mail.html"), "--rules", str(tmp_path / "rewriter.yaml")],
    )
    assert "preload list: hstspreload" in check.stdout
    rules = RULES + "preload_list: {source: fetched}\n"
    (tmp_path / "rewriter.yaml").write_text(rules)
    check = CliRunner().invoke(
        main,
        ["check", str(tmp_path / "mail.html"), "--rules", str(tmp_path / "rewriter.yaml")],
    )
    assert f"(preload list: {named}; as of " in check.stdout
    assert destination_status(links(tmp_path, rules=rules)) == "secure"


def test_fetched_before_any_fetch_says_what_to_do(cache: Path, tmp_path: Path) -> None:
    result = links(tmp_path, "--preload-list", "fetched")
    assert result.exit_code == 2
    assert "no fetched preload list in " in result.stderr
    assert "run `rewriter preload-list fetch` first" in result.stderr


def test_a_file_named_fetched_is_dot_slash_fetched(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fetched").write_bytes(SMALL)
    monkeypatch.chdir(tmp_path)
    result = links(tmp_path, "--preload-list", "./fetched")
    assert result.exit_code == 0, result.output
    assert destination_status(result) == "secure"


def test_file_and_source_together_are_refused(tmp_path: Path) -> None:
    (tmp_path / "list.json").write_bytes(SMALL)
    rules = RULES + "preload_list: {file: list.json, source: fetched}\n"
    result = links(tmp_path, rules=rules)
    assert result.exit_code == 2
    assert "preload_list.source: give file or source, not both" in result.stderr


def test_rewrite_workers_use_the_fetched_list(server: str, cache: Path, tmp_path: Path) -> None:
    assert fetch("--url", f"{server}/list.json").exit_code == 0
    source = tmp_path / "in"
    source.mkdir()
    for name in ("a.html", "b.html"):
        (source / name).write_bytes(PAGE)
    rules = tmp_path / "rewriter.yaml"
    rules.write_text(RULES + "keys: {env: REWRITER_TEST_KEYS}\n")
    args = ["rewrite", str(source), "--rules", str(rules), "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(main, [*args, "--workers", "2", "--preload-list", "fetched"])
    assert result.exit_code == 0, result.output
    for name in ("a.html", "b.html"):
        assert b'data-link-security="secure"' in (tmp_path / "out" / name).read_bytes()


@pytest.fixture(scope="module")
def secure_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on 127.0.0.1, with a certificate from a throwaway CA, and the CA's file."""
    import ssl

    import trustme

    folder = tmp_path_factory.mktemp("secure")
    ca = trustme.CA()
    ca_file = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}", ca_file
    httpd.shutdown()
    httpd.server_close()


def test_https_with_the_system_store_and_no_downgrade(
    server: str, secure_server: tuple[str, Path], cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, ca_file = secure_server
    untrusted = fetch("--url", f"{base}/list.json")
    assert untrusted.exit_code == 1
    assert "the certificate is refused (" in untrusted.stderr
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # the system store, as OpenSSL finds it
    result = fetch("--url", f"{base}/chromium?format=TEXT")
    assert result.exit_code == 0, result.output
    assert stored(cache)[1] == BIG
    _Handler.routes["/down"] = (302, {"Location": f"{server}/list.json"}, b"")
    down = fetch("--url", f"{base}/down")
    assert down.exit_code == 1
    assert "redirected from https to http (" in down.stderr
