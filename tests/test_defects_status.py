"""Regression tests for issue 9, defects 3, 4, 6, 7, 19 and 20: own hosts judged by the rules,
not the preload list (3); `check --fail-on` never drops `broken` and refuses what it does not
know (4); our own tracking links are re-issued, never wrapped twice, after a domain change (6);
`check` without a key still catches forged tokens, counts unverified ones, and refuses an unsafe
key file (7); one trailing dot dropped, not all (19); each hop's ground in the reason (20)."""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rewriter.batch.factory import make_rewriter
from rewriter.cli.main import main
from rewriter.document.decide import Policy
from rewriter.models import Action, Reason, Status
from rewriter.rules.loader import load_rules
from rewriter.rules.model import Certificate, CertificateState, HostFacts, Rules
from rewriter.status.classify import Classifier
from rewriter.status.preload import bundled_preload_list
from rewriter.tokens.format import decode_token, encode_token
from rewriter.tokens.keys import KeyRing
from rewriter.web.urls import HostError, normalize_host

KEY_ENV = "REWRITER_TEST_KEYS"
NO_KEY: dict[str, str | None] = {KEY_ENV: None}
AS_OF = "2026-11-27"
DESTINATION = "https://shop.example.org/spring?utm_source=mail"
# A ring the rules do not know: its tokens are well-formed but forged as far as we can tell.
# What `check --fail-on` accepts (the documented contract, written out).
FAIL_ON_VALUES = (
    *("broken", "unknown", "insecure", "secure-after-first-visit", "secure"),
    *("unverified", "clip", "max-links", "url-length", "https-possible"),
    *("certificate-expired", "certificate-expiring", "certificate-overdue"),
)
STRANGER = KeyRing("x1", {"x1": b"someone else's key, 32 bytes :)"})


def invoke(*args: object, env: Mapping[str, str | None] | None = None) -> Result:
    runner = CliRunner()
    return runner.invoke(main, [str(arg) for arg in args], env=env, catch_exceptions=False)


def write_rules(folder: Path, domain: str, *, legacy: str = "", extra: str = "") -> Path:
    """Rules with the test key (from the environment) and an active certificate for `domain`."""
    legacy_line = f"  legacy_domains: [{legacy}]\n" if legacy else ""
    path = folder / f"rules-{domain}.yaml"
    path.write_text(
        "version: 1\n"
        f"tracking:\n  domain: {domain}\n{legacy_line}"
        f"keys:\n  env: {KEY_ENV}\n"
        f"hosts:\n  {domain}:\n    certificate: {{status: active}}\n{extra}",
        encoding="utf-8",
    )
    return path


def records(result: Result) -> list[dict[str, object]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def page(*hrefs: str) -> bytes:
    return "".join(f'<p><a href="{href}">link</a></p>\n' for href in hrefs).encode()


# --- 3. the tracking domain, legacy domains and declared hosts are the user's own -------------


def test_after_init_the_tracking_domain_is_unknown_not_secure_by_its_tld(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert invoke("init", "--domain", "links.mybrand.app").exit_code == 0
    (tmp_path / "t.html").write_bytes(page("https://www.example.org/"))
    result = invoke("links", "t.html", "--format", "ndjson")
    assert result.exit_code == 0, result.stderr
    (record,) = records(result)
    assert record["status"] == "unknown"
    reason = str(record["status_reason"])
    assert reason.startswith(
        "tracking hop: links.mybrand.app: preloaded via the whole TLD .app but no certificate is"
        " declared for it or a parent in the rules: declare it (hosts: links.mybrand.app:"
        " certificate: status active, pending or none) to judge this hop"
    )
    tracking_hop = reason.partition("; destination hop:")[0]
    assert "assumed valid (third-party host)" not in tracking_hop


def own_rules(**changes: object) -> Rules:
    base = Rules(
        tracking_domain="go.example.com",
        legacy_domains=("click.example.app",),
        hosts=(
            HostFacts("go.example.com", Certificate(CertificateState.ACTIVE)),
            HostFacts("landing.example.app", None, None, None),
        ),
    )
    return Rules(**{**{f: getattr(base, f) for f in base.__dataclass_fields__}, **changes})


@pytest.mark.parametrize(
    ("scheme", "host"),
    [
        ("http", "click.example.app"),  # a legacy domain, preloaded via .app
        ("https", "click.example.app"),
        ("http", "landing.example.app"),  # declared under hosts:, no certificate
        ("https", "landing.example.app"),
    ],
)
def test_own_hosts_without_a_declared_certificate_are_unknown(scheme: str, host: str) -> None:
    hop = Classifier(own_rules(), bundled_preload_list()).hop(scheme, host)
    assert hop.status is Status.UNKNOWN
    assert f"declare it (hosts: {host}: certificate:" in hop.reason


def test_a_third_party_host_keeps_its_assumed_certificate() -> None:
    hop = Classifier(own_rules(), bundled_preload_list()).hop("http", "shop.example.app")
    assert hop.status is Status.SECURE
    assert "certificate assumed valid (third-party host)" in hop.reason


def test_an_own_host_on_plain_http_without_hsts_is_insecure_whatever_its_certificate() -> None:
    rules = own_rules(tracking_domain="links.mybrand.test", hosts=())
    hop = Classifier(rules, bundled_preload_list()).hop("http", "links.mybrand.test")
    assert hop.status is Status.INSECURE


# --- 4. check --fail-on ---------------------------------------------------------------------


def forged_page(domain: str) -> bytes:
    return page(f"http://{domain}/l/" + encode_token(DESTINATION, "t.html", STRANGER))


def test_fail_on_unknown_still_fails_a_forged_token(tmp_path: Path) -> None:
    rules = write_rules(tmp_path, "go.example.com")
    (tmp_path / "t.html").write_bytes(forged_page("go.example.com"))
    result = invoke("check", tmp_path / "t.html", "--rules", rules, "--fail-on", "unknown",
                    "--as-of", AS_OF)  # fmt: skip
    assert result.exit_code == 1
    assert re.search(
        r"t\.html:1:4: broken: http://go\.example\.com/l/\S+ \(tracking hop: ", result.stdout
    )
    assert "signed by unknown key 'x1'" in result.stdout


@pytest.mark.parametrize("value", ["", " ", "unknown,", "bogus", "Broken", "broken;unknown"])
def test_an_empty_or_unknown_fail_on_value_is_a_usage_error_listing_the_choices(
    tmp_path: Path, value: str
) -> None:
    rules = write_rules(tmp_path, "go.example.com")
    (tmp_path / "t.html").write_bytes(forged_page("go.example.com"))
    result = invoke("check", tmp_path / "t.html", "--rules", rules, "--fail-on", value)
    assert result.exit_code == 2
    assert result.stdout == ""
    error = result.stderr.splitlines()[-1]
    assert error.startswith("Error: --fail-on: ")
    for choice in FAIL_ON_VALUES:
        assert choice in error


def test_help_lists_every_fail_on_value() -> None:
    result = invoke("check", "--help")
    text = re.sub(r"-\s+", "-", " ".join(result.stdout.split()))  # click wraps at hyphens
    listed = text.split("--fail-on TEXT", 1)[1].split("[default: broken]", 1)[0]
    for choice in FAIL_ON_VALUES:
        assert re.search(rf"(?<![\w-]){re.escape(choice)}(?![\w-])", listed), choice


def test_fail_on_a_notice_code_makes_that_warning_a_failure(tmp_path: Path) -> None:
    # scheme http with an active certificate on the tracking domain: the https-possible notice
    rules = write_rules(tmp_path, "go.example.com")
    (tmp_path / "t.html").write_bytes(page("https://shop.example.org/"))
    passes = invoke("check", tmp_path / "t.html", "--rules", rules, "--as-of", AS_OF)
    assert passes.exit_code == 0
    assert "warning: https-possible" in passes.stdout
    fails = invoke("check", tmp_path / "t.html", "--rules", rules, "--as-of", AS_OF,
                   "--fail-on", "https-possible")  # fmt: skip
    assert fails.exit_code == 1
    assert "failure: https-possible" in fails.stdout


# --- 6. our own tracking links after a domain change ----------------------------------------


def test_a_link_of_ours_on_an_old_domain_is_reissued_not_wrapped(tmp_path: Path) -> None:
    old = make_rewriter(load_rules(write_rules(tmp_path, "go.example.com")), keys=True)
    first = old.rewrite(page(DESTINATION), file="en/welcome.html", relative="en/welcome.html")
    (old_url,) = [link.tracking_url for link in first.links]
    assert old_url is not None and old_url.startswith("http://go.example.com/l/")

    new = make_rewriter(load_rules(write_rules(tmp_path, "go2.example.com")), keys=True)
    second = new.rewrite(first.output, file="other.html", relative="other.html")
    (link,) = second.links
    assert (link.action, link.reason_code) == (Action.REWRITTEN, Reason.REISSUED)
    assert link.tracking_url is not None
    assert link.tracking_url.startswith("http://go2.example.com/l/")
    contents = decode_token(link.tracking_url.rsplit("/", 1)[1], new.ring)
    assert contents.destination == DESTINATION  # not go2 -> go -> destination
    assert contents.context == "en/welcome.html"  # the attribution it was sent with
    assert link.destination == DESTINATION
    assert "list go.example.com under tracking.legacy_domains" in link.reason
    assert second.output == first.output.replace(old_url.encode(), link.tracking_url.encode())
    (warning,) = second.warnings
    assert warning.startswith("other.html:1:4: a tracking link of ours on go.example.com")
    assert "list go.example.com under tracking.legacy_domains, or mail already sent" in warning
    # idempotent: the re-issued link is on the tracking domain now
    assert new.rewrite(second.output, file="other.html").output == second.output


def test_a_link_of_ours_on_a_legacy_domain_is_left_as_it_is(tmp_path: Path) -> None:
    old = make_rewriter(load_rules(write_rules(tmp_path, "go.example.com")), keys=True)
    sent = old.rewrite(page(DESTINATION), file="t.html").output
    rules = write_rules(tmp_path, "go2.example.com", legacy="go.example.com")
    result = make_rewriter(load_rules(rules), keys=True).rewrite(sent, file="t.html")
    assert result.output == sent
    assert [(link.action, link.reason_code) for link in result.links] == [
        (Action.ALREADY_TRACKED, Reason.LEGACY_DOMAIN)
    ]


def test_a_key_rotation_leaves_links_on_the_tracking_domain_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = load_rules(write_rules(tmp_path, "go.example.com"))
    sent = make_rewriter(rules, keys=True).rewrite(page(DESTINATION), file="t.html").output
    new_key = "k2 " + base64.urlsafe_b64encode(b"the next key, rotated in :)  ...").decode()
    monkeypatch.setenv(KEY_ENV, new_key + "\n" + os.environ[KEY_ENV])
    rotated = make_rewriter(rules, keys=True)
    assert rotated.ring is not None and rotated.ring.current == "k2"
    assert rotated.rewrite(sent, file="t.html").output == sent


def test_a_token_shaped_link_that_is_not_ours_is_tracked_as_any_link(tmp_path: Path) -> None:
    rules = load_rules(write_rules(tmp_path, "go2.example.com"))
    foreign = "http://go.example.com/l/" + encode_token(DESTINATION, "t.html", STRANGER)
    (link,) = make_rewriter(rules, keys=True).rewrite(page(foreign), file="t.html").links
    assert (link.action, link.reason_code, link.destination) == (
        Action.REWRITTEN,
        Reason.TRACKED,
        foreign,
    )


def test_links_reports_a_reissued_link(tmp_path: Path) -> None:
    old = make_rewriter(load_rules(write_rules(tmp_path, "go.example.com")), keys=True)
    (tmp_path / "t.html").write_bytes(old.rewrite(page(DESTINATION), file="t.html").output)
    rules = write_rules(tmp_path, "go2.example.com")
    result = invoke("links", tmp_path / "t.html", "--rules", rules, "--format", "ndjson")
    assert result.exit_code == 0, result.stderr
    (record,) = records(result)
    assert (record["action"], record["reason_code"]) == ("rewritten", "reissued")
    assert record["destination"] == DESTINATION
    assert str(record["tracking_url"]).startswith("http://go2.example.com/l/")


# --- 7. check without a key -----------------------------------------------------------------


def test_without_a_key_a_malformed_token_on_the_tracking_domain_is_broken(tmp_path: Path) -> None:
    rules = write_rules(tmp_path, "go.example.com")
    (tmp_path / "t.html").write_bytes(page("http://go.example.com/l/AAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
    result = invoke("check", tmp_path / "t.html", "--rules", rules, "--as-of", AS_OF, env=NO_KEY)
    assert result.exit_code == 1
    assert ": broken: http://go.example.com/l/AAAA" in result.stdout
    assert "the token is malformed" in result.stdout


def test_without_a_key_a_well_formed_token_is_counted_unverified(tmp_path: Path) -> None:
    rules = write_rules(tmp_path, "go.example.com")
    (tmp_path / "t.html").write_bytes(forged_page("go.example.com") + page("https://a.example/"))
    args = ("check", tmp_path / "t.html", "--rules", rules, "--as-of", AS_OF)
    passes = invoke(*args, env=NO_KEY)
    assert passes.exit_code == 0
    assert passes.stdout.splitlines()[-1].endswith(": 0 violating, 1 notice, 1 unverified")
    fails = invoke(*args, "--fail-on", "unverified", env=NO_KEY)
    assert fails.exit_code == 1
    line = fails.stdout.splitlines()[0]
    assert re.fullmatch(
        r".*t\.html:1:4: unverified: http://go\.example\.com/l/\S+ -> "
        + re.escape(DESTINATION)
        + r" \(.*no key at hand to verify the token\)",
        line,
    )
    assert fails.stdout.splitlines()[-1].endswith(": 1 violating, 1 notice, 1 unverified")


def test_with_the_key_the_same_token_is_broken(tmp_path: Path) -> None:
    rules = write_rules(tmp_path, "go.example.com")
    (tmp_path / "t.html").write_bytes(forged_page("go.example.com"))
    result = invoke("check", tmp_path / "t.html", "--rules", rules, "--as-of", AS_OF)
    assert result.exit_code == 1
    assert "unverified" not in result.stdout.splitlines()[-1]


@pytest.mark.parametrize("command", ["rewrite", "links", "check"])
def test_a_key_file_others_can_read_is_refused_by_every_command(
    tmp_path: Path, command: str
) -> None:
    keys = tmp_path / "k.keys"
    keys.write_text(os.environ[KEY_ENV] + "\n", encoding="utf-8")
    keys.chmod(0o644)
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "version: 1\ntracking:\n  domain: go.example.com\nkeys:\n  file: k.keys\n",
        encoding="utf-8",
    )
    (tmp_path / "t.html").write_bytes(page(DESTINATION))
    extra = ("--out", tmp_path / "out") if command == "rewrite" else ()
    result = invoke(command, tmp_path / "t.html", "--rules", rules, *extra)
    assert result.exit_code == 2
    assert f"rewriter: key file {keys} is accessible by group or others (mode 0644)" in (
        result.stderr
    )
    assert result.stdout == ""


def test_a_missing_key_file_is_still_no_key_for_links_and_check(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "version: 1\ntracking:\n  domain: go.example.com\nkeys:\n  file: absent.keys\n",
        encoding="utf-8",
    )
    (tmp_path / "t.html").write_bytes(page(DESTINATION))
    assert invoke("links", tmp_path / "t.html", "--rules", rules).exit_code == 0
    assert invoke("check", tmp_path / "t.html", "--rules", rules).exit_code == 0


# --- 19. one trailing dot -------------------------------------------------------------------


def test_a_host_ending_in_two_dots_is_not_the_preloaded_host() -> None:
    classifier = Classifier(own_rules(), bundled_preload_list())
    assert classifier.hop("http", "twitter.com.").status is Status.SECURE  # one dot: the same
    two = classifier.hop("http", "twitter.com..")
    assert two.status is Status.INSECURE
    assert two.reason.startswith("twitter.com..: plain http:// and no HSTS applies")
    verdict = classifier.link(None, "http://twitter.com../")
    assert verdict.status is Status.INSECURE


def test_only_one_trailing_dot_is_dropped_from_a_host() -> None:
    assert normalize_host("Go.Example.com.") == "go.example.com"
    with pytest.raises(HostError):
        normalize_host("go.example.com..")
    decision = Policy(own_rules()).decide_url("http://go.example.com../l/x")
    assert decision.action is Action.REWRITTEN  # not the tracking domain to a browser
    assert Policy(own_rules()).decide_url("http://go.example.com./l/x").reason_code is (
        Reason.OWN_DOMAIN
    )


# --- 20. each hop's ground ------------------------------------------------------------------


def test_a_tie_gives_both_hops_grounds() -> None:
    classifier = Classifier(own_rules(), bundled_preload_list())
    verdict = classifier.link("https://go.example.com/l/x", "https://shop.example.org/")
    assert verdict.status is Status.SECURE
    assert verdict.reason == (
        "tracking hop: go.example.com: https:// and certificate active; "
        "destination hop: shop.example.org: https:// and certificate assumed valid"
        " (third-party host)"
    )


def test_the_deciding_hop_comes_first_then_the_other() -> None:
    classifier = Classifier(own_rules(), bundled_preload_list())
    verdict = classifier.link("https://go.example.com/l/x", "http://shop.example.org/")
    assert verdict.status is Status.INSECURE
    assert verdict.reason.startswith("destination hop: shop.example.org: plain http://")
    assert verdict.reason.endswith(
        "; tracking hop: go.example.com: https:// and certificate active"
    )
