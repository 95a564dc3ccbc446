"""Host names as rules files give them: own hosts (not an IP address, not a public suffix),
host globs, certificate names, the tracking path."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rewriter.web.urls import HostError, normalize_host

if TYPE_CHECKING:
    pass


_HOST_GLOB_LABEL = re.compile(r"[a-z0-9_*?-]+")
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")
_HEX_NUMBER = re.compile(r"0[xX][0-9a-fA-F]*")


def own_host(text: str) -> str:
    """A host name of the user's own (tracking domain, legacy domain, described host), normalised.

    Raises HostError for an IP address, a wildcard, an invalid name or a public suffix."""
    problem = _ip_address_problem(text)
    if problem:
        raise HostError(f"{text!r} {problem}: use a host name")
    if "*" in text or "?" in text:
        raise HostError(f"{text!r}: a wildcard is not allowed here")
    host = normalize_host(text)
    if _is_public_suffix(host):
        raise HostError(
            f"{text!r} is a public suffix, not a domain of yours: "
            f"use a host under your own domain, like go.example.{host}"
        )
    return host


def _ip_address_problem(text: str) -> str | None:
    """Why `text` is, or would be read by a browser as, an IP address; None if it is not."""
    import ipaddress

    bare = text.strip()
    bare = bare[1:-1] if bare.startswith("[") and bare.endswith("]") else bare
    try:
        ipaddress.ip_address(bare)
        return "is an IP address"
    except ValueError:
        pass
    # The WHATWG URL standard parses a host whose last label is a number as IPv4 (`127.1`).
    last = bare.removesuffix(".").rsplit(".", 1)[-1]
    if (last.isascii() and last.isdigit()) or _HEX_NUMBER.fullmatch(last):
        return "ends in a number, so browsers read it as an IPv4 address"
    return None


def _is_public_suffix(host: str) -> bool:
    """Whether `host` is itself on the Public Suffix List (ICANN or private section), by
    tldextract's bundled snapshot. Looking the few names up in its text takes about 3 ms, where
    importing tldextract and building its trie takes about 250 ms, paid per email by a hook;
    tests/test_rulesfile.py checks that both agree on every rule of the list."""
    text = _suffix_list_text()
    if text is None:
        return _is_public_suffix_by_tldextract(host)
    name = ".".join(_unicode_label(label) for label in host.split("."))
    if f"\n{name}\n" in text:
        return True
    parent = name.partition(".")[2]
    return bool(parent) and f"\n*.{parent}\n" in text and f"\n!{name}\n" not in text


@functools.cache
def _suffix_list_text() -> str | None:
    """The bundled list's text, one rule a line, found without importing tldextract."""
    import importlib.util

    spec = importlib.util.find_spec("tldextract")
    if spec is None or spec.origin is None:
        return None
    try:
        return "\n" + Path(spec.origin).with_name(".tld_set_snapshot").read_text("utf-8") + "\n"
    except OSError:
        return None


def _unicode_label(label: str) -> str:
    """The list is written in Unicode; our hosts are normalised to punycode."""
    if not label.startswith("xn--"):
        return label
    try:
        return label[4:].encode("ascii").decode("punycode")
    except UnicodeError:
        return label


def _is_public_suffix_by_tldextract(host: str) -> bool:
    result = _suffix_extractor()(host)
    return not result.domain and bool(result.suffix)


@functools.cache
def _suffix_extractor() -> Any:
    import tldextract  # ~100 ms to import, and ~150 ms more to build its trie on first use

    # The bundled Public Suffix List snapshot only: no network access and no cache written.
    return tldextract.TLDExtract(
        suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
    )


def host_glob(text: str) -> str:
    """A host glob (`*.example.com`), lower case; labels without wildcards normalised (IDNA)."""
    labels = text.strip().removesuffix(".").split(".")
    if "" in labels:
        raise HostError(f"{text!r}: an empty label (two dots, or a leading dot)")
    out = []
    for label in labels:
        if "*" not in label and "?" not in label:
            out.append(normalize_host(label))
        elif _HOST_GLOB_LABEL.fullmatch(label.lower()):
            out.append(label.lower())
        else:
            raise HostError(f"{text!r}: a label with a wildcard may hold only a-z, 0-9, - and _")
    return ".".join(out)


def certificate_name(text: str) -> str:
    if text.startswith("*."):
        return "*." + normalize_host(text[2:])
    if "*" in text:
        raise HostError(f"{text!r}: only a whole leftmost label can be a wildcard (*.example.com)")
    return normalize_host(text)


def tracking_path(text: str) -> str:
    """`/l` or `/t/c`: unreserved characters only, no dot segments, no trailing slash."""
    if not text.startswith("/"):
        raise ValueError(f"must start with / (got {text!r}; did you mean '/{text}'?)")
    trimmed = text.rstrip("/")
    for segment in trimmed.split("/")[1:]:
        if not segment:
            raise ValueError(f"an empty segment (//) in {text!r}")
        if segment in (".", ".."):
            raise ValueError(f"{text!r}: browsers resolve . and .. segments away")
        if not _PATH_SEGMENT.fullmatch(segment):
            raise ValueError(f"{text!r}: only letters, digits, - . _ ~ and / are allowed")
    return trimmed
