"""The benchmark's inputs: the data set, rendered messages, a huge input, many small files.

Everything is built from ../shared/corpus (or samples/ when it is absent), deterministically,
and written only under the temporary folder the caller gives.
"""

from __future__ import annotations

import html
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from rewriter.batch.sources import TEMPLATE_SUFFIXES

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
SAMPLES = ROOT / "samples"
MIB = 1 << 20
MB = 10**6


@dataclass(frozen=True, slots=True)
class Document:
    name: str  # distinct across the set: "copy-007/<path in the source folder>"
    data: bytes


@dataclass(frozen=True, slots=True)
class DataSet:
    documents: list[Document]
    origin: Path  # the folder the templates came from
    templates: int  # distinct templates found there
    copies: int

    @property
    def size(self) -> int:
        return sum(len(document.data) for document in self.documents)


def templates_in(folder: Path) -> list[tuple[str, bytes]]:
    """Every HTML-bearing template under `folder` (the extensions `rewriter` walks), sorted."""
    return [
        (path.relative_to(folder).as_posix(), path.read_bytes())
        for path in sorted(folder.rglob("*"))
        if path.suffix.lower() in TEMPLATE_SUFFIXES and path.is_file()
    ]


def build_data_set(min_bytes: int) -> DataSet:
    """The corpus templates (else samples/) copied under distinct names until `min_bytes`."""
    origin = CORPUS if CORPUS.is_dir() else SAMPLES
    templates = templates_in(origin)
    if not templates:
        raise SystemExit(f"no templates under {origin}")
    one_copy = sum(len(data) for _, data in templates)
    copies = max(1, -(-min_bytes // one_copy))
    documents = [
        Document(f"copy-{copy:03d}/{name}", data)
        for copy in range(copies)
        for name, data in templates
    ]
    return DataSet(documents, origin, len(templates), copies)


def write_tree(documents: Sequence[Document], folder: Path) -> Path:
    """The documents as files under `folder`, at their names."""
    for document in documents:
        path = folder / document.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(document.data)
    return folder


def write_huge_input(documents: Sequence[Document], path: Path, size: int) -> int:
    """One file of at least `size` bytes: the documents one after the other, repeated."""
    written = 0
    with open(path, "wb") as handle:
        while written < size:
            for document in documents:
                handle.write(document.data)
                written += len(document.data)
                if written >= size:
                    break
    return written


# --- Many small files ------------------------------------------------------------------------

_SMALL_TEMPLATE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Order {number}</title></head>
<body>
<p>Hello {name}, your order {number} has shipped.</p>
<p><a href="https://shop.example.org/orders/{number}?utm_source=email&amp;utm_medium=email">
Track your order</a> or <a href="https://www.example.net/help/{number}">get help</a>.</p>
<p><a href="mailto:help@example.org">Write to us</a> ·
<a href="https://www.example.net/unsubscribe?u={number}">Unsubscribe</a></p>
</body></html>
"""


def write_small_files(folder: Path, count: int, per_folder: int = 100) -> Path:
    """`count` small templates (about 600 bytes, 4 links each), in folders of `per_folder`."""
    names = ("Alex", "Sam", "Jordan", "Riley", "Casey")
    for number in range(count):
        path = folder / f"batch-{number // per_folder:04d}" / f"order-{number:06d}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = _SMALL_TEMPLATE.format(number=100000 + number, name=names[number % len(names)])
        path.write_text(text, encoding="utf-8")
    return folder


# --- Rendered messages ------------------------------------------------------------------------

_HREF = re.compile(r"""(\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_TEMPLATE_MARK = re.compile(r"\{\{|\{%|\$\{|<%|\*\||%%|\{\$|\[\[|\[[A-Za-z_]+\]")
# Control structures of the template languages in the corpus: they render to nothing.
_BLOCKS = re.compile(
    r"\{\{[#/^~!>][^}]*\}\}|\{\{\s*(?:else|end)\b[^}]*\}\}|\{\{-?\s*(?:if|range|with|define"
    r"|template|block)\b[^}]*\}\}|\{%.*?%\}|</?#[a-z][^>]*>|<%.*?%>|\{/?(?:if|foreach|else)[^}]*\}",
    re.DOTALL,
)
# Expressions: they render to a value.
_EXPRESSIONS = re.compile(
    r"\{\{\{[^}]*\}\}\}|\{\{[^}]*\}\}|\$\{[^}]*\}|\*\|[^|]*\|\*|%%[^%]*%%|\{\$[^}]*\}|\[[A-Za-z_]+\]"
)
_BODY = re.compile(r"<body\b[^>]*>(.*?)</body\s*>", re.IGNORECASE | re.DOTALL)
_OUTSIDE_BODY = re.compile(
    r"<!doctype[^>]*>|<head\b.*?</head\s*>|</?html\b[^>]*>|</?body\b[^>]*>",
    re.IGNORECASE | re.DOTALL,
)
_MESSAGE_HEAD = (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
    "<title>Your weekly update</title></head>\n<body>\n"
)
_MESSAGE_TAIL = "\n</body></html>\n"
SIZE_SLACK = 10_000  # bytes a message may exceed the size asked for
_VALUES = ("Alex", "Acme Inc.", "order #48213", "12 May 2026", "$42.00", "alex@example.org")


def rendered_messages(
    templates: Sequence[tuple[str, bytes]],
    destinations: Sequence[str],
    sizes: Sequence[int],
    seed: int = 5,
) -> list[bytes]:
    """Messages as a template engine would render them: bodies of several templates, template
    links replaced by real URLs (so they are tracked), other expressions by plausible values.
    Each message is at least its size in `sizes`, and at most the largest of `sizes`."""
    rng = random.Random(seed)
    urls = iter(_cycle(destinations))
    bodies = [_render(_body(data), urls, rng) for _, data in templates if _is_utf8(data)]
    bodies = [body for body in bodies if body.strip()]
    ceiling = max(sizes)
    return [_message(bodies, size, ceiling, rng) for size in sizes]


def _message(bodies: Sequence[bytes], size: int, ceiling: int, rng: random.Random) -> bytes:
    frame = len(_MESSAGE_HEAD) + len(_MESSAGE_TAIL)
    parts: list[bytes] = []
    length = frame
    order = list(bodies)
    while length < size:
        rng.shuffle(order)
        # Close to the size asked for when a body fits there, else anything under the ceiling.
        room = min(size + SIZE_SLACK, ceiling) - length
        fitting = _first_fitting(order, room) or _first_fitting(order, ceiling - length)
        if fitting is None:
            break
        parts.append(fitting)
        length += len(fitting) + 1
    return _MESSAGE_HEAD.encode() + b"\n".join(parts) + _MESSAGE_TAIL.encode()


def _first_fitting(bodies: Sequence[bytes], room: int) -> bytes | None:
    """The first body that fits in `room` bytes (with its separator)."""
    return next((body for body in bodies if len(body) + 1 <= room), None)


def _body(data: bytes) -> str:
    text = data.decode("utf-8")
    found = _BODY.search(text)
    return found.group(1) if found else _OUTSIDE_BODY.sub("", text)


def _render(text: str, urls: Iterator[str], rng: random.Random) -> bytes:
    def real_link(match: re.Match[str]) -> str:
        prefix, quote, value = match.groups()
        if not _TEMPLATE_MARK.search(value):
            return match.group(0)
        return f"{prefix}{quote}{html.escape(next(urls), quote=True)}{quote}"

    text = _HREF.sub(real_link, text)
    text = _BLOCKS.sub("", text)
    text = _EXPRESSIONS.sub(lambda _: rng.choice(_VALUES), text)
    return text.encode("utf-8")


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _cycle(items: Sequence[str]) -> Iterator[str]:
    while True:
        yield from items
