"""The layout of a rules file, walked node by node: every key checked against the keys the loader
accepts (with a suggestion for a misspelt one), every value converted by its own method so that
an error names its line. tests/test_schema.py checks the JSON schema against ACCEPTED_KEYS."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rewriter.rules.errors import RulesError
from rewriter.rules.hostnames import certificate_name, host_glob, own_host, tracking_path
from rewriter.rules.model import (
    DEFAULT_CLICK_TRACKERS,
    DEFAULT_NO_TRACK,
    FETCHED_PRELOAD_LIST,
    Certificate,
    CertificateState,
    Checks,
    ClickSettings,
    ClickTracker,
    ClientIp,
    ContextMode,
    DkimPolicy,
    HostFacts,
    HstsPolicy,
    KeySource,
    KillSwitch,
    MailSettings,
    MarkerMatch,
    NoTrackMarker,
    Rules,
    ServeSettings,
)
from rewriter.rules.yaml_reader import (
    BOOL,
    DATE_TEXT,
    INT,
    KNOWN_TAGS,
    NULL,
    STR,
    TAG,
    TIMESTAMP,
    YAML11_BOOLS,
    kind,
)
from rewriter.web.urls import HostError, UrlError, parse_http_url

if TYPE_CHECKING:
    from yaml.nodes import Node


# The keys the loader accepts, by place. `[]` stands for any item of a list, `*` for any key of a
# mapping whose keys are names (the hosts). tests/test_schema.py checks the JSON schema against it.
ACCEPTED_KEYS: dict[str, tuple[str, ...]] = {
    "": (
        "version",
        "tracking",
        "keys",
        "links",
        "annotation",
        "hosts",
        "preload_list",
        "checks",
        "clicks",
        "messages",
        "serve",
    ),
    "tracking": ("domain", "scheme", "path", "legacy_domains", "context", "campaign"),
    "keys": ("file", "env"),
    "links": (
        "tags",
        "no_track",
        "builtin_no_track",
        "exclude_hosts",
        "exclude_paths",
        "click_trackers",
        "builtin_click_trackers",
    ),
    "links.no_track[]": ("attribute", "word", "equals"),
    "links.click_trackers[]": ("name", "hosts", "paths"),
    "annotation": ("enabled", "attribute"),
    "hosts.*": ("certificate", "hsts", "preloaded", "upgrade_insecure"),
    "hosts.*.certificate": ("status", "expires", "names", "requested"),
    "hosts.*.hsts": ("max_age", "include_subdomains", "preload_directive"),
    "preload_list": ("file", "source", "max_age_days"),
    "checks": (
        "clip_bytes",
        "max_links",
        "max_tracking_url_length",
        "expiry_warning_days",
        "fail_on",
    ),
    "clicks": (
        "store",
        "client_ip",
        "store_query",
        "scanner_user_agents",
        "queue_size",
        "burst_links",
        "burst_seconds",
        "duplicate_seconds",
    ),
    "messages": ("dkim_signed", "relay_networks", "max_message_bytes"),
    "serve": (
        "kill_switch",
        "fallback_url",
        "retired_keys",
        "legacy_link_map",
        "trusted_proxies",
    ),
    "serve.kill_switch": ("hosts", "urls"),
}

WARNING_CODES: tuple[str, ...] = ("clip", "max-links", "url-length", "https-possible")

# The closed sets of values, by place (same notation as ACCEPTED_KEYS).
ENUMS: dict[str, tuple[str, ...]] = {
    "tracking.scheme": ("http", "https"),
    "tracking.context": tuple(mode.value for mode in ContextMode),
    "hosts.*.certificate.status": tuple(state.value for state in CertificateState),
    "checks.fail_on[]": WARNING_CODES,
    "preload_list.source": ("bundled", "fetched"),
    "clicks.client_ip": tuple(mode.value for mode in ClientIp),
    "messages.dkim_signed": tuple(policy.value for policy in DkimPolicy),
}


_ATTRIBUTE_NAME = re.compile(r"[a-z_:][a-z0-9_.:-]*")
_TAG_GLOB = re.compile(r"[a-z0-9_.:*?-]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,16}")  # as tokens.keys.KEY_ID (rules do not import it)
_URL_GLOB = re.compile(r"(https?://|\*)\S*")


def _join(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def _describe(node: Node) -> str:
    if kind(node) == "mapping":
        return "a mapping"
    if kind(node) == "sequence":
        return "a list"
    if node.tag == NULL:
        return "nothing"
    return repr(node.value) if node.tag == STR else str(node.value)


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    key: Node
    value: Node


class Walker:
    """Walks the node tree of one rules file into Rules; every check raises RulesError."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.folder = Path(os.path.normpath(path.absolute().parent))

    def fail(self, node: Node | None, key: str, message: str) -> RulesError:
        line = node.start_mark.line + 1 if node is not None and node.start_mark else None
        return RulesError(self.path, line, key, message)

    def expected(self, node: Node, key: str, what: str) -> RulesError:
        if node.tag not in KNOWN_TAGS:
            return self.fail(node, key, f"expected {what} (got a value tagged {node.tag})")
        return self.fail(node, key, f"expected {what} (got {_describe(node)})")

    # --- shapes

    def entries(self, node: Node, key: str) -> list[_Entry]:
        if kind(node) != "mapping" or node.tag != TAG + "map":
            raise self.expected(node, key, "a mapping")
        seen: dict[str, Node] = {}
        out = []
        for key_node, value_node in node.value:
            if kind(key_node) != "scalar" or key_node.tag not in (STR, INT) or not key_node.value:
                raise self.fail(key_node, key, "keys must be plain names")
            name = key_node.value
            if name in seen:
                first = seen[name].start_mark.line + 1
                raise self.fail(
                    key_node, _join(key, name), f"duplicate key (first on line {first})"
                )
            seen[name] = key_node
            out.append(_Entry(name, key_node, value_node))
        return out

    def section(self, node: Node, key: str, place: str) -> dict[str, Node]:
        allowed = ACCEPTED_KEYS[place]
        out = {}
        for entry in self.entries(node, key):
            if entry.name not in allowed:
                message = f"unknown key ({_suggestion(entry.name, place)})"
                raise self.fail(entry.key, _join(key, entry.name), message)
            out[entry.name] = entry.value
        return out

    def items(self, node: Node, key: str, *, non_empty: bool = False) -> list[tuple[str, Node]]:
        if kind(node) != "sequence" or node.tag != TAG + "seq":
            raise self.expected(node, key, "a list")
        if non_empty and not node.value:
            raise self.fail(node, key, "must list at least one item")
        return [(f"{key}[{index}]", item) for index, item in enumerate(node.value)]

    # --- scalars

    def string(self, node: Node, key: str) -> str:
        """Text; a plain number counts as its text (`campaign: 2026`)."""
        if kind(node) != "scalar" or node.tag not in (STR, INT):
            raise self.expected(node, key, "a string")
        return node.value  # type: ignore[no-any-return]

    def integer(self, node: Node, key: str, minimum: int) -> int:
        if kind(node) != "scalar" or node.tag != INT:
            raise self.expected(node, key, "a whole number")
        try:
            value = int(node.value, 10)
        except ValueError:
            raise self.expected(node, key, "a whole number") from None
        if value < minimum:
            raise self.fail(node, key, f"must be at least {minimum} (got {value})")
        return value

    def boolean(self, node: Node, key: str) -> bool:
        if kind(node) == "scalar" and node.tag == BOOL:
            return node.value.lower() == "true"  # type: ignore[no-any-return]
        if kind(node) == "scalar" and node.tag == STR and node.value.lower() in YAML11_BOOLS:
            message = f"expected true or false (got {node.value!r}, which is read as text)"
            raise self.fail(node, key, message)
        raise self.expected(node, key, "true or false")

    def choice(self, node: Node, key: str, options: tuple[str, ...]) -> str:
        value = self.string(node, key)
        if value not in options:
            raise self.fail(node, key, f"must be one of {', '.join(options)} (got {value!r})")
        return value

    def date(self, node: Node, key: str) -> date:
        text = node.value if kind(node) == "scalar" and node.tag in (STR, TIMESTAMP) else ""
        if DATE_TEXT.fullmatch(text):
            try:
                return date.fromisoformat(text)
            except ValueError:
                raise self.fail(node, key, f"{text!r} is not a real date") from None
        raise self.expected(node, key, "a date like 2026-11-25")

    def host(self, node: Node, key: str, convert: Callable[[str], str] = own_host) -> str:
        text = self.string(node, key)
        try:
            return convert(text)
        except HostError as error:
            raise self.fail(node, key, str(error)) from None

    def relative_path(self, node: Node, key: str) -> Path:
        text = self.string(node, key)
        if not text.strip():
            raise self.fail(node, key, "expected a file name (got an empty string)")
        return Path(os.path.normpath(self.folder / text))

    def attribute_name(self, node: Node, key: str) -> str:
        name = self.string(node, key).lower()
        if not _ATTRIBUTE_NAME.fullmatch(name):
            raise self.fail(node, key, f"{name!r} is not a valid attribute name")
        return name

    # --- sections

    def rules(self, root: Node) -> Rules:
        top = self.section(root, "", "")
        if "version" in top and self.integer(top["version"], "version", 0) != 1:
            raise self.fail(top["version"], "version", "must be 1, the only version there is")
        if "tracking" not in top:
            raise self.fail(root, "tracking", "required: at least tracking.domain")
        changes = self.tracking(top["tracking"])
        if "keys" in top:
            changes["keys"] = self.keys(top["keys"])
        if "links" in top:
            changes.update(self.links(top["links"]))
        if "annotation" in top:
            changes.update(self.annotation(top["annotation"]))
        if "hosts" in top:
            changes["hosts"] = self.hosts(top["hosts"])
        if "preload_list" in top:
            changes.update(self.preload_list(top["preload_list"]))
        if "checks" in top:
            changes["checks"] = self.checks(top["checks"])
        if "clicks" in top:
            changes["clicks"] = self.clicks(top["clicks"])
        if "messages" in top:
            changes["mail"] = self.messages(top["messages"])
        if "serve" in top:
            changes["serve"] = self.serve(top["serve"])
        return Rules(**changes, source=self.path)

    def tracking(self, node: Node) -> dict[str, Any]:
        section = self.section(node, "tracking", "tracking")
        if "domain" not in section:
            raise self.fail(node, "tracking.domain", "required: your branded tracking domain")
        domain = self.host(section["domain"], "tracking.domain")
        out: dict[str, Any] = {"tracking_domain": domain}
        if "scheme" in section:
            out["scheme"] = self.choice(
                section["scheme"], "tracking.scheme", ENUMS["tracking.scheme"]
            )
        if "path" in section:
            out["path"] = self.path_prefix(section["path"])
        if "legacy_domains" in section:
            out["legacy_domains"] = self.legacy_domains(section["legacy_domains"], domain)
        context = ContextMode.PATH
        if "context" in section:
            choices = ENUMS["tracking.context"]
            context = out["context"] = ContextMode(
                self.choice(section["context"], "tracking.context", choices)
            )
        out.update(self.campaign(node, section, context))
        return out

    def path_prefix(self, node: Node) -> str:
        try:
            return tracking_path(self.string(node, "tracking.path"))
        except ValueError as error:
            raise self.fail(node, "tracking.path", str(error)) from None

    def legacy_domains(self, node: Node, domain: str) -> tuple[str, ...]:
        hosts: list[str] = []
        for key, item in self.items(node, "tracking.legacy_domains"):
            host = self.host(item, key)
            if host == domain:
                raise self.fail(item, key, f"{host!r} is the tracking domain itself")
            if host not in hosts:
                hosts.append(host)
        return tuple(hosts)

    def campaign(
        self, node: Node, section: dict[str, Node], context: ContextMode
    ) -> dict[str, Any]:
        if "campaign" not in section:
            if context is ContextMode.CAMPAIGN:
                raise self.fail(node, "tracking.campaign", "required when context is campaign")
            return {}
        value_node = section["campaign"]
        if context is not ContextMode.CAMPAIGN:
            message = f"used only when context is campaign (context is {context.value})"
            raise self.fail(value_node, "tracking.campaign", message)
        campaign = self.string(value_node, "tracking.campaign")
        if not campaign.strip() or len(campaign) > 100 or not campaign.isprintable():
            message = "must be 1 to 100 printable characters: it is carried in every link"
            raise self.fail(value_node, "tracking.campaign", message)
        return {"campaign": campaign}

    def keys(self, node: Node) -> KeySource:
        section = self.section(node, "keys", "keys")
        file = self.relative_path(section["file"], "keys.file") if "file" in section else None
        env = None
        if "env" in section:
            env = self.string(section["env"], "keys.env")
            if not _ENV_NAME.fullmatch(env):
                raise self.fail(section["env"], "keys.env", f"{env!r} is not a variable name")
        return KeySource(file=file, env=env)

    def links(self, node: Node) -> dict[str, Any]:
        section = self.section(node, "links", "links")
        out: dict[str, Any] = {}
        if "tags" in section:
            out["link_tags"] = self.tag_globs(section["tags"])
        if "exclude_hosts" in section:
            out["exclude_hosts"] = self.host_globs(section["exclude_hosts"], "links.exclude_hosts")
        if "exclude_paths" in section:
            out["exclude_paths"] = self.path_globs(section["exclude_paths"], "links.exclude_paths")
        builtin = self.flag(section, "builtin_no_track", "links")
        if "no_track" in section or not builtin:
            markers = self.markers(section["no_track"]) if "no_track" in section else ()
            out["no_track"] = _unique((DEFAULT_NO_TRACK if builtin else ()) + markers)
        builtin = self.flag(section, "builtin_click_trackers", "links")
        if "click_trackers" in section or not builtin:
            trackers = (
                self.trackers(section["click_trackers"]) if "click_trackers" in section else ()
            )
            out["click_trackers"] = _unique((DEFAULT_CLICK_TRACKERS if builtin else ()) + trackers)
        return out

    def flag(
        self, section: dict[str, Node], name: str, parent: str, *, default: bool = True
    ) -> bool:
        return self.boolean(section[name], f"{parent}.{name}") if name in section else default

    def tag_globs(self, node: Node) -> tuple[str, ...]:
        tags = []
        for key, item in self.items(node, "links.tags", non_empty=True):
            tag = self.string(item, key).lower()
            if not _TAG_GLOB.fullmatch(tag):
                raise self.fail(item, key, f"{tag!r} is not a tag name glob (like a, v:*)")
            tags.append(tag)
        return _unique(tuple(tags))

    def host_globs(self, node: Node, key: str, *, non_empty: bool = False) -> tuple[str, ...]:
        items = self.items(node, key, non_empty=non_empty)
        return _unique(tuple(self.host(item, item_key, host_glob) for item_key, item in items))

    def path_globs(self, node: Node, key: str, *, non_empty: bool = False) -> tuple[str, ...]:
        globs = []
        for item_key, item in self.items(node, key, non_empty=non_empty):
            glob = self.string(item, item_key)
            if not glob.startswith(("/", "*")):
                message = f"a path glob starts with / or * (got {glob!r}; did you mean '/{glob}'?)"
                raise self.fail(item, item_key, message)
            globs.append(glob)
        return _unique(tuple(globs))

    def markers(self, node: Node) -> tuple[NoTrackMarker, ...]:
        return tuple(self.marker(item, key) for key, item in self.items(node, "links.no_track"))

    def marker(self, node: Node, key: str) -> NoTrackMarker:
        section = self.section(node, key, "links.no_track[]")
        if "attribute" not in section:
            raise self.fail(node, f"{key}.attribute", "required: the attribute, like data-no-track")
        attribute = self.attribute_name(section["attribute"], f"{key}.attribute")
        if "word" in section and "equals" in section:
            raise self.fail(section["equals"], f"{key}.equals", "give word or equals, not both")
        if "word" in section:
            word = self.string(section["word"], f"{key}.word")
            if not word or word.split() != [word]:
                raise self.fail(section["word"], f"{key}.word", "must be one word, no spaces")
            return NoTrackMarker(attribute, MarkerMatch.WORD, word)
        if "equals" in section:
            value_node = section["equals"]
            if kind(value_node) != "scalar" or value_node.tag not in (STR, INT, BOOL):
                raise self.expected(value_node, f"{key}.equals", "a string")
            return NoTrackMarker(attribute, MarkerMatch.EQUALS, value_node.value)
        return NoTrackMarker(attribute)

    def trackers(self, node: Node) -> tuple[ClickTracker, ...]:
        return tuple(
            self.tracker(item, key) for key, item in self.items(node, "links.click_trackers")
        )

    def tracker(self, node: Node, key: str) -> ClickTracker:
        section = self.section(node, key, "links.click_trackers[]")
        for required in ("name", "hosts"):
            if required not in section:
                raise self.fail(node, f"{key}.{required}", "required")
        name = self.string(section["name"], f"{key}.name").strip()
        if not name:
            raise self.fail(section["name"], f"{key}.name", "must not be empty")
        hosts = self.host_globs(section["hosts"], f"{key}.hosts", non_empty=True)
        if "paths" not in section:
            return ClickTracker(name, hosts)
        return ClickTracker(
            name, hosts, self.path_globs(section["paths"], f"{key}.paths", non_empty=True)
        )

    def annotation(self, node: Node) -> dict[str, Any]:
        section = self.section(node, "annotation", "annotation")
        out: dict[str, Any] = {}
        if "enabled" in section:
            out["annotate"] = self.boolean(section["enabled"], "annotation.enabled")
        if "attribute" in section:
            out["annotation_attribute"] = self.attribute_name(
                section["attribute"], "annotation.attribute"
            )
        return out

    def hosts(self, node: Node) -> tuple[HostFacts, ...]:
        facts: dict[str, tuple[HostFacts, Node]] = {}
        for entry in self.entries(node, "hosts"):
            key = f"hosts[{entry.name}]"
            name = self.host(entry.key, key)
            if name in facts:
                first = facts[name][1].start_mark.line + 1
                raise self.fail(entry.key, key, f"the same host as on line {first}")
            facts[name] = (self.host_facts(entry.value, key, name), entry.key)
        return tuple(facts[name][0] for name in sorted(facts))

    def host_facts(self, node: Node, key: str, name: str) -> HostFacts:
        section = self.section(node, key, "hosts.*")
        certificate = hsts = preloaded = None
        if "certificate" in section:
            certificate = self.certificate(section["certificate"], f"{key}.certificate")
        if "hsts" in section:
            hsts = self.hsts(section["hsts"], f"{key}.hsts")
        if "preloaded" in section:
            preloaded = self.boolean(section["preloaded"], f"{key}.preloaded")
        upgrade = self.flag(section, "upgrade_insecure", key, default=False)
        return HostFacts(name, certificate, hsts, preloaded, upgrade)

    def certificate(self, node: Node, key: str) -> Certificate:
        section = self.section(node, key, "hosts.*.certificate")
        if "status" not in section:
            raise self.fail(node, f"{key}.status", "required: active, pending or none")
        choices = ENUMS["hosts.*.certificate.status"]
        state = CertificateState(self.choice(section["status"], f"{key}.status", choices))
        allowed = {
            "expires": CertificateState.ACTIVE,
            "names": CertificateState.ACTIVE,
            "requested": CertificateState.PENDING,
        }
        for name, needed in allowed.items():
            if name in section and state is not needed:
                message = f"only with status {needed.value} (status is {state.value})"
                raise self.fail(section[name], f"{key}.{name}", message)
        if state is CertificateState.PENDING and "requested" not in section:
            message = "required with status pending: the date the certificate was requested"
            raise self.fail(section["status"], f"{key}.requested", message)
        expires = self.date(section["expires"], f"{key}.expires") if "expires" in section else None
        requested = (
            self.date(section["requested"], f"{key}.requested") if "requested" in section else None
        )
        names = (
            self.host_globs_strict(section["names"], f"{key}.names") if "names" in section else ()
        )
        return Certificate(state, expires=expires, names=names, requested=requested)

    def host_globs_strict(self, node: Node, key: str) -> tuple[str, ...]:
        items = self.items(node, key)
        return _unique(
            tuple(self.host(item, item_key, certificate_name) for item_key, item in items)
        )

    def hsts(self, node: Node, key: str) -> HstsPolicy:
        section = self.section(node, key, "hosts.*.hsts")
        if "max_age" not in section:
            raise self.fail(
                node, f"{key}.max_age", "required: the max-age the header sends, in seconds"
            )
        max_age = self.integer(section["max_age"], f"{key}.max_age", 0)
        subdomains = (
            self.boolean(section["include_subdomains"], f"{key}.include_subdomains")
            if "include_subdomains" in section
            else False
        )
        preload = (
            self.boolean(section["preload_directive"], f"{key}.preload_directive")
            if "preload_directive" in section
            else False
        )
        return HstsPolicy(max_age, subdomains, preload)

    def preload_list(self, node: Node) -> dict[str, Any]:
        section = self.section(node, "preload_list", "preload_list")
        out: dict[str, Any] = {}
        if "source" in section:
            choices = ENUMS["preload_list.source"]
            source = self.choice(section["source"], "preload_list.source", choices)
            if "file" in section:
                message = "give file or source, not both"
                raise self.fail(section["source"], "preload_list.source", message)
            if source == "fetched":
                out["preload_list"] = FETCHED_PRELOAD_LIST
        if "file" in section:
            path = self.relative_path(section["file"], "preload_list.file")
            if not path.is_file():
                raise self.fail(section["file"], "preload_list.file", f"no such file: {path}")
            out["preload_list"] = path
        if "max_age_days" in section:
            out["preload_list_max_age_days"] = self.integer(
                section["max_age_days"], "preload_list.max_age_days", 0
            )
        return out

    def checks(self, node: Node) -> Checks:
        section = self.section(node, "checks", "checks")
        out: dict[str, Any] = {}
        minimums = {
            "clip_bytes": 1,
            "max_links": 1,
            "max_tracking_url_length": 1,
            "expiry_warning_days": 0,
        }
        for name, minimum in minimums.items():
            if name in section:
                out[name] = self.integer(section[name], f"checks.{name}", minimum)
        if "fail_on" in section:
            codes = (
                self.choice(item, key, WARNING_CODES)
                for key, item in self.items(section["fail_on"], "checks.fail_on")
            )
            out["fail_on_warnings"] = _unique(tuple(codes))
        return Checks(**out)

    # --- clicks (issue 12)

    def clicks(self, node: Node) -> ClickSettings:
        section = self.section(node, "clicks", "clicks")
        out: dict[str, Any] = {}
        if "store" in section:
            out["store"] = self.store_url(section["store"], "clicks.store")
        if "client_ip" in section:
            choices = ENUMS["clicks.client_ip"]
            out["client_ip"] = ClientIp(
                self.choice(section["client_ip"], "clicks.client_ip", choices)
            )
        if "store_query" in section:
            out["store_query"] = self.boolean(section["store_query"], "clicks.store_query")
        if "scanner_user_agents" in section:
            out["scanner_user_agents"] = self.user_agent_patterns(section["scanner_user_agents"])
        minimums = {"queue_size": 1, "burst_links": 2, "burst_seconds": 1, "duplicate_seconds": 0}
        for name, minimum in minimums.items():
            if name in section:
                out[name] = self.integer(section[name], f"clicks.{name}", minimum)
        return ClickSettings(**out)

    def store_url(self, node: Node, key: str) -> str:
        """A click store URL; a relative file path is made relative to this rules file."""
        text = self.string(node, key).strip()
        for scheme in ("sqlite:", "jsonl:"):
            if text.startswith(scheme):
                path = text.removeprefix(scheme)
                if scheme == "sqlite:" and path.startswith("//"):
                    path = path[2:]  # sqlite:///var/x is /var/x, as for file: URLs
                if not path.strip():
                    return text  # the default file (sqlite:); stdout is jsonl:-
                if path == "-":
                    return "jsonl:-" if scheme == "jsonl:" else self._bad_store(node, key, text)
                return scheme + os.path.normpath(self.folder / path)
        if text.startswith(("postgresql://", "postgres://")):
            return text
        return self._bad_store(node, key, text)

    def _bad_store(self, node: Node, key: str, text: str) -> str:
        message = (
            f"{text!r} is not a click store: use sqlite:///PATH, postgresql://..., "
            "jsonl:PATH or jsonl:-"
        )
        raise self.fail(node, key, message)

    def user_agent_patterns(self, node: Node) -> tuple[str, ...]:
        patterns = []
        for key, item in self.items(node, "clicks.scanner_user_agents"):
            pattern = self.string(item, key)
            if not pattern.strip() or not pattern.isprintable():
                raise self.fail(item, key, "must be printable text: a part of a User-Agent")
            patterns.append(pattern)
        return _unique(tuple(patterns))

    # --- whole messages and the relay

    def messages(self, node: Node) -> MailSettings:
        section = self.section(node, "messages", "messages")
        out: dict[str, Any] = {}
        if "dkim_signed" in section:
            choices = ENUMS["messages.dkim_signed"]
            choice = self.choice(section["dkim_signed"], "messages.dkim_signed", choices)
            out["dkim_signed"] = DkimPolicy(choice)
        if "relay_networks" in section:
            out["relay_networks"] = tuple(
                self.network(item, key)
                for key, item in self.items(section["relay_networks"], "messages.relay_networks")
            )
        if "max_message_bytes" in section:
            key = "messages.max_message_bytes"
            out["max_message_bytes"] = self.integer(section["max_message_bytes"], key, 1024)
        return MailSettings(**out)

    def network(self, node: Node, key: str) -> str:
        import ipaddress

        text = self.string(node, key)
        try:
            return str(ipaddress.ip_network(text, strict=True))
        except ValueError as error:
            message = f"not a network like 10.0.0.0/8 or ::1/128 ({error})"
            raise self.fail(node, key, message) from None

    def serve(self, node: Node) -> ServeSettings:
        section = self.section(node, "serve", "serve")
        out: dict[str, Any] = {}
        if "kill_switch" in section:
            out["kill_switch"] = self.kill_switch(section["kill_switch"])
        if "fallback_url" in section:
            out["fallback_url"] = self.http_url(section["fallback_url"], "serve.fallback_url")
        if "retired_keys" in section:
            ids = []
            for key, item in self.items(section["retired_keys"], "serve.retired_keys"):
                key_id = self.string(item, key)
                if not _KEY_ID.fullmatch(key_id):
                    message = f"{key_id!r} is not a key id (1-16 of A-Z a-z 0-9 _ -)"
                    raise self.fail(item, key, message)
                ids.append(key_id)
            out["retired_keys"] = _unique(tuple(ids))
        if "legacy_link_map" in section:
            # Read (and its absence reported) by the service only: rewriting and checking
            # never need the file, and the rules travel to machines that do not have it.
            path = self.relative_path(section["legacy_link_map"], "serve.legacy_link_map")
            out["legacy_link_map"] = path
        if "trusted_proxies" in section:
            out["trusted_proxies"] = self.networks(section["trusted_proxies"])
        return ServeSettings(**out)

    def kill_switch(self, node: Node) -> KillSwitch:
        section = self.section(node, "serve.kill_switch", "serve.kill_switch")
        hosts: tuple[str, ...] = ()
        urls: list[str] = []
        if "hosts" in section:
            hosts = self.host_globs(section["hosts"], "serve.kill_switch.hosts")
        for key, item in (
            self.items(section["urls"], "serve.kill_switch.urls") if "urls" in section else []
        ):
            glob = self.string(item, key)
            if not _URL_GLOB.fullmatch(glob):
                message = f"a URL glob starts with http://, https:// or * (got {glob!r})"
                raise self.fail(item, key, message)
            urls.append(glob)
        return KillSwitch(hosts, _unique(tuple(urls)))

    def http_url(self, node: Node, key: str) -> str:
        text = self.string(node, key)
        try:
            return parse_http_url(text).href
        except UrlError as error:
            raise self.fail(node, key, f"not an http(s) URL: {error}") from None

    def networks(self, node: Node) -> tuple[str, ...]:
        import ipaddress

        out = []
        for key, item in self.items(node, "serve.trusted_proxies"):
            text = self.string(item, key)
            try:
                out.append(str(ipaddress.ip_network(text.strip(), strict=False)))
            except ValueError:
                message = f"{text!r} is not an IP address or network (like 10.0.0.0/8)"
                raise self.fail(item, key, message) from None
        return _unique(tuple(out))


_T = TypeVar("_T")


def _unique(values: tuple[_T, ...]) -> tuple[_T, ...]:
    return tuple(dict.fromkeys(values))


def _suggestion(name: str, place: str) -> str:
    import difflib  # only a rules file with a mistake needs it

    allowed = ACCEPTED_KEYS[place]
    close = difflib.get_close_matches(name, allowed, n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    homes = [
        other
        for other, keys in ACCEPTED_KEYS.items()
        if name in keys and other != place and "*" not in other and "[" not in other
    ]
    if homes:
        return f"it belongs under {homes[0] or 'the top level'}"
    return f"expected one of: {', '.join(allowed)}"
