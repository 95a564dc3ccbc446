"""The key ring: key file and environment formats, refusals, secrecy, generation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import pickle
import stat
from pathlib import Path

import pytest

from rewriter.tokens.keys import (
    TOKEN_MAC_DOMAIN,
    KeyRing,
    KeyRingError,
    generate_key_file,
)

SECRET_1 = bytes(range(32))
SECRET_2 = bytes(range(100, 132))
B64_1 = base64.urlsafe_b64encode(SECRET_1).decode().rstrip("=")
B64_2 = base64.urlsafe_b64encode(SECRET_2).decode()  # with padding: also accepted
SHORT = base64.urlsafe_b64encode(b"x" * 15).decode()


def _write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


# --- Formats ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"k2 {B64_2}\nk1 {B64_1}\n",
        f"# keys\n\n  k2   {B64_2}   # signs\n\n# old\nk1\t{B64_1}\n",
        f"k2:{B64_2};k1:{B64_1}",
        f" k2:{B64_2} ; k1:{B64_1} ;",
        f"k2:{B64_2}\r\nk1:{B64_1}\r\n",
    ],
)
def test_formats_first_key_signs(text: str) -> None:
    ring = KeyRing.from_text(text, "test")
    assert ring.current == "k2"
    assert dict(ring.keys) == {"k2": SECRET_2, "k1": SECRET_1}


def test_key_ids_may_use_the_whole_alphabet() -> None:
    ring = KeyRing.from_text(f"Ab_9-Ab_9-Ab_9-Z {B64_1}", "test")
    assert ring.current == "Ab_9-Ab_9-Ab_9-Z"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "test: no keys found"),
        ("# only a comment\n\n", "test: no keys found"),
        (f"k1 {B64_1}\nk2\n", "test, line 2: expected '<key id> <base64url secret>'"),
        (f"k1 {B64_1}\nk2 {B64_2} extra\n", "test, line 2: expected"),
        (f"\n\nbad.id {B64_1}\n", "test, line 3: a key id must be 1-16 characters"),
        (f"k1234567890123456 {B64_1}", "test, line 1: a key id must be 1-16 characters"),
        (f"k1 {SHORT}", "test, line 1: the secret of key 'k1' is 15 bytes; at least 16"),
        ("k1 not+base64/at-all", "test, line 1: the secret of key 'k1' is not base64url"),
        ("k1 abcde", "test, line 1: the secret of key 'k1' is not base64url"),
        (f"k1 {B64_1}\n\nk1 {B64_2}", "test, line 3: key id 'k1' appears twice"),
        (f"k1:{B64_1};k2:{SHORT}", "test, line 1, entry 2: the secret of key 'k2' is 15 bytes"),
        (f"k1:{B64_1};:{B64_2}", "test, line 1, entry 2: a key id must be"),
    ],
)
def test_parse_errors_name_source_and_line_never_the_secret(text: str, message: str) -> None:
    with pytest.raises(KeyRingError) as caught:
        KeyRing.from_text(text, "test")
    assert str(caught.value).startswith(message)
    for secret in (B64_1, B64_2, SHORT, "not+base64/at-all"):
        assert secret not in str(caught.value)


def test_a_misplaced_secret_is_not_echoed_as_a_key_id() -> None:
    with pytest.raises(KeyRingError) as caught:
        KeyRing.from_text(f"{B64_1} k1", "test")
    assert B64_1 not in str(caught.value)
    assert B64_1[:16] not in str(caught.value)


# --- Key files -------------------------------------------------------------------------------


def test_from_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "keys.txt", f"k2 {B64_2}\nk1 {B64_1}\n")
    ring = KeyRing.from_file(path)
    assert ring.current == "k2"
    assert ring.origin == f"key file {path}"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o700 | 0o010, 0o601])
def test_a_key_file_open_to_group_or_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = _write(tmp_path / "keys.txt", f"k1 {B64_1}\n", mode)
    with pytest.raises(KeyRingError) as caught:
        KeyRing.from_file(path)
    message = str(caught.value)
    assert str(path) in message
    assert f"chmod 600 {path}" in message
    assert f"{mode:04o}" in message
    assert B64_1 not in message


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_owner_only_modes_are_accepted(tmp_path: Path, mode: int) -> None:
    path = _write(tmp_path / "keys.txt", f"k1 {B64_1}\n", mode)
    assert KeyRing.from_file(path).keys == {"k1": SECRET_1}


def test_parse_errors_in_a_file_name_the_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "keys.txt", f"# keys\nk1 {SHORT}\n")
    with pytest.raises(KeyRingError, match=r"^key file .*keys\.txt, line 2: the secret of key"):
        KeyRing.from_file(path)


def test_missing_key_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.txt"
    with pytest.raises(KeyRingError, match=r"key file .*absent\.txt: cannot open"):
        KeyRing.from_file(path)


def test_a_directory_is_not_a_key_file(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir(mode=0o700)
    with pytest.raises(KeyRingError, match="dir"):
        KeyRing.from_file(tmp_path / "dir")


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "keys.txt", 0o600)
    with pytest.raises(KeyRingError, match="not a regular file"):
        KeyRing.from_file(tmp_path / "keys.txt")


def test_a_key_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "keys.txt"
    path.write_bytes(b"k1 \xff\xfe\n")
    path.chmod(0o600)
    with pytest.raises(KeyRingError, match="not UTF-8"):
        KeyRing.from_file(path)


# --- Environment -----------------------------------------------------------------------------


def test_from_env_in_both_formats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REWRITER_TEST_KEYS", f"k1:{B64_1};old:{B64_2}")
    ring = KeyRing.from_env("REWRITER_TEST_KEYS")
    assert (ring.current, set(ring.keys)) == ("k1", {"k1", "old"})
    monkeypatch.setenv("REWRITER_TEST_KEYS", f"k1 {B64_1}\nold {B64_2}\n")
    assert KeyRing.from_env("REWRITER_TEST_KEYS").keys == ring.keys


@pytest.mark.parametrize("value", [None, "", "  \n"])
def test_from_env_unset_or_empty(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("REWRITER_TEST_KEYS", raising=False)
    else:
        monkeypatch.setenv("REWRITER_TEST_KEYS", value)
    with pytest.raises(KeyRingError, match="environment variable REWRITER_TEST_KEYS is not set"):
        KeyRing.from_env("REWRITER_TEST_KEYS")


def test_env_parse_errors_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REWRITER_TEST_KEYS", f"k1:{SHORT}")
    with pytest.raises(KeyRingError, match=r"^environment variable REWRITER_TEST_KEYS, line 1"):
        KeyRing.from_env("REWRITER_TEST_KEYS")


# --- The ring --------------------------------------------------------------------------------


def test_repr_and_str_hide_secrets() -> None:
    ring = KeyRing("k2", {"k2": SECRET_2, "k1": SECRET_1}, origin="test")
    expected = "KeyRing(current='k2', verify_only=['k1'], origin='test')"
    assert repr(ring) == str(ring) == f"{ring}" == expected
    assert repr([ring]) == f"[{expected}]"


def test_the_ring_is_immutable() -> None:
    ring = KeyRing("k1", {"k1": SECRET_1})
    with pytest.raises(AttributeError):
        ring.current = "k2"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        ring._current = "k2"
    with pytest.raises(TypeError):
        ring.keys["k2"] = SECRET_2  # type: ignore[index]


def test_the_ring_copies_the_mapping_it_is_given() -> None:
    keys = {"k1": SECRET_1}
    ring = KeyRing("k1", keys)
    keys["k1"] = SECRET_2
    assert ring.keys["k1"] == SECRET_1


@pytest.mark.parametrize(
    ("current", "keys", "message"),
    [
        ("k2", {"k1": SECRET_1}, "the signing key 'k2' is not in the ring"),
        ("k1", {"k1": b"short"}, "at least 16 bytes"),
        ("bad id", {"bad id": SECRET_1}, "key id must be"),
    ],
)
def test_constructor_validates(current: str, keys: dict[str, bytes], message: str) -> None:
    with pytest.raises(KeyRingError, match=message):
        KeyRing(current, keys)


@pytest.mark.parametrize("secret", [SECRET_1, b"k" * 16, b"long" * 40])  # > 64 bytes: hashed
def test_mac_is_hmac_sha256_over_the_domain_constant(secret: bytes) -> None:
    ring = KeyRing("k1", {"k1": secret})
    message = b"\x01\x11k1\x00body"
    expected = hmac.new(secret, TOKEN_MAC_DOMAIN + message, hashlib.sha256).digest()
    assert ring.mac("k1", message) == expected
    assert ring.mac("k1", message) == expected  # the precomputed states are not consumed
    with pytest.raises(KeyError):
        ring.mac("k9", message)


def test_digest_is_stable_and_reveals_nothing() -> None:
    ring = KeyRing("k1", {"k1": SECRET_1, "k0": SECRET_2})
    same = KeyRing.from_text(f"k1 {B64_1}\nk0 {B64_2}", "other origin")
    assert ring.digest() == same.digest()
    assert len(ring.digest()) == 64 and int(ring.digest(), 16) >= 0
    assert ring.digest() != hashlib.sha256(SECRET_1).hexdigest()
    assert SECRET_1.hex() not in ring.digest()


@pytest.mark.parametrize(
    "other",
    [
        KeyRing("k1", {"k1": SECRET_1}),  # a verify key less
        KeyRing("k0", {"k1": SECRET_1, "k0": SECRET_2}),  # another signing key
        KeyRing("k1", {"k1": SECRET_2, "k0": SECRET_1}),  # secrets swapped
        KeyRing("k1", {"k1": SECRET_1, "k2": SECRET_2}),  # renamed key
    ],
)
def test_digest_changes_with_any_key_material(other: KeyRing) -> None:
    assert KeyRing("k1", {"k1": SECRET_1, "k0": SECRET_2}).digest() != other.digest()


def test_the_ring_pickles_for_worker_processes() -> None:
    ring = KeyRing("k2", {"k2": SECRET_2, "k1": SECRET_1}, origin="test")
    copy = pickle.loads(pickle.dumps(ring))
    assert (copy.current, dict(copy.keys), copy.origin) == ("k2", dict(ring.keys), "test")
    assert copy.mac("k1", b"x") == ring.mac("k1", b"x")


# --- Generating a key file -------------------------------------------------------------------


def test_generate_key_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.txt"
    generate_key_file(path, "main")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ring = KeyRing.from_file(path)
    assert ring.current == "main"
    assert len(ring.keys["main"]) == 32
    generate_key_file(tmp_path / "other.txt")
    assert KeyRing.from_file(tmp_path / "other.txt").keys["k1"] != ring.keys["main"]


def test_generate_key_file_ignores_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        generate_key_file(tmp_path / "keys.txt")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "keys.txt").stat().st_mode) == 0o600


def test_generate_key_file_refuses_to_overwrite(tmp_path: Path) -> None:
    path = _write(tmp_path / "keys.txt", "precious\n", 0o644)
    with pytest.raises(FileExistsError):
        generate_key_file(path)
    assert path.read_text() == "precious\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_generate_key_file_refuses_a_dangling_symlink(tmp_path: Path) -> None:
    link = tmp_path / "keys.txt"
    link.symlink_to(tmp_path / "elsewhere.txt")
    with pytest.raises(FileExistsError):
        generate_key_file(link)
    assert not (tmp_path / "elsewhere.txt").exists()


def test_generate_key_file_checks_the_key_id(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="key id"):
        generate_key_file(tmp_path / "keys.txt", "no spaces")
    assert not (tmp_path / "keys.txt").exists()
