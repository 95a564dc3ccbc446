"""Writes tokens-v1.json: tokens made by token format version 1 with a fixed test key.

Run once, when the fixture was made (`python tests/data/compat/make_tokens_v1.py`); never
again: the point of the file is that tokens already sent keep resolving in every later version.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from rewriter.tokens.format import encode_token
from rewriter.tokens.keys import KeyRing

KEY_ID = "compat1"
SECRET = b"compatibility fixture key v1, not secret"
CASES = [
    ("https://www.example.com/", ""),
    ("http://example.com/a", "x"),
    (
        "https://www.acme.com/products/anvil-pro?utm_source=newsletter&utm_medium=email"
        "&utm_campaign=spring_sale_2026&utm_content=hero_cta",
        "newsletters/2026-11.html",
    ),
    ("https://shop.example.com/p?id=1&_hsenc=p2ANqtz&_hsmi=29&mc_cid=3f&mc_eid=9e", "cmp_01HX3K"),
    ("https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%BC#top", "welcome/é-mail.html"),
    ("https://www.example.com/%20%2F%3A/index.html?email=a%40b.c", "promo/black-friday-2026.html"),
    ("http://[2001:db8::1]:8080/health", ""),
    ("https://203.0.113.7:8443/status?x=1", "spring-sale-2026"),
    ("https://example.org/" + "a" * 300, "long"),
    ("https://a.b/?" + "&".join(f"k{i}=v{i}" for i in range(40)), "ü" * 100),
]


def main() -> None:
    ring = KeyRing(KEY_ID, {KEY_ID: SECRET})
    tokens = [
        {"token": encode_token(url, context, ring), "destination": url, "context": context}
        for url, context in CASES
    ]
    fixture = {
        "format_version": 1,
        "key": f"{KEY_ID} {base64.urlsafe_b64encode(SECRET).decode().rstrip('=')}",
        "tokens": tokens,
    }
    path = Path(__file__).with_name("tokens-v1.json")
    path.write_text(json.dumps(fixture, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
