"""`rewriter diff`: golden diffs for each kind of change, exit codes, the JSON shape.

Each case builds two trees the way users get them (templates rewritten with one set of rules,
then edited or rewritten with another) and compares the command's output, text and JSON, with
the files under tests/diff_cases/ (regenerate them with REGEN_DIFF_CASES=1, then read the diff).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from rewriter import load_rules, rewrite
from rewriter.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = ROOT / "tests" / "diff_cases"
REGEN = bool(os.environ.get("REGEN_DIFF_CASES"))


def key(name: str) -> str:
    secret = base64.urlsafe_b64encode(f"diff test key {name:>14}".encode()).decode().rstrip("=")
    return f"{name} {secret}"


KEYS = {"K_OLD": key("k1"), "K_NEW": key("k2") + "\n" + key("k1")}

RULES = """version: 1
tracking:
  domain: {domain}
  legacy_domains: [{legacy}]
keys:
  env: {keys}
hosts:
  go.example.com:
    certificate: {{status: active, expires: 2027-03-01}}
    preloaded: true
  go2.example.com:
    certificate: {{status: active, expires: 2027-03-01}}
    preloaded: true
  news.example.com:
    certificate: {{status: active, expires: 2027-03-01}}
{news}
"""
NEWS_HSTS = "    hsts: {max_age: 31536000}"

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Welcome</title></head>
<body>
<p>Hello {name},</p>
{links}
<p><a href="mailto:help@example.com">Write to us</a></p>
</body></html>
"""
LINKS = [
    ("https://shop.example.com/new", "New in"),
    ("https://shop.example.com/sale?utm_source=mail", "Sale"),
    ("http://news.example.com/post/1", "News"),
]


def page(links: list[tuple[str, str]] = LINKS, name: str = "{{first_name}}") -> str:
    anchors = "\n".join(f'<p><a href="{url}">{text}</a></p>' for url, text in links)
    return PAGE.format(name=name, links=anchors)


@pytest.fixture(autouse=True)
def keys_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)


def rules_file(
    folder: Path,
    *,
    domain: str = "go.example.com",
    legacy: str = "click.example.com",
    keys: str = "K_OLD",
    news_hsts: bool = False,
) -> Path:
    path = folder / f"rules-{domain}-{keys}-{news_hsts}.yaml"
    text = RULES.format(
        domain=domain, legacy=legacy, keys=keys, news=NEWS_HSTS if news_hsts else ""
    )
    path.write_text(text)
    return path


def tree(root: Path, files: dict[str, str], rules: Path | None) -> Path:
    """Templates written under root, rewritten with `rules` (None: left as templates)."""
    loaded = load_rules(rules) if rules is not None else None
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode()
        path.write_bytes(rewrite(data, loaded, file=name).output if loaded else data)
    return root


def run_diff(old: Path, new: Path, rules: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["diff", str(old), str(new), "--rules", str(rules), *extra])
    return result.exit_code, result.stdout


def golden(name: str, text: str) -> None:
    path = EXPECTED / name
    if REGEN:
        path.write_text(text)
    assert text == path.read_text()


Case = Callable[[Path], tuple[Path, Path, Path]]


def destination_change(tmp: Path) -> tuple[Path, Path, Path]:
    rules = rules_file(tmp)
    changed = [LINKS[0], ("https://shop.example.com/winter-sale", "Sale"), LINKS[2]]
    old = tree(tmp / "old", {"welcome.html": page()}, rules)
    new = tree(tmp / "new", {"welcome.html": page(changed)}, rules)
    return old, new, rules


def status_change(tmp: Path) -> tuple[Path, Path, Path]:
    before = rules_file(tmp)
    after = rules_file(tmp, news_hsts=True)  # the news site now sends HSTS
    old = tree(tmp / "old", {"welcome.html": page()}, before)
    new = tree(tmp / "new", {"welcome.html": page()}, after)
    return old, new, after


def key_rotation(tmp: Path) -> tuple[Path, Path, Path]:
    before = rules_file(tmp)
    after = rules_file(tmp, keys="K_NEW")
    old = tree(tmp / "old", {"welcome.html": page()}, before)
    new = tree(tmp / "new", {"welcome.html": page()}, after)
    return old, new, after


def domain_move(tmp: Path) -> tuple[Path, Path, Path]:
    before = rules_file(tmp)
    after = rules_file(tmp, domain="go2.example.com", legacy="go.example.com")
    old = tree(tmp / "old", {"welcome.html": page()}, before)
    new = tree(tmp / "new", {"welcome.html": page()}, after)
    return old, new, after


def link_inserted(tmp: Path) -> tuple[Path, Path, Path]:
    rules = rules_file(tmp)
    more = [LINKS[0], ("https://shop.example.com/gift-cards", "Gift cards"), *LINKS[1:]]
    old = tree(tmp / "old", {"welcome.html": page()}, rules)
    new = tree(tmp / "new", {"welcome.html": page(more)}, rules)
    return old, new, rules


def files_added_and_removed(tmp: Path) -> tuple[Path, Path, Path]:
    rules = rules_file(tmp)
    old = tree(tmp / "old", {"a/welcome.html": page(), "b/old.html": page()}, rules)
    new = tree(tmp / "new", {"a/welcome.html": page(), "a/new.html": page(LINKS[:1])}, rules)
    return old, new, rules


def non_link_edit(tmp: Path) -> tuple[Path, Path, Path]:
    rules = rules_file(tmp)
    old = tree(tmp / "old", {"welcome.html": page()}, rules)
    new = tree(tmp / "new", {"welcome.html": page(name="{{ first_name | title }}")}, rules)
    return old, new, rules


def original_against_rewritten(tmp: Path) -> tuple[Path, Path, Path]:
    rules = rules_file(tmp)
    old = tree(tmp / "old", {"welcome.html": page()}, None)
    new = tree(tmp / "new", {"welcome.html": page()}, rules)
    return old, new, rules


CASES: dict[str, tuple[Case, int]] = {
    "destination-change": (destination_change, 1),
    "status-change": (status_change, 1),
    "key-rotation": (key_rotation, 0),
    "domain-move": (domain_move, 0),
    "link-inserted": (link_inserted, 1),
    "files-added-and-removed": (files_added_and_removed, 1),
    "non-link-edit": (non_link_edit, 0),
    "original-against-rewritten": (original_against_rewritten, 0),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_text(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build, code = CASES[name]
    *_, rules = build(tmp_path)
    monkeypatch.chdir(tmp_path)  # paths in the output are relative to the roots
    exit_code, text = run_diff(Path("old"), Path("new"), rules)
    golden(f"{name}.txt", text)
    assert exit_code == code


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_json(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build, code = CASES[name]
    *_, rules = build(tmp_path)
    monkeypatch.chdir(tmp_path)
    exit_code, text = run_diff(Path("old"), Path("new"), rules, "--format", "json")
    golden(f"{name}.json", text)
    assert exit_code == code


def test_inserted_link_shifts_nothing(tmp_path: Path) -> None:
    old, new, rules = link_inserted(tmp_path)
    _, text = run_diff(old, new, rules, "--format", "json")
    changes = json.loads(text)["files"][0]["changes"]
    assert [change["kind"] for change in changes] == ["added"]
    assert changes[0]["new"]["target"] == "https://shop.example.com/gift-cards"


def test_json_shape(tmp_path: Path) -> None:
    old, new, rules = destination_change(tmp_path)
    _, text = run_diff(old, new, rules, "--format", "json")
    document = json.loads(text)
    assert set(document) == {"files", "summary"}
    (item,) = document["files"]
    assert set(item) == {
        "file", "state", "links", "changes", "other_changes", "other_sample", "error"
    }  # fmt: skip
    (change,) = item["changes"]
    assert set(change) == {"kind", "old", "new", "detail"}
    assert set(change["new"]) == {
        "line", "column", "text", "value", "target", "status", "status_from", "tracking"
    }  # fmt: skip
    assert set(change["new"]["tracking"]) == {"host", "key_id", "version", "context", "verified"}
    assert document["summary"]["links"]["retargeted"] == 1
    assert document["summary"]["visible"] is True


def test_ndjson_streams_one_object_per_file_then_the_summary(tmp_path: Path) -> None:
    old, new, rules = files_added_and_removed(tmp_path)
    _, text = run_diff(old, new, rules, "--format", "ndjson")
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line.get("file") for line in lines[:-1]] == ["a/new.html", "b/old.html"]
    assert lines[-1]["summary"]["files"]["added"] == 1


def test_forged_link_is_never_trusted(tmp_path: Path) -> None:
    old, new, rules = destination_change(tmp_path)
    path = new / "welcome.html"
    data = path.read_text()
    start = data.index("http://go.example.com/l/") + len("http://go.example.com/l/")
    token = data[start : data.index('"', start)]
    forged = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
    path.write_text(data.replace(token, forged))
    code, text = run_diff(old, new, rules, "--format", "json")
    assert code == 1
    tracking = [
        change["new"]["tracking"]
        for change in json.loads(text)["files"][0]["changes"]
        if change["new"] and change["new"]["tracking"]
    ]
    assert any(item["verified"] is False for item in tracking)


def test_without_a_key_links_are_unverified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new, rules = key_rotation(tmp_path)
    monkeypatch.delenv("K_NEW")
    code, text = run_diff(old, new, rules, "--format", "json")
    changes = json.loads(text)["files"][0]["changes"]
    assert code == 0
    assert changes and all(change["new"]["tracking"]["verified"] is False for change in changes)


def test_identical_trees_exit_zero_and_print_no_file(tmp_path: Path) -> None:
    rules = rules_file(tmp_path)
    old = tree(tmp_path / "old", {"welcome.html": page()}, rules)
    new = tree(tmp_path / "new", {"welcome.html": page()}, rules)
    code, text = run_diff(old, new, rules)
    assert (code, text) == (0, "")


def test_usage_errors(tmp_path: Path) -> None:
    rules = rules_file(tmp_path)
    (tmp_path / "a.html").write_text(page())
    runner = CliRunner()
    mixed = runner.invoke(
        main, ["diff", str(tmp_path / "a.html"), str(tmp_path), "--rules", str(rules)]
    )
    missing = runner.invoke(
        main, ["diff", str(tmp_path / "nope"), str(tmp_path), "--rules", str(rules)]
    )
    assert (mixed.exit_code, missing.exit_code) == (2, 2)
    assert "compare two files or two folders" in mixed.stderr


def test_a_file_that_is_not_a_template_fails_the_run(tmp_path: Path) -> None:
    rules = rules_file(tmp_path)
    old = tree(tmp_path / "old", {"welcome.html": page()}, rules)
    new = tree(tmp_path / "new", {"welcome.html": page()}, rules)
    (new / "welcome.html").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    result = CliRunner().invoke(main, ["diff", str(old), str(new), "--rules", str(rules)])
    assert result.exit_code == 123
    assert "welcome.html: error: " in result.stderr and "PNG" in result.stderr


def test_colour_on_request_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new, rules = destination_change(tmp_path)
    _, plain = run_diff(old, new, rules)
    _, coloured = run_diff(old, new, rules, "--color")
    assert "\x1b[" not in plain and "\x1b[33m" in coloured


def test_through_a_real_process(tmp_path: Path) -> None:
    old, new, rules = destination_change(tmp_path)
    process = subprocess.run(
        [sys.executable, "-m", "rewriter", "diff", str(old), str(new), "--rules", str(rules)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert process.returncode == 1
    assert "retargeted" in process.stdout
    assert "1 retargeted" in process.stderr


MESSAGE = ROOT / "samples" / "order-shipped.eml"


def test_a_message_against_its_rewritten_copy_is_only_re_wrapped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REWRITER_KEYS", (ROOT / "rules" / "demo.keys.txt").read_text())
    rules = ROOT / "rules" / "example.yaml"
    rewritten = tmp_path / "order-shipped.eml"
    result = CliRunner().invoke(
        main, ["rewrite", str(MESSAGE), "--out", str(tmp_path), "--rules", str(rules)]
    )
    assert result.exit_code == 0, result.stderr
    code, text = run_diff(MESSAGE, rewritten, rules, "--format", "json")
    document = json.loads(text)
    kinds = {change["kind"] for item in document["files"] for change in item["changes"]}
    assert code == 0
    assert kinds == {"re-wrapped"}
    assert document["summary"]["links"]["re-wrapped"] >= 2  # the HTML part and the text part


def test_plain_text_links_are_diffed_as_links(tmp_path: Path) -> None:
    rules = rules_file(tmp_path)
    old, new = tmp_path / "old.txt", tmp_path / "new.txt"
    old.write_text("Track it: https://shop.example.com/a (today).\nThanks!\n")
    new.write_text("Track it: https://shop.example.com/b (today).\nThanks!\n")
    code, text = run_diff(old, new, rules, "--format", "json")
    (item,) = json.loads(text)["files"]
    assert code == 1
    assert [change["kind"] for change in item["changes"]] == ["retargeted"]
    assert item["other_changes"] == 0  # only the URL changed
