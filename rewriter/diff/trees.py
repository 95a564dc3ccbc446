"""Two files or two trees, paired by relative path as they stream (neither is held whole)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rewriter.batch.sources import PathError, Source, iter_sources


@dataclass(frozen=True, slots=True)
class Pair:
    """One document on either side (None: the file exists on one side only)."""

    name: str  # the path relative to the roots compared
    old: Path | None
    new: Path | None


def pairs(
    old: Path, new: Path, include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> Iterator[Pair | PathError]:
    """Two files give one pair; two folders give their templates paired by relative path, in
    path order, lazily."""
    if old.is_file() and new.is_file():
        yield Pair(new.name if old.name == new.name else f"{old.name} -> {new.name}", old, new)
        return
    left = iter_sources([str(old)], include, exclude)
    right = iter_sources([str(new)], include, exclude)
    yield from _merge(left, right)


def _merge(
    left: Iterator[Source | PathError], right: Iterator[Source | PathError]
) -> Iterator[Pair | PathError]:
    a, b = _next(left), _next(right)
    while a is not None or b is not None:
        if isinstance(a, PathError):
            yield a
            a = _next(left)
        elif isinstance(b, PathError):
            yield b
            b = _next(right)
        elif b is None or (a is not None and _key(a) < _key(b)):
            assert a is not None
            yield Pair(a.relative, a.path, None)
            a = _next(left)
        elif a is None or _key(b) < _key(a):
            yield Pair(b.relative, None, b.path)
            b = _next(right)
        else:
            yield Pair(a.relative, a.path, b.path)
            a, b = _next(left), _next(right)


def _next(items: Iterator[Source | PathError]) -> Source | PathError | None:
    return next(items, None)


def _key(source: Source) -> tuple[str, ...]:
    return PurePosixPath(source.relative).parts
