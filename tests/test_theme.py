"""The theme app extension (storefront/shopify), rendered with python-liquid as Shopify renders
it, from metafield values certhook itself wrote: in two languages, paused and not."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import liquid
import pytest
from babel.messages.pofile import read_po

from certhook import storefront_sync

from .fakes.shopify import SHOP_GID
from .helpers import deliver, drain, make_ch, order_payload, run_due

EXTENSION = Path(__file__).resolve().parents[1] / "storefront" / "shopify"
TRANSLATIONS = Path(__file__).resolve().parents[1] / "plugin" / "translations"
SCHEMA = re.compile(r"{%\s*schema\s*%}(.*?){%\s*endschema\s*%}", re.S)
FRONT = {"storefront": {"enabled": True, "languages": ["en", "de"]}}
PRODUCTS = [{"id": 801, "title": "Green hoodie", "sku": "HOODIE-GREEN-M", "price": "30.00"},
            {"id": 803, "title": "Mug", "sku": "MUG-1", "price": "12.00"}]


def block(name: str) -> tuple[str, dict[str, Any]]:
    """A block's Liquid (its schema tag, which only Shopify knows, taken out) and its schema."""
    source = (EXTENSION / "blocks" / f"{name}.liquid").read_text()
    schema = json.loads(SCHEMA.search(source).group(1))  # type: ignore[union-attr]
    return SCHEMA.sub("", source), schema


def locale(lang: str) -> dict[str, Any]:
    name = "en.default.json" if lang == "en" else f"{lang}.json"
    return json.loads((EXTENSION / "locales" / name).read_text())


def render(name: str, value: dict[str, Any] | None, lang: str, product_id: int = 801) -> str:
    source, schema = block(name)
    env = liquid.Environment()
    words = locale(lang)
    env.filters["t"] = lambda key: words["certhook"][key.split(".", 1)[1]]
    settings = {s["id"]: s["default"] for s in schema["settings"]}
    metafields = {"certhook": {"impact": {"value": value}}} if value is not None else {}
    html = env.from_string(source).render(
        shop={"metafields": metafields}, request={"locale": {"iso_code": lang}},
        block={"settings": settings}, product={"id": product_id})
    return " ".join(html.split())


@pytest.fixture
def written(tmp_path, db_url, fake_dots, fake_shopify, clock):  # type: ignore[no-untyped-def]
    """The metafield value certhook wrote after two hoodie orders, and the paused one after a
    third held by the budget."""
    fake_shopify.products = list(PRODUCTS)
    shop = {**FRONT, "budget": {"allocations": {14: 5}}}
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, shop=shop) as (ch, client):
        storefront_sync.ensure_jobs(ch)
        for n in range(2):
            deliver(client, order_payload(order_id=7100 + n))
        drain(ch)
        clock.now += 60
        run_due(ch)
        live = fake_shopify.value(SHOP_GID.rsplit("/", 1)[-1], key="impact", owner="Shop")
        deliver(client, order_payload(order_id=7102))
        clock.now += 60
        run_due(ch)
        paused = fake_shopify.value(SHOP_GID.rsplit("/", 1)[-1], key="impact", owner="Shop")
    assert live["paused"] is False and paused["paused"] is True
    return live, paused


def test_the_blocks_say_the_impact_in_each_language(written):
    live, _ = written
    assert render("impact", live, "en") == (
        '<p class="certhook-impact" style="font-size: 16px; color: #1f2328; background-color: #ffffff; '
        'padding: 0.5em 0.75em; border-radius: 0.5em; margin: 0;"> <strong>4 × Save a Sea Turtle</strong> '
        'with our customers </p>')
    german = render("impact", live, "de")
    assert "<strong>4 × Save a Sea Turtle</strong> mit unseren Kundinnen und Kunden" in german
    product = render("product", live, "en"), render("product", live, "de")
    assert "<strong>Saves 1 sea turtle, Plants 1 tree</strong> with this purchase" in product[0]
    assert "<strong>1 × Save a Sea Turtle, 1 × Plant a Tree</strong> mit diesem Kauf" in product[1]
    assert "Saves 1 sea turtle" in render("product", live, "fr")  # a language the shop lacks: its first


def test_the_blocks_render_nothing_while_paused_without_data_or_for_a_product_that_earns_nothing(written):
    live, paused = written
    for name in ("impact", "product"):
        assert render(name, paused, "en") == "" and render(name, paused, "de") == ""
        assert render(name, None, "en") == ""  # before certhook ever wrote it
    assert render("product", live, "en", product_id=803) == ""  # the mug


def test_the_blocks_escape_what_a_provider_named_and_carry_no_script():
    value = {"paused": False, "headline": {"default": '<img src=x onerror="alert(1)">'},
             "texts": {"default": ["<script>x</script>"]}, "products": {"801": 0}}
    assert "&lt;img" in render("impact", value, "en") and "<img" not in render("impact", value, "en")
    assert "&lt;script&gt;" in render("product", value, "en")
    for name in ("impact", "product"):
        source, schema = block(name)
        assert "<script" not in source and "{% javascript" not in source
        assert {s["id"] for s in schema["settings"]} == {"text_size", "text_colour", "background_colour"}
    assert block("product")[1]["enabled_on"] == {"templates": ["product"]}


def test_the_extensions_words_are_certhooks_translations():
    english = locale("en")["certhook"]
    for lang in ("de", "fr", "es"):
        with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as po:
            catalog = read_po(po, locale=lang)
        assert locale(lang)["certhook"] == {key: catalog[text].string for key, text in english.items()}
