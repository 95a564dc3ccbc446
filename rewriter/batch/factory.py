"""Put an engine together from rules: keys, preload list, classifier. The edges' one-stop shop."""

from __future__ import annotations

import os
from pathlib import Path

from rewriter.batch.job import EngineSettings, KeyUse
from rewriter.document.engine import Rewriter
from rewriter.rules.model import Rules
from rewriter.status.classify import Classifier
from rewriter.status.preload import PreloadList
from rewriter.tokens.keys import KeyRing, KeyRingError


class SetupError(Exception):
    """The rules cannot be used as asked (no key, an unreadable preload list...)."""


def cache_dir() -> Path:
    """The tool's cache folder: REWRITER_CACHE_DIR, else the user's cache directory."""
    explicit = os.environ.get("REWRITER_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rewriter"


def load_rules_remembered(path: Path, *, remember: bool) -> Rules:
    """The rules of a file, from the cache folder when this exact file was validated before.

    Reading and validating YAML costs more than the rest of a one-message run (the parser, the
    public-suffix check); a validated rule set is kept, keyed by the tool's version, the file's
    path and its bytes. `remember=False` reads the cache but never writes it (`links` and
    `check` write nothing anywhere).
    """
    import hashlib
    import pickle

    from rewriter import __version__
    from rewriter.rules.model import MAX_RULES_BYTES, RULES_LAYOUT

    with open(path, "rb") as handle:
        data = handle.read(MAX_RULES_BYTES + 1)
    if len(data) > MAX_RULES_BYTES:
        return _validated(path)  # refused there, with the message
    identity = f"{__version__}\0{RULES_LAYOUT}\0{os.path.realpath(path)}\0".encode() + data
    cached = cache_dir() / f"rules.{hashlib.sha256(identity).hexdigest()[:32]}.pickle"
    try:
        if _private(cached):  # unpickling runs code: only from a file nobody else could write
            rules = pickle.loads(cached.read_bytes())
            if isinstance(rules, Rules):
                return rules
    except Exception:  # absent, unreadable or not ours: validate the file again
        pass
    rules = _validated(path)
    if remember:
        _remember(cached, pickle.dumps(rules, protocol=pickle.HIGHEST_PROTOCOL))
    return rules


def _validated(path: Path) -> Rules:
    from rewriter.rules.loader import load_rules  # the YAML reader: only when not remembered

    return load_rules(path)


def _private(path: Path) -> bool:
    """Owned by this user, and neither the file nor its folder writable by anyone else."""
    for status in (path.stat(), path.parent.stat()):
        if status.st_uid != os.getuid() or status.st_mode & 0o022:
            return False
    return True


def _remember(path: Path, data: bytes) -> None:
    from rewriter.batch.fsio import write_atomic

    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(path, data, mode=0o600, durable=False)
    except OSError:
        return  # only a slower next run


def load_ring(rules: Rules) -> KeyRing:
    """The signing keys the rules name: the environment variable when set, else the key file."""
    source = rules.keys
    try:
        if source.env and os.environ.get(source.env):
            return KeyRing.from_env(source.env)
        if source.file is not None:
            return KeyRing.from_file(source.file)
    except KeyRingError as error:
        raise SetupError(str(error)) from None
    where = [f"the environment variable {source.env}"] if source.env else []
    where += [f"the key file {source.file}"] if source.file else []
    if not where:
        raise SetupError(f"{_origin(rules)}: no `keys` section: rewriting needs a signing key")
    raise SetupError(f"{_origin(rules)}: no signing key: set {' or create '.join(where)}")


def load_ring_if_any(rules: Rules) -> KeyRing | None:
    """The keys when the rules' key source is there (None when it is not: inspecting needs no
    key); a source that is there but unusable (a key file others can read, a malformed line)
    is refused as `load_ring` refuses it, never taken for "no key"."""
    source = rules.keys
    env_set = bool(source.env and os.environ.get(source.env))
    file_there = source.file is not None and os.path.lexists(source.file)
    if not env_set and not file_there:
        return None
    return load_ring(rules)


def load_preload_list(rules: Rules, override: Path | None = None) -> PreloadList:
    """The list `--preload-list` names, else the one the rules name, else the bundled list."""
    from rewriter.status.fetched import FETCHED, load_fetched
    from rewriter.status.preload import PreloadListError, bundled_preload_list, load_chromium_json

    path = override or rules.preload_list
    if path is None:
        return bundled_preload_list()
    if path == FETCHED:
        try:
            return load_fetched(cache_dir())
        except (OSError, PreloadListError) as error:
            raise SetupError(f"cannot use the fetched preload list: {error}") from None
    try:
        return load_chromium_json(path, cache_dir() / "preload")
    except (OSError, PreloadListError) as error:
        raise SetupError(f"{path}: cannot use this preload list: {error}") from None


def build_engine(settings: EngineSettings, *, preload: PreloadList | None = None) -> Rewriter:
    """The engine of a run: the only place one is put together. `preload` saves loading the
    list again where the caller already holds it (the parent of a batch)."""
    rules = settings.rules
    if settings.keys is KeyUse.SIGN:
        ring: KeyRing | None = load_ring(rules)
    elif settings.keys is KeyUse.VERIFY:
        ring = load_ring_if_any(rules)
    else:
        ring = None
    classifier = None
    if settings.statuses:
        if preload is None:
            preload = load_preload_list(rules, settings.preload_list)
        classifier = Classifier(rules, preload)
    return Rewriter(rules, ring, classifier, link_texts=settings.link_texts)


def make_rewriter(
    rules: Rules, *, keys: bool = True, preload: PreloadList | None = None
) -> Rewriter:
    """Shorthand for the library and the tests: the engine of `rules`, signing (or, with
    `keys=False`, inspecting without a key)."""
    use = KeyUse.SIGN if keys else KeyUse.NONE
    return build_engine(EngineSettings(rules, keys=use), preload=preload)


def _origin(rules: Rules) -> str:
    return str(rules.source) if rules.source else "rules"
