"""The rules: what to track, where tracking links point, and the facts about the user's own hosts.

This module holds the validated, immutable shape of a rule set and its defaults. Reading a YAML
file into it (with file:line errors) lives in `rulesfile`.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path

MAX_RULES_BYTES = 1 << 20  # 1 MiB: a rules file is a few kilobytes
# The shape of the classes below; part of the key of remembered (pickled) rule sets, so that a
# rule set remembered by an older layout is validated again. Add one at every change of shape.
RULES_LAYOUT = 2

# `preload_list: {source: fetched}` (and `--preload-list fetched`): the list `rewriter
# preload-list fetch` kept. A path no file can have (a NUL is never part of a file name), so it
# travels wherever a list's path goes (options, the settings sent to worker processes).
FETCHED_PRELOAD_LIST = Path("\0fetched")


class MarkerMatch(StrEnum):
    """How a no-track marker matches an attribute."""

    PRESENT = "present"  # the attribute exists, whatever its value
    EQUALS = "equals"  # the value equals `value` (ASCII case-insensitive)
    WORD = "word"  # `value` is one of the whitespace-separated words (for `class`)


@dataclass(frozen=True, slots=True)
class NoTrackMarker:
    """A convention users already write to say "do not track this link"."""

    attribute: str  # lower case
    match: MarkerMatch = MarkerMatch.PRESENT
    value: str | None = None

    def describe(self) -> str:
        if self.match is MarkerMatch.PRESENT:
            return self.attribute
        return f'{self.attribute}="{self.value}"'


DEFAULT_NO_TRACK: tuple[NoTrackMarker, ...] = (
    NoTrackMarker("class", MarkerMatch.WORD, "mktNoTrack"),  # Marketo
    NoTrackMarker("clicktracking", MarkerMatch.EQUALS, "off"),  # SendGrid
    NoTrackMarker("data-pm-no-track"),  # Postmark
    NoTrackMarker("ses:no-track"),  # Amazon SES
    NoTrackMarker("mc:disable-tracking"),  # Mailchimp Transactional
    NoTrackMarker("data-mautic-disable-tracking"),  # Mautic
    NoTrackMarker("mautic:disable-tracking"),  # Mautic
    NoTrackMarker("class", MarkerMatch.WORD, "untracked"),  # customer.io
    NoTrackMarker("data-msys-clicktrack", MarkerMatch.EQUALS, "0"),  # SparkPost
    NoTrackMarker("autotrack", MarkerMatch.EQUALS, "false"),  # MessageGears
)


@dataclass(frozen=True, slots=True)
class ClickTracker:
    """A known click-tracking service: links on these hosts (and paths) are already wrapped."""

    name: str
    hosts: tuple[str, ...]  # host globs, lower case
    paths: tuple[str, ...] = ("*",)  # path globs


DEFAULT_CLICK_TRACKERS: tuple[ClickTracker, ...] = (
    ClickTracker("SendGrid", ("*.ct.sendgrid.net",)),
    ClickTracker("Mailchimp", ("*.list-manage.com", "list-manage.com"), ("/track/click*",)),
    ClickTracker(
        "Mailchimp Transactional", ("mandrillapp.com", "*.mandrillapp.com"), ("/track/click*",)
    ),
    ClickTracker("Marketo", ("*.mktoweb.com", "*.mktoedge.com", "*.marketo.com"), ("/dc/*",)),
    ClickTracker("Outlook Safe Links", ("*.safelinks.protection.outlook.com",)),
    ClickTracker("Proofpoint URL Defense", ("urldefense.com", "urldefense.proofpoint.com")),
    ClickTracker("Mimecast", ("protect-*.mimecast.com", "protect.mimecast.com")),
    ClickTracker("Amazon SES", ("*.awstrack.me",)),
    ClickTracker("Postmark", ("click.pstmrk.it", "*.pstmrk.it")),
    ClickTracker("SparkPost", ("*.sparkpostmail.com", "spgo.io", "*.spgo.io")),
    ClickTracker("Mailjet", ("*.mjt.lu",)),
    ClickTracker("HubSpot", ("*.hubspotlinks.com", "*.hubspotlinksstarter.com")),
    ClickTracker("Salesforce Marketing Cloud", ("click.exacttarget.com", "*.exct.net")),
    ClickTracker("Constant Contact", ("*.rs6.net",)),
    ClickTracker("Campaign Monitor", ("*.createsend1.com", "*.cmail19.com", "*.cmail20.com")),
    ClickTracker("Klaviyo", ("trk.klclick.com", "*.klclick.com", "*.klclick1.com")),
    ClickTracker("Iterable", ("links.iterable.com",)),
    ClickTracker("Mailgun", ("*.mailgun.org",), ("/c/*",)),
    ClickTracker("ActiveCampaign", ("*.lt.acemlna.com", "*.lt.acemlnb.com", "*.lt.acemlnc.com")),
)

DEFAULT_LINK_TAGS: tuple[str, ...] = ("a", "area", "v:*")


class CertificateState(StrEnum):
    ACTIVE = "active"
    PENDING = "pending"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Certificate:
    """What the rules say about the certificate a host of the user's serves."""

    state: CertificateState
    expires: date | None = None  # active: the declared expiry
    names: tuple[str, ...] = ()  # active: the names it covers (empty: the host itself)
    requested: date | None = None  # pending: when Secured Domains was requested


@dataclass(frozen=True, slots=True)
class HstsPolicy:
    """The Strict-Transport-Security header a host sends."""

    max_age: int
    include_subdomains: bool = False
    preload_directive: bool = False  # sends `preload`; being on the list is `HostFacts.preloaded`


@dataclass(frozen=True, slots=True)
class HostFacts:
    """Everything the rules declare about one of the user's own hosts."""

    name: str  # normalised: lower case, no trailing dot, ASCII (punycode)
    certificate: Certificate | None = None  # None: not declared
    hsts: HstsPolicy | None = None  # None: sends no HSTS header (or not declared)
    preloaded: bool | None = None  # None: ask the preload list
    upgrade_insecure: bool = False  # the service answers plain HTTP with a 308 to HTTPS


@dataclass(frozen=True, slots=True)
class Checks:
    """Thresholds for the warnings of `check`; each warning can be made a failure."""

    clip_bytes: int = 102_400  # Gmail clips messages larger than 102 KB
    max_links: int = 1_000  # SendGrid tracks at most 1,000 links
    max_tracking_url_length: int = 255  # Mandrill skips links longer than 255 bytes
    expiry_warning_days: int = 14
    fail_on_warnings: tuple[str, ...] = ()  # warning codes treated as failures


# --- clicks (issue 12): how the tracking service records clicks, and how reports read them.


class ClientIp(StrEnum):
    """How much of a client's address a click record keeps."""

    NONE = "none"  # nothing: no source, so no burst or duplicate labels
    TRUNCATED = "truncated"  # the /24 network (IPv4) or /48 (IPv6)
    FULL = "full"


@dataclass(frozen=True, slots=True)
class ClickSettings:
    """Where clicks are stored, what a record keeps, and the thresholds of read-time labels."""

    store: str | None = None  # a store URL (sqlite:, postgresql://, jsonl:); None: the default
    client_ip: ClientIp = ClientIp.TRUNCATED
    store_query: bool = False  # the destination's query may hold personal data
    scanner_user_agents: tuple[str, ...] = ()  # substrings, added to the built-in list
    queue_size: int = 10_000  # clicks waiting for the store, per worker, before drops
    burst_links: int = 3  # distinct links of one context from one source...
    burst_seconds: int = 2  # ...within this many seconds: a scanner
    duplicate_seconds: int = 3_600  # the same source and link within this: counted once


@dataclass(frozen=True, slots=True)
class KeySource:
    """Where the signing keys come from. The keys themselves never live in the rules."""

    file: Path | None = None
    env: str | None = None


class ContextMode(StrEnum):
    PATH = "path"  # the template's path relative to the folder given
    CAMPAIGN = "campaign"  # `Rules.campaign`
    MESSAGE = "message"  # a message's X-Rewriter-Context, else a digest of its Message-ID
    NONE = "none"


# --- whole messages and the relay (`messages:` in the rules)


class DkimPolicy(StrEnum):
    """What to do with a message that already carries a DKIM-Signature."""

    REFUSE = "refuse"  # a failed file; the relay answers 550 5.7.0
    WARN = "warn"  # rewrite anyway (the signature will not verify), with a warning


DEFAULT_RELAY_NETWORKS: tuple[str, ...] = ("127.0.0.0/8", "::1/128")


@dataclass(frozen=True, slots=True)
class MailSettings:
    """Messages (`.eml`) and the SMTP relay."""

    dkim_signed: DkimPolicy = DkimPolicy.REFUSE
    relay_networks: tuple[str, ...] = DEFAULT_RELAY_NETWORKS  # clients the relay serves (CIDR)
    max_message_bytes: int = 25 << 20  # the relay's SIZE limit, advertised in EHLO


@dataclass(frozen=True, slots=True)
class KillSwitch:
    """Destinations the service no longer redirects to (a leaked key, a phishing page)."""

    hosts: tuple[str, ...] = ()  # destination host globs, lower case
    urls: tuple[str, ...] = ()  # destination URL globs (the whole serialised URL)


@dataclass(frozen=True, slots=True)
class ServeSettings:
    """What the tracking service (`rewriter serve`) needs beyond the tracking domain."""

    kill_switch: KillSwitch = field(default_factory=KillSwitch)
    fallback_url: str | None = None  # for unknown legacy paths and retired keys' tokens
    retired_keys: tuple[str, ...] = ()  # key ids whose tokens go to the fallback
    legacy_link_map: Path | None = None  # CSV of the previous platform's links
    trusted_proxies: tuple[str, ...] = ()  # networks (CIDR) whose X-Forwarded-* are believed


@dataclass(frozen=True, slots=True)
class Rules:
    """A validated rule set."""

    tracking_domain: str  # normalised host
    scheme: str = "http"
    path: str = "/l"  # prefix of every tracking link's path, no trailing slash
    legacy_domains: tuple[str, ...] = ()
    context: ContextMode = ContextMode.PATH
    campaign: str | None = None
    keys: KeySource = field(default_factory=KeySource)
    link_tags: tuple[str, ...] = DEFAULT_LINK_TAGS  # tag-name globs, lower case
    no_track: tuple[NoTrackMarker, ...] = DEFAULT_NO_TRACK
    exclude_hosts: tuple[str, ...] = ()  # host globs
    exclude_paths: tuple[str, ...] = ()  # path globs
    click_trackers: tuple[ClickTracker, ...] = DEFAULT_CLICK_TRACKERS
    annotate: bool = True
    annotation_attribute: str = "data-link-security"
    hosts: tuple[HostFacts, ...] = ()
    preload_list: Path | None = None
    preload_list_max_age_days: int = 180
    checks: Checks = field(default_factory=Checks)
    mail: MailSettings = field(default_factory=MailSettings)
    clicks: ClickSettings = field(default_factory=ClickSettings)
    serve: ServeSettings = field(default_factory=ServeSettings)
    source: Path | None = None  # the file these rules were read from

    @property
    def tracking_prefix(self) -> str:
        """Every tracking link this rule set makes starts with this."""
        return f"{self.scheme}://{self.tracking_domain}{self.path}/"

    def digest(self) -> str:
        """A stable digest of everything that changes output (not the source path)."""
        import json  # here: the one-message path never needs it

        data = asdict(self)
        data.pop("source")
        text = json.dumps(data, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()
