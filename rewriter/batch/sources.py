"""Which files a command works on: paths given, folders walked, in a stable order."""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from rewriter.web.globs import GlobSet

# HTML-bearing templates: HTML itself and the template languages that usually hold it.
TEMPLATE_SUFFIXES = frozenset(
    {
        ".html",
        ".htm",
        ".hbs",
        ".handlebars",
        ".gotmpl",
        ".tpl",
        ".ftl",
        ".twig",
        ".liquid",
        ".njk",
        ".jinja",
        ".j2",
    }
)
STDIN = "-"


@dataclass(frozen=True, slots=True)
class Source:
    """One input file, and its path relative to the folder it was found in."""

    path: Path
    relative: str  # POSIX form; the file name for a file given directly

    @property
    def display(self) -> str:
        return str(self.path)

    def read(self) -> tuple[bytes, os.stat_result | None]:
        """The bytes, and the file's status as they were read (for the cache)."""
        from rewriter.batch.fsio import read_with_status

        return read_with_status(self.path)


@dataclass(frozen=True, slots=True)
class StdinSource:
    """The document read from stdin (`-`), named as `--stdin-filename` says: that name is its
    attribution and its name in messages."""

    data: bytes
    name: str = STDIN

    @property
    def display(self) -> str:
        return self.name

    @property
    def relative(self) -> str:
        return self.name

    def read(self) -> tuple[bytes, os.stat_result | None]:
        return self.data, None


# Every kind of document one `process` call takes (a MIME part will be one more).
Document = Source | StdinSource


@dataclass(frozen=True, slots=True)
class PathError:
    """A path given (or found) that cannot be taken: reported like a failed file."""

    display: str
    reason: str

    @property
    def message(self) -> str:
        return f"{self.display}: error: {self.reason}"


def iter_sources(
    paths: Sequence[str],
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    skip_dirs: Sequence[Path] = (),
) -> Iterator[Source | PathError]:
    """Files given directly, plus the templates found under folders, lazily, in sorted order.

    The order is that of the paths' components (a folder's files and subfolders by name, each
    subfolder's content at its place), the same whatever the file system lists first, and
    nothing is held but one folder's names at each depth: memory does not grow with the number
    of files. Paths given that cannot be taken come first; folders that cannot be listed come
    at their place. A file reached twice (a folder and a file in it both given) is taken once,
    as found first. `include` globs (matched against the path relative to the folder, or the
    file name) replace the default extension filter; `exclude` globs drop matches. Files given
    directly are always taken. Folders in `skip_dirs` (such as an output folder inside an input
    one) are not entered.
    """
    filters = _Filters(
        GlobSet(include, case_sensitive=True),
        GlobSet(exclude, case_sensitive=True),
        {_identity(path) for path in skip_dirs if path.exists()},
    )
    streams: list[Iterator[Source | PathError]] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            streams.append(_walk(path, filters))
        elif path.is_file():
            streams.append(iter((Source(path, path.name),)))
        else:
            yield PathError(given, _unusable(path))
    previous: Path | None = None
    for item in heapq.merge(*streams, key=_order):
        if isinstance(item, Source):
            if item.path == previous:
                continue
            previous = item.path
        yield item


def unusable_paths(paths: Sequence[str]) -> list[PathError]:
    """The paths given that are neither a file nor a folder (`-` alone is stdin)."""
    if list(paths) == [STDIN]:
        return []
    return [
        PathError(given, _unusable(Path(given)))
        for given in paths
        if not (Path(given).is_dir() or Path(given).is_file())
    ]


def _unusable(path: Path) -> str:
    return "not a regular file or folder" if path.exists() else "no such file or folder"


def output_overlap(paths: Sequence[str], out_dir: Path) -> tuple[str, bool] | None:
    """The first input that `out_dir` is, or is a folder above, and whether it is the same
    (for a file given, its folder, where its output would land), else None.

    A file lands on `out_dir / relative`, so an output folder above an input can write over
    that input or over the templates beside it. Compared by identity (device and inode),
    along the path as given (made absolute) and along its real path, so relative paths,
    symlinks on either side and `..` all count. An output folder inside an input folder is
    fine: the walk does not enter it. A folder yet to be made holds no input.
    """
    out = _identity(out_dir)
    if out == _MISSING:
        return None
    for given in paths:
        if given == STDIN:
            continue
        path = Path(given)
        own = path if path.is_dir() else path.parent  # where its outputs' tree starts
        for start in {Path(os.path.abspath(path)), Path(os.path.realpath(path))}:
            for folder in (start, *start.parents):
                if _identity(folder) == out:
                    return given, _identity(own) == out
    return None


def _order(item: Source | PathError) -> tuple[str, ...]:
    return item.path.parts if isinstance(item, Source) else Path(item.display).parts


class _Filters(NamedTuple):  # internal records: a NamedTuple is cheaper to define than a dataclass
    includes: GlobSet
    excludes: GlobSet
    skipped: set[tuple[int, int]]

    def wanted(self, relative: str, name: str) -> bool:
        if self.excludes.first_match(relative) or self.excludes.first_match(name):
            return False
        if len(self.includes):
            return bool(self.includes.first_match(relative) or self.includes.first_match(name))
        return os.path.splitext(name)[1].lower() in TEMPLATE_SUFFIXES


def _walk(root: Path, filters: _Filters) -> Iterator[Source | PathError]:
    """Depth first, each folder's entries by name. Symlinked folders are not followed, which
    also rules out symlink loops; symlinked files are taken."""
    stack = [_listing(root)]
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
        elif isinstance(entry, PathError):
            yield entry
        elif not entry.name.startswith("."):  # hidden files and folders are not templates
            path = Path(entry.folder, entry.name)
            if entry.is_folder:
                if _identity(path) not in filters.skipped:
                    stack.append(_listing(path))
                continue
            relative = path.relative_to(root).as_posix()
            if filters.wanted(relative, entry.name) and path.is_file():
                yield Source(path, relative)


class _Entry(NamedTuple):
    folder: str
    name: str
    is_folder: bool  # a real folder, not a symlink to one


def _listing(folder: Path) -> Iterator[_Entry | PathError]:
    """One folder's entries by name (read whole: the only way to sort them)."""
    try:
        with os.scandir(folder) as entries:
            found = sorted((entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries)
    except OSError as error:
        yield PathError(str(error.filename or folder), str(error.strerror))
        return
    where = str(folder)
    for name, is_folder in found:
        yield _Entry(where, name, is_folder)


_MISSING = (-1, -1)


def _identity(path: Path) -> tuple[int, int]:
    try:
        status = path.stat()
    except OSError:
        return _MISSING
    return (status.st_dev, status.st_ino)


def take_sources(
    items: Iterator[Source | PathError], wanted: int
) -> tuple[list[Source | PathError], int]:
    """The first items, up to `wanted` files, and how many files that is."""
    first: list[Source | PathError] = []
    found = 0
    for item in items:
        first.append(item)
        found += isinstance(item, Source)
        if found >= wanted:
            break
    return first, found


def count_sources(items: Iterator[Source | PathError]) -> int:
    """How many there are (a second walk: nothing is kept from the first)."""
    return sum(1 for _ in items)
