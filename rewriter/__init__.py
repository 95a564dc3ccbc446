"""rewriter: signed, branded tracking links for email templates, byte for byte.

    >>> from rewriter import load_rules, rewrite
    >>> result = rewrite(html_bytes, load_rules("rules/acme.yaml"))
    >>> result.output, result.links

The command line (`rewriter rewrite`, `links`, `check`, `resolve`, `init`) is a thin layer over
this library.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from rewriter.models import Action, FailedResult, LinkRecord, Reason, Result, Status, Verdict
from rewriter.rules.model import Rules

if TYPE_CHECKING:
    from os import PathLike

__version__ = "0.1.0"

__all__ = [
    "Action",
    "FailedResult",
    "LinkRecord",
    "Reason",
    "Result",
    "Rules",
    "Status",
    "Verdict",
    "load_rules",
    "rewrite",
    "rewrite_many",
]


def load_rules(path: str | PathLike[str]) -> Rules:
    """Read and validate a rules file; raises `RulesError` naming file:line."""
    from pathlib import Path

    from rewriter.rules.loader import load_rules as _load

    return _load(Path(path))


def rewrite(data: bytes, rules: Rules, *, file: str | None = None) -> Result:
    """Rewrite one document: every outbound link becomes a signed tracking link.

    The signing keys and the preload list are the ones the rules name. Raises
    `rewriter.document.engine.PreservationError` if the output would differ outside link values.
    """
    from rewriter.batch.factory import make_rewriter

    return make_rewriter(rules, keys=True).rewrite(data, file=file)


def rewrite_many(
    documents: Iterable[tuple[str, bytes]], rules: Rules, *, safe: bool = True
) -> Iterator[tuple[str, Result | FailedResult]]:
    """Rewrite documents one by one as they come, yielding `(name, result)` lazily.

    One engine serves them all (keys, preload list and memos are set up once), and nothing is
    kept between documents but bounded memos, so this runs inside any pipeline: a task queue,
    a Spark `mapPartitions`, a send loop. `name` is the document's attribution (its path
    relative to the template folder, when the rules say `context: path`). With `safe`, each
    changed document also passes the independent check before it is yielded.

    One bad document does not stop the others: a document that is not a template, or whose
    output fails a check, is yielded as a `FailedResult` (its `error` set, its `output` None),
    and the next one follows. Check `result.error` (or `result.output is None`) before sending.
    """
    from rewriter.batch.factory import make_rewriter
    from rewriter.document.engine import PreservationError
    from rewriter.document.inputs import TemplateError
    from rewriter.document.safety import safe_check

    engine = make_rewriter(rules, keys=True)
    for name, data in documents:
        try:
            result = engine.rewrite(data, file=name, relative=name)
        except (PreservationError, TemplateError) as error:
            yield name, FailedResult(f"{name}: {error}")
            continue
        if safe and result.changed:
            problems = safe_check(
                data, result.output, engine, result.links, file=name, relative=name
            )
            if problems:
                yield name, FailedResult(f"{name}: the safety check failed: " + "; ".join(problems))
                continue
        yield name, result
