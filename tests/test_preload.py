"""The preload list: the bundled package, a supplied Chromium JSON, the cache, freshness."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import random
import shutil
import sys
import types
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import hstspreload
import pytest

from rewriter.status import preload
from rewriter.status.preload import (
    PreloadList,
    PreloadListError,
    PreloadMatch,
    bundled_preload_list,
    find_in,
    freshness_warning,
    load_chromium_json,
    strip_comments,
)

DATA = Path(__file__).parent / "data" / "preload"
SMALL_LIST = DATA / "transport_security_state_static.json"


@pytest.fixture(scope="module")
def bundled() -> PreloadList:
    return bundled_preload_list()


# --- the bundled list ---------------------------------------------------------------------------

# Entries read from hstspreload 2025.1.1's data file, with their include_subdomains flag.
# The package's own lookup warns about a deprecated importlib call it makes; not ours to fix.
package_api = pytest.mark.filterwarnings("ignore:open_binary is deprecated:DeprecationWarning")

BUNDLED_CASES = [
    # host, expected entry, expected include_subdomains
    ("github.com", "github.com", True),
    ("gist.github.com", "github.com", True),
    ("a.b.c.d.github.com", "github.com", True),
    ("paypal.com", "paypal.com", False),
    ("www.paypal.com", "www.paypal.com", False),  # its own entry, without include_subdomains
    ("python.org", "python.org", False),
    ("www.python.org", "www.python.org", True),
    ("x.www.python.org", "www.python.org", True),
    ("docs.python.org", "docs.python.org", True),  # nested under an entry without subdomains
    ("torproject.org", "torproject.org", False),
    ("mega.co.nz", "mega.co.nz", False),
    ("api.mega.co.nz", "api.mega.co.nz", True),
    ("x.api.mega.co.nz", "api.mega.co.nz", True),
    ("gov.uk", "gov.uk", False),
    ("www.gov.uk", "www.gov.uk", True),
    ("x.gentapps.com", "gentapps.com", True),  # a public suffix preloaded at its owner's request
    ("foo.app", "app", True),  # whole TLDs
    ("a.b.dev", "dev", True),
    ("bank", "bank", True),
    ("x.xn--jlq480n2rg", "xn--jlq480n2rg", True),  # an IDN TLD
    ("cash.app", "cash.app", True),  # an own entry under a preloaded TLD wins
    ("x.cash.app", "cash.app", True),
]

BUNDLED_ABSENT = [
    "google.com",  # pinning only: not HTTPS-only
    "www.google.com",
    "x.paypal.com",  # paypal.com has no include_subdomains
    "x.python.org",
    "x.mega.co.nz",
    "example.com",
    "mozilla.org",
    "appspot.com",
]


@pytest.mark.parametrize(("host", "entry", "include_subdomains"), BUNDLED_CASES)
def test_bundled_lookup_finds_the_entry_and_its_flag(
    bundled: PreloadList, host: str, entry: str, include_subdomains: bool
) -> None:
    assert bundled.lookup(host) == PreloadMatch(entry, include_subdomains)


@pytest.mark.parametrize("host", BUNDLED_ABSENT)
def test_bundled_lookup_misses(bundled: PreloadList, host: str) -> None:
    assert bundled.lookup(host) is None


def test_bundled_list_is_named_and_dated_by_its_version(bundled: PreloadList) -> None:
    assert bundled.name == f"hstspreload {hstspreload.__version__} (bundled)"
    if hstspreload.__version__ == "2025.1.1":
        assert bundled.date == datetime.date(2025, 1, 1)
    # The package's checksum: the sha256 of the Chromium JSON it was built from.
    assert bundled.digest == hstspreload.__checksum__
    assert len(bundled.digest) == 64


def _sample_of_bundled_entries(count: int) -> list[tuple[str, bool]]:
    index = preload._BundledIndex(hstspreload)
    entries: list[tuple[str, bool]] = []
    for layer, table in enumerate(index._jump_table):
        for crc in range(len(table)):
            leaves = index._read_bucket(layer, crc)
            entries.extend((name.decode(), sub) for name, sub in leaves.items())
    return random.Random(6797).sample(sorted(entries), count)


@package_api
def test_bundled_lookup_agrees_with_the_package_api() -> None:
    """The package's own yes/no answer, and a probe below each entry, confirm entry and flag."""
    bundled = bundled_preload_list()
    probe = "zz-probe-not-an-entry"
    for name, include_subdomains in _sample_of_bundled_entries(400):
        assert bundled.lookup(name) == PreloadMatch(name, include_subdomains)
        assert hstspreload.in_hsts_preload(name)
        below = f"{probe}.{name}"
        match = bundled.lookup(below)
        assert (match is not None) == hstspreload.in_hsts_preload(below), below
        if include_subdomains:
            assert match == PreloadMatch(name, True)
        elif match is not None:
            assert match.entry != name and name.endswith("." + match.entry)
        parent = name.partition(".")[2]
        if parent:
            assert (bundled.lookup(parent) is not None) == hstspreload.in_hsts_preload(parent)


@package_api
def test_bundled_lookup_agrees_on_names_not_on_the_list(bundled: PreloadList) -> None:
    rng = random.Random(1)
    for _ in range(300):
        label = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
        for host in (f"{label}.com", f"www.{label}.co.uk", f"{label}.app", f"{label}.org"):
            assert (bundled.lookup(host) is not None) == hstspreload.in_hsts_preload(host)


def test_each_distinct_name_is_looked_up_once_and_each_bucket_read_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index = preload._BundledIndex(hstspreload)
    bucket_reads: Counter[tuple[int, int]] = Counter()
    read_bucket = index._read_bucket

    def counting_read(layer: int, crc: int) -> dict[bytes, bool]:
        bucket_reads[(layer, crc)] += 1
        return read_bucket(layer, crc)

    monkeypatch.setattr(index, "_read_bucket", counting_read)

    def no_package_call(host: object) -> bool:
        raise AssertionError("the slow package lookup must not be used")

    monkeypatch.setattr(hstspreload, "in_hsts_preload", no_package_call)
    finds: Counter[str] = Counter()
    inner = find_in(index.entry)

    def counting_find(host: str) -> PreloadMatch | None:
        finds[host] += 1
        return inner(host)

    preload_list = PreloadList("test", None, "digest", counting_find)
    rng = random.Random(5)
    hosts = [f"h{i}-{rng.randrange(10**9)}.site{i % 900}.example" for i in range(5000)]
    hosts += ["github.com", "gist.github.com", "foo.app"]
    first = [preload_list.lookup(host) for host in hosts]
    second = [preload_list.lookup(host) for host in hosts]
    assert first == second
    assert first[-3:] == [PreloadMatch("github.com", True)] * 2 + [PreloadMatch("app", True)]
    assert len(finds) == len(set(hosts))
    assert max(finds.values()) == 1
    assert max(bucket_reads.values()) == 1


def _fake_package(**attributes: object) -> types.ModuleType:
    fake = types.ModuleType("hstspreload")
    fake.__version__ = "2099.1.1"  # type: ignore[attr-defined]
    fake.__file__ = hstspreload.__file__
    for name, value in attributes.items():
        setattr(fake, name, value)
    return fake


@pytest.mark.parametrize(
    "attributes",
    [
        {},  # no jump table at all
        # A jump table and CRC that no longer find the whole TLD .app: the layout changed.
        {"_JUMPTABLE": [[None] * 256], "_crc8": lambda label: 0},
        {"_JUMPTABLE": hstspreload._JUMPTABLE, "_crc8": lambda label: 0},
    ],
)
def test_an_unknown_package_format_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, attributes: dict[str, object]
) -> None:
    monkeypatch.setitem(sys.modules, "hstspreload", _fake_package(**attributes))
    with pytest.raises(PreloadListError, match=r"hstspreload 2099\.1\.1: data format not"):
        bundled_preload_list()


# --- a supplied Chromium JSON -------------------------------------------------------------------

SMALL_CASES = [
    ("pinned.com", None),  # pinning only
    ("x.pinned.com", None),
    ("x.app", PreloadMatch("app", True)),
    ("a.b.dev", PreloadMatch("dev", True)),
    ("listed-inc.com", PreloadMatch("listed-inc.com", True)),
    ("a.b.listed-inc.com", PreloadMatch("listed-inc.com", True)),
    ("listed-noinc.com", PreloadMatch("listed-noinc.com", False)),
    ("a.listed-noinc.com", None),
    ("www.listed-noinc.com", PreloadMatch("www.listed-noinc.com", True)),
    ("a.www.listed-noinc.com", PreloadMatch("www.listed-noinc.com", True)),
    ("expect-ct.listed-noinc.com", PreloadMatch("expect-ct.listed-noinc.com", False)),
    ("x.expect-ct.listed-noinc.com", None),
    ("shop.xn--bcher-kva.com", PreloadMatch("xn--bcher-kva.com", True)),
    ("example.com", None),
]


@pytest.mark.parametrize(("host", "expected"), SMALL_CASES)
def test_chromium_json_lookup(host: str, expected: PreloadMatch | None) -> None:
    assert load_chromium_json(SMALL_LIST, None).lookup(host) == expected


def test_chromium_json_is_named_digested_and_dated_by_mtime(tmp_path: Path) -> None:
    copy = tmp_path / "list.json"
    shutil.copyfile(SMALL_LIST, copy)
    stamp = datetime.datetime(2026, 3, 4, 12, 0).timestamp()
    os.utime(copy, (stamp, stamp))
    loaded = load_chromium_json(copy, None)
    assert loaded.name == f"{copy} (dated by the file's mtime)"
    assert loaded.date == datetime.date(2026, 3, 4)
    assert loaded.digest == hashlib.sha256(SMALL_LIST.read_bytes()).hexdigest()


def test_chromium_json_with_its_own_date() -> None:
    loaded = load_chromium_json(DATA / "dated.json", None)
    assert loaded.name == f"{DATA / 'dated.json'} (dated by the file)"
    assert loaded.date == datetime.date(2026, 1, 15)
    assert loaded.lookup("a.dated.example") == PreloadMatch("dated.example", True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("// all comment", ""),
        ('  { "a": 1 }, // trailing', '  { "a": 1 }, '),
        ('"report_uri": "http://x.test//y"', '"report_uri": "http://x.test//y"'),
        ('"u": "http://x.test" // then http://y.test', '"u": "http://x.test" '),
        ('"q": "a\\"//b" // c', '"q": "a\\"//b" '),
        ('"e": "\\\\" // after an escaped backslash', '"e": "\\\\" '),
        ("a\n// b\nc", "a\n\nc"),
    ],
)
def test_strip_comments(text: str, expected: str) -> None:
    assert strip_comments(text) == expected


def test_every_url_in_the_sample_survives_comment_stripping() -> None:
    document = json.loads(strip_comments(SMALL_LIST.read_text()))
    reports = [pinset["report_uri"] for pinset in document["pinsets"]]
    assert reports == [
        "http://report-example.test/test",
        "https://reports.example.test//upload?next=http://x.test//y",
    ]
    by_name = {entry["name"]: entry for entry in document["entries"]}
    assert by_name["expect-ct.listed-noinc.com"]["expect_ct_report_uri"] == (
        "https://clients.example.test//ct_upload"
    )
    assert len(by_name) == 10


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bad_syntax.json", "bad_syntax.json:5: not valid JSON: Expecting ',' delimiter"),
        ("bad_entry.json", 'bad_entry.json:6: entry 1: "name" must be a non-empty ASCII'),
    ],
)
def test_a_bad_file_names_the_file_and_line(name: str, message: str) -> None:
    with pytest.raises(PreloadListError) as raised:
        load_chromium_json(DATA / name, None)
    assert str(raised.value).startswith(str(DATA / message))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"entries": []}\n\xff', "x.json:2: not UTF-8 text"),
        (b"// c\n[1, 2]", 'x.json:1: expected an object with an "entries" list'),
        (b'{\n"date": "soon",\n"entries": []}', 'x.json:2: "date" must be a date'),
        (b'{"entries": [\n1]}', "x.json:2: entry 0: expected an object"),
        (
            b'{"entries": [\n{"name": "a.b"},\n{"name": "c.d", "include_subdomains": "yes"}]}',
            'x.json:3: entry 1: "include_subdomains" must be true or false',
        ),
        (b'{"entries": [{"name": "a.b", "mode": 1}]}', 'x.json:1: entry 0: "mode" must be'),
    ],
)
def test_bad_content(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(content)
    with pytest.raises(PreloadListError) as raised:
        load_chromium_json(path, None)
    assert str(raised.value).startswith(f"{tmp_path}/{message}")


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PreloadListError, match=r"absent\.json: cannot read"):
        load_chromium_json(tmp_path / "absent.json", None)


# --- the cache ----------------------------------------------------------------------------------


def _copy_list(tmp_path: Path) -> Path:
    source = tmp_path / "lists" / "static.json"
    source.parent.mkdir()
    shutil.copyfile(SMALL_LIST, source)
    return source


def _forbid_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(raw: bytes, where: str) -> object:
        raise AssertionError("parsed again instead of using the cache")

    monkeypatch.setattr(preload, "parse_chromium_json", fail)


def test_cache_is_written_once_keyed_by_hash_and_hit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, cache = _copy_list(tmp_path), tmp_path / "cache"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    first = load_chromium_json(source, cache)
    assert sorted(p.name for p in cache.iterdir()) == [f"preload-{digest}.json"]
    _forbid_parsing(monkeypatch)
    second = load_chromium_json(source, cache)
    assert second.digest == first.digest == digest
    for host, expected in SMALL_CASES:
        assert second.lookup(host) == expected


def test_cache_is_shared_by_copies_and_new_content_gets_a_new_entry(tmp_path: Path) -> None:
    source, cache = _copy_list(tmp_path), tmp_path / "cache"
    load_chromium_json(source, cache)
    elsewhere = tmp_path / "copy.json"
    shutil.copyfile(source, elsewhere)
    load_chromium_json(elsewhere, cache)
    assert len(list(cache.iterdir())) == 1
    source.write_text(source.read_text().replace('"dev"', '"page"'))
    changed = load_chromium_json(source, cache)
    assert len(list(cache.iterdir())) == 2
    assert changed.lookup("x.dev") is None
    assert changed.lookup("x.page") == PreloadMatch("page", True)


def test_dated_file_keeps_its_date_through_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_chromium_json(DATA / "dated.json", tmp_path)
    _forbid_parsing(monkeypatch)
    assert load_chromium_json(DATA / "dated.json", tmp_path).date == datetime.date(2026, 1, 15)


@pytest.mark.parametrize(
    "corruption",
    [
        b"",
        b"{not json",
        b'{"format": "rewriter-preload/1"}',
        b"[]",
        b'{"format": "other", "sha256": "", "date": null, "include_subdomains": "", '
        b'"host_only": ""}',
    ],
)
def test_a_corrupt_cache_entry_is_ignored_and_rebuilt(tmp_path: Path, corruption: bytes) -> None:
    source, cache = _copy_list(tmp_path), tmp_path / "cache"
    load_chromium_json(source, cache)
    [entry] = cache.iterdir()
    entry.write_bytes(corruption)
    rebuilt = load_chromium_json(source, cache)
    assert rebuilt.lookup("a.listed-inc.com") == PreloadMatch("listed-inc.com", True)
    assert json.loads(entry.read_text())["format"] == "rewriter-preload/1"
    assert [p.name for p in cache.iterdir()] == [entry.name]  # no temp file left behind


def test_a_cache_entry_for_another_file_is_not_trusted(tmp_path: Path) -> None:
    source, cache = _copy_list(tmp_path), tmp_path / "cache"
    load_chromium_json(source, cache)
    [entry] = cache.iterdir()
    document = json.loads(entry.read_text())
    document["sha256"] = "0" * 64
    document["include_subdomains"] = "evil.example"
    entry.write_text(json.dumps(document))
    assert load_chromium_json(source, cache).lookup("x.evil.example") is None


def test_no_cache_dir_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _copy_list(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    before = sorted(tmp_path.rglob("*"))
    load_chromium_json(source, None).lookup("x.app")
    assert sorted(tmp_path.rglob("*")) == before


def test_an_unwritable_cache_does_not_stop_the_run(tmp_path: Path) -> None:
    source = _copy_list(tmp_path)
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    loaded = load_chromium_json(source, blocked / "cache")
    assert loaded.lookup("x.app") == PreloadMatch("app", True)


# --- freshness ----------------------------------------------------------------------------------


def _dated(date: datetime.date | None) -> PreloadList:
    return PreloadList("the list", date, "d", lambda host: None)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (datetime.date(2025, 1, 1), None),
        (datetime.date(2025, 6, 30), None),  # 180 days: not older than 180
        (
            datetime.date(2025, 7, 1),
            "preload list the list is from 2025-01-01, 181 days old (more than 180): "
            "browsers have moved on since; give a current Chromium "
            "transport_security_state_static.json with --preload-list or `preload_list:` in "
            "the rules",
        ),
    ],
)
def test_freshness_warning(today: datetime.date, expected: str | None) -> None:
    assert freshness_warning(_dated(datetime.date(2025, 1, 1)), today, 180) == expected


def test_freshness_warning_is_one_line_for_the_bundled_list(bundled: PreloadList) -> None:
    warning = freshness_warning(bundled, datetime.date(2026, 11, 27), 180)
    assert warning is not None and "\n" not in warning
    assert warning.startswith(f"preload list {bundled.name} is from ")


def test_freshness_warning_without_a_date() -> None:
    assert freshness_warning(_dated(None), datetime.date(2026, 1, 1), 180) == (
        "preload list the list has no date: its age is unknown"
    )


def test_memo_returns_the_same_answer_without_asking_again() -> None:
    calls: list[str] = []
    find: Callable[[str], PreloadMatch | None] = find_in({"a.example": True}.get)

    def counting(host: str) -> PreloadMatch | None:
        calls.append(host)
        return find(host)

    preload_list = PreloadList("memo", None, "d", counting)
    assert preload_list.lookup("x.a.example") == PreloadMatch("a.example", True)
    assert preload_list.lookup("x.a.example") == PreloadMatch("a.example", True)
    assert preload_list.lookup("b.example") is None
    assert preload_list.lookup("b.example") is None
    assert calls == ["x.a.example", "b.example"]
