"""Which files a command works on: paths given, folders walked, in a stable order."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rewriter.globs import GlobSet

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


@dataclass(frozen=True, slots=True)
class PathError:
    """A path given (or found) that cannot be taken: reported like a failed file."""

    display: str
    reason: str

    @property
    def message(self) -> str:
        return f"{self.display}: error: {self.reason}"


@dataclass(slots=True)
class Discovery:
    sources: list[Source]
    errors: list[PathError]  # paths that do not exist or cannot be walked


def find_sources(
    paths: Sequence[str],
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    skip_dirs: Sequence[Path] = (),
) -> Discovery:
    """Files given directly, plus the templates found under folders, sorted by path.

    `include` globs (matched against the path relative to the folder, or the file name) replace
    the default extension filter; `exclude` globs drop matches. Files given directly are always
    taken. Folders in `skip_dirs` (such as an output folder inside an input one) are not entered.
    """
    includes = GlobSet(include, case_sensitive=True)
    excludes = GlobSet(exclude, case_sensitive=True)
    skipped = {_identity(path) for path in skip_dirs if path.exists()}
    found: dict[Path, Source] = {}
    errors: list[PathError] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for source in _walk(path, includes, excludes, skipped, errors):
                found.setdefault(source.path, source)
        elif path.is_file():
            found.setdefault(path, Source(path, path.name))
        elif not path.exists():
            errors.append(PathError(given, "no such file or folder"))
        else:
            errors.append(PathError(given, "not a regular file or folder"))
    return Discovery(sorted(found.values(), key=lambda source: str(source.path)), errors)


def _walk(
    root: Path,
    includes: GlobSet,
    excludes: GlobSet,
    skipped: set[tuple[int, int]],
    errors: list[PathError],
) -> list[Source]:
    sources = []

    def on_error(error: OSError) -> None:
        errors.append(PathError(str(error.filename), str(error.strerror)))

    # Symlinked folders are not followed, which also rules out symlink loops.
    for folder, dirs, files in os.walk(root, onerror=on_error):
        here = Path(folder)
        dirs[:] = sorted(
            name
            for name in dirs
            if not name.startswith(".") and _identity(here / name) not in skipped
        )
        for name in sorted(files):
            if name.startswith("."):  # hidden files, like hidden folders, are not templates
                continue
            path = here / name
            relative = path.relative_to(root).as_posix()
            if _wanted(relative, name, includes, excludes) and path.is_file():
                sources.append(Source(path, relative))
    return sources


def _wanted(relative: str, name: str, includes: GlobSet, excludes: GlobSet) -> bool:
    if excludes.first_match(relative) or excludes.first_match(name):
        return False
    if len(includes):
        return bool(includes.first_match(relative) or includes.first_match(name))
    return os.path.splitext(name)[1].lower() in TEMPLATE_SUFFIXES


def _identity(path: Path) -> tuple[int, int]:
    try:
        status = path.stat()
    except OSError:
        return (-1, -1)
    return (status.st_dev, status.st_ino)
