"""Issue 9, defects 5, 9, 14, 15, 17 and 18: the cache keyed on the attribution, a send loop
that survives a bad document, `resolve`'s matching of tracking links, CSV and report fields and
the stale-list warning, `--stdin-filename` and `--context`, `--no-annotate`.

Through click's CliRunner on copies in temporary folders, with the golden cases' rules (keys from
REWRITER_TEST_KEYS, set by tests/conftest.py); tokens are read back to see their attribution.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from golden import STALE_LIST_WARNING, without_stale_list_warning

from rewriter import load_rules, rewrite_many
from rewriter.batch.factory import make_rewriter
from rewriter.cli.main import main
from rewriter.document.engine import Rewriter
from rewriter.models import Action
from rewriter.tokens.format import decode_token

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "tests" / "cases"
RULES = CASES / "rules.yaml"  # tracking: go.example.com/l, legacy: click.example.com
PRELOAD = ROOT / "tests" / "data" / "preload" / "transport_security_state_static.json"
PAGE = (
    b'<p>Hello</p>\n<a href="https://www.example.com/sale?utm_source=mail">sale</a>\n'
    b'<a href="http://blog.example.com/post">post</a>\n'
)
CONDITIONAL = b'<!--[if mso]><a href="https://www.example.com/outlook">o</a><![endif]-->\n'
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)


def invoke(
    *args: object, stdin: bytes | str | None = None, env: Mapping[str, str] | None = None
) -> Result:
    return CliRunner().invoke(
        main, [str(arg) for arg in args], input=stdin, env=env, catch_exceptions=False
    )


@pytest.fixture
def engine() -> Rewriter:
    return make_rewriter(load_rules(RULES), keys=True)


@pytest.fixture
def cache_env(tmp_path: Path) -> dict[str, str]:
    """A cache folder of this test's own: what one run leaves, the next run finds."""
    return {"REWRITER_CACHE_DIR": str(tmp_path / "cache")}


def contexts(output: bytes) -> set[str]:
    """The attribution every tracking link in `output` carries."""
    rules = load_rules(RULES)
    found = set()
    for chunk in output.split(rules.tracking_prefix.encode())[1:]:
        token = chunk.split(b'"', 1)[0].decode("ascii")
        found.add(decode_token(token).context)
    return found


def tracking_urls(engine: Rewriter) -> list[str]:
    result = engine.rewrite(PAGE, file="page.html", relative="page.html")
    urls = [link.tracking_url for link in result.links if link.action is Action.REWRITTEN]
    assert len(urls) == 2
    return [url for url in urls if url is not None]


# --- 5: the cache keys on everything that changes the output, the attribution included ----------


def test_a_file_reached_from_another_root_is_rewritten_with_its_new_attribution(
    tmp_path: Path, cache_env: dict[str, str]
) -> None:
    templates = tmp_path / "templates"
    (templates / "sub").mkdir(parents=True)
    (templates / "sub" / "welcome.html").write_bytes(PAGE)
    first = invoke(
        "rewrite", templates, "--out", tmp_path / "cb", "--rules", RULES, "--workers", 1,
        env=cache_env,
    )  # fmt: skip
    assert first.exit_code == 0, first.stderr
    assert contexts((tmp_path / "cb" / "sub" / "welcome.html").read_bytes()) == {"sub/welcome.html"}
    second = invoke(
        "rewrite", templates / "sub", "--out", tmp_path / "cb" / "sub", "--rules", RULES,
        "--workers", 1, env=cache_env,
    )  # fmt: skip
    assert second.exit_code == 0, second.stderr
    uncached = invoke(
        "rewrite", templates / "sub", "--out", tmp_path / "fresh", "--rules", RULES, "--no-cache",
        env=cache_env,
    )  # fmt: skip
    assert uncached.exit_code == 0, uncached.stderr
    output = (tmp_path / "cb" / "sub" / "welcome.html").read_bytes()
    assert contexts(output) == {"welcome.html"}
    assert output == (tmp_path / "fresh" / "welcome.html").read_bytes()


@pytest.mark.parametrize(
    "option", [("--context", "spring-sale"), ("--no-annotate",)], ids=["context", "no-annotate"]
)
def test_options_that_change_the_output_are_part_of_the_cache_key(
    tmp_path: Path, cache_env: dict[str, str], engine: Rewriter, option: tuple[str, ...]
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "page.html").write_bytes(PAGE)
    out = tmp_path / "out" / "page.html"
    plain = invoke("rewrite", tmp_path / "src", "--out", tmp_path / "out", "--rules", RULES,
                   env=cache_env)  # fmt: skip
    assert plain.exit_code == 0, plain.stderr
    assert out.read_bytes() == engine.rewrite(PAGE, relative="page.html").output
    changed = invoke("rewrite", tmp_path / "src", "--out", tmp_path / "out", "--rules", RULES,
                     *option, env=cache_env)  # fmt: skip
    assert changed.exit_code == 0, changed.stderr
    fresh = invoke("rewrite", tmp_path / "src", "--out", tmp_path / "fresh", "--rules", RULES,
                   *option, "--no-cache", env=cache_env)  # fmt: skip
    assert fresh.exit_code == 0, fresh.stderr
    assert out.read_bytes() == (tmp_path / "fresh" / "page.html").read_bytes()
    assert out.read_bytes() != engine.rewrite(PAGE, relative="page.html").output


def test_the_readme_says_what_the_cache_does_not_see_and_how_to_force_a_run() -> None:
    readme = " ".join((ROOT / "README.md").read_text("utf-8").split())
    assert "without changing its size or its mtime is not seen" in readme
    assert "`--no-cache`" in readme


# --- 9: one bad document does not stop a send loop ----------------------------------------------


def test_rewrite_many_yields_a_failed_result_for_a_bad_document_and_goes_on() -> None:
    from rewriter import FailedResult

    rules = load_rules(RULES)
    documents = [("a.html", PAGE), ("logo.png", PNG), ("b.html", PAGE)]
    results = list(rewrite_many(iter(documents), rules))
    assert [name for name, _ in results] == ["a.html", "logo.png", "b.html"]
    (_, first), (_, failed), (_, last) = results
    assert isinstance(failed, FailedResult)
    assert failed.output is None
    assert failed.error == "logo.png: not a template: it looks like a PNG image"
    assert failed.links == () and not failed.changed
    for result in (first, last):
        assert result.error is None
        assert result.output is not None and result.changed
    assert contexts(last.output or b"") == {"b.html"}


def test_the_readme_send_loop_never_sends_a_failed_document() -> None:
    """The README's example, run as written, with `send` and `log` at hand."""
    readme = (ROOT / "README.md").read_text("utf-8")
    start = readme.index("for name, result in rewrite_many(")
    example = readme[start : readme.index("```", start)]
    sent: list[tuple[str, bytes]] = []
    logged: list[str] = []

    class Message:
        def __init__(self, name: str, html: bytes) -> None:
            self.name, self.html = name, html

    outgoing = [Message("a.html", PAGE), Message("logo.png", PNG), Message("b.html", PAGE)]
    namespace = {
        "rewrite_many": rewrite_many,
        "load_rules": lambda path: load_rules(RULES),
        "outgoing": outgoing,
        "send": lambda name, output: sent.append((name, output)),
        "log": type("Log", (), {"error": staticmethod(logged.append)}),
    }
    exec(example, namespace)  # the documentation's own example, as written
    assert [name for name, _ in sent] == ["a.html", "b.html"]
    assert all(isinstance(output, bytes) for _, output in sent)
    assert logged == ["logo.png: not a template: it looks like a PNG image"]


# --- 14: resolve matches host, path prefix and port; bare tokens; stdin; JSON ------------------

HOSTS = frozenset({"go.example.com", "click.example.com"})


@pytest.mark.parametrize(
    "url",
    [
        "http://go.example.com/l/TOKEN",
        "https://go.example.com/l/TOKEN",  # upgraded by HSTS
        "http://GO.Example.COM/l/TOKEN",
        "http://go.example.com./l/TOKEN",
        "http://go.example.com:80/l/TOKEN",
        "https://go.example.com:443/l/TOKEN",
        "http://click.example.com/l/TOKEN?utm=1#top",
    ],
)
def test_a_tracking_url_is_matched_by_host_prefix_and_default_port(url: str) -> None:
    from rewriter.web.tracking import TrackingRoute, token_in_url

    assert token_in_url(url, TrackingRoute(HOSTS, "/l")) == "TOKEN"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://go.example.com/x/TOKEN", "the path /x/TOKEN is not under /l/"),
        ("http://go.example.com/lx/TOKEN", "the path /lx/TOKEN is not under /l/"),
        ("http://go.example.com/l/", "the path /l/ is not /l/<token>"),
        ("http://go.example.com/l/a/TOKEN", "the path /l/a/TOKEN is not /l/<token>"),
        ("http://go.example.com:8080/l/TOKEN", "port 8080 is not the http port"),
        ("https://go.example.com:80/l/TOKEN", "port 80 is not the https port"),
        ("http://go.example.com../l/TOKEN", "go.example.com.. is not a tracking domain"),
        ("http://evil.example/l/TOKEN", "evil.example is not a tracking domain"),
        ("ftp://go.example.com/l/TOKEN", "not a URL"),
    ],
)
def test_anything_else_is_not_a_tracking_link_and_says_why(url: str, why: str) -> None:
    from rewriter.web.tracking import NotTracking, TrackingRoute, token_in_url

    found = token_in_url(url, TrackingRoute(HOSTS, "/l"))
    assert isinstance(found, NotTracking)
    assert found.reason.startswith(why)


def test_a_request_is_matched_by_the_same_rules() -> None:
    from rewriter.web.tracking import NotTracking, TrackingRoute, token_at

    route = TrackingRoute(HOSTS, "/l")
    assert token_at("GO.example.com.", "/l/TOKEN", route) == "TOKEN"
    assert token_at("go.example.com", "/l/TOKEN", route, scheme="https", port=443) == "TOKEN"
    assert isinstance(token_at("go.example.com", "/l/TOKEN", route, port=8443), NotTracking)
    assert isinstance(token_at("go.example.com", "/m/TOKEN", route), NotTracking)


def test_resolve_refuses_a_wrong_prefix_and_a_wrong_port(engine: Rewriter) -> None:
    url = tracking_urls(engine)[0]
    token = url.rsplit("/", 1)[1]
    wrong = [
        f"http://go.example.com/x/{token}",
        f"http://go.example.com:8080/l/{token}",
        f"http://go.example.com/l/extra/{token}",
    ]
    for link in wrong:
        result = invoke("resolve", link, "--rules", RULES)
        assert result.exit_code == 1, link
        assert result.stdout.startswith(f"{link}\tinvalid: ")


def test_resolve_takes_https_case_a_trailing_dot_the_default_port_and_a_bare_token(
    engine: Rewriter,
) -> None:
    url = tracking_urls(engine)[0]
    token = url.rsplit("/", 1)[1]
    given = [
        url.replace("http://", "https://"),
        f"http://GO.EXAMPLE.COM./l/{token}",
        f"http://go.example.com:80/l/{token}",
        token,
    ]
    result = invoke("resolve", *given, "--rules", RULES)
    assert result.exit_code == 0, result.stdout
    destination = "https://www.example.com/sale?utm_source=mail"
    assert result.stdout == "".join(f"{link}\t{destination}\n" for link in given)


def test_resolve_reads_links_from_stdin_and_prints_json(engine: Rewriter) -> None:
    first, second = tracking_urls(engine)
    forged = first[:-3] + ("AAA" if not first.endswith("AAA") else "BBB")
    stdin = f"{first}\n\n  {second}  \n{forged}\n"
    result = invoke("resolve", "-", "--rules", RULES, "--format", "json", stdin=stdin)
    assert result.exit_code == 1
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows[:2] == [
        {"link": first, "destination": "https://www.example.com/sale?utm_source=mail",
         "key_id": "test", "context": "page.html", "verified": True, "error": None},
        {"link": second, "destination": "http://blog.example.com/post",
         "key_id": "test", "context": "page.html", "verified": True, "error": None},
    ]  # fmt: skip
    assert rows[2]["link"] == forged
    assert rows[2]["verified"] is False
    assert rows[2]["error"]


# --- 15: CSV booleans, the preload list in every output, the stale-list warning --------------


def test_csv_writes_booleans_in_lower_case(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(PAGE + CONDITIONAL)
    result = invoke("links", page, "--rules", RULES, "--format", "csv")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["in_conditional_comment"] for row in rows] == ["false", "false", "true"]


def test_csv_and_the_report_name_the_preload_list_given(tmp_path: Path) -> None:
    page = tmp_path / "src" / "page.html"
    page.parent.mkdir()
    page.write_bytes(PAGE)
    listed = invoke("links", page, "--rules", RULES, "--format", "csv", "--preload-list", PRELOAD)
    assert listed.exit_code == 0, listed.stderr
    rows = list(csv.DictReader(io.StringIO(listed.stdout)))
    names = {row["preload_list"] for row in rows}
    assert len(names) == 1 and str(PRELOAD) in names.pop()
    report = tmp_path / "report.ndjson"
    rewritten = invoke(
        "rewrite", page.parent, "--out", tmp_path / "out", "--rules", RULES, "--report", report,
        "--preload-list", PRELOAD, "--no-cache",
    )  # fmt: skip
    assert rewritten.exit_code == 0, rewritten.stderr
    records = [json.loads(line) for line in report.read_text("utf-8").splitlines()]
    assert len(records) == 2
    assert {record["preload_list"] for record in records} == {rows[0]["preload_list"]}


def test_the_report_of_stdin_names_the_bundled_list(tmp_path: Path) -> None:
    report = tmp_path / "report.ndjson"
    result = invoke("rewrite", "-", "--rules", RULES, "--report", report, stdin=PAGE)
    assert result.exit_code == 0
    records = [json.loads(line) for line in report.read_text("utf-8").splitlines()]
    assert {record["preload_list"] for record in records} == {
        "hstspreload 2025.1.1 (bundled), dated 2025-01-01"
    }


def test_rewrite_warns_that_the_bundled_list_is_old_unless_quiet(tmp_path: Path) -> None:
    loud = invoke("rewrite", "-", "--rules", RULES, stdin=PAGE)
    assert loud.exit_code == 0
    (warning,) = loud.stderr.splitlines()
    assert warning.startswith(STALE_LIST_WARNING)
    quiet = invoke("rewrite", "-", "--rules", RULES, "-q", stdin=PAGE)
    assert (quiet.exit_code, quiet.stderr) == (0, "")
    assert quiet.stdout_bytes == loud.stdout_bytes


# --- 17: --stdin-filename and --context ---------------------------------------------------------


def test_stdin_with_its_filename_gives_the_tokens_of_the_tree_run(tmp_path: Path) -> None:
    source = tmp_path / "templates" / "sub" / "welcome.html"
    source.parent.mkdir(parents=True)
    source.write_bytes(PAGE)
    tree = invoke("rewrite", tmp_path / "templates", "--out", tmp_path / "out", "--rules", RULES,
                  "--no-cache")  # fmt: skip
    assert tree.exit_code == 0, tree.stderr
    piped = invoke(
        "rewrite", "-", "--stdin-filename", "sub/welcome.html", "--rules", RULES, stdin=PAGE
    )
    assert piped.exit_code == 0, piped.stderr
    assert piped.stdout_bytes == (tmp_path / "out" / "sub" / "welcome.html").read_bytes()
    assert contexts(piped.stdout_bytes) == {"sub/welcome.html"}


def test_stdin_filename_names_the_document_in_messages_and_records(tmp_path: Path) -> None:
    failed = invoke("rewrite", "-", "--stdin-filename", "logo.png", "--rules", RULES, stdin=PNG)
    assert failed.exit_code == 123
    assert without_stale_list_warning(failed.stderr).startswith(
        "logo.png: error: not a template: it looks like a PNG image"
    )
    listed = invoke("links", "-", "--stdin-filename", "mail/welcome.html", "--rules", RULES,
                    "--format", "ndjson", stdin=PAGE)  # fmt: skip
    assert listed.exit_code == 0
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert {row["file"] for row in rows} == {"mail/welcome.html"}
    assert contexts("".join(row["tracking_url"] + '"' for row in rows).encode()) == {
        "mail/welcome.html"
    }


def test_stdin_filename_without_stdin_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_bytes(PAGE)
    result = invoke("rewrite", tmp_path / "page.html", "--stdin-filename", "x.html", "--check",
                    "--rules", RULES)  # fmt: skip
    assert result.exit_code == 2
    assert "--stdin-filename" in result.stderr


def test_context_sets_the_attribution_of_every_link(tmp_path: Path) -> None:
    piped = invoke("rewrite", "-", "--context", "msg-2026-12-02-0042", "--rules", RULES,
                   stdin=PAGE)  # fmt: skip
    assert piped.exit_code == 0, piped.stderr
    assert contexts(piped.stdout_bytes) == {"msg-2026-12-02-0042"}
    (tmp_path / "src" / "a").mkdir(parents=True)
    (tmp_path / "src" / "a" / "page.html").write_bytes(PAGE)
    tree = invoke("rewrite", tmp_path / "src", "--out", tmp_path / "out", "--rules", RULES,
                  "--context", "spring-sale", "--no-cache")  # fmt: skip
    assert tree.exit_code == 0, tree.stderr
    assert contexts((tmp_path / "out" / "a" / "page.html").read_bytes()) == {"spring-sale"}


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("jane.doe@example.com", "looks like an email address"),
        ("campaign-for-jane%40example.com", "looks like an email address"),
        ("x" * 256, "longer than 255 bytes"),
        ("", "must be printable text"),
        ("line\nbreak", "must be printable text"),
    ],
)
def test_context_refuses_an_email_address_and_what_a_token_cannot_carry(
    value: str, why: str
) -> None:
    from rewriter.tokens.context import context_problem

    problem = context_problem(value)
    assert problem is not None and problem.startswith(why)
    for command in ("rewrite", "links", "check"):
        result = invoke(command, "-", "--context", value, "--rules", RULES, stdin=PAGE)
        assert result.exit_code == 2, command
        assert result.stdout == ""
        assert why in result.stderr


def test_context_of_the_longest_size_is_taken() -> None:
    from rewriter.tokens.context import context_problem

    value = "é" * 127  # 254 bytes of UTF-8
    assert context_problem(value) is None
    result = invoke("rewrite", "-", "--context", value, "--rules", RULES, stdin=PAGE)
    assert result.exit_code == 0, result.stderr
    assert contexts(result.stdout_bytes) == {value}


# --- 18: --no-annotate --------------------------------------------------------------------------


def test_no_annotate_writes_no_status_attribute_and_nothing_else_changes(
    engine: Rewriter, tmp_path: Path
) -> None:
    annotated = engine.rewrite(PAGE, file="-", relative="-").output
    assert b"data-link-security=" in annotated
    result = invoke("rewrite", "-", "--no-annotate", "--rules", RULES, stdin=PAGE)
    assert result.exit_code == 0, result.stderr
    bare = make_rewriter(dataclasses.replace(engine.rules, annotate=False), keys=True)
    assert result.stdout_bytes == bare.rewrite(PAGE, file="-", relative="-").output
    assert b"data-link-security" not in result.stdout_bytes
    # The annotated copy, rewritten again for sending, loses our attribute and keeps its links.
    again = invoke("rewrite", "-", "--no-annotate", "--rules", RULES, stdin=annotated)
    assert again.exit_code == 0, again.stderr
    assert again.stdout_bytes == result.stdout_bytes
