"""The shoppers' languages: the badges and the customer's page in English, German, French and
Spanish (flask-babel catalogs), numbers and dates as each language writes them."""
from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from certhook import i18n
from certhook.platforms import ADAPTERS
from certhook.settings_schema import LANGUAGES

from .fakes import dots as fake_dots_mod
from .helpers import AUTH, deliver, drain, make_ch, order_payload, run_due, woo_order

ROOT = Path(__file__).resolve().parents[1]
FRONT = {"storefront": {"enabled": True, "languages": ["en", "de", "fr", "es"], "name": "Acme Outfitters",
                        "accent": "#aa3300"}}
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def front(tmp_path, db_url, fake_dots, fake_shopify):  # type: ignore[no-untyped-def]
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, shop=FRONT) as made:
        yield made


def words() -> set[str]:
    """Every message the code and templates ask to translate."""
    method_map = [("**.py", "python"), ("web/templates/**.html", "jinja2"),
                  ("web/templates/**.svg", "jinja2")]
    found = extract_from_dir(str(ROOT / "plugin"), method_map)
    return {message if isinstance(message, str) else message[0] for _, _, message, _, _ in found}


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_every_word_is_translated_and_each_catalog_is_compiled(lang):
    folder = ROOT / "plugin" / "translations" / lang / "LC_MESSAGES"
    with (folder / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=lang)
    translated = {m.id for m in catalog if m.id and m.string}
    assert words() <= translated, f"{lang}: not translated: {sorted(words() - translated)}"
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    assert compiled.getvalue() == (folder / "messages.mo").read_bytes(), "run make translations"


def test_numbers_and_dates_as_each_language_writes_them():
    assert [i18n.number(1234, lang) for lang in ("en", "de", "fr")] == ["1,234", "1.234", "1\u202f234"]
    assert i18n.number(12345, "es") == "12.345"  # Spanish groups from five digits
    assert i18n.day(1796515200, "de") == "6. Dezember 2026"
    assert i18n.choose(["de-CH"], ("en", "de")) == "de" and i18n.choose(["pt-BR", None], ("fr", "en")) == "fr"


def parse(svg: bytes) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    text = svg.decode()
    assert "<script" not in text and "href" not in text and "url(" not in text  # nothing runs or loads
    return root


def badge_text(svg: bytes) -> list[str]:
    return [t.text or "" for t in parse(svg).iter(f"{SVG}text")]


def test_the_badge_speaks_the_shops_languages_light_and_dark(front):
    ch, client = front
    for n in range(3):
        deliver(client, order_payload(order_id=6500 + n))
    drain(ch)
    english = client.get("/impact/acme.svg")
    assert english.content_type == "image/svg+xml" and english.headers["Access-Control-Allow-Origin"] == "*"
    assert badge_text(english.data) == ["6 × Save a Sea Turtle", "with our customers"]
    assert badge_text(client.get("/impact/acme.svg?lang=de").data)[1] == "mit unseren Kundinnen und Kunden"
    assert badge_text(client.get("/impact/acme.svg?lang=fr").data)[1] == "avec nos clients"
    assert badge_text(client.get("/impact/acme.svg?lang=es").data)[1] == "con nuestros clientes"
    assert badge_text(client.get("/impact/acme.svg?lang=xx").data)[1] == "with our customers"  # the first
    dark = parse(client.get("/impact/acme.svg?theme=dark").data)
    assert dark.find(f"{SVG}rect").get("fill") == "#0d1117"
    assert dark.find(f"{SVG}circle").get("fill") == "#aa3300"  # the shop's accent
    assert int(parse(english.data).get("width")) >= 320
    assert client.get("/impact/acme.svg?theme=pink").status_code == 400
    tag = english.headers["ETag"]
    assert client.get("/impact/acme.svg", headers={"If-None-Match": tag}).status_code == 304
    earns = client.get("/impact/acme/earns.svg?sku=HOODIE-1&price=30&quantity=2")
    assert badge_text(earns.data) == ["Saves 2 sea turtles, Plants 2 trees", "with this purchase"]
    german = badge_text(client.get("/impact/acme/earns.svg?sku=HOODIE-1&price=30&quantity=2&lang=de").data)
    assert german == ["2 × Save a Sea Turtle, 2 × Plant a Tree", "mit diesem Kauf"]


def test_a_badge_shows_nothing_while_paused_or_with_nothing_to_say(tmp_path, db_url, fake_dots, fake_shopify):
    shop = {**FRONT, "budget": {"allocations": {14: 3}}}
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, shop=shop) as (ch, client):
        empty = parse(client.get("/impact/acme.svg").data)  # nothing issued yet
        assert (empty.get("width"), empty.get("height"), list(empty)) == ("0", "0", [])
        assert parse(client.get("/impact/acme/earns.svg?sku=MUG-1").data).get("width") == "0"
        deliver(client, order_payload(order_id=6600))
        drain(ch)
        deliver(client, order_payload(order_id=6601))
        run_due(ch)  # held by the budget
        ch.clock.now += 6
        assert parse(client.get("/impact/acme.svg").data).get("width") == "0"
        assert parse(client.get("/impact/acme/earns.svg?sku=HOODIE-1").data).get("width") == "0"


def test_a_badge_escapes_what_a_provider_named(front, fake_dots, monkeypatch):
    ch, client = front
    monkeypatch.setitem(fake_dots_mod.IMPACTS, 14, '<script>alert(1)</script> & "turtles"')
    deliver(client, order_payload(order_id=6700))
    drain(ch)
    svg = client.get("/impact/acme.svg").data
    assert b"<script>" not in svg and b"&lt;script&gt;" in svg
    assert badge_text(svg)[0].endswith('<script>alert(1)</script> & "turtles"')


def test_the_customer_page_speaks_the_customers_language_with_the_shops_name(front):
    ch, client = front
    deliver(client, order_payload(order_id=6800, customer_locale="de-CH"))
    deliver(client, order_payload(order_id=6801, customer_locale="ja"))
    drain(ch)
    german = client.get(client.get("/api/orders/acme/6800", headers=AUTH).json["customer_url"])
    assert german.status_code == 200 and german.headers["Cache-Control"] == "private, no-store"
    page = german.text
    assert '<html lang="de">' in page
    assert re.search(r"Ihre Bestellung \S+ hat Gutes getan", page)
    assert "Zertifikat ansehen" in page and "Bestellt am" in page and "Acme Outfitters" in page
    assert "/c/accent/acme.css" in page
    assert client.get("/c/accent/acme.css").text.strip() == ":root { --accent: #aa3300; }"
    other = client.get(client.get("/api/orders/acme/6801", headers=AUTH).json["customer_url"]).text
    assert '<html lang="en">' in other and "View your certificate" in other  # not offered: the first


def test_each_store_says_the_customers_language():
    woo = woo_order(meta_data=[{"id": 9, "key": "_other", "value": "x"},
                               {"id": 10, "key": "lang", "value": "fr"}])
    assert ADAPTERS["woocommerce"].normalize("woo", woo).locale == "fr"
    assert ADAPTERS["woocommerce"].normalize("woo", woo_order()).locale == ""
    shopify = ADAPTERS["shopify"].normalize("acme", order_payload(customer_locale="es-MX"))
    assert shopify.locale == "es-MX"
