"""The policy: for one link value, track it, leave it (already tracked), or skip it, and why."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from rewriter.models import Action, Decision, Reason
from rewriter.rules.model import ClickTracker, MarkerMatch, NoTrackMarker, Rules
from rewriter.web.globs import GlobSet
from rewriter.web.urls import (
    HttpUrl,
    RefKind,
    UrlError,
    clean_url_value,
    find_template_expression,
    parse_http_url,
    reference_kind,
)

HOST_MEMO_SIZE = 8192

_SKIP_BY_KIND = {
    RefKind.EMPTY: (Reason.EMPTY, "empty link"),
    RefKind.FRAGMENT: (Reason.FRAGMENT, "a fragment link within the page"),
    RefKind.RELATIVE: (Reason.RELATIVE, "a relative URL (only absolute http(s) URLs are tracked)"),
    RefKind.PROTOCOL_RELATIVE: (
        Reason.PROTOCOL_RELATIVE,
        "a protocol-relative URL (only absolute http(s) URLs are tracked)",
    ),
}


class _Tracker(NamedTuple):  # internal: a NamedTuple is cheaper to define than a dataclass
    name: str
    hosts: GlobSet
    paths: GlobSet


class Policy:
    """The decisions of one rule set, compiled once."""

    def __init__(self, rules: Rules) -> None:
        self._tracking_domain = rules.tracking_domain
        self._legacy = frozenset(rules.legacy_domains)
        self._markers = _group_markers(rules.no_track)
        self._exclude_hosts = GlobSet(rules.exclude_hosts)
        self._exclude_paths = GlobSet(rules.exclude_paths, case_sensitive=True)
        self._trackers = tuple(_compile_tracker(tracker) for tracker in rules.click_trackers)
        # Facts that depend on the host alone, memoised: hosts repeat across links and files.
        self._host_facts: dict[str, tuple[tuple[_Tracker, ...], str | None]] = {}

    @property
    def marker_attributes(self) -> frozenset[str]:
        """Attribute names that can carry a no-track marker."""
        return frozenset(self._markers)

    def decide(
        self, value: str, marker_values: Mapping[str, str], encoding: str = "utf-8"
    ) -> Decision:
        """Decide for one entity-decoded link value.

        `marker_values` holds the decoded values of the tag's attributes named in
        `marker_attributes` (the first of each name, as browsers read them).
        """
        marker = self._no_track_marker(marker_values)
        decision = self.decide_url(value, encoding)
        if marker is None or decision.action is not Action.REWRITTEN:
            return decision
        # Still say where the click goes: it is judged as a direct link.
        detail = f"marked not to track ({marker})"
        url, host = decision.destination, decision.host
        return Decision(Action.SKIPPED, Reason.NO_TRACK, detail, url, host)

    def decide_url(self, value: str, encoding: str = "utf-8") -> Decision:
        cleaned = clean_url_value(value)
        kind, scheme = reference_kind(cleaned)
        if kind is RefKind.OTHER_SCHEME:
            return Decision(Action.SKIPPED, Reason.SCHEME, f"{scheme}: links are not tracked")
        expression = find_template_expression(cleaned)
        if expression is not None:
            detail = (
                f"contains the template expression {_short(expression)}:"
                " the destination is known only at send time"
            )
            return Decision(Action.SKIPPED, Reason.TEMPLATE, detail)
        if kind is not RefKind.HTTP:
            reason, detail = _SKIP_BY_KIND[kind]
            return Decision(Action.SKIPPED, reason, detail)
        try:
            url = parse_http_url(cleaned, encoding)
        except UrlError as error:
            return Decision(Action.SKIPPED, Reason.INVALID_URL, f"not a valid URL: {error}")
        return self._decide_http(url)

    def _decide_http(self, url: HttpUrl) -> Decision:
        # `go.example.com.` is the same host to a browser; `go.example.com..` is not.
        host = url.host.removesuffix(".")
        trackers, excluded_by = self._facts_of(host)
        known = self._already_tracked(host, url.path, trackers)
        if known is not None:
            reason, detail = known
            return Decision(Action.ALREADY_TRACKED, reason, detail, url.href, host)
        pattern = excluded_by
        if pattern is not None:
            detail = f"host {host} is excluded by the rules ({pattern})"
            return Decision(Action.SKIPPED, Reason.EXCLUDED_HOST, detail, url.href, host)
        pattern = self._exclude_paths.first_match(url.path)
        if pattern is not None:
            detail = f"path {url.path} is excluded by the rules ({pattern})"
            return Decision(Action.SKIPPED, Reason.EXCLUDED_PATH, detail, url.href, host)
        return Decision(Action.REWRITTEN, Reason.TRACKED, "tracked", url.href, host)

    def _facts_of(self, host: str) -> tuple[tuple[_Tracker, ...], str | None]:
        """The click trackers whose hosts match, and the exclusion pattern, of one host."""
        facts = self._host_facts.get(host)
        if facts is None:
            if len(self._host_facts) >= HOST_MEMO_SIZE:
                self._host_facts.clear()
            trackers = tuple(t for t in self._trackers if t.hosts.first_match(host))
            facts = self._host_facts[host] = (trackers, self._exclude_hosts.first_match(host))
        return facts

    def _already_tracked(
        self, host: str, path: str, trackers: tuple[_Tracker, ...]
    ) -> tuple[Reason, str] | None:
        if host == self._tracking_domain:
            return Reason.OWN_DOMAIN, f"already a tracking link on {host}"
        if host in self._legacy:
            return Reason.LEGACY_DOMAIN, f"already a tracking link on the legacy domain {host}"
        for tracker in trackers:
            if tracker.paths.first_match(path):
                return Reason.CLICK_TRACKER, f"already wrapped by {tracker.name} ({host})"
        return None

    def _no_track_marker(self, marker_values: Mapping[str, str]) -> str | None:
        for name, value in marker_values.items():
            for marker in self._markers.get(name, ()):
                if _marker_matches(marker, value):
                    return marker.describe()
        return None


def _group_markers(markers: Sequence[NoTrackMarker]) -> dict[str, tuple[NoTrackMarker, ...]]:
    grouped: dict[str, tuple[NoTrackMarker, ...]] = {}
    for marker in markers:
        grouped[marker.attribute] = (*grouped.get(marker.attribute, ()), marker)
    return grouped


def _marker_matches(marker: NoTrackMarker, value: str) -> bool:
    if marker.match is MarkerMatch.PRESENT:
        return True
    expected = (marker.value or "").lower()
    if marker.match is MarkerMatch.EQUALS:
        return value.strip().lower() == expected
    return expected in value.lower().split()


def _compile_tracker(tracker: ClickTracker) -> _Tracker:
    return _Tracker(
        tracker.name, GlobSet(tracker.hosts), GlobSet(tracker.paths, case_sensitive=True)
    )


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
