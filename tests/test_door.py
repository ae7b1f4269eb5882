"""Hostile input at the webhook door: validly signed bodies that are not what they claim to be.

A body that doesn't say which order it is, or whose, gets a 400 naming the field (never a 500)
and leaves no row behind. A paid order the door can tell apart is recorded as sent: its
evaluation reads the rest, and fails it naming the field, on the dashboard rather than lost.
"""
from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from certhook.models import deliveries, jobs, orders

from .helpers import (
    WOO_SECRET,
    deliver,
    deliver_woo,
    drain,
    order_of,
    order_payload,
    sign,
    signed_shopify,
    woo_order,
)


def rows(ch) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    with ch.db.read() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar_one()  # type: ignore[return-value]
                     for t in (orders, deliveries, jobs))


def line(**change: Any) -> dict[str, Any]:
    payload = order_payload(order_id=3001)
    payload["line_items"][0].update(change)
    return payload


@pytest.mark.parametrize(("payload", "field"), [
    ({**order_payload(order_id=3001), "email": "ana\x00@example.com"}, "email: contains a NUL"),
    ({**order_payload(order_id=3001), "id": "../../etc/passwd"}, "id: is not a whole number"),
    ({**order_payload(order_id=3001), "id": [1]}, "id: is not a whole number"),
    ({**order_payload(order_id=3001), "id": 1.5}, "id: is not a whole number"),
    ({**order_payload(order_id=3001), "id": "5551234.0"}, "id: is not a whole number"),
    ({**order_payload(order_id=3001), "id": -5}, "id: is not a positive whole number"),
    ({**order_payload(order_id=3001), "id": 0}, "id: is not a positive whole number"),
    ({**order_payload(order_id=3001), "customer": [1]}, "customer: is not an object"),
    ({"shop_id": 1, "shop_domain": "acme.myshopify.com"}, "id: is missing"),  # not an order
])
def test_a_signed_order_that_is_not_one_gets_400_naming_the_field_and_leaves_no_row(
        client, ch, payload, field):
    r = deliver(client, payload)
    assert r.status_code == 400 and field in r.json["error"], r.json
    assert rows(ch) == (0, 0, 0)


@pytest.mark.parametrize(("payload", "field"), [
    (line(quantity=10**30), "line_items.0.quantity: is not a whole number from 0 to 1000000"),
    (line(quantity=-1), "line_items.0.quantity"),
    (line(quantity=1.5), "line_items.0.quantity"),
    (line(price="1e1000000"), "line_items.0.price: is not a finite amount"),
    (line(price="NaN"), "line_items.0.price"),
    (line(total_discount=[1]), "line_items.0.total_discount"),
    (line(sku={"a": 1}), "line_items.0.sku: is not text"),
    (line(title="Hoodie\x00"), "line_items.0.title: contains a NUL"),
    ({**order_payload(order_id=3001), "line_items": {"0": {}}}, "line_items: is not a list"),
])
def test_a_paid_order_whose_lines_cannot_be_read_is_recorded_and_fails_naming_the_field(
        client, ch, payload, field):
    r = deliver(client, payload)
    assert r.status_code == 200 and r.json == {"status": "accepted"}
    drain(ch)
    order = order_of(client, 3001)
    assert order["status"] == "failed" and order["certificates"] == []
    assert order["reason"].startswith(f"cannot read the order: {field}"), order["reason"]
    assert deliver(client, payload).json == {"status": "duplicate"}


def test_a_lone_surrogate_gets_400_not_500(client, ch):
    body = json.dumps(order_payload(order_id=3002)).replace('"Ana"', '"\\ud800na"').encode()
    assert b"\\ud800" in body
    body, headers = signed_shopify(body)
    r = client.post("/webhooks/shopify", data=body, headers=headers)
    assert r.status_code == 400 and "customer.first_name: is not valid Unicode" in r.json["error"]
    assert rows(ch) == (0, 0, 0)


@pytest.mark.parametrize(("change", "field"), [
    ({"id": "727abc"}, "id: is not a whole number"),
    ({"billing": {"first_name": "A\x00"}}, "billing.first_name: contains a NUL"),
    ({"billing": "Ana"}, "billing: is not an object"),
])
def test_a_signed_woocommerce_order_that_is_not_one_gets_400(client, ch, change, field):
    r = deliver_woo(client, woo_order(**change))
    assert r.status_code == 400 and field in r.json["error"], r.json
    assert rows(ch) == (0, 0, 0)


@pytest.mark.parametrize(("change", "field"), [
    ({"line_items": [{"id": 1, "quantity": 1, "price": "1e1000000"}]}, "line_items.0.price"),
    ({"line_items": [{"id": 1, "quantity": 1, "price": 6, "total": "Infinity"}]}, "line_items.0.total"),
    ({"line_items": [{"id": 1, "quantity": 10**30, "price": 1}]}, "line_items.0.quantity"),
    ({"currency": ["EUR"]}, "currency: is not text"),
])
def test_a_completed_woocommerce_order_whose_lines_cannot_be_read_fails_naming_the_field(
        client, ch, change, field):
    r = deliver_woo(client, woo_order(**change))
    assert r.status_code == 200 and r.json == {"status": "accepted"}
    drain(ch)
    order = order_of(client, 727, shop="woo")
    assert order["status"] == "failed" and order["reason"].startswith(f"cannot read the order: {field}")


def test_an_unsigned_request_with_a_broken_source_url_is_401(client, ch):
    body = json.dumps(woo_order()).encode()
    for source in ("http://[::1", "http://[", "://", "\x7f"):
        r = client.post("/webhooks/woocommerce", data=body, headers={
            "X-WC-Webhook-Source": source, "X-WC-Webhook-Topic": "order.updated",
            "Content-Type": "application/json"})
        assert r.status_code == 401
        r = client.post("/webhooks/woocommerce", data=body, headers={
            "X-WC-Webhook-Source": source, "X-WC-Webhook-Signature": sign(body, WOO_SECRET)})
        assert r.status_code == 401
    assert rows(ch) == (0, 0, 0)


def test_ids_are_normalized_so_one_order_is_one_order(client, ch, fake_dots):
    assert deliver(client, order_payload(order_id=5551234)).json == {"status": "accepted"}
    assert deliver(client, {**order_payload(order_id=5551234), "id": "0005551234"}).json == \
        {"status": "duplicate"}
    assert deliver(client, {**order_payload(order_id=5551234), "id": "5551234"}).json == \
        {"status": "duplicate"}
    drain(ch)
    assert len(fake_dots.certificates) == 2  # the turtle and the trees, once


@pytest.mark.parametrize(("test", "outcome"), [
    (True, "ignored"), ("false", "accepted"), ("true", "accepted"), (1, "accepted"), (None, "accepted")])
def test_only_a_literal_true_makes_a_test_order(client, ch, test, outcome):
    assert deliver(client, order_payload(order_id=3003, test=test)).json == {"status": outcome}


def test_a_repeated_event_id_is_a_duplicate_whatever_its_body(client, ch):
    body, headers = signed_shopify(order_payload(order_id=3004))
    assert client.post("/webhooks/shopify", data=body, headers=headers).json == {"status": "accepted"}
    other, other_headers = signed_shopify(order_payload(order_id=3005))
    other_headers["X-Shopify-Event-Id"] = headers["X-Shopify-Event-Id"]
    assert client.post("/webhooks/shopify", data=other, headers=other_headers).json == \
        {"status": "duplicate"}
    assert order_of(client, 3004)["status"] == "pending"
    with ch.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(orders)).scalar_one() == 1
