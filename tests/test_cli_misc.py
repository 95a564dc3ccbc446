"""`rewriter resolve`, `rewriter init`, the group's usage errors, and the promise that `links`,
`check` and `rewrite -` neither touch the network nor write anything (in real subprocesses with
sockets blocked and HOME, the cache folder and TMPDIR pointed at folders that must stay empty)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rewriter.batch.factory import load_ring
from rewriter.cli.main import main
from rewriter.document.scan import SCANNER
from rewriter.rules.loader import load_rules

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
RULES = ROOT / "tests" / "cases" / "rules.yaml"  # keys from REWRITER_TEST_KEYS (conftest.py)
EXAMPLE_RULES = ROOT / "rules" / "example.yaml"
DEMO_KEYS = (ROOT / "rules" / "demo.keys.txt").read_text("utf-8").strip()
TEST_KEYS = os.environ["REWRITER_TEST_KEYS"]  # set by tests/conftest.py
BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
AS_OF = "2026-11-27"
WROTE = "wrote rewriter.yaml and rewriter.keys (mode 0600; keep it secret, keep it out of git)\n"


def invoke(
    *args: object, stdin: bytes | None = None, env: Mapping[str, str | None] | None = None
) -> Result:
    return CliRunner().invoke(
        main, [str(arg) for arg in args], input=stdin, env=env, catch_exceptions=False
    )


def run_process(
    *args: object, cwd: Path, env: Mapping[str, str], stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, *(str(arg) for arg in args)],
        cwd=cwd,
        env=dict(env),
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def secret(seed: bytes) -> str:
    return base64.urlsafe_b64encode(seed.ljust(32, b"!")).decode().rstrip("=")


def altered(url: str, index: int) -> str:
    """`url` with one character of its token changed in its top bit, so that the decoded bytes
    change even where the last character carries unused low bits."""
    prefix, token = url.rsplit("/", 1)
    swapped = BASE64URL[(BASE64URL.index(token[index]) + 32) % 64]
    return f"{prefix}/{token[:index]}{swapped}{token[index + 1 :]}"


@pytest.fixture(autouse=True)
def private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test gets its own empty cache folder, never the user's (rewrite keeps a cache)."""
    monkeypatch.setenv("REWRITER_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


# --- resolve -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Tracking URL -> destination, for the links `rewrite` made of samples/newsletter.html."""
    root = tmp_path_factory.mktemp("resolve")
    report = root / "report.ndjson"
    source = SAMPLES / "newsletter.html"
    cache = {"REWRITER_CACHE_DIR": str(tmp_path_factory.mktemp("cache"))}
    made = invoke(
        "rewrite", source, "--rules", RULES, "--out", root / "out", "--report", report, env=cache
    )
    assert made.exit_code == 0, made.stderr
    rows = [json.loads(line) for line in report.read_text("utf-8").splitlines()]
    links = {
        row["tracking_url"]: row["destination"] for row in rows if row["action"] == "rewritten"
    }
    assert len(links) > 5
    return links


def test_resolve_prints_the_destination_of_each_tracking_link(tracked: dict[str, str]) -> None:
    result = invoke("resolve", *tracked, "--rules", RULES)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [f"{url}\t{dest}" for url, dest in tracked.items()]
    assert result.stderr == ""


def test_resolve_accepts_the_token_on_a_legacy_domain(tracked: dict[str, str]) -> None:
    url, destination = next(iter(tracked.items()))
    legacy = url.replace("http://go.example.com/", "http://click.example.com/")
    result = invoke("resolve", legacy, "--rules", RULES)
    assert (result.exit_code, result.stdout) == (0, f"{legacy}\t{destination}\n")


def test_resolve_refuses_every_single_character_change(tracked: dict[str, str]) -> None:
    url = next(iter(tracked))
    token = url.rsplit("/", 1)[1]
    changed = [altered(url, index) for index in range(len(token))]
    result = invoke("resolve", *changed, "--rules", RULES)
    assert result.exit_code == 1
    output = result.stdout.splitlines()
    assert len(output) == len(changed)
    for line, bad in zip(output, changed, strict=True):
        assert line.startswith(f"{bad}\tinvalid: "), line
    assert f"{changed[len(token) // 2]}\tinvalid: forged or altered" in output


def test_resolve_refuses_a_foreign_domain(tracked: dict[str, str]) -> None:
    token = next(iter(tracked)).rsplit("/", 1)[1]
    foreign = f"http://go.example.net/l/{token}"
    result = invoke("resolve", foreign, "--rules", RULES)
    assert result.exit_code == 1
    assert (
        result.stdout
        == f"{foreign}\tinvalid: go.example.net is not a tracking domain of these rules\n"
    )


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (f"other {secret(b'another key')}", "signed by unknown key 'test'"),
        (f"test {secret(b'same id, other secret')}", "forged or altered"),
    ],
)
def test_resolve_refuses_a_token_the_keys_do_not_verify(
    tracked: dict[str, str], keys: str, message: str
) -> None:
    url = next(iter(tracked))
    result = invoke("resolve", url, "--rules", RULES, env={"REWRITER_TEST_KEYS": keys})
    assert result.exit_code == 1
    assert result.stdout == f"{url}\tinvalid: {message}\n"


def test_resolve_verifies_with_an_older_key_after_rotation(tracked: dict[str, str]) -> None:
    url, destination = next(iter(tracked.items()))
    rotated = f"new {secret(b'the new signing key')}; {TEST_KEYS}"
    result = invoke("resolve", url, "--rules", RULES, env={"REWRITER_TEST_KEYS": rotated})
    assert (result.exit_code, result.stdout) == (0, f"{url}\t{destination}\n")


def test_resolve_goes_on_after_an_invalid_link(tracked: dict[str, str]) -> None:
    (first, first_dest), (second, second_dest) = list(tracked.items())[:2]
    result = invoke("resolve", first, "not a url", second, "--rules", RULES)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{first}\t{first_dest}",
        "not a url\tinvalid: not a URL (not an absolute URL (relative))",
        f"{second}\t{second_dest}",
    ]


def test_resolve_without_a_key_exits_2(tracked: dict[str, str]) -> None:
    result = invoke("resolve", next(iter(tracked)), "--rules", RULES,
                    env={"REWRITER_TEST_KEYS": None})  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr == (
        f"rewriter: {RULES}: no signing key: set the environment variable REWRITER_TEST_KEYS\n"
    )
    assert result.stdout == ""


# --- init ----------------------------------------------------------------------------------------


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def state_of(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    return {
        path.name: (path.read_bytes(), path.stat().st_mode, path.stat().st_ino)
        for path in folder.iterdir()
    }


@pytest.fixture
def empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def test_init_writes_rules_that_load_and_a_private_key_file(empty: Path) -> None:
    result = invoke("init")
    assert result.exit_code == 0
    assert result.stderr == WROTE
    assert result.stdout == ""
    assert sorted(os.listdir(empty)) == ["rewriter.keys", "rewriter.yaml"]
    assert mode_of(empty / "rewriter.keys") == 0o600
    rules = load_rules(empty / "rewriter.yaml")
    assert rules.tracking_domain == "go.example.com"
    assert rules.tracking_prefix == "http://go.example.com/l/"
    assert rules.keys.env is None
    assert rules.keys.file is not None
    assert rules.keys.file.resolve() == (empty / "rewriter.keys").resolve()
    assert load_ring(rules).current == "k1"


def test_init_gives_a_working_setup_from_any_subfolder(
    empty: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert invoke("init", "--domain", "Links.Shop.Example.ORG.").exit_code == 0
    deeper = empty / "templates" / "spring"
    deeper.mkdir(parents=True)
    monkeypatch.chdir(deeper)  # the rules are found in a parent folder
    made = invoke("rewrite", "-", stdin=b'<a href="https://www.example.org/sale">Sale</a>\n')
    assert made.exit_code == 0, made.stderr
    (url,) = [
        part
        for part in made.stdout.split('"')
        if part.startswith("http://links.shop.example.org/l/")
    ]
    resolved = invoke("resolve", url)
    assert (resolved.exit_code, resolved.stdout) == (0, f"{url}\thttps://www.example.org/sale\n")


def test_init_with_other_paths_points_the_rules_at_the_key_file(empty: Path) -> None:
    (empty / "conf").mkdir()
    (empty / "secrets").mkdir()
    result = invoke("init", "--rules-file", "conf/rules.yaml", "--key-file", "secrets/k.keys")
    assert result.exit_code == 0
    assert result.stderr.startswith("wrote conf/rules.yaml and secrets/k.keys (mode 0600;")
    assert 'file: "../secrets/k.keys"' in (empty / "conf" / "rules.yaml").read_text("utf-8")
    rules = load_rules(empty / "conf" / "rules.yaml")
    assert load_ring(rules).current == "k1"
    assert mode_of(empty / "secrets" / "k.keys") == 0o600


def test_a_second_init_refuses_and_changes_nothing(empty: Path) -> None:
    assert invoke("init").exit_code == 0
    before = state_of(empty)
    result = invoke("init")
    assert result.exit_code == 2
    assert result.stderr == "rewriter: rewriter.yaml exists; not overwriting it\n"
    assert state_of(empty) == before


def test_init_refuses_when_only_the_key_file_exists(empty: Path) -> None:
    (empty / "rewriter.keys").write_bytes(b"precious\n")
    result = invoke("init")
    assert result.exit_code == 2
    assert result.stderr == "rewriter: rewriter.keys exists; not overwriting it\n"
    assert os.listdir(empty) == ["rewriter.keys"]
    assert (empty / "rewriter.keys").read_bytes() == b"precious\n"


@pytest.mark.parametrize(
    ("domain", "message"),
    [
        ("co.uk", "'co.uk' is a public suffix, not a domain of yours: use a host under your own "
                  "domain, like go.example.co.uk"),
        ("192.0.2.1", "'192.0.2.1' is an IP address: use a host name"),
        ("bad host", "'bad host': not a valid host name"),
        ("*.example.com", "'*.example.com': not a valid host name"),
        ("", "'': empty host name"),
    ],
)  # fmt: skip
def test_init_refuses_a_bad_domain_and_writes_nothing(
    empty: Path, domain: str, message: str
) -> None:
    result = invoke("init", "--domain", domain)
    assert result.exit_code == 2
    assert result.stderr == f"rewriter: --domain: {message}\n"
    assert os.listdir(empty) == []


def init_process(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    folder = tmp_path / "project"
    folder.mkdir()
    return run_process("-m", "rewriter", "init", *args, cwd=folder, env=os.environ)


def test_init_with_a_bad_domain_shows_no_traceback(tmp_path: Path) -> None:
    result = init_process(tmp_path, "--domain", "co.uk")
    assert result.returncode == 2
    assert b"Traceback" not in result.stderr
    assert result.stderr.startswith(b"rewriter: --domain: 'co.uk' is a public suffix")
    assert os.listdir(tmp_path / "project") == []


def test_init_with_a_key_file_in_a_missing_folder_exits_2_without_a_traceback(
    tmp_path: Path,
) -> None:
    result = init_process(tmp_path, "--key-file", "missing/rewriter.keys")
    assert b"Traceback" not in result.stderr
    assert result.returncode == 2
    assert os.listdir(tmp_path / "project") == []


def test_init_with_a_rules_file_in_a_missing_folder_exits_2_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    result = init_process(tmp_path, "--rules-file", "missing/rewriter.yaml")
    assert b"Traceback" not in result.stderr
    assert result.returncode == 2
    assert os.listdir(tmp_path / "project") == []


# --- the group and its usage errors --------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], None),  # the help, on stderr, exit 2
        (["bogus"], "Error: No such command 'bogus'."),
        (["links"], "Error: Missing argument 'PATHS...'."),
        (["check"], "Error: Missing argument 'PATHS...'."),
        (["resolve"], "Error: Missing argument 'URLS...'."),
        (["links", "-", "--format", "xml"], "Error: Invalid value for '--format': 'xml' is not "
                                            "one of 'table', 'json', 'ndjson', 'csv', 'html'."),
        (["links", "-", "--rules", "."], "Error: Invalid value for '--rules': File '.' is a "
                                         "directory."),
    ],
)  # fmt: skip
def test_usage_errors_exit_2(empty: Path, arguments: list[str], message: str | None) -> None:
    result = invoke(*arguments, stdin=b"")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    if message is not None:
        assert message in result.stderr.splitlines()
    assert os.listdir(empty) == []


def test_version() -> None:
    result = invoke("--version")
    assert (result.exit_code, result.stdout) == (0, f"main, version 0.1.0 (scanner: {SCANNER})\n")


def test_no_rules_anywhere_exits_2(empty: Path) -> None:
    if any((folder / "rewriter.yaml").exists() for folder in (empty, *empty.parents)):
        pytest.skip("a rewriter.yaml above the temporary folder")
    for command in ("links", "check", "rewrite"):
        result = invoke(command, "-", stdin=b"<a href='https://www.example.com/'>")
        assert result.exit_code == 2, command
        assert result.stderr == (
            "rewriter: no rules: pass --rules FILE or put a rewriter.yaml here or in a parent\n"
        )
        assert result.stdout == ""


# --- offline, and writing nothing ----------------------------------------------------------------

BLOCKED = 97
GUARD = f'''
"""Fail the run at once if anything tries to reach the network."""
import os
import socket
import sys


def _blocked(*args, **kwargs):
    sys.stderr.write(f"network access attempted: {{args!r}}\\n")
    sys.stderr.flush()
    os._exit({BLOCKED})


socket.socket.connect = _blocked
socket.socket.connect_ex = _blocked
socket.create_connection = _blocked
socket.getaddrinfo = _blocked
'''


class Sandbox:
    """A project folder, and a HOME, cache folder and TMPDIR that must stay empty."""

    def __init__(self, root: Path) -> None:
        self.work = root / "work"
        shutil.copytree(SAMPLES, self.work / "samples")
        shutil.copy(EXAMPLE_RULES, self.work / "rules.yaml")
        self.empty = [root / "home", root / "cache", root / "tmp"]
        for folder in self.empty:
            folder.mkdir()
        guard = root / "guard"
        guard.mkdir()
        (guard / "sitecustomize.py").write_text(GUARD, "utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("REWRITER_")}
        env.update(
            HOME=str(self.empty[0]),
            XDG_CACHE_HOME=str(self.empty[1]),
            TMPDIR=str(self.empty[2]),
            PYTHONPATH=os.pathsep.join(filter(None, [str(guard), env.get("PYTHONPATH")])),
            PYTHONDONTWRITEBYTECODE="1",
            REWRITER_KEYS=DEMO_KEYS,
        )
        self.env = env

    def state(self) -> dict[str, tuple[bytes, int, int]]:
        found = {}
        for folder in (self.work, *self.empty):
            for path in folder.rglob("*"):
                status = path.lstat()
                data = path.read_bytes() if path.is_file() else b""
                found[str(path)] = (data, status.st_mode, status.st_mtime_ns)
        return found

    def run(self, *args: object, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
        return run_process(*args, cwd=self.work, env=self.env, stdin=stdin)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    return Sandbox(tmp_path_factory.mktemp("offline"))


@pytest.mark.parametrize(
    "call",
    [
        "import socket; socket.create_connection(('192.0.2.1', 9))",
        "import socket; socket.socket().connect(('192.0.2.1', 9))",
    ],
)
def test_the_guard_stops_a_connection(sandbox: Sandbox, call: str) -> None:
    result = sandbox.run("-c", call)
    assert result.returncode == BLOCKED
    assert b"network access attempted" in result.stderr


NEWSLETTER = (SAMPLES / "newsletter.html").read_bytes()
# `links` and `check` write nothing anywhere; `rewrite` may write only the tool's cache folder.
OFFLINE_RUNS = [
    pytest.param(["links", "samples", "--format", "json"], b"", 0, False, id="links json"),
    pytest.param(["links", "samples", "--format", "table"], b"", 0, False, id="links table"),
    pytest.param(["links", "-", "--format", "csv"], NEWSLETTER, 0, False, id="links stdin"),
    pytest.param(["check", "samples", "--as-of", AS_OF], b"", 1, False, id="check"),
    pytest.param(["check", "-", "--as-of", AS_OF], NEWSLETTER, 1, False, id="check stdin"),
    pytest.param(["rewrite", "-"], NEWSLETTER, 0, True, id="rewrite stdin"),
]


@pytest.mark.parametrize(("arguments", "stdin", "code", "caches"), OFFLINE_RUNS)
def test_runs_offline_and_writes_nothing(
    sandbox: Sandbox, arguments: list[str], stdin: bytes, code: int, caches: bool
) -> None:
    cache = str(sandbox.empty[1] / "rewriter")
    shutil.rmtree(cache, ignore_errors=True)
    before = sandbox.state()
    result = sandbox.run("-m", "rewriter", *arguments, "--rules", "rules.yaml", stdin=stdin)
    assert b"network access attempted" not in result.stderr
    assert b"Traceback" not in result.stderr
    assert result.returncode == code, result.stderr
    assert result.stdout  # it did its work
    after = sandbox.state()
    if caches:  # only inside the tool's own cache folder
        after = {path: state for path, state in after.items() if not path.startswith(cache)}
    assert after == before
    for folder in sandbox.empty:
        allowed = ["rewriter"] if caches and folder == sandbox.empty[1] else []
        assert os.listdir(folder) in ([], allowed), folder
    shutil.rmtree(cache, ignore_errors=True)
