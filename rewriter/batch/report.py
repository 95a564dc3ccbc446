"""What happened to each file, the one-line summary, and the exit code: computed in one place."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from rewriter.batch.cache import Fingerprint
from rewriter.models import Action, LinkRecord


class ExitCode(IntEnum):
    """The exit codes of every command (the README has the table)."""

    OK = 0
    FINDINGS = 1  # --check/--diff: would change; check: violations; resolve: an invalid link
    USAGE = 2  # bad usage or a bad rules file
    FAILED = 123  # at least one file could not be processed
    INTERRUPTED = 130  # Ctrl-C or SIGTERM: stopped with every file written whole


class FileState(StrEnum):
    REWRITTEN = "rewritten"
    WOULD_CHANGE = "would change"
    UNCHANGED = "unchanged"
    FAILED = "failed"


@dataclass(slots=True)
class FileOutcome:
    """The small result a file's processing sends back (from a worker, possibly)."""

    display: str
    state: FileState
    links: list[LinkRecord] = field(default_factory=list)  # kept only when a report needs them
    counts: tuple[int, int, int] | None = None  # rewritten, already tracked, skipped (None: links)
    message: str | None = None  # the error, for a failed file
    warnings: list[str] = field(default_factory=list)
    diff: bytes | None = None
    output: bytes | None = None  # the document for stdout (`rewrite -`)
    cached: bool = False  # skipped: unchanged since the last run
    # What was read and what was written (for the cache): (source, output).
    fingerprints: tuple[Fingerprint, Fingerprint] | None = None
    size_before: int | None = None
    size_after: int | None = None  # None: not rewritten (no key at hand)


@dataclass(slots=True)
class Report:
    """Tallies the outcomes and findings of any command; alone decides the exit code."""

    check: bool = False  # a file that would change is a finding (--check, --diff)
    files: Counter[FileState] = field(default_factory=Counter)
    links: Counter[Action] = field(default_factory=Counter)
    findings: int = 0  # check: failing links and notices; resolve: links that do not verify
    interrupted: bool = False  # Ctrl-C or SIGTERM
    output_lost: bool = False  # stdout could not be written: what was processed is lost

    def add(self, outcome: FileOutcome) -> None:
        self.files[outcome.state] += 1
        rewritten, already, skipped = outcome.counts or count_links(outcome.links)
        self.links[Action.REWRITTEN] += rewritten
        self.links[Action.ALREADY_TRACKED] += already
        self.links[Action.SKIPPED] += skipped

    @property
    def processed(self) -> int:
        return sum(self.files.values())

    @property
    def exit_code(self) -> ExitCode:
        if self.interrupted:
            return ExitCode.INTERRUPTED
        if self.files[FileState.FAILED] or self.output_lost:
            return ExitCode.FAILED
        if self.findings or (self.check and self.files[FileState.WOULD_CHANGE]):
            return ExitCode.FINDINGS
        return ExitCode.OK

    def summary(self) -> str:
        """E.g. "12 files rewritten, 3 unchanged, 1 failed; 240 links tracked, 0 already tracked,
        31 skipped"."""
        changed = FileState.WOULD_CHANGE if self.check else FileState.REWRITTEN
        counts = [
            (self.files[changed], "would be rewritten" if self.check else "rewritten"),
            (self.files[FileState.UNCHANGED], "unchanged"),
        ]
        if self.files[FileState.FAILED]:
            counts.append((self.files[FileState.FAILED], "failed"))
        first = counts[0][0]
        files = [f"{first} {'file' if first == 1 else 'files'} {counts[0][1]}"]
        files += [f"{number} {label}" for number, label in counts[1:]]
        links = (
            f"{self.links[Action.REWRITTEN]} links tracked, "
            f"{self.links[Action.ALREADY_TRACKED]} already tracked, "
            f"{self.links[Action.SKIPPED]} skipped"
        )
        return f"{', '.join(files)}; {links}"


def count_links(links: list[LinkRecord]) -> tuple[int, int, int]:
    """(rewritten, already tracked, skipped)."""
    counts = Counter(link.action for link in links)
    return counts[Action.REWRITTEN], counts[Action.ALREADY_TRACKED], counts[Action.SKIPPED]
