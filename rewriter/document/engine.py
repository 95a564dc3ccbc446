"""One document end to end, streaming: the engine drives the stages, in this order.

    scan ─▶ per link tag: decide ─▶ sign ─▶ classify ─▶ splice ─▶ prove ─▶ write
         └▶ bytes between link tags ─────────────────────────────▶ prove ─▶ write

The stages are functions over data (`document/stages`: decide, sign, classify, splice;
`document/proof`: prove); the engine holds what lasts across documents (the rules, the memos)
and, per document, its position, records and warnings. `Rewriter.rewrite_stream` works on a
stream of chunks and writes each piece once it is proven, so memory does not grow with the size
of the input; `Rewriter.rewrite` is the in-memory form. Nothing here touches files, the clock or
the network: the caller passes bytes, rules, keys and the classifier in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from itertools import chain
from typing import NamedTuple, TypeVar

from rewriter.document.encoding import PRESCAN_BYTES, UNSUPPORTED, DocumentEncoding, sniff
from rewriter.document.entities import decode_attribute_value
from rewriter.document.inputs import TemplateError, binary_kind, encoding_back, utf8_view
from rewriter.document.linktext import link_text
from rewriter.document.proof import PreservationError, Proof
from rewriter.document.scan import MAX_TAG_BYTES, LinkTag, OversizedTag, Piece, Scanner
from rewriter.document.stages import (
    LINK_ATTRIBUTE,
    Judged,
    Markers,
    Setup,
    Tracking,
    classify,
    decide,
    decide_value,
    markers_of,
    ours,
    sign,
    splice,
)
from rewriter.models import Action, LinkRecord, Reason, Result, Verdict, new_link_record
from rewriter.rules.model import ContextMode, Rules
from rewriter.status.classify import Classifier
from rewriter.tokens.format import MAX_CONTEXT_BYTES, encode_token
from rewriter.tokens.keys import KeyRing

__all__ = [
    "LINK_ATTRIBUTE",
    "MAX_CONTEXT_BYTES",
    "PreservationError",
    "Rewriter",
    "StreamOutcome",
    "link_context",
]

MEMO_SIZE = 4096  # entries per memo (decisions, verdicts, tokens): bounded for a long batch

Write = Callable[[bytes], object]
_Key = tuple[bytes, Markers, str]  # a link value as written, its markers, the codec
_K = TypeVar("_K")
_V = TypeVar("_V")


@dataclass(slots=True)
class StreamOutcome:
    """What `rewrite_stream` found, besides the output it wrote."""

    links: list[LinkRecord]
    encoding: DocumentEncoding
    changed: bool
    warnings: list[str] = field(default_factory=list)


class Linked(NamedTuple):
    """One link tag through the stages: the bytes to write for it, and its record."""

    output: bytes
    record: LinkRecord | None  # None: a link tag without a link attribute
    ours: bool  # its value and annotation may change (else not one byte of it)


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
        self.setup = Setup.of(rules, ring, classifier)
        self._prefix_bytes = self.setup.prefix.encode("ascii")
        self._marker_names = frozenset(
            name.encode("latin-1") for name in self.setup.policy.marker_attributes
        )
        # The memos: templates repeat their links (MJML: several times), files their footers.
        self._judged: dict[_Key, Judged] = {}  # decide
        self._verdicts: dict[_Key, Verdict | None] = {}  # classify
        self._tokens: dict[tuple[str, str], str] = {}  # sign
        # The tracking links signed here, with their destinations: the safe mode need not
        # decode again a token it knows was just made for that destination.
        self._signed: dict[str, str] = {}
        self._own: dict[tuple[bytes, str], bool] = {}  # the proof's question

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

        With `prove`, each piece is proven (`document/proof`) before it is written: a piece
        that differs from the input outside the link values raises PreservationError, and
        nothing of it is written. With `on_link`, each link record goes there instead of into
        the outcome (so a huge input does not hold them all).
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
                view, back, file=file, relative=relative, prove=prove, on_link=on_link,
                context=context,
            )  # fmt: skip
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
        if context is None:
            context = link_context(self.rules, relative if relative is not None else file)
        document = _Document(encoding, file, context, self.rules.tracking_domain, on_link)
        is_own = partial(self.is_own_value, encoding=encoding)
        proof = Proof(self.rules.annotation_attribute, is_own) if prove else None
        scanner = Scanner(self.rules.link_tags)
        for piece in _pieces(scanner, head, stream):
            if isinstance(piece, bytes):
                output = piece  # the bytes between link tags go out as they came in
                if proof is not None:
                    proof.text(piece, output)  # compared all the same (C speed), not assumed
                write(output)
                document.advance(piece)
            elif isinstance(piece, LinkTag):
                linked = self.link(piece, document)
                if proof is not None:
                    proof.tag(piece, linked.output, may_change=linked.ours)
                write(linked.output)
                document.took_link(piece, linked)
            else:
                document.took_oversized(piece)
            document.locate_open(scanner.open_constructs())
        if isinstance(write, _SameEncoding):
            write.finish()
        document.note_input(scanner.unfinished)
        return StreamOutcome(
            document.records, document.encoding, document.changed, document.warnings
        )

    def link(self, tag: LinkTag, document: _Document) -> Linked:
        """One link tag through decide, sign, classify and splice (the proof follows)."""
        link = tag.attribute(LINK_ATTRIBUTE)
        if link is None:
            return Linked(tag.raw, None, False)
        setup, encoding = self.setup, document.encoding
        key = (tag.value(link), markers_of(tag, self._marker_names), encoding.codec)
        judged = self._judged.get(key)
        if judged is None:
            judged = _remember(self._judged, key, decide(setup, key[0], key[1], encoding))
        tracking = sign(setup, judged, document.context, self._token)
        if key in self._verdicts:  # a verdict depends on no token: the same for every file
            verdict = self._verdicts[key]
        else:
            verdict = _remember(self._verdicts, key, classify(setup, judged.decision, tracking))
        if tracking.reissued_from is not None:
            document.note_reissued(tracking.reissued_from)
        output = splice(setup, tag, link, judged.decision, tracking, verdict)
        record = self._record(tag, document, judged, tracking, verdict)
        return Linked(output, record, ours(judged.decision, tracking))

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
        setup = self.setup
        key = (value.encode("utf-8", "surrogatepass"), (), "text:" + codec)
        judged = self._judged.get(key)
        if judged is None:
            judged = _remember(self._judged, key, decide_value(setup, value, {}, codec))
        tracking = sign(setup, judged, context, self._token)
        if key in self._verdicts:
            verdict = self._verdicts[key]
        else:
            verdict = _remember(self._verdicts, key, classify(setup, judged.decision, tracking))
        decision, note = judged.decision, tracking.note
        return new_link_record(
            file, line, column, "text", "url", "", value, tracking.url, decision.action,
            decision.reason_code, decision.reason if note is None else f"{decision.reason}; {note}",
            tracking.destination, False, None if verdict is None else verdict.status,
            None if verdict is None else verdict.reason, tracking.unverified,
        )  # fmt: skip

    def _token(self, destination: str, context: str) -> str:
        """`sign`'s tokens, memoised per run."""
        key = (destination, context)
        token = self._tokens.get(key)
        if token is None:
            assert self.ring is not None
            token = _remember(self._tokens, key, encode_token(destination, context, self.ring))
            if len(self._signed) >= MEMO_SIZE:
                self._signed.clear()
            self._signed[self.setup.prefix + token] = destination
        return token

    def signed_here(self, tracking_url: str) -> str | None:
        """The destination a tracking link was signed for by this engine (recently: the memo
        is bounded), else None."""
        return self._signed.get(tracking_url)

    def _record(
        self,
        tag: LinkTag,
        document: _Document,
        judged: Judged,
        tracking: Tracking,
        verdict: Verdict | None,
    ) -> LinkRecord:
        decision, note = judged.decision, tracking.note
        return new_link_record(
            document.path,
            document.line,
            document.column,
            tag.name,
            LINK_ATTRIBUTE,
            self._text(tag, document.encoding) if self.link_texts else "",
            judged.value,
            tracking.url,
            decision.action,
            decision.reason_code,
            decision.reason if note is None else f"{decision.reason}; {note}",
            tracking.destination,
            tag.in_conditional_comment,
            None if verdict is None else verdict.status,
            None if verdict is None else verdict.reason,
            tracking.unverified,
        )

    def _text(self, tag: LinkTag, encoding: DocumentEncoding) -> str:
        if tag.name == "area":  # a void element: what a reader sees is its alt text
            alt = tag.attribute("alt")
            return "" if alt is None else decode_attribute_value(encoding.decode(tag.value(alt)))
        return link_text(tag.following, tag.name, encoding.decode)

    def is_own_value(self, raw_value: bytes, encoding: DocumentEncoding) -> bool:
        """Whether a link value (as written) is on the current tracking domain."""
        if raw_value.startswith(self._prefix_bytes):
            return True
        key = (raw_value, encoding.codec)
        own = self._own.get(key)
        if own is None:
            value = decode_attribute_value(encoding.decode(raw_value))
            decision = self.setup.policy.decide_url(value, encoding.codec)
            own = _remember(self._own, key, decision.reason_code is Reason.OWN_DOMAIN)
        return own


def _remember(memo: dict[_K, _V], key: _K, value: _V) -> _V:
    """Put a value in a memo, emptied when full: bounded, so a long batch does not grow."""
    if len(memo) >= MEMO_SIZE:
        memo.clear()
    memo[key] = value
    return value


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
    """Per-document state: the position in the input, the records and warnings so far."""

    def __init__(
        self,
        encoding: DocumentEncoding,
        path: str | None,
        context: str,
        tracking_domain: str,
        on_link: Callable[[LinkRecord], object] | None = None,
    ) -> None:
        self.encoding = encoding
        self.path = path
        self.context = context  # the attribution the document's new tracking links carry
        self.tracking_domain = tracking_domain
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
        self.warnings.append(
            f"{self.path or '-'}:{self.line}:{self.column}: a tracking link of ours on {host}"
            f" was re-issued on {self.tracking_domain}: list {host} under"
            " tracking.legacy_domains, or mail already sent with it stops resolving"
        )

    def took_link(self, tag: LinkTag, linked: Linked) -> None:
        """A link tag, written."""
        self.changed = self.changed or linked.output != tag.raw
        if linked.record is not None:
            self.emit(linked.record)
        self.advance(tag.raw)

    def took_oversized(self, piece: OversizedTag) -> None:
        """A link tag too large to examine: its bytes pass through (as the pieces that follow)."""
        detail = f"a <{piece.name}> tag larger than {MAX_TAG_BYTES:,} bytes is not examined"
        self.warnings.append(f"{self.path or '-'}:{self.line}:{self.column}: {detail}")
        self.emit(
            new_link_record(
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

    def advance(self, data: bytes) -> None:
        self._piece_start = (self.offset, self.line, self.column)
        self._piece = data
        self.offset += len(data)
        newlines = data.count(b"\n")
        if newlines:
            self.line += newlines
            data = data[data.rfind(b"\n") + 1 :]
            self.column = 1
        self.column += self.encoding.count_characters(data)


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
