"""Write each golden case's expected output and links.json from the current engine.

Run it after a deliberate change, then read the diff of tests/cases before committing:
    .venv/bin/python tests/regen_cases.py [case ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import conftest  # noqa: F401  (sets the test key)
from golden import CASES, case_names, expected_path, links_json, run


def main(names: list[str]) -> None:
    for name in names or case_names():
        case = CASES / name
        data, result = run(case)
        expected = expected_path(case)
        if result.output == data:
            expected.unlink(missing_ok=True)
        else:
            expected.write_bytes(result.output)
        (case / "links.json").write_text(links_json(result), encoding="utf-8")
        state = "changed" if result.output != data else "unchanged"
        print(f"{name}: {state}, {len(result.links)} links")


if __name__ == "__main__":
    main(sys.argv[1:])
