"""Running `rewriter serve` on loopback for the tests, and a small raw HTTP/1.1 client (raw so
that tests can send what ordinary clients refuse: huge targets, odd Host headers)."""

from __future__ import annotations

import base64
import json
import os
import queue
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import trustme

from rewriter.tokens.format import encode_token
from rewriter.tokens.keys import KeyRing

WAIT = 20.0  # seconds: the bound of every wait for the service

KEYS = {
    "k2": b"second signing key, the current!",
    "k1": b"first signing key, still verifies",
    "compat1": b"compatibility fixture key v1, not secret",
}
RETIRED_KEY = ("k0", b"a retired key, removed from ring")


def key_line(key_id: str, secret: bytes) -> str:
    return f"{key_id} {base64.urlsafe_b64encode(secret).decode().rstrip('=')}"


def ring(key_id: str, secret: bytes | None = None) -> KeyRing:
    return KeyRing(key_id, {key_id: secret if secret is not None else KEYS[key_id]})


def token(destination: str, key_id: str = "k2", context: str = "t.html") -> str:
    secret = RETIRED_KEY[1] if key_id == RETIRED_KEY[0] else KEYS[key_id]
    return encode_token(destination, context, ring(key_id, secret))


RULES = """\
tracking:
  domain: go.example.com
  path: /l
  legacy_domains: [click.example.com, old.example.net]
keys:
  file: service.keys
hosts:
  go.example.com:
    certificate: {status: active, names: [go.example.com]}
    hsts: {max_age: 31536000, include_subdomains: true}
  click.example.com:
    certificate: {status: active}
    hsts: {max_age: 600}
    upgrade_insecure: true
serve:
  kill_switch:
    hosts: ["*.phishing.example"]
    urls: ["https://www.example.com/leaked/*"]
  fallback_url: https://www.example.com/fallback
  retired_keys: [k0]
  legacy_link_map: legacy.csv
  trusted_proxies: [127.0.0.2/32]
"""

LEGACY_CSV = """\
old,destination
http://click.example.com/ls/click?upn=abc123,https://www.example.com/spring-sale
/r/2024,https://bücher.example/straße?q=ü
"""


@dataclass
class Site:
    folder: Path
    rules: Path
    keys: Path
    ca: trustme.CA
    certs: dict[str, tuple[Path, Path]]  # name -> (certfile, keyfile)

    def client_context(self) -> ssl.SSLContext:
        """A client that trusts only the throwaway CA (no system CAs), checking host names."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(cadata=self.ca.cert_pem.bytes().decode())
        return context


def make_site(
    folder: Path, rules: str = RULES, keys: Sequence[str] = ("k2", "k1", "compat1")
) -> Site:
    folder.mkdir(parents=True, exist_ok=True)
    rules_path = folder / "rules.yaml"
    rules_path.write_text(rules)
    keys_path = folder / "service.keys"
    write_keys(keys_path, keys)
    (folder / "legacy.csv").write_text(LEGACY_CSV, encoding="utf-8")
    ca = trustme.CA()
    certs = {}
    for name, hosts in (("go", ["go.example.com"]), ("click", ["click.example.com"]),
                        ("other", ["other.example.org"])):  # fmt: skip
        issued = ca.issue_cert(*hosts)
        certfile, keyfile = folder / f"{name}.crt", folder / f"{name}.key"
        issued.cert_chain_pems[0].write_to_path(str(certfile))
        issued.private_key_pem.write_to_path(str(keyfile))
        certs[name] = (certfile, keyfile)
    return Site(folder, rules_path, keys_path, ca, certs)


def write_keys(path: Path, keys: Sequence[str]) -> None:
    text = "".join(key_line(key_id, KEYS[key_id]) + "\n" for key_id in keys)
    path.write_text(text)
    path.chmod(0o600)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Service:
    """`rewriter serve` in a subprocess; stderr is read line by line in a thread."""

    process: subprocess.Popen[bytes]
    lines: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    _queue: queue.Queue[str | None] = field(default_factory=queue.Queue)

    @classmethod
    def start(
        cls,
        site: Site,
        *extra: str,
        https: bool = True,
        certs: Sequence[str] = ("go", "click"),
        clicks: str | None = "log",
    ) -> Service:
        """`clicks`: the --clicks option (these tests read clicks from stderr by default);
        None: none given (the rules' store, else the default SQLite file)."""
        args = [sys.executable, "-m", "rewriter", "serve", "--rules", str(site.rules),
                "--http", "127.0.0.1:0", "--workers", "1", "--graceful-timeout", "5"]  # fmt: skip
        if https:
            args += ["--https", "127.0.0.1:0"]
            for name in certs:
                certfile, keyfile = site.certs[name]
                args += ["--certfile", str(certfile), "--keyfile", str(keyfile)]
        env = {k: v for k, v in os.environ.items() if k != "REWRITER_KEYS"}
        if clicks is not None:
            args += ["--clicks", clicks]
        process = subprocess.Popen(
            [*args, *extra], stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env
        )
        service = cls(process)
        threading.Thread(target=service._read, daemon=True).start()
        return service

    def _read(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            self._queue.put(raw.decode("utf-8", "replace").rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, needle: str, count: int = 1, timeout: float = WAIT) -> list[str]:
        """Lines read so far once `count` of them hold `needle` (fails after `timeout`)."""
        deadline = time.monotonic() + timeout
        while sum(needle in line for line in self.lines) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"no {needle!r} within {timeout} s; stderr:\n" + "\n".join(self.lines)
                )
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(
                    f"the service ended before {needle!r}:\n" + "\n".join(self.lines)
                )
            self.lines.append(line)
            if line.startswith("rewriter: listening on "):
                self.urls.append(line.removeprefix("rewriter: listening on "))
        return self.lines

    def ready(self, listeners: int = 2) -> Service:
        self.wait_for("listening on", listeners)
        return self

    def address(self, scheme: str) -> tuple[str, int]:
        for url in self.urls:
            if url.startswith(scheme + "://"):
                host, _, port = url.removeprefix(scheme + "://").rpartition(":")
                return host, int(port)
        raise AssertionError(f"no {scheme} listener in {self.urls}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=WAIT)
            raise

    def clicks(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.lines if line.startswith('{"event":"click"')]

    def drain(self, pause: float = 0.3) -> None:
        """Read what stderr has so far (background writers flush every 50 ms)."""
        deadline = time.monotonic() + pause
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                return
            if line is None:
                return
            self.lines.append(line)


def connect(
    address: tuple[str, int],
    *,
    tls: ssl.SSLContext | None = None,
    server_name: str | None = None,
    source: str | None = None,
) -> socket.socket:
    sock = socket.create_connection(
        address, timeout=WAIT, source_address=(source, 0) if source else None
    )
    if tls is not None:
        sock = tls.wrap_socket(sock, server_hostname=server_name)
    return sock


def send(sock: socket.socket, target: str, *, host: str | None = "go.example.com",
         method: str = "GET", headers: Sequence[tuple[str, str]] = ()) -> Reply:  # fmt: skip
    lines = [f"{method} {target} HTTP/1.1"]
    if host is not None:
        lines.append(f"Host: {host}")
    lines += [f"{name}: {value}" for name, value in headers]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    return read_reply(sock, head_only=method == "HEAD")


def read_reply(sock: socket.socket, head_only: bool = False) -> Reply:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed; got {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = 0 if head_only else int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return Reply(int(status_line.split()[1]), headers, body)


def fetch(address: tuple[str, int], target: str, **options: object) -> Reply:
    """One request on a fresh connection."""
    tls = options.pop("tls", None)
    server_name = options.pop("server_name", None)
    source = options.pop("source", None)
    assert tls is None or isinstance(tls, ssl.SSLContext)
    with connect(address, tls=tls, server_name=server_name, source=source) as sock:  # type: ignore[arg-type]
        return send(sock, target, **options)  # type: ignore[arg-type]
