"""The small HTML pages the service answers with. Nothing from a request is ever echoed, except
a destination we signed (escaped) in the body of a redirect."""

from __future__ import annotations

from functools import lru_cache
from html import escape

_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    '<meta name="robots" content="noindex"><title>{title}</title></head>'
    "<body><h1>{title}</h1><p>{text}</p></body></html>\n"
)

REASONS = {
    200: "OK",
    302: "Found",
    308: "Permanent Redirect",
    404: "Not Found",
    405: "Method Not Allowed",
    410: "Gone",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
}


def _page(title: str, text: str) -> bytes:
    return _PAGE.format(title=title, text=text).encode("utf-8")


@lru_cache(maxsize=4096)  # the same links are clicked again and again
def redirect_page(location: str) -> bytes:
    """The body of a 302 or 308: the link itself, for clients that do not follow redirects."""
    link = escape(location, quote=True)
    return _page("Redirecting", f'This link goes to <a href="{link}">{link}</a>.')


NOT_FOUND = _page("Link not found", "This link is not valid. Check that it was copied in full.")
WITHDRAWN = _page("Link withdrawn", "This link has been withdrawn and no longer leads anywhere.")
METHOD_NOT_ALLOWED = _page("Method not allowed", "Only GET and HEAD are answered here.")
URI_TOO_LONG = _page("Address too long", "The address asked for is longer than 8 KiB.")
HEADERS_TOO_LARGE = _page("Headers too large", "The request's header fields are too large.")
