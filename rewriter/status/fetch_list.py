"""`rewriter preload-list fetch`: download Chromium's current HSTS preload list, check it, keep it.

By default from Chromium's source repository, whose web front end serves a file base64-encoded
with `?format=TEXT`; a mirror (`--url`) may serve base64 or plain JSON. Only `https://` is
used, except to a loopback address; a redirect is followed only on the same host (and never
from https to http). The content must be Chromium's JSON (with `//` comments) whose entries
are well formed, and hold a plausible number of entries: the real list has over 150,000, so
fewer than 10,000 is refused unless forced. Nothing is stored unless all of that holds.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import ipaddress
import json
import re
import ssl
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from rewriter.status.preload import strip_comments

DEFAULT_URL = (
    "https://chromium.googlesource.com/chromium/src/+/main/net/http/"
    "transport_security_state_static.json?format=TEXT"
)
MIN_ENTRIES = 10_000
MAX_BYTES = 64 << 20  # the list is about 15 MB as JSON, 20 MB as base64
MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MODES = frozenset({"force-https"})
_FLAGS = ("include_subdomains", "include_subdomains_for_pinning")
_NAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?", re.IGNORECASE)


class FetchError(Exception):
    """The list could not be had, or what came is not a list to use. Nothing was stored."""


class UrlError(ValueError):
    """A --url the fetch refuses before any connection (a usage error)."""


@dataclass(frozen=True, slots=True)
class Checked:
    """A list that passed the checks: its JSON bytes and its counts."""

    data: bytes
    entries: int
    force_https: int


def check_url(url: str) -> None:
    """Refuse what the fetch never connects to. Raises UrlError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UrlError(f"{url!r}: expected an https:// URL")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise UrlError(f"{url}: only https:// is used, except to a loopback address")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def download(url: str, timeout: float, max_bytes: int = MAX_BYTES) -> tuple[bytes, str]:
    """The body at `url` and the URL it finally came from. Raises FetchError or UrlError."""
    check_url(url)
    for _ in range(MAX_REDIRECTS + 1):
        status, location, body = _get(url, timeout, max_bytes)
        if status in _REDIRECTS and location:
            url = _follow(url, location)
            continue
        if status != 200:
            raise FetchError(f"{url}: the server answered HTTP {status}")
        return body, url
    raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")


def _follow(url: str, location: str) -> str:
    target = urljoin(url, location)
    before, after = urlsplit(url), urlsplit(target)
    if (after.hostname or "").lower() != (before.hostname or "").lower():
        raise FetchError(f"{url}: redirected to another host ({target}): not followed")
    if before.scheme == "https" and after.scheme != "https":
        raise FetchError(f"{url}: redirected from https to {after.scheme} ({target}): not followed")
    try:
        check_url(target)
    except UrlError as error:
        raise FetchError(f"redirected: {error}") from None
    return target


def _get(url: str, timeout: float, max_bytes: int) -> tuple[int, str | None, bytes]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    client: http.client.HTTPConnection
    if parts.scheme == "https":
        context = ssl.create_default_context()
        client = http.client.HTTPSConnection(host, parts.port, timeout=timeout, context=context)
    else:
        client = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        client.request("GET", path, headers={"User-Agent": "rewriter preload-list fetch"})
        response = client.getresponse()
        if response.status in _REDIRECTS:
            return response.status, response.getheader("Location"), b""
        body = response.read(max_bytes + 1)
        if len(body) > max_bytes:
            raise FetchError(f"{url}: larger than {max_bytes:,} bytes: not a preload list")
        announced = response.getheader("Content-Length") or ""
        if announced.isdigit() and len(body) < int(announced):
            raise http.client.IncompleteRead(body, int(announced) - len(body))
        return response.status, None, body
    except http.client.IncompleteRead as error:
        raise FetchError(
            f"{url}: the download was cut short ({len(error.partial):,} bytes received)"
        ) from None
    except ssl.SSLCertVerificationError as error:
        raise FetchError(f"{url}: the certificate is refused ({error.verify_message})") from None
    except TimeoutError:
        raise FetchError(f"{url}: timeout: no answer within {timeout:g} s") from None
    except (OSError, http.client.HTTPException) as error:
        detail = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise FetchError(f"{url}: {detail or type(error).__name__}") from None
    finally:
        client.close()


def decode(body: bytes) -> bytes:
    """The JSON text of a body that is JSON, or base64 of JSON. Raises FetchError."""
    stripped = body.lstrip()
    if stripped.startswith((b"{", b"//")):
        return body
    try:
        decoded = base64.b64decode(b"".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        raise FetchError("neither JSON nor base64-encoded JSON") from None
    if not decoded.lstrip().startswith((b"{", b"//")):
        raise FetchError("base64 that does not decode to JSON")
    return decoded


def check_list(data: bytes, *, force: bool) -> Checked:
    """Check a Chromium transport_security_state_static.json. Raises FetchError."""
    try:
        document = json.loads(strip_comments(data.decode("utf-8")))
    except UnicodeDecodeError:
        raise FetchError("not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise FetchError(
            f"not valid JSON at line {error.lineno}: {error.msg} (truncated or damaged)"
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("entries"), list):
        raise FetchError('not a preload list: expected an object with an "entries" list')
    entries = document["entries"]
    force_https = 0
    for index, entry in enumerate(entries):
        problem = _entry_problem(entry)
        if problem:
            raise FetchError(f"entry {index}: {problem}")
        force_https += entry.get("mode") == "force-https"
    if len(entries) < MIN_ENTRIES and not force:
        raise FetchError(
            f"only {len(entries):,} entries, where Chromium's list has over 150,000: "
            f"refused (--force stores a list of fewer than {MIN_ENTRIES:,})"
        )
    return Checked(data, len(entries), force_https)


def _entry_problem(entry: object) -> str | None:
    if not isinstance(entry, dict):
        return "expected an object"
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        return f'"name" must be an ASCII host name (got {name!r})'
    mode = entry.get("mode")
    if mode is not None and mode not in _MODES:
        return f"{name}: unknown mode {mode!r} (Chromium's lists use force-https)"
    for flag in _FLAGS:
        if not isinstance(entry.get(flag, False), bool):
            return f"{name}: {flag!r} must be true or false"
    if "policy" in entry and not isinstance(entry["policy"], str):
        return f'{name}: "policy" must be a string'
    return None
