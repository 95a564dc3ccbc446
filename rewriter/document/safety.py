"""The safe mode's check before anything is written, independent of the code that made the output.

The engine proves byte preservation with its own scanner; a bug shared by the scanner and the
proof would hide from both. This check shares neither:

- structure: lxml (libxml2's HTML parser) parses input and output; the two trees must be equal,
  node for node, once the changed link values of link tags and our annotation attribute on link
  tags are masked out (anywhere else it is a difference: the engine only annotates links).
  Outlook conditional comments hide markup in comment text, so a conditional comment whose text
  changed is parsed on its own and compared the same way. Every changed link value must be the
  tracking link the records give to the value it replaced.
- idempotence: a second rewrite of the output changes nothing.
- round trip: every rewritten link's token verifies and reads back its destination, and the
  tracking link is in the output. (A token the engine has just signed for that very destination
  is not decoded again: only what the engine did not make itself is read back.)

lxml is imported only here, inside the functions: the `--fast` path never pays for it.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import zip_longest
from typing import TYPE_CHECKING, Any

from rewriter.document.encoding import PRESCAN_BYTES, DocumentEncoding, sniff
from rewriter.document.stages import LINK_ATTRIBUTE
from rewriter.models import Action, LinkRecord
from rewriter.tokens.format import TokenError, decode_token, token_of
from rewriter.web.globs import GlobSet

if TYPE_CHECKING:
    from rewriter.document.engine import Rewriter

MAX_PROBLEMS = 5  # per check: the first few differences say enough
EXCERPT = 60  # characters shown on each side of a difference

# Undecodable bytes become private-use characters, one per byte, rather than U+FFFD: two
# different invalid bytes must stay different to the comparison.
_UNDECODABLE = "rewriter-verify-undecodable"
_PRIVATE_USE_BASE = 0xF700
_UNDECODABLE_RUN = re.compile("[\ufffd\uf700-\uf7ff]+")
# Shown as Python shows undecodable bytes (surrogateescape): '\udcff' is the byte 0xff.
_SHOW_UNDECODABLE = {_PRIVATE_USE_BASE + byte: 0xDC00 + byte for byte in range(256)}
# Masked link values and conditional comments: equal on both sides, not a text anyone writes.
_MASK = "\u2063masked link value\u2063"
_CONDITION_END = "]>"
_FRAGMENT_START = "<html><body>"  # so that a fragment of text or comments still has a root
# Conditional comments inside conditional comments (the first `-->` ends both for a browser;
# the engine, like Outlook, reads on): compared this deep, as text beyond.
MAX_CONDITIONAL_DEPTH = 8
_ENDIF = re.compile(r"<!\[endif\][\t\n\f\r ]*\Z")
_TOKEN_TEXT = rb"[A-Za-z0-9_-]*"


def _private_use(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return "".join(chr(_PRIVATE_USE_BASE + byte) for byte in bad), error.end


codecs.register_error(_UNDECODABLE, _private_use)


def safe_check(
    before: bytes,
    after: bytes,
    engine: Rewriter,
    records: Sequence[LinkRecord],
    *,
    file: str | None = None,
    relative: str | None = None,
) -> list[str]:
    """What is wrong with writing `after` (the engine's output for `before`); empty: safe.

    `file` and `relative` are those given to the rewrite that made `after`. Never raises: a check
    that cannot run is itself a problem, so nothing unchecked is written. Identical input and
    output need no structure or idempotence check: the engine is deterministic, so rewriting the
    output is rewriting the input again. When lxml parses neither document (empty, too deep)
    the structure check has nothing to compare and says nothing; `structure_problems` returns
    None then, to tell that apart from a match.
    """
    problems: list[str] = []
    if after != before:
        problems += _guarded(
            "structure", lambda: structure_problems(before, after, engine, records)
        )
        problems += _guarded(
            "idempotence", lambda: idempotence_problems(after, engine, file=file, relative=relative)
        )
    problems += _guarded("round trip", lambda: round_trip_problems(after, engine, records))
    return problems


def _guarded(check: str, run: Callable[[], list[str] | None]) -> list[str]:
    try:
        return run() or []
    except Exception as error:  # the check must report, never crash the batch
        return [f"{check}: the check could not run: {type(error).__name__}: {error}"]


# Structure.


@dataclass(frozen=True)
class _Masking:
    """What may differ between the trees, and what each changed link value may become."""

    link_tags: GlobSet
    annotation: str
    tracked: Mapping[str, frozenset[str]]  # original value -> the tracking links made for it
    parser: Any

    @cached_property
    def loosely_tracked(self) -> Mapping[str, frozenset[str]]:
        """`tracked` by originals with undecodable bytes as the engine reads them (U+FFFD),
        where this check keeps one private-use character per byte."""
        loose: dict[str, frozenset[str]] = {}
        for original, urls in self.tracked.items():
            key = _UNDECODABLE_RUN.sub("\ufffd", original)
            loose[key] = loose.get(key, frozenset()) | urls
        return loose

    def names_in(self, text: str) -> list[str]:
        """The link tag names to look for: exact ones, and those the globs match in `text`."""
        names = {glob.lower() for glob in self.link_tags.patterns if not _is_wildcard(glob)}
        wildcards = [glob for glob in self.link_tags.patterns if _is_wildcard(glob)]
        if wildcards:
            pattern = _tag_names_pattern(tuple(wildcards))
            # The tokenizer reads NUL in a name as U+FFFD, as lxml does.
            names.update(name.lower().replace("\0", "\ufffd") for name in pattern.findall(text))
        return sorted(name for name in names if self.link_tags.first_match(name))

    def select(self, root: Any, names: list[str]) -> list[Any]:
        """The comments and link elements of a tree, in document order."""
        from lxml import etree

        try:
            return list(root.iter(etree.Comment, *names))
        except ValueError:  # a name lxml keeps but will not look up (control characters)
            return [
                node
                for node in root.iter()
                if not isinstance(node.tag, str) or self.link_tags.first_match(node.tag)
            ]


def structure_problems(
    before: bytes, after: bytes, engine: Rewriter, records: Sequence[LinkRecord]
) -> list[str] | None:
    """Differences between the lxml trees of input and output, masked; None when lxml parses
    neither document (empty, no element, too deep), failing the same way: nothing to compare.

    Both are decoded with the input's encoding as the engine finds it (so `<meta charset>` is
    read once, the same way for both) and parsed with the same parser.
    """
    encoding = sniff(before[:PRESCAN_BYTES])
    problems = []
    after_codec = sniff(after[:PRESCAN_BYTES]).codec
    if after_codec != encoding.codec:
        problems.append(
            f"structure: the output reads as {after_codec}, the input as {encoding.codec}"
        )
    masking = _Masking(
        GlobSet(engine.rules.link_tags),
        engine.rules.annotation_attribute,
        _tracked(records),
        _parser(),
    )
    text_before, text_after = _decode(before, encoding), _decode(after, encoding)
    root_before, failure_before = _parse(text_before, masking.parser)
    root_after, failure_after = _parse(text_after, masking.parser)
    if root_before is None and root_after is None and failure_before == failure_after:
        return problems or None
    if root_before is None or root_after is None:
        return [
            *problems,
            f"structure: lxml parses input and output differently: the input"
            f" {failure_before or 'parses'}, the output {failure_after or 'parses'}",
        ]
    names = sorted({*masking.names_in(text_before), *masking.names_in(text_after)})
    return [*problems, *_compare(root_before, root_after, names, masking, "", depth=0)]


def _tracked(records: Sequence[LinkRecord]) -> dict[str, frozenset[str]]:
    tracked: dict[str, set[str]] = {}
    for record in records:
        if record.action is Action.REWRITTEN and record.tracking_url is not None:
            tracked.setdefault(record.original, set()).add(record.tracking_url)
    return {original: frozenset(urls) for original, urls in tracked.items()}


def _parser() -> Any:
    from lxml import etree

    return etree.HTMLParser(
        recover=True,
        no_network=True,
        remove_comments=False,
        remove_pis=False,
        remove_blank_text=False,
        huge_tree=True,  # nesting up to libxml2's hard limit (2048), reported beyond it
        default_doctype=False,
    )


def _is_wildcard(glob: str) -> bool:
    return "*" in glob or "?" in glob


@lru_cache(maxsize=16)
def _tag_names_pattern(globs: tuple[str, ...]) -> re.Pattern[str]:
    """Start tags that may match the globs, by the literal text before each one's first wildcard
    (lxml cannot select by glob; `GlobSet` then decides, without backtracking)."""
    prefixes = sorted({re.escape(re.split(r"[*?]", glob, maxsplit=1)[0]) for glob in globs})
    return re.compile(rf"<((?:{'|'.join(prefixes)})[^\t\n\f\r />]*+)", re.IGNORECASE)


def _decode(data: bytes, encoding: DocumentEncoding) -> str:
    if encoding.bom and data.startswith(encoding.bom):
        data = data[len(encoding.bom) :]
    return data.decode(encoding.codec, _UNDECODABLE)


def _parse(text: str, parser: Any) -> tuple[Any | None, str | None]:
    """The root element, or None and why not. A fatal libxml2 error means it stopped early."""
    from lxml import etree

    try:
        root = etree.fromstring(text, parser) if text else None
    except (etree.LxmlError, ValueError) as error:
        return None, f"fails ({error})"
    fatal = [entry.message for entry in parser.error_log if entry.level_name == "FATAL"]
    if fatal:
        return None, f"stops early ({fatal[0]})"
    if root is None:
        return None, "has no element"
    return root, None


@dataclass(frozen=True, slots=True)
class _Tree:
    """A parsed document and its nodes of interest: elements with a link value, and comments."""

    root: Any
    links: list[Any]
    comments: list[Any]

    def path(self, node: Any) -> str:
        return str(self.root.getroottree().getpath(node))


def _pairs(
    before: _Tree, nodes_before: list[Any], after: _Tree, nodes_after: list[Any]
) -> Iterator[tuple[Any, Any]]:
    """Nodes of both trees, each with its counterpart.

    In order when both have as many (the trees match, or the serialised comparison says where
    they do not); else by path, the pairs still at the same place.
    """
    if len(nodes_before) == len(nodes_after):
        yield from zip(nodes_before, nodes_after, strict=True)
        return
    twins = {before.path(node): node for node in nodes_before}
    for node in nodes_after:
        twin = twins.get(after.path(node))
        if twin is not None and twin.tag == node.tag:
            yield twin, node


def _compare(
    root_before: Any,
    root_after: Any,
    names: list[str],
    masking: _Masking,
    prefix: str,
    *,
    depth: int,
) -> list[str]:
    """Mask both trees in place, then compare them: serialised first (C speed), node by node
    (to say where) only when they differ."""
    before, after = _marked(root_before, names, masking), _marked(root_after, names, masking)
    problems = _mask_links(before, after, masking, prefix)
    problems += _mask_comments(before, after, masking, prefix, depth=depth)
    doctypes = _doctype(root_before), _doctype(root_after)
    if doctypes[0] != doctypes[1]:
        problems.append(f"structure: {prefix or '/'}: doctype {doctypes[0]} became {doctypes[1]}")
    if _serialised(root_before) != _serialised(root_after):
        problems += _differences(root_before, root_after, prefix)
    return problems[:MAX_PROBLEMS]


def _marked(root: Any, names: list[str], masking: _Masking) -> _Tree:
    """The link elements (our annotation removed from them) and the comments of a tree."""
    links, comments = [], []
    top_level = [*root.itersiblings(preceding=True), *root.itersiblings()]
    for node in [*top_level, *masking.select(root, names)]:
        if not isinstance(node.tag, str):
            comments.append(node)
            continue
        if masking.annotation in node.attrib:
            del node.attrib[masking.annotation]
        if LINK_ATTRIBUTE in node.attrib:
            links.append(node)
    return _Tree(root, links, comments)


def _mask_links(before: _Tree, after: _Tree, masking: _Masking, prefix: str) -> list[str]:
    """Mask the link values that changed on link tags; each must have become its tracking link."""
    problems = []
    for twin, element in _pairs(before, before.links, after, after.links):
        old, new = twin.get(LINK_ATTRIBUTE), element.get(LINK_ATTRIBUTE)
        if old == new:
            continue
        if not _made_for(old, new, masking):
            problems.append(
                f"structure: {prefix}{after.path(element)}@{LINK_ATTRIBUTE}: {_shorten(old)} became"
                f" {_shorten(new)}, which is not the tracking link made for it"
            )
        twin.set(LINK_ATTRIBUTE, _MASK)
        element.set(LINK_ATTRIBUTE, _MASK)
    return problems


def _made_for(old: str, new: str, masking: _Masking) -> bool:
    if new in masking.tracked.get(old, ()):
        return True
    return new in masking.loosely_tracked.get(_UNDECODABLE_RUN.sub("\ufffd", old), ())


def _mask_comments(
    before: _Tree, after: _Tree, masking: _Masking, prefix: str, *, depth: int
) -> list[str]:
    """Compare the conditional comments whose text changed as HTML, then mask their texts
    (what differs is reported here, so the serialised comparison sees the rest)."""
    problems = []
    for twin, comment in _pairs(before, before.comments, after, after.comments):
        if twin.text == comment.text:
            continue
        conditional = _is_conditional(twin.text) and _is_conditional(comment.text)
        if not conditional or depth >= MAX_CONDITIONAL_DEPTH:
            continue  # compared as text, node by node
        path = prefix + after.path(comment)
        problems += _compare_conditional(twin.text, comment.text, masking, path, depth + 1)
        twin.text = comment.text = _MASK  # (lxml refuses to set some texts it parsed)
    return problems


def _is_conditional(text: str | None) -> bool:
    return text is not None and text.startswith("[if")


def _compare_conditional(
    before: str, after: str, masking: _Masking, path: str, depth: int
) -> list[str]:
    condition_before, inner_before = _split_conditional(before)
    condition_after, inner_after = _split_conditional(after)
    if condition_before != condition_after:
        return [f"structure: {path}: condition {condition_before!r} became {condition_after!r}"]
    root_before, _ = _parse(_FRAGMENT_START + inner_before, masking.parser)
    root_after, _ = _parse(_FRAGMENT_START + inner_after, masking.parser)
    if root_before is None or root_after is None:
        return [f"structure: {path}: {_excerpts(before, after)}"]
    names = sorted({*masking.names_in(inner_before), *masking.names_in(inner_after)})
    return _compare(root_before, root_after, names, masking, path, depth=depth)


def _split_conditional(text: str) -> tuple[str, str]:
    """`[if mso]>...<![endif]` as the condition and the markup inside."""
    end = text.find(_CONDITION_END)
    if end < 0:
        return text, ""
    inner = text[end + len(_CONDITION_END) :]
    endif = _ENDIF.search(inner)
    return text[: end + len(_CONDITION_END)], inner if endif is None else inner[: endif.start()]


def _doctype(root: Any) -> tuple[str, str | None, str | None] | None:
    """Name, public and system identifiers (lxml does not always serialise a doctype)."""
    dtd = root.getroottree().docinfo.internalDTD
    return None if dtd is None else (dtd.name, dtd.external_id, dtd.system_url)


def _serialised(root: Any) -> bytes:
    from lxml import etree

    data: bytes = etree.tostring(root.getroottree(), encoding="utf-8")
    return data


def _differences(root_before: Any, root_after: Any, prefix: str) -> list[str]:
    """The first differences, walking both documents in step; stops where the shapes part."""
    tree_before, tree_after = root_before.getroottree(), root_after.getroottree()
    found = []
    for node_before, node_after in zip_longest(_nodes(root_before), _nodes(root_after)):
        if node_before is None or node_after is None:
            node, tree = (
                (node_after, tree_after) if node_before is None else (node_before, tree_before)
            )
            change = "added" if node_before is None else "removed"
            found.append(f"structure: {prefix}{tree.getpath(node)}: {_name(node)} {change}")
            break
        path = prefix + tree_before.getpath(node_before)
        if node_before.tag != node_after.tag:
            found.append(f"structure: {path}: {_name(node_before)} became {_name(node_after)}")
            break
        found += _node_differences(path, node_before, node_after)
        if len(found) >= MAX_PROBLEMS:
            break
    return found


def _nodes(root: Any) -> Iterator[Any]:
    """Every node of the document: comments before and after the root element included."""
    yield from reversed(list(root.itersiblings(preceding=True)))
    yield from root.iter()
    yield from root.itersiblings()


def _name(node: Any) -> str:
    from lxml import etree

    if node.tag is etree.Comment:
        return "comment"
    if node.tag is etree.ProcessingInstruction:
        return "processing instruction"
    return f"<{node.tag}>"


def _node_differences(path: str, before: Any, after: Any) -> list[str]:
    found = []
    if isinstance(before.tag, str):
        found += _attribute_differences(path, before.items(), after.items())
    elif getattr(before, "target", None) != getattr(after, "target", None):
        found.append(f"structure: {path}: target {before.target!r} became {after.target!r}")
    if before.text != after.text:
        found.append(f"structure: {path} text: {_excerpts(before.text, after.text)}")
    if before.tail != after.tail:
        found.append(f"structure: {path} text after it: {_excerpts(before.tail, after.tail)}")
    return found


def _attribute_differences(
    path: str, before: list[tuple[str, str]], after: list[tuple[str, str]]
) -> list[str]:
    if before == after:
        return []
    old, new = dict(before), dict(after)
    found = [
        f"structure: {path}@{name}: removed ({_shorten(old[name])})"
        for name in old
        if name not in new
    ]
    found += [
        f"structure: {path}@{name}: added ({_shorten(new[name])})"
        for name in new
        if name not in old
    ]
    found += [
        f"structure: {path}@{name}: {_shorten(old[name])} became {_shorten(new[name])}"
        for name in old
        if name in new and old[name] != new[name]
    ]
    if not found:
        found.append(f"structure: {path}: attributes reordered: {list(old)} became {list(new)}")
    return found


def _excerpts(before: str | None, after: str | None) -> str:
    """Both texts around their first difference."""
    if before is None or after is None:
        return f"{_shorten(before)} became {_shorten(after)}"
    at = _first_difference(before, after)
    start = max(0, at - EXCERPT // 2)
    return f"{_shorten(before[start:], start)} became {_shorten(after[start:], start)}"


def _shorten(text: str | None, skipped: int = 0) -> str:
    if text is None:
        return "nothing"
    shown = repr(text[:EXCERPT].translate(_SHOW_UNDECODABLE)) + (
        "..." if len(text) > EXCERPT else ""
    )
    return ("..." if skipped else "") + shown


def _first_difference(before: Sequence[object], after: Sequence[object]) -> int:
    """The first index where the sequences differ: growing blocks, then bisection inside the
    block that differs (C-speed slice comparisons, and no copy of a whole 100 MB document)."""
    size = min(len(before), len(after))
    start, block = 0, 64
    while start < size:
        end = min(start + block, size)
        if before[start:end] != after[start:end]:
            break
        start, block = end, min(block * 2, 1 << 20)
    else:
        return size
    low, high = start, end  # equal before `low`, a difference before `high`
    while high - low > 1:
        middle = (low + high) // 2
        if before[low:middle] == after[low:middle]:
            low = middle
        else:
            high = middle
    return low


# Idempotence.


def idempotence_problems(
    after: bytes, engine: Rewriter, *, file: str | None = None, relative: str | None = None
) -> list[str]:
    """A second rewrite of the output must give it back unchanged."""
    again = engine.rewrite(after, file=file, relative=relative, prove=False).output
    if again == after:
        return []
    at = _first_difference(after, again)
    line = after.count(b"\n", 0, at) + 1
    start = max(0, at - EXCERPT // 2)
    return [
        f"idempotence: a second rewrite changes the output at byte {at} (line {line}):"
        f" {_shorten_bytes(after[start:])} became {_shorten_bytes(again[start:])}"
    ]


def _shorten_bytes(data: bytes) -> str:
    return repr(data[:EXCERPT]) + ("..." if len(data) > EXCERPT else "")


# Round trip.


def round_trip_problems(after: bytes, engine: Rewriter, records: Sequence[LinkRecord]) -> list[str]:
    """Every rewritten link: a token that verifies and reads back its destination, in the output."""
    after = _ascii_compatible(after)
    present = _tracking_links_in(after, engine.rules.tracking_prefix)
    problems: list[str] = []
    checked: dict[tuple[str, str | None], str | None] = {}  # templates repeat their links
    for record in records:
        if record.action is not Action.REWRITTEN:
            continue
        url = record.tracking_url
        if url is None:
            problem = None if engine.ring is None else "rewritten without a tracking link"
        else:
            key = (url, record.destination)
            if key not in checked:
                checked[key] = _link_problem(url, record.destination, after, present, engine)
            problem = checked[key]
        if problem is not None:
            where = f"{record.file or '-'}:{record.line}:{record.column}"
            problems.append(f"round trip: {where}: {problem}")
            if len(problems) >= MAX_PROBLEMS:
                break
    return problems


def _link_problem(
    url: str, destination: str | None, after: bytes, present: set[str], engine: Rewriter
) -> str | None:
    problem = _token_problem(url, destination, engine)
    if problem is None and url not in present and url.encode("utf-8") not in after:
        return f"{url} is not in the output"
    return problem


def _ascii_compatible(data: bytes) -> bytes:
    """UTF-16 as UTF-8, where an ASCII link can be found; any other document as it is."""
    encoding = sniff(data[:PRESCAN_BYTES])
    if not encoding.is_utf16:
        return data
    return data.decode(encoding.codec, "replace").encode("utf-8")


def _tracking_links_in(data: bytes, prefix: str) -> set[str]:
    """The tracking links written in the output, found in one pass (not one search per link)."""
    pattern = re.compile(re.escape(prefix.encode("utf-8")) + _TOKEN_TEXT)
    return {match.group().decode("ascii", "replace") for match in pattern.finditer(data)}


def _token_problem(url: str, destination: str | None, engine: Rewriter) -> str | None:
    prefix = engine.rules.tracking_prefix
    if not url.startswith(prefix):
        return f"{url} does not start with {prefix}"
    if destination is not None and engine.signed_here(url) == destination:
        # The engine signed this very link for this destination (encode_token, with the ring
        # at hand): nothing was read that could differ. Any other link is read back.
        return None
    token = token_of(url)
    try:
        contents = decode_token(token, engine.ring)
    except TokenError as error:
        return f"the token of {url} does not verify ({error})"
    if not contents.verified:
        return f"no key at hand to verify the token of {url}"
    if contents.destination != destination:
        return f"{url} leads to {contents.destination}, not to {destination}"
    return None


class StreamingCheck:
    """The safe mode for a message too large to hold: checked as it streams.

    Round trip: every rewritten link's token is read back as its record arrives. Idempotence:
    a second engine pass runs in a thread over the output as it is written, and its output must
    hash the same. (The lxml structure check needs whole documents; the engine's byte proof,
    which also streams, stands in for it.)
    """

    def __init__(self, engine: Rewriter, *, file: str | None = None) -> None:
        import hashlib
        import queue
        import threading

        from rewriter.document.engine import Rewriter

        self._engine = engine
        # The second pass gets its own engine: the two run at once, each with its own memos.
        self._second = Rewriter(engine.rules, engine.ring, engine.classifier, link_texts=False)
        self._problems: list[str] = []
        self._written = hashlib.blake2b()
        self._again = hashlib.blake2b()
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=16)
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._second_pass, args=(file,), daemon=True)
        self._thread.start()

    def output(self, data: bytes) -> None:
        """Take each piece of output as it is written."""
        self._written.update(data)
        self._queue.put(data)

    def link(self, record: LinkRecord) -> None:
        """Take each link record as it is made."""
        if record.action is not Action.REWRITTEN or record.tracking_url is None:
            return
        problem = _token_problem(record.tracking_url, record.destination, self._engine)
        if problem is not None and len(self._problems) < MAX_PROBLEMS:
            where = f"{record.file or '-'}:{record.line}:{record.column}"
            self._problems.append(f"round trip: {where}: {problem}")

    def finish(self) -> list[str]:
        """The problems found, once the output is complete."""
        self._queue.put(None)
        self._thread.join()
        if self._failure is not None:
            self._problems.append(f"idempotence: the check could not run: {self._failure!r}")
        elif self._again.digest() != self._written.digest():
            self._problems.append("idempotence: a second run over the output changes it")
        return self._problems

    def _chunks(self) -> Iterator[bytes]:
        while (chunk := self._queue.get()) is not None:
            yield chunk

    def _second_pass(self, file: str | None) -> None:
        try:
            self._second.rewrite_stream(
                self._chunks(), self._again.update, file=file, relative=file, prove=False,
                on_link=lambda record: None,
            )  # fmt: skip
        except BaseException as error:  # reported by finish(), never lost in the thread
            self._failure = error
            for _ in self._chunks():  # drain, so the writer is never blocked
                pass
