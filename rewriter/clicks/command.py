"""`rewriter clicks`: the click report, and the purge of old clicks (retention)."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

import click

from rewriter.clicks.report import GroupBy
from rewriter.rules.model import ClickSettings

EXIT_USAGE = 2


class _Failure(Exception):
    """A message for stderr, then exit 2 (usage, rules or store errors)."""


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--clicks", "store_url", metavar="URL",
              help="The click store: sqlite:///PATH, postgresql://..., jsonl:PATH "
                   "(default: clicks.store of the rules, else clicks.sqlite3 in the user's "
                   "data folder).")  # fmt: skip
@click.option("--rules", "rules_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The rules file (default: rewriter.yaml here or in a parent).")  # fmt: skip
@click.option("--since", metavar="DATE", help="From this date or time (UTC), included.")
@click.option("--until", metavar="DATE",
              help="Up to this date (its whole day included) or time (UTC, excluded).")  # fmt: skip
@click.option("--by", "group_by", type=click.Choice([g.value for g in GroupBy]),
              default=GroupBy.DESTINATION.value, show_default=True,
              help="Group clicks by.")  # fmt: skip
@click.option("--all", "every_label", is_flag=True,
              help="Count every label, not only human clicks.")  # fmt: skip
@click.option("--format", "output_format", type=click.Choice(["table", "json", "csv"]),
              default="table", show_default=True)  # fmt: skip
@click.option("--purge-before", metavar="DATE",
              help="Delete the clicks older than this date or time (UTC), say how many, "
                   "and exit.")  # fmt: skip
def clicks(
    store_url: str | None,
    rules_path: Path | None,
    since: str | None,
    until: str | None,
    group_by: str,
    every_label: bool,
    output_format: str,
    purge_before: str | None,
) -> None:
    """Report clicks on tracking links: per group, clicks, unique clicks and the share labelled
    automated (scanners, prefetches, bots). Human clicks only unless --all.

    Exit codes: 0 done, 2 usage, rules or store error."""
    try:
        settings = _settings(rules_path)
        url = store_url or settings.store
        if purge_before is not None:
            _purge(url, _moment(purge_before, "--purge-before", end_of_day=False))
            return
        window = (
            _moment(since, "--since", end_of_day=False) if since else None,
            _moment(until, "--until", end_of_day=True) if until else None,
        )
        text = _report(url, settings, window, GroupBy(group_by), every_label, output_format)
    except _Failure as failure:
        sys.stderr.write(f"rewriter: {failure}\n")
        raise SystemExit(EXIT_USAGE) from None
    click.echo(text, nl=False)


def _settings(rules_path: Path | None) -> ClickSettings:
    from rewriter.rules.errors import RulesError
    from rewriter.rules.loader import find_rules, load_rules

    path = rules_path or find_rules(Path.cwd())
    if path is None:
        return ClickSettings()
    try:
        return load_rules(path).clicks
    except RulesError as error:
        raise _Failure(str(error)) from None


def _moment(text: str, option: str, *, end_of_day: bool) -> datetime.datetime:
    """A date (its midnight, or the next one for `end_of_day`) or an ISO time; naive is UTC."""
    try:
        if len(text) == 10:
            day = datetime.date.fromisoformat(text)
            moment = datetime.datetime.combine(day, datetime.time(), datetime.UTC)
            return moment + datetime.timedelta(days=1) if end_of_day else moment
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _Failure(f"{option}: {text!r} is not a date (2026-12-01) or time") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=datetime.UTC)
    return parsed.astimezone(datetime.UTC)


def _purge(url: str | None, moment: datetime.datetime) -> None:
    from rewriter.clicks.stores import Store, StoreError, open_store

    try:
        store: Store = open_store(url, create=False)
        try:
            count = store.purge_before(moment)
        finally:
            store.close()
    except StoreError as error:
        raise _Failure(str(error)) from None
    noun = "click" if count == 1 else "clicks"
    sys.stderr.write(f"{count} {noun} recorded before {moment:%Y-%m-%d %H:%M:%S} UTC deleted\n")


def _report(
    url: str | None,
    settings: ClickSettings,
    window: tuple[datetime.datetime | None, datetime.datetime | None],
    by: GroupBy,
    every_label: bool,
    output_format: str,
) -> str:
    from rewriter.clicks import report
    from rewriter.clicks.readlabels import Thresholds, label_clicks
    from rewriter.clicks.stores import NoStore, StoreError, open_store

    thresholds = Thresholds(
        settings.burst_links, settings.burst_seconds, settings.duplicate_seconds
    )
    try:
        store = open_store(url, create=False)
    except NoStore as error:  # nothing recorded yet: an empty report, and why
        sys.stderr.write(f"rewriter: {error}\n")
        result = report.build((), by, every_label=every_label)
    except StoreError as error:
        raise _Failure(str(error)) from None
    else:
        try:
            items = label_clicks(store.read(*window), thresholds)
            result = report.build(items, by, every_label=every_label)
        except StoreError as error:
            raise _Failure(str(error)) from None
        finally:
            store.close()
    formats = {"json": report.as_json, "csv": report.as_csv, "table": report.as_table}
    return formats[output_format](result)
