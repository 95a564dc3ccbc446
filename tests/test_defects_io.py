"""Issue 9, the defects of input and output: `--out` above an input (2), a stdout that cannot
be written (8), `--report -` (10), files written but not reported after an interruption (11),
`-q` (12), missing paths and empty selections (13). Through click's runner and, where the
process itself matters (full disks, closed pipes, signals), real subprocesses."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rewriter.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "tests" / "cases" / "rules.yaml"  # keys: env REWRITER_TEST_KEYS (conftest.py)
NEWSLETTER = (ROOT / "samples" / "newsletter.html").read_bytes()
# Ends inside a comment: rewritten, with a warning naming where the comment opens.
WARNS = (
    b'<a href="https://www.example.com/a">a</a>\n<!-- never closed <a href="https://x.example/">'
)
FULL = "rewriter: cannot write to stdout: No space left on device"
TEMPORARY = ".rewriter-tmp"


def invoke(*args: object, stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args], input=stdin, catch_exceptions=False)


def command(*args: object) -> list[str]:
    return [sys.executable, "-m", "rewriter", *(str(arg) for arg in args)]


def make_tree(root: Path, files: Mapping[str, bytes]) -> Path:
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under the folder: its bytes and inode (a replaced file changes inode)."""
    return {
        path.relative_to(folder).as_posix(): (path.read_bytes(), path.stat().st_ino)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert "Exception ignored" not in stderr, stderr


# --- 2: --out equal to or above an input ---------------------------------------------------------


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """t/welcome.html and t/en/welcome.html (different bytes), the current folder tmp_path."""
    monkeypatch.chdir(tmp_path)
    return make_tree(
        tmp_path / "t",
        {"welcome.html": b"<p>the original, not an input</p>\n", "en/welcome.html": NEWSLETTER},
    )


@pytest.mark.parametrize(
    ("inputs", "out", "named", "where"),
    [
        (["t/en"], "t", "t/en", "is a folder above"),  # the case
        (["t/en/welcome.html"], "t", "t/en/welcome.html", "is a folder above"),
        (["t/en"], "t/en/..", "t/en", "is a folder above"),
        (["t/en"], "link-to-t", "t/en", "is a folder above"),  # a symlink to t
        (["t/en"], ".", "t/en", "is a folder above"),
        (["t/en/../en"], "t/en", "t/en/../en", "would overwrite"),
        (["t/en/welcome.html"], "t/en", "t/en/welcome.html", "would overwrite"),
        (["other", "link-to-en"], "t", "link-to-en", "is a folder above"),  # via a symlink in
    ],
)
def test_out_equal_to_or_above_an_input_is_refused_before_anything_is_written(
    site: Path, inputs: list[str], out: str, named: str, where: str
) -> None:
    Path("link-to-t").symlink_to("t")
    Path("link-to-en").symlink_to("t/en")
    make_tree(Path("other"), {"x.html": NEWSLETTER})
    before = snapshot(site)
    result = invoke("rewrite", *inputs, "--rules", RULES, "--out", out)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"rewriter: --out {out} {where} the input {named}: choose another folder (or --in-place)"
    ]
    assert snapshot(site) == before


def test_out_inside_an_input_folder_is_allowed_and_not_read_back(site: Path) -> None:
    first = invoke("rewrite", "t", "--rules", RULES, "--out", "t/build", "--no-cache")
    assert first.exit_code == 0, first.stderr
    assert sorted(snapshot(site / "build")) == ["en/welcome.html", "welcome.html"]
    again = invoke("rewrite", "t", "--rules", RULES, "--out", "t/build", "--no-cache")
    assert again.exit_code == 0, again.stderr
    assert sorted(snapshot(site / "build")) == ["en/welcome.html", "welcome.html"]  # no build/build


# --- 8: stdout that cannot be written -----------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """40 newsletters: enough links for `links` to fill a pipe's buffer several times."""
    return make_tree(tmp_path / "t", {f"n{index:02d}.html": NEWSLETTER for index in range(40)})


FULL_CASES = [
    pytest.param(["links", "t", "--format", "ndjson"], b"", 2, id="links"),
    pytest.param(["links", "t", "--format", "json"], b"", 2, id="links json"),
    pytest.param(["check", "t"], b"", 2, id="check"),
    pytest.param(["resolve", "http://go.example.com/l/AAAA"], b"", 2, id="resolve"),
    pytest.param(["rewrite", "-"], NEWSLETTER, 123, id="rewrite -"),
    pytest.param(["rewrite", "-", "--diff"], NEWSLETTER, 123, id="rewrite - --diff"),
    pytest.param(["rewrite", "t", "--diff"], b"", 123, id="rewrite --diff"),
    pytest.param(["rewrite", "t", "--out", "o", "--report", "-"], b"", 123, id="--report -"),
    pytest.param(["--help"], b"", 2, id="--help"),
]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize(("args", "stdin", "code"), FULL_CASES)
def test_a_full_stdout_is_one_line_on_stderr_and_an_exit_code(
    tree: Path, args: list[str], stdin: bytes, code: int
) -> None:
    rules = [] if args == ["--help"] else ["--rules", RULES]
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            command(*args, *rules), cwd=tree.parent, input=stdin, stdout=full,
            stderr=subprocess.PIPE, timeout=120, check=False,
        )  # fmt: skip
    stderr = done.stderr.decode()
    no_traceback(stderr)
    assert done.returncode == code, stderr
    assert [line for line in stderr.splitlines() if "cannot write" in line] == [FULL]


@pytest.mark.parametrize(
    ("args", "stdin", "code"),
    [case for case in FULL_CASES if case.id != "--help"],
)
def test_a_pipe_closed_before_anything_is_read_ends_quietly(
    tree: Path, args: list[str], stdin: bytes, code: int
) -> None:
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            command(*args, "--rules", RULES), cwd=tree.parent, input=stdin, stdout=write,
            stderr=subprocess.PIPE, timeout=120, check=False,
        )  # fmt: skip
    finally:
        os.close(write)
    stderr = done.stderr.decode()
    no_traceback(stderr)
    assert "cannot write" not in stderr
    assert done.returncode == code, stderr


@pytest.mark.parametrize("fmt", ["ndjson", "table", "csv"])
def test_links_into_a_pipe_closed_after_a_few_bytes_ends_quietly(tree: Path, fmt: str) -> None:
    """`rewriter links t | head -c 100`: the reader goes away with most of the output unread."""
    process = subprocess.Popen(
        command("links", tree, "--rules", RULES, "--format", fmt),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    head = process.stdout.read(100)
    process.stdout.close()
    stderr = process.stderr.read().decode()
    code = process.wait(timeout=120)
    assert len(head) == 100
    no_traceback(stderr)
    assert "cannot write" not in stderr
    assert code == 2


# --- 10: --report - ------------------------------------------------------------------------------


def test_report_dash_writes_the_report_to_stdout(site: Path) -> None:
    to_file = invoke("rewrite", "t", "--rules", RULES, "--out", "o1", "--report", "r.ndjson")
    to_stdout = invoke("rewrite", "t", "--rules", RULES, "--out", "o2", "--report", "-")
    assert to_stdout.exit_code == 0, to_stdout.stderr
    assert not Path("-").exists()
    records = [json.loads(line) for line in to_stdout.stdout.splitlines()]
    expected = [json.loads(line) for line in Path("r.ndjson").read_text().splitlines()]
    assert [record["file"] for record in records] == [record["file"] for record in expected]
    assert len(records) == len(expected) > 10
    assert to_file.stdout == ""


def test_report_dash_with_stdin_check_is_the_only_thing_on_stdout(site: Path) -> None:
    result = invoke("rewrite", "-", "--check", "--rules", RULES, "--report", "-", stdin=NEWSLETTER)
    assert result.exit_code == 1
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert {record["file"] for record in records} == {"-"}
    assert not Path("-").exists()


@pytest.mark.parametrize(
    ("args", "other"),
    [
        (["-"], "the rewritten document"),
        (["-", "--diff"], "the diff"),
        (["t", "--diff"], "the diff"),
    ],
)
def test_report_dash_with_something_else_on_stdout_is_a_usage_error(
    site: Path, args: list[str], other: str
) -> None:
    result = invoke("rewrite", *args, "--rules", RULES, "--report", "-", stdin=NEWSLETTER)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"rewriter: --report - would mix the report with {other} on stdout: give --report a file"
    ]
    assert result.stdout == ""
    assert not Path("-").exists()


# --- 11: every file written is reported after an interruption -----------------------------------

FILES = 300
INTERRUPTED = re.compile(rf"interrupted after (\d+) of {FILES} files; every file written is whole")


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextlib.contextmanager
def started(args: list[object], cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The command in its own process group; none of the group outlives the test."""
    with open(cwd / "stderr", "wb") as err:
        process = subprocess.Popen(
            command(*args), cwd=cwd, stdout=subprocess.DEVNULL, stderr=err,
            start_new_session=True,
            preexec_fn=_default_sigint,  # noqa: PLW1509 (no threads in the test process)
        )  # fmt: skip
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


def written(out: Path) -> set[str]:
    return {
        path.relative_to(out).as_posix()
        for path in out.rglob("*")
        if path.is_file() and not path.name.endswith(TEMPORARY)
    }


SIGNALS = {
    "SIGTERM": lambda pid: os.kill(pid, signal.SIGTERM),
    "Ctrl-C": lambda pid: os.killpg(pid, signal.SIGINT),
}


@pytest.mark.parametrize(
    ("how", "workers"), [("SIGTERM", 2), ("Ctrl-C", 2), ("SIGTERM", 1), ("Ctrl-C", 1)]
)
def test_every_file_written_before_an_interruption_is_reported(
    tmp_path: Path, how: str, workers: int
) -> None:
    tree = make_tree(
        tmp_path / "tree",
        {f"p{index % 3}/n{index:03d}.html": NEWSLETTER for index in range(FILES)},
    )
    out, report = tmp_path / "out", tmp_path / "report.ndjson"
    args: list[object] = ["rewrite", tree, "--rules", RULES, "--out", out, "--report", report]
    with started([*args, "--workers", workers, "--no-cache"], tmp_path) as process:
        deadline = time.monotonic() + 60
        while not (out.is_dir() and len(written(out)) >= 20):
            assert process.poll() is None, "the batch ended before the signal"
            assert time.monotonic() < deadline, "the batch made no progress"
            time.sleep(0.005)
        SIGNALS[how](process.pid)
        assert process.wait(timeout=30) == 130
    stderr = (tmp_path / "stderr").read_text()
    no_traceback(stderr)
    lines = stderr.splitlines()
    interrupted = INTERRUPTED.fullmatch(lines[-2])
    assert interrupted, lines[-2:]
    files = written(out)
    assert 0 < len(files) < FILES
    # Every file written is counted, named on stderr and in the report; nothing else is.
    assert int(interrupted.group(1)) == len(files)
    assert lines[-1].startswith(f"{len(files)} files rewritten, 0 unchanged; ")
    named = {line.removeprefix(f"rewritten {tree}/") for line in lines if line.startswith("rew")}
    assert named == files
    reported = {json.loads(line)["file"] for line in report.read_text().splitlines()}
    assert reported == {f"{tree}/{name}" for name in files}


# --- 12: -q is errors only -----------------------------------------------------------------------


def test_quiet_prints_no_warning_and_no_summary_but_errors(site: Path) -> None:
    make_tree(site, {"warns.html": WARNS, "logo.html": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"})
    loud = invoke("rewrite", "t", "--rules", RULES, "--check", "--no-cache")
    assert any(line.startswith("warning: ") for line in loud.stderr.splitlines())
    for mode in (["--out", "o"], ["--check"], ["--diff"]):
        result = invoke("rewrite", "t", "--rules", RULES, *mode, "-q", "--no-cache")
        assert result.exit_code == 123
        assert result.stderr.splitlines() == [
            "t/logo.html: error: not a template: it looks like a PNG image"
        ], mode
    (site / "logo.html").unlink()
    checked = invoke("rewrite", "t", "--rules", RULES, "--check", "-q", "--no-cache")
    assert (checked.exit_code, checked.stderr) == (1, "")


@pytest.mark.parametrize("mode", [[], ["--check"], ["--diff"]])
def test_quiet_on_stdin_prints_no_warning(mode: list[str]) -> None:
    loud = invoke("rewrite", "-", "--rules", RULES, *mode, stdin=WARNS)
    assert "warning: " in loud.stderr
    result = invoke("rewrite", "-", "--rules", RULES, *mode, "-q", stdin=WARNS)
    assert result.exit_code == (0 if not mode else 1)
    assert result.stderr == ""


# --- 13: missing paths, empty selections ---------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["rewrite", "--out", "o"],
        ["rewrite", "--in-place"],
        ["rewrite", "--check"],
        ["links"],
        ["check"],
    ],
)
def test_a_path_that_does_not_exist_is_a_usage_error(site: Path, args: list[str]) -> None:
    before = snapshot(site)
    result = invoke(*args, "t", "missing.html", "--rules", RULES)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == ["rewriter: missing.html: no such file or folder"]
    assert result.stdout == ""
    assert snapshot(site) == before
    assert not Path("o").exists()


@pytest.mark.parametrize(
    "args", [["rewrite", "--out", "o"], ["rewrite", "--check"], ["links"], ["check"]]
)
def test_an_empty_selection_says_so_and_exits_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    make_tree(tmp_path / "empty", {"notes.txt": b"not a template\n"})
    (tmp_path / "bare").mkdir()
    result = invoke(*args, "empty", "bare", "--rules", RULES)
    assert result.exit_code == 0, result.stderr
    assert "no templates found under empty, bare" in result.stderr.splitlines()
    assert not Path("o").exists()
