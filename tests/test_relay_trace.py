"""The relay's Received field (`trace`): its clauses, its folding, the address literals."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from rewriter.mail.trace import Client, address_literal, host_name, protocol, received

WHEN = datetime(2026, 12, 1, 10, 0, tzinfo=timezone(timedelta(hours=1)))


def test_the_usual_field() -> None:
    field = received(
        Client("app.example.com", "127.0.0.1", esmtp=True), "relay.example.com", "0123abcd",
        ["someone@example.net"], smtputf8=False, when=WHEN,
    )  # fmt: skip
    assert field == (
        b"Received: from app.example.com ([127.0.0.1])\r\n"
        b"\tby relay.example.com (rewriter relay) with ESMTP id 0123abcd\r\n"
        b"\tfor <someone@example.net>; Tue, 01 Dec 2026 10:00:00 +0100\r\n"
    )


def test_long_names_put_the_date_on_a_line_of_its_own_and_lf_messages_get_lf() -> None:
    field = received(
        Client("a" * 40 + ".example.com", "::1", esmtp=True), "relay.example.com", "0123abcd",
        ["someone-with-a-long-address@" + "b" * 30 + ".example"], smtputf8=False, when=WHEN,
        ending=b"\n",
    )  # fmt: skip
    lines = field.split(b"\n")
    assert lines[0] == b"Received: from " + b"a" * 40 + b".example.com ([IPv6:::1])"
    assert lines[2].endswith(b".example>;")
    assert lines[3] == b"\tTue, 01 Dec 2026 10:00:00 +0100"
    assert lines[4] == b"" and b"\r" not in field


@pytest.mark.parametrize(
    "helo, expected",
    [
        ("mail.example.com", "mail.example.com"),
        ("[192.0.2.7]", "[192.0.2.7]"),
        ("not a name; (x)", "[192.0.2.1]"),
        (None, "[192.0.2.1]"),
    ],
)
def test_a_helo_that_is_no_domain_is_replaced_by_the_address(
    helo: str | None, expected: str
) -> None:
    field = received(
        Client(helo, "192.0.2.1", esmtp=False), "relay", "1", [], smtputf8=False, when=WHEN
    )
    assert field.startswith(f"Received: from {expected} ([192.0.2.1])\r\n".encode())
    assert b" with SMTP id 1;" in field and b" for " not in field


def test_protocols() -> None:
    assert protocol(Client(None, "", esmtp=True, tls=True), False) == "ESMTPS"
    assert protocol(Client(None, "", esmtp=True, tls=True, authenticated=True), False) == "ESMTPSA"
    assert protocol(Client(None, "", esmtp=True), True) == "UTF8SMTP"
    assert protocol(Client(None, "", esmtp=True, tls=True), True) == "UTF8SMTPS"


def test_address_literals_and_host_names() -> None:
    assert address_literal("::ffff:192.0.2.1") == "[192.0.2.1]"
    assert address_literal("2001:db8::1") == "[IPv6:2001:db8::1]"
    assert address_literal("fe80::1%eth0") == "[IPv6:fe80::1]"
    assert host_name("relay.example.com", "192.0.2.9") == "relay.example.com"
    assert host_name("under_score", "192.0.2.9") == "[192.0.2.9]"


def test_a_non_ascii_recipient_is_named_only_with_smtputf8() -> None:
    def field(smtputf8: bool) -> bytes:
        return received(
            Client("a.example", "192.0.2.1", esmtp=True), "relay", "1", ["jürgen@example.net"],
            smtputf8=smtputf8, when=WHEN,
        )  # fmt: skip

    assert "for <jürgen@example.net>;".encode() in field(True)
    assert b" for " not in field(False)
