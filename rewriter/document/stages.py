"""The stages one link tag goes through, in the order the engine runs them: decide, sign,
classify, splice. (The proof, which follows them, is `document/proof`.)

Each stage is a function over small immutable data: what it needs comes in as arguments, what it
found goes out as a value for the next one. None of them holds state or calls back into the
engine; the engine (`document/engine`) drives them and keeps their memos.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from math import ceil
from typing import NamedTuple

from rewriter.document.decide import Policy
from rewriter.document.encoding import DocumentEncoding
from rewriter.document.entities import decode_attribute_value, escape_attribute_value
from rewriter.document.scan import Attribute, LinkTag
from rewriter.document.splice import Edit, annotation_edits, apply_edits, value_edit
from rewriter.models import Action, Decision, Reason, Status, Verdict
from rewriter.rules.model import Rules
from rewriter.status.classify import Classifier
from rewriter.tokens.format import (
    FIXED_OVERHEAD,
    MAX_TOKEN_LENGTH,
    TokenError,
    decode_token,
    token_of,
)
from rewriter.tokens.format import MAX_DESTINATION_LENGTH as MAX_DESTINATION
from rewriter.tokens.keys import KeyRing

LINK_ATTRIBUTE = "href"

# The shortest token (a 1-character key id and destination) to the longest, base64url.
_TOKEN_SHAPE = re.compile(
    rf"[A-Za-z0-9_-]{{{ceil(4 * (FIXED_OVERHEAD + 2) / 3)},{MAX_TOKEN_LENGTH}}}"
)

Markers = tuple[tuple[str, bytes], ...]  # the raw values of attributes that can say "no track"
Sign = Callable[[str, str], str]  # (destination, context) -> token


@dataclass(frozen=True, slots=True)
class Setup:
    """What the stages read besides the link: the rules and what was built from them, once."""

    rules: Rules
    policy: Policy
    ring: KeyRing | None  # None: inspect only (no token is made, output unchanged)
    classifier: Classifier | None  # None: no statuses and no annotation
    prefix: str  # every tracking link of ours starts with it: `http://go.example.com/l/`
    token_path: str  # the path before the token: `/l/`

    @classmethod
    def of(cls, rules: Rules, ring: KeyRing | None, classifier: Classifier | None) -> Setup:
        prefix = rules.tracking_prefix
        return cls(rules, Policy(rules), ring, classifier, prefix, rules.path + "/")


class Tracking(NamedTuple):
    """What is known of a link's tracking hop and destination."""

    url: str | None  # the tracking URL (None: not tracked, or no key to make it)
    destination: str | None  # None: no destination known
    note: str | None = None  # how the destination is known, when it matters
    refused: str | None = None  # why the redirect service will refuse it, if it will
    unverified: bool = False  # the destination was read from a token no key verified
    context: str | None = None  # a re-issued link keeps its attribution (else the file's)
    reissued_from: str | None = None  # the host of a link of ours signed anew on ours


class Judged(NamedTuple):
    """What `decide` makes of a link value, whatever the file it is in (so it is memoised)."""

    value: str  # the attribute value, entity-decoded
    decision: Decision
    tracking: Tracking  # as far as it is known without the file (no new token yet)


# Stage 1: decide.


def markers_of(tag: LinkTag, marker_names: frozenset[bytes]) -> Markers:
    """The raw values of the tag's attributes that can carry a no-track marker."""
    markers = []
    for name in tag.names() & marker_names:
        attribute = tag.attribute(name.decode("latin-1"))
        assert attribute is not None
        markers.append((attribute.name, tag.value(attribute)))
    return tuple(sorted(markers))


def decide(setup: Setup, raw: bytes, markers: Markers, encoding: DocumentEncoding) -> Judged:
    """The policy's decision on a raw link value, and its tracking hop and destination as far
    as they are known without the file. Depends only on its arguments: the engine memoises it
    (templates repeat their links, files their footers)."""
    value = decode_attribute_value(encoding.decode(raw))
    values = {name: decode_attribute_value(encoding.decode(text)) for name, text in markers}
    return decide_value(setup, value, values, encoding.codec)


def decide_value(setup: Setup, value: str, values: dict[str, str], codec: str) -> Judged:
    """`decide` for a value already read: an href's, or a URL in running text (no markers)."""
    decision = setup.policy.decide(value, values, codec)
    destination = decision.destination or ""
    if decision.action is Action.REWRITTEN and len(destination) > MAX_DESTINATION:
        detail = f"the destination is longer than {MAX_DESTINATION:,} characters"
        decision = Decision(Action.SKIPPED, Reason.TOO_LONG, detail, destination, decision.host)
    ours = _ours_elsewhere(setup, decision)
    if ours is not None:
        return Judged(value, *ours)
    return Judged(value, decision, _tracking(setup, decision))


def _ours_elsewhere(setup: Setup, decision: Decision) -> tuple[Decision, Tracking] | None:
    """A link about to be wrapped that is a tracking link of ours on another host (the
    tracking domain changed): re-issued on the current one with the same destination and
    context, never wrapped twice. Only a path that looks like a token is verified."""
    if decision.action is not Action.REWRITTEN or setup.ring is None:
        return None
    assert decision.destination is not None and decision.host is not None
    token = _token_in_path(decision.destination, setup.token_path)
    if token is None:
        return None
    try:
        contents = decode_token(token, setup.ring)
    except TokenError:
        return None  # not ours: a link like any other
    old, domain = decision.host, setup.rules.tracking_domain
    detail = (
        f"a tracking link of ours on {old}, re-issued on {domain} (list {old} under"
        " tracking.legacy_domains, or mail already sent with it stops resolving)"
    )
    reissued = Decision(Action.REWRITTEN, Reason.REISSUED, detail, contents.destination)
    tracking = Tracking(None, contents.destination, context=contents.context, reissued_from=old)
    return reissued, tracking


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


def _tracking(setup: Setup, decision: Decision) -> Tracking:
    """The tracking URL of a link and the destination behind it, as far as they are known
    without the file (a new tracking URL's token carries the file: `sign` adds it)."""
    if decision.action is Action.ALREADY_TRACKED:
        assert decision.destination is not None
        if decision.reason_code is Reason.CLICK_TRACKER:
            return Tracking(decision.destination, None)
        own = decision.reason_code is Reason.OWN_DOMAIN
        return _read_token(setup.ring, decision.destination, own)
    return Tracking(None, decision.destination)


def _read_token(ring: KeyRing | None, tracking_url: str, own: bool) -> Tracking:
    """The destination of one of our tracking links, verified when a key is at hand.

    On the current tracking domain, a token that does not verify with the keys at hand, or
    (without keys) is not even well-formed, is one the redirect service will refuse: the
    click fails. (A legacy domain may be served by another system, so its tokens are only
    reported as unverified.)
    """
    token = token_of(tracking_url)
    if ring is not None:
        try:
            return Tracking(tracking_url, decode_token(token, ring).destination)
        except TokenError as error:
            problem = f"the token does not verify with the keys at hand ({error})"
            if own:
                return Tracking(tracking_url, None, problem, refused=problem)
    else:
        problem = "no key at hand to verify the token"
    try:
        destination = decode_token(token).destination
    except TokenError as error:
        if own:
            malformed = f"the token is malformed ({error})"
            return Tracking(tracking_url, None, malformed, refused=malformed)
        return Tracking(tracking_url, None, f"its destination cannot be read ({error})")
    note = f"destination unverified: {problem}"
    return Tracking(tracking_url, destination, note, unverified=True)


# Stage 2: sign.


def sign(setup: Setup, judged: Judged, context: str, token: Sign) -> Tracking:
    """The tracking link of a link to rewrite: a token for its destination and the file's
    attribution (or the one a re-issued link keeps). Without keys, or for any other link, the
    tracking hop stays as `decide` found it."""
    decision, tracking = judged.decision, judged.tracking
    if decision.action is not Action.REWRITTEN or setup.ring is None:
        return tracking
    assert decision.destination is not None
    signed = token(decision.destination, context if tracking.context is None else tracking.context)
    return tracking._replace(url=setup.prefix + signed)


# Stage 3: classify.


def classify(setup: Setup, decision: Decision, tracking: Tracking) -> Verdict | None:
    """Whether a click will be served securely: the worse of the tracking hop and the
    destination. Only the hops' schemes and hosts count (never a token), so a verdict holds
    for every file a link value is in: the engine memoises it beside `decide`."""
    classifier = setup.classifier
    if classifier is None:
        return None
    if tracking.refused is not None:
        return Verdict(
            Status.BROKEN,
            f"tracking hop: {tracking.refused}: the redirect service will refuse the click",
        )
    if decision.action is Action.REWRITTEN:
        # Without keys the tracking URL is not made, but its host and scheme are known.
        return classifier.link(tracking.url or setup.prefix, tracking.destination)
    if decision.action is Action.ALREADY_TRACKED:
        return classifier.link(tracking.url, tracking.destination)
    if tracking.destination is not None:
        return classifier.link(None, tracking.destination)
    return None


# Stage 4: splice.


def ours(decision: Decision, tracking: Tracking) -> bool:
    """Whether a link is ours to change: rewritten, or already on the tracking domain. Only
    such a link's value and annotation may differ in the output (the proof holds to it)."""
    return tracking.url is not None and (
        decision.action is Action.REWRITTEN or decision.reason_code is Reason.OWN_DOMAIN
    )


def splice(
    setup: Setup,
    tag: LinkTag,
    link: Attribute,
    decision: Decision,
    tracking: Tracking,
    verdict: Verdict | None,
) -> bytes:
    """The tag's new bytes: its new link value and our annotation; only those spans change."""
    if not ours(decision, tracking):
        return tag.raw
    edits: list[Edit] = []
    if decision.action is Action.REWRITTEN:
        assert tracking.url is not None
        escaped = escape_attribute_value(tracking.url, link.quote.decode("ascii"))
        edits.append(value_edit(link, escaped.encode("ascii")))
    rules = setup.rules
    status = None if not rules.annotate or verdict is None else str(verdict.status)
    edits += annotation_edits(tag, link, rules.annotation_attribute, status)
    return apply_edits(tag.raw, edits) if edits else tag.raw
