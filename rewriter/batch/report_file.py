"""`--report FILE`: one JSON object per link, the file replaced atomically at the end;
`--report -`: to stdout, as they come. Each record names the preload list its status comes
from."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO

from rewriter.batch.report import FileOutcome
from rewriter.models import LinkRecord


class ReportFile:
    def __init__(self, path: Path | None, preload: str | None = None) -> None:
        self._path = path
        self._preload = preload
        self._handle: TextIO | None = None
        self._temporary: Path | None = None

    def __enter__(self) -> ReportFile:
        if self._path == Path("-"):
            self._handle, self._path = sys.stdout, None
        elif self._path is not None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._temporary = self._path.with_name(f".{self._path.name}.rewriter-tmp")
            self._handle = open(self._temporary, "w", encoding="utf-8")
        return self

    def write(self, outcome: FileOutcome) -> None:
        for link in outcome.links:
            self.write_record(link)

    def write_record(self, link: LinkRecord) -> None:
        if self._handle is not None:
            import json  # here: a run without --report never needs it

            row = link.as_dict() | {"preload_list": self._preload}
            self._handle.write(json.dumps(row, ensure_ascii=False) + "\n")

    def __exit__(self, *exc: object) -> None:
        if self._handle is None or self._temporary is None or self._path is None:
            return  # nothing, or stdout
        self._handle.close()
        if exc[0] is None:
            os.replace(self._temporary, self._path)
        else:
            self._temporary.unlink(missing_ok=True)
