"""`rewriter resolve`: where each tracking link goes, verified with the key ring."""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from rewriter.batch.report import ExitCode, Report
from rewriter.cli.common import CommandError, err, load_rules, rules_option

if TYPE_CHECKING:
    from rewriter.tokens.keys import KeyRing
    from rewriter.web.tracking import TrackingRoute

_BARE_TOKEN = re.compile(r"[A-Za-z0-9_-]+")


@click.command()
@click.argument("urls", nargs=-1, required=True)
@rules_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True,
              help="text: link<TAB>destination; json: one object per link.")  # fmt: skip
def resolve(urls: tuple[str, ...], rules_path: Path | None, fmt: str) -> None:
    """Print the destination of each tracking link (a URL, a bare token, or - to read one per
    line from stdin); exit 1 if any is forged, altered, foreign or signed by an unknown key."""
    sys.exit(run_resolve(urls, rules_path, fmt))


def run_resolve(urls: Sequence[str], rules_path: Path | None, fmt: str = "text") -> int:
    """Per link, `link<TAB>destination` (or one JSON object); exit 1 if any does not verify."""
    from rewriter.batch.factory import SetupError, load_ring
    from rewriter.web.tracking import TrackingRoute

    try:
        rules = load_rules(rules_path)
        ring = load_ring(rules)
    except (CommandError, SetupError) as error:
        err(f"rewriter: {error}")
        return ExitCode.USAGE
    route = TrackingRoute(frozenset({rules.tracking_domain, *rules.legacy_domains}), rules.path)
    report = Report()
    for link in _links_to_resolve(urls):
        row = _resolve_link(link, route, ring)
        if row["error"] is not None:
            report.findings += 1
        if fmt == "json":
            print(json.dumps(row, ensure_ascii=False))
        elif row["error"] is not None:
            print(f"{link}\tinvalid: {row['error']}")
        else:
            print(f"{link}\t{row['destination']}")
    return report.exit_code


def _links_to_resolve(given: Sequence[str]) -> Iterator[str]:
    """The links as given, `-` replaced by the non-blank lines of stdin."""
    for link in given:
        if link != "-":
            yield link
            continue
        for line in sys.stdin:
            if line.strip():
                yield line.strip()


def _resolve_link(link: str, route: TrackingRoute, ring: KeyRing) -> dict[str, object]:
    """What a link carries, verified; when it does not verify, what it claims (unverified)
    and why not."""
    from rewriter.tokens.format import TokenError, decode_token
    from rewriter.web.tracking import NotTracking, token_in_url

    row: dict[str, object] = dict.fromkeys(("link", "destination", "key_id", "context"))
    row |= {"link": link, "verified": False, "error": None}
    token = link if _BARE_TOKEN.fullmatch(link) else token_in_url(link, route)
    if isinstance(token, NotTracking):
        row["error"] = token.reason
        return row
    try:
        contents = decode_token(token, ring)
    except TokenError as error:
        row["error"] = str(error)
        with contextlib.suppress(TokenError):
            contents = decode_token(token)  # what it claims, shown as unverified
            row |= {"destination": contents.destination, "key_id": contents.key_id,
                    "context": contents.context}  # fmt: skip
        return row
    row |= {"destination": contents.destination, "key_id": contents.key_id,
            "context": contents.context, "verified": True}  # fmt: skip
    return row
