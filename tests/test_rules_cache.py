"""Validated rules are remembered in the cache folder, keyed by the file's bytes and path."""

from __future__ import annotations

from pathlib import Path

import pytest
from golden import DEFAULT_RULES

from rewriter.batch.factory import load_rules_remembered
from rewriter.rules.loader import RulesError


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("REWRITER_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rewriter.yaml"
    path.write_bytes(DEFAULT_RULES.read_bytes())
    return path


def test_a_validated_file_is_remembered_and_read_back(cache: Path, rules_file: Path) -> None:
    first = load_rules_remembered(rules_file, remember=True)
    (remembered,) = cache.glob("rules.*.pickle")
    assert remembered.stat().st_mode & 0o777 == 0o600
    assert load_rules_remembered(rules_file, remember=False) == first


def test_reading_without_remembering_writes_nothing(cache: Path, rules_file: Path) -> None:
    load_rules_remembered(rules_file, remember=False)
    assert not cache.exists()


def test_a_changed_file_is_validated_again(cache: Path, rules_file: Path) -> None:
    load_rules_remembered(rules_file, remember=True)
    rules_file.write_text(rules_file.read_text() + "\nbogus_key: 1\n")
    with pytest.raises(RulesError, match="bogus_key: unknown key"):
        load_rules_remembered(rules_file, remember=True)


def test_a_corrupt_remembered_file_is_ignored(cache: Path, rules_file: Path) -> None:
    first = load_rules_remembered(rules_file, remember=True)
    (remembered,) = cache.glob("rules.*.pickle")
    remembered.write_bytes(b"not a pickle")
    assert load_rules_remembered(rules_file, remember=False) == first


def test_an_oversized_file_is_refused_without_the_cache(cache: Path, tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with open(big, "wb") as handle:
        handle.truncate(2 << 20)
    with pytest.raises(RulesError, match="larger than"):
        load_rules_remembered(big, remember=True)
    assert not cache.exists()


def test_a_remembered_file_others_could_write_is_not_trusted(
    cache: Path, rules_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rewriter.rules.loader

    load_rules_remembered(rules_file, remember=True)
    (remembered,) = cache.glob("rules.*.pickle")
    calls = []
    real = rewriter.rules.loader.load_rules
    monkeypatch.setattr(
        rewriter.rules.loader, "load_rules", lambda path: calls.append(path) or real(path)
    )
    for target, mode in ((remembered, 0o620), (cache, 0o777)):
        target.chmod(mode)
        load_rules_remembered(rules_file, remember=False)
        target.chmod(0o600 if target == remembered else 0o700)
    assert calls == [rules_file, rules_file]  # read from YAML again both times, not unpickled
    load_rules_remembered(rules_file, remember=False)
    assert len(calls) == 2
