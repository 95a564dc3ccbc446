"""Which files a batch takes, in which order, and that they are found lazily."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import rewriter.batch.sources
from rewriter.batch.sources import PathError, Source, iter_sources


def make(root: Path, *relatives: str) -> Path:
    for relative in relatives:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("<p>")
    return root


def taken(*paths: Path | str, **filters: list[str]) -> list[str]:
    """What iter_sources yields, as `relative` (a file) or `error: display: reason`."""
    return [
        item.relative if isinstance(item, Source) else f"error: {item.display}: {item.reason}"
        for item in iter_sources([str(path) for path in paths], **filters)
    ]


def test_files_come_in_the_order_of_their_path_components(tmp_path: Path) -> None:
    root = make(tmp_path / "t", "a.html", "a-b/y.html", "a/x.html", "B.html", "a/z/w.htm")
    # 'a' < 'a-b' < 'a.html' component by component; as whole strings '/' would sort after
    # '-' and '.', and every file of a/ would come last.
    assert taken(root) == ["B.html", "a/x.html", "a/z/w.htm", "a-b/y.html", "a.html"]


def test_hidden_entries_and_other_extensions_are_left_out(tmp_path: Path) -> None:
    root = make(tmp_path / "t", ".hidden.html", ".git/x.html", "notes.txt", "t.hbs", "t.HTML")
    assert taken(root) == ["t.HTML", "t.hbs"]
    assert taken(root, include=["*.txt"]) == ["notes.txt"]
    assert taken(root, exclude=["*.hbs"]) == ["t.HTML"]


def test_several_paths_are_merged_into_one_order_and_a_file_is_taken_once(
    tmp_path: Path,
) -> None:
    make(tmp_path, "b/one.html", "a/two.html", "a/sub/three.html")
    given = [tmp_path / "b", tmp_path / "a", tmp_path / "a" / "sub" / "three.html"]
    # The file given directly is also under a/: taken once, as the walk of a/ found it.
    assert taken(*given) == ["sub/three.html", "two.html", "one.html"]


def test_paths_that_cannot_be_taken_come_first(tmp_path: Path) -> None:
    root = make(tmp_path / "t", "x.html")
    missing = tmp_path / "missing.html"
    assert taken(root, missing) == [f"error: {missing}: no such file or folder", "x.html"]


def test_a_folder_that_cannot_be_listed_is_an_error_in_its_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make(tmp_path / "t", "a.html", "b/x.html", "c.html")
    locked = root / "b"
    scandir = os.scandir

    def refusing(path: Path) -> object:
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(locked))
        return scandir(path)

    monkeypatch.setattr(rewriter.batch.sources.os, "scandir", refusing)
    assert taken(root) == ["a.html", f"error: {locked}: Permission denied", "c.html"]


def test_folders_are_listed_only_as_the_files_are_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make(tmp_path / "t", "a/one.html", "b/two.html", "c/three.html")
    listed: list[str] = []
    scandir = os.scandir

    def recording(path: Path) -> object:
        listed.append(Path(path).relative_to(tmp_path).as_posix())
        return scandir(path)

    monkeypatch.setattr(rewriter.batch.sources.os, "scandir", recording)
    items: Iterator[Source | PathError] = iter_sources([str(root)])
    first = next(items)
    assert isinstance(first, Source) and first.relative == "a/one.html"
    assert listed == ["t", "t/a"]
    assert [item.relative for item in items if isinstance(item, Source)] == [
        "b/two.html",
        "c/three.html",
    ]
    assert listed == ["t", "t/a", "t/b", "t/c"]
