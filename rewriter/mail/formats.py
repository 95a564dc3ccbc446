"""Which kind of document an input is, and the one place that rewrites each kind.

Chosen by `--input-format`, else by the file's extension (`.eml` a message, `.txt` plain text,
anything else HTML); stdin is HTML unless told. Never guessed from the content.
"""

from __future__ import annotations

import os
from enum import StrEnum

from rewriter.document.engine import PreservationError, Rewriter
from rewriter.models import Result


class InputFormat(StrEnum):
    HTML = "html"
    TXT = "txt"
    EML = "eml"


INPUT_FORMATS = tuple(kind.value for kind in InputFormat)
_BY_SUFFIX = {".eml": InputFormat.EML, ".txt": InputFormat.TXT}


def input_format(name: str, chosen: str | None = None) -> InputFormat:
    """The format `--input-format` names, else the one the file name's extension says."""
    if chosen:
        return InputFormat(chosen)
    return _BY_SUFFIX.get(os.path.splitext(name)[1].lower(), InputFormat.HTML)


def rewrite_document(
    engine: Rewriter,
    data: bytes,
    kind: InputFormat,
    *,
    file: str,
    relative: str | None = None,
    prove: bool = True,
    safe: bool = False,
) -> Result:
    """Rewrite one document of any kind. For messages and plain text, `safe` runs their
    independent checks here (raising PreservationError); for HTML, the caller runs the safe
    mode as before. `prove=False` is inspection (`links`, `check`): a DKIM-signed message is
    read, not refused."""
    if kind is InputFormat.EML:
        from rewriter.mail.mime import rewrite_message

        return rewrite_message(
            data, engine, file=file, relative=relative, safe=safe, refuse_signed=prove
        )
    if kind is InputFormat.TXT:
        return _rewrite_plain(data, engine, file, relative, safe)
    return engine.rewrite(data, file=file, relative=relative, prove=prove)


def _rewrite_plain(
    data: bytes, engine: Rewriter, file: str, relative: str | None, safe: bool
) -> Result:
    from rewriter.document.engine import link_context
    from rewriter.mail.text import rewrite_text

    context = link_context(engine.rules, relative if relative is not None else file)
    result = rewrite_text(data, engine, file=file, context=context)
    if safe and result.changed:
        from rewriter.document.safety import round_trip_problems

        again = rewrite_text(result.output, engine, file=file, context=context).output
        problems = [] if again == result.output else ["idempotence: a second pass changes it"]
        problems += round_trip_problems(result.output, engine, result.links)
        if problems:
            raise PreservationError(
                "the safety check failed, nothing written: " + "; ".join(problems)
            )
    return result
