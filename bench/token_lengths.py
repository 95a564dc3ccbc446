"""How long are tracking tokens and links? Run: `.venv/bin/python bench/token_lengths.py`.

Prints, for (a) realistic marketing URLs of 150-400 characters with UTM parameters, generated
deterministically, and (b) every absolute http(s) `href` in ../shared/corpus (when present), the
median and maximum length of the destination, of its token (key id "k1", a 24-byte context) and of
the whole tracking link `http://<20-character domain>/l/<token>`, plus encoding time per token.
"""

from __future__ import annotations

import html
import random
import re
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rewriter.tokens.format import encode_token, token_length_bound
from rewriter.tokens.keys import KeyRing

CONTEXT = "newsletters/2026-11.html"
TRACKING_PREFIX = "http://" + "t" * 16 + ".com" + "/l/"  # a 20-character domain
RING = KeyRing("k1", {"k1": bytes(range(32))}, origin="benchmark key (not secret)")
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
_HREF = re.compile(rb"""href\s*=\s*["']?\s*(https?://[^"'\s>]+)""", re.IGNORECASE)
_TEMPLATE_MARKS = ("{{", "{%", "${", "<%", "*|", "%%", "[[")


def token_length_table(destinations: Sequence[str]) -> dict[str, object]:
    """Median and maximum lengths of destinations, tokens and tracking links; the bound holds?"""
    tokens = [encode_token(url, CONTEXT, RING) for url in destinations]
    over_bound = [
        len(token) - token_length_bound(url, CONTEXT, RING.current)
        for url, token in zip(destinations, tokens, strict=True)
    ]
    return {
        "count": len(destinations),
        "destination": _median_max([len(url) for url in destinations]),
        "token": _median_max([len(token) for token in tokens]),
        "tracking_url": _median_max([len(TRACKING_PREFIX) + len(token) for token in tokens]),
        "token_to_destination_median": round(
            statistics.median(len(t) / len(u) for u, t in zip(destinations, tokens, strict=True)),
            3,
        ),
        "bound_holds": max(over_bound, default=0) <= 0,
    }


def realistic_destinations(count: int = 1000, seed: int = 2026) -> list[str]:
    """Marketing links of 150-400 characters with UTM parameters, the same on every run."""
    rng = random.Random(seed)
    urls: list[str] = []
    while len(urls) < count:
        url = _realistic_url(rng)
        if 150 <= len(url) <= 400:
            urls.append(url)
    return urls


def corpus_destinations(root: Path = CORPUS) -> list[str]:
    """Every absolute http(s) href in the corpus without a template expression, entity-decoded
    and WHATWG-serialised as the engine does before making a token."""
    from ada_url import URL

    found: list[str] = []
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        for match in _HREF.finditer(path.read_bytes()):
            value = html.unescape(match.group(1).decode("utf-8", "replace"))
            if any(mark in value for mark in _TEMPLATE_MARKS):
                continue
            try:
                found.append(URL(value).href)
            except ValueError:
                continue
    return found


def time_per_token(destination: str, rounds: int = 20000) -> float:
    """Microseconds per `encode_token` call (best of five runs)."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            encode_token(destination, CONTEXT, RING)
        best = min(best, time.perf_counter() - start)
    return best / rounds * 1e6


def main() -> int:
    tables = {"(a) realistic 150-400 chars": token_length_table(realistic_destinations())}
    if CORPUS.is_dir():
        tables["(b) ../shared/corpus hrefs"] = token_length_table(corpus_destinations())
    else:
        print(f"{CORPUS} absent: corpus figures skipped", file=sys.stderr)
    print(f"{'set':30} {'n':>5} {'dest med/max':>13} {'token med/max':>14} {'link med/max':>13}")
    for name, table in tables.items():
        print(
            f"{name:30} {table['count']:>5} {_pair(table['destination']):>13} "
            f"{_pair(table['token']):>14} {_pair(table['tracking_url']):>13}"
            f"  token/dest median {table['token_to_destination_median']}"
            f"  bound holds: {table['bound_holds']}"
        )
    rng = random.Random(7)
    samples = {50: _sized_url(rng, 50), 300: _sized_url(rng, 300)}
    for size, url in samples.items():
        print(f"encode_token, {size}-character URL: {time_per_token(url):.2f} us")
    return 0


def _median_max(values: Sequence[int]) -> dict[str, float]:
    if not values:
        return {"median": 0, "max": 0}
    return {"median": statistics.median(values), "max": max(values)}


def _pair(stats: object) -> str:
    assert isinstance(stats, dict)
    return f"{stats['median']:g}/{stats['max']:g}"


# --- The generator of realistic URLs ---------------------------------------------------------

_BRANDS = (
    "lumenhome", "trailforge", "bluepeak-coffee", "novabank", "greenleaf", "urbanloom",
    "fitpulse", "brightlearn", "harborsoftware", "petalandpine", "kestrel-analytics", "solvia",
    "mapleandco", "orbitshop", "quillpress", "riverstone-outfitters",
)  # fmt: skip
_TLDS = (".com", ".com", ".com", ".com", ".co.uk", ".de", ".io", ".net", ".org", ".fr", ".app")
_SUBDOMAINS = ("www.", "www.", "www.", "shop.", "go.", "info.", "learn.", "events.", "", "app.")
_WORDS = (
    "new", "arrivals", "sale", "summer", "winter", "collection", "guide", "how-to", "best",
    "gift", "ideas", "women", "men", "kids", "home", "office", "outdoor", "running", "coffee",
    "beans", "espresso", "savings", "account", "mortgage", "rates", "course", "data", "science",
    "webinar", "report", "2026", "q3", "launch", "update", "features", "pricing", "plans",
    "limited", "edition", "free", "shipping", "weekend", "flash", "deal", "members", "rewards",
)  # fmt: skip
_SECTIONS = (
    "products", "collections", "blog", "news", "resources", "events", "offers", "p", "c",
    "en-us", "en-gb", "de-de", "articles", "stories", "shop", "catalog", "campaigns", "lp",
)  # fmt: skip
_SOURCES = (
    "newsletter", "email", "hs_email", "klaviyo", "mailchimp", "braze", "sfmc", "marketo",
    "iterable", "customerio", "sendgrid", "Newsletter",
)  # fmt: skip
_MEDIUMS = ("email",) * 8 + ("Email", "e-mail", "newsletter", "crm")
_ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _slug(rng: random.Random, low: int, high: int) -> str:
    return "-".join(rng.choice(_WORDS) for _ in range(rng.randint(low, high)))


def _random_id(rng: random.Random, length: int, alphabet: str = _ALPHANUMERIC) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def _realistic_url(rng: random.Random) -> str:
    scheme = "https://" if rng.random() < 0.93 else "http://"
    host = rng.choice(_SUBDOMAINS) + rng.choice(_BRANDS) + rng.choice(_TLDS)
    segments = [rng.choice(_SECTIONS)] + [_slug(rng, 1, 5) for _ in range(rng.randint(0, 3))]
    if rng.random() < 0.15:
        segments.append(_slug(rng, 1, 3) + rng.choice((".html", ".htm", ".php", ".aspx")))
    params = _product_params(rng) + _utm_params(rng) + _click_ids(rng)
    fragment = "#" + rng.choice(_WORDS) if rng.random() < 0.05 else ""
    return f"{scheme}{host}/{'/'.join(segments)}?{'&'.join(params)}{fragment}"


def _product_params(rng: random.Random) -> list[str]:
    choices = [
        f"variant={rng.randint(10**12, 10**14)}",
        f"id={rng.randint(100, 999999)}",
        f"sku={_random_id(rng, 8, '0123456789ABCDEFGHJKLMNPQRSTUVWXYZ')}",
        f"ref={rng.choice(('email', 'nl', 'footer', 'hero'))}_{rng.randint(1, 40)}",
        f"color={rng.choice(('black', 'white', 'navy', 'sage'))}",
        f"lang={rng.choice(('en', 'de', 'fr', 'es'))}",
        f"promo={_random_id(rng, 6, '0123456789ABCDEFGHJKLMNPQRSTUVWXYZ')}",
    ]
    return rng.sample(choices, rng.randint(0, 3))


def _utm_params(rng: random.Random) -> list[str]:
    campaign_parts = [rng.choice(_WORDS) for _ in range(rng.randint(2, 5))]
    if rng.random() < 0.5:
        campaign_parts.append(f"{rng.randint(2024, 2026)}-{rng.randint(1, 12):02d}")
    joiner = rng.choice(("_", "-", "%20", "_"))
    params = [
        f"utm_source={rng.choice(_SOURCES)}",
        f"utm_medium={rng.choice(_MEDIUMS)}",
        f"utm_campaign={joiner.join(campaign_parts)}",
    ]
    if rng.random() < 0.6:
        params.append(f"utm_content={_slug(rng, 1, 3).replace('-', '_')}")
    if rng.random() < 0.25:
        params.append(f"utm_term={_slug(rng, 1, 2).replace('-', '+')}")
    if rng.random() < 0.1:
        params.append(f"utm_id={rng.randint(10**5, 10**9)}")
    return params


def _click_ids(rng: random.Random) -> list[str]:
    roll = rng.random()
    if roll < 0.15:
        return [
            f"_hsenc=p2ANqtz-{_random_id(rng, 40, _ALPHANUMERIC + '-_')}",
            f"_hsmi={rng.randint(10**8, 10**9)}",
        ]
    if roll < 0.3:
        return [
            f"mc_cid={_random_id(rng, 10, '0123456789abcdef')}",
            f"mc_eid={_random_id(rng, 10, '0123456789abcdef')}",
        ]
    if roll < 0.4:
        return [f"mkt_tok={_random_id(rng, 60, _ALPHANUMERIC)}"]
    return []


def _sized_url(rng: random.Random, size: int) -> str:
    """A realistic URL cut or padded to exactly `size` characters (for timing)."""
    url = _realistic_url(rng)
    while len(url) < size:
        url += "&" + _utm_params(rng)[-1]
    return url[:size]


if __name__ == "__main__":
    raise SystemExit(main())
