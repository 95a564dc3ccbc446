"""`rewriter links` and `rewriter check` used as their users use them: every output format on
folders and stdin, the statuses of samples/, the pre-send gate's exit codes, certificate dates
with --as-of, the message-level warnings, and templates already rewritten (read without a key)."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from golden import REPORT_FIELDS

from rewriter.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
EXAMPLE_RULES = ROOT / "rules" / "example.yaml"  # its keys come from REWRITER_KEYS
DEMO_KEYS = (ROOT / "rules" / "demo.keys.txt").read_text("utf-8").strip()
NO_KEY: dict[str, str | None] = {"REWRITER_KEYS": None}
WITH_KEY: dict[str, str | None] = {"REWRITER_KEYS": DEMO_KEYS}

PRELOAD = "hstspreload 2025.1.1 (bundled), dated 2025-01-01"
AS_OF = "2026-11-27"
SAMPLE_LINKS = 50
# Links to own and third-party hosts that example.yaml says are served securely.
SECURE_ONLY = (
    b'<p><a href="https://www.example.com/a">a</a>\n'
    b'<a href="https://blog.example.com/b">b</a></p>\n'
)
UNVERIFIED = "destination unverified: no key at hand to verify the token"
FAIL_ON_CHOICES = (
    "statuses broken, unknown, insecure, secure-after-first-visit, secure; notice codes "
    "unverified, clip, max-links, url-length, https-possible, certificate-expired, "
    "certificate-expiring, certificate-overdue"
)


def invoke(
    *args: object, stdin: bytes | None = None, env: Mapping[str, str | None] | None = None
) -> Result:
    return CliRunner().invoke(
        main, [str(arg) for arg in args], input=stdin, env=env or NO_KEY, catch_exceptions=False
    )


def links(*args: object, stdin: bytes | None = None, **env: str | None) -> Result:
    return invoke("links", *args, "--rules", EXAMPLE_RULES, stdin=stdin, env=env or NO_KEY)


def check(
    *args: object, stdin: bytes | None = None, env: Mapping[str, str | None] = NO_KEY
) -> Result:
    return invoke("check", *args, "--as-of", AS_OF, stdin=stdin, env=env)


def ndjson(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def violation(row: Mapping[str, object]) -> str:
    """The line `check` prints for a violating link, from its `links` record."""
    url = str(row["original_url"])
    if row["destination"] and row["destination"] != url:
        url += f" -> {row['destination']}"
    where = f"{row['file']}:{row['line']}:{row['column']}"
    return f"{where}: {row['status']}: {url} ({row['status_reason']})"


def rules_copy(folder: Path, *replacements: tuple[str, str]) -> Path:
    """rules/example.yaml with some text replaced (each replacement must apply exactly once)."""
    text = EXAMPLE_RULES.read_text("utf-8")
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = folder / "rules.yaml"
    path.write_text(text, "utf-8")
    return path


@pytest.fixture(autouse=True)
def private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test gets its own empty cache folder, never the user's (rewrite keeps a cache)."""
    monkeypatch.setenv("REWRITER_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@dataclass(frozen=True)
class Samples:
    folder: Path  # a copy of samples/
    out: Path  # the same, rewritten with the demo key
    formats: dict[str, Result]  # `links samples --format X`, without a key


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Samples:
    root = tmp_path_factory.mktemp("inspect")
    folder = root / "samples"
    shutil.copytree(SAMPLES, folder)
    out = root / "out"
    cache = str(tmp_path_factory.mktemp("cache"))
    made = invoke(
        "rewrite", folder, "--rules", EXAMPLE_RULES, "--out", out,
        env={**WITH_KEY, "REWRITER_CACHE_DIR": cache},
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    formats = {fmt: links(folder, "--format", fmt) for fmt in ("json", "ndjson", "csv", "table")}
    return Samples(folder, out, formats)


# --- links ---------------------------------------------------------------------------------------


def test_json_is_one_document_with_the_preload_list_and_a_links_array(samples: Samples) -> None:
    result = samples.formats["json"]
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert list(document) == ["preload_list", "links"]
    assert document["preload_list"] == PRELOAD
    assert len(document["links"]) == SAMPLE_LINKS
    assert all(tuple(link) == REPORT_FIELDS for link in document["links"])
    files = sorted({link["file"] for link in document["links"]})
    assert files == sorted(str(path) for path in samples.folder.iterdir() if path.suffix != ".eml")


def test_ndjson_has_the_json_links_each_naming_the_preload_list(samples: Samples) -> None:
    rows = ndjson(samples.formats["ndjson"].stdout)
    links_ = json.loads(samples.formats["json"].stdout)["links"]
    assert rows == [link | {"preload_list": PRELOAD} for link in links_]


def test_csv_has_a_header_and_the_same_links(samples: Samples) -> None:
    text = samples.formats["csv"].stdout
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames == [*REPORT_FIELDS, "preload_list"]
    rows = list(reader)
    links_ = json.loads(samples.formats["json"].stdout)["links"]
    assert len(rows) == len(links_) == SAMPLE_LINKS
    for row, link in zip(rows, links_, strict=True):
        assert row["preload_list"] == PRELOAD
        for name in ("file", "line", "column", "original_url", "action", "reason", "status"):
            assert row[name] == ("" if link[name] is None else str(link[name])), name


def test_table_names_the_preload_list_then_each_file_and_its_links(samples: Samples) -> None:
    text = samples.formats["table"].stdout
    table = text.splitlines()
    assert table[0] == f"preload list: {PRELOAD}"
    assert table[1].split() == ["LINE:COL", "STATUS", "ACTION", "TEXT", "URL", "REASON"]
    headings = [line for line in table[2:] if not line.startswith("  ")]
    assert headings == sorted(
        str(path) for path in samples.folder.iterdir() if path.suffix != ".eml"
    )
    rows = [line for line in table[2:] if line.startswith("  ")]
    assert len(rows) == SAMPLE_LINKS
    (pages,) = [row for row in rows if row.startswith("  37:38 ")]
    assert re.match(
        r"  37:38 +broken +rewritten +our returns page +http://pages\.example\.com/returns-2026 +"
        r"destination hop: pages\.example\.com: ",
        pages,
    )
    assert "\x1b[" not in text  # no colour off a terminal


def test_default_format_off_a_terminal_is_ndjson(samples: Samples) -> None:
    result = links(samples.folder)
    assert result.stdout == samples.formats["ndjson"].stdout


def test_samples_show_every_status_of_a_link(samples: Samples) -> None:
    rows = json.loads(samples.formats["json"].stdout)["links"]
    statuses = {row["status"] for row in rows}
    assert statuses == {None, "broken", "unknown", "insecure", "secure-after-first-visit", "secure"}
    by_url = {row["original_url"]: row["status"] for row in rows}
    assert by_url["http://pages.example.com/returns-2026"] == "broken"
    assert by_url["http://rewards.example.net/points"] == "secure-after-first-visit"
    assert by_url["http://events.partner-venues.example/acme?city=denver"] == "insecure"
    assert by_url["https://www.example.com/map#north"] == "secure"
    assert by_url["https://u123456.ct.sendgrid.net/ls/click?upn=abc"] == "unknown"


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv", "table"])
def test_links_exits_0_and_warns_once_on_stderr_that_the_list_is_old(
    samples: Samples, fmt: str
) -> None:
    result = samples.formats[fmt]
    assert result.exit_code == 0
    (warning,) = result.stderr.splitlines()
    assert warning.startswith(
        "warning: preload list hstspreload 2025.1.1 (bundled) is from 2025-01-01, "
    )


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv", "table"])
def test_links_reads_stdin_in_every_format(samples: Samples, fmt: str) -> None:
    data = (SAMPLES / "newsletter.html").read_bytes()
    result = links("-", "--format", fmt, stdin=data)
    assert result.exit_code == 0
    assert PRELOAD in result.stdout
    rows = ndjson(links("-", "--format", "ndjson", stdin=data).stdout)
    from_folder = [
        row
        for row in ndjson(samples.formats["ndjson"].stdout)
        if row["file"] == str(samples.folder / "newsletter.html")
    ]
    assert rows == [row | {"file": "-"} for row in from_folder]


def test_links_on_a_missing_path_is_a_usage_error(samples: Samples, tmp_path: Path) -> None:
    missing = tmp_path / "missing.html"
    result = links(missing, samples.folder / "newsletter.html", "--format", "ndjson")
    assert result.exit_code == 2
    assert f"rewriter: {missing}: no such file or folder" in result.stderr.splitlines()
    assert result.stdout == ""


def test_links_of_rewritten_output_without_a_key_say_the_destination_is_unverified(
    samples: Samples,
) -> None:
    before = ndjson(samples.formats["ndjson"].stdout)
    after = ndjson(links(samples.out, "--format", "ndjson").stdout)
    assert len(after) == len(before)
    tracked = 0
    for old, new in zip(before, after, strict=True):
        if old["action"] != "rewritten":
            continue
        tracked += 1
        assert new["action"] == "already-tracked"
        assert new["reason_code"] == "tracking-domain"
        assert str(new["reason"]).endswith(f"; {UNVERIFIED}")
        assert new["destination"] == old["destination"]
        assert new["status"] == old["status"]
        assert str(new["original_url"]).startswith("http://go.example.com/l/")
    assert tracked == 21
    keyed = ndjson(links(samples.out, "--format", "ndjson", REWRITER_KEYS=DEMO_KEYS).stdout)
    assert not any("unverified" in str(row["reason"]) for row in keyed)


# --- check ---------------------------------------------------------------------------------------


def test_check_fails_on_the_broken_links_of_samples(samples: Samples) -> None:
    result = check(samples.folder, "--rules", EXAMPLE_RULES)
    assert result.exit_code == 1
    rows = json.loads(samples.formats["json"].stdout)["links"]
    broken = [violation(row) for row in rows if row["status"] == "broken"]
    output = result.stdout.splitlines()
    assert output[: len(broken)] == broken
    assert [line.split(": broken: ")[0] for line in broken] == [
        f"{samples.folder / 'marketo-and-tokens.html'}:18:27",
        f"{samples.folder / 'newsletter.html'}:37:38",
    ]
    assert output[len(broken)].startswith(f"{EXAMPLE_RULES}: warning: https-possible: ")
    assert output[-1] == (
        f"checked 4 files, {SAMPLE_LINKS} links (preload list: {PRELOAD}; as of {AS_OF}): "
        "2 violating, 1 notice"
    )
    assert len(output) == len(broken) + 2


def test_fail_on_takes_several_statuses(samples: Samples) -> None:
    result = check(samples.folder, "--rules", EXAMPLE_RULES, "--fail-on", "broken,unknown")
    assert result.exit_code == 1
    rows = json.loads(samples.formats["json"].stdout)["links"]
    expected = [violation(row) for row in rows if row["status"] in ("broken", "unknown")]
    assert result.stdout.splitlines()[: len(expected)] == expected
    assert len(expected) == 5
    assert result.stdout.splitlines()[-1].endswith("5 violating, 1 notice")


@pytest.mark.parametrize("fail_on", ["broken", "unknown", "broken,unknown,insecure"])
def test_a_file_of_secure_links_passes(tmp_path: Path, fail_on: str) -> None:
    page = tmp_path / "secure.html"
    page.write_bytes(SECURE_ONLY)
    result = check(page, "--rules", EXAMPLE_RULES, "--fail-on", fail_on)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1].endswith(": 0 violating, 1 notice")


def test_check_reads_stdin() -> None:
    data = (SAMPLES / "newsletter.html").read_bytes()
    result = check("-", "--rules", EXAMPLE_RULES, stdin=data)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0].startswith(
        "-:37:38: broken: http://pages.example.com/returns-2026 (destination hop: "
        "pages.example.com: "
    )
    assert result.stdout.splitlines()[-1].startswith("checked 1 file, 18 links ")
    passed = check("-", "--rules", EXAMPLE_RULES, stdin=SECURE_ONLY)
    assert passed.exit_code == 0


def test_check_of_rewritten_output_needs_no_key_and_judges_the_destinations(
    samples: Samples,
) -> None:
    result = check(samples.out, "--rules", EXAMPLE_RULES)
    assert result.exit_code == 1
    rows = ndjson(links(samples.out, "--format", "ndjson").stdout)
    broken = [violation(row) for row in rows if row["status"] == "broken"]
    assert result.stdout.splitlines()[:2] == broken
    (pages,) = [line for line in broken if "pages.example.com" in line]
    assert re.fullmatch(
        rf"{re.escape(str(samples.out))}/newsletter\.html:37:38: broken: "
        r"http://go\.example\.com/l/[A-Za-z0-9_-]+ -> http://pages\.example\.com/returns-2026 "
        r"\(destination hop: pages\.example\.com: .*pending.*\)",
        pages,
    )


EXPIRES = "2026-12-01"


@pytest.mark.parametrize(
    ("as_of", "code", "line"),
    [
        ("2026-11-16", 0, None),  # 15 days left: nothing to say
        ("2026-11-17", 0, f"warning: certificate-expiring: rewards.example.net: the certificate "
                          f"expires on {EXPIRES} (in 14 days)"),
        ("2026-11-30", 0, f"warning: certificate-expiring: rewards.example.net: the "
                          f"certificate expires on {EXPIRES} (in 1 day)"),
        ("2026-12-01", 0, f"warning: certificate-expiring: rewards.example.net: the certificate "
                          f"expires on {EXPIRES} (today)"),
        ("2026-12-02", 1, f"failure: certificate-expired: rewards.example.net: the certificate "
                          f"expired on {EXPIRES}: every https:// or HSTS click fails; renew it "
                          "and update `expires` in the rules"),
    ],
)  # fmt: skip
def test_as_of_makes_an_expired_certificate_a_failure_and_a_close_expiry_a_warning(
    tmp_path: Path, as_of: str, code: int, line: str | None
) -> None:
    rules = rules_copy(tmp_path, ("expires: 2027-01-31", f"expires: {EXPIRES}"))
    page = tmp_path / "secure.html"
    page.write_bytes(SECURE_ONLY)
    result = invoke("check", page, "--rules", rules, "--as-of", as_of)
    assert result.exit_code == code
    about = [text for text in result.stdout.splitlines() if "rewards.example.net" in text]
    assert about == ([] if line is None else [f"{rules}: {line}"])
    output = result.stdout.splitlines()
    notices = len(output) - 1  # no link violates: every line but the summary is a notice
    plural = "notice" if notices == 1 else "notices"
    assert output[-1].endswith(f"; as of {as_of}): 0 violating, {notices} {plural}")


def big_secure_page(folder: Path) -> Path:
    page = folder / "big.html"
    page.write_bytes(SECURE_ONLY + b"<p>" + b"Lorem ipsum dolor sit amet. " * 60 + b"</p>\n")
    return page


CLIP_1000 = ("clip_bytes: 102400 ", "clip_bytes: 1000   ")


def test_a_message_over_clip_bytes_gets_a_warning(tmp_path: Path) -> None:
    rules = rules_copy(
        tmp_path, CLIP_1000, ("fail_on: [clip, max-links, url-length]", "fail_on: []")
    )
    page = big_secure_page(tmp_path)
    out = tmp_path / "out"
    made = invoke("rewrite", page, "--rules", rules, "--out", out, env=WITH_KEY)
    assert made.exit_code == 0
    size = len((out / "big.html").read_bytes())
    assert size > 1000
    keyed = invoke("check", page, "--rules", rules, "--as-of", AS_OF, env=WITH_KEY)
    assert keyed.exit_code == 0
    assert (
        f"{page}: warning: clip: {size:,} bytes after rewriting: Gmail clips messages over "
        "1,000 bytes"
    ) in keyed.stdout.splitlines()
    keyless = invoke("check", page, "--rules", rules, "--as-of", AS_OF)
    assert keyless.exit_code == 0
    (estimate,) = re.findall(
        rf"^{re.escape(str(page))}: warning: clip: about ([\d,]+) bytes after rewriting: Gmail "
        r"clips messages over 1,000 bytes$",
        keyless.stdout,
        flags=re.MULTILINE,
    )
    assert int(estimate.replace(",", "")) >= size  # an upper bound without the key
    small = invoke("check", "-", "--rules", rules, "--as-of", AS_OF, stdin=SECURE_ONLY)
    assert ": clip: " not in small.stdout


def test_fail_on_in_the_rules_makes_the_clip_warning_a_failure(tmp_path: Path) -> None:
    rules = rules_copy(
        tmp_path, CLIP_1000, ("fail_on: [clip, max-links, url-length]", "fail_on: [clip]")
    )
    page = big_secure_page(tmp_path)
    result = invoke("check", page, "--rules", rules, "--as-of", AS_OF)
    assert result.exit_code == 1
    assert any(
        line.startswith(f"{page}: failure: clip: about ") for line in result.stdout.splitlines()
    )
    assert result.stdout.splitlines()[-1].endswith(": 0 violating, 2 notices")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--fail-on", "bogus"], "Error: --fail-on: unknown value 'bogus' (choose from "
                                 f"{FAIL_ON_CHOICES})"),
        (["--fail-on", "broken,Broken"], "Error: --fail-on: unknown value 'Broken' (choose from "
                                         f"{FAIL_ON_CHOICES})"),
        (["--as-of", "2026-13-01"], "Error: Invalid value for '--as-of': '2026-13-01' does not "
                                    "match the format '%Y-%m-%d'."),
    ],
)  # fmt: skip
def test_bad_check_options_exit_2(options: list[str], message: str) -> None:
    result = invoke("check", "-", "--rules", EXAMPLE_RULES, *options, stdin=SECURE_ONLY)
    assert result.exit_code == 2
    assert message in result.stderr.splitlines()
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("command", ["links", "check"])
def test_a_missing_rules_file_exits_2(tmp_path: Path, command: str) -> None:
    missing = tmp_path / "missing.yaml"
    result = invoke(command, "-", "--rules", missing, stdin=SECURE_ONLY)
    assert result.exit_code == 2
    assert result.stderr == f"rewriter: {missing}: cannot read: No such file or directory\n"
    assert result.stdout == ""


def test_the_summary_of_one_link_says_link() -> None:
    result = check("-", "--rules", EXAMPLE_RULES, stdin=b'<a href="https://www.example.com/">')
    assert result.stdout.splitlines()[-1].startswith("checked 1 file, 1 link (")
