"""The public impact feed and what a product earns: what a shopper's page (or a CDN) may read
with no login. Totals from the kept counts, nothing personal, cacheable, any origin."""
from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certhook.cli import main

from .helpers import AUTH, deliver, drain, make_ch, order_payload, run_due

FRONT = {"storefront": {"enabled": True, "languages": ["en", "de"], "name": "Acme Outfitters"}}
HOODIES = {"sku": "HOODIE-GREEN-M", "title": "Hoodie", "price": "30.00", "quantity": "2"}


@pytest.fixture
def front(tmp_path, db_url, fake_dots, fake_shopify):  # type: ignore[no-untyped-def]
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, shop=FRONT) as made:
        yield made


def issued(client: Any) -> dict[int, int]:
    """Impact per allocation, summed over what the API says was issued."""
    out: dict[int, int] = {}
    for order in client.get("/api/orders?per_page=200", headers=AUTH).json["data"]:
        for item in order["certificates"]:
            if item["status"] == "issued":
                out[item["allocation_id"]] = out.get(item["allocation_id"], 0) + item["impact_qty"]
    return out


def test_a_shop_without_its_storefront_on_is_404(client):
    for path in ("/impact/acme.json", "/impact/acme.svg", "/impact/acme/earns.json?sku=HOODIE-1",
                 "/impact/acme/earns.svg?sku=HOODIE-1", "/impact/nobody.json", "/impact/nobody.svg"):
        assert client.get(path).status_code == 404, path


def test_the_totals_are_the_issued_certificates_and_say_nothing_personal(front):
    ch, client = front
    payloads = [order_payload(order_id=6100 + n) for n in range(3)]
    for payload in payloads:
        deliver(client, payload)
    drain(ch)
    r = client.get("/impact/acme.json")
    assert r.status_code == 200
    body = r.json
    assert body["shop"] == "acme" and body["paused"] is False and body["updated_at"].endswith("Z")
    assert {t["allocation_id"]: t["quantity"] for t in body["totals"]} == issued(client) == {14: 6, 32: 6}
    assert {t["allocation_id"]: t["this_month"] for t in body["totals"]} == {14: 6, 32: 6}
    assert {t["impact"] for t in body["totals"]} == {"Save a Sea Turtle", "Plant a Tree"}
    personal = {str(p["id"]) for p in payloads} | {p["email"] for p in payloads} | {
        p["customer"]["first_name"] for p in payloads} | {p["name"] for p in payloads}
    answers = r.text + client.get("/impact/acme/earns.json", query_string=HOODIES).text
    assert not [word for word in personal if word and word in answers]


def test_an_etag_round_trip_is_304_until_the_totals_change(front):
    ch, client = front
    deliver(client, order_payload(order_id=6200))
    drain(ch)
    first = client.get("/impact/acme.json")
    tag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "public, max-age=300"
    assert first.headers["Access-Control-Allow-Origin"] == "*"
    again = client.get("/impact/acme.json", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["Access-Control-Allow-Origin"] == "*"
    ch.clock.now += 3600  # time passing changes nothing while nothing is issued
    assert client.get("/impact/acme.json", headers={"If-None-Match": tag}).status_code == 304
    deliver(client, order_payload(order_id=6201))
    drain(ch)
    assert client.get("/impact/acme.json", headers={"If-None-Match": tag}).status_code == 304
    ch.clock.now += 6  # an issued certificate shows within 10 s: a feed is read again after 5
    changed = client.get("/impact/acme.json", headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["ETag"] != tag
    assert changed.json["updated_at"] > first.json["updated_at"]
    assert {t["allocation_id"]: t["quantity"] for t in changed.json["totals"]} == {14: 4, 32: 4}


def test_a_held_budget_pauses_the_feed(tmp_path, db_url, fake_dots, fake_shopify):
    shop = {**FRONT, "budget": {"allocations": {14: 3}}}  # a hoodie order earns 2 turtles
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, shop=shop) as (ch, client):
        deliver(client, order_payload(order_id=6300))
        drain(ch)
        assert client.get("/impact/acme.json").json["paused"] is False
        deliver(client, order_payload(order_id=6301))
        run_due(ch)  # its turtles wait for next month's budget
        ch.clock.now += 6
        assert client.get("/impact/acme.json").json["paused"] is True
        assert client.get("/impact/acme/earns.json?sku=HOODIE-1").json["paused"] is True


def test_earns_is_what_preview_says_for_the_same_line(front, tmp_path):
    ch, client = front
    unnamed = client.get("/impact/acme/earns.json", query_string=HOODIES).json
    assert unnamed["text"] == "2 × allocation 14, 2 × allocation 32"  # no name known yet
    deliver(client, order_payload(order_id=6401))
    drain(ch)  # now Dots.eco has named them on a certificate
    ch.clock.now += 6
    r = client.get("/impact/acme/earns.json", query_string=HOODIES)
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == "*"
    order = order_payload(order_id=6400)
    order["line_items"] = [{**order["line_items"][0], "sku": "HOODIE-GREEN-M", "price": "30.00",
                            "quantity": 2, "total_discount": "0.00"}]
    path = tmp_path / "order.json"
    path.write_text(json.dumps(order))
    preview = CliRunner().invoke(main, ["preview", "--config", str(ch.settings.path), "--shop", "acme",
                                        "--json", str(path)])
    expected = {a["allocation_id"]: a["impact_qty"] for a in json.loads(preview.output)["allocations"]}
    assert {e["allocation_id"]: e["quantity"] for e in r.json["earns"]} == expected == {14: 2, 32: 2}
    assert r.json["text"] == "Saves 2 sea turtles, Plants 2 trees"
    nothing = client.get("/impact/acme/earns.json?sku=MUG-1&price=5").json
    assert nothing == {"earns": [], "text": "", "paused": False}


@pytest.mark.parametrize(("query", "named"), [
    ("price=-1", "price"), ("price=1e12", "price"), ("price=abc", "price"), ("price=NaN", "price"),
    ("quantity=0", "quantity"), ("quantity=99999", "quantity"), ("quantity=1.5", "quantity"),
    ("product_id=abc", "product_id"), ("variant_id=1;drop", "variant_id"), ("sku=" + "x" * 300, "sku"),
    ("title=a%0ab", "title"), ("quantity=%C2%B2", "quantity"), ("product_id=%C2%B2", "product_id")])
def test_absurd_values_are_400_naming_the_parameter(front, query, named):
    _, client = front
    r = client.get(f"/impact/acme/earns.json?{query}")
    assert r.status_code == 400 and r.json["error"].startswith(f"{named}: ")


def test_a_busy_client_is_never_throttled(front):
    _, client = front
    answers = [client.get("/impact/acme.json").status_code for _ in range(50)]  # one address, at once
    answers += [client.get("/impact/acme/earns.json?sku=HOODIE-1").status_code for _ in range(50)]
    assert set(answers) == {200}


ENDPOINTS = ["/impact/acme.json", "/impact/acme.svg", "/impact/acme/earns.json?sku=HOODIE-1&price=30",
             "/impact/acme/earns.svg?sku=HOODIE-1&price=30"]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_every_public_answer_is_cacheable_by_anyone_and_says_nothing_personal(front, path):
    ch, shop_client = front
    payload = order_payload(order_id=6950)
    deliver(shop_client, payload)
    drain(ch)
    r = shop_client.get(path)
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "public, max-age=300"
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert shop_client.get(path, headers={"If-None-Match": r.headers["ETag"]}).status_code == 304
    personal = [str(payload["id"]), payload["email"], payload["customer"]["first_name"], payload["name"]]
    assert not [word for word in personal if word in r.text]


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(["sku", "title", "product_id", "variant_id", "price", "quantity"]),
                       st.text(max_size=40)))
def test_any_query_is_answered_or_refused_never_a_crash(front, query):
    _, client = front
    r = client.get("/impact/acme/earns.json", query_string=query)
    assert r.status_code in (200, 400), (query, r.status_code)
