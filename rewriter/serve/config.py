"""Everything a request needs, read once from the rules (and on SIGHUP), never on the hot path:
the rules, the key ring, the hosts served, the HSTS header per host, the kill switch, the
legacy link map and the trusted proxies. Immutable: a reload builds a new one and swaps it in."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rewriter.rules.model import CertificateState, HstsPolicy, Rules
from rewriter.serve.click import ClickPolicy
from rewriter.serve.hosts import HostMatcher
from rewriter.serve.legacymap import EMPTY_MAP, LegacyLinkMap, LegacyMapError, load_legacy_map
from rewriter.serve.request import Network, trust_checker
from rewriter.tokens.format import TokenContents
from rewriter.tokens.keys import KeyRing
from rewriter.web.globs import GlobSet

RULES_ENV = "REWRITER_RULES"
TOKEN_CACHE_ENV = "REWRITER_TOKEN_CACHE"
CLICKS_ENV = "REWRITER_CLICKS"  # create_app's click store URL (or `log`), over the rules'
DEFAULT_TOKEN_CACHE = 10_000  # verified tokens remembered per worker (about 10 MB at most)


class ServiceError(Exception):
    """The service cannot start (or reload) with these rules: the message says why."""


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    rules: Rules
    ring: KeyRing
    hosts: HostMatcher
    hsts: dict[str, bytes]  # host -> Strict-Transport-Security value
    upgrade: frozenset[str]  # hosts whose plain-HTTP requests get a 308 to HTTPS
    withdrawn_hosts: GlobSet
    withdrawn_urls: GlobSet
    legacy_map: LegacyLinkMap
    trusted_proxies: tuple[Network, ...]
    is_trusted: Callable[[str], bool] | None  # memoised membership in trusted_proxies
    token_prefix: str  # "/l/"
    clicks: ClickPolicy  # what a click record keeps, and the user-agent patterns
    token_cache: int = DEFAULT_TOKEN_CACHE
    # Tokens this configuration verified, by text. Every recipient of a campaign clicks the
    # same token, so most clicks skip verifying and decoding again. Only verified tokens are
    # kept (forgeries cannot fill it); a reload starts an empty one (new keys, retired keys).
    verified: dict[str, TokenContents] = field(default_factory=dict, compare=False)
    # and, for those redirected or withdrawn, the whole answer but the click (routing._Answer)
    answers: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self.ring.keys)

    def remember(self, token: str, contents: TokenContents) -> None:
        _bounded_put(self.verified, token, contents, self.token_cache)

    def remember_answer(self, token: str, answer: Any) -> None:
        _bounded_put(self.answers, token, answer, self.token_cache)


def _bounded_put(memo: dict[str, Any], key: str, value: Any, limit: int) -> None:
    if limit <= 0:
        return
    if len(memo) >= limit:
        memo.clear()  # bounded; refilled by the tokens clicked now
    memo[key] = value


def hsts_value(policy: HstsPolicy) -> str:
    value = f"max-age={policy.max_age}"
    if policy.include_subdomains:
        value += "; includeSubDomains"
    if policy.preload_directive:
        value += "; preload"
    return value


def load_config(rules_path: Path, token_cache: int = DEFAULT_TOKEN_CACHE) -> ServiceConfig:
    """Read the rules, the keys and the legacy link map. Raises ServiceError."""
    from rewriter.batch.factory import SetupError, load_ring
    from rewriter.rules.loader import RulesError, load_rules

    try:
        rules = load_rules(rules_path)
        ring = load_ring(rules)
    except (RulesError, SetupError) as error:
        raise ServiceError(str(error)) from None
    return build_config(rules, ring, token_cache)


def build_config(
    rules: Rules, ring: KeyRing, token_cache: int = DEFAULT_TOKEN_CACHE
) -> ServiceConfig:
    settings = rules.serve
    legacy_map = EMPTY_MAP
    if settings.legacy_link_map is not None:
        try:
            legacy_map = load_legacy_map(settings.legacy_link_map)
        except LegacyMapError as error:
            raise ServiceError(f"serve.legacy_link_map: {error}") from None
    upgrade = frozenset(
        facts.name
        for facts in rules.hosts
        if facts.upgrade_insecure
        and facts.certificate is not None
        and facts.certificate.state is CertificateState.ACTIVE
    )
    networks = tuple(ipaddress.ip_network(n) for n in settings.trusted_proxies)
    return ServiceConfig(
        rules=rules,
        ring=ring,
        hosts=HostMatcher(rules),
        hsts={facts.name: hsts_value(facts.hsts).encode() for facts in rules.hosts if facts.hsts},
        upgrade=upgrade,
        withdrawn_hosts=GlobSet(settings.kill_switch.hosts),
        withdrawn_urls=GlobSet(settings.kill_switch.urls),
        legacy_map=legacy_map,
        trusted_proxies=networks,
        is_trusted=trust_checker(networks),
        token_prefix=rules.path + "/",
        clicks=ClickPolicy.from_settings(rules.clicks),
        token_cache=token_cache,
    )
