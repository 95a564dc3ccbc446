"""One document end to end: scan, decide, sign, classify, splice, prove.

`Rewriter.rewrite_stream` works on a stream of chunks and writes output pieces as it goes, so
memory does not grow with the size of the input; `Rewriter.rewrite` is the in-memory form.
Nothing here touches files, the clock or the network: the caller passes bytes, rules, keys and
the classifier in.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from math import ceil
from typing import NamedTuple

from rewriter.document.decide import Policy
from rewriter.document.encoding import PRESCAN_BYTES, UNSUPPORTED, DocumentEncoding, sniff
from rewriter.document.entities import decode_attribute_value, escape_attribute_value
from rewriter.document.inputs import TemplateError, binary_kind, encoding_back, utf8_view
from rewriter.document.linktext import link_text
from rewriter.document.scan import MAX_TAG_BYTES, Attribute, LinkTag, OversizedTag, Piece, Scanner
from rewriter.document.splice import Edit, annotation_edits, apply_edits, mask_tag, value_edit
from rewriter.models import Action, Decision, LinkRecord, Reason, Result, Status, Verdict
from rewriter.rules.model import ContextMode, Rules
from rewriter.status.classify import Classifier
from rewriter.tokens.format import (
    FIXED_OVERHEAD,
    MAX_TOKEN_LENGTH,
    TokenError,
    decode_token,
    encode_token,
)
from rewriter.tokens.format import MAX_DESTINATION_LENGTH as MAX_DESTINATION
from rewriter.tokens.keys import KeyRing

# The shortest token (a 1-character key id and destination) to the longest, base64url.
_TOKEN_SHAPE = re.compile(
    rf"[A-Za-z0-9_-]{{{ceil(4 * (FIXED_OVERHEAD + 2) / 3)},{MAX_TOKEN_LENGTH}}}"
)

LINK_ATTRIBUTE = "href"
MAX_CONTEXT_BYTES = 255
MEMO_SIZE = 4096  # entries per memo (decisions, tokens): bounded, so a long batch does not grow
PROOF_BATCH = 1 << 16  # bytes of output the proof scans at a time

Write = Callable[[bytes], object]


class PreservationError(Exception):
    """The output differs from the input outside the link values: nothing may be written."""


@dataclass(slots=True)
class StreamOutcome:
    """What `rewrite_stream` found, besides the output it wrote."""

    links: list[LinkRecord]
    encoding: DocumentEncoding
    changed: bool
    warnings: list[str] = field(default_factory=list)


class _Tracking(NamedTuple):
    """What is known of a link's tracking hop and destination."""

    url: str | None  # the tracking URL (None: not tracked, or no key to make it)
    destination: str | None  # None: no destination known
    note: str | None = None  # how the destination is known, when it matters
    refused: str | None = None  # why the redirect service will refuse it, if it will
    unverified: bool = False  # the destination was read from a token no key verified
    context: str | None = None  # a re-issued link keeps its attribution (else the file's)
    reissued_from: str | None = None  # the host of a link of ours signed anew on ours


class _Judged(NamedTuple):
    """What is known of a link value whatever the file it is in."""

    value: str  # the attribute value, entity-decoded
    decision: Decision
    tracking: _Tracking
    verdict: Verdict | None


class Rewriter:
    """The engine for one rule set; reuse it across documents."""

    def __init__(
        self,
        rules: Rules,
        ring: KeyRing | None = None,
        classifier: Classifier | None = None,
        *,
        link_texts: bool = True,
    ) -> None:
        self.rules = rules
        # Reading each link's text costs a fifth of the time; a batch without a report skips it.
        self.link_texts = link_texts
        self.ring = ring  # None: inspect only (decisions and statuses, output unchanged)
        self.classifier = classifier  # None: no statuses and no annotation
        self.policy = Policy(rules)
        self._prefix = rules.tracking_prefix
        self._prefix_bytes = self._prefix.encode("ascii")
        self._token_path = rules.path + "/"
        self._marker_names = {name.encode("latin-1") for name in self.policy.marker_attributes}
        self._tokens: dict[tuple[str, str], str] = {}
        self._own: dict[tuple[bytes, str], bool] = {}  # the proof's question, memoised
        self._judged: dict[tuple[bytes, tuple[tuple[str, bytes], ...], str], _Judged] = {}

    def rewrite(
        self,
        data: bytes,
        *,
        file: str | None = None,
        relative: str | None = None,
        prove: bool = True,
        context: str | None = None,
        charset: str | None = None,
    ) -> Result:
        """Rewrite one document held in memory.

        `file` names it in link records; `relative` (its path relative to the folder given,
        default `file`) is the attribution its tracking links carry when the rules say `path`.
        `context`, when given, is the attribution itself (a message's, for every part of it);
        `charset` is the encoding declared outside the document (a MIME part's), used when the
        document declares none itself.
        """
        out: list[bytes] = []
        outcome = self.rewrite_stream(
            (data,), out.append, file=file, relative=relative, prove=prove, context=context,
            charset=charset,
        )  # fmt: skip
        output = b"".join(out)
        return Result(
            output, tuple(outcome.links), outcome.encoding.codec, output != data,
            tuple(outcome.warnings),
        )  # fmt: skip

    def rewrite_stream(
        self,
        chunks: Iterable[bytes],
        write: Write,
        *,
        file: str | None = None,
        relative: str | None = None,
        prove: bool = True,
        on_link: Callable[[LinkRecord], object] | None = None,
        context: str | None = None,
        charset: str | None = None,
    ) -> StreamOutcome:
        """Rewrite a stream of chunks, writing output pieces as they are ready.

        With `prove`, the output is scanned again as it is written and compared with the input
        outside the link values; a difference raises PreservationError at the end. With
        `on_link`, each link record goes there instead of into the outcome (so a huge input
        does not hold them all).
        """
        stream = _with_head(iter(chunks))
        head = next(stream, b"")
        encoding = sniff(head)
        if charset is not None and encoding.source == "default":
            encoding = _declared_outside(charset)
        if encoding.is_utf16:  # not ASCII-compatible: work on a UTF-8 view and encode back
            view = utf8_view(chain((head,), stream), encoding.codec)
            back = encoding_back(write, encoding.codec)
            outcome = self.rewrite_stream(
                view, back, file=file, relative=relative, prove=prove, on_link=on_link
            )
            outcome.encoding = encoding
            return outcome
        if encoding.codec == UNSUPPORTED:
            raise TemplateError(
                f"the charset {encoding.declared} is not supported: its bytes are not read"
                " one by one like ASCII (convert the template to UTF-8)"
            )
        if encoding.source == "meta":  # rewriting must not move the declaration out of reach
            write = _SameEncoding(write, encoding)
        # A fixed sample: the verdict must not depend on where the chunks are cut.
        kind = binary_kind(head[:PRESCAN_BYTES])
        if kind is not None:
            raise TemplateError(f"not a template: it looks like {kind}")
        proof = _Proof(self, encoding) if prove else None
        if context is None:
            context = link_context(self.rules, relative if relative is not None else file)
        document = _Document(self, encoding, file, context, proof, on_link)
        scanner = Scanner(self.rules.link_tags)
        for piece in _pieces(scanner, head, stream):
            document.take(piece, write)
            document.locate_open(scanner.open_constructs())
        if proof is not None:
            proof.finish()
        if isinstance(write, _SameEncoding):
            write.finish()
        document.note_input(scanner.unfinished)
        return StreamOutcome(
            document.records, document.encoding, document.changed, document.warnings
        )

    # One link.

    def process(self, tag: LinkTag, document: _Document) -> tuple[bytes, LinkRecord | None, bool]:
        """The new tag bytes, its record, and whether the proof masks its value."""
        link = tag.attribute(LINK_ATTRIBUTE)
        if link is None:
            return tag.raw, None, False
        encoding = document.encoding
        judged = self._judge(tag, tag.value(link), encoding)
        decision, tracking, verdict = judged.decision, judged.tracking, judged.verdict
        if decision.action is Action.REWRITTEN and self.ring is not None:
            assert decision.destination is not None
            context = document.context if tracking.context is None else tracking.context
            token = self._token(decision.destination, context)
            tracking = tracking._replace(url=self._prefix + token)
        if tracking.reissued_from is not None:
            document.note_reissued(tracking.reissued_from)
        own = tracking.url is not None and (
            decision.action is Action.REWRITTEN or decision.reason is Reason.OWN_DOMAIN
        )
        edits: list[Edit] = []
        if decision.action is Action.REWRITTEN and tracking.url is not None:
            escaped = escape_attribute_value(tracking.url, link.quote.decode("ascii"))
            edits.append(value_edit(link, escaped.encode("ascii")))
        if own:
            edits += self._annotation(tag, link, verdict)
        note = tracking.note
        record = LinkRecord(
            file=document.path,
            line=document.line,
            column=document.column,
            tag=tag.name,
            attribute=LINK_ATTRIBUTE,
            text=self._text(tag, encoding) if self.link_texts else "",
            original=judged.value,
            tracking_url=tracking.url,
            action=decision.action,
            reason=decision.reason,
            detail=decision.detail if note is None else f"{decision.detail}; {note}",
            destination=tracking.destination,
            in_conditional_comment=tag.in_conditional_comment,
            status=None if verdict is None else verdict.status,
            status_reason=None if verdict is None else verdict.reason,
            unverified=tracking.unverified,
        )
        return apply_edits(tag.raw, edits), record, own

    def text_link(
        self,
        value: str,
        *,
        file: str | None,
        line: int,
        column: int,
        context: str,
        codec: str = "utf-8",
    ) -> LinkRecord:
        """One URL found in running text (a text/plain part, a .txt template), through the same
        stages as an href: decide, sign, classify. The record's `tracking_url` is the
        replacement when its action is `rewritten` and a key is at hand."""
        key = (value.encode("utf-8", "surrogatepass"), (), "text:" + codec)
        judged = self._judged.get(key)
        if judged is None:
            if len(self._judged) >= MEMO_SIZE:
                self._judged.clear()
            judged = self._judged[key] = self._judge_value(value, {}, codec)
        decision, tracking, verdict = judged.decision, judged.tracking, judged.verdict
        if decision.action is Action.REWRITTEN and self.ring is not None:
            assert decision.destination is not None
            kept = context if tracking.context is None else tracking.context  # a re-issued link's
            tracking = tracking._replace(url=self._prefix + self._token(decision.destination, kept))
        note = tracking.note
        return LinkRecord(
            file=file, line=line, column=column, tag="text", attribute="url", text="",
            original=value, tracking_url=tracking.url, action=decision.action,
            reason=decision.reason,
            detail=decision.detail if note is None else f"{decision.detail}; {note}",
            destination=tracking.destination,
            status=None if verdict is None else verdict.status,
            status_reason=None if verdict is None else verdict.reason,
            unverified=tracking.unverified,
        )  # fmt: skip

    def _text(self, tag: LinkTag, encoding: DocumentEncoding) -> str:
        if tag.name == "area":  # a void element: what a reader sees is its alt text
            alt = tag.attribute("alt")
            return "" if alt is None else decode_attribute_value(encoding.decode(tag.value(alt)))
        return link_text(tag.following, tag.name, encoding.decode)

    def _judge(self, tag: LinkTag, raw: bytes, encoding: DocumentEncoding) -> _Judged:
        """Decision, tracking and status of a link value, memoised: templates repeat their
        links, files their footers. (Only the token depends on the file; it is added after.)"""
        key = (raw, self._markers_of(tag), encoding.codec)
        judged = self._judged.get(key)
        if judged is None:
            if len(self._judged) >= MEMO_SIZE:
                self._judged.clear()
            judged = self._judged[key] = self._judge_uncached(raw, key[1], encoding)
        return judged

    def _markers_of(self, tag: LinkTag) -> tuple[tuple[str, bytes], ...]:
        """The raw values of the tag's attributes that can carry a no-track marker."""
        markers = []
        for name in tag.names() & self._marker_names:
            attribute = tag.attribute(name.decode("latin-1"))
            assert attribute is not None
            markers.append((attribute.name, tag.value(attribute)))
        return tuple(sorted(markers))

    def _judge_uncached(
        self, raw: bytes, markers: tuple[tuple[str, bytes], ...], encoding: DocumentEncoding
    ) -> _Judged:
        value = decode_attribute_value(encoding.decode(raw))
        values = {name: decode_attribute_value(encoding.decode(text)) for name, text in markers}
        return self._judge_value(value, values, encoding.codec)

    def _judge_value(self, value: str, values: dict[str, str], codec: str) -> _Judged:
        decision = self.policy.decide(value, values, codec)
        destination = decision.destination or ""
        if decision.action is Action.REWRITTEN and len(destination) > MAX_DESTINATION:
            detail = f"the destination is longer than {MAX_DESTINATION:,} characters"
            decision = Decision(Action.SKIPPED, Reason.TOO_LONG, detail, destination, decision.host)
        ours = self._ours_elsewhere(decision)
        if ours is not None:
            decision, tracking = ours
        else:
            tracking = self._tracking(decision)
        return _Judged(value, decision, tracking, self._verdict(decision, tracking))

    def _ours_elsewhere(self, decision: Decision) -> tuple[Decision, _Tracking] | None:
        """A link about to be wrapped that is a tracking link of ours on another host (the
        tracking domain changed): re-issued on the current one with the same destination and
        context, never wrapped twice. Only a path that looks like a token is verified."""
        if decision.action is not Action.REWRITTEN or self.ring is None:
            return None
        assert decision.destination is not None and decision.host is not None
        token = _token_in_path(decision.destination, self._token_path)
        if token is None:
            return None
        try:
            contents = decode_token(token, self.ring)
        except TokenError:
            return None  # not ours: a link like any other
        old, domain = decision.host, self.rules.tracking_domain
        detail = (
            f"a tracking link of ours on {old}, re-issued on {domain} (list {old} under"
            " tracking.legacy_domains, or mail already sent with it stops resolving)"
        )
        reissued = Decision(Action.REWRITTEN, Reason.REISSUED, detail, contents.destination)
        tracking = _Tracking(None, contents.destination, context=contents.context,
                             reissued_from=old)  # fmt: skip
        return reissued, tracking

    def _tracking(self, decision: Decision) -> _Tracking:
        """The tracking URL of a link and the destination behind it, as far as they are known
        without the file (a new tracking URL's token carries the file: `process` adds it)."""
        if decision.action is Action.REWRITTEN:
            return _Tracking(None, decision.destination)
        if decision.action is Action.ALREADY_TRACKED:
            assert decision.destination is not None
            if decision.reason is Reason.CLICK_TRACKER:
                return _Tracking(decision.destination, None)
            return self._read_token(decision.destination, decision.reason is Reason.OWN_DOMAIN)
        return _Tracking(None, decision.destination)

    def _token(self, destination: str, context: str) -> str:
        """Tokens are memoised per run: templates repeat their links (MJML: several times)."""
        key = (destination, context)
        token = self._tokens.get(key)
        if token is None:
            assert self.ring is not None
            if len(self._tokens) >= MEMO_SIZE:
                self._tokens.clear()  # bounded: a long batch must not grow
            token = self._tokens[key] = encode_token(destination, context, self.ring)
        return token

    def _read_token(self, tracking_url: str, own: bool) -> _Tracking:
        """The destination of one of our tracking links, verified when a key is at hand.

        On the current tracking domain, a token that does not verify with the keys at hand, or
        (without keys) is not even well-formed, is one the redirect service will refuse: the
        click fails. (A legacy domain may be served by another system, so its tokens are only
        reported as unverified.)
        """
        token = _token_of(tracking_url)
        if self.ring is not None:
            try:
                return _Tracking(tracking_url, decode_token(token, self.ring).destination)
            except TokenError as error:
                problem = f"the token does not verify with the keys at hand ({error})"
                if own:
                    return _Tracking(tracking_url, None, problem, refused=problem)
        else:
            problem = "no key at hand to verify the token"
        try:
            destination = decode_token(token).destination
        except TokenError as error:
            if own:
                malformed = f"the token is malformed ({error})"
                return _Tracking(tracking_url, None, malformed, refused=malformed)
            return _Tracking(tracking_url, None, f"its destination cannot be read ({error})")
        note = f"destination unverified: {problem}"
        return _Tracking(tracking_url, destination, note, unverified=True)

    def _verdict(self, decision: Decision, tracking: _Tracking) -> Verdict | None:
        if self.classifier is None:
            return None
        if tracking.refused is not None:
            return Verdict(
                Status.BROKEN,
                f"tracking hop: {tracking.refused}: the redirect service will refuse the click",
            )
        if decision.action is Action.REWRITTEN:
            # Without keys the tracking URL is not made, but its host and scheme are known.
            return self.classifier.link(tracking.url or self._prefix, tracking.destination)
        if decision.action is Action.ALREADY_TRACKED:
            return self.classifier.link(tracking.url, tracking.destination)
        if tracking.destination is not None:
            return self.classifier.link(None, tracking.destination)
        return None

    def _annotation(self, tag: LinkTag, link: Attribute, verdict: Verdict | None) -> list[Edit]:
        """Our status attribute on a link of the current tracking domain (removed when off)."""
        name = self.rules.annotation_attribute
        value = None if not self.rules.annotate or verdict is None else str(verdict.status)
        return annotation_edits(tag, link, name, value)

    def is_own_value(self, raw_value: bytes, encoding: DocumentEncoding) -> bool:
        """Whether a link value (as written) is on the current tracking domain."""
        if raw_value.startswith(self._prefix_bytes):
            return True
        key = (raw_value, encoding.codec)
        own = self._own.get(key)
        if own is None:
            if len(self._own) >= MEMO_SIZE:
                self._own.clear()
            value = decode_attribute_value(encoding.decode(raw_value))
            decision = self.policy.decide_url(value, encoding.codec)
            own = self._own[key] = decision.reason is Reason.OWN_DOMAIN
        return own


def _token_in_path(url: str, token_path: str) -> str | None:
    """The token of a serialised http(s) URL whose path is `token_path` + one token-like
    segment (the shape of our tracking links), else None."""
    start = url.find("/", url.find("://") + 3)
    if start < 0:
        return None
    path = url[start:].split("?", 1)[0].split("#", 1)[0]
    if not path.startswith(token_path):
        return None
    token = path[len(token_path) :]
    return token if _TOKEN_SHAPE.fullmatch(token) else None


def _token_of(tracking_url: str) -> str:
    """The last path segment: where every version of our tracking links keeps the token."""
    return tracking_url.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def link_context(rules: Rules, path: str | None) -> str:
    """The attribution each tracking link carries, at most MAX_CONTEXT_BYTES of UTF-8."""
    if rules.context is ContextMode.CAMPAIGN:
        text = rules.campaign or ""
    elif rules.context is ContextMode.PATH:
        text = path or ""
    else:
        text = ""
    encoded = text.encode("utf-8")
    if len(encoded) <= MAX_CONTEXT_BYTES:
        return text
    # Keep the end: the file name says more than the first folders.
    return encoded[-MAX_CONTEXT_BYTES:].decode("utf-8", "ignore")


class _Document:
    """Per-document state: position, records, and the proof fed with input and output."""

    def __init__(
        self,
        engine: Rewriter,
        encoding: DocumentEncoding,
        path: str | None,
        context: str,
        proof: _Proof | None,
        on_link: Callable[[LinkRecord], object] | None = None,
    ) -> None:
        self.engine = engine
        self.encoding = encoding
        self.path = path
        self.context = context
        self.proof = proof
        self.records: list[LinkRecord] = []
        self.emit = on_link or self.records.append
        self.warnings: list[str] = []
        self.changed = False
        self.line = 1
        self.column = 1
        self.offset = 0  # bytes of input taken so far
        self._piece_start = (0, 1, 1)  # (offset, line, column) where the last piece began
        self._piece = b""
        # `line:col` of the constructs the scanner is inside, found while their bytes are here.
        self._open: dict[int, str] = {}
        self._reissued: set[str] = set()  # hosts already warned about

    def note_reissued(self, host: str) -> None:
        """One warning per document and old host whose tracking links were re-issued."""
        if host in self._reissued:
            return
        self._reissued.add(host)
        domain = self.engine.rules.tracking_domain
        self.warnings.append(
            f"{self.path or '-'}:{self.line}:{self.column}: a tracking link of ours on {host}"
            f" was re-issued on {domain}: list {host} under tracking.legacy_domains, or mail"
            " already sent with it stops resolving"
        )

    def take(self, piece: Piece, write: Write) -> None:
        if isinstance(piece, bytes):
            write(piece)
            if self.proof is not None:
                self.proof.input(piece, piece)
                self.proof.output(piece)
            self._advance(piece)
        elif isinstance(piece, LinkTag):
            self._take_link(piece, write)
        else:
            self._take_oversized(piece)

    def _take_link(self, tag: LinkTag, write: Write) -> None:
        engine = self.engine
        new_raw, record, masked = engine.process(tag, self)
        write(new_raw)
        self.changed = self.changed or new_raw != tag.raw
        if self.proof is not None:
            link = tag.attribute(LINK_ATTRIBUTE) if masked else None
            annotation = engine.rules.annotation_attribute if masked else None
            self.proof.input(mask_tag(tag, link, annotation), tag.raw)
            self.proof.output(new_raw)
        if record is not None:
            self.emit(record)
        self._advance(tag.raw)

    def _take_oversized(self, piece: OversizedTag) -> None:
        """A link tag too large to examine: its bytes pass through (as the pieces that follow)."""
        detail = f"a <{piece.name}> tag larger than {MAX_TAG_BYTES:,} bytes is not examined"
        self.warnings.append(f"{self.path or '-'}:{self.line}:{self.column}: {detail}")
        self.emit(
            LinkRecord(
                self.path, self.line, self.column, piece.name, LINK_ATTRIBUTE, "", "", None,
                Action.SKIPPED, Reason.OVERSIZED_TAG, detail,
            )
        )  # fmt: skip

    def note_input(self, unfinished: tuple[str, int] | None) -> None:
        """Warnings about the input as a whole: charsets, and what it ends inside."""
        encoding = self.encoding
        if encoding.conflict:
            self.warnings.append(
                f"{self.path or '-'}: declares the charset {encoding.declared} and also"
                f" {encoding.conflict}: read as {encoding.declared}, as browsers do"
            )
        if unfinished is not None:
            construct, offset = unfinished
            where = self._open.get(offset) or self._locate(offset)
            self.warnings.append(
                f"{self.path or '-'}:{where}: the input ends inside this"
                f" {construct}: nothing after it is a link"
            )

    def locate_open(self, offsets: tuple[int, ...]) -> None:
        """Note `line:col` of each open construct that begins in the last piece taken: if the
        input ends inside it, the warning names that place, long after its bytes are gone."""
        known = self._open
        if len(known) != len(offsets) or any(offset not in known for offset in offsets):
            start, end = self._piece_start[0], self.offset
            self._open = {
                offset: known.get(offset) or self._locate(offset)
                for offset in offsets
                if offset in known or start <= offset <= end
            }

    def _locate(self, offset: int) -> str:
        """`line:column` of an offset in the last piece taken (clamped to it)."""
        start, line, column = self._piece_start
        offset = min(max(offset, start), start + len(self._piece))
        before = self._piece[: offset - start]
        newlines = before.count(b"\n")
        if newlines:
            line += newlines
            before = before[before.rfind(b"\n") + 1 :]
            column = 1
        return f"{line}:{column + self.encoding.count_characters(before)}"

    def _advance(self, data: bytes) -> None:
        self._piece_start = (self.offset, self.line, self.column)
        self._piece = data
        self.offset += len(data)
        newlines = data.count(b"\n")
        if newlines:
            self.line += newlines
            data = data[data.rfind(b"\n") + 1 :]
            self.column = 1
        self.column += self.encoding.count_characters(data)


class _Proof:
    """The re-scan proof: the output, scanned again as it is written, must equal the input
    once the values of links on the tracking domain and our annotation are masked out."""

    def __init__(self, engine: Rewriter, encoding: DocumentEncoding) -> None:
        self._engine = engine
        self._encoding = encoding
        self._scanner = Scanner(engine.rules.link_tags)
        self._input = hashlib.blake2b()
        self._output = hashlib.blake2b()
        self._pending: list[bytes] = []
        self._pending_size = 0
        # The input's own bytes, kept while all the output is still pending: an output equal to
        # its input, byte for byte, needs no re-scan (most files of a re-run, and links skipped).
        self._unscanned_input: list[bytes] | None = []

    def input(self, masked: bytes, raw: bytes) -> None:
        self._input.update(masked)
        if self._unscanned_input is not None:
            self._unscanned_input.append(raw)

    def output(self, data: bytes) -> None:
        # Output comes in small pieces; scanning each at once would stop at every cut tag.
        self._pending.append(data)
        self._pending_size += len(data)
        if self._pending_size >= PROOF_BATCH:
            self._unscanned_input = None
            self._digest(self._scanner.feed(b"".join(self._pending)))
            self._pending, self._pending_size = [], 0

    def finish(self) -> None:
        if self._unscanned_input is not None and self._pending == self._unscanned_input:
            return  # nothing differs, so nothing differs outside the link values
        self._digest(self._scanner.feed(b"".join(self._pending), last=True))
        self._pending, self._pending_size = [], 0
        if self._output.digest() != self._input.digest():
            raise PreservationError(
                "the output differs from the input outside the rewritten link values"
            )

    def _digest(self, pieces: Iterator[Piece]) -> None:
        for piece in pieces:
            if isinstance(piece, bytes):
                self._output.update(piece)
            elif isinstance(piece, LinkTag):
                self._output.update(self._masked(piece))

    def _masked(self, tag: LinkTag) -> bytes:
        link = tag.attribute(LINK_ATTRIBUTE)
        if link is None or not self._engine.is_own_value(tag.value(link), self._encoding):
            return tag.raw
        return mask_tag(tag, link, self._engine.rules.annotation_attribute)


class _SameEncoding:
    """Passes output through, and checks that a browser reads its first 1024 bytes to the same
    charset as the input's: longer links before `<meta charset>` could push it out of reach."""

    def __init__(self, write: Write, encoding: DocumentEncoding) -> None:
        self._write = write
        self._encoding = encoding
        self._head: bytes | None = b""

    def __call__(self, data: bytes) -> None:
        if self._head is not None:
            self._head += data
            if len(self._head) >= PRESCAN_BYTES:
                self.finish()
        self._write(data)

    def finish(self) -> None:
        if self._head is None:
            return
        head, self._head = self._head, None
        found = sniff(head)  # memoised: an unchanged head costs a lookup
        if found.codec != self._encoding.codec:
            raise TemplateError(
                f"rewriting would move the charset declaration ({self._encoding.declared}) out of"
                " the first 1,024 bytes, where browsers look for it: put <meta charset> first in"
                " <head>, before any link"
            )


def _declared_outside(charset: str) -> DocumentEncoding:
    """The encoding a MIME header declares for a document that declares none itself."""
    from rewriter.document.encoding import codec_for_label

    codec = codec_for_label(charset)
    if codec is None:
        raise TemplateError(f"the charset {charset!r} is not known")
    return DocumentEncoding(codec, charset, "mime")


def _with_head(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Re-chunk so the first chunk holds the first PRESCAN_BYTES (for the encoding sniff)."""
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= PRESCAN_BYTES:
            break
    yield head
    yield from chunks


def _pieces(scanner: Scanner, head: bytes, rest: Iterator[bytes]) -> Iterator[Piece]:
    """Scan the chunks, the last one as the end of the input (so its tail is scanned once)."""
    pending = head
    for chunk in rest:
        yield from scanner.feed(pending)
        pending = chunk
    yield from scanner.feed(pending, last=True)
