"""Shopify's adapter: the samples normalized, the topic table, privacy payloads, the API version."""
from __future__ import annotations

import time
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from certhook.context import warnings
from certhook.orders import PayloadError
from certhook.platforms import ADAPTERS, Erasure, Topic
from certhook.platforms import shopify_graphql as graphql
from certhook.settings import SHOPIFY_API_VERSION, load_settings

from .helpers import DOMAIN, fixture, order_payload, write_config

SHOPIFY = ADAPTERS["shopify"]
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def test_the_dev_store_sample():
    order = SHOPIFY.normalize("acme", fixture("shopify/orders_paid__dev_store.json"))
    assert (order.order_id, order.order_name, order.currency) == ("5324830114101", "#1010", "USD")
    assert order.customer_id == "" and order.email == "" and not order.test
    assert order.buyer_id == "acme-order-5324830114101"  # a guest with no email
    assert sum(li.total for li in order.line_items) == Decimal("2629.95")


def test_the_test_notification_is_a_test_order():
    order = SHOPIFY.normalize("acme", fixture("shopify/orders_paid__test_notification.json"))
    assert order.test and order.order_id == "820982911946154508"


def test_the_hoodies_order():
    order = SHOPIFY.normalize("acme", order_payload())
    assert order.customer_id == "207119551" and order.customer_name == "Ana Núñez"
    assert [(li.sku, li.quantity) for li in order.line_items] == [("HOODIE-GREEN-M", 2), ("MUG-1", 1)]


@pytest.mark.parametrize(("change", "field"), [
    ({"id": None}, "id: is missing"), ({"id": "9" * 65}, "at most 64 digits"),
    ({"line_items": "x"}, "not a list"),
    ({"line_items": [1]}, "line_items.0"), ({"line_items": [{"quantity": True}]}, "quantity"),
    ({"line_items": [{"quantity": 1, "price": "cheap"}]}, "price"),
])
def test_an_order_it_cannot_read_names_the_field(change, field):
    with pytest.raises(PayloadError, match=field):
        SHOPIFY.normalize("acme", {**order_payload(), **change})


@pytest.mark.parametrize(("topic", "kind"), [
    ("orders/paid", Topic.HANDLED), ("customers/redact", Topic.PRIVACY), ("shop/redact", Topic.PRIVACY),
    ("customers/data_request", Topic.PRIVACY), ("orders/cancelled", Topic.CHANGE),
        ("refunds/create", Topic.CHANGE),
    ("products/update", Topic.UNKNOWN), ("", Topic.UNKNOWN),
])
def test_the_topic_table(topic, kind):
    assert SHOPIFY.topic(topic) == kind


def test_privacy_payloads(tmp_path, db_url):
    shop = load_settings(write_config(tmp_path, db_url, "https://d/api/v1", "https://s/admin")).shops[0]
    whole = {"shop_id": 1, "shop_domain": DOMAIN.upper()}
    assert SHOPIFY.erasure(shop, "shop/redact", whole) == Erasure(whole_shop=True)
    customer = {"id": 7, "email": "a@b.co", "phone": None}
    asked = SHOPIFY.erasure(shop, "customers/redact", {
        "shop_id": 1, "shop_domain": DOMAIN, "orders_to_redact": [1, "2"], "customer": customer})
    assert asked == Erasure(order_ids=("1", "2"), email="a@b.co")
    request = {"shop_id": 1, "shop_domain": DOMAIN, "orders_requested": [1], "customer": customer,
               "data_request": {"id": 9}}
    assert SHOPIFY.erasure(shop, "customers/data_request", request) == Erasure(request_only=True)
    redact = {"shop_id": 1, "shop_domain": DOMAIN, "customer": {}}
    for topic, payload, field in [
            ("shop/redact", {"shop_id": 1}, "shop_domain: is missing"),
            ("shop/redact", {"shop_domain": DOMAIN}, "shop_id: is missing"),
            ("shop/redact", {**whole, "customer": customer}, "^: has a key that is not this topic's"),
            ("shop/redact", {"shop_id": 1, "shop_domain": "other.myshopify.com"}, "not this shop's domain"),
            ("customers/redact", {**redact, "orders_to_redact": 5}, "orders_to_redact: is not a list"),
            ("customers/redact", {**redact, "orders_to_redact": [1, None]}, "orders_to_redact.1: is missing"),
            ("customers/redact", {**redact, "orders_to_redact": [], "customer": "x"},
             "customer: is not an object"),
            ("customers/redact", {**redact, "orders_to_redact": [], "customer": {"id": 1, "x\n": 2}},
             "^customer: has a key that is not this topic's"),
            ("customers/redact", request, "^: has a key that is not this topic's"),
            ("customers/data_request", {**redact, "orders_to_redact": [1]}, "data_request: is missing")]:
        with pytest.raises(PayloadError, match=field):
            SHOPIFY.erasure(shop, topic, payload)


def test_the_default_api_version_is_current_and_a_retired_one_warns(tmp_path, db_url):
    path = write_config(tmp_path, db_url, "https://dots.example/api/v1",
                        "https://acme.myshopify.com/admin/api/2025-07")
    settings = load_settings(path)
    [warning] = warnings(settings, T0.timestamp())
    assert "2025-07" in warning and "retired in 2026-07" in warning and SHOPIFY_API_VERSION in warning
    shop = settings.shops[0]
    current = shop.__class__(**{**shop.__dict__, "api_url": f"https://x/admin/api/{SHOPIFY_API_VERSION}"})
    assert SHOPIFY.warning(current, T0.date()) is None
    assert SHOPIFY.warning(current, date(2027, 10, 1)) is not None  # a year on, it is retired too
    assert SHOPIFY_API_VERSION == "2026-10"


def test_queries_wait_for_the_cost_bucket_instead_of_failing(ch, fake_shopify):
    fake_shopify.bucket = fake_shopify.bucket_max = 360.0  # room for one order query at a time
    for n in range(3):
        fake_shopify.add_order(order_payload(order_id=6200 + n), T0)
    slept: list[float] = []
    budget = graphql.Budget(ch.store(ch.shop("acme")).door,  # type: ignore[attr-defined]
                            sleep=lambda s: (slept.append(s), time.sleep(s)))
    fetched = [SHOPIFY.normalize("acme", graphql.fetch_order(budget, str(6200 + n))) for n in range(3)]
    assert [o.order_id for o in fetched] == ["6200", "6201", "6202"]
    assert fetched[0].line_items[0].sku == "HOODIE-GREEN-M"
    assert slept and all(0 < s < 1 for s in slept)
