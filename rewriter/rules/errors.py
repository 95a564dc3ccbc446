"""The error of a rules file that cannot be used: apart from the reader, so that a run whose
rules are remembered can catch it without importing the YAML reader."""

from __future__ import annotations

from pathlib import Path


class RulesError(Exception):
    """A rules file that cannot be used. `line` and `column` are 1-based or None; `key` is the
    dotted path of the offending key (`tracking.scheme`, `links.no_track[0].word`), or "" when
    the problem is not about one key (a syntax error, an unreadable file)."""

    def __init__(
        self, file: Path, line: int | None, key: str, message: str, column: int | None = None
    ) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.message = message

    def __str__(self) -> str:
        place = str(self.file)
        if self.line is not None:
            place += f":{self.line}"
            if self.column is not None:
                place += f":{self.column}"
        return f"{place}: {self.key}: {self.message}" if self.key else f"{place}: {self.message}"
