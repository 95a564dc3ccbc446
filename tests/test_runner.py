"""The batch runner: output, report and messages do not depend on the worker count, outcomes come
back in sorted source order whatever order the workers finish in, and the sources are pulled
lazily through a bounded window (never collected). Real subprocesses for the command, the runner
called directly for the order and the window."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path

import pytest

from rewriter.batch.cache import Fingerprint
from rewriter.batch.factory import load_preload_list, make_rewriter
from rewriter.batch.job import EngineSettings, Job, Mode
from rewriter.batch.report import FileOutcome, FileState
from rewriter.batch.runner import WINDOW_PER_WORKER, run
from rewriter.batch.sources import TEMPLATE_SUFFIXES, Source, iter_sources
from rewriter.document.engine import Rewriter
from rewriter.rules.loader import load_rules

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
CASES = ROOT / "tests" / "cases"
RULES = CASES / "rules.yaml"  # its keys come from REWRITER_TEST_KEYS (tests/conftest.py)
CORPUS = ROOT.parent / "shared" / "corpus"
CORPUS_SHARE = 10  # every tenth corpus template: variety without the cost of all 450
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"  # refused as binary: a failed file in the batch


def _sources(folder: Path) -> list[Source]:
    found = list(iter_sources([str(folder)]))
    assert all(isinstance(item, Source) for item in found), found
    return [item for item in found if isinstance(item, Source)]


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def template_inputs() -> list[Path]:
    return sorted(SAMPLES.iterdir()) + sorted(CASES.glob("*/input.*"))


def build_tree(root: Path) -> Path:
    """A few dozen templates: the samples and every case input under two names each, a file
    that fails, and a share of the corpus when it is present."""
    for folder in ("a", "b/deep"):
        for path in template_inputs():
            name = path.name if path.parent == SAMPLES else f"{path.parent.name}{path.suffix}"
            write(root / folder / name, path.read_bytes())
    write(root / "b" / "broken.html", PNG)
    if CORPUS.is_dir():
        corpus = sorted(p for p in CORPUS.rglob("*") if p.suffix.lower() in TEMPLATE_SUFFIXES)
        for path in corpus[::CORPUS_SHARE]:
            write(root / "corpus" / path.relative_to(CORPUS), path.read_bytes())
    return root


def rewriter_process(args: Sequence[object], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "REWRITER_CACHE_DIR": str(cwd / "cache")}
    return subprocess.run(
        [sys.executable, "-m", "rewriter", *(str(arg) for arg in args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )


def tree_state(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file's bytes and permission bits, by relative path."""
    return {
        path.relative_to(folder).as_posix(): (path.read_bytes(), path.stat().st_mode & 0o7777)
        for path in folder.rglob("*")
        if path.is_file()
    }


def engine_for(rules_path: Path = RULES) -> tuple[Rewriter, EngineSettings]:
    rules = load_rules(rules_path)
    engine = make_rewriter(rules, keys=True, preload=load_preload_list(rules))
    return engine, EngineSettings(rules)


def comparable(outcome: FileOutcome) -> tuple[object, ...]:
    return (
        outcome.display,
        outcome.state,
        outcome.links,
        outcome.counts,
        outcome.message,
        outcome.warnings,
        outcome.cached,
    )


# --- the command -----------------------------------------------------------------------------


def test_output_report_and_messages_do_not_depend_on_the_worker_count(tmp_path: Path) -> None:
    build_tree(tmp_path / "tree")
    runs = {}
    for workers in (1, 2):
        outputs = ["--out", f"out{workers}", "--report", f"report{workers}.ndjson"]
        runs[workers] = rewriter_process(
            ["rewrite", "tree", "--rules", RULES, *outputs, "--workers", workers], tmp_path
        )
    one, two = runs[1], runs[2]
    assert one.returncode == two.returncode == 123, one.stderr.decode()  # broken.html failed
    assert two.stderr == one.stderr
    assert two.stdout == one.stdout == b""
    report = (tmp_path / "report1.ndjson").read_bytes()
    assert (tmp_path / "report2.ndjson").read_bytes() == report
    assert report.count(b"\n") > 100  # a real report, not two empty ones
    written = tree_state(tmp_path / "out1")
    assert tree_state(tmp_path / "out2") == written
    templates = [s.relative for s in _sources(tmp_path / "tree")]
    assert sorted(written) == sorted(r for r in templates if r != "b/broken.html")

    # Messages come in sorted file order, the failure in its place, the summary last.
    lines = one.stderr.decode().splitlines()
    named = [line.split(" ", 1)[1] for line in lines if line.startswith("rewritten ")]
    assert named == sorted(named, key=lambda name: Path(name).parts)
    assert len(named) > 20
    assert "tree/b/broken.html: error: " in one.stderr.decode()
    assert lines[-1].startswith(f"{len(named)} files rewritten, ")
    assert ", 1 failed; " in lines[-1]


def test_diff_does_not_depend_on_the_worker_count(tmp_path: Path) -> None:
    build_tree(tmp_path / "tree")
    one, two = (
        rewriter_process(
            ["rewrite", "tree", "--rules", RULES, "--diff", "--workers", workers], tmp_path
        )
        for workers in (1, 2)
    )
    assert one.returncode == two.returncode == 123
    assert (two.stdout, two.stderr) == (one.stdout, one.stderr)
    headers = [line for line in one.stdout.splitlines() if line.startswith(b"--- tree/")]
    assert len(headers) > 20
    summary = one.stderr.decode().splitlines()[-1]
    assert summary.startswith(f"{len(headers)} files would be rewritten, ")
    # --diff never writes the batch cache (the validated rules may be remembered there).
    assert list((tmp_path / "cache").glob("cache.*")) == []


# --- the runner, called directly ---------------------------------------------------------------


def test_outcomes_come_in_source_order_whatever_order_the_workers_finish(tmp_path: Path) -> None:
    """The first file is large and slow, the others tiny: the second worker finishes many of them
    before the first is done, and the runner still yields them in order."""
    tree = tmp_path / "tree"
    write(tree / "a-large.html", (SAMPLES / "newsletter.html").read_bytes() * 150)
    for index, path in enumerate(template_inputs() * 2):
        write(tree / f"b-{index:03d}{path.suffix}", path.read_bytes())
    sources = _sources(tree)
    assert sources == sorted(sources, key=lambda source: source.path.parts)
    engine, settings = engine_for()

    outcomes = {}
    for workers in (1, 2):
        job = Job(Mode.OUT, tmp_path / f"out{workers}", keep_links=True)
        outcomes[workers] = list(run(sources, job, engine, settings, workers=workers))

    assert [o.display for o in outcomes[2]] == [s.display for s in sources]
    assert [comparable(o) for o in outcomes[2]] == [comparable(o) for o in outcomes[1]]
    assert outcomes[2][0].state is FileState.REWRITTEN and len(outcomes[2][0].links) > 1000
    assert tree_state(tmp_path / "out2") == tree_state(tmp_path / "out1")
    # The proof that the order was restored: a later file was written before the first one.
    written = {
        s.relative: (tmp_path / "out2" / s.relative).stat().st_mtime_ns
        for s in sources
        if (tmp_path / "out2" / s.relative).exists()
    }
    assert min(written.values()) < written["a-large.html"]


def test_sources_are_pulled_lazily_through_a_bounded_window(tmp_path: Path) -> None:
    """The runner takes an iterable (a user's pipeline) and never collects it: after k outcomes
    it has pulled at most k plus the window of work in flight."""
    template = tmp_path / "one.html"
    template.write_bytes((SAMPLES / "marketo-and-tokens.html").read_bytes())
    pulled = 0

    def endless() -> Iterator[Source]:
        nonlocal pulled
        for index in range(1_000_000):
            pulled += 1
            yield Source(template, f"lazy/{index:07d}.html")

    engine, settings = engine_for()
    workers = 2
    window = workers * WINDOW_PER_WORKER
    job = Job(Mode.OUT, tmp_path / "out")
    outcomes = run(endless(), job, engine, settings, workers=workers)
    assert isinstance(outcomes, Generator)
    for taken in range(1, 41):
        outcome = next(outcomes)
        assert outcome.state is FileState.REWRITTEN
        assert taken <= pulled <= taken + window
    outcomes.close()  # stops the pool: queued files are dropped
    written = list((tmp_path / "out" / "lazy").iterdir())
    assert 40 <= len(written) <= pulled
    assert not [path for path in written if path.name.endswith(".rewriter-tmp")]


def test_the_same_outcomes_from_a_generator_and_from_a_list(tmp_path: Path) -> None:
    """Library use: any iterable of sources, results identical to the command's own list."""
    tree = tmp_path / "tree"
    for path in template_inputs():
        write(tree / f"{path.parent.name}-{path.name}", path.read_bytes())
    sources = _sources(tree)
    engine, settings = engine_for()
    job = Job(Mode.CHECK, keep_links=True)
    from_list = list(run(sources, job, engine, settings, workers=2))
    from_generator = list(run(iter(sources), job, engine, settings, workers=2))
    assert [comparable(o) for o in from_generator] == [comparable(o) for o in from_list]
    assert {o.state for o in from_list} >= {FileState.WOULD_CHANGE, FileState.UNCHANGED}


def fingerprint(path: Path) -> Fingerprint:
    data = path.read_bytes()
    return Fingerprint(len(data), path.stat().st_mtime_ns, hashlib.sha256(data).digest())


def test_the_workers_send_back_what_they_read_and_wrote(tmp_path: Path) -> None:
    """For the cache: an outcome carries the fingerprints of the bytes the worker read and of
    the file it wrote (nothing for a failure), the same from worker processes as from this one,
    and only when the job asks for them."""
    tree = build_tree(tmp_path / "tree")
    sources = _sources(tree)
    engine, settings = engine_for()
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        job = Job(Mode.OUT, out, fingerprints=True)
        outcomes = list(run(sources, job, engine, settings, workers=workers))
        failed = [o.display for o in outcomes if o.state is FileState.FAILED]
        assert failed == [str(tree / "b" / "broken.html")]
        sent = {s.relative: o.fingerprints for s, o in zip(sources, outcomes, strict=True)}
        assert sent == {
            s.relative: None
            if s.relative == "b/broken.html"
            else (fingerprint(s.path), fingerprint(out / s.relative))
            for s in sources
        }
    job = Job(Mode.OUT, tmp_path / "out3")
    outcomes = list(run(sources, job, engine, settings, workers=2))
    assert [o.fingerprints for o in outcomes] == [None] * len(sources)


@pytest.fixture(autouse=True)
def _no_cache_in_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process runs never reach the cache; keep any stray write out of the real home."""
    monkeypatch.setenv("REWRITER_CACHE_DIR", str(tmp_path / "in-process-cache"))
