"""Reading a YAML rules file into `rules.Rules`, strictly, with errors a person can act on.

Every error is a `RulesError` naming the file, the line and the dotted key
(`rules/acme.yaml:7: tracking.scheme: must be one of http, https (got 'ftp')`).

The YAML is read in three steps: at most 1 MiB of bytes, decoded as UTF-8; composed into a node tree
by a loader that refuses anchors and aliases and resolves only YAML 1.2 core scalars (`off`, `no`,
`yes` and `on` stay text, `0644` is decimal, `1:20` is text); then walked against the layout below,
which converts each node itself so that every value keeps its line.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any, TypeVar

from rewriter.rules.model import (
    DEFAULT_CLICK_TRACKERS,
    DEFAULT_NO_TRACK,
    FETCHED_PRELOAD_LIST,
    MAX_RULES_BYTES,
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
from rewriter.web.urls import HostError, UrlError, normalize_host, parse_http_url

if TYPE_CHECKING:
    from yaml.nodes import Node

RULES_FILENAME = "rewriter.yaml"
_MAX_DEPTH = 20  # the layout nests 6 deep; anything far deeper is not a rules file
_MAX_NODES = 10_000  # a large rules file holds a few hundred values; this bounds the work to ~1 s

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

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _BOOL, _NULL, _TIMESTAMP = (
    _TAG + n for n in ("str", "int", "bool", "null", "timestamp")
)
_KNOWN_TAGS = frozenset({_STR, _INT, _BOOL, _NULL, _TIMESTAMP, _TAG + "seq", _TAG + "map"})
_BOOL_TEXT = re.compile(r"true|True|TRUE|false|False|FALSE")
_INT_TEXT = re.compile(r"[-+]?[0-9]+")
_NULL_TEXT = re.compile(r"~|null|Null|NULL|")
_YAML11_BOOLS = frozenset({"yes", "no", "on", "off", "y", "n"})
_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ATTRIBUTE_NAME = re.compile(r"[a-z_:][a-z0-9_.:-]*")
_TAG_GLOB = re.compile(r"[a-z0-9_.:*?-]+")
_HOST_GLOB_LABEL = re.compile(r"[a-z0-9_*?-]+")
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEX_NUMBER = re.compile(r"0[xX][0-9a-fA-F]*")
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,16}")  # as tokens.keys.KEY_ID (rules do not import it)
_URL_GLOB = re.compile(r"(https?://|\*)\S*")


class RulesError(Exception):
    """A rules file that cannot be used. `line` and `column` are 1-based or None; `key` is the
    dotted path of the offending key (`tracking.scheme`, `links.no_track[0].word`), or "" when
    the problem is not about one key (a syntax error, an unreadable file)."""

    def __init__(
        self, file: Path, line: int | None, key: str, message: str, column: int | None = None
    ) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.message = message

    def __str__(self) -> str:
        place = str(self.file)
        if self.line is not None:
            place += f":{self.line}"
            if self.column is not None:
                place += f":{self.column}"
        return f"{place}: {self.key}: {self.message}" if self.key else f"{place}: {self.message}"


def find_rules(start: Path) -> Path | None:
    """`rewriter.yaml` in `start` (a folder, or a file's folder) or the nearest parent."""
    folder = start.resolve()
    if not folder.is_dir():
        folder = folder.parent
    for candidate in (folder, *folder.parents):
        if (candidate / RULES_FILENAME).is_file():
            return candidate / RULES_FILENAME
    return None


def load_rules(path: Path) -> Rules:
    """Read and validate a rules file. Raises RulesError."""
    root = _compose(_read_text(path), path)
    if root is None:
        raise RulesError(path, None, "tracking.domain", "required, but the file is empty")
    return _Walker(path).rules(root)


@dataclass(frozen=True, slots=True)
class HostLines:
    """Where a rules file speaks of one host (1-based lines): its key under `hosts:` (or where
    `tracking.domain` or `tracking.legacy_domains` names it), and its certificate and hsts keys."""

    host: int
    certificate: int | None = None
    hsts: int | None = None


def host_lines(path: Path) -> dict[str, HostLines]:
    """The lines of each host a rules file names, by normalised name (for reports that point
    at a declaration, like the probe's). Meant for a file that loads; names that do not
    normalise are left out. Raises RulesError when the file cannot be read as YAML."""
    root = _compose(_read_text(path), path)
    found: dict[str, HostLines] = {}
    if root is None or _kind(root) != "mapping":
        return found
    top = {key.value: value for key, value in root.value if _kind(key) == "scalar"}
    tracking = top.get("tracking")
    if tracking is not None and _kind(tracking) == "mapping":
        for key, value in tracking.value:
            if key.value == "domain":
                _note_host(found, value, HostLines(_line(value)))
            elif key.value == "legacy_domains" and _kind(value) == "sequence":
                for item in value.value:
                    _note_host(found, item, HostLines(_line(item)))
    hosts = top.get("hosts")
    if hosts is not None and _kind(hosts) == "mapping":
        for key, value in hosts.value:
            keys = {}
            if _kind(value) == "mapping":
                keys = {k.value: _line(k) for k, _ in value.value if _kind(k) == "scalar"}
            lines = HostLines(_line(key), keys.get("certificate"), keys.get("hsts"))
            _note_host(found, key, lines)
    return found


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _note_host(found: dict[str, HostLines], node: Node, lines: HostLines) -> None:
    if _kind(node) != "scalar" or not isinstance(node.value, str):
        return
    with contextlib.suppress(HostError):
        found[own_host(node.value)] = lines


def read_document(path: Path) -> Any:
    """The rules file as plain data (dicts, lists, str, int, bool, None), read by the same strict
    loader, without validation: what an editor's schema sees. Raises RulesError."""
    root = _compose(_read_text(path), path)
    return None if root is None else _plain(root)


def starter_rules(domain: str, key_file: str) -> str:
    """The commented starter rules that `rewriter init` writes. Raises HostError for a domain
    that cannot be a tracking domain (an IP address, a public suffix, not a host name)."""
    return _STARTER.substitute(domain=_yaml_text(own_host(domain)), key_file=_yaml_text(key_file))


def _yaml_text(text: str) -> str:
    """`text` as a YAML scalar that reads back as exactly this string."""
    resolvable = _BOOL_TEXT, _INT_TEXT, _NULL_TEXT
    if re.fullmatch(r"[A-Za-z0-9_/][A-Za-z0-9_./-]*", text) and not any(
        pattern.fullmatch(text) for pattern in resolvable
    ):
        return text
    return json.dumps(text)  # a JSON string is a YAML double-quoted scalar


_STARTER = Template("""\
# rewriter rules: where tracking links point, and the facts about your own hosts.
# Every key is described in rules/example.yaml of the rewriter project and in the JSON schema
# that ships with the package (rewriter/rules.schema.json). Only true and false are booleans.
version: 1

tracking:
  # Your branded tracking domain: a CNAME you own, pointing at your tracking server.
  domain: $domain
  scheme: http          # http (as Marketo keeps it), or https once its certificate is active
  path: /l              # every tracking link starts with <scheme>://<domain>/l/
  context: path         # the attribution in each link: path (of the template), campaign or none
  # campaign: spring-sale                 # required when context is campaign
  # legacy_domains: [click.example.com]   # older tracking domains: never wrapped again

keys:
  # The signing keys, relative to this file. Keep the file private (mode 0600), out of git.
  file: $key_file
  # env: REWRITER_KEYS  # or an environment variable holding the keys, used when it is set

# links:
#   tags: [a, area, "v:*"]                # add button for Inky templates
#   exclude_hosts: ["*.internal.example.com"]
#   exclude_paths: ["/unsubscribe*"]

# Describe your own hosts (the tracking domain, landing pages, their parent domain) so that
# `rewriter check` can tell whether a click will be served securely.
# hosts:
#   $domain:
#     certificate: {status: pending, requested: 2026-11-25}   # active | pending | none
#     hsts: {max_age: 31536000, include_subdomains: false, preload_directive: false}
#     preloaded: false                    # on the browsers' HSTS preload list?
""")


# ----------------------------------------------------------------------------- reading YAML


def _read_text(path: Path) -> str:
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_RULES_BYTES + 1)  # a 1 GB file is refused without reading it
    except OSError as error:
        raise RulesError(path, None, "", f"cannot read: {error.strerror or error}") from None
    if len(data) > MAX_RULES_BYTES:
        raise RulesError(path, None, "", f"larger than {MAX_RULES_BYTES:,} bytes: not a rules file")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        message = f"not UTF-8 (byte 0x{data[error.start]:02x}): save the file as UTF-8"
        raise RulesError(path, line, "", message, column) from None


class _Refused(Exception):
    """A YAML feature the rules loader does not allow, at a place in the file."""

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.line, self.column, self.message = line, column, message


def _compose(text: str, path: Path) -> Node | None:
    import yaml

    try:
        loader = _loader_class()(text)
        try:
            return loader.get_single_node()  # type: ignore[no-any-return]
        finally:
            loader.dispose()
    except _Refused as error:
        raise RulesError(path, error.line, "", error.message, error.column) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "not valid YAML"
        if problem.startswith("but ") and error.context:  # "... a single document, but found ..."
            problem = f"{error.context}, {problem}"
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise RulesError(path, line, "", f"YAML syntax error: {problem}", column) from None
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        column = error.position - (text.rfind("\n", 0, error.position) + 1) + 1
        message = f"control character U+{error.character:04X} is not allowed in YAML"
        raise RulesError(path, line, "", message, column) from None
    except RecursionError:  # guarded by _MAX_DEPTH; kept so no traceback can ever escape
        raise RulesError(path, None, "", "nested too deeply") from None


@functools.cache
def _loader_class() -> type[Any]:
    """A composing loader: YAML 1.2 core scalars, no anchors, no aliases, bounded depth."""
    from yaml.composer import Composer
    from yaml.events import AliasEvent
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.resolver import BaseResolver
    from yaml.scanner import Scanner

    class CoreResolver(BaseResolver):
        pass  # starts with no implicit resolvers: only the ones added below

    CoreResolver.add_implicit_resolver(_BOOL, _anchored(_BOOL_TEXT), list("tTfF"))
    CoreResolver.add_implicit_resolver(_INT, _anchored(_INT_TEXT), list("-+0123456789"))
    CoreResolver.add_implicit_resolver(_NULL, _anchored(_NULL_TEXT), ["~", "n", "N", ""])

    class StrictLoader(Reader, Scanner, Parser, Composer, CoreResolver):
        def __init__(self, text: str) -> None:
            Reader.__init__(self, text)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)
            CoreResolver.__init__(self)
            self.depth = self.nodes = 0

        def compose_node(self, parent: Node | None, index: int) -> Node | None:
            event = self.peek_event()  # type: ignore[no-untyped-call]
            mark = event.start_mark
            if isinstance(event, AliasEvent):
                raise _Refused(mark.line + 1, mark.column + 1, "aliases (*name) are not allowed")
            if getattr(event, "anchor", None) is not None:
                raise _Refused(mark.line + 1, mark.column + 1, "anchors (&name) are not allowed")
            if self.depth >= _MAX_DEPTH:
                raise _Refused(mark.line + 1, mark.column + 1, "nested too deeply")
            self.nodes += 1
            if self.nodes > _MAX_NODES:
                message = f"more than {_MAX_NODES:,} values: not a rules file"
                raise _Refused(mark.line + 1, mark.column + 1, message)
            self.depth += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    return StrictLoader


def _anchored(pattern: re.Pattern[str]) -> re.Pattern[str]:
    return re.compile(rf"^(?:{pattern.pattern})$")


def _plain(node: Node) -> Any:
    if _kind(node) == "mapping":
        return {_plain(key): _plain(value) for key, value in node.value}
    if _kind(node) == "sequence":
        return [_plain(item) for item in node.value]
    if node.tag == _INT and _INT_TEXT.fullmatch(node.value):
        return int(node.value)
    if node.tag == _BOOL:
        return node.value.lower() == "true"
    return None if node.tag == _NULL else node.value


# ----------------------------------------------------------------------------- host names


def own_host(text: str) -> str:
    """A host name of the user's own (tracking domain, legacy domain, described host), normalised.

    Raises HostError for an IP address, a wildcard, an invalid name or a public suffix."""
    problem = _ip_address_problem(text)
    if problem:
        raise HostError(f"{text!r} {problem}: use a host name")
    if "*" in text or "?" in text:
        raise HostError(f"{text!r}: a wildcard is not allowed here")
    host = normalize_host(text)
    if _is_public_suffix(host):
        raise HostError(
            f"{text!r} is a public suffix, not a domain of yours: "
            f"use a host under your own domain, like go.example.{host}"
        )
    return host


def _ip_address_problem(text: str) -> str | None:
    """Why `text` is, or would be read by a browser as, an IP address; None if it is not."""
    import ipaddress

    bare = text.strip()
    bare = bare[1:-1] if bare.startswith("[") and bare.endswith("]") else bare
    try:
        ipaddress.ip_address(bare)
        return "is an IP address"
    except ValueError:
        pass
    # The WHATWG URL standard parses a host whose last label is a number as IPv4 (`127.1`).
    last = bare.removesuffix(".").rsplit(".", 1)[-1]
    if (last.isascii() and last.isdigit()) or _HEX_NUMBER.fullmatch(last):
        return "ends in a number, so browsers read it as an IPv4 address"
    return None


def _is_public_suffix(host: str) -> bool:
    """Whether `host` is itself on the Public Suffix List (ICANN or private section), by
    tldextract's bundled snapshot. Looking the few names up in its text takes about 3 ms, where
    importing tldextract and building its trie takes about 250 ms, paid per email by a hook;
    tests/test_rulesfile.py checks that both agree on every rule of the list."""
    text = _suffix_list_text()
    if text is None:
        return _is_public_suffix_by_tldextract(host)
    name = ".".join(_unicode_label(label) for label in host.split("."))
    if f"\n{name}\n" in text:
        return True
    parent = name.partition(".")[2]
    return bool(parent) and f"\n*.{parent}\n" in text and f"\n!{name}\n" not in text


@functools.cache
def _suffix_list_text() -> str | None:
    """The bundled list's text, one rule a line, found without importing tldextract."""
    import importlib.util

    spec = importlib.util.find_spec("tldextract")
    if spec is None or spec.origin is None:
        return None
    try:
        return "\n" + Path(spec.origin).with_name(".tld_set_snapshot").read_text("utf-8") + "\n"
    except OSError:
        return None


def _unicode_label(label: str) -> str:
    """The list is written in Unicode; our hosts are normalised to punycode."""
    if not label.startswith("xn--"):
        return label
    try:
        return label[4:].encode("ascii").decode("punycode")
    except UnicodeError:
        return label


def _is_public_suffix_by_tldextract(host: str) -> bool:
    result = _suffix_extractor()(host)
    return not result.domain and bool(result.suffix)


@functools.cache
def _suffix_extractor() -> Any:
    import tldextract  # ~100 ms to import, and ~150 ms more to build its trie on first use

    # The bundled Public Suffix List snapshot only: no network access and no cache written.
    return tldextract.TLDExtract(
        suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
    )


def _host_glob(text: str) -> str:
    """A host glob (`*.example.com`), lower case; labels without wildcards normalised (IDNA)."""
    labels = text.strip().removesuffix(".").split(".")
    if "" in labels:
        raise HostError(f"{text!r}: an empty label (two dots, or a leading dot)")
    out = []
    for label in labels:
        if "*" not in label and "?" not in label:
            out.append(normalize_host(label))
        elif _HOST_GLOB_LABEL.fullmatch(label.lower()):
            out.append(label.lower())
        else:
            raise HostError(f"{text!r}: a label with a wildcard may hold only a-z, 0-9, - and _")
    return ".".join(out)


def _certificate_name(text: str) -> str:
    if text.startswith("*."):
        return "*." + normalize_host(text[2:])
    if "*" in text:
        raise HostError(f"{text!r}: only a whole leftmost label can be a wildcard (*.example.com)")
    return normalize_host(text)


def _tracking_path(text: str) -> str:
    """`/l` or `/t/c`: unreserved characters only, no dot segments, no trailing slash."""
    if not text.startswith("/"):
        raise ValueError(f"must start with / (got {text!r}; did you mean '/{text}'?)")
    trimmed = text.rstrip("/")
    for segment in trimmed.split("/")[1:]:
        if not segment:
            raise ValueError(f"an empty segment (//) in {text!r}")
        if segment in (".", ".."):
            raise ValueError(f"{text!r}: browsers resolve . and .. segments away")
        if not _PATH_SEGMENT.fullmatch(segment):
            raise ValueError(f"{text!r}: only letters, digits, - . _ ~ and / are allowed")
    return trimmed


# ----------------------------------------------------------------------------- the layout


def _kind(node: Node) -> str:
    """The node's kind: mapping, sequence or scalar (PyYAML sets `id`; its stubs omit it)."""
    return str(getattr(node, "id", ""))


def _join(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def _describe(node: Node) -> str:
    if _kind(node) == "mapping":
        return "a mapping"
    if _kind(node) == "sequence":
        return "a list"
    if node.tag == _NULL:
        return "nothing"
    return repr(node.value) if node.tag == _STR else str(node.value)


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    key: Node
    value: Node


class _Walker:
    """Walks the node tree of one rules file into Rules; every check raises RulesError."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.folder = Path(os.path.normpath(path.absolute().parent))

    def fail(self, node: Node | None, key: str, message: str) -> RulesError:
        line = node.start_mark.line + 1 if node is not None and node.start_mark else None
        return RulesError(self.path, line, key, message)

    def expected(self, node: Node, key: str, what: str) -> RulesError:
        if node.tag not in _KNOWN_TAGS:
            return self.fail(node, key, f"expected {what} (got a value tagged {node.tag})")
        return self.fail(node, key, f"expected {what} (got {_describe(node)})")

    # --- shapes

    def entries(self, node: Node, key: str) -> list[_Entry]:
        if _kind(node) != "mapping" or node.tag != _TAG + "map":
            raise self.expected(node, key, "a mapping")
        seen: dict[str, Node] = {}
        out = []
        for key_node, value_node in node.value:
            if (
                _kind(key_node) != "scalar"
                or key_node.tag not in (_STR, _INT)
                or not key_node.value
            ):
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
        if _kind(node) != "sequence" or node.tag != _TAG + "seq":
            raise self.expected(node, key, "a list")
        if non_empty and not node.value:
            raise self.fail(node, key, "must list at least one item")
        return [(f"{key}[{index}]", item) for index, item in enumerate(node.value)]

    # --- scalars

    def string(self, node: Node, key: str) -> str:
        """Text; a plain number counts as its text (`campaign: 2026`)."""
        if _kind(node) != "scalar" or node.tag not in (_STR, _INT):
            raise self.expected(node, key, "a string")
        return node.value  # type: ignore[no-any-return]

    def integer(self, node: Node, key: str, minimum: int) -> int:
        if _kind(node) != "scalar" or node.tag != _INT:
            raise self.expected(node, key, "a whole number")
        try:
            value = int(node.value, 10)
        except ValueError:
            raise self.expected(node, key, "a whole number") from None
        if value < minimum:
            raise self.fail(node, key, f"must be at least {minimum} (got {value})")
        return value

    def boolean(self, node: Node, key: str) -> bool:
        if _kind(node) == "scalar" and node.tag == _BOOL:
            return node.value.lower() == "true"  # type: ignore[no-any-return]
        if _kind(node) == "scalar" and node.tag == _STR and node.value.lower() in _YAML11_BOOLS:
            message = f"expected true or false (got {node.value!r}, which is read as text)"
            raise self.fail(node, key, message)
        raise self.expected(node, key, "true or false")

    def choice(self, node: Node, key: str, options: tuple[str, ...]) -> str:
        value = self.string(node, key)
        if value not in options:
            raise self.fail(node, key, f"must be one of {', '.join(options)} (got {value!r})")
        return value

    def date(self, node: Node, key: str) -> date:
        text = node.value if _kind(node) == "scalar" and node.tag in (_STR, _TIMESTAMP) else ""
        if _DATE_TEXT.fullmatch(text):
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
            return _tracking_path(self.string(node, "tracking.path"))
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
        return _unique(tuple(self.host(item, item_key, _host_glob) for item_key, item in items))

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
            if _kind(value_node) != "scalar" or value_node.tag not in (_STR, _INT, _BOOL):
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
            tuple(self.host(item, item_key, _certificate_name) for item_key, item in items)
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
