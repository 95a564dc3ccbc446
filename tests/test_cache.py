"""The batch cache: a second run over an unchanged tree processes nothing; a change of any
ingredient (input, rules, key material, preload list, output-changing option, the output itself)
makes it process again, and so does an edit made while the batch runs (the cache holds what the
worker read and wrote); --check, --diff, --report, --no-cache and stdin never write it; a corrupt
cache, or one of another format, counts as empty and is replaced; it is written atomically and
holds no key material.

Most runs are `rewriter rewrite --workers 1` in this process with `process` wrapped to
record the files actually processed: an exact count, not a timing. One test observes a real
subprocess with two workers from the outside (summary, output mtimes and inodes).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from rewriter.batch import runner
from rewriter.batch.cache import CACHE_FORMAT, Cache, Entry, fingerprint_of
from rewriter.batch.job import Job
from rewriter.batch.report import FileOutcome
from rewriter.batch.sources import Source
from rewriter.cli.main import main
from rewriter.document.engine import Rewriter

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
CASES = ROOT / "tests" / "cases"
RULES = CASES / "rules.yaml"  # keys: env REWRITER_TEST_KEYS (set by tests/conftest.py)
PRELOAD = ROOT / "tests" / "data" / "preload" / "transport_security_state_static.json"
KEY_ENV = "REWRITER_TEST_KEYS"

TREE: dict[str, bytes] = {
    "newsletter.html": (SAMPLES / "newsletter.html").read_bytes(),
    "marketo-and-tokens.html": (SAMPLES / "marketo-and-tokens.html").read_bytes(),
    "receipt-crlf.hbs": (SAMPLES / "receipt-crlf.hbs").read_bytes(),
    "promo/promo-windows-1252.html": (SAMPLES / "promo-windows-1252.html").read_bytes(),
    "promo/entities.html": (CASES / "entities" / "input.html").read_bytes(),
}
ALL = sorted(TREE)
EDITED = "newsletter.html"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
SUMMARY = re.compile(
    r"(\d+) files? rewritten, (\d+) unchanged(?:, (\d+) failed)?; "
    r"(\d+) links tracked, (\d+) already tracked, (\d+) skipped"
)


def other_secret(seed: bytes) -> str:
    return base64.urlsafe_b64encode(seed.ljust(32, b".")).decode().rstrip("=")


@dataclass
class Batch:
    """A tree, its rules and output folder under tmp_path, and in-process runs that record
    which files were actually processed (not answered from the cache)."""

    root: Path
    processed: list[str] = field(default_factory=list)

    @property
    def tree(self) -> Path:
        return self.root / "tree"

    @property
    def out(self) -> Path:
        return self.root / "out"

    @property
    def rules(self) -> Path:
        return self.root / "rules.yaml"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    def rewrite(self, *args: object, stdin: bytes | None = None) -> Result:
        self.processed.clear()
        arguments = ["rewrite", *(str(arg) for arg in args), "--workers", "1"]
        return CliRunner().invoke(main, arguments, input=stdin, catch_exceptions=False)

    def out_run(self, *extra: object) -> Result:
        """The usual run: the tree to the output folder; asserts it succeeded."""
        result = self.rewrite(self.tree, "--rules", self.rules, "--out", self.out, *extra)
        assert result.exit_code == 0, result.stderr
        return result

    def cache_files(self) -> list[Path]:
        return sorted(self.cache_dir.glob("cache.*.json"))

    def cache_file(self) -> Path:
        files = self.cache_files()
        assert len(files) == 1, files
        return files[0]


@pytest.fixture
def batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Batch:
    monkeypatch.setenv("REWRITER_CACHE_DIR", str(tmp_path / "cache"))
    made = Batch(tmp_path)
    for relative, data in TREE.items():
        path = made.tree / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    shutil.copyfile(RULES, made.rules)
    original = runner.process

    def counting(source: Source, engine: Rewriter, job: Job) -> FileOutcome:
        made.processed.append(source.relative)
        return original(source, engine, job)

    monkeypatch.setattr(runner, "process", counting)
    return made


def summary(result: Result) -> tuple[int, ...]:
    match = SUMMARY.fullmatch(result.stderr.splitlines()[-1])
    assert match, result.stderr
    return tuple(int(group or 0) for group in match.groups())


def state(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file's bytes, mtime and inode: a rewritten file changes at least one of them."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            status = path.stat()
            found[path.relative_to(folder).as_posix()] = (
                path.read_bytes(), status.st_mtime_ns, status.st_ino
            )  # fmt: skip
    return found


def contents(folder: Path) -> dict[str, bytes]:
    return {name: data for name, (data, _, _) in state(folder).items()}


def assert_as_a_fresh_run(batch: Batch) -> None:
    """What the cached runs left in the output folder is what a run without cache writes."""
    fresh = batch.root / "fresh"
    result = batch.rewrite(batch.tree, "--rules", batch.rules, "--out", fresh, "--no-cache")
    assert result.exit_code == 0, result.stderr
    assert sorted(batch.processed) == ALL
    assert contents(batch.out) == contents(fresh)


def same_size_edit(data: bytes) -> bytes:
    """A different link, the same number of bytes."""
    edited = data.replace(b"/stores", b"/shops_", 1)
    assert edited != data and len(edited) == len(data)
    return edited


# --- hits --------------------------------------------------------------------------------------


def test_a_second_run_over_an_unchanged_tree_processes_nothing(batch: Batch) -> None:
    first = batch.out_run()
    assert sorted(batch.processed) == ALL
    written = state(batch.out)
    assert sorted(written) == ALL

    cache = batch.cache_file()
    stored = (cache.read_bytes(), cache.stat().st_mtime_ns, cache.stat().st_ino)
    second = batch.out_run()
    assert batch.processed == []
    assert state(batch.out) == written  # not even rewritten with the same bytes
    # Nothing new to remember: the cache file is not written again either.
    assert (cache.read_bytes(), cache.stat().st_mtime_ns, cache.stat().st_ino) == stored
    rewritten, _, _, *links = summary(first)
    assert rewritten > 0
    # Cached files count as unchanged, and bring back their link counts.
    assert summary(second) == (0, len(ALL), 0, *links)


def test_a_subprocess_second_run_leaves_every_output_alone(tmp_path: Path) -> None:
    """Observed from outside, with the worker pool: the summary and the output files."""
    tree = tmp_path / "tree"
    for relative, data in TREE.items():
        (tree / relative).parent.mkdir(parents=True, exist_ok=True)
        (tree / relative).write_bytes(data)
    env = {**os.environ, "REWRITER_CACHE_DIR": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "rewriter", "rewrite", "tree", "--rules", str(RULES),
               "--out", "out", "--workers", "2"]  # fmt: skip

    def rewrite() -> str:
        done = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stderr.decode().splitlines()[-1]

    first = rewrite()
    written = state(tmp_path / "out")
    second = rewrite()
    assert state(tmp_path / "out") == written
    first_files, first_links = first.split("; ")
    assert not first_files.startswith("0 files")
    assert second == f"0 files rewritten, {len(ALL)} unchanged; {first_links}"


def test_a_touched_but_unchanged_input_is_a_hit(batch: Batch) -> None:
    """Size equal, mtime different: the hash is consulted, and it is the same."""
    batch.out_run()
    path = batch.tree / EDITED
    status = path.stat()
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 5_000_000_000))
    batch.out_run()
    assert batch.processed == []


def test_a_failed_file_is_never_cached(batch: Batch) -> None:
    (batch.tree / "broken.html").write_bytes(PNG)
    for _ in range(2):
        result = batch.rewrite(batch.tree, "--rules", batch.rules, "--out", batch.out)
        assert result.exit_code == 123
        assert "broken.html: error: " in result.stderr
    assert batch.processed == ["broken.html"]


# --- misses: the input -------------------------------------------------------------------------


def test_an_input_with_new_content_and_size_is_processed_again(batch: Batch) -> None:
    batch.out_run()
    path = batch.tree / EDITED
    path.write_bytes(path.read_bytes() + b'<a href="https://www.example.com/added">added</a>\n')
    batch.out_run()
    assert batch.processed == [EDITED]
    assert b"https://www.example.com/added" not in (batch.out / EDITED).read_bytes()
    assert_as_a_fresh_run(batch)


def test_an_input_with_new_content_of_the_same_size_is_processed_again(batch: Batch) -> None:
    """Size equal, mtime different: the hash is consulted, and it differs."""
    batch.out_run()
    path = batch.tree / EDITED
    status = path.stat()
    path.write_bytes(same_size_edit(path.read_bytes()))
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))
    batch.out_run()
    assert batch.processed == [EDITED]
    assert_as_a_fresh_run(batch)


def test_same_size_and_restored_mtime_are_trusted_as_black_does(batch: Batch) -> None:
    """The documented trade-off (issue 5: "size and mtime are compared first and the hash only
    on a mismatch"; black's cache does the same): an edit that keeps the size AND brings the old
    mtime back is not seen, and the stale output stays. It takes a deliberate `os.utime`, a tool
    that copies mtimes (`cp -p`, `rsync -t`, `tar x`) bringing a different file of the same size
    and mtime, or two same-size saves within one timestamp tick with a run in between. Hashing
    every input on every run would close it at the cost of reading the whole tree; `--no-cache`
    is the way out. Pinned here so that a change of the trade-off is deliberate."""
    batch.out_run()
    path = batch.tree / EDITED
    status = path.stat()
    path.write_bytes(same_size_edit(path.read_bytes()))
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    batch.out_run()
    assert batch.processed == []
    batch.out_run("--no-cache")
    assert sorted(batch.processed) == ALL


def in_place_run(batch: Batch) -> None:
    result = batch.rewrite(batch.tree, "--rules", batch.rules, "--in-place")
    assert result.exit_code == 0, result.stderr


def test_a_second_in_place_run_processes_nothing(batch: Batch) -> None:
    in_place_run(batch)
    assert sorted(batch.processed) == ALL
    in_place_run(batch)
    assert batch.processed == []


def test_an_in_place_file_edited_after_its_rewrite_is_processed_again(batch: Batch) -> None:
    for _ in range(2):
        in_place_run(batch)
    assert batch.processed == []
    path = batch.tree / EDITED
    path.write_bytes(path.read_bytes() + b'<a href="https://www.example.com/added">added</a>\n')
    in_place_run(batch)
    assert batch.processed == [EDITED]
    assert b"https://www.example.com/added" not in path.read_bytes()


@pytest.mark.parametrize("mode", ["--out", "--in-place"])
def test_a_file_edited_while_the_batch_runs_is_processed_again(
    batch: Batch, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """A user saves a new version of a template (with one more link) after the batch read it
    and before the batch moved on: the next run must take the new version. (The cache holds
    what the worker read and wrote, not what the parent finds on disk when it records.)"""
    path = batch.tree / EDITED
    new_version = path.read_bytes() + b'<a href="https://www.example.com/added">added</a>\n'
    counting = runner.process

    def edited_meanwhile(source: Source, engine: Rewriter, job: Job) -> FileOutcome:
        outcome = counting(source, engine, job)
        if source.path == path:
            path.write_bytes(new_version)
        return outcome

    monkeypatch.setattr(runner, "process", edited_meanwhile)
    target = ["--out", batch.out] if mode == "--out" else ["--in-place"]
    assert batch.rewrite(batch.tree, "--rules", batch.rules, *target).exit_code == 0
    monkeypatch.setattr(runner, "process", counting)
    assert batch.rewrite(batch.tree, "--rules", batch.rules, *target).exit_code == 0
    assert batch.processed == [EDITED]
    written = batch.out / EDITED if mode == "--out" else path
    assert b"https://www.example.com/added" not in written.read_bytes()


# --- misses: the rules, the key, the preload list, the options ----------------------------------

APPEND = "\n"  # a variant that adds lines at the end of the rules
RULES_CHANGES: dict[str, tuple[str, str]] = {
    # name: (text in tests/cases/rules.yaml, its replacement)
    "tracking domain": ("domain: go.example.com", "domain: go2.example.com"),
    "tracking scheme": (
        "  domain: go.example.com\n",
        "  domain: go.example.com\n  scheme: https\n",
    ),
    "tracking path": ("  domain: go.example.com\n", "  domain: go.example.com\n  path: /r\n"),
    "legacy domains": ("[click.example.com]", "[click.example.com, old.example.com]"),
    "context none": ("  domain: go.example.com\n", "  domain: go.example.com\n  context: none\n"),
    "key variable": ("env: REWRITER_TEST_KEYS", "env: REWRITER_TEST_KEYS_COPY"),
    "link tags": ("links:\n", "links:\n  tags: [a, area, button]\n"),
    "no-track marker": ("links:\n", "links:\n  no_track:\n    - {attribute: data-skip}\n"),
    "excluded hosts": ('["*.internal.example.com"]', '["*.internal.example.com", "x.example"]'),
    "excluded paths": ('["/unsubscribe*"]', '["/unsubscribe*", "/privacy"]'),
    "click trackers": (
        "links:\n",
        'links:\n  click_trackers:\n    - {name: Braze, hosts: ["*.braze.com"]}\n',
    ),
    "annotation off": (APPEND, "\nannotation:\n  enabled: false\n"),
    "annotation attribute": (APPEND, "\nannotation:\n  attribute: data-secure\n"),
    "host certificate": ("status: pending, requested: 2026-11-25", "status: active"),
    "host hsts": ("max_age: 63072000", "max_age: 31536000"),
    "host preloaded": ("preloaded: true", "preloaded: false"),
    "checks": (APPEND, "\nchecks:\n  clip_bytes: 50000\n"),
    "preload list age": (APPEND, "\npreload_list:\n  max_age_days: 30\n"),
}


def changed_rules(base: str, old: str, new: str) -> str:
    if old == APPEND:
        return base.rstrip("\n") + "\n" + new
    assert old in base, old
    return base.replace(old, new, 1)


@pytest.mark.parametrize("change", RULES_CHANGES, ids=list(RULES_CHANGES))
def test_a_change_of_any_rules_key_processes_every_file(
    batch: Batch, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    monkeypatch.setenv("REWRITER_TEST_KEYS_COPY", os.environ[KEY_ENV])
    batch.out_run()
    batch.rules.write_text(changed_rules(RULES.read_text(), *RULES_CHANGES[change]))
    batch.out_run()
    assert sorted(batch.processed) == ALL


def test_changed_rules_are_cached_in_their_turn(batch: Batch) -> None:
    batch.out_run()
    batch.rules.write_text(changed_rules(RULES.read_text(), *RULES_CHANGES["tracking domain"]))
    batch.out_run()
    assert sorted(batch.processed) == ALL
    batch.out_run()
    assert batch.processed == []
    assert_as_a_fresh_run(batch)


def test_rules_that_mean_the_same_share_the_cache(batch: Batch) -> None:
    """The digest is of the rules as loaded: comments, order and the file's place do not
    matter."""
    batch.out_run()
    text = RULES.read_text()
    batch.rules.write_text(
        "# a comment added\n" + text.replace("version: 1\n", "version: 1 # one\n")
    )
    batch.out_run()
    assert batch.processed == []
    moved = batch.root / "elsewhere" / "rules.yaml"
    moved.parent.mkdir()
    shutil.copyfile(RULES, moved)
    assert batch.rewrite(batch.tree, "--rules", moved, "--out", batch.out).exit_code == 0
    assert batch.processed == []


KEY_CHANGES: dict[str, Callable[[str], str]] = {
    "same key id, new secret": lambda old: "test " + other_secret(b"new secret"),
    "a new signing key, the old one kept": lambda old: f"k2 {other_secret(b'k2')}\n{old}",
    "a verify-only key added": lambda old: f"{old}\nk0 {other_secret(b'k0')}",
    "same secret, another key id": lambda old: "other " + old.split()[1],
}


@pytest.mark.parametrize("change", KEY_CHANGES, ids=list(KEY_CHANGES))
def test_a_change_of_key_material_processes_every_file(
    batch: Batch, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    batch.out_run()
    monkeypatch.setenv(KEY_ENV, KEY_CHANGES[change](os.environ[KEY_ENV]))
    batch.out_run()
    assert sorted(batch.processed) == ALL
    batch.out_run()
    assert batch.processed == []


def test_the_same_key_material_written_another_way_shares_the_cache(
    batch: Batch, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch.out_run()
    key_id, secret = os.environ[KEY_ENV].split()
    monkeypatch.setenv(KEY_ENV, f"  {key_id}:{secret}=  # the same key, padded\n")
    batch.out_run()
    assert batch.processed == []


def test_a_change_of_preload_list_processes_every_file(batch: Batch) -> None:
    listed = batch.root / "lists" / "list.json"
    listed.parent.mkdir()
    shutil.copyfile(PRELOAD, listed)
    batch.out_run()  # the bundled list
    batch.out_run("--preload-list", listed)
    assert sorted(batch.processed) == ALL
    batch.out_run("--preload-list", listed)
    assert batch.processed == []

    text = listed.read_text()
    entry = '{ "name": "another.example", "policy": "custom", "mode": "force-https" },\n'
    listed.write_text(text.replace('"entries": [\n', '"entries": [\n    ' + entry, 1))
    batch.out_run("--preload-list", listed)
    assert sorted(batch.processed) == ALL

    copied = batch.root / "lists" / "copy.json"  # the same list elsewhere: its digest is equal
    shutil.copyfile(listed, copied)
    batch.out_run("--preload-list", copied)
    assert batch.processed == []
    # Back to the bundled list: a file is processed unless its output is what that list gives.
    batch.out_run()
    assert_as_a_fresh_run(batch)


def test_in_place_after_out_and_another_out_folder_process_every_file(batch: Batch) -> None:
    batch.out_run()
    other = batch.root / "other"
    assert batch.rewrite(batch.tree, "--rules", batch.rules, "--out", other).exit_code == 0
    assert sorted(batch.processed) == ALL
    assert contents(other) == contents(batch.out)

    original = contents(batch.tree)
    result = batch.rewrite(batch.tree, "--rules", batch.rules, "--in-place")
    assert result.exit_code == 0, result.stderr
    assert sorted(batch.processed) == ALL
    assert contents(batch.tree) == contents(batch.out) != original
    in_place_run(batch)  # the in-place cache then settles at once
    assert batch.processed == []


def test_a_safe_run_does_not_trust_files_written_in_fast_mode(batch: Batch) -> None:
    """Outputs written without the independent safety check are checked by the next safe run
    (and, that run done, trusted by the one after it)."""
    batch.out_run("--fast")
    assert sorted(batch.processed) == ALL
    batch.out_run()
    assert sorted(batch.processed) == ALL
    batch.out_run()
    assert batch.processed == []
    batch.out_run("--fast")  # the --fast cache is still there, and the outputs are the same
    assert batch.processed == []


# --- misses: the output ------------------------------------------------------------------------


def _delete(path: Path) -> None:
    path.unlink()


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


def _same_size_new_mtime(path: Path) -> None:
    status = path.stat()
    path.write_bytes(b"x" * status.st_size)
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))


def _replaced_by_input(path: Path) -> None:
    path.write_bytes(TREE[EDITED])


OUTPUT_CHANGES: dict[str, Callable[[Path], None]] = {
    "deleted": _delete,
    "truncated": _truncate,
    "same size, new mtime": _same_size_new_mtime,
    "replaced by the input": _replaced_by_input,
}


@pytest.mark.parametrize("change", OUTPUT_CHANGES, ids=list(OUTPUT_CHANGES))
def test_a_changed_or_deleted_output_is_written_again(batch: Batch, change: str) -> None:
    batch.out_run()
    OUTPUT_CHANGES[change](batch.out / EDITED)
    batch.out_run()
    assert batch.processed == [EDITED]
    assert_as_a_fresh_run(batch)


def test_a_deleted_output_folder_is_written_again(batch: Batch) -> None:
    batch.out_run()
    shutil.rmtree(batch.out)
    batch.out_run()
    assert sorted(batch.processed) == ALL


# --- runs that never write the cache -----------------------------------------------------------

NO_WRITE = {
    "--check": ["--check"],
    "--diff": ["--diff"],
    "--report": ["--out", "{out}", "--report", "{root}/report.ndjson"],
    "--no-cache": ["--out", "{out}", "--no-cache"],
    "--in-place --report": ["--in-place", "--report", "{root}/report.ndjson"],
}


@pytest.mark.parametrize("mode", NO_WRITE, ids=list(NO_WRITE))
def test_runs_that_never_write_the_cache(batch: Batch, mode: str) -> None:
    options = [arg.format(out=batch.out, root=batch.root) for arg in NO_WRITE[mode]]
    result = batch.rewrite(batch.tree, "--rules", batch.rules, *options)
    assert result.exit_code in (0, 1), result.stderr
    assert sorted(batch.processed) == ALL
    assert batch.cache_files() == []

    shutil.rmtree(batch.out, ignore_errors=True)
    batch.out_run()  # a warm cache: these runs neither rewrite it nor trust it for a report
    cache = batch.cache_file()
    before = (cache.read_bytes(), cache.stat().st_mtime_ns, cache.stat().st_ino)
    result = batch.rewrite(batch.tree, "--rules", batch.rules, *options)
    assert result.exit_code in (0, 1), result.stderr
    assert (cache.read_bytes(), cache.stat().st_mtime_ns, cache.stat().st_ino) == before
    assert batch.cache_files() == [cache]
    if "--report" in mode or "--no-cache" in mode:
        assert sorted(batch.processed) == ALL


def test_stdin_never_writes_the_cache(batch: Batch) -> None:
    result = batch.rewrite("-", "--rules", batch.rules, stdin=TREE[EDITED])
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes != TREE[EDITED]
    assert batch.cache_files() == []


# --- a corrupt cache ---------------------------------------------------------------------------

Corruption = Callable[[bytes], bytes]  # the real cache file's bytes -> the corrupt ones
Document = dict[str, Any]
Layout = list[Any]  # an entry: [size, mtime, sha256] of the source, of the output; 3 counts
SIZE, MTIME, DIGEST, OUT_SIZE, OUT_MTIME, OUT_DIGEST, REWRITTEN, ALREADY, SKIPPED = range(9)


def constant(data: bytes) -> Corruption:
    return lambda _: data


def _half(stored: bytes) -> bytes:
    return stored[: len(stored) // 2]


def _document(change: Callable[[Document], object]) -> Corruption:
    """A change of the parsed document (which is otherwise right), written back as JSON."""

    def corrupt(stored: bytes) -> bytes:
        document = json.loads(stored)
        change(document)
        return json.dumps(document).encode()

    return corrupt


def _old_layout(entry: Layout) -> dict[str, object]:
    """Format 1's entry: the same facts in dicts."""

    def fingerprint(size: int, mtime_ns: int, digest: str) -> dict[str, object]:
        return {"size": size, "mtime_ns": mtime_ns, "digest": digest}

    counts = entry[REWRITTEN:]
    return {"source": fingerprint(*entry[:3]), "output": fingerprint(*entry[3:6]), "counts": counts}


def _as_format_1(document: Document) -> None:
    document["format"] = 1
    document["entries"] = {name: _old_layout(entry) for name, entry in document["entries"].items()}


def _set_format(value: object) -> Callable[[Document], None]:
    return lambda document: document.update(format=value)


WHOLE_FILE_CORRUPTIONS: dict[str, Corruption] = {
    "garbage": constant(b"\x00\x01 not json at all \xff"),
    "empty": constant(b""),
    "truncated": _half,
    "invalid utf-8": constant(b'{"format": %d, "entries": {"\xff": 1}}' % CACHE_FORMAT),
    "null": constant(b"null"),
    "a list": constant(b"[]"),
    "a number": constant(b"42"),
    "a string": constant(b'"entries"'),
    "no entries": constant(b'{"format": %d}' % CACHE_FORMAT),
    "entries a list": constant(b'{"format": %d, "entries": []}' % CACHE_FORMAT),
    "entries a string": constant(b'{"format": %d, "entries": "x"}' % CACHE_FORMAT),
    "entries null": constant(b'{"format": %d, "entries": null}' % CACHE_FORMAT),
    "deeply nested": constant(b"[" * 100_000),
    # Files of another format, otherwise right (every entry would be a hit): ignored.
    "format 1, the old layout": _document(_as_format_1),
    "the next format": _document(_set_format(CACHE_FORMAT + 1)),
    "no format": _document(lambda document: document.pop("format")),
    "format a string": _document(_set_format(str(CACHE_FORMAT))),
}


def _field(index: int, change: Callable[[Any], object]) -> Callable[[Layout], object]:
    return lambda entry: [*entry[:index], change(entry[index]), *entry[index + 1 :]]


ENTRY_CORRUPTIONS: dict[str, Callable[[Layout], object]] = {
    "the old layout": _old_layout,
    "null": lambda entry: None,
    "a string": json.dumps,
    "8 fields": lambda entry: entry[:8],
    "10 fields": lambda entry: [*entry, 0],
    "size a string": _field(SIZE, str),
    "size a float of the same value": _field(SIZE, float),  # trusted, it would be a hit
    "size true": _field(SIZE, lambda size: True),
    "output size negative": _field(OUT_SIZE, lambda size: -size),
    "mtime a list": _field(MTIME, lambda mtime: []),
    "output mtime null": _field(OUT_MTIME, lambda mtime: None),
    "digest a number": _field(DIGEST, lambda digest: 5),
    "digest not hex": _field(DIGEST, lambda digest: "z" * len(digest)),
    "digest too short": _field(DIGEST, lambda digest: digest[:-2]),
    "digest too long": _field(DIGEST, lambda digest: digest + "00"),
    "digest a list of bytes": _field(DIGEST, lambda digest: list(bytes.fromhex(digest))),
    "output digest null": _field(OUT_DIGEST, lambda digest: None),
    "count a string": _field(REWRITTEN, str),
    "count a float": _field(SKIPPED, float),
    "count infinite": _field(ALREADY, lambda count: float("inf")),
    "count NaN": _field(ALREADY, lambda count: float("nan")),
    "count negative": _field(REWRITTEN, lambda count: -1),
}


def described(path: Path) -> list[object]:
    """A file's size, mtime and sha256, as an entry holds them."""
    data = path.read_bytes()
    return [len(data), path.stat().st_mtime_ns, hashlib.sha256(data).hexdigest()]


def entry_name(tree: Path, name: str) -> str:
    """What the cache knows a file by: its real path and its attribution (with the rules of
    the cases, its path relative to the folder given)."""
    return f"{os.path.realpath(tree / name)}\0{name}"


def assert_replaced_by_a_valid_cache(batch: Batch) -> None:
    """The cache file now holds one right entry per file, and the next run trusts it."""
    document = json.loads(batch.cache_file().read_bytes())
    assert sorted(document) == ["entries", "format"]
    assert document["format"] == CACHE_FORMAT
    entries = document["entries"]
    assert sorted(entries) == sorted(entry_name(batch.tree, name) for name in ALL)
    for name in ALL:
        entry = entries[entry_name(batch.tree, name)]
        assert [type(item) for item in entry] == [int, int, str, int, int, str, int, int, int]
        assert entry[:OUT_SIZE] == described(batch.tree / name)
        assert entry[OUT_SIZE:REWRITTEN] == described(batch.out / name)
        assert min(entry[REWRITTEN:]) >= 0
    batch.out_run()
    assert batch.processed == []


@pytest.mark.parametrize("corrupt", WHOLE_FILE_CORRUPTIONS.values(), ids=WHOLE_FILE_CORRUPTIONS)
def test_a_corrupt_cache_file_counts_as_empty_and_is_replaced(
    batch: Batch, corrupt: Corruption
) -> None:
    batch.out_run()
    cache = batch.cache_file()
    cache.write_bytes(corrupt(cache.read_bytes()))
    batch.out_run()
    assert sorted(batch.processed) == ALL
    assert_replaced_by_a_valid_cache(batch)


@pytest.mark.parametrize("corrupt", ENTRY_CORRUPTIONS.values(), ids=ENTRY_CORRUPTIONS)
def test_a_cache_entry_of_the_wrong_types_is_never_trusted(
    batch: Batch, corrupt: Callable[[Layout], object]
) -> None:
    """Either the whole file counts as empty or that entry misses; either way the file is
    processed again, and the cache written back is well-formed."""
    batch.out_run()
    cache = batch.cache_file()
    document = json.loads(cache.read_bytes())
    name = entry_name(batch.tree, EDITED)
    document["entries"][name] = corrupt(document["entries"][name])
    cache.write_text(json.dumps(document))
    batch.out_run()
    assert EDITED in batch.processed
    assert_replaced_by_a_valid_cache(batch)


def test_an_input_dated_before_1970_does_not_disable_the_cache(batch: Batch) -> None:
    path = batch.tree / EDITED
    os.utime(path, ns=(-5_000_000_000, -5_000_000_000))
    if path.stat().st_mtime_ns >= 0:
        pytest.skip("this file system keeps no date before 1970")
    batch.out_run()
    batch.out_run()
    assert batch.processed == []


# --- the cache itself, and how its file is written ---------------------------------------------


def test_an_entry_is_one_compact_list_and_reads_back_as_recorded(tmp_path: Path) -> None:
    source, output = tmp_path / "in.html", tmp_path / "out.html"
    source.write_bytes(b"<a href=x>in</a>")
    output.write_bytes(b"<a href=y>out</a>")
    prints = (
        fingerprint_of(source.read_bytes(), source.stat()),
        fingerprint_of(output.read_bytes(), output.stat()),
    )
    cache = Cache(tmp_path / "cache", "key")
    assert cache.lookup(source, output, context="in.html") is None
    cache.record(source, prints, (1, 2, 3), context="in.html")
    cache.save()
    assert cache.path == tmp_path / "cache" / "cache.key.json"
    assert json.loads(cache.path.read_bytes()) == {
        "format": CACHE_FORMAT,
        "entries": {
            f"{os.path.realpath(source)}\0in.html": [
                *described(source),
                *described(output),
                1,
                2,
                3,
            ]
        },
    }
    cached = Cache(tmp_path / "cache", "key")
    assert cached.lookup(source, output, context="in.html") == Entry(*prints, (1, 2, 3))
    assert cached.lookup(source, output, context="other/in.html") is None
    output.write_bytes(b"<a href=z>out</a>")  # the same size, another mtime and digest
    os.utime(output, ns=(0, prints[1].mtime_ns + 1))
    assert Cache(tmp_path / "cache", "key").lookup(source, output, context="in.html") is None


def temporaries(folder: Path) -> list[str]:
    return [path.name for path in folder.iterdir() if path.name.endswith(".rewriter-tmp")]


def test_the_cache_file_is_replaced_atomically_and_private(batch: Batch) -> None:
    batch.out_run()
    cache = batch.cache_file()
    assert cache.stat().st_mode & 0o777 == 0o600
    inode = cache.stat().st_ino
    path = batch.tree / EDITED
    path.write_bytes(path.read_bytes() + b"\n")
    batch.out_run()
    assert batch.processed == [EDITED]
    assert cache.stat().st_ino != inode  # a new file renamed over the old one
    assert cache.stat().st_mode & 0o777 == 0o600
    assert batch.cache_files() == [cache]
    assert temporaries(batch.cache_dir) == []


FAILED_WRITES = {"the disk full at fsync": ("fsync", 28), "a read-only folder": ("replace", 30)}


@pytest.mark.parametrize("failing", FAILED_WRITES.values(), ids=FAILED_WRITES)
def test_a_failed_cache_write_leaves_the_old_file_and_no_temporary(
    batch: Batch, monkeypatch: pytest.MonkeyPatch, failing: tuple[str, int]
) -> None:
    batch.out_run()
    cache_path = batch.cache_file()
    before = cache_path.read_bytes()
    key = cache_path.name.removeprefix("cache.").removesuffix(".json")
    cache = Cache(batch.cache_dir, key)
    source = batch.tree / EDITED
    read = fingerprint_of(source.read_bytes(), source.stat())
    cache.record(source, (read, read), (1, 2, 3), context="")  # something to save
    function, error = failing
    calls = []

    def fail(*args: object) -> None:
        calls.append(args)
        raise OSError(error, os.strerror(error))

    with monkeypatch.context() as patch:
        patch.setattr(os, function, fail)
        cache.save()  # a cache that cannot be written is only a slower next run
    assert len(calls) == 1
    assert cache_path.read_bytes() == before
    assert batch.cache_files() == [cache_path]
    assert temporaries(batch.cache_dir) == []


def test_the_cache_holds_no_key_material(batch: Batch, monkeypatch: pytest.MonkeyPatch) -> None:
    second = other_secret(b"second key")
    monkeypatch.setenv(KEY_ENV, f"{os.environ[KEY_ENV]}\nk2 {second}")
    batch.out_run()
    stored = batch.cache_file().read_bytes()
    for encoded in (os.environ[KEY_ENV].split()[1], second):
        secret = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        forms = [
            encoded.encode(),
            base64.b64encode(secret).rstrip(b"="),
            base64.b32encode(secret).rstrip(b"="),
            secret.hex().encode(),
            secret,
            secret[:12],
        ]
        for form in forms:
            assert form not in stored
