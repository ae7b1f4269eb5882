"""Property-based fuzzing of both webhook doors, with valid signatures.

A real order's fields are swapped for hostile values (huge and negative numbers, NaN, NUL, lone
surrogates, lists where text belongs, decimal overflows) under the store's own topics. Whatever
comes in: no 5xx, no row left by a 400, and every accepted order settles (done, skipped,
cancelled or failed), never pending for ever. `make fuzz` runs many more examples (FUZZ_EXAMPLES).
"""
from __future__ import annotations

import copy
import json
import os
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from certhook.models import deliveries, jobs, orders

from .helpers import DOMAIN, drain, order_payload, signed_shopify, signed_woo, woo_order

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "1000"))  # per door and database
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

HOSTILE = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40), st.sampled_from([0, 1, -1, 10**30, 2**63]),
    st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(),
    st.text(st.one_of(st.characters(exclude_categories=()),  # NUL and every other, and
                      st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF,  # lone surrogates
                                    exclude_categories=())), max_size=20),
    st.sampled_from(["1e1000000", "-1e1000000", "NaN", "Infinity", "5551234.0", "../../etc/passwd",
                     "0005551234", "", " 12 ", "\x00", "\ud800", "true", "false", "1E+2", "0x10"]),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
SHOPIFY_PATHS = ["id", "name", "email", "currency", "test", "order_number", "customer",
                 "customer.id", "customer.email", "customer.first_name", "line_items",
                 "line_items.0", "line_items.0.id", "line_items.0.quantity", "line_items.0.price",
                 "line_items.0.sku", "line_items.0.title", "line_items.0.total_discount",
                 "line_items.0.gift_card", "line_items.0.properties", "line_items.0.product_id",
                 "shop_domain", "orders_to_redact", "orders_to_redact.0", "cancelled_at",
                 "financial_status", "order_id", "refund_line_items", "refund_line_items.0.quantity"]
WOO_PATHS = ["id", "number", "status", "currency", "customer_id", "billing", "billing.email",
             "billing.first_name", "line_items", "line_items.0", "line_items.0.id",
             "line_items.0.quantity", "line_items.0.price", "line_items.0.total",
             "line_items.0.name", "line_items.0.sku", "line_items.0.meta_data",
             "line_items.0.variation_id", "refunds"]
WOO_STATUSES = ["completed", "completed", "processing", "pending", "cancelled", "refunded"]
SHOPIFY_TOPICS = ["orders/paid", "orders/paid", "orders/paid", "customers/redact", "shop/redact",
                  "orders/cancelled", "refunds/create", "customers/data_request", "no/such-topic"]


def put(payload: Any, path: str, value: Any) -> None:
    """Set payload[path] (dotted; list indexes as numbers) where the path exists or can."""
    *parents, last = path.split(".")
    for key in parents:
        if isinstance(payload, list):
            payload = payload[0] if payload else None
        else:
            payload = payload.get(key)
        if not isinstance(payload, dict | list):
            return
    if isinstance(payload, list):
        if payload:
            payload[0] = value
    else:
        payload[last] = value


def shopify_base(topic: str, order_id: int) -> dict[str, Any]:
    if topic == "customers/redact":
        return {"shop_id": 1, "shop_domain": DOMAIN, "customer": {"id": 1, "email": "ana@example.com"},
                "orders_to_redact": [order_id]}
    if topic == "shop/redact":
        return {"shop_id": 1, "shop_domain": DOMAIN}
    if topic == "refunds/create":
        return {"id": 1, "order_id": order_id, "refund_line_items": [
            {"id": 1, "line_item_id": 866550311766439021, "quantity": 1}]}
    return order_payload(order_id=order_id)


def counts(ch) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    with ch.db.read() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar_one()
                     for t in (orders, deliveries, jobs))


def knock(ch, client, url: str, body: bytes, headers: dict[str, str],  # type: ignore[no-untyped-def]
          seen: Counter[str]) -> None:
    before = counts(ch)
    r = client.post(url, data=body, headers=headers)
    assert r.status_code in (200, 400), (r.status_code, body[:300])
    seen[r.json.get("status") or str(r.status_code)] += 1
    if r.status_code == 400:
        assert "error" in r.json and counts(ch) == before, body[:300]


def settles(ch, seen: Counter[str]) -> None:  # type: ignore[no-untyped-def]
    assert seen["accepted"] and seen["400"], seen  # both doors were tried, and passed
    drain(ch, max_jobs=20_000)
    with ch.db.read() as conn:
        left = conn.execute(select(orders.c.order_id, orders.c.status).where(
            orders.c.status.not_in(["done", "skipped", "failed", "cancelled"]))).all()
    assert left == []


def test_shopify_door(ch, client):
    @FUZZ
    @given(topic=st.sampled_from(SHOPIFY_TOPICS), order_id=st.integers(1, 40),
           changes=st.lists(st.tuples(st.sampled_from(SHOPIFY_PATHS), HOSTILE), max_size=3))
    def one(topic: str, order_id: int, changes: list[tuple[str, Any]]) -> None:
        payload = copy.deepcopy(shopify_base(topic, order_id))
        for path, value in changes:
            put(payload, path, value)
        body, headers = signed_shopify(json.dumps(payload).encode(), topic=topic)
        knock(ch, client, "/webhooks/shopify", body, headers, seen)

    seen: Counter[str] = Counter()
    one()
    settles(ch, seen)


def test_woocommerce_door(ch, client):
    @FUZZ
    @given(order_id=st.integers(1, 40), status=st.sampled_from(WOO_STATUSES),
           changes=st.lists(st.tuples(st.sampled_from(WOO_PATHS), HOSTILE), max_size=3))
    def one(order_id: int, status: str, changes: list[tuple[str, Any]]) -> None:
        payload = copy.deepcopy(woo_order(status=status, id=order_id))
        for path, value in changes:
            put(payload, path, value)
        body, headers = signed_woo(json.dumps(payload).encode())
        knock(ch, client, "/webhooks/woocommerce", body, headers, seen)

    seen: Counter[str] = Counter()
    one()
    settles(ch, seen)
