"""WooCommerce: ping, trigger statuses, the order normalized, one certificate and exactly one note."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from certhook.evaluation import external_unique_id
from certhook.models import deliveries, orders
from certhook.platforms import woocommerce

from .helpers import AUTH, deliver_woo, drain, woo_order


@pytest.fixture
def woo_store(fake_woo):  # type: ignore[no-untyped-def]
    fake_woo.add_order(woo_order(), datetime(2026, 11, 22, tzinfo=UTC))
    return fake_woo


def recorded(ch) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with ch.db.read() as conn:
        return (conn.execute(select(func.count()).select_from(orders)).scalar_one(),
                conn.execute(select(func.count()).select_from(deliveries)).scalar_one())


def test_the_ping_gets_200_and_records_nothing(client, ch):
    r = client.post("/webhooks/woocommerce", data=b"webhook_id=15",
                    headers={"Content-Type": "application/x-www-form-urlencoded",
                             "X-WC-Webhook-Source": "https://shop.example.com/"})
    assert r.status_code == 200
    assert recorded(ch) == (0, 0)


@pytest.mark.parametrize("case", ["bad signature", "unknown source", "no source", "shopify secret"])
def test_bad_signatures_and_unknown_shops_get_the_same_401(client, ch, case):
    kwargs = {"bad signature": {"secret": "wrong"}, "unknown source": {"source": "https://evil.example/"},
              "no source": {"source": ""}, "shopify secret": {"secret": "acme-webhook-secret"}}[case]
    r = deliver_woo(client, woo_order(), **kwargs)
    assert r.status_code == 401 and r.json == {"error": "unknown shop or bad signature"}
    assert recorded(ch) == (0, 0)


def test_not_a_json_object_is_400(client, ch):
    assert deliver_woo(client, b"[1]").status_code == 400
    assert recorded(ch) == (0, 0)


def test_processing_is_ignored_with_the_default_trigger(client, ch, fake_dots):
    assert deliver_woo(client, woo_order("processing")).json == {"status": "ignored"}
    drain(ch)
    assert recorded(ch) == (0, 1)
    assert fake_dots.posts == 0


def test_other_topics_are_ignored(client, ch):
    assert deliver_woo(client, woo_order(), topic="product.updated").json == {"status": "ignored"}
    assert recorded(ch) == (0, 1)


def test_the_documented_order_completed_goes_all_the_way(client, ch, fake_dots, woo_store):
    assert deliver_woo(client, woo_order()).json == {"status": "accepted"}
    drain(ch)
    order = client.get("/api/orders/woo/727", headers=AUTH).json
    assert order["status"] == "done" and order["order_name"] == "#727"
    # 6.00 + 12.00 spent: 3 trees (per 5)
    assert [(c["allocation_id"], c["impact_qty"]) for c in order["certificates"]] == [(32, 3)]
    assert [r["certificate_info"] for r in fake_dots.requests] == ["727"]
    assert fake_dots.requests[0]["remote_user_id"] == "john.doe@example.com"  # a guest: customer_id 0
    assert fake_dots.requests[0]["name_on_certificate"] == "John Doe"
    meta = woo_store.meta(727, "certhook_certificates")
    assert [m["certificate_id"] for m in meta] == [c["certificate_id"] for c in order["certificates"]]
    assert woo_store.meta(727, "_download_permissions_granted") == "yes"  # other meta left alone
    [note] = woo_store.customer_notes(727)
    assert all(c["certificate_url"] in note["note"] for c in order["certificates"])
    assert order["customer_url"] in note["note"]
    assert woo_store.meta(727, "certhook_customer_url") == order["customer_url"]


def test_three_more_deliveries_and_two_failed_writebacks_one_certificate_one_note(client, ch, fake_dots,
                                                                                   woo_store):
    woo_store.fail_next("500", "500")
    answers = [deliver_woo(client, woo_order()).json["status"] for _ in range(4)]
    assert answers == ["accepted", "duplicate", "duplicate", "duplicate"]
    drain(ch)
    assert fake_dots.count_for(external_unique_id("woo", "727", 32)) == 1
    assert len(fake_dots.certificates) == 1
    assert len(woo_store.customer_notes(727)) == 1
    assert client.get("/api/orders/woo/727", headers=AUTH).json["writeback"]["status"] == "done"
    # The order written again later (a retry by hand) still sends no second note.
    with ch.db.write() as conn:
        conn.execute(orders.update().values(writeback_status="failed"))
    assert client.post("/api/orders/woo/727/retry", headers=AUTH).json["retried"] == 1
    drain(ch)
    assert len(woo_store.customer_notes(727)) == 1


def test_a_note_whose_answer_was_lost_is_not_sent_again(client, ch, woo_store):
    woo_store.fail_next(None, "drop")  # the PUT succeeds; the note is created, its answer lost
    deliver_woo(client, woo_order())
    drain(ch)
    assert woo_store.writes == 3  # PUT, the note (answer lost), PUT again; no second note
    assert len(woo_store.customer_notes(727)) == 1
    assert client.get("/api/orders/woo/727", headers=AUTH).json["status"] == "done"


def test_price_as_number_or_string_and_html_names():
    raw = woo_order()
    raw["line_items"][0]["price"] = "3.00"
    order = woocommerce.normalize("woo", raw)
    assert [li.total for li in order.line_items] == [6, 12]
    assert order.line_items[1].title == "Ship Your Idea – Color: Black, Size: M Test"
    assert order.line_items[1].variant_id == "23" and order.line_items[0].variant_id == ""
    assert order.customer_id == "" and order.email == "john.doe@example.com"
    assert woocommerce.normalize("woo", {**raw, "customer_id": 12}).customer_id == "12"


def test_a_coupon_lowers_the_line_total():
    raw = json.loads(json.dumps(woo_order()))
    raw["line_items"][1].update(total="9.00", price=9)  # 12.00 before the coupon
    assert woocommerce.normalize("woo", raw).line_items[1].total == 9


@pytest.mark.parametrize("source", ["http://[::1", "not a url", "https://", ""])
def test_a_source_that_is_no_url_is_an_unknown_shop(client, ch, source):
    assert deliver_woo(client, woo_order(), source=source).status_code == 401
    assert recorded(ch) == (0, 0)


def test_the_documented_order_normalized():
    order = woocommerce.normalize("woo", woo_order())
    assert (order.order_id, order.order_name, order.currency) == ("727", "#727", "USD")
    assert [(li.sku, li.quantity, li.total) for li in order.line_items] == [("", 2, 6), ("Bar3", 1, 12)]
    assert order.buyer_id == "john.doe@example.com"
