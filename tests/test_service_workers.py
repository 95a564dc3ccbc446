"""The service's processes: a worker that dies is replaced while the others go on answering,
and an IPv6 listener serves like an IPv4 one. Through `rewriter serve` in a real process."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest
from service_helpers import Service, Site, fetch, make_site, token

DESTINATION = "https://www.example.org/workers?utm_source=mail"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return make_site(tmp_path_factory.mktemp("site"))


def children(pid: int) -> set[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.add(int(entry))
    return found


def wait_for_children(pid: int, count: int, timeout: float = 20.0) -> set[int]:
    deadline = time.monotonic() + timeout
    while len(found := children(pid)) != count:
        assert time.monotonic() < deadline, f"{len(found)} workers, not {count}"
        time.sleep(0.05)
    return found


def test_a_killed_worker_is_replaced_and_the_service_goes_on_answering(site: Site) -> None:
    service = Service.start(site, "--workers", "2", https=False).ready(1)
    http = service.address("http")
    link = f"/l/{token(DESTINATION)}"
    try:
        workers = wait_for_children(service.process.pid, 2)
        time.sleep(1.2)  # past the first second, when a death counts as a failure to start
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        service.wait_for(f"worker {victim} exited (-9): starting another")
        replaced = wait_for_children(service.process.pid, 2)
        assert victim not in replaced and len(replaced - workers) == 1
        replies = [fetch(http, link) for _ in range(20)]  # new connections: either worker
        assert {(reply.status, reply.header("location")) for reply in replies} == {
            (302, DESTINATION)
        }
    finally:
        assert service.stop() == 0
    service.wait_for("rewriter: stopped")


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_an_ipv6_listener_answers_like_an_ipv4_one(site: Site) -> None:
    service = Service.start(site, "--http", "[::1]:0", https=False).ready(2)
    try:
        ipv6 = [url for url in service.urls if url.startswith("http://[::1]:")]
        assert len(ipv6) == 1, service.urls
        port = int(ipv6[0].rpartition(":")[2])
        link = f"/l/{token(DESTINATION)}"
        for address in (("::1", port), service.address("http")):
            reply = fetch(address, link)
            assert (reply.status, reply.header("location")) == (302, DESTINATION)
    finally:
        assert service.stop() == 0
    service.wait_for("rewriter: stopped")  # every line read, the click lines with them
    clients = [click["client"] for click in service.clicks()]
    assert sorted(clients) == ["127.0.0.0/24", "::/48"]  # each truncated as its family says
