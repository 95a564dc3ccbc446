"""Whole messages (`.eml`, the relay): every text/html and text/plain part rewritten with the same
rules, each written back in its own charset and Content-Transfer-Encoding; every other byte of
the message is kept.

The message's bytes are split into parts by `structure` (byte offsets, checked against the
standard library's parser). Only the bodies of rewritten parts change, plus, where it had to,
that part's Content-Transfer-Encoding header, and the top-level `X-Rewriter-Context` header, which
is removed. Headers, boundaries, preamble, epilogue, attachments and parts under
`multipart/signed` or `multipart/encrypted` come out byte for byte.

Attribution (`context: message` in the rules): the `X-Rewriter-Context` header set by the
application (refused when it looks like an email address: tokens are signed, not encrypted), else
`message_id_context(Message-ID)`, which the sender can compute too, else none.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message

from rewriter.document.engine import PreservationError, Rewriter, link_context
from rewriter.document.inputs import TemplateError
from rewriter.mail import cte
from rewriter.mail.headers import field_spans, header_end, line_ending
from rewriter.mail.structure import MimeError, Part, parse_message
from rewriter.mail.text import ascii_compatible, rewrite_text
from rewriter.models import LinkRecord, Result
from rewriter.rules.model import ContextMode, DkimPolicy

CONTEXT_HEADER = "X-Rewriter-Context"
# Subtrees never touched: rewriting would break a signature or cannot read an encrypted body.
_SEALED = frozenset({"multipart/signed", "multipart/encrypted", "application/pkcs7-mime"})
_REWRITTEN_TYPES = frozenset({"text/html", "text/plain"})


class InvalidMessage(TemplateError):
    """Not valid MIME, an unknown charset, a broken transfer encoding: left unchanged."""


class DkimSigned(TemplateError):
    """A DKIM-signed message: rewriting would invalidate the signature."""


class ContextRefused(TemplateError):
    """An X-Rewriter-Context value that cannot be carried in links."""


def message_id_context(message_id: str) -> str:
    """The attribution of a message without an X-Rewriter-Context header: `mid:` and the first
    24 hex digits of the SHA-256 of its Message-ID, without angle brackets or surrounding
    white space (`<abc@example.com>` gives the digest of `abc@example.com`)."""
    ident = _unfold(message_id).strip().removeprefix("<").removesuffix(">").strip()
    return "mid:" + hashlib.sha256(ident.encode("utf-8")).hexdigest()[:24]


@dataclass(slots=True)
class _Edits:
    """Byte replacements in the message, applied last to first."""

    spans: list[tuple[int, int, bytes]] = field(default_factory=list)

    def add(self, start: int, end: int, new: bytes) -> None:
        self.spans.append((start, end, new))

    def apply(self, data: bytes) -> bytes:
        out: list[bytes] = []
        position = 0
        for start, end, new in sorted(self.spans, key=lambda span: (span[0], span[1])):
            out += (data[position:start], new)
            position = end
        out.append(data[position:])
        return b"".join(out)


@dataclass(slots=True)
class _Rewritten:
    """A part whose body changed: what it decodes to now (checked after splicing)."""

    number: str
    decoded: bytes


def rewrite_message(
    data: bytes,
    engine: Rewriter,
    *,
    file: str,
    relative: str | None = None,
    safe: bool = True,
    refuse_signed: bool = True,
    new_message_id: str | None = None,
) -> Result:
    """Rewrite one message. Raises InvalidMessage, DkimSigned, ContextRefused (TemplateErrors:
    a failed file) or PreservationError (a check failed: nothing may be sent or written).

    `new_message_id` (the relay's) is added as a Message-ID header when the message has none.
    `refuse_signed=False` (inspection) reads a DKIM-signed message instead of refusing it.
    """
    try:
        top = parse_message(data)
    except MimeError as error:
        raise InvalidMessage(f"not a valid message: {error}") from None
    warnings: list[str] = []
    edits = _Edits()
    _check_dkim(top, engine, file, refuse_signed, warnings)
    message_id = top.headers.get("Message-ID")
    if message_id is None and new_message_id is not None:
        ending = line_ending(data, top.start, top.body_start)
        where = header_end(data, top.start, top.body_start)
        edits.add(where, where, f"Message-ID: {new_message_id}".encode("ascii") + ending)
        message_id = new_message_id
    context = _context(top, engine, relative if relative is not None else file, message_id)
    for start, end in field_spans(data, top.start, top.body_start, CONTEXT_HEADER):
        edits.add(start, end, b"")
    links: list[LinkRecord] = []
    rewritten: list[_Rewritten] = []
    rewrite = _PartRewriter(data, engine, file, relative, context, safe, edits)
    for part in _rewritable(top, warnings, file):
        found = rewrite(part)
        links += found.links
        warnings += found.warnings
        if found.changed:
            rewritten.append(_Rewritten(part.number, found.output))
    output = edits.apply(data)
    if safe and output != data:
        _check_output(output, top, rewritten)
    return Result(output, tuple(links), "mime", output != data, tuple(warnings))


def _check_dkim(top: Part, engine: Rewriter, file: str, refuse: bool, warnings: list[str]) -> None:
    if top.headers.get("DKIM-Signature") is None:
        return
    if refuse and engine.rules.mail.dkim_signed is DkimPolicy.REFUSE:
        raise DkimSigned(
            "the message has a DKIM-Signature, which rewriting would invalidate: rewrite"
            " first, sign after (or set messages.dkim_signed: warn in the rules)"
        )
    warnings.append(f"{file}: has a DKIM-Signature that rewriting invalidates: sign after")


def _context(top: Part, engine: Rewriter, path: str | None, message_id: str | None) -> str:
    if engine.rules.context is not ContextMode.MESSAGE:
        return link_context(engine.rules, path)
    value = top.headers.get(CONTEXT_HEADER)
    if value is not None:
        return _checked_context(str(value))
    if message_id is not None and str(message_id).strip():
        return message_id_context(str(message_id))
    return ""


def _checked_context(value: str) -> str:
    from rewriter.tokens.context import context_problem

    text = _unfold(value).strip()
    problem = context_problem(text)
    if problem is not None:
        raise ContextRefused(f"{CONTEXT_HEADER} {problem}")
    return text


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n[ \t]", " ", value)


def _rewritable(top: Part, warnings: list[str], file: str) -> list[Part]:
    """The text/html and text/plain parts that are not attachments, outside sealed subtrees."""
    found: list[Part] = []
    stack = [top]
    while stack:
        part = stack.pop()
        if part.content_type in _SEALED:
            warnings.append(
                f"{file}: {_label(part)}: signed or encrypted, left as it is (never rewritten)"
            )
            continue
        if part.children:
            stack.extend(reversed(part.children))
        elif part.content_type in _REWRITTEN_TYPES and not part.is_attachment:
            found.append(part)
    return found


def _label(part: Part) -> str:
    return f"part {part.number} {part.content_type}" if part.number else part.content_type


@dataclass(slots=True)
class _PartRewriter:
    """Rewrites one leaf part: decode, rewrite, check, encode back, record the edits."""

    data: bytes
    engine: Rewriter
    file: str
    relative: str | None
    context: str
    safe: bool
    edits: _Edits

    def __call__(self, part: Part) -> Result:
        label = _label(part)
        name = f"{self.file}:{label}"  # where its links are, in records and warnings
        body = self.data[part.body_start : part.end]
        encoding = part.transfer_encoding
        decoded = cte_decode(body, encoding, label)
        charset = part.headers.get_content_charset() or "us-ascii"
        rewrite = self._html if part.content_type == "text/html" else self._text
        result = rewrite(decoded, charset, part, name)
        if not result.changed:
            return result
        if self.safe:
            self._check_part(part, decoded, result, name, charset)
        new_body, new_encoding = _encode(body, result.output, encoding)
        if cte_decode(new_body, new_encoding, label) != result.output:
            raise PreservationError(f"{label}: the re-encoded body does not decode to the output")
        self.edits.add(part.body_start, part.end, new_body)
        if new_encoding != encoding:
            self._change_encoding_header(part, new_encoding)
        return result

    def _html(self, decoded: bytes, charset: str, part: Part, name: str) -> Result:
        return self.engine.rewrite(
            decoded, file=name, relative=self.relative, context=self.context,
            charset=_html_charset(charset, _label(part)), prove=True,
        )  # fmt: skip

    def _text(self, decoded: bytes, charset: str, part: Part, name: str) -> Result:
        codec = _text_codec(charset, _label(part))
        flowed = str(part.headers.get_param("format", "")).lower() == "flowed"
        # Lines over 998 octets are not reported: the part is given quoted-printable instead.
        return rewrite_text(
            decoded, self.engine, file=name, context=self.context, codec=codec, flowed=flowed,
            long_lines=False,
        )  # fmt: skip

    def _check_part(
        self, part: Part, decoded: bytes, result: Result, name: str, charset: str
    ) -> None:
        """The safe mode: the same independent checks as a template's, on the decoded part."""
        from rewriter.document.safety import round_trip_problems, safe_check

        if part.content_type == "text/html":
            problems = safe_check(
                decoded, result.output, self.engine, result.links, file=name,
                relative=self.relative,
            )  # fmt: skip
        else:
            again = self._text(result.output, charset, part, name).output
            problems = [] if again == result.output else ["idempotence: a second pass changes it"]
            problems += round_trip_problems(result.output, self.engine, result.links)
        if problems:
            raise PreservationError(
                "the safety check failed, nothing written: " + "; ".join(problems)
            )

    def _change_encoding_header(self, part: Part, new_encoding: str) -> None:
        spans = field_spans(self.data, part.start, part.body_start, "Content-Transfer-Encoding")
        ending = line_ending(self.data, part.start, part.body_start)
        header = f"Content-Transfer-Encoding: {new_encoding}".encode("ascii") + ending
        if spans:
            for index, (start, end) in enumerate(spans):
                self.edits.add(start, end, header if index == 0 else b"")
        else:
            where = header_end(self.data, part.start, part.body_start)
            self.edits.add(where, where, header)


def _html_charset(charset: str, name: str) -> str:
    from rewriter.document.encoding import UNSUPPORTED, codec_for_label

    codec = codec_for_label(charset)
    if codec is None:
        raise InvalidMessage(f"{name}: unknown charset {charset!r}")
    if codec == UNSUPPORTED or not ascii_compatible(codec) or charset.startswith("utf-16"):
        raise InvalidMessage(f"{name}: the charset {charset} is not supported")
    return charset


def _text_codec(charset: str, name: str) -> str:
    import codecs

    try:
        codec = codecs.lookup(charset).name
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        raise InvalidMessage(f"{name}: unknown charset {charset!r}") from None
    if not ascii_compatible(codec):
        raise InvalidMessage(f"{name}: the charset {charset} is not supported")
    return codec


def cte_decode(body: bytes, encoding: str, name: str) -> bytes:
    """A part's body decoded from its Content-Transfer-Encoding; InvalidMessage when broken."""
    try:
        if encoding == "quoted-printable":
            return cte.qp_decode(body)
        if encoding == "base64":
            return cte.b64_decode(body)
    except cte.EncodingError as error:
        raise InvalidMessage(f"{name}: broken transfer encoding: {error}") from None
    if encoding in cte.IDENTITY:
        return body
    raise InvalidMessage(f"{name}: unknown Content-Transfer-Encoding {encoding!r}")


_ENCODERS: dict[str, Callable[[bytes, bytes], bytes]] = {
    "quoted-printable": cte.qp_reencode,
    "base64": lambda body, new: cte.b64_encode(new, body),
}


def _encode(body: bytes, new: bytes, encoding: str) -> tuple[bytes, str]:
    """The new body in the part's encoding, or in quoted-printable when an identity encoding
    would carry a line over 998 octets."""
    encoder = _ENCODERS.get(encoding)
    if encoder is not None:
        return encoder(body, new), encoding
    if cte.too_long(new):
        return cte.qp_encode(new, cte.usual_ending(body)), "quoted-printable"
    return new, encoding


def _check_output(output: bytes, before: Part, rewritten: list[_Rewritten]) -> None:
    """The spliced message, read again by both parsers: the same tree, and each rewritten part
    decodes (by the standard library) to exactly the rewritten text."""
    try:
        after = parse_message(output)
    except MimeError as error:
        raise PreservationError(f"the rewritten message is not valid MIME: {error}") from None
    shape = [(part.number, part.content_type) for part in before.walk()]
    if shape != [(part.number, part.content_type) for part in after.walk()]:
        raise PreservationError("the rewritten message's parts differ from the original's")
    assert after.parsed is not None
    by_number = dict(_parallel(after, after.parsed))
    for part in rewritten:
        message = by_number.get(part.number)
        payload = None if message is None else message.get_payload(decode=True)
        if payload != part.decoded:
            raise PreservationError(f"part {part.number} does not decode to the rewritten text")


def _parallel(part: Part, message: Message) -> Iterator[tuple[str, Message]]:
    """Our parts and the standard parser's, side by side (`structure` checked they agree)."""
    yield part.number, message
    payload = message.get_payload()
    if part.children and isinstance(payload, list):
        for child, child_message in zip(part.children, payload, strict=True):
            yield from _parallel(child, child_message)
