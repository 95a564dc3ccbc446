"""Starting, reloading and stopping the tracking service: refusals at start (exit 2), SIGHUP
reloading rules, keys and certificates without closing connections, SIGTERM stopping cleanly."""

from __future__ import annotations

import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from service_helpers import (
    KEYS,
    RULES,
    WAIT,
    Service,
    Site,
    connect,
    fetch,
    make_site,
    send,
    token,
    write_keys,
)

DESTINATION = "https://www.example.org/reload"


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return make_site(tmp_path / "site")


def run_serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rewriter", "serve", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=WAIT,
        stdin=subprocess.DEVNULL,
    )


def test_a_certificate_not_covering_the_tracking_domain_stops_the_start(site: Site) -> None:
    certfile, keyfile = site.certs["other"]
    result = run_serve("--rules", str(site.rules), "--https", "127.0.0.1:0",
                       "--certfile", str(certfile), "--keyfile", str(keyfile))  # fmt: skip
    assert result.returncode == 2
    assert "no certificate covers the tracking domain go.example.com" in result.stderr
    assert "listening on" not in result.stderr
    assert "Traceback" not in result.stderr


def test_a_legacy_domain_not_covered_is_a_warning_only(site: Site) -> None:
    service = Service.start(site, certs=["go"]).ready()
    try:
        text = "\n".join(service.lines)
        assert "no certificate covers the legacy domain click.example.com" in text
    finally:
        assert service.stop() == 0


def test_bad_rules_stop_the_start_with_file_and_line(site: Site) -> None:
    site.rules.write_text(RULES.replace("max_age: 600", "max_age: soon"))
    result = run_serve("--rules", str(site.rules), "--http", "127.0.0.1:0")
    assert result.returncode == 2
    assert f"{site.rules}:" in result.stderr and "max_age" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "say where to listen"),
        (("--https", "127.0.0.1:0"), "--https needs --certfile"),
        (("--http", "localhost"), "expected ADDR:PORT"),
    ],
)
def test_usage_errors_exit_2(site: Site, args: tuple[str, ...], message: str) -> None:
    result = run_serve("--rules", str(site.rules), *args)
    assert result.returncode == 2
    assert message in result.stderr


def test_a_missing_key_stops_the_start(site: Site) -> None:
    site.keys.unlink()
    result = run_serve("--rules", str(site.rules), "--http", "127.0.0.1:0")
    assert result.returncode == 2
    assert "no signing key" in result.stderr or "service.keys" in result.stderr


def test_sighup_reloads_rules_keys_and_certificates_without_closing_connections(
    site: Site,
) -> None:
    service = Service.start(site).ready()
    try:
        http, https = service.address("http"), service.address("https")
        tls = site.client_context()
        KEYS["k3"] = b"a third key, added by rotation!!"
        new_key_token = token(DESTINATION, "k3")
        withdrawn = token("https://withdrawn.example/offer")
        with (
            connect(http) as plain,
            connect(https, tls=tls, server_name="go.example.com") as secure,
        ):
            assert isinstance(secure, ssl.SSLSocket)
            serial_before = secure.getpeercert()["serialNumber"]  # type: ignore[index]
            assert send(plain, f"/l/{new_key_token}").status == 404
            assert send(plain, f"/l/{withdrawn}").status == 302
            old_key_token = token(DESTINATION, "k1")
            assert send(plain, f"/l/{old_key_token}").status == 302  # verified, remembered

            write_keys(site.keys, ["k3", "k2"])  # k1 removed from the ring
            site.rules.write_text(RULES.replace('"*.phishing.example"', '"withdrawn.example"'))
            renewed = site.ca.issue_cert("go.example.com", "renewed.example.com")
            renewed.cert_chain_pems[0].write_to_path(str(site.certs["go"][0]))
            renewed.private_key_pem.write_to_path(str(site.certs["go"][1]))
            service.process.send_signal(signal.SIGHUP)
            service.wait_for("reloaded: keys k3, k2")

            # the connections opened before the reload still work, with the new configuration
            assert send(plain, f"/l/{new_key_token}").header("location") == DESTINATION
            assert send(plain, f"/l/{withdrawn}").status == 410
            assert send(secure, f"/l/{new_key_token}").status == 302
            assert send(plain, f"/l/{old_key_token}").status == 404  # not from the old cache
        with connect(https, tls=tls, server_name="go.example.com") as fresh:
            assert isinstance(fresh, ssl.SSLSocket)
            certificate = fresh.getpeercert()
            assert certificate is not None and certificate["serialNumber"] != serial_before
            assert ("DNS", "renewed.example.com") in certificate["subjectAltName"]
    finally:
        KEYS.pop("k3", None)
        assert service.stop() == 0


def test_a_reload_with_broken_rules_keeps_the_previous_configuration(site: Site) -> None:
    service = Service.start(site, https=False).ready(1)
    try:
        http = service.address("http")
        site.rules.write_text("tracking: {domain: [not, a, host]}\n")
        service.process.send_signal(signal.SIGHUP)
        service.wait_for("reload refused")
        assert fetch(http, f"/l/{token(DESTINATION)}").status == 302
    finally:
        assert service.stop() == 0


def test_sigterm_stops_every_worker_cleanly_and_flushes_the_clicks(site: Site) -> None:
    service = Service.start(site, "--workers", "2", https=False).ready(1)
    http = service.address("http")
    idle = connect(http)
    marker = token("https://www.example.org/last-click", context="flushed-at-exit")
    assert fetch(http, f"/l/{marker}").status == 302
    assert service.stop() == 0
    service.drain()
    text = "\n".join(service.lines)
    assert "rewriter: stopped" in text
    assert "flushed-at-exit" in text  # the click was written before the worker exited
    assert "Traceback" not in text
    idle.settimeout(WAIT)
    try:
        assert idle.recv(1) == b""  # the idle keep-alive connection was closed, not left hanging
    except ConnectionResetError:
        pass
    finally:
        idle.close()
    with pytest.raises(OSError):
        socket.create_connection(http, timeout=2).close()


@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_during_start_stops_the_workers_at_once(site: Site, signo: int) -> None:
    # Sent as soon as the addresses are printed: the workers may not have their handlers yet.
    service = Service.start(site, "--workers", "2").ready()
    service.process.send_signal(signo)
    assert service.process.wait(timeout=WAIT) == 0
    service.drain()
    text = "\n".join(service.lines)
    assert "rewriter: stopped" in text
    assert "did not stop in time" not in text
