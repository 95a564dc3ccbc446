"""The commented starter rules that `rewriter init` writes."""

from __future__ import annotations

import re
from string import Template
from typing import TYPE_CHECKING

from rewriter.rules.hostnames import own_host
from rewriter.rules.yaml_reader import BOOL_TEXT, INT_TEXT, NULL_TEXT

if TYPE_CHECKING:
    pass


def starter_rules(domain: str, key_file: str) -> str:
    """The commented starter rules that `rewriter init` writes. Raises HostError for a domain
    that cannot be a tracking domain (an IP address, a public suffix, not a host name)."""
    return _STARTER.substitute(domain=_yaml_text(own_host(domain)), key_file=_yaml_text(key_file))


def _yaml_text(text: str) -> str:
    """`text` as a YAML scalar that reads back as exactly this string."""
    resolvable = BOOL_TEXT, INT_TEXT, NULL_TEXT
    if re.fullmatch(r"[A-Za-z0-9_/][A-Za-z0-9_./-]*", text) and not any(
        pattern.fullmatch(text) for pattern in resolvable
    ):
        return text
    import json  # here: only a name YAML would misread needs it

    return json.dumps(text)  # a JSON string is a YAML double-quoted scalar


_STARTER = Template("""\
# rewriter rules: where tracking links point, and the facts about your own hosts.
# Every key is described in rules/example.yaml of the rewriter project and in the JSON schema
# that ships with the package (rewriter/rules.schema.json). Only true and false are booleans.
version: 1

tracking:
  # Your branded tracking domain: a CNAME you own, pointing at your tracking server.
  domain: $domain
  scheme: http          # http (as Marketo keeps it), or https once its certificate is active
  path: /l              # every tracking link starts with <scheme>://<domain>/l/
  context: path         # the attribution in each link: path (of the template), campaign or none
  # campaign: spring-sale                 # required when context is campaign
  # legacy_domains: [click.example.com]   # older tracking domains: never wrapped again

keys:
  # The signing keys, relative to this file. Keep the file private (mode 0600), out of git.
  file: $key_file
  # env: REWRITER_KEYS  # or an environment variable holding the keys, used when it is set

# links:
#   tags: [a, area, "v:*"]                # add button for Inky templates
#   exclude_hosts: ["*.internal.example.com"]
#   exclude_paths: ["/unsubscribe*"]

# Describe your own hosts (the tracking domain, landing pages, their parent domain) so that
# `rewriter check` can tell whether a click will be served securely.
# hosts:
#   $domain:
#     certificate: {status: pending, requested: 2026-11-25}   # active | pending | none
#     hsts: {max_age: 31536000, include_subdomains: false, preload_directive: false}
#     preloaded: false                    # on the browsers' HSTS preload list?
""")
