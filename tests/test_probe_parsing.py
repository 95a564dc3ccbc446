"""The probe's pure parts: the HSTS header (RFC 6797), --connect-to, certificate fields (DER)."""

from __future__ import annotations

import datetime
import ssl

import pytest
import trustme
from probe_servers import self_signed

from rewriter.rules.model import HstsPolicy
from rewriter.status.certificate_info import (
    CertificateFormatError,
    name_covers,
    read_certificate,
)
from rewriter.status.hsts_header import parse_hsts, read_hsts
from rewriter.status.probe import ConnectTo, parse_connect_to

YEAR = 31536000


@pytest.mark.parametrize(
    ("value", "policy"),
    [
        ("max-age=31536000", HstsPolicy(YEAR)),
        ("max-age=0", HstsPolicy(0)),
        ("max-age=31536000; includeSubDomains", HstsPolicy(YEAR, include_subdomains=True)),
        ("max-age=31536000; includeSubDomains; preload", HstsPolicy(YEAR, True, True)),
        ('MAX-AGE="300";INCLUDESUBDOMAINS', HstsPolicy(300, include_subdomains=True)),
        (" ; max-age=5 ;; ", HstsPolicy(5)),  # empty directives are allowed
        ('max-age=5; report-uri="https://a.example/;x"', HstsPolicy(5)),  # unknown, quoted ;
        ("preload; max-age=10", HstsPolicy(10, preload_directive=True)),
    ],
)
def test_valid_headers(value: str, policy: HstsPolicy) -> None:
    assert parse_hsts(value) == policy


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "no max-age directive"),
        ("includeSubDomains", "no max-age directive"),
        ("max-age=5; max-age=6", "the directive max-age appears twice"),
        ("max-age=5; includeSubDomains; includesubdomains", "appears twice"),
        ("max-age=abc", "max-age must be a number of seconds (got 'abc')"),
        ("max-age=-1", "max-age must be a number of seconds"),
        ("max-age", "max-age must be a number of seconds (got None)"),
        ("max-age=1, max-age=2", "is not a directive"),  # two headers folded into one
        ("max-age=1; includeSubDomains=yes", "includeSubDomains takes no value"),
        ("max-age=1 2", "is not a directive"),
        ("max-age=" + "9" * 40, "max-age is too large"),
        ("max-age=5; {garbage}", "is not a directive"),
        ("garbage", "no max-age directive"),
    ],
)
def test_malformed_headers_are_refused_with_the_reason(value: str, problem: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_hsts(value)
    assert problem in str(raised.value)


def test_only_the_first_header_is_processed() -> None:
    reading = read_hsts(["max-age=300", "max-age=31536000; includeSubDomains; preload"])
    assert reading.policy == HstsPolicy(300)
    assert reading.count == 2
    assert reading.describe() == (
        "max-age=300 (the first of 2 headers; browsers process only the first)"
    )
    # A malformed first header is ignored whole, even when a later one is fine.
    broken = read_hsts(["max-age=soon", "max-age=300"])
    assert broken.policy is None
    assert broken.describe() == (
        "a malformed Strict-Transport-Security header "
        "(max-age must be a number of seconds (got 'soon')), ignored"
    )
    assert read_hsts([]).describe() == "no Strict-Transport-Security header"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("go.example.com:443:127.0.0.1:8443", ConnectTo("go.example.com", 443, "127.0.0.1", 8443)),
        ("::127.0.0.1:", ConnectTo("", None, "127.0.0.1", None)),
        ("go.example.com:80:[::1]:8080", ConnectTo("go.example.com", 80, "::1", 8080)),
        ("Go.Example.COM.:443::9443", ConnectTo("go.example.com", 443, "", 9443)),
        ("[::1]:443:[fe80::1]:", ConnectTo("::1", 443, "fe80::1", None)),
    ],
)
def test_connect_to_as_curl_writes_it(text: str, expected: ConnectTo) -> None:
    assert parse_connect_to(text) == expected


@pytest.mark.parametrize(
    "text",
    ["go.example.com", "a:443:b", "a:x:b:1", "a:443:b:70000", "a:443:[::1:1", "a:1:b:2:3"],
)
def test_bad_connect_to_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"HOST:PORT:ADDR:PORT|port number|unclosed"):
        parse_connect_to(text)


def test_certificate_fields_from_der() -> None:
    ca = trustme.CA()
    until = datetime.datetime(2031, 5, 6, 7, 8, 9)
    cert = ca.issue_cert("go.example.com", "*.Example.com", common_name="Go", not_after=until)
    der = ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode())
    info = read_certificate(der)
    assert info.names == ("go.example.com", "*.example.com")
    assert info.common_name == "Go"
    assert info.not_after == until.replace(tzinfo=datetime.UTC)
    assert info.self_issued is False
    assert info.covers("pages.example.com") and not info.covers("a.b.example.com")
    mine = self_signed("self.example.com")
    info = read_certificate(ssl.PEM_cert_to_DER_cert(mine.chain.decode()))
    assert info.self_issued is True
    assert info.names == ("self.example.com",)
    with pytest.raises(CertificateFormatError):
        read_certificate(der[:100])
    with pytest.raises(CertificateFormatError):
        read_certificate(b"\x30\x03abc")


def test_a_wildcard_covers_one_level() -> None:
    assert name_covers("*.example.com", "go.example.com")
    assert not name_covers("*.example.com", "example.com")
    assert not name_covers("*.example.com", "a.go.example.com")
    assert name_covers("go.example.com", "go.example.com")
