"""Rewrite tests/mail_cases/*.eml into their .expected.eml files (after a deliberate change;
read the diff before committing). Cases that must fail have no expected file."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import conftest  # noqa: F401  (sets the test key)
from mailhelp import CASES, engine_for
from test_mail_mime import FAILING

from rewriter.mail.mime import rewrite_message


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        engine = engine_for(Path(folder))
        for path in sorted(CASES.glob("*.eml")):
            if path.name.endswith(".expected.eml") or path.stem in FAILING:
                continue
            result = rewrite_message(path.read_bytes(), engine, file=path.name)
            path.with_suffix(".expected.eml").write_bytes(result.output)
            print(f"{path.name}: {len(result.links)} links, changed={result.changed}")


if __name__ == "__main__":
    main()
