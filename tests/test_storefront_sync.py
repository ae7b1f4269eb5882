"""The shop metafield certhook.impact: kept equal to the impact feed, with what each product
earns, written only when it changed, so a theme block renders while certhook is down."""
from __future__ import annotations

import time

import pytest

from certhook import storefront_sync

from .fakes.shopify import SHOP_GID
from .helpers import deliver, drain, make_ch, order_payload, run_due

FRONT = {"storefront": {"enabled": True, "languages": ["en", "de"]}}
PRODUCTS = [{"id": 801, "title": "Green hoodie", "sku": "HOODIE-GREEN-M", "price": "30.00"},
            {"id": 802, "title": "Blue hoodie", "sku": "HOODIE-BLUE-L", "price": "30.00"},
            {"id": 803, "title": "Mug", "sku": "MUG-1", "price": "12.00"}]


@pytest.fixture
def front(tmp_path, db_url, fake_dots, fake_shopify):  # type: ignore[no-untyped-def]
    fake_shopify.products = list(PRODUCTS)
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, shop=FRONT) as made:
        storefront_sync.ensure_jobs(made[0])
        yield made


def impact(fake_shopify):  # type: ignore[no-untyped-def]
    return fake_shopify.value(SHOP_GID.rsplit("/", 1)[-1], key="impact", owner="Shop")


def writes(fake_shopify) -> int:  # type: ignore[no-untyped-def]
    return fake_shopify.owners_written.count(SHOP_GID)


def test_the_metafield_is_the_feed_and_what_each_product_earns(front, fake_shopify, clock):
    ch, client = front
    deliver(client, order_payload(order_id=6900))
    drain(ch)  # the job's first look (nothing issued yet) wrote the empty feed
    assert impact(fake_shopify)["totals"] == []
    clock.now += 60
    run_due(ch)
    value = impact(fake_shopify)
    feed = client.get("/impact/acme.json").json
    assert {k: v for k, v in value.items() if k not in ("texts", "products", "headline")} == feed
    english = ["Saves 1 sea turtle, Plants 1 tree"]
    german = ["1 × Save a Sea Turtle, 1 × Plant a Tree"]
    assert value["texts"] == {"en": english, "de": german, "default": english}
    assert value["headline"] == dict.fromkeys(("en", "de", "default"), "2 × Save a Sea Turtle")
    assert value["products"] == {"801": 0, "802": 0}  # the mug earns nothing (12 < 25): left out


def test_a_quiet_hour_costs_no_call_and_a_change_is_written_within_a_minute(front, fake_shopify, clock):
    ch, client = front
    deliver(client, order_payload(order_id=6910))
    drain(ch)
    clock.now += 60
    run_due(ch)
    assert writes(fake_shopify) == 2  # empty at first, then with the order's impact
    calls = len(fake_shopify.queries)
    for _ in range(60):  # a quiet hour, looked at every minute
        clock.now += 60
        run_due(ch)
    assert len(fake_shopify.queries) == calls  # not even a read: nothing changed
    deliver(client, order_payload(order_id=6911))
    drain(ch)
    clock.now += 60
    run_due(ch)
    assert writes(fake_shopify) == 3
    assert {t["allocation_id"]: t["quantity"] for t in impact(fake_shopify)["totals"]} == {14: 4, 32: 4}


def test_a_held_budget_pauses_the_metafield_too(tmp_path, db_url, fake_dots, fake_shopify, clock):
    shop = {**FRONT, "budget": {"allocations": {14: 3}}}
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, shop=shop) as (ch, client):
        storefront_sync.ensure_jobs(ch)
        deliver(client, order_payload(order_id=6920))
        drain(ch)
        deliver(client, order_payload(order_id=6921))
        clock.now += 60
        run_due(ch)
        assert impact(fake_shopify)["paused"] is True


def test_a_map_over_shopifys_limit_is_left_out_and_the_totals_still_written(front, fake_shopify, caplog):
    ch, _ = front  # 9,000 products, each earning something different: far over 128 KB
    fake_shopify.products = [{"id": 10_000 + n, "title": f"Hoodie {n}", "sku": f"HOODIE-{n}",
                              "price": f"{25 * (n + 1)}.00"} for n in range(9000)]
    started = time.perf_counter()
    run_due(ch)
    value = impact(fake_shopify)
    assert value["products"] == {} and value["texts"] == {} and value["paused"] is False
    assert "over Shopify's 128 KB" in caplog.text
    assert time.perf_counter() - started < 60


def test_no_job_for_a_shop_without_its_storefront_or_in_shadow_mode(
        tmp_path, db_url, fake_dots, fake_shopify):
    for shop in ({}, {**FRONT, "mode": "shadow"}):
        with make_ch(tmp_path, db_url, fake_dots, fake_shopify, shop=shop) as (ch, _):
            storefront_sync.ensure_jobs(ch)
            run_due(ch)
    assert writes(fake_shopify) == 0
