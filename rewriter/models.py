"""The data that flows between the stages: decisions, statuses, link records, results."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, cast


class Action(StrEnum):
    """What happened to one link."""

    REWRITTEN = "rewritten"
    ALREADY_TRACKED = "already-tracked"
    SKIPPED = "skipped"


class Reason(StrEnum):
    """Why a link was skipped or left alone; the code behind the human-readable reason."""

    TRACKED = "tracked"
    EMPTY = "empty"
    FRAGMENT = "fragment"
    RELATIVE = "relative"
    PROTOCOL_RELATIVE = "protocol-relative"
    SCHEME = "scheme"
    TEMPLATE = "template-expression"
    NO_TRACK = "no-track"
    INVALID_URL = "invalid-url"
    EXCLUDED_HOST = "excluded-host"
    EXCLUDED_PATH = "excluded-path"
    OWN_DOMAIN = "tracking-domain"
    LEGACY_DOMAIN = "legacy-tracking-domain"
    CLICK_TRACKER = "click-tracker"
    REISSUED = "reissued"  # a tracking link of ours on another host, signed anew on ours
    TOO_LONG = "too-long"
    OVERSIZED_TAG = "oversized-tag"


@dataclass(frozen=True, slots=True)
class Decision:
    """The policy's verdict on one link value."""

    action: Action
    reason_code: Reason
    reason: str  # for a person: why, in words
    # The URL a browser would follow (WHATWG serialisation), when the value is an http(s) URL.
    destination: str | None = None
    # The host of `destination`, lower-case ASCII (punycode), when known.
    host: str | None = None


class Status(StrEnum):
    """Whether a click is served securely; see `security` for the rules."""

    BROKEN = "broken"
    UNKNOWN = "unknown"
    INSECURE = "insecure"
    SECURE_AFTER_FIRST_VISIT = "secure-after-first-visit"
    SECURE = "secure"

    @property
    def rank(self) -> int:
        """0 is worst. The status of a link is the worst of its hops."""
        return _STATUS_ORDER.index(self)


_STATUS_ORDER = list(Status)


@dataclass(frozen=True, slots=True)
class Verdict:
    """A status with the reason a person can act on."""

    status: Status
    reason: str


# The fields of a link in reports (`--report`, `links --format json/ndjson/csv`), in order.
LINK_FIELDS = (
    "file",
    "line",
    "column",
    "tag",
    "attribute",
    "text",
    "original_url",
    "tracking_url",
    "destination",
    "action",
    "reason",
    "reason_code",
    "in_conditional_comment",
    "status",
    "status_reason",
)


@dataclass(frozen=True, slots=True)
class LinkRecord:
    """Everything a report line needs about one link; `--report`, `links` and `check` read it."""

    file: str | None
    line: int  # 1-based
    column: int  # 1-based, in characters
    tag: str
    attribute: str
    text: str
    original: str  # the attribute value, entity-decoded
    tracking_url: str | None
    action: Action
    reason_code: Reason
    reason: str  # for a person: why, in words (reports' `reason`)
    destination: str | None = None
    in_conditional_comment: bool = False
    status: Status | None = None
    status_reason: str | None = None
    # A tracking link whose token was read but not verified (no key at hand, or a legacy domain).
    unverified: bool = False

    def as_dict(self) -> dict[str, object]:
        """The record under the names of LINK_FIELDS, JSON-ready."""
        values = (
            self.file,
            self.line,
            self.column,
            self.tag,
            self.attribute,
            self.text,
            self.original,
            self.tracking_url,
            self.destination,
            str(self.action),
            self.reason,
            str(self.reason_code),
            self.in_conditional_comment,
            None if self.status is None else str(self.status),
            self.status_reason,
        )
        return dict(zip(LINK_FIELDS, values, strict=True))


class _Unfrozen:
    """A LinkRecord being made: the same slots, set by plain assignment (a frozen dataclass sets
    each through `object.__setattr__`, four times slower), then given its class for good."""

    __slots__ = LinkRecord.__slots__


def new_link_record(
    file: str | None,
    line: int,
    column: int,
    tag: str,
    attribute: str,
    text: str,
    original: str,
    tracking_url: str | None,
    action: Action,
    reason_code: Reason,
    reason: str,
    destination: str | None = None,
    in_conditional_comment: bool = False,
    status: Status | None = None,
    status_reason: str | None = None,
    unverified: bool = False,
) -> LinkRecord:
    """`LinkRecord(...)`, the same record, made faster: the engine makes one per link."""
    record: Any = _Unfrozen()
    record.file = file
    record.line = line
    record.column = column
    record.tag = tag
    record.attribute = attribute
    record.text = text
    record.original = original
    record.tracking_url = tracking_url
    record.action = action
    record.reason_code = reason_code
    record.reason = reason
    record.destination = destination
    record.in_conditional_comment = in_conditional_comment
    record.status = status
    record.status_reason = status_reason
    record.unverified = unverified
    record.__class__ = LinkRecord  # the same slots: allowed, and frozen from here on
    return cast(LinkRecord, record)


@dataclass(frozen=True, slots=True)
class Result:
    """What `rewrite` returns for one document."""

    output: bytes
    links: tuple[LinkRecord, ...]
    encoding: str
    changed: bool
    warnings: tuple[str, ...] = field(default=())
    error: None = None  # a document that fails is a FailedResult


@dataclass(frozen=True, slots=True)
class FailedResult:
    """A document `rewrite_many` could not rewrite (not a template, or its output failed a
    check): `error` says why, and there is no output: nothing of it may be sent."""

    error: str
    output: None = None
    links: tuple[LinkRecord, ...] = ()
    changed: bool = False
    warnings: tuple[str, ...] = ()
