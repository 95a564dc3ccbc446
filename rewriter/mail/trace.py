"""The `Received:` trace field the relay puts at the top of each message it relays (RFC 5321
4.4: a server that relays a message MUST add one), folded, before the message's first byte.

    Received: from app.example.com ([127.0.0.1])
            by relay.example.com (rewriter relay) with ESMTP id 3f2a9c0d11b24e57
            for <someone@example.net>; Tue, 1 Dec 2026 10:00:00 +0100

`from`: the client's HELO name (when it is a domain or an address literal, else its address
literal again) and its address literal; no DNS lookup. `with`: SMTP (HELO), ESMTP (EHLO), ESMTPS,
ESMTPA, ESMTPSA (RFC 3848), UTF8SMTP... when the client used SMTPUTF8 (RFC 6531 3.7.3). `for`:
only with a single recipient (naming several would tell each recipient the others).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

FOLD_AT = 78  # RFC 5322 2.1.1: lines SHOULD be at most 78 characters
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
_ADDRESS_LITERAL = re.compile(r"\[[!-Z^-~]+\]")  # printable, no brackets or backslash


@dataclass(frozen=True, slots=True)
class Client:
    """What the session knows of the client."""

    helo: str | None
    address: str  # its IP address, as the socket gives it
    esmtp: bool  # EHLO, not HELO
    tls: bool = False
    authenticated: bool = False


def received(
    client: Client,
    by: str,
    ident: str,
    recipients: Sequence[str],
    *,
    smtputf8: bool,
    when: datetime,
    ending: bytes = b"\r\n",
) -> bytes:
    """The whole field, each folded line ending with `ending`."""
    literal = address_literal(client.address)
    helo = client.helo or ""
    source = helo if _DOMAIN.fullmatch(helo) or _ADDRESS_LITERAL.fullmatch(helo) else literal
    clauses = [
        f"Received: from {source} ({literal})",
        f"by {by} (rewriter relay) with {protocol(client, smtputf8)} id {ident}",
    ]
    if len(recipients) == 1 and (smtputf8 or recipients[0].isascii()):
        clauses.append(f"for <{recipients[0]}>")
    date = format_datetime(when)
    if len(clauses[-1]) + len(date) + 3 <= FOLD_AT:  # the tab, ";" and the space
        clauses[-1] += f"; {date}"
    else:
        clauses[-1] += ";"
        clauses.append(date)
    text = ("\r\n\t".join(clauses) + "\r\n").replace("\r\n", ending.decode("ascii"))
    return text.encode("utf-8", "surrogateescape")


def protocol(client: Client, smtputf8: bool) -> str:
    """The `with` keyword (RFC 3848, RFC 6531 3.7.3)."""
    if not client.esmtp:
        return "SMTP"
    suffix = ("S" if client.tls else "") + ("A" if client.authenticated else "")
    return ("UTF8SMTP" if smtputf8 else "ESMTP") + suffix


def address_literal(address: str) -> str:
    """`[192.0.2.1]`, `[IPv6:2001:db8::1]` (an IPv4-mapped address as IPv4); what is not an IP
    address (never, over TCP) in brackets, made printable."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"[{_printable(address)}]"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is None:
            return f"[IPv6:{ip.compressed}]"
        ip = ip.ipv4_mapped
    return f"[{ip}]"


def host_name(name: str | None, local_address: str) -> str:
    """The relay's own name for `by`: its host name when that is a domain, else the address
    literal of the address the client reached."""
    if name and _DOMAIN.fullmatch(name):
        return name
    return address_literal(local_address)


def _printable(text: str) -> str:
    return "".join(c if "!" <= c <= "~" and c not in "[]\\" else "-" for c in text) or "unknown"
