"""The JSON schema for editors describes exactly what the loader accepts; the example obeys it."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from rewriter.rules import loader as rulesfile
from rewriter.rules.loader import RulesError, load_rules, read_document
from rewriter.rules.schema import ACCEPTED_KEYS, ENUMS
from rewriter.rules.starter import starter_rules

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "rules" / "example.yaml"
# Keys the example documents in comments only: giving them values would change the demo
# (campaign needs context: campaign; the key file and preload list would have to exist).
COMMENTED_IN_EXAMPLE = {("tracking", "campaign"), ("keys", "file"), ("preload_list", "file")}


SCHEMA = Path(rulesfile.__file__).with_name("rules.schema.json")


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return loaded


def test_schema_ships_with_the_package() -> None:
    # Read beside the module rather than with importlib.resources, which fails while the
    # editable install still records `rewriter` as a namespace package.
    with (ROOT / "pyproject.toml").open("rb") as stream:
        package_data = tomllib.load(stream)["tool"]["setuptools"]["package-data"]
    assert SCHEMA.name in package_data["rewriter.rules"]
    assert SCHEMA.parent == ROOT / "rewriter" / "rules"


def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.FormatChecker())


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].removeprefix("#/$defs/")
        node = schema()["$defs"][name]
    return node


def object_schemas(node: dict[str, Any], place: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object schema with named properties, by place in ACCEPTED_KEYS' notation."""
    node = resolve(node)
    if "properties" in node:
        yield place, node
        for name, child in node["properties"].items():
            yield from object_schemas(child, f"{place}.{name}" if place else name)
    if isinstance(node.get("additionalProperties"), dict):
        yield from object_schemas(node["additionalProperties"], f"{place}.*")
    if "items" in node:
        yield from object_schemas(node["items"], f"{place}[]")


def enums(node: dict[str, Any], place: str = "") -> Iterator[tuple[str, tuple[str, ...]]]:
    node = resolve(node)
    if "enum" in node:
        yield place, tuple(node["enum"])
    for name, child in node.get("properties", {}).items():
        yield from enums(child, f"{place}.{name}" if place else name)
    if isinstance(node.get("additionalProperties"), dict):
        yield from enums(node["additionalProperties"], f"{place}.*")
    if "items" in node:
        yield from enums(node["items"], f"{place}[]")


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())
    assert schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_and_loader_accept_the_same_keys() -> None:
    in_schema = {place: set(node["properties"]) for place, node in object_schemas(schema())}
    assert in_schema == {place: set(keys) for place, keys in ACCEPTED_KEYS.items()}


def test_schema_and_loader_have_the_same_enums() -> None:
    assert dict(enums(schema())) == ENUMS


def test_every_object_refuses_unknown_keys() -> None:
    for place, node in object_schemas(schema()):
        assert node["additionalProperties"] is False, place


def test_every_property_is_described() -> None:
    for place, node in object_schemas(schema()):
        for name, child in node["properties"].items():
            assert "description" in child or "description" in resolve(child), f"{place}.{name}"


def test_example_validates_and_loads() -> None:
    validator().validate(read_document(EXAMPLE))
    rules = load_rules(EXAMPLE)
    assert rules.tracking_domain == "go.example.com"
    assert rules.keys.env == "REWRITER_KEYS" and rules.keys.file is None


def key_places(data: Any, place: str = "") -> Iterator[tuple[str, str]]:
    """(place, key) for every key of a document, in ACCEPTED_KEYS' notation."""
    if isinstance(data, dict):
        for key, value in data.items():
            if place == "hosts":
                yield from key_places(value, "hosts.*")
                continue
            yield place, key
            yield from key_places(value, f"{place}.{key}" if place else key)
    elif isinstance(data, list):
        for item in data:
            yield from key_places(item, f"{place}[]")


def test_example_documents_every_key() -> None:
    present = set(key_places(read_document(EXAMPLE)))
    accepted = {(place, key) for place, keys in ACCEPTED_KEYS.items() for key in keys}
    assert accepted - present == COMMENTED_IN_EXAMPLE
    text = EXAMPLE.read_text()
    for _, key in COMMENTED_IN_EXAMPLE:
        assert f"# {key}:" in text


def test_example_shows_every_certificate_status() -> None:
    states = {host.certificate.state for host in load_rules(EXAMPLE).hosts if host.certificate}
    assert {state.value for state in states} == {"active", "pending", "none"}


def test_starter_rules_validate(tmp_path: Path) -> None:
    path = tmp_path / "rewriter.yaml"
    path.write_text(starter_rules("go.acme.com", "acme.keys"))
    validator().validate(read_document(path))


# Documents the loader refuses for their layout; the schema must refuse them too.
REFUSED_BY_BOTH = [
    {"tracking": {"domian": "go.example.com"}},
    {"tracking": {"domain": "go.example.com", "scheme": "ftp"}},
    {"tracking": {"domain": "go.example.com", "context": "campaign"}},
    {"tracking": {"domain": "go.example.com", "campaign": "spring"}},
    {"tracking": {"domain": "go.example.com", "path": "l"}},
    {"tracking": {"domain": "go.example.com"}, "links": {"tags": []}},
    {"tracking": {"domain": "go.example.com"}, "links": {"no_track": [{"word": "x"}]}},
    {"tracking": {"domain": "go.example.com"}, "annotation": {"enabled": "yes"}},
    {
        "tracking": {"domain": "go.example.com"},
        "hosts": {"a.com": {"certificate": {"status": "pending"}}},
    },
    {
        "tracking": {"domain": "go.example.com"},
        "hosts": {"a.com": {"certificate": {"status": "none", "expires": "2027-01-01"}}},
    },
    {"tracking": {"domain": "go.example.com"}, "hosts": {"a.com": {"hsts": {"max_age": -1}}}},
    {"tracking": {"domain": "go.example.com"}, "checks": {"fail_on": ["clipping"]}},
    {"version": 2, "tracking": {"domain": "go.example.com"}},
    {"keys": {"env": "X"}},
]


@pytest.mark.parametrize("document", REFUSED_BY_BOTH)
def test_schema_refuses_what_the_loader_refuses(tmp_path: Path, document: dict[str, Any]) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(json.dumps(document))  # JSON is YAML
    with pytest.raises(RulesError):
        load_rules(path)
    assert list(validator().iter_errors(document)), document
