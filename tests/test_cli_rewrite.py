"""`rewriter rewrite` used as its users use it: folders, files and stdin, every write mode, the
report, failures in a batch, usage and rules errors; through click's CliRunner and a few real
subprocesses, always on copies in temporary folders."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from golden import REPORT_FIELDS, without_stale_list_warning

from rewriter.batch.factory import make_rewriter
from rewriter.batch.sources import PathError, Source
from rewriter.cli.main import main
from rewriter.document.engine import Rewriter
from rewriter.models import Action
from rewriter.rules.loader import load_rules

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "tests" / "cases"
SAMPLES = ROOT / "samples"
RULES = CASES / "rules.yaml"  # its keys come from REWRITER_TEST_KEYS (tests/conftest.py)

BUNDLED = "hstspreload 2025.1.1 (bundled), dated 2025-01-01"  # the list each record names
NOTES = b'Plain text notes, not a template: <a href="https://www.example.com/notes">notes</a>\n'
# The source tree: its relative path -> its bytes.
TREE: dict[str, bytes] = {
    "newsletter.html": (SAMPLES / "newsletter.html").read_bytes(),
    "receipt-crlf.hbs": (SAMPLES / "receipt-crlf.hbs").read_bytes(),
    "promo/promo-windows-1252.html": (SAMPLES / "promo-windows-1252.html").read_bytes(),
    "promo/readme.txt": NOTES,
    "promo/deep/entities.html": (CASES / "entities" / "input.html").read_bytes(),
    "promo/deep/front-matter.hbs": (CASES / "front-matter" / "input.hbs").read_bytes(),
    "drafts/crlf.htm": (CASES / "crlf" / "input.html").read_bytes(),
    "notes.txt": NOTES,
    "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    ".hidden/secret.html": b'<a href="https://www.example.com/hidden">hidden</a>\n',
}
# What a folder run takes by default: template extensions, hidden folders left out.
TEMPLATES = frozenset(
    {
        "newsletter.html",
        "receipt-crlf.hbs",
        "promo/promo-windows-1252.html",
        "promo/deep/entities.html",
        "promo/deep/front-matter.hbs",
        "drafts/crlf.htm",
    }
)
MODES = {"newsletter.html": 0o600, "receipt-crlf.hbs": 0o640}

SUMMARY = re.compile(
    r"(\d+) files? (rewritten|would be rewritten), (\d+) unchanged(?:, (\d+) failed)?; "
    r"(\d+) links tracked, (\d+) already tracked, (\d+) skipped"
)


# --- helpers -------------------------------------------------------------------------------------


def invoke(
    *args: object, stdin: bytes | None = None, env: Mapping[str, str | None] | None = None
) -> Result:
    """Run the command in this process; an unexpected exception fails the test with its trace."""
    return CliRunner().invoke(
        main, [str(arg) for arg in args], input=stdin, env=env, catch_exceptions=False
    )


def run_process(*args: object, cwd: Path, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    command = [sys.executable, "-m", "rewriter", *(str(arg) for arg in args)]
    return subprocess.run(
        command,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        env=dict(os.environ),
        timeout=60,
        check=False,
    )


def make_tree(root: Path, tree: Mapping[str, bytes] = TREE) -> Path:
    for relative, data in tree.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    for relative, mode in MODES.items():
        (root / relative).chmod(mode)
    return root


def files_under(folder: Path) -> set[str]:
    return {
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() or path.is_symlink()
    }


def snapshot(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file's bytes, mode and inode: a replaced file changes inode even with equal bytes."""
    state = {}
    for relative in files_under(folder):
        path = folder / relative
        status = path.lstat()
        data = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
        state[relative] = (data, status.st_mode, status.st_ino)
    return state


def lines(text: str) -> list[str]:
    return without_stale_list_warning(text).splitlines()


def expected_summary(
    engine: Rewriter, items: Sequence[tuple[str, bytes]], *, check: bool = False, failed: int = 0
) -> str:
    """The summary for these (relative, bytes) inputs, from the engine's own results."""
    results = [engine.rewrite(data, relative=relative) for relative, data in items]
    changed = sum(result.changed for result in results)
    actions = [link.action for result in results for link in result.links]
    files = f"{changed} {'file' if changed == 1 else 'files'} "
    files += f"{'would be rewritten' if check else 'rewritten'}, {len(results) - changed} unchanged"
    if failed:
        files += f", {failed} failed"
    return (
        f"{files}; {actions.count(Action.REWRITTEN)} links tracked, "
        f"{actions.count(Action.ALREADY_TRACKED)} already tracked, "
        f"{actions.count(Action.SKIPPED)} skipped"
    )


def apply_diff(before: bytes, diff: bytes) -> bytes:
    """Apply a unified diff of one file to `before`, checking every context and removed line."""
    old = before.splitlines(keepends=True)
    diff_lines = diff.splitlines(keepends=True)
    assert diff_lines[0].startswith(b"--- ") and diff_lines[1].startswith(b"+++ ")
    out: list[bytes] = []
    position = 0
    for line in diff_lines[2:]:
        if line.startswith(b"@@"):
            start = int(line.split()[1].split(b",")[0][1:]) - 1
            out += old[position:start]
            position = start
        elif line.startswith((b" ", b"-")):
            assert old[position] == line[1:], (old[position], line)
            position += 1
            if line.startswith(b" "):
                out.append(line[1:])
        else:
            assert line.startswith(b"+"), line
            out.append(line[1:])
    return b"".join(out + old[position:])


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test gets its own empty cache folder, never the user's (rewrite keeps a cache)."""
    monkeypatch.setenv("REWRITER_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="module")
def engine() -> Rewriter:
    """The engine the command should agree with, byte for byte."""
    return make_rewriter(load_rules(RULES), keys=True)


@dataclass(frozen=True)
class Run:
    src: Path
    out: Path
    report: Path
    result: Result


@pytest.fixture(scope="module")
def rewritten(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One `rewrite src --out out --report report.ndjson`, shared by the tests that only read."""
    root = tmp_path_factory.mktemp("rewrite")
    src = make_tree(root / "src")
    out, report = root / "out", root / "report.ndjson"
    cache = {"REWRITER_CACHE_DIR": str(tmp_path_factory.mktemp("cache"))}
    result = invoke("rewrite", src, "--rules", RULES, "--out", out, "--report", report, env=cache)
    return Run(src, out, report, result)


def expected_output(engine: Rewriter, data: bytes, relative: str) -> bytes:
    from rewriter.mail.formats import input_format, rewrite_document

    # `.txt` files are plain text: the URLs of their running text are rewritten (issue 13).
    kind = input_format(relative)
    return rewrite_document(engine, data, kind, file=relative, relative=relative).output


# --- --out ---------------------------------------------------------------------------------------


def test_out_mirrors_the_templates_of_the_tree_with_the_engines_bytes(
    rewritten: Run, engine: Rewriter
) -> None:
    assert rewritten.result.exit_code == 0, rewritten.result.stderr
    assert files_under(rewritten.out) == TEMPLATES
    for relative in TEMPLATES:
        expected = expected_output(engine, TREE[relative], relative)
        assert (rewritten.out / relative).read_bytes() == expected, relative
    changed = {name for name in TEMPLATES if (rewritten.out / name).read_bytes() != TREE[name]}
    assert "newsletter.html" in changed and "promo/deep/entities.html" in changed


def test_out_keeps_each_files_mode(rewritten: Run) -> None:
    for relative in TEMPLATES:
        source_mode = (rewritten.src / relative).stat().st_mode & 0o7777
        assert (rewritten.out / relative).stat().st_mode & 0o7777 == source_mode, relative
    assert (rewritten.out / "newsletter.html").stat().st_mode & 0o7777 == 0o600
    assert (rewritten.out / "receipt-crlf.hbs").stat().st_mode & 0o7777 == 0o640


def test_out_names_each_rewritten_file_on_stderr_then_the_summary_and_nothing_on_stdout(
    rewritten: Run, engine: Rewriter
) -> None:
    changed = sorted(
        str(rewritten.src / name)
        for name in TEMPLATES
        if engine.rewrite(TREE[name], relative=name).changed
    )
    summary = expected_summary(engine, [(name, TREE[name]) for name in sorted(TEMPLATES)])
    assert rewritten.result.stdout == ""
    assert lines(rewritten.result.stderr) == [f"rewritten {name}" for name in changed] + [summary]


def test_a_second_run_over_the_output_changes_nothing(
    rewritten: Run, engine: Rewriter, tmp_path: Path
) -> None:
    before = snapshot(rewritten.out)
    checked = invoke("rewrite", rewritten.out, "--rules", RULES, "--check")
    assert checked.exit_code == 0
    assert checked.stdout == ""
    items = [(name, (rewritten.out / name).read_bytes()) for name in sorted(TEMPLATES)]
    assert lines(checked.stderr) == [expected_summary(engine, items, check=True)]
    assert without_stale_list_warning(checked.stderr).startswith(
        f"0 files would be rewritten, {len(TEMPLATES)} unchanged; 0 "
    )
    again = invoke("rewrite", rewritten.out, "--rules", RULES, "--out", tmp_path / "again")
    assert again.exit_code == 0
    for relative in TEMPLATES:
        assert (tmp_path / "again" / relative).read_bytes() == before[relative][0]
    assert snapshot(rewritten.out) == before


TAKEN_BY_GLOBS = [
    pytest.param([], TEMPLATES, id="default: template extensions"),
    pytest.param(["--include", "*.txt"], {"notes.txt", "promo/readme.txt"}, id="include *.txt"),
    pytest.param(
        ["--include", "promo/*"],
        {
            "promo/promo-windows-1252.html",
            "promo/readme.txt",
            "promo/deep/entities.html",
            "promo/deep/front-matter.hbs",
        },
        id="include replaces the extension filter",
    ),
    pytest.param(["--exclude", "drafts/*"], TEMPLATES - {"drafts/crlf.htm"}, id="exclude folder"),
    pytest.param(
        ["--exclude", "*.hbs"],
        TEMPLATES - {"receipt-crlf.hbs", "promo/deep/front-matter.hbs"},
        id="exclude by name",
    ),
    pytest.param(
        ["--include", "*.html", "--include", "notes.txt", "--exclude", "promo/deep/*"],
        {"newsletter.html", "promo/promo-windows-1252.html", "notes.txt"},
        id="includes and excludes together",
    ),
]


@pytest.mark.parametrize(("options", "taken"), TAKEN_BY_GLOBS)
def test_include_and_exclude_globs_choose_the_files(
    rewritten: Run, engine: Rewriter, tmp_path: Path, options: list[str], taken: set[str]
) -> None:
    out = tmp_path / "out"
    result = invoke("rewrite", rewritten.src, "--rules", RULES, "--out", out, *options)
    assert result.exit_code == 0, result.stderr
    assert files_under(out) == taken
    for relative in taken:
        assert (out / relative).read_bytes() == expected_output(engine, TREE[relative], relative)


def test_one_file(rewritten: Run, engine: Rewriter, tmp_path: Path) -> None:
    result = invoke(
        "rewrite", rewritten.src / "promo" / "deep" / "entities.html", "--rules", RULES,
        "--out", tmp_path,
    )  # fmt: skip
    assert result.exit_code == 0
    assert files_under(tmp_path) == {"entities.html"}
    expected = expected_output(engine, TREE["promo/deep/entities.html"], "entities.html")
    assert (tmp_path / "entities.html").read_bytes() == expected


def test_several_paths_each_relative_to_the_folder_given(
    rewritten: Run, engine: Rewriter, tmp_path: Path
) -> None:
    result = invoke(
        "rewrite", rewritten.src / "newsletter.html", rewritten.src / "promo", "--rules", RULES,
        "--out", tmp_path,
    )  # fmt: skip
    assert result.exit_code == 0
    taken = {
        "newsletter.html": "newsletter.html",
        "promo-windows-1252.html": "promo/promo-windows-1252.html",
        "deep/entities.html": "promo/deep/entities.html",
        "deep/front-matter.hbs": "promo/deep/front-matter.hbs",
    }
    assert files_under(tmp_path) == set(taken)
    for relative, source in taken.items():
        # The tracking links carry the path relative to the folder given: the engine's output
        # for that relative path, not for the path under src.
        assert (tmp_path / relative).read_bytes() == expected_output(engine, TREE[source], relative)


# --- stdin ---------------------------------------------------------------------------------------


def test_stdin_to_stdout_is_byte_exact_and_keeps_crlf(engine: Rewriter) -> None:
    data = TREE["drafts/crlf.htm"]
    assert data.count(b"\r\n") == data.count(b"\n") > 3
    result = invoke("rewrite", "-", "--rules", RULES, stdin=data)
    assert result.exit_code == 0
    expected = engine.rewrite(data, file="-", relative="-").output
    assert expected != data
    assert result.stdout_bytes == expected
    assert (
        result.stdout_bytes.count(b"\n")
        == result.stdout_bytes.count(b"\r\n")
        == data.count(b"\r\n")
    )
    assert lines(result.stderr) == []


@pytest.mark.parametrize(
    "data",
    [
        pytest.param((CASES / "not-click-targets" / "input.html").read_bytes(), id="no links"),
        pytest.param(b"", id="empty"),
        pytest.param(b"no markup at all\r\n\x00\xff\xfe", id="not html"),
    ],
)
def test_stdin_with_nothing_to_rewrite_comes_back_unchanged(data: bytes) -> None:
    result = invoke("rewrite", "-", "--rules", RULES, stdin=data)
    assert result.exit_code == 0
    assert result.stdout_bytes == data


def test_stdin_check_and_diff_write_nothing_to_stdout_but_the_diff(engine: Rewriter) -> None:
    data = TREE["receipt-crlf.hbs"]
    output = engine.rewrite(data, file="-", relative="-").output
    checked = invoke("rewrite", "-", "--check", "--rules", RULES, stdin=data)
    assert (checked.exit_code, checked.stdout_bytes) == (1, b"")
    assert lines(checked.stderr) == [expected_summary(engine, [("-", data)], check=True)]
    settled = invoke("rewrite", "-", "--check", "--rules", RULES, stdin=output)
    assert (settled.exit_code, settled.stdout_bytes) == (0, b"")
    diffed = invoke("rewrite", "-", "--diff", "--rules", RULES, stdin=data)
    assert diffed.exit_code == 1
    assert diffed.stdout_bytes.startswith(b"--- -\n+++ -\n@@ ")
    assert apply_diff(data, diffed.stdout_bytes) == output


# --- --check and --diff --------------------------------------------------------------------------


def test_check_exits_1_names_what_would_change_and_writes_nothing(
    rewritten: Run, engine: Rewriter
) -> None:
    before = snapshot(rewritten.src)
    result = invoke("rewrite", rewritten.src, "--rules", RULES, "--check")
    assert result.exit_code == 1
    assert result.stdout == ""
    changed = sorted(
        str(rewritten.src / name)
        for name in TEMPLATES
        if engine.rewrite(TREE[name], relative=name).changed
    )
    summary = expected_summary(
        engine, [(name, TREE[name]) for name in sorted(TEMPLATES)], check=True
    )
    assert lines(result.stderr) == [f"would change {name}" for name in changed] + [summary]
    assert snapshot(rewritten.src) == before


def test_check_with_a_report_writes_the_report_only(rewritten: Run, tmp_path: Path) -> None:
    before = snapshot(rewritten.src)
    report = tmp_path / "report.ndjson"
    result = invoke("rewrite", rewritten.src, "--rules", RULES, "--check", "--report", report)
    assert result.exit_code == 1
    assert report.read_bytes() == rewritten.report.read_bytes()
    assert snapshot(rewritten.src) == before
    assert files_under(tmp_path) == {"report.ndjson"}


def test_diff_prints_a_unified_diff_that_turns_the_input_into_the_output(
    rewritten: Run, engine: Rewriter
) -> None:
    before = snapshot(rewritten.src)
    path = rewritten.src / "newsletter.html"
    result = invoke("rewrite", path, "--rules", RULES, "--diff")
    assert result.exit_code == 1
    assert result.stdout_bytes.startswith(f"--- {path}\n+++ {path}\n@@ ".encode())
    output = expected_output(engine, TREE["newsletter.html"], "newsletter.html")
    assert apply_diff(TREE["newsletter.html"], result.stdout_bytes) == output
    assert "Traceback" not in result.stderr
    assert snapshot(rewritten.src) == before


def test_diff_of_a_folder_covers_the_changed_files_only(rewritten: Run, engine: Rewriter) -> None:
    result = invoke("rewrite", rewritten.src, "--rules", RULES, "--diff")
    headers = re.findall(rb"^--- (.+)$", result.stdout_bytes, flags=re.MULTILINE)
    changed = sorted(
        str(rewritten.src / name).encode()
        for name in TEMPLATES
        if engine.rewrite(TREE[name], relative=name).changed
    )
    assert headers == changed


def test_diff_of_rewritten_output_is_empty(rewritten: Run) -> None:
    result = invoke("rewrite", rewritten.out, "--rules", RULES, "--diff")
    assert (result.exit_code, result.stdout_bytes) == (0, b"")


# --- --in-place ----------------------------------------------------------------------------------


def test_in_place_replaces_the_file_atomically_and_keeps_its_mode(
    engine: Rewriter, tmp_path: Path
) -> None:
    path = tmp_path / "newsletter.html"
    path.write_bytes(TREE["newsletter.html"])
    path.chmod(0o640)
    inode = path.stat().st_ino
    result = invoke("rewrite", path, "--rules", RULES, "--in-place")
    assert result.exit_code == 0
    assert path.read_bytes() == expected_output(engine, TREE["newsletter.html"], "newsletter.html")
    assert path.stat().st_mode & 0o7777 == 0o640
    assert path.stat().st_ino != inode  # a new file renamed over the old one, not truncated
    assert os.listdir(tmp_path) == ["newsletter.html"]  # no temporary file left behind
    assert lines(result.stderr)[0] == f"rewritten {path}"
    # A second run finds nothing to do and leaves the file alone.
    inode = path.stat().st_ino
    again = invoke("rewrite", path, "--rules", RULES, "--in-place")
    assert again.exit_code == 0
    assert path.stat().st_ino == inode
    assert without_stale_list_warning(again.stderr).startswith("0 files rewritten, 1 unchanged; ")


def test_in_place_over_a_folder_touches_only_templates(engine: Rewriter, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    before = snapshot(src)
    result = invoke("rewrite", src, "--rules", RULES, "--in-place")
    assert result.exit_code == 0
    after = snapshot(src)
    assert set(after) == set(before)  # no temporary files
    for relative, data in TREE.items():
        if relative in TEMPLATES:
            assert after[relative][0] == expected_output(engine, data, relative)
            assert after[relative][1] == before[relative][1]  # mode
        else:
            assert after[relative] == before[relative]


def test_in_place_on_a_symlink_writes_through_and_keeps_the_link(
    engine: Rewriter, tmp_path: Path
) -> None:
    target = tmp_path / "real" / "template.html"
    target.parent.mkdir()
    target.write_bytes(TREE["newsletter.html"])
    target.chmod(0o640)
    link = tmp_path / "link.html"
    link.symlink_to(Path("real") / "template.html")
    result = invoke("rewrite", link, "--rules", RULES, "--in-place")
    assert result.exit_code == 0
    assert link.is_symlink()
    assert os.readlink(link) == os.path.join("real", "template.html")
    assert target.read_bytes() == expected_output(engine, TREE["newsletter.html"], "link.html")
    assert target.stat().st_mode & 0o7777 == 0o640
    assert sorted(os.listdir(tmp_path)) == ["link.html", "real"]
    assert os.listdir(target.parent) == ["template.html"]


def test_in_place_on_a_hard_linked_file_warns_that_the_other_name_keeps_the_original(
    engine: Rewriter, tmp_path: Path
) -> None:
    path, other = tmp_path / "receipt.hbs", tmp_path / "other-name.hbs"
    path.write_bytes(TREE["receipt-crlf.hbs"])
    os.link(path, other)
    result = invoke("rewrite", path, "--rules", RULES, "--in-place")
    assert result.exit_code == 0
    assert (
        f"warning: {path}: has 2 hard links; only this name now holds the rewritten file, "
        "the other names keep the original"
    ) in lines(result.stderr)
    assert path.read_bytes() == expected_output(engine, TREE["receipt-crlf.hbs"], "receipt.hbs")
    assert other.read_bytes() == TREE["receipt-crlf.hbs"]


# --- --report ------------------------------------------------------------------------------------


def test_report_has_one_json_object_per_link_with_the_documented_fields(
    rewritten: Run, engine: Rewriter
) -> None:
    rows = [json.loads(line) for line in rewritten.report.read_text("utf-8").splitlines()]
    expected = []
    for name in sorted(TEMPLATES, key=lambda name: (rewritten.src / name).parts):
        display = str(rewritten.src / name)
        result = engine.rewrite(TREE[name], file=display, relative=name)
        expected += [link.as_dict() | {"preload_list": BUNDLED} for link in result.links]
    assert len(rows) == len(expected) > 20
    assert all(tuple(row) == (*REPORT_FIELDS, "preload_list") for row in rows)
    assert rows == expected
    assert sorted(os.listdir(rewritten.report.parent)) == ["out", "report.ndjson", "src"]


def test_report_line_of_a_known_link(rewritten: Run) -> None:
    rows = [json.loads(line) for line in rewritten.report.read_text("utf-8").splitlines()]
    (row,) = [row for row in rows if row["original_url"] == "http://pages.example.com/returns-2026"]
    assert row["file"] == str(rewritten.src / "newsletter.html")
    assert (row["line"], row["column"], row["tag"], row["attribute"]) == (37, 38, "a", "href")
    assert (row["action"], row["reason_code"], row["status"]) == ("rewritten", "tracked", "broken")
    assert row["tracking_url"].startswith("http://go.example.com/l/")
    assert row["tracking_url"] in (rewritten.out / "newsletter.html").read_text("utf-8")
    assert row["destination"] == "http://pages.example.com/returns-2026"
    assert "pending" in row["status_reason"]


def test_report_of_stdin_names_the_file_dash(engine: Rewriter, tmp_path: Path) -> None:
    report = tmp_path / "links.ndjson"
    data = TREE["receipt-crlf.hbs"]
    result = invoke("rewrite", "-", "--rules", RULES, "--report", report, stdin=data)
    assert result.exit_code == 0
    rows = [json.loads(line) for line in report.read_text("utf-8").splitlines()]
    links = engine.rewrite(data, file="-", relative="-").links
    assert rows == [link.as_dict() | {"preload_list": BUNDLED} for link in links]
    assert {row["file"] for row in rows} == {"-"}


# --- a failing file in a batch -------------------------------------------------------------------


def assert_summary_is_last(stderr: str, expected: str) -> None:
    assert lines(stderr)[-1] == expected
    assert SUMMARY.fullmatch(lines(stderr)[-1])


def test_a_file_that_cannot_be_written_fails_alone(
    rewritten: Run, engine: Rewriter, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    (out / "newsletter.html").mkdir(parents=True)  # a folder where the output file should go
    result = invoke("rewrite", rewritten.src, "--rules", RULES, "--out", out)
    assert result.exit_code == 123
    assert f"{rewritten.src / 'newsletter.html'}: error: cannot write: Is a directory" in lines(
        result.stderr
    )
    others = TEMPLATES - {"newsletter.html"}
    for relative in others:  # the batch went on
        assert (out / relative).read_bytes() == expected_output(engine, TREE[relative], relative)
    expected = expected_summary(engine, [(name, TREE[name]) for name in sorted(others)], failed=1)
    assert_summary_is_last(result.stderr, expected)
    assert result.stdout == ""


def test_a_file_that_disappears_mid_batch_fails_alone(
    engine: Rewriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rewriter.batch.sources

    src = make_tree(tmp_path / "src")
    gone = src / "promo" / "deep" / "entities.html"
    discover = rewriter.batch.sources.iter_sources

    def discover_then_delete(*args: object, **kwargs: object) -> Iterator[Source | PathError]:
        found = list(discover(*args, **kwargs))  # type: ignore[arg-type]
        gone.unlink(missing_ok=True)
        return iter(found)

    monkeypatch.setattr(rewriter.batch.sources, "iter_sources", discover_then_delete)
    result = invoke("rewrite", src, "--rules", RULES, "--out", tmp_path / "out")
    assert result.exit_code == 123
    assert f"{gone}: error: cannot read: No such file or directory" in lines(result.stderr)
    others = TEMPLATES - {"promo/deep/entities.html"}
    assert files_under(tmp_path / "out") == others
    expected = expected_summary(engine, [(name, TREE[name]) for name in sorted(others)], failed=1)
    assert_summary_is_last(result.stderr, expected)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads anything")
def test_an_unreadable_file_fails_alone(engine: Rewriter, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    locked = src / "newsletter.html"
    locked.chmod(0)
    try:
        result = invoke("rewrite", src, "--rules", RULES, "--out", tmp_path / "out")
    finally:
        locked.chmod(0o600)
    assert result.exit_code == 123
    assert f"{locked}: error: cannot read: Permission denied" in lines(result.stderr)
    others = TEMPLATES - {"newsletter.html"}
    assert files_under(tmp_path / "out") == others
    expected = expected_summary(engine, [(name, TREE[name]) for name in sorted(others)], failed=1)
    assert_summary_is_last(result.stderr, expected)


def test_a_path_that_does_not_exist_is_a_usage_error_and_nothing_is_written(
    rewritten: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    source = rewritten.src / "newsletter.html"
    result = invoke("rewrite", "missing.html", source, "--rules", RULES, "--out", "out")
    assert result.exit_code == 2
    assert lines(result.stderr) == ["rewriter: missing.html: no such file or folder"]
    assert not (tmp_path / "out").exists()


def test_out_into_the_input_folder_is_refused_and_loses_nothing(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    before = snapshot(src)
    result = invoke("rewrite", src, "--rules", RULES, "--out", src)
    assert result.exit_code == 2
    assert lines(result.stderr) == [
        f"rewriter: --out {src} would overwrite the input {src}: choose another folder"
        " (or --in-place)"
    ]
    assert snapshot(src) == before
    given = src / "newsletter.html"  # a file given directly lands in --out under its name
    result = invoke("rewrite", given, "--rules", RULES, "--out", src)
    assert result.exit_code == 2
    assert snapshot(src) == before


# --- usage and rules errors ----------------------------------------------------------------------

USAGE_ERRORS = [
    pytest.param(
        ["src"],
        "say where the output goes: --out DIR or --in-place (or --check, --diff)",
        id="no output named",
    ),
    pytest.param(
        ["src", "--out", "out", "--in-place"],
        "choose one of --out, --in-place",
        id="--out with --in-place",
    ),
    pytest.param(["src", "--check", "--diff"], "choose one of --check, --diff", id="two modes"),
    pytest.param(["-", "src"], "- (stdin) cannot be combined with other paths", id="- and a path"),
    pytest.param(
        ["-", "--out", "out"],
        "- (stdin) writes to stdout: --out and --in-place do not apply",
        id="- with --out",
    ),
    pytest.param(
        ["-", "--in-place"],
        "- (stdin) writes to stdout: --out and --in-place do not apply",
        id="- with --in-place",
    ),
    pytest.param([], "Missing argument 'PATHS...'.", id="no path"),
]


@pytest.mark.parametrize(("arguments", "message"), USAGE_ERRORS)
def test_usage_errors_exit_2_with_a_message_and_write_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arguments: list[str], message: str
) -> None:
    make_tree(tmp_path / "src")
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    result = invoke("rewrite", *arguments, "--rules", RULES, stdin=b"<a href='https://x.example'>")
    assert result.exit_code == 2
    assert f"Error: {message}" in lines(result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert snapshot(tmp_path) == before


def test_a_missing_rules_file_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = invoke("rewrite", "-", "--rules", missing, stdin=b"")
    assert result.exit_code == 2
    assert result.stderr == f"rewriter: {missing}: cannot read: No such file or directory\n"
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "version: 1\ntracking:\n  domain: go.example.com\n  legacy_domain: [c.example.com]\n"
            "keys: {env: REWRITER_TEST_KEYS}\n",
            "4: tracking.legacy_domain: unknown key (did you mean 'legacy_domains'?)",
            id="misspelt key",
        ),
        pytest.param(
            "version: 1\ntracking:\n  domain: go.example.com\nkeys: {env: REWRITER_TEST_KEYS}\n"
            "hosts:\n  go.example.com:\n    certificate: {status: active, expirs: 2027-01-01}\n",
            "7: hosts[go.example.com].certificate.expirs: unknown key (did you mean 'expires'?)",
            id="misspelt nested key",
        ),
        pytest.param(
            "version: 1\ntracking:\n  domain: go.example.com\n  colour: red\n",
            "4: tracking.colour: unknown key (expected one of: domain, scheme, path, "
            "legacy_domains, context, campaign)",
            id="unknown key",
        ),
    ],
)
def test_a_rules_file_with_an_unknown_key_exits_2_naming_file_line_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(text, "utf-8")
    result = invoke("rewrite", tmp_path, "--rules", rules, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr == f"rewriter: {rules}:{message}\n"
    assert not (tmp_path / "out").exists()


def test_a_missing_key_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    make_tree(tmp_path / "src")
    result = invoke(
        "rewrite", tmp_path / "src", "--rules", RULES, "--out", tmp_path / "out",
        env={"REWRITER_TEST_KEYS": None},
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr == (
        f"rewriter: {RULES}: no signing key: set the environment variable REWRITER_TEST_KEYS\n"
    )
    assert not (tmp_path / "out").exists()


# --- real processes ------------------------------------------------------------------------------


def test_process_rewrites_a_folder_and_stdin(engine: Rewriter, tmp_path: Path) -> None:
    make_tree(tmp_path / "src")
    folder = run_process("rewrite", "src", "--rules", RULES, "--out", "out", cwd=tmp_path)
    assert folder.returncode == 0, folder.stderr
    assert folder.stdout == b""
    assert lines(folder.stderr.decode())[0] == "rewritten src/drafts/crlf.htm"
    for relative in TEMPLATES:
        expected = expected_output(engine, TREE[relative], relative)
        assert (tmp_path / "out" / relative).read_bytes() == expected
    data = TREE["drafts/crlf.htm"]
    piped = run_process("rewrite", "-", "--rules", RULES, cwd=tmp_path, stdin=data)
    assert piped.returncode == 0
    assert piped.stdout == engine.rewrite(data, file="-", relative="-").output
    assert lines(piped.stderr.decode()) == []


def test_process_usage_error_has_no_traceback(tmp_path: Path) -> None:
    result = run_process("rewrite", "-", "--in-place", "--rules", RULES, cwd=tmp_path)
    assert result.returncode == 2
    assert b"Error: - (stdin) writes to stdout" in result.stderr
    assert b"Traceback" not in result.stderr
    assert result.stdout == b""
    assert os.listdir(tmp_path) == []
