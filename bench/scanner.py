"""The scanner alone, compiled against pure Python: `.venv/bin/python bench/scanner.py`.

Scans every template of ../shared/corpus (or samples/) with each scanner, whole and in 64 KiB
chunks, rounds interleaved, and prints MB/s (best and median of the rounds, wall time) and the
ratio. The pieces are only counted, as the engine would take them; link attributes are not
parsed (that is per-link engine work, the same for both). A third pair scans with no link tags:
the skip alone, without the per-link Python work. Exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence

import dataset

from rewriter.document.scan import SCANNER, LinkTag, Scanner

CHUNK = 64 * 1024
TAGS = ("a", "area", "v:*")


def scan_all(
    documents: Sequence[bytes], *, compiled: bool, chunked: bool, tags: Sequence[str] = TAGS
) -> int:
    links = 0
    for data in documents:
        scanner = Scanner(tags, compiled=compiled)
        chunks = [data[at : at + CHUNK] for at in range(0, len(data), CHUNK)] if chunked else [data]
        for index, chunk in enumerate(chunks or [b""]):
            for piece in scanner.feed(chunk, last=index == max(len(chunks), 1) - 1):
                links += isinstance(piece, LinkTag)
    return links


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--min-mb", type=int, default=20, help="copies of the corpus up to this")
    args = parser.parse_args(argv)
    try:
        Scanner(compiled=True)
    except RuntimeError:
        print("the compiled scanner is not built", file=sys.stderr)
        return 0
    data = dataset.build_data_set(args.min_mb * dataset.MB)
    documents = [document.data for document in data.documents]
    size = data.size
    print(
        f"{len(documents)} documents ({data.templates} templates x {data.copies}), "
        f"{size / dataset.MB:.1f} MB; Scanner() uses: {SCANNER}; best / median of {args.rounds}"
    )
    runs: dict[tuple[str, str], Callable[[], int]] = {}
    for chunked in (False, True):
        for compiled in (True, False):
            key = ("64 KiB chunks" if chunked else "whole", "c" if compiled else "python")
            runs[key] = lambda c=compiled, k=chunked: scan_all(documents, compiled=c, chunked=k)
    for compiled in (True, False):
        key = ("no link tags", "c" if compiled else "python")
        runs[key] = lambda c=compiled: scan_all(documents, compiled=c, chunked=False, tags=())
    counts = {key: run() for key, run in runs.items()}  # a warm-up, and the links found
    if len({count for (label, _), count in counts.items() if label != "no link tags"}) != 1:
        print(f"the scanners disagree on the number of links: {counts}", file=sys.stderr)
    times: dict[tuple[str, str], list[float]] = {key: [] for key in runs}
    for _ in range(args.rounds):
        for key, run in runs.items():
            started = time.perf_counter()
            run()
            times[key].append(time.perf_counter() - started)
    best = {key: size / min(t) / 1e6 for key, t in times.items()}
    for (label, scanner), seconds in times.items():
        median = size / statistics.median(seconds) / 1e6
        print(
            f"{scanner:<6} {label:<13} {best[label, scanner]:7.0f} MB/s best {median:7.0f} median"
        )
    for label in ("whole", "64 KiB chunks", "no link tags"):
        ratio = best[label, "c"] / best[label, "python"]
        print(f"compiled / pure Python, {label}: {ratio:.1f}x ({counts[label, 'c']:,} links)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
