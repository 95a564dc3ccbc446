"""One worker process recording clicks through the queue recorder: `clickwriter.py URL PREFIX N`.

Started twice at once by the store tests; prints `written dropped` when its recorder is closed."""

from __future__ import annotations

import sys

from clickdata import many

from rewriter.clicks.queue import QueueRecorder
from rewriter.clicks.stores import open_store


def main(url: str, prefix: str, count: int) -> None:
    recorder = QueueRecorder(open_store(url), capacity=count, batch_size=250)
    for item in many(count, prefix=prefix):
        recorder.record(item)
    recorder.close(timeout=60)
    print(recorder.written, recorder.dropped)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
