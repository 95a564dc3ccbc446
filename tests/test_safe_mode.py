"""The safe mode (the default) runs the independent check before writing; --fast skips it."""

from __future__ import annotations

from pathlib import Path

import pytest
from golden import DEFAULT_RULES, without_stale_list_warning

import rewriter.document.safety
from rewriter.batch.factory import make_rewriter
from rewriter.batch.job import Job, Mode
from rewriter.batch.process import process
from rewriter.batch.report import FileState
from rewriter.batch.sources import Source
from rewriter.rules.loader import load_rules

LINK = b'<p><a href="https://www.example.com/">x</a></p>'


@pytest.fixture
def source(tmp_path: Path) -> Source:
    path = tmp_path / "t.html"
    path.write_bytes(LINK)
    return Source(path, "t.html")


def test_a_failed_safety_check_writes_nothing(
    source: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        rewriter.document.safety, "safe_check", lambda *a, **k: ["structure: a difference"]
    )
    engine = make_rewriter(load_rules(DEFAULT_RULES), keys=True)
    for job in (Job(Mode.IN_PLACE), Job(Mode.OUT, tmp_path / "out")):
        outcome = process(source, engine, job)
        assert outcome.state is FileState.FAILED
        assert outcome.message == (
            f"{source.path}: error: the safety check failed, nothing written:"
            " structure: a difference"
        )
    assert source.path.read_bytes() == LINK
    assert not (tmp_path / "out").exists()


def test_fast_mode_does_not_run_the_safety_check(
    source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> list[str]:
        raise AssertionError("the safety check ran in --fast mode")

    monkeypatch.setattr(rewriter.document.safety, "safe_check", refuse)
    engine = make_rewriter(load_rules(DEFAULT_RULES), keys=True)
    outcome = process(source, engine, Job(Mode.IN_PLACE, safe=False))
    assert outcome.state is FileState.REWRITTEN
    assert source.path.read_bytes() != LINK


def test_the_safety_check_passes_on_a_real_rewrite(source: Source) -> None:
    engine = make_rewriter(load_rules(DEFAULT_RULES), keys=True)
    outcome = process(source, engine, Job(Mode.IN_PLACE))
    assert outcome.state is FileState.REWRITTEN


# A message too large to hold streams; unless --fast, it is checked as it streams.

PAGE = b'<p>text</p><a href="https://www.example.com/a">a</a>\n' * 400


@pytest.fixture
def small_buffer(monkeypatch: pytest.MonkeyPatch) -> None:
    import rewriter.cli.rewrite
    import rewriter.cli.stream

    monkeypatch.setattr(rewriter.cli.rewrite, "STDIN_BUFFER_LIMIT", 1000)
    monkeypatch.setattr(rewriter.cli.stream, "STDIN_CHUNK", 777)


def _rewrite_stdin(*options: str) -> tuple[int, bytes, str]:
    from click.testing import CliRunner

    from rewriter.cli.main import main

    runner = CliRunner()
    result = runner.invoke(
        main, ["rewrite", "-", "--rules", str(DEFAULT_RULES), *options], input=PAGE
    )
    return result.exit_code, result.stdout_bytes, without_stale_list_warning(result.stderr)


@pytest.mark.usefixtures("small_buffer")
@pytest.mark.parametrize("options", [(), ("--fast",)])
def test_a_streamed_message_is_rewritten_like_a_held_one(options: tuple[str, ...]) -> None:
    code, output, stderr = _rewrite_stdin(*options)
    assert (code, stderr) == (0, "")
    engine = make_rewriter(load_rules(DEFAULT_RULES), keys=True)
    assert output == engine.rewrite(PAGE, file="-", relative="-").output


@pytest.mark.usefixtures("small_buffer")
def test_a_streamed_message_failing_its_check_exits_123(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        rewriter.document.safety, "_token_problem", lambda *args: "does not read back"
    )
    code, _, stderr = _rewrite_stdin()
    assert code == 123
    assert stderr.startswith("-: error: the safety check failed: round trip: -:1:12: does not")
    assert stderr.endswith("the output written so far must not be used\n")
