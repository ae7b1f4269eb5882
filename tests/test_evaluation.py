"""The evaluate job: the rules decide what an order earns, recorded before anything is sent."""
from __future__ import annotations

import json

from sqlalchemy import select

from certhook import evaluation
from certhook.evaluation import external_unique_id
from certhook.models import items

from .helpers import AUTH, deliver, drain, make_ch, order_of, order_payload, run_due


def test_each_item_has_its_identity_and_request_before_any_call(client, ch, fake_dots):
    deliver(client, order_payload())
    run_due(ch)  # the evaluation, then the issue job
    with ch.db.read() as conn:
        stored = {r.allocation_id: r for r in conn.execute(select(items))}
    assert stored[14].external_unique_id == "certhook_acme_5551234_14"
    sent = {r["allocation_id"]: r for r in fake_dots.requests}
    for alloc in (14, 32):
        request = json.loads(stored[alloc].request_json)
        assert {k: v for k, v in sent[alloc].items() if k in request} == request  # sent as stored


def test_an_order_that_earns_nothing_is_skipped(client, ch, fake_dots):
    payload = order_payload(line_items=[{"id": 1, "sku": "STICKER", "title": "Sticker", "quantity": 1,
                                         "price": "3.00", "total_discount": "0.00"}])
    deliver(client, payload)
    drain(ch)
    order = order_of(client)
    assert order["status"] == "skipped"
    assert order["reason"] == "the matched rules earned 0"
    assert fake_dots.posts == 0


def test_shadow_mode_records_and_issues_nothing(tmp_path, db_url, fake_dots, fake_shopify):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, shop={"mode": "shadow"}) as (ch, client):
        deliver(client, order_payload())
        drain(ch)
        order = order_of(client)
        assert order["status"] == "skipped"
        assert order["reason"] == "shadow mode: would issue 2 × allocation 14, 2 × allocation 32"
        assert [(e["allocation_id"], e["impact_qty"]) for e in order["earned"]] == [(14, 2), (32, 2)]
        assert fake_dots.posts == 0 and fake_shopify.calls == 0


def test_an_evaluation_that_keeps_crashing_ends_failed_with_its_reason_and_retry_takes_it_up(
        client, ch, fake_dots, monkeypatch):
    real = evaluation.evaluate
    monkeypatch.setattr(evaluation, "evaluate", lambda rules, order: 1 / 0)
    deliver(client, order_payload())
    drain(ch)
    order = order_of(client)
    assert order["status"] == "failed"
    assert order["reason"].startswith("internal error: ZeroDivisionError")
    assert order["certificates"] == [] and fake_dots.posts == 0
    monkeypatch.setattr(evaluation, "evaluate", real)
    r = client.post("/api/orders/acme/5551234/retry", headers=AUTH)
    assert r.json["retried"] == 1 and r.json["order"]["status"] == "pending"
    drain(ch)
    order = order_of(client)
    assert order["status"] == "done" and order["reason"] is None
    assert len(fake_dots.certificates) == 2


def test_a_shop_gone_from_the_settings_fails_its_order_at_once(client, ch, fake_dots, monkeypatch):
    deliver(client, order_payload())
    monkeypatch.setattr(ch, "shop", lambda shop_id: None)
    drain(ch)
    order = order_of(client)
    assert order["status"] == "failed" and order["reason"] == "shop 'acme' is not in the settings any more"


def test_external_ids_are_derived_only_from_shop_order_and_what_was_earned():
    assert external_unique_id("acme", "1", 14) == "certhook_acme_1_14"
    assert external_unique_id("acme", "1", "offering_7") == "certhook_acme_1_offering_7"
    long = external_unique_id("s" * 64, "9" * 64, "offering_" + "x" * 200)
    assert len(long) <= 255 and long == external_unique_id("s" * 64, "9" * 64, "offering_" + "x" * 200)
    assert long != external_unique_id("s" * 64, "9" * 64, "offering_" + "y" * 200)
