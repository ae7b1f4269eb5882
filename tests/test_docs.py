"""docs/ holds every key the settings and rules schemas take, and no other; nothing in the
README or docs/ points outside the repository."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from marshmallow import Schema, fields

from certhook import settings_schema
from certhook.rules import schema as rules_schema

ROOT = Path(__file__).resolve().parents[1]


def blocks(name: str) -> list[Any]:
    text = (ROOT / "docs" / name).read_text()
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, re.S)]


def keys(schema: type[Schema]) -> set[str]:
    return set(schema().fields)


def nested(schema: type[Schema], name: str) -> type[Schema]:
    field = schema().fields[name]
    assert isinstance(field, fields.Nested), name
    return type(field.schema)


def test_the_settings_reference_lists_every_key_of_the_schemas():
    [settings] = blocks("settings.md")
    top = settings_schema.SettingsSchema
    assert set(settings) == keys(top)
    assert set(settings["dots"]) == keys(nested(top, "dots"))
    assert set(settings["certfusion"]) == keys(nested(top, "certfusion"))
    [shop] = settings["shops"]
    assert set(shop) == keys(settings_schema.ShopSchema)
    assert set(shop["budget"]) == keys(settings_schema.BudgetSchema)
    assert set(shop["storefront"]) == keys(settings_schema.StorefrontSchema)
    [endpoint] = settings["events"]
    assert set(endpoint) == keys(settings_schema.EndpointSchema)


def test_the_rules_reference_lists_every_key_of_the_schema():
    rules = [rule for block in blocks("rules.md") for rule in (block["rules"] if "rules" in block else block)]
    every = set().union(*(set(r) for r in rules))
    assert every == keys(rules_schema.RuleSchema)
    offering = next(r["offering"] for r in rules if "offering" in r)
    assert set(offering) == keys(rules_schema.OfferingSchema)
    certfusion = next(r["certfusion"] for r in rules if "certfusion" in r)
    assert set(certfusion) == keys(rules_schema.CertFusionSchema)
    text = (ROOT / "docs" / "rules.md").read_text()
    for key in rules_schema.MATCH_KEYS + tuple(f"{{{p}}}" for p in rules_schema.PLACEHOLDERS):
        assert f"`{key}`" in text, key


def test_nothing_points_outside_the_repository():
    for path in [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "CONTRIBUTING.md",
                 *(ROOT / "docs").glob("*.md"), *(ROOT / "deploy").iterdir()]:
        text = path.read_text()
        assert "shared/" not in text, path
        links = [t for t in re.findall(r"\]\(([^)#]+)\)", text) if not t.startswith(("http://", "https://"))]
        for target in links + re.findall(r"(?:\.\./)+[\w./-]*", text):
            found = (path.parent / target).resolve()
            assert found.is_relative_to(ROOT) and found.exists(), (path, target)
