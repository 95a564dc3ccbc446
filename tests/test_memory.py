"""Bounded memory, measured on real subprocesses (the peak resident set of that one child, from
`os.wait4`): a 64 MB message on stdin streams through in far less memory than its size, with the
right output; and a batch's peak does not grow much with the number of files. The bounds are
generous: the tight figures live in the benchmark (issue 5)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from golden import without_stale_list_warning

from rewriter.batch.factory import make_rewriter
from rewriter.rules.loader import load_rules

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "tests" / "cases" / "rules.yaml"  # keys: env REWRITER_TEST_KEYS (conftest.py)
NEWSLETTER = (ROOT / "samples" / "newsletter.html").read_bytes()
MB = 1 << 20
STDIN_SIZE = 64 * MB  # well above the 16 MiB up to which stdin is read whole
STDIN_BOUND = 150 * MB
GROWTH_BOUND = 30 * MB


def message_block() -> bytes:
    """A whole newsletter (19 links) and a long paragraph of copy: realistic links, and mostly
    text so that 64 MB take seconds, not minutes."""
    paragraph = b"<p>" + b"Winter sale copy, plain words and more plain words. " * 1200 + b"</p>\n"
    return NEWSLETTER + paragraph


# The peak is measured by a small wrapper process: a child's ru_maxrss starts from the RSS of
# the process it was forked from, so measured from pytest (itself tens of MB, and growing) it
# would show pytest's size, not the command's.
MEASURE = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
with open(sys.argv[1], "w") as report:
    report.write(f"{code} {peak}")
"""


def peak_of_run(
    args: list[object], folder: Path, stdin: Path | None = None
) -> tuple[int, int, bytes]:
    """(exit code, peak resident bytes, stderr) of one `rewriter` run, stdout to folder/stdout.
    The peak covers the command and its worker processes (the largest of them)."""
    measured = folder / "measured"
    command = [sys.executable, "-c", MEASURE, measured, sys.executable, "-m", "rewriter"]
    env = {**os.environ, "REWRITER_CACHE_DIR": str(folder / "cache")}
    with (
        open(stdin or os.devnull, "rb") as given,
        open(folder / "stdout", "wb") as out,
        open(folder / "stderr", "wb") as err,
    ):
        subprocess.run(
            [*(str(part) for part in command), *(str(arg) for arg in args)],
            stdin=given, stdout=out, stderr=err, env=env, timeout=120, check=True,
        )  # fmt: skip
    code, peak_kb = (int(number) for number in measured.read_text().split())
    stderr = without_stale_list_warning((folder / "stderr").read_text("utf-8"))
    return code, peak_kb * 1024, stderr.encode()


def test_a_large_message_on_stdin_streams_in_bounded_memory(tmp_path: Path) -> None:
    block = message_block()
    copies = STDIN_SIZE // len(block) + 1
    message = tmp_path / "message.html"
    with open(message, "wb") as handle:
        for _ in range(copies):
            handle.write(block)

    # The expected output: each copy is a whole document, and a tracking token depends only
    # on the destination, the key and the context ("-" for stdin), so the output of the whole
    # is the output of one copy, repeated; checked here on three copies.
    engine = make_rewriter(load_rules(RULES), keys=True)
    one = engine.rewrite(block, file="-", relative="-").output
    assert one != block
    assert engine.rewrite(block * 3, file="-", relative="-").output == one * 3

    small = tmp_path / "small"
    small.mkdir()
    (small / "message.html").write_bytes(block)
    code, baseline, _ = peak_of_run(
        ["rewrite", "-", "--rules", RULES], small, small / "message.html"
    )
    assert code == 0
    code, peak, stderr = peak_of_run(["rewrite", "-", "--rules", RULES], tmp_path, message)
    assert (code, stderr) == (0, b"")
    print(f"stdin {copies * len(block) / MB:.0f} MB: peak {peak / MB:.1f} MB, "
          f"one block {baseline / MB:.1f} MB")  # fmt: skip
    assert peak < STDIN_BOUND
    assert peak - baseline < copies * len(block)  # the message is never held whole

    output = tmp_path / "stdout"
    assert output.stat().st_size == copies * len(one)
    with open(output, "rb") as handle:
        for index in range(copies):
            assert handle.read(len(one)) == one, f"copy {index} differs"


def tiny_tree(root: Path, count: int) -> Path:
    root.mkdir()
    for index in range(count):
        link = f'<p><a href="https://www.example.com/p/{index}">item {index}</a></p>\n'
        (root / f"t{index:05d}.html").write_text(link)
    return root


def test_peak_memory_hardly_grows_with_the_number_of_files(tmp_path: Path) -> None:
    """The usual batch (--out, two workers, the cache on): 2,000 tiny files against 200."""
    peaks = {}
    for count in (200, 2_000):
        folder = tmp_path / str(count)
        folder.mkdir()
        tree = tiny_tree(folder / "tree", count)
        code, peaks[count], stderr = peak_of_run(
            ["rewrite", tree, "--rules", RULES, "--out", folder / "out", "--workers", 2, "-q"],
            folder,
        )
        assert (code, stderr) == (0, b"")
        assert len(list((folder / "out").iterdir())) == count
    print(f"batch peak: 200 files {peaks[200] / MB:.1f} MB, 2,000 files {peaks[2000] / MB:.1f} MB")
    assert peaks[2_000] - peaks[200] < GROWTH_BOUND
