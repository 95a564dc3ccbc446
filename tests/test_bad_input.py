"""Broken and hostile input: each gets a deliberate, documented behaviour and loses nothing.

The README's "What happens with bad input" section lists the same cases.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from golden import DEFAULT_RULES

from rewriter.batch.factory import make_rewriter
from rewriter.batch.job import Job, Mode
from rewriter.batch.process import process
from rewriter.batch.report import FileState
from rewriter.batch.sources import Source, iter_sources
from rewriter.document import scan as scan_module
from rewriter.document.engine import Rewriter
from rewriter.document.inputs import TemplateError
from rewriter.models import Action, Reason
from rewriter.rules.loader import load_rules

TRACKING = re.compile(rb'http://go\.example\.com/l/[A-Za-z0-9_-]+" data-link-security="[a-z-]+')


@pytest.fixture(scope="module")
def engine() -> Rewriter:
    return make_rewriter(load_rules(DEFAULT_RULES), keys=True)


def untracked(output: bytes) -> bytes:
    """The output with every tracking link and its annotation blanked."""
    return TRACKING.sub(b"LINK", output)


def test_empty_input_is_unchanged(engine: Rewriter) -> None:
    result = engine.rewrite(b"")
    assert result.output == b""
    assert result.links == ()
    assert not result.warnings


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(100), "a PNG image"),
        (b"GIF89a" + bytes(50), "a GIF image"),
        (b"\xff\xd8\xff\xe0" + bytes(50), "a JPEG image"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", "a PDF document"),
        (b"PK\x03\x04" + bytes(30), "a ZIP archive"),
        (bytes(range(256)) * 4, "binary data"),
    ],
)
def test_binary_data_is_refused_with_what_it_looks_like(
    engine: Rewriter, data: bytes, kind: str
) -> None:
    with pytest.raises(TemplateError, match=f"not a template: it looks like {kind}"):
        engine.rewrite(data)


def test_a_png_named_html_in_a_batch_fails_alone_and_is_not_written(
    engine: Rewriter, tmp_path: Path
) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "logo.html").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (tmp_path / "in" / "ok.html").write_bytes(b'<a href="https://www.example.com/">x</a>')
    job = Job(Mode.OUT, tmp_path / "out")
    outcomes = [process(s, engine, job) for s in _sources(tmp_path / "in")]
    assert [o.state for o in outcomes] == [FileState.FAILED, FileState.REWRITTEN]
    assert outcomes[0].message is not None and "it looks like a PNG image" in outcomes[0].message
    assert not (tmp_path / "out" / "logo.html").exists()
    assert (tmp_path / "out" / "ok.html").exists()


def test_nul_bytes_are_kept_and_a_nul_in_a_link_reads_as_a_replacement_character(
    engine: Rewriter,
) -> None:
    data = b'<p>a\x00b</p><a href="https://www.example.com/x\x00y">n\x00</a>'
    result = engine.rewrite(data)
    assert untracked(result.output) == b'<p>a\x00b</p><a href="LINK">n\x00</a>'
    assert result.links[0].destination == "https://www.example.com/x%EF%BF%BDy"


def test_bytes_undefined_in_the_declared_charset_are_kept(engine: Rewriter) -> None:
    # 0x81 and 0x8D are not mapped by windows-1252: browsers show U+FFFD; the bytes stay.
    data = (
        b'<meta charset="windows-1252"><p>\x81\x8d</p><a href="https://www.example.com/\x81">x</a>'
    )
    result = engine.rewrite(data)
    assert result.encoding == "cp1252"
    assert untracked(result.output) == data.replace(b"https://www.example.com/\x81", b"LINK")
    assert result.links[0].destination == "https://www.example.com/%EF%BF%BD"


def test_two_charsets_declared_the_first_wins_with_a_warning(engine: Rewriter) -> None:
    data = (
        b'<meta charset="windows-1252"><meta charset="utf-8"><a href="https://x.example/\xe9">x</a>'
    )
    result = engine.rewrite(data, file="two.html")
    assert result.encoding == "cp1252"
    assert result.links[0].destination == "https://x.example/%C3%A9"  # the path is UTF-8 anyway
    assert result.warnings == (
        "two.html: declares the charset windows-1252 and also utf-8: read as windows-1252,"
        " as browsers do",
    )


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_a_bom_is_rewritten_and_stays_utf16(engine: Rewriter, codec: str) -> None:
    text = '\ufeff<p>Caf\u00e9 \U0001f600</p><a href="https://www.example.com/caf\u00e9">x</a>\r\n'
    result = engine.rewrite(text.encode(codec))
    assert result.encoding == codec
    rewritten = result.output.decode(codec)
    assert rewritten.startswith(
        '\ufeff<p>Caf\u00e9 \U0001f600</p><a href="http://go.example.com/l/'
    )
    assert rewritten.endswith('">x</a>\r\n')
    assert result.links[0].destination == "https://www.example.com/caf%C3%A9"
    assert engine.rewrite(result.output).output == result.output


def test_utf16_keeps_a_lone_surrogate_byte_for_byte(engine: Rewriter) -> None:
    data = "\ufeff<p>".encode("utf-16-le") + b"\x00\xd8" + "</p>".encode("utf-16-le")
    assert engine.rewrite(data).output == data


def test_utf16_with_an_odd_number_of_bytes_is_refused(engine: Rewriter) -> None:
    with pytest.raises(TemplateError, match="not valid UTF-16-LE"):
        engine.rewrite("\ufeff<p>x</p>".encode("utf-16-le") + b"<")


@pytest.mark.parametrize(
    ("tail", "construct", "where"),
    [
        (b'<a href="https://www.example.com/cut', "tag", "2:1"),
        (b"<div title='never closed", "tag", "2:1"),
        (b"<!-- never closed", "comment", "2:1"),
        (b"<!--[if mso]><p>x", "conditional comment", "2:1"),
        (b"<style>.a{}", "<style> element", "2:1"),
        (b"<!DOCTYPE html", "markup declaration", "2:1"),
    ],
)
def test_truncated_input_ends_with_a_warning_and_comes_back_whole(
    engine: Rewriter, tail: bytes, construct: str, where: str
) -> None:
    data = b'<a href="https://www.example.com/before">x</a>\n' + tail
    result = engine.rewrite(data, file="cut.html")
    assert untracked(result.output) == b'<a href="LINK">x</a>\n' + tail
    assert result.warnings == (
        f"cut.html:{where}: the input ends inside this {construct}: nothing after it is a link",
    )


def test_unbalanced_conditional_comments(engine: Rewriter) -> None:
    data = b'<![endif]--><a href="https://www.example.com/a">a</a><!--<![endif]-->'
    result = engine.rewrite(data)
    assert [link.action for link in result.links] == [Action.REWRITTEN]
    assert not result.links[0].in_conditional_comment


def test_a_huge_attribute_value_streams_through_unexamined(engine: Rewriter) -> None:
    value = b"x" * (scan_module.MAX_TAG_BYTES + 10)
    data = b'<p>a</p><a title="' + value + b'" href="https://www.example.com/">y</a><a href="z">'
    result = engine.rewrite(data, file="big.html")
    assert result.output == data
    oversized, other = result.links
    assert (oversized.reason_code, oversized.line, oversized.column) == (Reason.OVERSIZED_TAG, 1, 9)
    assert other.reason_code is Reason.RELATIVE
    assert result.warnings == (
        f"big.html:1:9: a <a> tag larger than {scan_module.MAX_TAG_BYTES:,} bytes is not examined",
    )


def test_many_links_on_one_very_long_line(engine: Rewriter) -> None:
    link = b'<a href="https://www.example.com/same">x</a>'
    data = b"<p>" + b"y" * (5 << 20) + link * 20_000 + b"</p>"
    result = engine.rewrite(data)
    assert len(result.links) == 20_000
    last = result.links[-1]
    assert (last.line, last.column) == (1, 4 + (5 << 20) + len(link) * 19_999)
    assert untracked(result.output) == data.replace(b"https://www.example.com/same", b"LINK")


def test_ten_thousand_nested_tags(engine: Rewriter) -> None:
    data = b"<div>" * 10_000 + b'<a href="https://www.example.com/deep">x</a>' + b"</div>" * 10_000
    result = engine.rewrite(data)
    assert [link.action for link in result.links] == [Action.REWRITTEN]


# File-system faults: each fails one file, keeps the original, and the batch goes on.


def _sources(folder: Path, skip_dirs: Sequence[Path] = ()) -> list[Source]:
    found = list(iter_sources([str(folder)], skip_dirs=skip_dirs))
    assert all(isinstance(item, Source) for item in found), found
    return [item for item in found if isinstance(item, Source)]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.html", "b.html", "c.html"):
        (folder / name).write_bytes(
            b'<a href="https://www.example.com/' + name.encode() + b'">x</a>'
        )
    return folder


def test_an_unreadable_file_fails_alone(
    engine: Rewriter, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rewriter.batch.fsio

    real = rewriter.batch.fsio.read_with_status

    def read(path: Path) -> tuple[bytes, os.stat_result]:
        if path.name == "b.html":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(rewriter.batch.fsio, "read_with_status", read)
    job = Job(Mode.IN_PLACE)
    states = [process(source, engine, job).state for source in _sources(tree)]
    assert states == [FileState.REWRITTEN, FileState.FAILED, FileState.REWRITTEN]


def test_a_disk_that_fills_mid_write_leaves_the_original_and_no_temporary_file(
    engine: Rewriter, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = (tree / "b.html").read_bytes()
    real_fsync = os.fsync
    calls = {"n": 0}

    def fsync(descriptor: int) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the second file's write runs out of space
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    job = Job(Mode.IN_PLACE)
    outcomes = [process(source, engine, job) for source in _sources(tree)]
    assert [o.state for o in outcomes] == [
        FileState.REWRITTEN,
        FileState.FAILED,
        FileState.REWRITTEN,
    ]
    assert outcomes[1].message == f"{tree / 'b.html'}: error: cannot write: No space left on device"
    assert (tree / "b.html").read_bytes() == original
    assert sorted(path.name for path in tree.iterdir()) == ["a.html", "b.html", "c.html"]


def test_a_read_only_output_folder_fails_each_file_and_writes_nothing(
    engine: Rewriter, tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    job = Job(Mode.OUT, tmp_path / "out")
    outcomes = [process(source, engine, job) for source in _sources(tree)]
    assert {o.state for o in outcomes} == {FileState.FAILED}
    assert all(
        o.message and o.message.endswith("cannot write: Read-only file system") for o in outcomes
    )


def test_symlink_loops_are_not_followed(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "t.html").write_text("<p>")
    (folder / "sub" / "loop").symlink_to(folder)
    assert [source.relative for source in _sources(folder)] == ["sub/t.html"]


def test_an_output_folder_inside_the_input_is_not_read_back(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "out").mkdir(parents=True)
    (folder / "t.html").write_text("<p>")
    (folder / "out" / "t.html").write_text("<p>")
    found = _sources(folder, skip_dirs=[folder / "out"])
    assert [source.relative for source in found] == ["t.html"]
