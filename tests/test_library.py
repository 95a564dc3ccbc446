"""The library API: what the README shows works as shown."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from golden import DEFAULT_RULES

from rewriter import Action, load_rules, rewrite, rewrite_many

PAGE = b'<p><a href="https://www.example.com/a">a</a> <a href="mailto:x@example.com">m</a></p>'


def test_rewrite_returns_output_and_link_records() -> None:
    result = rewrite(PAGE, load_rules(DEFAULT_RULES), file="welcome.html")
    assert result.changed
    assert [link.action for link in result.links] == [Action.REWRITTEN, Action.SKIPPED]
    assert result.links[0].tracking_url is not None
    assert result.links[0].tracking_url.encode() in result.output


def test_rewrite_many_is_lazy_and_matches_rewrite() -> None:
    rules = load_rules(DEFAULT_RULES)
    pulled = []

    def documents() -> Iterator[tuple[str, bytes]]:
        for number in itertools.count():
            pulled.append(number)
            yield f"t{number}.html", PAGE

    results = rewrite_many(documents(), rules)
    first = [next(results) for _ in range(3)]
    assert pulled == [0, 1, 2]  # nothing read ahead
    for name, result in first:
        assert result.output == rewrite(PAGE, rules, file=name).output
