"""Find link sites in HTML bytes, streaming, without changing a byte.

The scanner follows the HTML tokenizer closely enough to know, for every `<`, whether it starts
a tag, a comment or text, so a quoted attribute value containing `<a href=...>` or a `<style>`
block is never mistaken for a link. It reads Outlook conditional comments
(`<!--[if mso]>...<![endif]-->`) as HTML, the way Outlook does, because VML buttons live there.

It yields the input back as pieces: `bytes` to copy through unchanged, and `LinkTag` for every
start tag whose name matches a link-tag glob. Concatenating the pieces (each `LinkTag` as its
`raw` bytes) gives the input exactly, whatever the chunk boundaries.

Speed: almost all bytes are consumed by one compiled pattern that skips text and uninteresting
tags inside the regex engine; Python code runs only at comments, raw-text elements and link tags.
Where the C extension `_cscan` is built, its `skip` does that pattern's work (the same events at
the same offsets, several times faster); this module stays the reference and the fallback.
`REWRITER_SCANNER=python` or `=c` forces one (`SCANNER` names the one in use).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, KeysView, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache

# How many bytes after a link tag are kept for its link text: fixed, so that results never depend
# on where the input was cut into chunks.
LOOKAHEAD = 2048
# A tag larger than this is not buffered whole; it streams through unexamined (see `TagStream`).
MAX_TAG_BYTES = 1 << 20

_WS = rb"\t\n\f\r "
_NAME_END = rb"[\t\n\f\r />]"
# HTML's "raw text" and "RCDATA" elements: their content is text, never tags.
RAW_TEXT_ELEMENTS = (
    b"script",
    b"style",
    b"textarea",
    b"title",
    b"xmp",
    b"iframe",
    b"noembed",
    b"noframes",
    b"plaintext",
)

DEFAULT_LINK_TAGS = ("a", "area", "v:*")

MAX_COMPILED_GLOBS = 64  # MAX_GLOBS of _cscan.c
# The compiled skip's view of link-tag globs: (lower-case name bytes, whether it ends in `*`).
CompiledGlobs = tuple[tuple[bytes, bool], ...]
SkipFunction = Callable[[bytes, int, bool, CompiledGlobs], tuple[str | None, int]]


def _load_compiled_skip() -> SkipFunction | None:
    """The compiled skip, or None where the extension was not built (no compiler, no headers)."""
    try:
        from rewriter.document._cscan import skip
    except ImportError:
        return None
    return skip


def _choose_scanner(compiled: SkipFunction | None) -> str:
    """`c` when the compiled skip is there, unless REWRITER_SCANNER says `python`."""
    wanted = os.environ.get("REWRITER_SCANNER", "").strip().lower()
    if wanted not in ("", "c", "python"):
        raise ImportError(f"REWRITER_SCANNER={wanted!r}: expected 'c' or 'python'")
    if wanted == "c" and compiled is None:
        raise ImportError(
            "REWRITER_SCANNER=c, but the compiled scanner is not built "
            "(reinstall with a C compiler and the Python headers)"
        )
    return "python" if wanted == "python" or compiled is None else "c"


_compiled_skip = _load_compiled_skip()
SCANNER = _choose_scanner(_compiled_skip)  # the one Scanner() uses: "c" or "python"


def _groups_repeat_possessively() -> bool:
    """Whether this Python's `re` repeats a group that can backtrack inside it possessively and
    correctly. CPython 3.11.0 to 3.11.4 do not (gh-106052, fixed in 3.11.5): there
    `re.fullmatch(b"(?:ab?c)*+", b"a")` matches, and the scanner silently misses links. Debian
    12's Python is 3.11.2."""
    return re.fullmatch(rb"(?:ab?c)*+", b"a") is None


POSSESSIVE_GROUPS = _groups_repeat_possessively()


def _possessive(body: bytes, repeat: bytes = b"*") -> bytes:
    """`(?:body)*+` (or `?+`, `++`); where possessive group repeats are broken, the equivalent
    atomic group `(?>(?:body)*)` (the `re` docs define them as the same; 3.11.5 fixed the bug by
    running one as the other). Not everywhere the atomic form: on a fixed Python it scans about
    8% slower (the corpus: 38 ms against 35). A possessive repeat of one character class
    (`[^<]*+`) is a different opcode, not affected."""
    if POSSESSIVE_GROUPS:
        return rb"(?:" + body + rb")" + repeat + rb"+"
    return rb"(?>(?:" + body + rb")" + repeat + rb")"


# One attribute section, as the tokenizer reads it: separators (whitespace and `/`), names (which
# may start with `=`), and values after `=`: double-quoted, single-quoted or unquoted (never
# starting with a quote). Once a name is followed by `=`, its value must be there: a quote still
# open makes the whole tag incomplete, as it is for a browser, instead of ending at a `>` inside
# the value. Possessive quantifiers make it linear: it never backtracks.
_VALUE = rb"(?:\"[^\"]*+\"|'[^']*+'|(?![\"'])[^\t\n\f\r >]*+)"
_ATTRS = _possessive(
    rb"[\t\n\f\r /]++"
    rb"|[^\t\n\f\r />][^\t\n\f\r />=]*+"
    rb"(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+" + _VALUE + rb"|(?![\t\n\f\r ]*+=))"
)
_TAG = re.compile(rb"<([A-Za-z][^\t\n\f\r />]*+)(" + _ATTRS + rb")>")
_ATTRIBUTE = re.compile(  # one attribute of a complete tag (matched by _TAG), with its parts
    rb"[\t\n\f\r /]*+([^\t\n\f\r />][^\t\n\f\r />=]*+)"
    + _possessive(
        rb"[\t\n\f\r ]*+=[\t\n\f\r ]*+(?:\"([^\"]*+)\"|'([^']*+)'|(?![\"'])([^\t\n\f\r >]*+))",
        b"?",
    )
)
_COMMENT_END = re.compile(rb"--!?>")
_CONDITIONAL_OPEN = re.compile(rb"<!--\[if[^\]>]*+\]>")
_CONDITIONAL_PREFIX = re.compile(rb"<!--(?:\[(?:i(?:f[^\]>]*+\]?)?)?)?")
_BOGUS_END = re.compile(rb">")
_TAG_NAME = re.compile(rb"/?[^\t\n\f\r />]*+")
_REVEALED_OPENER = b"<!-->"  # `<!--[if !mso]><!-->`: what follows is shown to every client


@dataclass(slots=True)
class Attribute:
    """One attribute of a tag; offsets are relative to the tag's first byte."""

    name: str  # lower case (ASCII case folding, as HTML does)
    start: int
    end: int
    value_start: int  # inside the quotes; equal to value_end for an empty or missing value
    value_end: int
    quote: bytes  # b'"', b"'" or b"" (unquoted or no value)
    has_value: bool


@dataclass(slots=True)
class LinkTag:
    """A start tag whose name is a link tag; its attributes are parsed when first asked for."""

    offset: int  # absolute offset of its `<` in the input
    raw: bytes  # the whole tag, `<` to `>`
    name: str  # lower case
    attributes_at: int  # where the attributes start in `raw` (just after the name)
    in_conditional_comment: bool
    # The buffer the tag was found in and where the tag ends in it: `following` slices it only
    # when asked for (link text), not for every tag.
    _buffer: bytes = field(repr=False)
    _end: int = field(repr=False)
    # The first match per attribute name, replaced by its Attribute once asked for.
    _first: dict[bytes, re.Match[bytes] | Attribute] | None = field(default=None, repr=False)

    @property
    def following(self) -> bytes:
        """Up to LOOKAHEAD bytes after the tag (always there, unless the input ends first)."""
        return self._buffer[self._end : self._end + LOOKAHEAD]

    @property
    def attributes(self) -> list[Attribute]:
        """Every attribute, repeats included, in order."""
        return parse_attributes(self.raw, self.attributes_at)

    def attribute(self, name: str) -> Attribute | None:
        """The first attribute with this (lower-case) name: browsers ignore repeats."""
        first = self._index()
        key = name.encode("latin-1")
        found = first.get(key)
        if found is None or isinstance(found, Attribute):
            return found
        first[key] = attribute = _attribute(found)
        return attribute

    def names(self) -> KeysView[bytes]:
        """The attribute names (lower-case ASCII bytes), each once."""
        return self._index().keys()

    def _index(self) -> dict[bytes, re.Match[bytes] | Attribute]:
        first = self._first
        if first is None:
            first = self._first = {}
            for match in _ATTRIBUTE.finditer(self.raw, self.attributes_at, len(self.raw) - 1):
                first.setdefault(match.group(1).lower(), match)
        return first

    def value(self, attribute: Attribute) -> bytes:
        return self.raw[attribute.value_start : attribute.value_end]


@dataclass(frozen=True, slots=True)
class OversizedTag:
    """A link tag larger than MAX_TAG_BYTES: passed through unexamined (and reported)."""

    offset: int
    name: str


Piece = bytes | LinkTag | OversizedTag


class _Mode(Enum):
    DATA = 1
    CONDITIONAL = 2  # inside `<!--[if ...]>`, until `-->`
    COMMENT = 3  # inside an ordinary comment, until `-->`
    BOGUS_COMMENT = 4  # inside an oversized `<!...>` or `<?...>`, until `>`
    RAW_TEXT = 5  # inside script/style/..., until the matching end tag
    PLAINTEXT = 6  # everything to the end is text
    TAG = 7  # inside an oversized tag, streaming to its end


def _glob_to_regex(glob: str) -> bytes:
    parts = (re.escape(part.encode("ascii")) for part in glob.lower().split("*"))
    return rb"[^\t\n\f\r />]*+".join(parts).replace(rb"\?", rb"[^\t\n\f\r />]")


def _compiled_globs(link_tags: tuple[str, ...]) -> CompiledGlobs | None:
    """The globs as the compiled skip takes them: a name (`?` any name byte), or a prefix when
    the glob ends in `*`. None for globs it does not take (a `*` before the end, a byte that
    ends a tag name, a backslash, more than it holds): those scanners keep the pattern."""
    if len(link_tags) > MAX_COMPILED_GLOBS:
        return None
    compiled = []
    for glob in link_tags:
        first, *rest = (part.encode("ascii") for part in glob.lower().split("*"))
        if any(rest) or any(byte in b"\t\n\f\r />\\" for byte in first):
            return None
        compiled.append((first, bool(rest)))
    return tuple(compiled)


class _Patterns:
    """The compiled patterns of one set of link tags; the one for inside conditional comments
    is compiled only when a document has a link there (compiling costs start-up time)."""

    def __init__(
        self,
        data: re.Pattern[bytes],
        compile_conditional: Callable[[], re.Pattern[bytes]],
        link_name: re.Pattern[bytes],
        compiled_globs: CompiledGlobs | None,
    ) -> None:
        self.data = data
        self.link_name = link_name
        self.compiled_globs = compiled_globs  # None: the compiled skip cannot take these globs
        self._compile_conditional = compile_conditional
        self._conditional: re.Pattern[bytes] | None = None

    @property
    def conditional(self) -> re.Pattern[bytes]:
        if self._conditional is None:
            self._conditional = self._compile_conditional()
        return self._conditional


@lru_cache(maxsize=16)
def _patterns(link_tags: tuple[str, ...]) -> _Patterns:
    """Compile the skip-until-event patterns for one set of link-tag globs.

    The skip part consumes, inside the regex engine, everything that cannot hold a link: text,
    other tags, end tags, complete comments, complete raw-text elements, and complete
    conditional comments without a link inside. It stops at a link tag, or at a construct it
    cannot finish in the bytes at hand (cut by a chunk boundary, or holding a link), which the
    Python code then takes step by step.
    """
    links = b"|".join(_glob_to_regex(tag) for tag in link_tags) or rb"(?!)"
    raw = b"|".join(RAW_TEXT_ELEMENTS)
    interesting = rb"(?i:" + raw + rb"|" + links + rb")" + _NAME_END
    comment = rb"<!--(?!\[if)(?:>|->|" + _possessive(rb"[^-]++|-(?!-!?>)") + rb"--!?>)"
    revealed_opener = rb"<!--\[if[^\]>]*+\]><!-->"

    def raw_element(names: tuple[bytes, ...]) -> bytes:
        # One alternative per element: a backreference inside a possessive repeat trips a bug
        # of CPython 3.11's `re` ("The span of capturing group is wrong"). Only the elements
        # emails use are skipped here (each one costs compile time at every start); the rest
        # are taken by the Python code, as raw-text events.
        return b"|".join(
            rb"<(?i:" + name + rb")(?=" + _NAME_END + rb")" + _ATTRS
            + rb">" + _possessive(rb"[^<]++|<(?!/(?i:" + name + rb")" + _NAME_END + rb")")
            + rb"(?=</(?i:" + name + rb")" + _NAME_END + rb")"
            for name in names
        )  # fmt: skip

    def skip(conditional: bool) -> bytes:
        text = rb"[^<-]++|-(?!-!?>)" if conditional else rb"[^<]++"
        not_endif = rb"|!\[endif\]" if conditional else b""
        # Outlook-only blocks hold `<style>`; a page holds `<style>`, `<title>`, `<script>`.
        raws = (b"style",) if conditional else (b"style", b"title", b"script")
        return (
            text + rb"|<(?!!--|" + interesting + not_endif + rb")"
            rb"[A-Za-z][^\t\n\f\r />]*+" + _ATTRS + rb">"
            rb"|</[A-Za-z][^\t\n\f\r />]*+" + _ATTRS + rb">"
            # Inside a conditional comment, another comment's `-->` ends it for a browser (as in
            # `<!--[if !mso]><!-- -->`): the Python code takes every `<!--` there.
            + (b"" if conditional else rb"|" + comment + rb"|" + revealed_opener)
            + rb"|" + raw_element(raws)
            + rb"|<(?![A-Za-z!/?])"
            rb"|</>"
            # Bogus comments end at the first `>`; `</` and a letter is an end tag, never one.
            rb"|<(?!!--" + not_endif + rb")(?:[!?]|/(?![A-Za-z]))[^>]*+>"
        )  # fmt: skip

    inner = skip(conditional=True)
    conditional_block = (
        rb"<!--\[if[^\]>]*+\]>(?!<!-->)" + _possessive(inner)
        + rb"(?:(?:<!\[endif\][\t\n\f\r ]*+)?--!?>|" + comment + rb")"
    )  # fmt: skip

    def compile_mode(conditional: bool) -> re.Pattern[bytes]:
        # Outside conditional comments, a whole conditional comment without a link is skipped too.
        alternatives = skip(conditional) + (b"" if conditional else rb"|" + conditional_block)
        events = [
            rb"(?P<comment><!--)",
            rb"<(?P<raw>(?i:" + raw + rb"))(?=" + _NAME_END + rb")",
            rb"<(?P<link>(?i:" + links + rb"))(?=" + _NAME_END + rb")",
        ]
        if conditional:
            events.append(rb"(?P<endcond>(?:<!\[endif\][\t\n\f\r ]*+)?--!?>)")
        return re.compile(_possessive(alternatives) + rb"(?:" + b"|".join(events) + rb"|)")

    link_name = re.compile(rb"(?i:" + links + rb")\Z")
    return _Patterns(
        compile_mode(False), lambda: compile_mode(True), link_name, _compiled_globs(link_tags)
    )


class _Wait(int):
    """A step result meaning: stop here and wait for more input (keep the buffer from here)."""


class Scanner:
    """Feed chunks, get pieces. Call `close()` at the end of the input."""

    def __init__(
        self, link_tags: Sequence[str] = DEFAULT_LINK_TAGS, *, compiled: bool | None = None
    ) -> None:
        """`compiled`: use the compiled skip (True), the pattern (False) or what SCANNER names
        (None); the tests compare the two."""
        self._patterns = _patterns(tuple(link_tags))
        if compiled is None:
            compiled = SCANNER == "c"
        skip = _compiled_skip if compiled else None
        if compiled and skip is None:
            raise RuntimeError("the compiled scanner is not built")
        globs = self._patterns.compiled_globs
        # The compiled skip and its globs, or None to use the pattern.
        self._compiled = (skip, globs) if skip is not None and globs is not None else None
        self._buffer = b""
        self._base = 0  # absolute offset of _buffer[0]
        self._mode = _Mode.DATA
        self._return_mode = _Mode.DATA  # where a comment, raw text or tag returns to
        self._raw_end: re.Pattern[bytes] | None = None
        self._tag_state = _TagState.TAG_NAME
        self._tag_name = b""
        self._raw_name = ""
        self._opened: dict[_Mode, int] = {}  # where the construct of each mode began
        self._comment_kind = "comment"  # or "conditional comment", when one holds the comment
        # What the input ended inside, and where (an offset), when it ended inside something.
        self.unfinished: tuple[str, int] | None = None

    def open_constructs(self) -> tuple[int, ...]:
        """Where the constructs the scanner is inside began (offsets, each in a piece not yet
        taken or the last one): a conditional comment and what is open inside it, or what the
        input ended inside. A warning at the end names the one left open by its line."""
        mode = self._mode
        if mode is _Mode.DATA:
            opened: tuple[int, ...] = ()
        elif mode is _Mode.CONDITIONAL:
            opened = (self._opened[mode],)
        elif self._return_mode is _Mode.CONDITIONAL:
            opened = (self._opened[_Mode.CONDITIONAL], self._opened[mode])
        else:
            opened = (self._opened[mode],)
        if self.unfinished is not None:
            opened += (self.unfinished[1],)
        return opened

    def feed(self, chunk: bytes, *, last: bool = False) -> Iterator[Piece]:
        """Scan a chunk; with `last`, it ends the input (the same as feed, then close)."""
        self._buffer += chunk
        yield from self._run(final=last)

    def close(self) -> Iterator[Piece]:
        yield from self._run(final=True)

    def _run(self, *, final: bool) -> Iterator[Piece]:
        buffer = self._buffer
        pos = emitted = 0
        while True:
            step = self._step(buffer, pos, final)
            if step is None:
                pos = len(buffer) if final else pos
                break
            if isinstance(step, _Wait):
                pos = step
                break
            if isinstance(step, int):
                pos = step
                continue
            start = step.offset - self._base
            if start > emitted:
                yield buffer[emitted:start]
            yield step
            if isinstance(step, LinkTag):
                pos = emitted = start + len(step.raw)
            else:
                pos = emitted = start
        if pos > emitted:
            yield buffer[emitted:pos]
        self._buffer = buffer[pos:]
        self._base += pos

    def _step(self, buffer: bytes, pos: int, final: bool) -> int | LinkTag | OversizedTag | None:
        """Advance from pos: a new position, a piece, a `_Wait`, or None at the very end."""
        mode = self._mode
        if mode is _Mode.DATA or mode is _Mode.CONDITIONAL:
            return self._markup(buffer, pos, final)
        if mode is _Mode.COMMENT:
            return self._until(buffer, pos, final, _COMMENT_END, keep=3)
        if mode is _Mode.BOGUS_COMMENT:
            return self._until(buffer, pos, final, _BOGUS_END, keep=0)
        if mode is _Mode.RAW_TEXT:
            assert self._raw_end is not None
            return self._until(buffer, pos, final, self._raw_end, keep=12, consume_match=False)
        if mode is _Mode.TAG:
            return self._stream_tag(buffer, pos, final)
        return None  # PLAINTEXT: nothing more to find

    def _until(
        self,
        buffer: bytes,
        pos: int,
        final: bool,
        end: re.Pattern[bytes],
        *,
        keep: int,
        consume_match: bool = True,
    ) -> int | None:
        """Skip to the end of a comment or raw-text element, streaming through long ones."""
        match = end.search(buffer, pos)
        if match is None:
            if final:
                self._ends_inside(self._open_construct(), self._opened[self._mode] - self._base)
                return None
            # Let the bytes through, keeping a tail in case the end marker is cut in two.
            return _Wait(max(pos, len(buffer) - keep))
        self._mode = self._return_mode
        return match.end() if consume_match else match.start()

    def _markup(self, buffer: bytes, pos: int, final: bool) -> int | LinkTag | OversizedTag | None:
        conditional = self._mode is _Mode.CONDITIONAL
        compiled = self._compiled
        if compiled is not None:
            kind, at = compiled[0](buffer, pos, conditional, compiled[1])
        else:
            pattern = self._patterns.conditional if conditional else self._patterns.data
            match = pattern.match(buffer, pos)
            assert match is not None  # the pattern ends with an empty alternative
            kind = match.lastgroup
            if kind is None or kind == "endcond":
                at = match.end()
            else:  # the `<` that starts it
                at = match.start(kind) - (kind != "comment")
        if kind == "comment":
            return self._comment(buffer, at, final)
        if kind == "link":
            return self._link(buffer, at, final)
        if kind == "raw":
            return self._raw_text(buffer, at, final)
        if kind == "endcond":
            self._mode = _Mode.DATA
            return at
        return self._stopped(buffer, at, final)

    def _stopped(self, buffer: bytes, stop: int, final: bool) -> int | OversizedTag | None:
        """The skip pattern stopped at `stop`: the end of the buffer or an incomplete construct."""
        if final:
            # A construct cut off by the end of the input swallows the rest.
            if stop < len(buffer):
                self._ends_inside(_construct_at(buffer, stop), stop)
                return None
            if self._mode is _Mode.CONDITIONAL:
                opened = self._opened[_Mode.CONDITIONAL] - self._base
                self._ends_inside("conditional comment", opened)
            return None
        if stop == len(buffer):
            # Text may have swallowed the start of a construct cut by the chunk boundary.
            conditional = self._mode is _Mode.CONDITIONAL
            if conditional and buffer.endswith(b"--!", 0, stop):
                return _Wait(stop - 3)  # `--!>` cut before its `>`
            tail = 2 if conditional else 1
            while tail and stop > 0 and buffer[stop - 1] in b"<-":
                stop -= 1
                tail -= 1
            return _Wait(stop)
        if len(buffer) - stop <= MAX_TAG_BYTES:
            return _Wait(stop)
        return self._oversized(buffer, stop)

    def _ends_inside(self, construct: str, start: int) -> None:
        """Note what the input ends inside (start: an offset in the buffer), for a warning."""
        self.unfinished = (construct, self._base + start)

    def _enter(self, mode: _Mode, start: int) -> None:
        if mode is not _Mode.CONDITIONAL:
            self._return_mode = self._mode
        self._mode = mode
        self._opened[mode] = self._base + start

    def _oversized(self, buffer: bytes, start: int) -> int | OversizedTag:
        """Stream through a construct too large to buffer whole."""
        self._opened[_Mode.TAG] = self._opened[_Mode.BOGUS_COMMENT] = self._base + start
        self._return_mode = self._mode
        if buffer[start + 1 : start + 2] in (b"!", b"?"):
            self._mode = _Mode.BOGUS_COMMENT
            return start + 2
        name = buffer[start + 1 : _end_of(_TAG_NAME.match(buffer, start + 1))]
        self._mode = _Mode.TAG
        self._tag_state = _TagState.TAG_NAME
        self._tag_name = name.lower()
        if self._patterns.link_name.fullmatch(name):
            return OversizedTag(self._base + start, name.decode("latin-1").lower())
        return start + 1

    def _comment(self, buffer: bytes, start: int, final: bool) -> int | None:
        """A `<!--`. Inside a conditional comment it is text for a browser, but the `-->` of
        what it opens is the first `-->` after the conditional's start: it ends the conditional
        comment too (`<!--[if !mso]><!-- -->`, `<!--<![endif]-->`)."""
        inside = self._mode is _Mode.CONDITIONAL
        body = buffer[start + 4 : start + 6]
        if body[:1] == b">":
            return self._comment_ended(start + 5, inside)  # `<!-->`: an empty comment
        if body == b"->":
            return self._comment_ended(start + 6, inside)  # `<!--->`
        if len(body) < 2 and not final:
            return _Wait(start)  # `<!--` or `<!---` at the end of a chunk: the next bytes decide
        conditional = _CONDITIONAL_OPEN.match(buffer, start)
        if not final and conditional is None and _CONDITIONAL_PREFIX.fullmatch(buffer, start):
            return _Wait(start)  # could still become `<!--[if ...]>`
        if conditional is None:
            if inside:  # a comment to Outlook, the rest of the conditional one to a browser
                self._mode = _Mode.COMMENT
                self._return_mode = _Mode.DATA
                self._opened[_Mode.COMMENT] = self._opened[_Mode.CONDITIONAL]
                self._comment_kind = "conditional comment"
            else:
                self._enter(_Mode.COMMENT, start)
                self._comment_kind = "comment"
            return start + 4
        end = conditional.end()
        if buffer.startswith(_REVEALED_OPENER, end):
            return self._comment_ended(end + len(_REVEALED_OPENER), inside)
        if not final and _REVEALED_OPENER.startswith(buffer[end : end + 5]):
            return _Wait(start)
        if not inside:  # a nested `<!--[if ...]>` is text: the first one began the comment
            self._enter(_Mode.CONDITIONAL, start)
        return end

    def _comment_ended(self, end: int, inside: bool) -> int:
        """A comment closed at `end`: inside a conditional comment, that one ends there too."""
        if inside:
            self._mode = _Mode.DATA
        return end

    def _link(self, buffer: bytes, start: int, final: bool) -> int | LinkTag | OversizedTag | None:
        match = _TAG.match(buffer, start)
        if match is None:
            return self._stopped(buffer, start, final)
        end = match.end()
        if end - start > MAX_TAG_BYTES:
            return self._oversized(buffer, start)
        if self._mode is _Mode.CONDITIONAL and _COMMENT_END.search(buffer, start, end):
            # For a browser the comment ends inside this tag: editing it would move that end
            # and show or hide what follows. It is left exactly as it is.
            return end
        if len(buffer) - end < LOOKAHEAD and not final:
            return _Wait(start)
        raw = match.group()
        return LinkTag(
            offset=self._base + start,
            raw=raw,
            name=match.group(1).decode("latin-1").lower(),
            attributes_at=match.start(2) - start,
            in_conditional_comment=self._mode is _Mode.CONDITIONAL,
            _buffer=buffer,
            _end=end,
        )

    def _raw_text(self, buffer: bytes, start: int, final: bool) -> int | OversizedTag | None:
        match = _TAG.match(buffer, start)
        if match is None:
            return self._stopped(buffer, start, final)
        self._enter_raw_text(match.group(1).lower(), start)
        return match.end()

    def _enter_raw_text(self, name: bytes, start: int) -> None:
        if name == b"plaintext":
            self._enter(_Mode.PLAINTEXT, start)
        else:
            self._enter(_Mode.RAW_TEXT, start)
            self._raw_end = _raw_end_pattern(name)
            self._raw_name = name.decode("latin-1")

    def _stream_tag(self, buffer: bytes, pos: int, final: bool) -> int | None:
        state, pos, done = _advance_tag(self._tag_state, buffer, pos)
        self._tag_state = state
        if not done:
            if final:
                self._ends_inside("tag", self._opened[_Mode.TAG] - self._base)
                return None
            return _Wait(pos)
        self._mode = self._return_mode
        if self._tag_name in RAW_TEXT_ELEMENTS:
            self._enter_raw_text(self._tag_name, self._opened[_Mode.TAG] - self._base)
        return pos

    def _open_construct(self) -> str:
        if self._mode is _Mode.RAW_TEXT:
            return f"<{self._raw_name}> element"
        return self._comment_kind if self._mode is _Mode.COMMENT else "markup declaration"


def _construct_at(buffer: bytes, start: int) -> str:
    if buffer.startswith(b"<!--", start):
        return "comment"
    if buffer[start + 1 : start + 2] in (b"!", b"?"):
        return "markup declaration"
    return "tag"


@lru_cache(maxsize=32)
def _raw_end_pattern(name: bytes) -> re.Pattern[bytes]:
    return re.compile(rb"</(?i:" + name + rb")" + _NAME_END)


def read_tag(raw: bytes) -> tuple[bytes, list[Attribute]] | None:
    """The name and attributes of exactly one whole start tag, as the tokenizer reads it;
    None when the bytes are not that."""
    match = _TAG.fullmatch(raw)
    if match is None:
        return None
    return match.group(1).lower(), parse_attributes(raw, match.start(2))


def parse_attributes(raw: bytes, pos: int) -> list[Attribute]:
    """The attributes of a complete tag, from `pos` (just after the tag name)."""
    return [_attribute(match) for match in _ATTRIBUTE.finditer(raw, pos, len(raw) - 1)]


def _attribute(match: re.Match[bytes]) -> Attribute:
    group = match.lastindex or 1
    start, end = match.span(group)
    if group == 1:  # no value
        start = end
    name = match.group(1).decode("latin-1").lower()
    return Attribute(name, match.start(1), match.end(), start, end, _QUOTES[group], group != 1)


# The quote around a value, by the group of _ATTRIBUTE that matched it (1: no value).
_QUOTES = (b"", b"", b'"', b"'", b"")


def _end_of(match: re.Match[bytes] | None) -> int:
    """The end of a match from a pattern that cannot fail (it may match the empty string)."""
    assert match is not None
    return match.end()


class _TagState(Enum):
    TAG_NAME = 1
    BEFORE_ATTRIBUTE = 2
    ATTRIBUTE_NAME = 3
    AFTER_NAME = 4
    BEFORE_VALUE = 5
    DOUBLE_QUOTED = 6
    SINGLE_QUOTED = 7
    UNQUOTED = 8


_TAG_STEPS: dict[_TagState, re.Pattern[bytes]] = {
    _TagState.TAG_NAME: re.compile(rb"[^\t\n\f\r />]*+"),
    _TagState.BEFORE_ATTRIBUTE: re.compile(rb"[\t\n\f\r /]*+"),
    _TagState.ATTRIBUTE_NAME: re.compile(rb"[^\t\n\f\r />=]*+"),
    _TagState.AFTER_NAME: re.compile(rb"[\t\n\f\r ]*+"),
    _TagState.BEFORE_VALUE: re.compile(rb"[\t\n\f\r ]*+"),
    _TagState.DOUBLE_QUOTED: re.compile(rb"[^\"]*+"),
    _TagState.SINGLE_QUOTED: re.compile(rb"[^']*+"),
    _TagState.UNQUOTED: re.compile(rb"[^\t\n\f\r >]*+"),
}


def _advance_tag(state: _TagState, buffer: bytes, pos: int) -> tuple[_TagState, int, bool]:
    """Run the tag tokenizer from `state`; returns (state, position, whether the tag ended)."""
    size = len(buffer)
    while True:
        pos = _end_of(_TAG_STEPS[state].match(buffer, pos))
        if pos >= size:
            return state, pos, False
        byte = buffer[pos : pos + 1]
        if byte == b">" and state not in (_TagState.DOUBLE_QUOTED, _TagState.SINGLE_QUOTED):
            return state, pos + 1, True
        state, pos = _next_tag_state(state, byte, pos)


def _next_tag_state(state: _TagState, byte: bytes, pos: int) -> tuple[_TagState, int]:
    """One transition of the tag tokenizer on a byte the current state does not consume."""
    if state is _TagState.TAG_NAME:
        return _TagState.BEFORE_ATTRIBUTE, pos + 1  # whitespace or `/`
    if state is _TagState.ATTRIBUTE_NAME or state is _TagState.AFTER_NAME:
        if byte == b"=":
            return _TagState.BEFORE_VALUE, pos + 1
        if byte == b"/":
            return _TagState.BEFORE_ATTRIBUTE, pos + 1
        if state is _TagState.ATTRIBUTE_NAME:
            return _TagState.AFTER_NAME, pos + 1  # whitespace
        return _TagState.ATTRIBUTE_NAME, pos + 1  # the next attribute's name
    if state is _TagState.BEFORE_ATTRIBUTE:
        return _TagState.ATTRIBUTE_NAME, pos + 1  # any other byte starts a name (even `=`)
    if state is _TagState.BEFORE_VALUE:
        if byte == b'"':
            return _TagState.DOUBLE_QUOTED, pos + 1
        if byte == b"'":
            return _TagState.SINGLE_QUOTED, pos + 1
        return _TagState.UNQUOTED, pos
    # The closing quote of a value, or whitespace after an unquoted one.
    return _TagState.BEFORE_ATTRIBUTE, pos + 1


def scan(data: bytes, link_tags: Sequence[str] = DEFAULT_LINK_TAGS) -> Iterator[Piece]:
    """Scan a whole document held in memory."""
    yield from Scanner(link_tags).feed(data, last=True)


def scan_chunks(
    chunks: Iterable[bytes], link_tags: Sequence[str] = DEFAULT_LINK_TAGS
) -> Iterator[Piece]:
    scanner = Scanner(link_tags)
    pending: bytes | None = None
    for chunk in chunks:
        if pending is not None:
            yield from scanner.feed(pending)
        pending = chunk
    yield from scanner.feed(pending or b"", last=True)
