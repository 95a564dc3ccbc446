"""The pre-send gate: which links violate, and the message-level warnings of `check`."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from rewriter.models import Action, LinkRecord, Status
from rewriter.rules.model import Rules
from rewriter.status.classify import gate

if TYPE_CHECKING:
    from rewriter.tokens.keys import KeyRing

Level = Literal["failure", "warning"]

DEFAULT_FAIL_ON = frozenset({Status.BROKEN})


@dataclass(frozen=True, slots=True)
class Notice:
    """A warning or failure about a whole message (or the rules), not one link."""

    level: Level
    code: str
    where: str
    message: str

    def line(self) -> str:
        return f"{self.where}: {self.level}: {self.code}: {self.message}"


# What `check --fail-on` accepts besides the statuses: the codes of the notices (certificate-expired
# always fails, as `broken` does), and `unverified`, a tracking link whose token no key verified.
NOTICE_CODES = (
    "unverified",
    "clip",
    "max-links",
    "url-length",
    "https-possible",
    "certificate-expired",
    "certificate-expiring",
    "certificate-overdue",
)
UNVERIFIED = "unverified"


@dataclass(frozen=True, slots=True)
class FailOn:
    """What fails `check`: links of these statuses (`broken` always), and these notice codes."""

    statuses: frozenset[Status] = DEFAULT_FAIL_ON
    codes: frozenset[str] = frozenset()


def fail_on_choices() -> str:
    """The values `--fail-on` accepts, for its help and its errors."""
    statuses = ", ".join(status.value for status in Status)
    return f"statuses {statuses}; notice codes {', '.join(NOTICE_CODES)}"


def parse_fail_on(text: str) -> FailOn:
    """`unknown,clip` -> broken and unknown links, and the clip notice; raises ValueError naming
    an empty or unknown value (a gate that silently tests less is worse than none)."""
    statuses, codes = set(DEFAULT_FAIL_ON), set()
    for name in (part.strip() for part in text.split(",")):
        if name in NOTICE_CODES:
            codes.add(name)
            continue
        try:
            statuses.add(Status(name))
        except ValueError:
            what = "an empty value" if not name else f"unknown value {name!r}"
            raise ValueError(f"{what} (choose from {fail_on_choices()})") from None
    return FailOn(frozenset(statuses), frozenset(codes))


def violations(records: Iterable[LinkRecord], fail_on: FailOn) -> list[LinkRecord]:
    unverified = UNVERIFIED in fail_on.codes
    return [
        record
        for record in records
        if record.status in fail_on.statuses or (unverified and record.unverified)
    ]


def violation_line(record: LinkRecord, fail_on: FailOn) -> str:
    """`file:line:col: status: url (reason)`, with the destination when the URL hides it; a link
    that fails only for want of verification says `unverified` and why."""
    url = record.original
    if record.destination and record.destination != url:
        url = f"{url} -> {record.destination}"
    where = f"{record.file or '-'}:{record.line}:{record.column}"
    if record.status not in fail_on.statuses and record.unverified:
        return f"{where}: {UNVERIFIED}: {url} ({record.reason})"
    return f"{where}: {record.status}: {url} ({record.status_reason})"


def with_fail_on(notices: Iterable[Notice], codes: frozenset[str]) -> list[Notice]:
    """The notices, those whose code `--fail-on` names made failures."""
    return [
        Notice("failure", n.code, n.where, n.message) if n.code in codes else n for n in notices
    ]


def message_notices(
    where: str,
    size_after: int,
    records: Sequence[LinkRecord],
    rules: Rules,
    *,
    estimated: bool,
) -> list[Notice]:
    """Warnings about one message after rewriting (`estimated`: computed from upper bounds)."""
    checks = rules.checks
    notices = []
    about = "about " if estimated else ""
    if size_after > checks.clip_bytes:
        notices.append(
            _notice(
                rules, "clip", where,
                f"{about}{size_after:,} bytes after rewriting: Gmail clips messages over "
                f"{checks.clip_bytes:,} bytes",
            )
        )  # fmt: skip
    tracked = sum(1 for record in records if record.action is Action.REWRITTEN)
    tracked += sum(1 for record in records if record.reason_code == "tracking-domain")
    if tracked > checks.max_links:
        notices.append(
            _notice(
                rules, "max-links", where,
                f"{tracked:,} tracking links: SendGrid tracks at most {checks.max_links:,}",
            )
        )  # fmt: skip
    for record in records:
        length = _tracking_length(record, rules) if estimated else _actual_length(record)
        if length is not None and length > checks.max_tracking_url_length:
            notices.append(
                _notice(
                    rules, "url-length", f"{record.file or '-'}:{record.line}:{record.column}",
                    f"tracking URL of {about}{length} bytes, over "
                    f"{checks.max_tracking_url_length} (Mandrill does not track longer links)",
                )
            )  # fmt: skip
    return notices


def rules_notices(rules: Rules, as_of: datetime.date) -> list[Notice]:
    """The time-dependent checks of the rules' own hosts, as of a date."""
    where = str(rules.source) if rules.source else "rules"
    notices = []
    for finding in gate(rules, as_of):
        level: Level = finding.level
        if finding.code in rules.checks.fail_on_warnings:
            level = "failure"
        notices.append(Notice(level, finding.code, where, finding.message))
    return notices


def _notice(rules: Rules, code: str, where: str, message: str) -> Notice:
    level: Level = "failure" if code in rules.checks.fail_on_warnings else "warning"
    return Notice(level, code, where, message)


def _actual_length(record: LinkRecord) -> int | None:
    if record.tracking_url is None or record.action is Action.SKIPPED:
        return None
    return len(record.tracking_url.encode("utf-8"))


def _tracking_length(record: LinkRecord, rules: Rules) -> int | None:
    """The tracking URL's length, estimated for a link not yet rewritten."""
    if record.action is not Action.REWRITTEN or record.tracking_url is not None:
        return _actual_length(record)
    assert record.destination is not None
    return len(rules.tracking_prefix) + estimated_token_length(record.destination, record.file)


def estimated_token_length(destination: str, context: str | None) -> int:
    """A token's length does not depend on the key, only on its id: sign with a stand-in."""
    from rewriter.tokens.format import encode_token

    text = (context or "").encode("utf-8")[-255:].decode("utf-8", "ignore")
    try:
        return len(encode_token(destination, text, _stand_in_ring()))
    except ValueError:
        return len(destination) * 4 // 3


@functools.cache
def _stand_in_ring() -> KeyRing:
    from rewriter.tokens.keys import KeyRing

    return KeyRing("k1", {"k1": bytes(32)}, "length estimate")


def estimated_size(size: int, records: Sequence[LinkRecord], rules: Rules) -> int:
    """A message's size once its links are rewritten and annotated."""
    annotation = len(rules.annotation_attribute) + len(' =""') + 12 if rules.annotate else 0
    for record in records:
        length = _tracking_length(record, rules) if record.action is Action.REWRITTEN else None
        if length is not None and record.tracking_url is None:
            size += length - len(record.original.encode("utf-8")) + annotation
    return size
