"""The few facts of an X.509 certificate the probe reports, read from its DER bytes.

The standard library validates chains but hands out a certificate's fields only once it has
validated it; a server's expired or self-signed certificate must be described too, so this reads
them from the DER encoding (RFC 5280 4.1): the validity dates, the subject alternative names
(dNSName), the subject's common name, and whether issuer and subject are the same name.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

_SEQUENCE = 0x30
_SET = 0x31
_OID = 0x06
_UTC_TIME = 0x17
_GENERALIZED_TIME = 0x18
_VERSION = 0xA0  # [0] EXPLICIT
_EXTENSIONS = 0xA3  # [3] EXPLICIT
_DNS_NAME = 0x82  # GeneralName dNSName, [2] IMPLICIT IA5String
_BOOLEAN = 0x01
_SUBJECT_ALT_NAME = bytes([0x55, 0x1D, 0x11])  # 2.5.29.17
_COMMON_NAME = bytes([0x55, 0x04, 0x03])  # 2.5.4.3


class CertificateFormatError(ValueError):
    """Bytes that are not a DER certificate this reader understands."""


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    not_before: datetime.datetime  # UTC
    not_after: datetime.datetime  # UTC
    names: tuple[str, ...]  # dNSName entries, lower case, in the certificate's order
    common_name: str | None
    self_issued: bool  # issuer == subject

    def covers(self, host: str) -> bool:
        """Whether a name covers `host` (a wildcard, leftmost label only, covers one level)."""
        return any(name_covers(name, host) for name in self.names)


def name_covers(name: str, host: str) -> bool:
    if name == host:
        return True
    if name.startswith("*.") and host.endswith(name[1:]):
        label = host[: -len(name) + 1]
        return bool(label) and "." not in label
    return False


def read_certificate(der: bytes) -> CertificateInfo:
    """The facts of one certificate. Raises CertificateFormatError."""
    try:
        return _read(der)
    except (IndexError, ValueError, UnicodeDecodeError) as error:
        raise CertificateFormatError(f"not a readable certificate: {error}") from None


def _read(der: bytes) -> CertificateInfo:
    certificate = _children(der, *_expect(der, 0, _SEQUENCE))
    fields = _children(der, *certificate[0][1:])
    if fields[0][0] == _VERSION:
        fields = fields[1:]
    # serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, [1], [2], [3]
    issuer, validity, subject = fields[2], fields[3], fields[4]
    not_before, not_after = (_time(der, *item) for item in _children(der, *validity[1:]))
    names: tuple[str, ...] = ()
    for tag, start, _ in fields[6:]:
        if tag == _EXTENSIONS:
            names = _alt_names(der, *_expect(der, start, _SEQUENCE))
    return CertificateInfo(
        not_before=not_before,
        not_after=not_after,
        names=names,
        common_name=_common_name(der, subject[1], subject[2]),
        self_issued=der[issuer[1] : issuer[2]] == der[subject[1] : subject[2]],
    )


def _header(data: bytes, position: int) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the element at `position`."""
    tag = data[position]
    length = data[position + 1]
    start = position + 2
    if length & 0x80:
        size = length & 0x7F
        if size == 0 or size > 4:
            raise ValueError("unsupported length")
        length = int.from_bytes(data[start : start + size], "big")
        start += size
    end = start + length
    if end > len(data):
        raise ValueError("truncated")
    return tag, start, end


def _expect(data: bytes, position: int, tag: int) -> tuple[int, int]:
    found, start, end = _header(data, position)
    if found != tag:
        raise ValueError(f"expected tag 0x{tag:02x} at {position}, found 0x{found:02x}")
    return start, end


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    items = []
    position = start
    while position < end:
        item = _header(data, position)
        items.append(item)
        position = item[2]
    return items


def _time(data: bytes, tag: int, start: int, end: int) -> datetime.datetime:
    text = data[start:end].decode("ascii")
    if tag == _UTC_TIME:  # YYMMDDHHMMSSZ; RFC 5280: years 50-99 are 19xx
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif tag != _GENERALIZED_TIME:
        raise ValueError("a validity date is not a time")
    moment = datetime.datetime.strptime(text, "%Y%m%d%H%M%SZ")
    return moment.replace(tzinfo=datetime.UTC)


def _alt_names(data: bytes, start: int, end: int) -> tuple[str, ...]:
    for _, ext_start, ext_end in _children(data, start, end):
        parts = _children(data, ext_start, ext_end)
        oid = parts[0]
        if oid[0] != _OID or data[oid[1] : oid[2]] != _SUBJECT_ALT_NAME:
            continue
        value = parts[2] if parts[1][0] == _BOOLEAN else parts[1]  # critical is optional
        names = _children(data, *_expect(data, value[1], _SEQUENCE))
        return tuple(
            data[name_start:name_end].decode("ascii").lower()
            for tag, name_start, name_end in names
            if tag == _DNS_NAME
        )
    return ()


def _common_name(data: bytes, start: int, end: int) -> str | None:
    for _, set_start, set_end in _children(data, start, end):  # RDNs: SETs of SEQUENCEs
        for _, pair_start, pair_end in _children(data, set_start, set_end):
            oid, value = _children(data, pair_start, pair_end)[:2]
            if data[oid[1] : oid[2]] == _COMMON_NAME:
                return data[value[1] : value[2]].decode("utf-8", "replace")
    return None
