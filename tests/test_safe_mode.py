"""The safe mode (the default) runs the independent check before writing; --fast skips it."""

from __future__ import annotations

from pathlib import Path

import pytest
from golden import DEFAULT_RULES

import rewriter.verify
from rewriter.batch import Job, WriteMode, process_source
from rewriter.factory import make_rewriter
from rewriter.report import FileState
from rewriter.rulesfile import load_rules
from rewriter.sources import Source

LINK = b'<p><a href="https://www.example.com/">x</a></p>'


@pytest.fixture
def source(tmp_path: Path) -> Source:
    path = tmp_path / "t.html"
    path.write_bytes(LINK)
    return Source(path, "t.html")


def test_a_failed_safety_check_writes_nothing(
    source: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rewriter.verify, "safe_check", lambda *a, **k: ["structure: a difference"])
    engine = make_rewriter(load_rules(DEFAULT_RULES), keys=True)
    for job in (Job(WriteMode.IN_PLACE), Job(WriteMode.OUT, tmp_path / "out")):
        outcome = process_source(source, engine, job)
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

    monkeypatch.setattr(rewriter.verify, "safe_check", refuse)
    engine = make_rewriter(load_rules(DEFAULT_RULES), keys=True)
    outcome = process_source(source, engine, Job(WriteMode.IN_PLACE, safe=False))
    assert outcome.state is FileState.REWRITTEN
    assert source.path.read_bytes() != LINK


def test_the_safety_check_passes_on_a_real_rewrite(source: Source) -> None:
    engine = make_rewriter(load_rules(DEFAULT_RULES), keys=True)
    outcome = process_source(source, engine, Job(WriteMode.IN_PLACE))
    assert outcome.state is FileState.REWRITTEN
