"""The signing keys of tracking tokens: a key ring read from a key file or an environment variable.

Key file format (text, UTF-8), one key per line, `#` starts a comment, blank lines are ignored:

    # the first key signs; the others only verify tokens already sent
    k2 <43 base64url characters: 32 random bytes>
    k1 <the previous key, kept so links in mail already sent keep verifying>

A key id is 1-16 characters of [A-Za-z0-9_-]; a secret is base64url (padding optional) of at least
16 bytes. An environment variable holds the same lines, or `;`-separated `kid:secret` entries.
No message, repr or log line ever contains a secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from _hashlib import HASH as _Hash

MIN_SECRET_BYTES = 16
GENERATED_SECRET_BYTES = 32
KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,16}")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_DIGEST_LABEL = b"rewriter key ring digest v1"


class KeyRingError(Exception):
    """A key source that cannot be used; the message names the source, never a secret."""


class KeyRing:
    """Immutable: `current` names the key that signs; every key in `keys` verifies."""

    __slots__ = ("_current", "_keys", "_macs", "_origin")

    _current: str
    _keys: Mapping[str, bytes]
    _macs: Mapping[str, tuple[_Hash, _Hash]]  # key id -> HMAC inner and outer states
    _origin: str

    def __init__(self, current: str, keys: Mapping[str, bytes], origin: str = "key ring") -> None:
        for key_id, secret in keys.items():
            _check_key(key_id, secret, origin)
        if current not in keys:
            shown = f" '{current}'" if KEY_ID.fullmatch(current) else ""
            raise KeyRingError(f"{origin}: the signing key{shown} is not in the ring")
        frozen = dict(keys)
        set_ = object.__setattr__
        set_(self, "_current", current)
        set_(self, "_keys", MappingProxyType(frozen))
        set_(self, "_macs", MappingProxyType({k: _mac_base(s) for k, s in frozen.items()}))
        set_(self, "_origin", origin)

    @property
    def current(self) -> str:
        return self._current

    @property
    def keys(self) -> Mapping[str, bytes]:
        return self._keys

    @property
    def origin(self) -> str:
        return self._origin

    def mac(self, key_id: str, message: bytes) -> bytes:
        """HMAC-SHA256(key, TOKEN_MAC_DOMAIN + message); KeyError for an unknown key id.

        RFC 2104 spelled out over precomputed states: half the cost of copying an `hmac` object,
        and this runs once per link.
        """
        inner_state, outer_state = self._macs[key_id]
        inner = inner_state.copy()
        inner.update(message)
        outer = outer_state.copy()
        outer.update(inner.digest())
        return outer.digest()

    def digest(self) -> str:
        """A hex digest of all key material (for cache keys); reveals nothing about the keys."""
        material = bytearray(self._current.encode() + b"\0")
        for key_id in sorted(self._keys):
            secret = self._keys[key_id]
            material += key_id.encode() + b"\0" + len(secret).to_bytes(2, "big") + secret
        return hmac.new(bytes(material), _DIGEST_LABEL, hashlib.sha256).hexdigest()

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("KeyRing is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("KeyRing is immutable")

    def __repr__(self) -> str:
        verify = [k for k in self._keys if k != self._current]
        return (
            f"KeyRing(current={self._current!r}, verify_only={verify!r}, origin={self._origin!r})"
        )

    def __reduce__(self) -> tuple[type[KeyRing], tuple[str, dict[str, bytes], str]]:
        # Hash states do not pickle; a worker process rebuilds them from the keys.
        return (KeyRing, (self._current, dict(self._keys), self._origin))

    @classmethod
    def from_text(cls, text: str, origin: str) -> KeyRing:
        """Parse key lines; `origin` names the source in messages ("key file keys.txt")."""
        keys: dict[str, bytes] = {}
        for where, key_id, encoded in _entries(text, origin):
            if key_id in keys:
                raise KeyRingError(f"{where}: key id '{key_id}' appears twice")
            keys[key_id] = _decode_secret(encoded, key_id, where)
        if not keys:
            raise KeyRingError(f"{origin}: no keys found")
        return cls(next(iter(keys)), keys, origin)

    @classmethod
    def from_file(cls, path: Path) -> KeyRing:
        """Read a key file; refuse one that group or others can access."""
        data = _read_private_file(path)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise KeyRingError(f"key file {path}: not UTF-8 text") from None
        return cls.from_text(text, f"key file {path}")

    @classmethod
    def from_env(cls, name: str) -> KeyRing:
        """Read keys from the environment variable `name`."""
        text = os.environ.get(name, "")
        if not text.strip():
            raise KeyRingError(f"environment variable {name} is not set or empty")
        return cls.from_text(text, f"environment variable {name}")


def generate_key_file(path: Path, key_id: str = "k1") -> None:
    """Write a fresh random key, mode 0600, created atomically; FileExistsError if path exists."""
    if not KEY_ID.fullmatch(key_id):
        raise ValueError(f"key id must be 1-16 characters of A-Z a-z 0-9 _ -: {key_id!r}")
    import secrets  # only `init` makes keys

    secret = base64.urlsafe_b64encode(secrets.token_bytes(GENERATED_SECRET_BYTES))
    content = (
        b"# rewriter signing keys: the first key signs, the others only verify.\n"
        b"# Keep this file secret (mode 0600). To rotate, add a new key on top.\n"
        + key_id.encode()
        + b" "
        + secret.rstrip(b"=")
        + b"\n"
    )
    # O_EXCL: never overwrite, and never follow a symlink planted at the path.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)  # exact, whatever the umask
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        os.unlink(path)  # no half-written key file left behind
        raise


def _read_private_file(path: Path) -> bytes:
    """The bytes of a regular file that only its owner may access (checked on the open file)."""
    try:
        # O_NONBLOCK: a FIFO in place of the file must not hang us (it is refused below).
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        raise KeyRingError(f"key file {path}: cannot open: {error.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise KeyRingError(f"key file {path}: not a regular file")
        if mode & 0o077 and os.name == "posix":
            raise KeyRingError(
                f"key file {path} is accessible by group or others "
                f"(mode {stat.S_IMODE(mode):04o}); run: chmod 600 {path}"
            )
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read()
    finally:
        os.close(fd)


def _entries(text: str, origin: str) -> Iterator[tuple[str, str, str]]:
    """(where, key id, encoded secret) for each entry; `where` names origin, line and entry."""
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.split("#", 1)[0]
        parts = [part.strip() for part in line.split(";")]
        entries = [part for part in parts if part]
        for index, entry in enumerate(entries, start=1):
            where = f"{origin}, line {number}"
            if len(entries) > 1:
                where += f", entry {index}"
            yield (where, *_split_entry(entry, where))


def _split_entry(entry: str, where: str) -> tuple[str, str]:
    fields = entry.split(":", 1) if ":" in entry else entry.split()
    if len(fields) != 2:
        raise KeyRingError(
            f"{where}: expected '<key id> <base64url secret>' or '<key id>:<secret>'"
        )
    key_id, encoded = fields[0].strip(), fields[1].strip()
    if not KEY_ID.fullmatch(key_id):
        # The text may be a misplaced secret: do not echo it.
        raise KeyRingError(f"{where}: a key id must be 1-16 characters of A-Z a-z 0-9 _ -")
    return key_id, encoded


def _decode_secret(encoded: str, key_id: str, where: str) -> bytes:
    if not _BASE64URL.fullmatch(encoded):
        raise KeyRingError(f"{where}: the secret of key '{key_id}' is not base64url")
    try:
        unpadded = encoded.rstrip("=")
        secret = base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4))
    except (binascii.Error, ValueError):
        raise KeyRingError(f"{where}: the secret of key '{key_id}' is not base64url") from None
    if len(secret) < MIN_SECRET_BYTES:
        raise KeyRingError(
            f"{where}: the secret of key '{key_id}' is {len(secret)} bytes; "
            f"at least {MIN_SECRET_BYTES} are needed"
        )
    return secret


def _check_key(key_id: str, secret: bytes, origin: str) -> None:
    if not isinstance(key_id, str) or not KEY_ID.fullmatch(key_id):
        raise KeyRingError(f"{origin}: a key id must be 1-16 characters of A-Z a-z 0-9 _ -")
    if not isinstance(secret, bytes) or len(secret) < MIN_SECRET_BYTES:
        raise KeyRingError(f"{origin}: key '{key_id}' needs a secret of at least 16 bytes")


# Tokens are MACed over this constant first, so a MAC made for anything else never verifies as a
# token. It is absorbed once per key, when the ring is built.
TOKEN_MAC_DOMAIN = b"rewriter tracking token\0"


def _mac_base(secret: bytes) -> tuple[_Hash, _Hash]:
    """The HMAC-SHA256 states after the padded key (and, inside, the domain constant)."""
    block = hashlib.sha256().block_size
    key = hashlib.sha256(secret).digest() if len(secret) > block else secret
    key = key.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in key))
    inner.update(TOKEN_MAC_DOMAIN)
    outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in key))
    return inner, outer
