"""`rewriter serve`: the tracking service under uvicorn, HTTP and HTTPS at once.

One supervisor process binds every listener (port 0: a free port, printed on stderr), checks
the rules, keys and certificates, then forks the workers. Each worker runs one uvicorn server
per listener in one event loop, on the sockets it inherited, so each worker serves every
listener. Signals go to the supervisor:

- SIGHUP: the supervisor checks the rules, keys, legacy link map and certificates again and,
  if they are usable, passes the signal on; each worker swaps in the new configuration and
  certificates between requests. No connection is closed.
- SIGTERM (or SIGINT): the workers stop accepting, finish the requests in flight, flush the
  recorder (every click taken is stored) and the access log, print the clicks they dropped, and
  exit; then the supervisor exits 0.

Each worker opens its own click store and recorder after it is forked (the supervisor opens the
store once before, to migrate it and to refuse a store that cannot be used). A reload keeps the
recorder.

A worker that dies is replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from rewriter.serve.app import TrackingApp
from rewriter.serve.config import DEFAULT_TOKEN_CACHE, ServiceConfig, ServiceError, load_config
from rewriter.serve.recording import StoreError, check_store, open_recorder, store_url
from rewriter.serve.request import MAX_HEADERS_BYTES, MAX_TARGET_BYTES
from rewriter.serve.tls import (
    CertificateError,
    CertificatePair,
    LoadedCertificate,
    SniContexts,
    check_certificates,
    load_certificate,
)

USAGE_ERROR = 2
_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD}


@dataclass(frozen=True, slots=True)
class Listener:
    host: str
    port: int
    tls: bool

    def url(self, port: int | None = None) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port if port is None else port}"


@dataclass(frozen=True, slots=True)
class ServeOptions:
    rules_path: Path
    listeners: tuple[Listener, ...]
    certificates: tuple[CertificatePair, ...] = ()
    workers: int = 1
    graceful_seconds: float = 20.0
    token_cache: int = DEFAULT_TOKEN_CACHE
    clicks: str | None = None  # the click store's URL, or `log`; None: the rules', else SQLite


def parse_address(text: str, tls: bool) -> Listener:
    """`ADDR:PORT` (`127.0.0.1:8080`, `[::1]:0`, `0.0.0.0:80`). Raises ValueError."""
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or int(port) > 65535 or not host:
        raise ValueError(f"{text!r}: expected ADDR:PORT, like 127.0.0.1:8080 or [::1]:0")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return Listener(host, int(port), tls)


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def say(message: str) -> None:
    print(f"rewriter: {message}", file=sys.stderr, flush=True)


def run(options: ServeOptions) -> int:
    """Start the service and return its exit code once it stops."""
    # Signals wait until the supervisor reads them: from the first address printed, a SIGHUP
    # or SIGTERM must not kill the process with the default action.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        return _start(options)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _start(options: ServeOptions) -> int:
    try:
        config = load_config(options.rules_path, options.token_cache)
    except ServiceError as error:
        say(str(error))
        return USAGE_ERROR
    certificates: list[LoadedCertificate] = []
    if any(listener.tls for listener in options.listeners):
        try:
            certificates = _checked_certificates(options, config.rules)
        except CertificateError as error:
            say(str(error))
            return USAGE_ERROR
    clicks = store_url(options.clicks, config.rules.clicks) or "sqlite:"
    try:
        stored_where = check_store(clicks)
    except StoreError as error:
        say(f"--clicks: {error}" if options.clicks else f"clicks.store: {error}")
        return USAGE_ERROR
    options = dataclasses.replace(options, clicks=clicks)  # what every worker opens
    try:
        sockets = [_bind(listener) for listener in options.listeners]
    except OSError as error:
        say(f"cannot listen: {error.strerror or error}")
        return USAGE_ERROR
    for listener, sock in zip(options.listeners, sockets, strict=True):
        say(f"listening on {listener.url(sock.getsockname()[1])}")
    say(
        f"{options.workers} worker(s), keys {', '.join(config.key_ids)}; "
        f"tracking {config.rules.tracking_prefix}"
    )
    say(stored_where)
    return _Supervisor(options, sockets, config, certificates).run()


def _checked_certificates(options: ServeOptions, rules: object) -> list[LoadedCertificate]:
    from rewriter.rules.model import Rules

    assert isinstance(rules, Rules)
    certificates = [load_certificate(pair) for pair in options.certificates]
    errors, warnings = check_certificates(certificates, rules, datetime.datetime.now(datetime.UTC))
    for warning in warnings:
        say(f"warning: {warning}")
    if errors:
        raise CertificateError("; ".join(errors))
    return certificates


def _bind(listener: Listener) -> socket.socket:
    family = socket.AF_INET6 if ":" in listener.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((listener.host, listener.port))
        sock.listen(2048)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


@dataclass
class _Supervisor:
    options: ServeOptions
    sockets: list[socket.socket]
    config: ServiceConfig  # the last one checked: a new worker starts with it
    certificates: list[LoadedCertificate]
    children: dict[int, float] = field(default_factory=dict)  # pid -> start time
    stopping: bool = False
    quick_deaths: int = 0

    def run(self) -> int:
        try:
            for _ in range(self.options.workers):
                self._spawn()
            return self._watch()
        finally:
            for sock in self.sockets:
                sock.close()

    def _spawn(self) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                worker = _Worker(self.options, self.sockets, self.config, self.certificates)
                code = worker.run()
            except BaseException as error:  # never let a worker run the supervisor's code
                say(f"worker {os.getpid()} failed: {error!r}")
            finally:
                sys.stderr.flush()
                os._exit(code)
        self.children[pid] = time.monotonic()

    def _watch(self) -> int:
        deadline: float | None = None
        while self.children:
            timeout = 1.0 if deadline is None else max(0.05, deadline - time.monotonic())
            info = signal.sigtimedwait(_SIGNALS, timeout)
            self._reap()
            if deadline is not None and time.monotonic() >= deadline:
                for pid in self.children:
                    _kill(pid, signal.SIGKILL)
                say("workers did not stop in time: killed")
                deadline = time.monotonic() + 5
            if info is None:
                continue
            if info.si_signo in (signal.SIGTERM, signal.SIGINT) and not self.stopping:
                self.stopping = True
                say("stopping: finishing the requests in flight")
                for pid in self.children:
                    _kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + self.options.graceful_seconds + 5
            elif info.si_signo == signal.SIGHUP and not self.stopping:
                self._reload()
        if self.quick_deaths > 5:
            return 1
        say("stopped")
        return 0

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            started = self.children.pop(pid, None)
            if started is None or self.stopping:
                continue
            code = os.waitstatus_to_exitcode(status)
            say(f"worker {pid} exited ({code}): starting another")
            if time.monotonic() - started < 1.0:
                self.quick_deaths += 1
                if self.quick_deaths > 5:
                    say("workers keep failing at start: stopping")
                    self.stopping = True
                    for other in self.children:
                        _kill(other, signal.SIGTERM)
                    continue
            self._spawn()

    def _reload(self) -> None:
        try:
            config = load_config(self.options.rules_path, self.options.token_cache)
            certificates = self.certificates
            if certificates:
                certificates = _checked_certificates(self.options, config.rules)
        except (ServiceError, CertificateError) as error:
            say(f"reload refused, still serving the previous configuration: {error}")
            return
        self.config, self.certificates = config, certificates
        say(f"reloading: keys {', '.join(config.key_ids)}")
        for pid in self.children:
            _kill(pid, signal.SIGHUP)


def _kill(pid: int, signo: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signo)


class _Worker:
    """One process: one uvicorn server per listener, in one event loop."""

    def __init__(
        self,
        options: ServeOptions,
        sockets: list[socket.socket],
        config: ServiceConfig,
        certificates: list[LoadedCertificate],
    ) -> None:
        self.options = options
        self.sockets = sockets
        self.config = config
        self.sni = SniContexts(certificates) if certificates else None
        self.app: TrackingApp | None = None
        self.servers: list[_QuietServer] = []

    def run(self) -> int:
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            logging.getLogger(name).setLevel(logging.WARNING)
        logging.basicConfig(stream=sys.stderr, format="rewriter: %(message)s")
        recorder = open_recorder(self.options.clicks, self.config.rules.clicks, worker=True)
        app = self.app = TrackingApp(
            self.options.rules_path,
            config=self.config,
            recorder=recorder,
            token_cache=self.options.token_cache,
        )
        loop = _new_event_loop()
        asyncio.set_event_loop(loop)
        self.servers = [
            _QuietServer(self._config(listener.tls)) for listener in self.options.listeners
        ]
        for signo in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signo, self._stop)
        loop.add_signal_handler(signal.SIGHUP, self._reload)
        # Blocked since the supervisor started: a signal sent before the handlers existed is
        # delivered to them once the loop runs (uvloop drops one unblocked before it runs).
        loop.call_soon(signal.pthread_sigmask, signal.SIG_UNBLOCK, _SIGNALS)
        try:
            loop.run_until_complete(
                asyncio.gather(
                    *(
                        server.serve(sockets=[sock])
                        for server, sock in zip(self.servers, self.sockets, strict=True)
                    )
                )
            )
        finally:
            app.close()
            loop.close()
            say(f"worker {os.getpid()} stopped: {recorder.dropped} click(s) dropped")
        return 0

    def _config(self, tls: bool) -> uvicorn.Config:
        sni = self.sni
        return uvicorn.Config(
            self.app,  # type: ignore[arg-type]
            interface="asgi3",
            http=_BoundedHttpTools,
            lifespan="off",  # the worker closes the app itself, once for all its servers
            access_log=False,  # the application writes its own, without tokens
            proxy_headers=False,  # the application believes only the rules' trusted proxies
            server_header=False,
            log_config=None,
            timeout_keep_alive=5,
            timeout_graceful_shutdown=int(self.options.graceful_seconds),
            ssl_context_factory=(lambda config, default: sni.server_context())
            if tls and sni is not None
            else None,
        )

    def _stop(self) -> None:
        for server in self.servers:
            server.should_exit = True

    def _reload(self) -> None:
        if self.app is None:
            return
        try:
            config = self.app.reload()
            if self.sni is not None:
                self.sni.replace([load_certificate(pair) for pair in self.options.certificates])
        except (ServiceError, CertificateError) as error:
            say(f"worker {os.getpid()}: reload refused: {error}")
            return
        say(f"worker {os.getpid()} reloaded: keys {', '.join(config.key_ids)}")


class _BoundedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with bounded memory, and the application answering 414 and
    431 whatever the sizes. httptools has no limits of its own, but its URL parser fails (400)
    on a target of 64 KiB or more; so only the first 8 KiB + 1 bytes of a target are kept (the
    application sees a target too long and answers 414), and header fields stop being kept once
    there are more than twice the application's limit (it answers 431)."""

    def on_url(self, url: bytes) -> None:
        if len(self.url) <= MAX_TARGET_BYTES:
            self.url = (self.url + url)[: MAX_TARGET_BYTES + 1]

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes <= 2 * MAX_HEADERS_BYTES or name.lower() == b"host":
            super().on_header(name, value[: 2 * MAX_HEADERS_BYTES])


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves the signals to the worker (several share one loop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
