"""URL facts: host normalisation (UTS #46), scheme and reference kinds, template expressions."""

from __future__ import annotations

import re

_ASCII_HOST = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")


class HostError(ValueError):
    """A host name that is not valid."""


def normalize_host(host: str) -> str:
    """Lower case, no trailing dot, ASCII (UTS #46 non-transitional, as browsers do).

    Raises HostError for a host that is not a valid DNS name.
    """
    name = host.strip().rstrip(".") if host.endswith(".") else host.strip()
    if not name:
        raise HostError(f"{host!r}: empty host name")
    if name.isascii() and "xn--" not in name.lower():
        name = name.lower()
    else:
        name = _to_ascii(name)
    if len(name) > 253 or not _ASCII_HOST.fullmatch(name):
        raise HostError(f"{host!r}: not a valid host name")
    if any(len(label) > 63 for label in name.split(".")):
        raise HostError(f"{host!r}: a label is longer than 63 characters")
    return name


def _to_ascii(name: str) -> str:
    import idna  # only for non-ASCII hosts: its tables cost ~20 ms to import

    try:
        return idna.encode(name, uts46=True, transitional=False).decode("ascii")
    except idna.IDNAError as error:
        raise HostError(f"{name!r}: not a valid internationalised host name ({error})") from None
