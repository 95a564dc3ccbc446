"""URL facts: host normalisation (UTS #46), kinds of reference, template expressions, and the
http(s) URL a browser would follow (WHATWG, through `ada_url`).

Everything here works on one attribute value at a time and is called for every link, so the
common cases take fast paths, and `ada_url` is imported on first use.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

_ASCII_HOST = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")


class HostError(ValueError):
    """A host name that is not valid."""


def normalize_host(host: str) -> str:
    """Lower case, one trailing dot dropped, ASCII (UTS #46 non-transitional, as browsers do).

    Raises HostError for a host that is not a valid DNS name (`a.com..` is not: browsers drop
    only one trailing dot, so it is not `a.com` to them).
    """
    name = host.strip().removesuffix(".")
    if not name:
        raise HostError(f"{host!r}: empty host name")
    name = name.lower() if name.isascii() and "xn--" not in name.lower() else _to_ascii(name)
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


# --- pre-processing and kinds of reference -------------------------------------------------

_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_TAB_AND_NEWLINES = str.maketrans("", "", "\t\n\r")


def clean_url_value(value: str) -> str:
    """The WHATWG URL parser's pre-processing: trim C0 controls and spaces, drop tabs and newlines.

    `java\\tscript:` becomes `javascript:`, as in browsers.
    """
    cleaned = value.strip(_C0_AND_SPACE)
    if "\t" in cleaned or "\n" in cleaned or "\r" in cleaned:
        cleaned = cleaned.translate(_TAB_AND_NEWLINES)
    return cleaned


class RefKind(StrEnum):
    """What kind of reference a cleaned attribute value is."""

    EMPTY = "empty"
    FRAGMENT = "fragment"
    RELATIVE = "relative"
    PROTOCOL_RELATIVE = "protocol-relative"
    HTTP = "http"  # http: or https:, any case
    OTHER_SCHEME = "other-scheme"


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_HTTP_PREFIX = re.compile(r"https?:", re.IGNORECASE)
_HTTP_SCHEMES = frozenset({"http", "https"})
# Answers built once: looking up an enum member costs more than the rest of a call.
_EMPTY = (RefKind.EMPTY, None)
_FRAGMENT = (RefKind.FRAGMENT, None)
_RELATIVE = (RefKind.RELATIVE, None)
_PROTOCOL_RELATIVE = (RefKind.PROTOCOL_RELATIVE, None)
_HTTP = RefKind.HTTP
_OTHER_SCHEME = RefKind.OTHER_SCHEME


def reference_kind(cleaned: str) -> tuple[RefKind, str | None]:
    """The kind of a value already passed through `clean_url_value`, and its lower-case scheme.

    `//host`, and since http is a special scheme also `\\\\host`, `/\\host` and `\\/host`, are
    protocol-relative.
    """
    if not cleaned:
        return _EMPTY
    first = cleaned[0]
    if first == "#":
        return _FRAGMENT
    if first in "/\\":  # one character: never the empty string
        second = cleaned[1:2]
        return _PROTOCOL_RELATIVE if second in ("/", "\\") else _RELATIVE
    match = _SCHEME.match(cleaned)
    if match is None:
        return _RELATIVE
    scheme = match.group(1).lower()
    return (_HTTP if scheme in _HTTP_SCHEMES else _OTHER_SCHEME), scheme


# --- template expressions ------------------------------------------------------------------

# Each delimited form also matches when its closing delimiter is missing (up to the end of the
# value): a broken tag still means the destination is not literal, and it keeps every search
# linear (a value of a million `{{` does not make the lazy `.*?` rescan the rest each time).
# Every alternative starts with a literal character, so the regex engine skips ahead to those
# characters instead of trying each alternative at every position (10 times faster).
_TEMPLATE = re.compile(
    r"""
      \{\{\{.*?(?:\}\}\}|\Z)                 # {{{raw}}} (Handlebars, Mustache)
    | \{\{.*?(?:\}\}|\Z)                     # {{var}} (Handlebars, Liquid, Jinja, Go, Marketo)
    | \{[%\#].*?(?:[%\#]\}|\Z)               # {% tag %}, {# comment #}
    | \{!.*?(?:\}|\Z)                        # {!Contact.Id} (Salesforce)
    | \{[A-Za-z_][A-Za-z0-9_]*(?:=[^{}]*)?\} # {unsubscribe_url}, {contactfield=email} (Mautic)
    | \*\|.*?(?:\|\*|\Z)                     # *|FNAME|* (Mailchimp)
    | %%.*?(?:%%|\Z)                         # %%var%%, %%[ AMPscript ]%%, %%=v(@x)=%%
    | \$\{(?!\{).*?(?:\}|\Z)                 # ${var}
    | \#\{(?!\{).*?(?:\}|\Z)                 # #{var}
    | \$!?[A-Za-z_][A-Za-z0-9_]*             # $var, $!var (Velocity); not $5
    | <%.*?(?:%>|\Z)                         # <% code %> (ERB, ASP, JSP)
    | <[\#@].*?(?:>|\Z)                      # <#if ...>, <@url> (FreeMarker)
    # Placeholders in brackets, unless right after an identifier character or `]`, where a
    # bracket is a query key (?filter[color]=red, ?a[b][c]=1). No `:` in single brackets, so an
    # IPv6 literal ([::1], [fe80::1]) never matches. The look-behind comes after the `[`.
    | \[(?<![A-Za-z0-9_\]]\[)\[[A-Za-z_][^\[\]]*\]\]           # [[var:name]] (Mailjet)
    | \[(?<![A-Za-z0-9_\]]\[)[A-Za-z_][A-Za-z0-9_\ .,=|-]*\]   # [Sender_Name], [Product Name]
    # Merge tags percent-encoded by an earlier tool: {{, {%, ${ and *| in disguise.
    | %7[Bb](?:%7[Bb]|%25)
    | %24%7[Bb]
    | \*%7[Cc]
    """,
    re.DOTALL | re.VERBOSE,
)


def find_template_expression(value: str) -> str | None:
    """The first template expression in `value` (its text, to show users), or None."""
    # Substring tests are about 10 times faster than the regex's own skipping; `%20`-style
    # escapes alone do not wake the regex (`%%` and `%7B`/`%7C` do).
    if not (
        "{" in value
        or "$" in value
        or "[" in value
        or "*" in value
        or "<" in value
        or ("%" in value and ("%%" in value or "%7" in value))
    ):
        return None
    match = _TEMPLATE.search(value)
    return None if match is None else match.group(0)


# --- parsing http(s) URLs ------------------------------------------------------------------


class UrlError(ValueError):
    """A value that is not a valid absolute http(s) URL; the message says why, briefly."""


@dataclass(frozen=True, slots=True)
class HttpUrl:
    """An http(s) URL as a browser would follow it (WHATWG serialisation).

    `query` and `fragment` are without their `?` and `#`, and empty when absent or empty
    (`href` tells the two apart); `port` is None when absent or the scheme's default.
    """

    href: str
    scheme: str  # "http" or "https"
    host: str  # ASCII serialisation: punycode, dotted IPv4, or IPv6 in brackets
    port: int | None
    path: str
    query: str
    fragment: str


def parse_http_url(value: str, encoding: str = "utf-8") -> HttpUrl:
    """Parse an absolute http(s) URL as the WHATWG URL standard does.

    `encoding` is the document's character encoding (a Python codec name): as in browsers, it
    decides how a non-ASCII query is percent-encoded (code points it cannot represent become
    `%26%23NNNN%3B`); the path is always UTF-8. Raises UrlError for anything that is not a
    valid http(s) URL, and LookupError for an encoding Python does not know.
    """
    cleaned = clean_url_value(value)
    if _HTTP_PREFIX.match(cleaned) is None:
        raise UrlError(_not_http_reason(*reference_kind(cleaned)))
    parsed = _ada_parse(cleaned)
    if parsed is None:
        raise UrlError(_invalid_reason(cleaned))
    href, (host_start, host_end, port, path_start, search_start, hash_start) = parsed
    query_codec = _query_codec(encoding)
    if query_codec is not None and search_start != _OMITTED:
        href = _reencode_query(href, search_start, hash_start, cleaned, query_codec)
        if hash_start != _OMITTED:
            hash_start = len(href) - len(parsed[0]) + hash_start
    path_end = search_start if search_start != _OMITTED else hash_start
    query_end = hash_start if hash_start != _OMITTED else len(href)
    return HttpUrl(
        href=href,
        scheme=href[: href.index(":")],
        host=href[host_start:host_end],
        port=None if port == _OMITTED else port,
        path=href[path_start : path_end if path_end != _OMITTED else len(href)],
        query="" if search_start == _OMITTED else href[search_start + 1 : query_end],
        fragment="" if hash_start == _OMITTED else href[hash_start + 1 :],
    )


def url_host_to_ascii(host: str) -> str | None:
    """The URL standard's host parser on `host` (as in `http://<host>/`), or None if it fails.

    Unlike `normalize_host` this keeps a trailing dot and accepts what browsers accept but DNS
    names may not hold (labels over 63 characters, leading hyphens, empty labels).
    """
    if not host or _NOT_IN_HOST.search(host) or (":" in host and not _BRACKETED.fullmatch(host)):
        return None
    parsed = _ada_parse(f"http://{host}/")
    if parsed is None:
        return None
    href, (host_start, host_end, *_) = parsed
    return href[host_start:host_end]


# Characters that end a host or that the URL parser would silently drop around or inside it.
_NOT_IN_HOST = re.compile(r"[\x00-\x20/\\?#@]")
_BRACKETED = re.compile(r"\[[^\[\]]*\]")

# ada's marker for an absent component (url_components::omitted).
_OMITTED = 0xFFFFFFFF
_SURROGATE = re.compile("[\ud800-\udfff]")

_ada_binding: tuple[Any, Any] | None = None


def _ada() -> tuple[Any, Any]:
    global _ada_binding  # noqa: PLW0603 - imported once, on first use (about 9 ms)
    if _ada_binding is None:
        from ada_url._ada_wrapper import ffi, lib

        _ada_binding = (ffi, lib)
    return _ada_binding


def _ada_parse(url: str) -> tuple[str, tuple[int, int, int, int, int, int]] | None:
    """ada's href and component offsets for `url` (host start already past any `@`), or None.

    Uses ada's C API directly: one parse, one copy of the href, then slicing in Python; the
    href of an http(s) URL is ASCII, so ada's byte offsets are character offsets.
    """
    ffi, lib = _ada()
    try:
        data = url.encode()
    except UnicodeEncodeError:  # lone surrogates become U+FFFD, as in a browser's USVString
        data = _SURROGATE.sub("\ufffd", url).encode()
    handle = lib.ada_parse(data, len(data))
    try:
        if not lib.ada_is_valid(handle):
            return None
        href_view = lib.ada_get_href(handle)
        href: str = ffi.unpack(href_view.data, href_view.length).decode()
        parts = lib.ada_get_components(handle)
        host_start: int = parts.host_start
        if parts.host_end > host_start and href[host_start] == "@":
            host_start += 1
        if "xn--" in href[host_start : parts.host_end] and not _punycode_round_trips(
            href[host_start : parts.host_end]
        ):
            return None
        return href, (
            host_start,
            parts.host_end,
            parts.port,
            parts.pathname_start,
            parts.search_start,
            parts.hash_start,
        )
    finally:
        lib.ada_free(handle)


def _punycode_round_trips(host: str) -> bool:
    """Whether the `xn--` labels of an ASCII host are valid UTS #46 labels.

    ada skips that check for an all-ASCII host (`http://xn--a/` parses; the standard's ToASCII
    rejects it). ToUnicode keeps a label it cannot decode or that breaks a rule, and ToASCII
    of the decoded name checks the rest, so a valid host is one that comes back unchanged with
    no `xn--` label left undecoded in between.
    """
    ffi, lib = _ada()
    data = host.encode("ascii")
    decoded_view = lib.ada_idna_to_unicode(data, len(data))
    try:
        decoded: bytes = ffi.unpack(decoded_view.data, decoded_view.length)
    finally:
        lib.ada_free_owned_string(decoded_view)
    if any(label.startswith(b"xn--") for label in decoded.split(b".")):
        return False
    encoded_view = lib.ada_idna_to_ascii(decoded, len(decoded))
    try:
        encoded: bytes = ffi.unpack(encoded_view.data, encoded_view.length)
    finally:
        lib.ada_free_owned_string(encoded_view)
    return encoded == data


def _not_http_reason(kind: RefKind, scheme: str | None) -> str:
    if kind is RefKind.OTHER_SCHEME:
        shown = (
            scheme
            if scheme is None or len(scheme) <= _SHOWN_LENGTH
            else scheme[: _SHOWN_LENGTH - 1] + "…"
        )
        return f"not an http(s) URL (scheme {shown}:)"
    if kind is RefKind.EMPTY:
        return "empty URL"
    return f"not an absolute URL ({kind})"


# --- the query under a legacy document encoding --------------------------------------------

# The WHATWG Encoding standard maps these labels to a superset; Python keeps them apart.
_WHATWG_CODEC = {
    "ascii": "cp1252",
    "iso8859-1": "cp1252",
    "iso8859-9": "cp1254",
    "iso8859-11": "cp874",
    "tis-620": "cp874",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
    "gb2312": "gbk",
}
_ASCII = bytes(range(0x80))


@lru_cache(maxsize=64)
def _query_codec(encoding: str) -> str | None:
    """The codec for queries in a document in `encoding`, or None when that is UTF-8.

    UTF-8 is also what the URL standard says for UTF-16 documents, and what this uses for any
    other encoding that is not ASCII-compatible (browsers support none). Raises LookupError for
    an encoding Python does not know.
    """
    name = codecs.lookup(encoding).name
    name = _WHATWG_CODEC.get(name, name)
    try:
        ascii_compatible = _ASCII.decode(name) == _ASCII.decode("ascii")
    except UnicodeDecodeError:
        ascii_compatible = False
    return name if ascii_compatible and not name.startswith("utf-8") else None


def _reencode_query(href: str, search_start: int, hash_start: int, cleaned: str, codec: str) -> str:
    """`href` with its query percent-encoded from the document's encoding instead of UTF-8."""
    raw_query = _raw_query(cleaned)
    if raw_query.isascii():  # ASCII encodes the same in every ASCII-compatible encoding
        return href
    query_end = hash_start if hash_start != _OMITTED else len(href)
    return href[: search_start + 1] + _percent_encode_query(raw_query, codec) + href[query_end:]


def _raw_query(cleaned: str) -> str:
    # In an absolute special URL the first `?` starts the query, unless a `#` came first: the
    # authority and the path both end at `?`, and the scheme cannot hold one.
    start = cleaned.find("?")
    if start < 0 or "#" in cleaned[:start]:
        return ""
    end = cleaned.find("#", start)
    return cleaned[start + 1 : end if end >= 0 else len(cleaned)]


def _ncr_for_url(error: UnicodeError) -> tuple[bytes, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    bad = error.object[error.start : error.end]
    return b"".join(b"%%26%%23%d%%3B" % ord(char) for char in bad), error.end


codecs.register_error("rewriter-url-ncr", _ncr_for_url)

# The special-query percent-encode set: C0, space, ", #, ', <, > and every non-ASCII byte. `%`
# itself stays, so the `%26%23NNNN%3B` written by the error handler passes through unchanged.
_QUERY_BYTE = [
    chr(b) if 0x21 <= b <= 0x7E and b not in b"\"#'<>" else f"%{b:02X}" for b in range(256)
]


def _percent_encode_query(query: str, codec: str) -> str:
    data = _SURROGATE.sub("\ufffd", query).encode(codec, "rewriter-url-ncr")
    return "".join([_QUERY_BYTE[byte] for byte in data])


# --- why a URL is invalid (only computed on failure) ----------------------------------------

_FORBIDDEN_IN_DOMAIN = frozenset(" #%/:<>?@[\\]^|\x7f") | frozenset(map(chr, range(0x20)))
_PERCENT_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_ENDS_IN_NUMBER = re.compile(r"[0-9]+|0[xX][0-9A-Fa-f]*")  # the host parser then wants IPv4
_SHOWN_LENGTH = 60


def _invalid_reason(cleaned: str) -> str:
    """A short human reason why ada refused an absolute http(s) URL."""
    after_scheme = cleaned[cleaned.index(":") + 1 :].lstrip("/\\")
    authority = re.split(r"[/\\?#]", after_scheme, maxsplit=1)[0]
    _userinfo, at, host_and_port = authority.rpartition("@")
    if not host_and_port:
        return "no host after '@'" if at else "no host"
    host, port = _split_port(host_and_port)
    if port and not _valid_port(port):
        return f"invalid port {_shown(port)}"
    if not host:
        return "no host"
    if host.startswith("["):
        return f"invalid IPv6 address {_shown(host)}"
    return _invalid_host_reason(host)


def _valid_port(port: str) -> bool:
    # Checked by length first: int() refuses decimal strings over 4,300 digits.
    digits = port.lstrip("0")
    return port.isascii() and port.isdigit() and len(digits) <= 5 and int(digits or "0") <= 65535


def _split_port(host_and_port: str) -> tuple[str, str | None]:
    if host_and_port.startswith("["):
        close = host_and_port.find("]")
        if close < 0 or host_and_port[close + 1 : close + 2] != ":":
            return host_and_port, None
        return host_and_port[: close + 1], host_and_port[close + 2 :]
    host, colon, port = host_and_port.partition(":")
    return host, (port if colon else None)


def _invalid_host_reason(host: str) -> str:
    decoded = _PERCENT_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), host)
    if " " in decoded:
        return f"space in host {_shown(host)}"
    forbidden = next((char for char in decoded if char in _FORBIDDEN_IN_DOMAIN), None)
    if forbidden is not None:
        return f"forbidden character {forbidden!r} in host {_shown(host)}"
    if not decoded.isascii() or "xn--" in decoded.lower():
        return f"invalid internationalised host name {_shown(host)}"
    if _ENDS_IN_NUMBER.fullmatch(decoded.rstrip(".").rpartition(".")[2]):
        return f"invalid IPv4 address {_shown(host)}"
    return f"invalid host {_shown(host)}"


def _shown(text: str) -> str:
    """`text` quoted for a message, cut short: a reason is one line, whatever the input."""
    if len(text) <= _SHOWN_LENGTH:
        return repr(text)
    return repr(text[: _SHOWN_LENGTH - 1]) + "…"
