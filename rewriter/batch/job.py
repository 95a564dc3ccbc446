"""What to do with each document, decided once from the command's flags: the mode, the job,
and the settings every engine of a run is built from (in the parent and in each worker)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum
from pathlib import Path

from rewriter.rules.model import Rules


class Mode(Enum):
    """What becomes of a document once it is rewritten."""

    OUT = "out"  # mirror the tree under an output folder
    IN_PLACE = "in-place"
    STDOUT = "stdout"  # the document read from stdin, written to stdout
    CHECK = "check"  # write nothing; report what would change
    DIFF = "diff"  # write nothing; produce a unified diff
    INSPECT = "inspect"  # read only: links and statuses (`links`, `check`, `diff`)

    @property
    def writes(self) -> bool:
        return self in (Mode.OUT, Mode.IN_PLACE, Mode.STDOUT)

    @property
    def would_change_is_a_finding(self) -> bool:
        """`--check` and `--diff` exit 1 when something would change."""
        return self in (Mode.CHECK, Mode.DIFF)

    @classmethod
    def from_flags(
        cls, *, stdin: bool, out_dir: Path | None, in_place: bool, check: bool, diff: bool
    ) -> Mode:
        """The mode of `rewrite`'s flags; raises ValueError, for a usage error, on a bad mix."""
        chosen = [
            flag
            for flag, on in (
                ("--out", out_dir is not None),
                ("--in-place", in_place),
                ("--check", check),
                ("--diff", diff),
            )
            if on
        ]
        if len(chosen) > 1:
            raise ValueError(f"choose one of {', '.join(chosen)}")
        if stdin:
            if out_dir is not None or in_place:
                raise ValueError("- (stdin) writes to stdout: --out and --in-place do not apply")
            return cls.CHECK if check else cls.DIFF if diff else cls.STDOUT
        if not chosen:
            raise ValueError(
                "say where the output goes: --out DIR or --in-place (or --check, --diff)"
            )
        return cls(chosen[0].lstrip("-"))


@dataclass(frozen=True, slots=True)
class Job:
    """Everything about what to do with each document (picklable: workers get it)."""

    mode: Mode
    out_dir: Path | None = None
    safe: bool = True  # the independent check before writing (False: --fast)
    keep_links: bool = False  # send every link record back (for --report, links, check)
    fingerprints: bool = False  # send back what was read and written (for the cache)
    input_format: str | None = None  # html | txt | eml; None: by the file's extension


class KeyUse(StrEnum):
    """What an engine needs of the key ring."""

    SIGN = "sign"  # rewriting: no key is an error
    VERIFY = "verify"  # inspecting: tokens are verified when a key is at hand
    NONE = "none"  # statuses and decisions only


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """The one description engines are built from (`factory.build_engine`), here and in each
    worker process: all of it picklable."""

    rules: Rules
    preload_list: Path | None = None  # instead of the rules' (the `--preload-list` option)
    keys: KeyUse = KeyUse.SIGN
    link_texts: bool = True  # reading each link's text costs a fifth of the time
    statuses: bool = True
