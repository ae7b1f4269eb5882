"""Orders change after payment: cancellations and refunds, before and after issuing, and the
hold period. Nothing is issued where nothing may be; what was issued stays issued."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from certhook import pipeline
from certhook.models import items
from certhook.reconcile import sync

from .helpers import (
    AUTH,
    deliver,
    deliver_woo,
    drain,
    make_ch,
    order_of,
    order_payload,
    run_due,
    sign_in,
    woo_order,
)

HOODIES, MUG = 866550311766439020, 866550311766439021


def cancelled(order_id: int = 5551234, financial_status: str = "paid") -> dict[str, Any]:
    return order_payload(order_id=order_id, cancelled_at="2026-11-22T10:00:00-05:00",
                         financial_status=financial_status, cancel_reason="customer")


def refund(order_id: int = 5551234, *lines: tuple[int, int]) -> dict[str, Any]:
    return {"id": 509562969, "order_id": order_id, "created_at": "2026-11-22T10:00:00-05:00",
            "refund_line_items": [{"id": n, "line_item_id": line, "quantity": qty}
                                  for n, (line, qty) in enumerate(lines, 1)],
            "transactions": [{"kind": "refund", "status": "success", "amount": "10.00"}]}


def item_statuses(ch) -> list[str]:  # type: ignore[no-untyped-def]
    with ch.db.read() as conn:
        return sorted(conn.execute(select(items.c.status)).scalars())


def test_cancelled_before_anything_ran_issues_nothing(client, ch, fake_dots):
    deliver(client, order_payload())
    assert deliver(client, cancelled(), topic="orders/cancelled").json == {"status": "accepted"}
    drain(ch)
    order = order_of(client)
    assert order["status"] == "cancelled" and order["cancelled_at"] and order["refunded"] == "none"
    assert order["certificates"] == [] and fake_dots.posts == 0
    assert "cancelled before anything was issued" in order["reason"]


def test_cancelled_after_evaluation_cancels_every_item_not_sent(client, ch, fake_dots):
    deliver(client, order_payload())
    job = ch.queue.claim("t", ch.now())
    pipeline.HANDLERS[job.kind].run(ch, job)  # evaluated: two items, pending, none sent
    with ch.db.write() as conn:  # the issue job it handed on is not started
        ch.queue.release(conn, [j.owner for j in job.then], ch.now())
    assert item_statuses(ch) == ["pending", "pending"]
    deliver(client, cancelled(financial_status="refunded"), topic="orders/cancelled")
    drain(ch)
    assert item_statuses(ch) == ["cancelled", "cancelled"] and fake_dots.posts == 0
    order = order_of(client)
    assert (order["status"], order["refunded"]) == ("cancelled", "full")
    assert client.post("/api/orders/acme/5551234/retry", headers=AUTH).status_code == 200
    drain(ch)  # a Retry issues nothing either
    assert order_of(client)["status"] == "cancelled" and fake_dots.posts == 0


def test_cancelled_after_issuing_keeps_the_certificates_and_says_what_they_cost(client, ch, fake_dots):
    deliver(client, order_payload())
    drain(ch)
    assert order_of(client)["status"] == "done"
    deliver(client, cancelled(), topic="orders/cancelled")
    drain(ch)
    order = order_of(client)
    assert order["status"] == "done" and order["cancelled_at"] is not None
    assert [c["status"] for c in order["certificates"]] == ["issued", "issued"]
    assert len(fake_dots.certificates) == 2
    sign_in(client)
    page = client.get("/orders/acme/5551234").text
    assert "cancelled after issuing" in page
    day = datetime.fromtimestamp(ch.now(), UTC).date().isoformat()
    impact = client.get(f"/impact?from={day}&to={day}").text
    assert "Issued, then cancelled" in impact and "2 × Save a Sea Turtle" in impact


def test_a_redelivered_payment_after_a_cancellation_issues_nothing(client, ch, fake_dots):
    deliver(client, order_payload())
    deliver(client, cancelled(), topic="orders/cancelled")
    assert deliver(client, {**order_payload(), "note": "again"}).json == {"status": "duplicate"}
    drain(ch)
    assert order_of(client)["status"] == "cancelled" and fake_dots.posts == 0


@pytest.mark.parametrize(("financial_status", "kept"), [("paid", True), ("refunded", True),
                                                        ("pending", False), ("voided", False)])
def test_a_cancellation_before_its_payment_webhook(client, ch, fake_dots, financial_status, kept):
    """A paid order cancelled before certhook heard of it is kept as cancelled, so the late
    (or retried) orders/paid issues nothing; an order never paid is not recorded at all."""
    answer = deliver(client, cancelled(financial_status=financial_status), topic="orders/cancelled")
    assert answer.json == {"status": "accepted" if kept else "ignored"}
    late = deliver(client, order_payload())
    drain(ch)
    if kept:
        assert late.json == {"status": "duplicate"} and order_of(client)["status"] == "cancelled"
        assert fake_dots.posts == 0
    else:
        assert late.json == {"status": "accepted"} and order_of(client)["status"] == "done"


def test_a_paid_webhook_that_says_cancelled_issues_nothing(client, ch, fake_dots):
    assert deliver(client, cancelled()).json == {"status": "accepted"}
    drain(ch)
    assert order_of(client)["status"] == "cancelled" and fake_dots.posts == 0


def test_a_partial_refund_only_says_so(client, ch, fake_dots):
    deliver(client, order_payload())
    assert deliver(client, refund(5551234, (MUG, 1)), topic="refunds/create").json == {"status": "accepted"}
    drain(ch)
    order = order_of(client)
    assert (order["status"], order["refunded"], order["cancelled_at"]) == ("done", "partial", None)
    assert len(fake_dots.certificates) == 2
    assert deliver(client, refund(5551234, (MUG, 1)), topic="refunds/create").json == {"status": "duplicate"}


def test_a_refund_of_every_line_before_issuing_is_a_cancellation(client, ch, fake_dots):
    deliver(client, order_payload())
    deliver(client, refund(5551234, (HOODIES, 2), (MUG, 1)), topic="refunds/create")
    drain(ch)
    order = order_of(client)
    assert (order["status"], order["refunded"]) == ("cancelled", "full") and fake_dots.posts == 0


def test_a_refund_of_an_order_never_seen_is_ignored(client, ch):
    assert deliver(client, refund(777, (1, 1)), topic="refunds/create").json == {"status": "ignored"}


def test_hold_minutes_wait_then_issue(tmp_path, db_url, fake_dots, fake_shopify):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, shop={"hold_minutes": 30}) as (ch, client):
        deliver(client, order_payload())
        run_due(ch)
        order = order_of(client)
        until = datetime.fromtimestamp(ch.now() + 1800, UTC).strftime("%H:%M")
        assert order["status"] == "held" and order["reason"] == f"hold until {until} UTC"
        assert fake_dots.posts == 0
        ch.clock.now += 1801
        drain(ch)
        assert order_of(client)["status"] == "done" and len(fake_dots.certificates) == 2


def test_cancelled_within_the_hold_issues_nothing(tmp_path, db_url, fake_dots, fake_shopify):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, shop={"hold_minutes": 30}) as (ch, client):
        deliver(client, order_payload())
        ch.clock.now += 600
        deliver(client, cancelled(), topic="orders/cancelled")
        ch.clock.now += 1801
        drain(ch)
        assert order_of(client)["status"] == "cancelled" and fake_dots.posts == 0


def test_woocommerce_cancelled_refunded_and_partly_refunded(client, ch, fake_dots, fake_woo):
    fake_woo.add_order(woo_order(id=903), datetime(2026, 11, 22, tzinfo=UTC))  # for its write-back
    deliver_woo(client, woo_order(id=901))
    deliver_woo(client, woo_order("cancelled", id=901))
    deliver_woo(client, woo_order(id=902))
    deliver_woo(client, woo_order("refunded", id=902))
    deliver_woo(client, woo_order(id=903, refunds=[{"id": 1, "reason": "", "total": "-2.00"}]))
    assert deliver_woo(client, woo_order("cancelled", id=904)).json == {"status": "ignored"}  # never paid
    drain(ch)
    states = {n: (o["status"], o["refunded"]) for n in (901, 902, 903)
              for o in [order_of(client, n, shop="woo")]}
    assert states == {901: ("cancelled", "none"), 902: ("cancelled", "full"), 903: ("done", "partial")}
    assert client.get("/api/orders/woo/904", headers=AUTH).status_code == 404
    assert len(fake_dots.certificates) == 1  # 903's trees only


def test_reconciliation_leaves_an_order_cancelled_at_the_store(client, ch, fake_dots, fake_shopify):
    fake_shopify.add_order(cancelled(order_id=6301), datetime(2026, 11, 22, 15, tzinfo=UTC))
    fake_shopify.add_order(order_payload(order_id=6302), datetime(2026, 11, 22, 15, tzinfo=UTC))
    day = datetime(2026, 11, 22, tzinfo=UTC)
    summary = sync(ch, ch.shop("acme"), day, day.replace(day=23))
    assert summary.enqueued == 1
    assert client.get("/api/orders/acme/6301", headers=AUTH).status_code == 404


def test_cancelling_a_partly_issued_order_writes_back_what_was_issued(tmp_path, db_url, fake_dots,
                                                                      fake_shopify):
    """One item issued, the other held by a budget: the cancellation cancels the held one, and
    the issued certificate is still written onto the order, which is done."""
    budget = {"budget": {"allocations": {14: 1}}}  # a hoodie order earns 2 turtles: held
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, shop=budget) as (ch, client):
        deliver(client, order_payload())
        run_due(ch)
        order = order_of(client)
        assert {c["allocation_id"]: c["status"] for c in order["certificates"]} == {14: "held", 32: "issued"}
        assert order["status"] == "held" and order["writeback"] is None
        deliver(client, cancelled(), topic="orders/cancelled")
        run_due(ch)  # not a month later: at once
        order = order_of(client)
    assert {c["allocation_id"]: c["status"] for c in order["certificates"]} == {14: "cancelled", 32: "issued"}
    assert order["status"] == "done" and order["writeback"] == {"status": "done", "error": None}
    assert order["cancelled_at"] is not None
    [written] = fake_shopify.value("5551234")
    issued = next(c for c in order["certificates"] if c["allocation_id"] == 32)
    assert written["certificate_id"] == issued["certificate_id"]
