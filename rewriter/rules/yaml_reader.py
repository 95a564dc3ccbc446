"""Strict YAML for rules files: at most MAX_RULES_BYTES of UTF-8, composed into a node tree by
a loader that refuses anchors and aliases and resolves only YAML 1.2 core scalars (`off`, `no`,
`yes` and `on` stay text, `0644` is decimal, `1:20` is text)."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rewriter.rules.errors import RulesError
from rewriter.rules.model import (
    MAX_RULES_BYTES,
)

if TYPE_CHECKING:
    from yaml.nodes import Node


MAX_DEPTH = 20  # the layout nests 6 deep; anything far deeper is not a rules file
MAX_NODES = 10_000  # a large rules file holds a few hundred values; this bounds the work to ~1 s

TAG = "tag:yaml.org,2002:"
STR, INT, BOOL, NULL, TIMESTAMP = (TAG + n for n in ("str", "int", "bool", "null", "timestamp"))
KNOWN_TAGS = frozenset({STR, INT, BOOL, NULL, TIMESTAMP, TAG + "seq", TAG + "map"})
BOOL_TEXT = re.compile(r"true|True|TRUE|false|False|FALSE")
INT_TEXT = re.compile(r"[-+]?[0-9]+")
NULL_TEXT = re.compile(r"~|null|Null|NULL|")
YAML11_BOOLS = frozenset({"yes", "no", "on", "off", "y", "n"})
DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def read_text(path: Path) -> str:
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


def compose(text: str, path: Path) -> Node | None:
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
    except RecursionError:  # guarded by MAX_DEPTH; kept so no traceback can ever escape
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

    CoreResolver.add_implicit_resolver(BOOL, _anchored(BOOL_TEXT), list("tTfF"))
    CoreResolver.add_implicit_resolver(INT, _anchored(INT_TEXT), list("-+0123456789"))
    CoreResolver.add_implicit_resolver(NULL, _anchored(NULL_TEXT), ["~", "n", "N", ""])

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
            if self.depth >= MAX_DEPTH:
                raise _Refused(mark.line + 1, mark.column + 1, "nested too deeply")
            self.nodes += 1
            if self.nodes > MAX_NODES:
                message = f"more than {MAX_NODES:,} values: not a rules file"
                raise _Refused(mark.line + 1, mark.column + 1, message)
            self.depth += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    return StrictLoader


def _anchored(pattern: re.Pattern[str]) -> re.Pattern[str]:
    return re.compile(rf"^(?:{pattern.pattern})$")


def plain(node: Node) -> Any:
    if kind(node) == "mapping":
        return {plain(key): plain(value) for key, value in node.value}
    if kind(node) == "sequence":
        return [plain(item) for item in node.value]
    if node.tag == INT and INT_TEXT.fullmatch(node.value):
        return int(node.value)
    if node.tag == BOOL:
        return node.value.lower() == "true"
    return None if node.tag == NULL else node.value


def kind(node: Node) -> str:
    """The node's kind: mapping, sequence or scalar (PyYAML sets `id`; its stubs omit it)."""
    return str(getattr(node, "id", ""))
