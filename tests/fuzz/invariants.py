"""The engine's invariants, checked independently of its own proof.

Shared by the hypothesis properties (tests/test_properties.py), the atheris targets
(tests/fuzz/run.py) and the regression cases (tests/test_fuzz_regressions.py). Every check raises
`InvariantError` naming what broke and where; none of them uses the engine's scanner or splicer.

Byte preservation, the method (`check_preserved`):

1. In the output, two kinds of spans are found by regular expressions over the bytes: every
   attribute value that starts with the rules' tracking prefix (`="…"`, `='…'` or `=…`
   unquoted), and every annotation attribute (` data-link-security="..."` with the whitespace
   before it, any case, any quoting, or bare) that overlaps no such value. These are the only
   places where the output may differ; they cut it into fixed spans F0 S1 F1 S2 … Fn.
2. The input is then walked once, left to right. Each Fi must follow, except that an annotation
   attribute met in the input between values is skipped (the engine may remove or change it);
   one that the output holds as it is, is read as part of Fi. An annotation Si of the output
   takes no input. At a tracking value Si the input holds some value Xi, read as written with
   the tokenizer's rule for that quoting (up to the closing quote, or for an unquoted value up
   to whitespace or `>`), annotation-like text inside it included. The input must end exactly
   where Fn ends (annotations aside). Nothing backtracks, so a success proves that the output is
   the input with some attribute values replaced and annotation attributes added, changed or
   removed.
3. The values that changed (Xi ≠ Si) must be, in document order, exactly the links the engine
   reported as rewritten: Si is the record's tracking URL and Xi, entity-decoded, its original.
   So no value changed without a record saying so, and every rewritten record is in the output.

A UTF-16 document is compared in UTF-8, the form the engine works on. What the method leaves
free: any change to an annotation-shaped attribute outside link values, wherever it is (the
engine should touch only those of links on the tracking domain), whether removing one changes
how the bytes around it tokenize (`download data-link-security="s"=x` without the annotation
reads as `download=x`: tests/test_fuzz_regressions.py has that case), and which tracking value
replaced which original beyond their order and the records (the token check ties each token to
its destination).
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from rewriter.document.engine import PreservationError, Rewriter, link_context
from rewriter.document.entities import decode_attribute_value
from rewriter.document.inputs import TemplateError
from rewriter.models import Action, Result
from rewriter.rules.model import Rules
from rewriter.tokens.format import TokenError, decode_token
from rewriter.tokens.keys import KeyRing

CASES = Path(__file__).resolve().parents[1] / "cases"
# The key of tests/conftest.py, built here too so the fuzz runner needs no environment.
TEST_RING = KeyRing("test", {"test": b"rewriter test key, not secret :)"})
CONTEXT_FILE = "fuzz/input.html"  # the file name every check passes, so tokens carry it

_WS = rb"\t\n\f\r "
_VALUE_READERS = {
    b'"': re.compile(rb'[^"]*+'),
    b"'": re.compile(rb"[^']*+"),
    b"": re.compile(rb"[^\t\n\f\r >]*+"),
}


class InvariantError(AssertionError):
    """An invariant of the engine does not hold on some input."""


@lru_cache(maxsize=8)
def engine(case: str | None = None) -> Rewriter:
    """An engine for the golden cases' default rules, or for one case's own rules.yaml."""
    from rewriter.batch.factory import load_preload_list
    from rewriter.rules.loader import load_rules
    from rewriter.status.classify import Classifier

    path = CASES / "rules.yaml" if case is None else CASES / case / "rules.yaml"
    rules = load_rules(path)
    return Rewriter(rules, TEST_RING, Classifier(rules, load_preload_list(rules)))


def fresh_engine(case: str | None = None) -> Rewriter:
    """A new engine, classifier and preload list for the same rules (nothing shared)."""
    from rewriter.batch.factory import load_preload_list
    from rewriter.status.classify import Classifier

    rules = engine(case).rules
    return Rewriter(rules, TEST_RING, Classifier(rules, load_preload_list(rules)))


class Refused(Exception):
    """The engine refused the input with its documented TemplateError (binary data, bad UTF-16)."""


def rewrite(rewriter: Rewriter, data: bytes) -> Result:
    """Rewrite, turning the engine's own proof failing into an invariant failure.

    TemplateError is the one exception the engine documents: it becomes `Refused`.
    """
    try:
        return rewriter.rewrite(data, file=CONTEXT_FILE)
    except PreservationError as error:
        raise InvariantError(f"PreservationError on {data!r}: {error}") from error
    except TemplateError as error:
        raise Refused(str(error)) from error


# --- byte preservation ---------------------------------------------------------------------


_WS_BYTES = b"\t\n\f\r "
_SEPARATED = (b"", b">", b"\t", b"\n", b"\f", b"\r", b" ")  # nothing can join across these


@lru_cache(maxsize=8)
def _annotation_pattern(name: str) -> re.Pattern[bytes]:
    attribute = re.escape(name.encode("ascii"))
    return re.compile(
        rb"(?:[" + _WS + rb"]++|(?<=[/\"']))(?i:" + attribute + rb")(?=[" + _WS + rb"/>=])"
        rb"(?:[" + _WS + rb"]*+=[" + _WS + rb"]*+(?:\"[^\"]*+\"|'[^']*+'|[^" + _WS + rb">]*+))?+"
    )


@lru_cache(maxsize=8)
def _tracking_value_pattern(prefix: str) -> re.Pattern[bytes]:
    start = re.escape(prefix.encode("ascii"))
    return re.compile(
        rb"=[" + _WS + rb"]*+(?:\"(" + start + rb"[^\"]*+)\"|'(" + start + rb"[^']*+)'"
        rb"|(" + start + rb"[^" + _WS + rb">]*+))"
    )


_GROUP_QUOTES = {1: b'"', 2: b"'", 3: b""}


class _Span(NamedTuple):
    """A place where the output may differ from the input: a tracking value (with its quote:
    `"`, `'` or empty) or an annotation attribute (quote None)."""

    start: int
    end: int
    quote: bytes | None


def _free_spans(output: bytes, rules: Rules) -> list[_Span]:
    """The output's tracking values, and its annotation attributes that overlap none of them, in
    document order."""
    wholes: list[tuple[int, int]] = []  # each tracking value with its `=` and quotes
    spans: list[_Span] = []
    for match in _tracking_value_pattern(rules.tracking_prefix).finditer(output):
        group = match.lastindex
        assert group is not None
        wholes.append(match.span())
        spans.append(_Span(*match.span(group), _GROUP_QUOTES[group]))
    for match in _annotation_pattern(rules.annotation_attribute).finditer(output):
        before_end = bisect.bisect_left(wholes, (match.end(),))  # values starting before its end
        if before_end == 0 or wholes[before_end - 1][1] <= match.start():
            spans.append(_Span(*match.span(), None))
    return sorted(spans, key=lambda span: span.start)


def annotation_spans(data: bytes, rules: Rules) -> list[tuple[int, int]]:
    """Where `check_preserved` sees annotation attributes in an output (bytes it leaves free)."""
    return [(span.start, span.end) for span in _free_spans(data, rules) if span.quote is None]


def check_preserved(data: bytes, result: Result, rules: Rules) -> None:
    """The output is the input outside rewritten link values and the annotation attribute."""
    codec = result.encoding
    data, output = utf8_form(data, codec), utf8_form(result.output, codec)
    if codec.startswith("utf-16"):
        codec = "utf-8"
    changed = _align(data, output, rules)
    rewritten = [link for link in result.links if link.action is Action.REWRITTEN]
    got = [(decode_attribute_value(old.decode(codec, "replace")), new) for old, new in changed]
    expected = [(link.original, (link.tracking_url or "").encode("ascii")) for link in rewritten]
    if got != expected:
        raise InvariantError(
            f"changed values {got!r} are not the rewritten links {expected!r} (input {data!r})"
        )


def utf8_form(data: bytes, codec: str) -> bytes:
    """A UTF-16 document as the UTF-8 the engine works on; other documents as they are."""
    if not codec.startswith("utf-16"):
        return data
    try:
        return data.decode(codec, "surrogatepass").encode("utf-8", "surrogatepass")
    except UnicodeDecodeError as error:
        raise InvariantError(f"not valid {codec}: {error}") from error


def _align(before: bytes, after: bytes, rules: Rules) -> list[tuple[bytes, bytes]]:
    """Walk `before` against `after` (see the module docstring); the (old, new) changed values."""
    source = _Input(before, _annotation_pattern(rules.annotation_attribute))
    changed = []
    at_before = at_after = 0
    for span in _free_spans(after, rules):
        at_before = source.expect(after[at_after : span.start], at_before)
        if span.quote is not None:
            reader = _VALUE_READERS[span.quote].match(before, at_before)
            assert reader is not None  # the readers match the empty string
            old, new = before[at_before : reader.end()], after[span.start : span.end]
            if old != new:
                changed.append((old, new))
            at_before = reader.end()
        at_after = span.end
    at_before = source.skip_annotations(source.expect(after[at_after:], at_before))
    if at_before != len(before):
        raise InvariantError(f"the input has more bytes at the end: {before[at_before:][:80]!r}")
    return changed


class _Input:
    """The input, read left to right, its annotation attributes skipped between link values."""

    def __init__(self, data: bytes, annotation: re.Pattern[bytes]) -> None:
        self.data = data
        self.annotation = annotation
        self._next = annotation.search(data)

    def next_annotation(self, at: int) -> re.Match[bytes] | None:
        """The first annotation attribute starting at `at` or later (`at` only grows)."""
        if self._next is not None and self._next.start() < at:
            self._next = self.annotation.search(self.data, at)
        return self._next

    def expect(self, fixed: bytes, at: int) -> int:
        """The offset after `fixed`, read from `at`, annotation attributes skipped: one the
        output holds as it is (it overlaps a tracking value there) is read as `fixed` bytes."""
        done = 0
        while True:
            found = self.next_annotation(at)
            stop = len(self.data) if found is None else found.start()
            take = min(len(fixed) - done, stop - at)
            if self.data[at : at + take] != fixed[done : done + take] or (
                found is None and done + take < len(fixed)
            ):
                raise self._mismatch(fixed[done:], at)
            done, at = done + take, at + take
            if done == len(fixed):
                return at
            assert found is not None  # else the input ended early: a mismatch above
            if fixed.startswith(found.group(), done):
                done += len(found.group())
            else:
                # Removed; the whitespace before it may stay, where taking it would join the
                # neighbours (rewriter/splice.py `_safe_removals`).
                # That happens only when the byte after it is neither whitespace nor `>`.
                text = found.group()
                leading = text[: len(text) - len(text.lstrip(_WS_BYTES))]
                after = self.data[found.end() : found.end() + 1]
                if leading and after not in _SEPARATED and fixed.startswith(leading, done):
                    done += len(leading)
            at = found.end()

    def skip_annotations(self, at: int) -> int:
        while (found := self.next_annotation(at)) is not None and found.start() == at:
            at = found.end()
        return at

    def _mismatch(self, fixed: bytes, at: int) -> InvariantError:
        actual = self.data[at : at + len(fixed)]
        offset = next(
            (i for i, (x, y) in enumerate(zip(fixed, actual, strict=False)) if x != y),
            min(len(fixed), len(actual)),
        )
        return InvariantError(
            f"bytes differ outside link values: input {actual[max(0, offset - 40) : offset + 40]!r}"
            f" vs output {fixed[max(0, offset - 40) : offset + 40]!r}"
            f" (input offset {at + offset}, annotations skipped)"
        )


# --- idempotence, determinism, tokens ------------------------------------------------------


def check_idempotent(rewriter: Rewriter, result: Result) -> None:
    """A second run on the output reads it in the same encoding, changes nothing and rewrites no
    link again."""
    try:
        again = rewrite(rewriter, result.output)
    except Refused as error:
        raise InvariantError(f"the output of a first run is refused: {error}") from error
    if again.encoding != result.encoding:
        raise InvariantError(
            f"a second run reads the output as {again.encoding}, the first read the input as"
            f" {result.encoding}: {result.output[:2000]!r}"
        )
    if again.output != result.output:
        raise InvariantError(
            f"a second run changed the output: {result.output!r} -> {again.output!r}"
        )
    twice = [link.original for link in again.links if link.action is Action.REWRITTEN]
    if twice:
        raise InvariantError(f"links rewritten again on the second run: {twice!r}")


def check_tokens(rewriter: Rewriter, result: Result) -> None:
    """Every rewritten link's token verifies and carries its destination and context."""
    prefix = rewriter.rules.tracking_prefix
    context = link_context(rewriter.rules, CONTEXT_FILE)
    for link in result.links:
        if link.action is not Action.REWRITTEN:
            continue
        url = link.tracking_url or ""
        if not url.startswith(prefix):
            raise InvariantError(f"tracking URL {url!r} does not start with {prefix!r}")
        try:
            contents = decode_token(url[len(prefix) :], rewriter.ring)
        except TokenError as error:
            raise InvariantError(f"token of {url!r} does not verify: {error}") from error
        if (contents.destination, contents.context) != (link.destination, context):
            raise InvariantError(
                f"token of {url!r} carries {(contents.destination, contents.context)!r},"
                f" not {(link.destination, context)!r}"
            )


def output_tokens(output: bytes, prefix: str) -> list[str]:
    """The tokens of every tracking link value in `output`."""
    values = _tracking_value_pattern(prefix).finditer(output)
    found = []
    for match in values:
        group = match.lastindex
        assert group is not None
        found.append(match.group(group)[len(prefix) :].decode("latin-1"))
    return found


def check_all(rewriter: Rewriter, data: bytes) -> Result:
    """Every single-engine invariant on one input; returns the first result."""
    result = rewrite(rewriter, data)
    check_preserved(data, result, rewriter.rules)
    check_idempotent(rewriter, result)
    check_tokens(rewriter, result)
    return result


def same_records(first: Result, second: Result) -> bool:
    return first.output == second.output and first.links == second.links


def chunked(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    """`data` cut at the given offsets (sorted and clamped)."""
    bounds = [0, *sorted(min(max(cut, 0), len(data)) for cut in cuts), len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds)]
