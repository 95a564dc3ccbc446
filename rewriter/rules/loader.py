"""Reading a YAML rules file into `rules.Rules`, strictly, with errors a person can act on.

Every error is a `RulesError` naming the file, the line and the dotted key
(`rules/acme.yaml:7: tracking.scheme: must be one of http, https (got 'ftp')`).

The YAML is read in three steps: at most 1 MiB of bytes, decoded as UTF-8, composed into a node
tree by a strict YAML reader (`yaml_reader`: no anchors, no aliases, YAML 1.2 core scalars only);
then walked against the layout (`schema`), which converts each node itself so that every value
keeps its line. Host names are checked by `hostnames`; `starter` writes the file `init` makes.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rewriter.rules.errors import RulesError
from rewriter.rules.hostnames import own_host
from rewriter.rules.model import (
    Rules,
)
from rewriter.rules.schema import Walker
from rewriter.rules.yaml_reader import compose, kind, plain, read_text
from rewriter.web.urls import HostError

if TYPE_CHECKING:
    from yaml.nodes import Node


__all__ = [
    "RULES_FILENAME",
    "HostLines",
    "RulesError",
    "find_rules",
    "host_lines",
    "load_rules",
    "read_document",
]

RULES_FILENAME = "rewriter.yaml"


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
    root = compose(read_text(path), path)
    if root is None:
        raise RulesError(path, None, "tracking.domain", "required, but the file is empty")
    return Walker(path).rules(root)


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
    root = compose(read_text(path), path)
    found: dict[str, HostLines] = {}
    if root is None or kind(root) != "mapping":
        return found
    top = {key.value: value for key, value in root.value if kind(key) == "scalar"}
    tracking = top.get("tracking")
    if tracking is not None and kind(tracking) == "mapping":
        for key, value in tracking.value:
            if key.value == "domain":
                _note_host(found, value, HostLines(_line(value)))
            elif key.value == "legacy_domains" and kind(value) == "sequence":
                for item in value.value:
                    _note_host(found, item, HostLines(_line(item)))
    hosts = top.get("hosts")
    if hosts is not None and kind(hosts) == "mapping":
        for key, value in hosts.value:
            keys = {}
            if kind(value) == "mapping":
                keys = {k.value: _line(k) for k, _ in value.value if kind(k) == "scalar"}
            lines = HostLines(_line(key), keys.get("certificate"), keys.get("hsts"))
            _note_host(found, key, lines)
    return found


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _note_host(found: dict[str, HostLines], node: Node, lines: HostLines) -> None:
    if kind(node) != "scalar" or not isinstance(node.value, str):
        return
    with contextlib.suppress(HostError):
        found[own_host(node.value)] = lines


def read_document(path: Path) -> Any:
    """The rules file as plain data (dicts, lists, str, int, bool, None), read by the same strict
    loader, without validation: what an editor's schema sees. Raises RulesError."""
    root = compose(read_text(path), path)
    return None if root is None else plain(root)
