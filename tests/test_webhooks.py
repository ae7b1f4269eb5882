"""POST /webhooks/<platform>: verify, record, answer; bad input gets a clear answer and leaves no trace."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from certhook.models import deliveries, jobs, orders

from .helpers import DOMAIN, deliver, drain, fixture, order_payload, signed_shopify


def traces(ch) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    with ch.db.read() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar_one()  # type: ignore[return-value]
                     for t in (orders, jobs, deliveries))


def test_accepted_then_duplicate(client, ch):
    assert deliver(client, order_payload()).json == {"status": "accepted"}
    assert deliver(client, order_payload()).json == {"status": "duplicate"}
    assert traces(ch) == (1, 1, 2)


@pytest.mark.parametrize("case", ["bad signature", "missing signature", "non-ascii signature",
                                  "unknown shop",
                                  "other shop's secret", "signed other body"])
def test_signature_problems_get_the_same_401_and_leave_no_trace(client, ch, case):
    body, headers = signed_shopify(order_payload())
    if case == "bad signature":
        headers["X-Shopify-Hmac-Sha256"] = "AAAA" + headers["X-Shopify-Hmac-Sha256"][4:]
    elif case == "missing signature":
        del headers["X-Shopify-Hmac-Sha256"]
    elif case == "non-ascii signature":
        headers["X-Shopify-Hmac-Sha256"] = "é" * 44
    elif case == "unknown shop":
        headers["X-Shopify-Shop-Domain"] = "evil.myshopify.com"
    elif case == "other shop's secret":
        body, headers = signed_shopify(order_payload(), secret="not-the-secret")
    else:
        body = body.replace(b"5551234", b"5551235")
    r = client.post("/webhooks/shopify", data=body, headers=headers)
    assert r.status_code == 401
    assert r.json == {"error": "unknown shop or bad signature"}
    assert traces(ch) == (0, 0, 0)


@pytest.mark.parametrize("body", [b"not json", b"[1, 2, 3]", b'"a string"', b"\xff\xfe", b"",
                                  b"[" * 100_000, b"null"])
def test_a_body_that_is_not_a_json_object_gets_400(client, ch, body):
    body, headers = signed_shopify(body)
    r = client.post("/webhooks/shopify", data=body, headers=headers)
    assert r.status_code == 400
    assert traces(ch) == (0, 0, 0)


def test_an_unreadable_order_read_whole_at_the_door_gets_400(client, ch):
    """A cancellation is read whole at the door (a plain paid order's lines are read by its
    evaluation: tests/test_door.py)."""
    r = deliver(client, order_payload(line_items=[{"id": 1, "quantity": "two", "price": "1"}]),
                topic="orders/cancelled")
    assert r.status_code == 400
    assert "line_items.0.quantity" in r.json["error"]
    assert traces(ch) == (0, 0, 0)


def test_two_mib_gets_413_before_anything_else(client, ch):
    big = json.dumps({"id": 1, "pad": "x" * (2 * 1024 * 1024)}).encode()
    body, headers = signed_shopify(big)
    r = client.post("/webhooks/shopify", data=body, headers=headers)
    assert r.status_code == 413
    assert traces(ch) == (0, 0, 0)


def test_far_over_the_limit_is_refused_without_reading(client, ch):
    body, headers = signed_shopify(b"x" * (9 * 1024 * 1024))
    assert client.post("/webhooks/shopify", data=body, headers=headers).status_code == 413
    assert traces(ch) == (0, 0, 0)


def test_just_under_a_mebibyte_is_accepted(client, ch):
    payload = order_payload(note="")
    room = 1024 * 1024 - len(json.dumps(payload).encode())
    payload["note"] = "x" * room
    body, headers = signed_shopify(payload)
    assert len(body) == 1024 * 1024
    assert client.post("/webhooks/shopify", data=body, headers=headers).json == {"status": "accepted"}


def test_the_shop_domain_header_is_case_insensitive(client, ch):
    r = deliver(client, order_payload(), domain=DOMAIN.upper())
    assert r.json == {"status": "accepted"}


def test_shopify_test_notification_is_ignored_and_issues_nothing(client, ch, fake_dots):
    r = deliver(client, fixture("shopify/orders_paid__test_notification.json"))
    assert r.json == {"status": "ignored"}
    drain(ch)
    assert traces(ch) == (0, 0, 1)
    with ch.db.read() as conn:
        assert conn.execute(select(deliveries.c.reason)).scalar() == "test order"
    assert fake_dots.posts == 0


@pytest.mark.parametrize("topic", ["orders/create", "orders/updated",
                                   "x/unknown"])
def test_other_topics_are_recorded_as_ignored(client, ch, topic):
    r = deliver(client, order_payload(), topic=topic)
    assert r.status_code == 200 and r.json == {"status": "ignored"}
    assert traces(ch) == (0, 0, 1)


def test_the_dev_store_sample_goes_through_the_whole_path(client, ch, fake_dots, fake_shopify):
    assert deliver(client, fixture("shopify/orders_paid__dev_store.json")).json == {"status": "accepted"}
    drain(ch)
    # 2629.95 spent: 105 trees (per 25). The guest has no customer and no email.
    [cert] = fake_dots.certificates
    assert cert["impact_qty"] == "105" and cert["certificate_info"] == "5324830114101"
    assert cert["remote_user_id"] == "acme-order-5324830114101"
    assert fake_shopify.value("5324830114101")[0]["quantity"] == 105


def test_an_unknown_platform_is_404(client, ch):
    body, headers = signed_shopify(order_payload())
    assert client.post("/webhooks/magento", data=body, headers=headers).status_code == 404
    assert traces(ch) == (0, 0, 0)
