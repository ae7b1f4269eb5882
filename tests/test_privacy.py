"""Privacy topics: customers/redact erases every copy of the customer; shop/redact forgets a shop."""
from __future__ import annotations

import json
from decimal import Decimal

from sqlalchemy import func, select

from certhook.models import deliveries, events, items, jobs, orders
from certhook.orders import LineItem, Order
from certhook.store.privacy import Personal

from .helpers import (
    AUTH,
    CERTFUSION_RULE,
    DOMAIN,
    OFFERING_RULES,
    deliver,
    drain,
    fixture,
    make_ch,
    order_of,
    order_payload,
    run_due,
)

PERSONAL = ("ana@example.com", "Ana Núñez", "Núñez", "207119551", "Zoë Ørsted", "zoe@example.com")


def redact(client, order_ids: list[int], email: str = "ana@example.com"):  # type: ignore[no-untyped-def]
    return deliver(client, {"shop_id": 954889, "shop_domain": DOMAIN, "orders_to_redact": order_ids,
                            "customer": {"id": 207119551, "email": email, "phone": None}},
                   topic="customers/redact")


def readable(value: object) -> str:
    """A column as text, JSON decoded so that no escaped character hides a name."""
    text = str(value)
    if text.startswith(("[", "{")):
        text = json.dumps(json.loads(text), ensure_ascii=False)
    return text


def everything_held(ch, order_id: str) -> str:  # type: ignore[no-untyped-def]
    """Every column of the order, its items and its timeline, as one text."""
    with ch.db.read() as conn:
        order = conn.execute(select(orders).where(orders.c.order_id == order_id)).one()
        rows = [order, *conn.execute(select(items).where(items.c.order_pk == order.id)),
                *conn.execute(select(events).where(events.c.order_pk == order.id))]
    return "\n".join(readable(v) for row in rows for v in row)


def test_customers_redact_erases_the_customer_from_their_orders(client, ch):
    deliver(client, order_payload(order_id=1))
    deliver(client, order_payload(order_id=2, email="other@example.com",
                                  customer={"id": 9, "first_name": "Bo", "email": "other@example.com"}))
    drain(ch)
    assert redact(client, [1]).json == {"status": "accepted"}
    first = order_of(client, 1)
    assert first["customer"] == {"name": "", "email": ""}
    assert first["certificates"]  # the certificates themselves stay
    assert not any(p in everything_held(ch, "1") for p in PERSONAL)
    assert order_of(client, 2)["customer"]["email"] == "other@example.com"


def test_every_copy_is_erased_requests_evaluation_and_what_the_buyer_filled_in(
        tmp_path, db_url, fake_dots, fake_shopify, fake_cf):
    rules = OFFERING_RULES + CERTFUSION_RULE.replace('"{title}"', '"{title} for {customer_name}"') \
        .replace('"{order_date}"', '"{email}"')
    payload = order_payload(order_id=4242, line_items=[
        {"id": 1, "sku": "HOODIE-BLUE-S", "title": "Blue Hoodie", "quantity": 1, "price": "40.00"},
        {"id": 2, "sku": "GIFT-TURTLE", "title": "Gift a sea turtle", "quantity": 1, "price": "10.00",
         "properties": [{"name": "Recipient name", "value": "Zoë Ørsted"},
                        {"name": "Recipient email", "value": "zoe@example.com"}]},
        {"id": 3, "sku": "COURSE-AI", "title": "Introduction to AI", "quantity": 1, "price": "99.00"}])
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, rules=rules,
                 certfusion_url=fake_cf.url) as (ch, client):
        deliver(client, payload)
        drain(ch)
        held = everything_held(ch, "4242")
        assert all(p in held for p in ("ana@example.com", "Ana Núñez", "Zoë Ørsted", "zoe@example.com"))
        redact(client, [4242])
        held = everything_held(ch, "4242")
        assert not any(p in held for p in PERSONAL), held
        order = order_of(client, 4242)
        assert order["status"] == "done" and len(order["certificates"]) == 3


def test_an_item_still_waiting_is_issued_without_the_customer(client, ch, fake_dots):
    fake_dots.out_of_balance = True
    deliver(client, order_payload())
    run_due(ch)
    redact(client, [5551234])
    tried = len(fake_dots.requests)  # two tries, answered "out of balance"
    fake_dots.out_of_balance = False
    drain(ch)
    assert order_of(client)["status"] == "done"
    assert len(fake_dots.requests) == tried + 2
    for sent in fake_dots.requests[tried:]:
        assert sent["remote_user_id"] == "acme-order-5551234"
        assert "name_on_certificate" not in sent and "remote_user_email" not in sent
        assert sent["external_unique_id"].startswith("certhook_acme_5551234_")


def test_a_redaction_that_is_not_one_is_refused_and_erases_nothing(client, ch):
    deliver(client, order_payload(order_id=1))
    for body, topic in [
            ({"shop_domain": DOMAIN, "orders_to_redact": 5, "customer": {"email": "ana@example.com"}},
             "customers/redact"),
            (order_payload(order_id=1), "shop/redact"),  # a signed order body, resent as a redaction
            (order_payload(order_id=1), "customers/redact"),
            ({"shop_id": 1, "shop_domain": "another.myshopify.com"}, "shop/redact")]:
        r = deliver(client, body, topic=topic)
        assert r.status_code == 400, (topic, r.json)
    assert order_of(client, 1)["customer"]["email"] == "ana@example.com"
    with ch.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(deliveries)).scalar_one() == 1


def test_shop_redact_deletes_everything_held_for_the_shop(client, ch):
    deliver(client, order_payload(order_id=1))
    drain(ch)
    r = deliver(client, {"shop_id": 954889, "shop_domain": DOMAIN}, topic="shop/redact")
    assert r.json == {"status": "accepted"}
    assert client.get("/api/orders/acme/1", headers=AUTH).status_code == 404
    with ch.db.read() as conn:
        left = [conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (orders, items, events, deliveries)]
        order_jobs = conn.execute(select(func.count()).select_from(jobs)
                                  .where(jobs.c.kind != "reconcile")).scalar_one()
    assert left == [0, 0, 0, 1] and order_jobs == 0  # the one delivery left is the shop/redact


def test_only_what_names_the_customer_is_scrubbed():
    gift = LineItem(id="2", product_id="", variant_id="", sku="GIFT", title="Gift", quantity=1,
                    price=Decimal("10"), properties=(("Gift wrap", "yes"), ("Recipient name", "Zoë")))
    order = Order(shop="acme", order_id="1", order_name="#1", email="ana@example.com",
                  customer_name="Ana Núñez", customer_id="207119551", line_items=(gift,))
    personal = Personal(order)
    request = {"send_email_on_activation_date": "yes", "name_on_certificate": "Zoë", "title": "A turtle",
               "external_unique_id": "certhook_acme_1_offering_2", "remote_user_id": "207119551",
               "custom_fields": {"course": "AI for Ana Núñez", "date": "2026-11-20"}, "quantity": 5}
    assert personal.scrub(request) == {
        "send_email_on_activation_date": "yes", "title": "A turtle",
        "external_unique_id": "certhook_acme_1_offering_2", "custom_fields": {"date": "2026-11-20"},
        "quantity": 5}
    assert personal.scrub(["ANA@example.com", "Plant a Tree"]) == ["", "Plant a Tree"]


def captured_bodies(order_id: int) -> dict[str, tuple[dict[str, object], set[str]]]:
    """One signed body of every kind Shopify sends, each with the topics it belongs under."""
    customer = {"id": 207119551, "email": "ana@example.com", "phone": None}
    privacy = {"shop_id": 954889, "shop_domain": DOMAIN}
    return {
        "paid": (order_payload(order_id=order_id), {"orders/paid"}),
        "test": (fixture("shopify/orders_paid__test_notification.json"), {"orders/paid"}),
        "cancelled": (order_payload(order_id=order_id, cancelled_at="2026-11-20T10:00:00-05:00",
                                    financial_status="voided"), {"orders/paid", "orders/cancelled"}),
        "refund": ({"id": 99, "order_id": order_id, "created_at": "2026-11-20T10:00:00-05:00",
                    "refund_line_items": [{"id": 1, "line_item_id": 866550311766439021, "quantity": 1}],
                    "transactions": []}, {"refunds/create"}),
        "redact": ({**privacy, "customer": customer, "orders_to_redact": [order_id]}, {"customers/redact"}),
        "request": ({**privacy, "customer": customer, "orders_requested": [order_id],
                     "data_request": {"id": 9999}}, {"customers/data_request"}),
        "shop": (privacy, {"shop/redact"}),
    }


def held(ch) -> tuple[object, ...]:  # type: ignore[no-untyped-def]
    """What a delivery could change: the orders, their items and the jobs."""
    with ch.db.read() as conn:
        return tuple(tuple(map(tuple, conn.execute(query).all())) for query in (
            select(orders.c.order_id, orders.c.status, orders.c.cancelled_at, orders.c.refunded,
                   orders.c.email, orders.c.customer_name).order_by(orders.c.id),
            select(items.c.order_pk, items.c.status).order_by(items.c.id),
            select(jobs.c.kind, jobs.c.ref, jobs.c.status).order_by(jobs.c.id)))


def test_every_captured_body_resent_under_every_other_topic_changes_nothing(client, ch):
    deliver(client, order_payload(order_id=5551234))
    run_due(ch)  # evaluated: its items wait to be issued, so a cancellation would show
    bodies = captured_bodies(5551234)
    topics = sorted(set().union(*(own for _, own in bodies.values())))
    before = held(ch)
    for kind, (body, own) in bodies.items():
        for topic in sorted(set(topics) - own):
            r = deliver(client, body, topic=topic)
            assert r.status_code == 400 or r.json["status"] in ("ignored", "duplicate"), (kind, topic)
            assert held(ch) == before, (kind, topic)
    # Each under its own topic does what it says (the bodies above are real ones).
    changed = {}
    for kind, topic in [("request", "customers/data_request"), ("refund", "refunds/create"),
                        ("redact", "customers/redact"), ("cancelled", "orders/cancelled"),
                        ("shop", "shop/redact")]:
        r = deliver(client, bodies[kind][0], topic=topic)
        assert r.status_code == 200, (kind, r.json)
        changed[kind] = held(ch) != before
        before = held(ch)
    assert changed == {"request": False, "refund": True, "redact": True, "cancelled": True, "shop": True}
    assert before[0] == ()  # shop/redact left no order
