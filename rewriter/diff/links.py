"""The links of one document as a diff sees them: where a click goes, through what, and how
securely, with tracking links decoded (and verified when a key is at hand)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from rewriter.document.encoding import sniff
from rewriter.document.engine import Rewriter
from rewriter.document.scan import LinkTag, OversizedTag, Scanner
from rewriter.document.splice import mask_tag
from rewriter.document.stages import LINK_ATTRIBUTE
from rewriter.models import Action, LinkRecord, Reason
from rewriter.tokens.format import TokenError, decode_token, token_of

_OURS = (Reason.OWN_DOMAIN, Reason.LEGACY_DOMAIN)


@dataclass(frozen=True, slots=True)
class Wrapping:
    """How a tracking link of ours is made: what changes when it is re-wrapped."""

    host: str
    key_id: str
    version: int
    context: str
    verified: bool


@dataclass(frozen=True, slots=True)
class LinkView:
    """One link: its position, the target a click reaches, the wrapping, the status."""

    line: int
    column: int
    text: str
    value: str  # the attribute value as a browser reads it
    destination: str | None  # the http(s) URL a click ends up at, when known
    target: str  # what links are matched by: the destination, else the value itself
    wrapping: Wrapping | None  # None: not one of our tracking links
    status: str | None
    status_from: str  # "annotation" (written in the file) or "rules" (computed now)


@dataclass(frozen=True, slots=True)
class DocumentView:
    """A document's links, and its bytes with every link value and annotation masked out."""

    links: tuple[LinkView, ...]
    skeleton: bytes


def view_document(engine: Rewriter, data: bytes, name: str) -> DocumentView:
    """Read one document of any kind (by its extension: HTML, a `.eml` message, `.txt` plain
    text); raises what `Rewriter.rewrite` raises for input that is not a template."""
    from rewriter.mail.formats import InputFormat, input_format, rewrite_document

    kind = input_format(name)
    result = rewrite_document(engine, data, kind, file=name, relative=name, prove=False)
    records = result.links
    if kind is InputFormat.HTML:
        annotations, skeleton = _annotations_and_skeleton(engine, data)
    else:  # statuses from the rules; links masked where their URLs stand in the text
        annotations, skeleton = [None] * len(records), _masked_text(data, records)
    if len(annotations) != len(records):  # a UTF-16 view: the annotations cannot be matched
        annotations = [None] * len(records)
    links = tuple(
        _view(engine, record, annotation)
        for record, annotation in zip(records, annotations, strict=True)
    )
    return DocumentView(links, skeleton)


def _view(engine: Rewriter, record: LinkRecord, annotation: str | None) -> LinkView:
    wrapping = None
    if record.action is Action.ALREADY_TRACKED and record.reason_code in _OURS:
        wrapping = _wrapping(engine, record.tracking_url or record.original)
    target = record.destination or record.original
    status = annotation if annotation is not None else _status_text(record)
    return LinkView(
        record.line,
        record.column,
        record.text,
        record.original,
        record.destination,
        target,
        wrapping,
        status,
        "annotation" if annotation is not None else "rules",
    )


def _status_text(record: LinkRecord) -> str | None:
    return None if record.status is None else str(record.status)


def _wrapping(engine: Rewriter, url: str) -> Wrapping | None:
    from rewriter.web.urls import UrlError, clean_url_value, parse_http_url

    try:
        host = parse_http_url(clean_url_value(url)).host
        contents = decode_token(token_of(url))
    except (UrlError, TokenError):
        return None
    verified = False
    if engine.ring is not None:
        try:
            decode_token(token_of(url), engine.ring)
            verified = True
        except TokenError:
            pass
    return Wrapping(host, contents.key_id, contents.version, contents.context, verified)


def _annotations_and_skeleton(engine: Rewriter, data: bytes) -> tuple[list[str | None], bytes]:
    """Each link tag's annotation value (in the engine's record order), and the document with
    link values and annotations masked, so that byte changes outside links can be counted."""
    name = engine.rules.annotation_attribute
    encoding = sniff(data[:1024])
    annotations: list[str | None] = []
    skeleton: list[bytes] = []
    for piece in _pieces(engine, data):
        if isinstance(piece, bytes):
            skeleton.append(piece)
        elif isinstance(piece, OversizedTag):
            annotations.append(None)
        else:
            link = piece.attribute(LINK_ATTRIBUTE)
            if link is None:
                skeleton.append(piece.raw)
                continue
            found = piece.attribute(name)
            value = piece.value(found) if found is not None and found.has_value else None
            annotations.append(None if value is None else encoding.decode(value))
            skeleton.append(mask_tag(piece, link, name))
    return annotations, b"".join(skeleton)


def _masked_text(data: bytes, records: tuple[LinkRecord, ...]) -> bytes:
    """Plain text or a message with every link's URL masked, quoted-printable soft line breaks
    unfolded first (an encoding artefact, never part of a URL), longest URLs first."""
    text = data.replace(b"=\r\n", b"").replace(b"=\n", b"")
    urls = {url for record in records for url in (record.original, record.tracking_url) if url}
    for url in sorted(urls, key=len, reverse=True):
        text = text.replace(url.encode("utf-8", "replace"), b"\x00")
    return text


def _pieces(engine: Rewriter, data: bytes) -> Iterator[bytes | LinkTag | OversizedTag]:
    scanner = Scanner(engine.rules.link_tags)
    yield from scanner.feed(data, last=True)
