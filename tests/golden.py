"""Run a golden case: the rules it uses, and its actual output and link records."""

from __future__ import annotations

import json
from pathlib import Path

from rewriter.batch.factory import make_rewriter
from rewriter.document.engine import Rewriter
from rewriter.models import LinkRecord, Result
from rewriter.rules.loader import load_rules

CASES = Path(__file__).resolve().parent / "cases"
DEFAULT_RULES = CASES / "rules.yaml"

# `rewrite` warns on every run that the bundled preload list is older than the rules allow (as
# `links` and `check` do); tests of other messages leave that line out.
STALE_LIST_WARNING = "warning: preload list hstspreload 2025.1.1 (bundled) is from 2025-01-01, "


def without_stale_list_warning(stderr: str) -> str:
    """stderr without the warning that the bundled preload list is old."""
    kept = stderr.splitlines(keepends=True)
    return "".join(line for line in kept if not line.startswith(STALE_LIST_WARNING))


# The fields of a link record that golden files pin (the file name is the case's own).
PINNED = (
    "line",
    "column",
    "tag",
    "text",
    "original_url",
    "tracking_url",
    "destination",
    "action",
    "reason_code",
    "in_conditional_comment",
    "status",
)

# The documented fields of a link in reports (`--report`, `links --format json/ndjson/csv`), in
# order: written out here, not taken from the code, so a change to the contract shows.
REPORT_FIELDS = (
    "file",
    "line",
    "column",
    "tag",
    "attribute",
    "text",
    "original_url",
    "tracking_url",
    "destination",
    "action",
    "reason",
    "reason_code",
    "in_conditional_comment",
    "status",
    "status_reason",
)


def case_names() -> list[str]:
    return sorted(path.name for path in CASES.iterdir() if path.is_dir())


def input_path(case: Path) -> Path:
    (found,) = [path for path in case.iterdir() if path.stem == "input"]
    return found


def expected_path(case: Path) -> Path:
    return case / f"expected{input_path(case).suffix}"


def engine_for(case: Path) -> Rewriter:
    rules_file = case / "rules.yaml"
    rules = load_rules(rules_file if rules_file.exists() else DEFAULT_RULES)
    return make_rewriter(rules, keys=True)


def run(case: Path) -> tuple[bytes, Result]:
    data = input_path(case).read_bytes()
    source = input_path(case).name
    return data, engine_for(case).rewrite(data, file=source, relative=source)


def pinned(record: LinkRecord) -> dict[str, object]:
    values = record.as_dict()
    return {name: values[name] for name in PINNED}


def links_json(result: Result) -> str:
    return json.dumps([pinned(link) for link in result.links], indent=1, ensure_ascii=False) + "\n"
