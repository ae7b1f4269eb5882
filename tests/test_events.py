"""Events out, against a local receiver that verifies each with the standardwebhooks package:
every type arrives once per endpoint, as the OpenAPI document's `webhooks` describe it; the
`types` filter and include_customer hold; retries keep the id and body; 410 disables; nothing
is told of shadow or test orders."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from certhook.balance import ensure_balance
from certhook.web.openapi import document

from .fakes.receiver import SECRET
from .helpers import (
    AUTH,
    csrf,
    deliver,
    drain,
    endpoint,
    make_ch,
    order_of,
    order_payload,
    outbox_rows,
    run_due,
    send_events,
    sign_in,
)

OTHER_SECRET = "whsec_" + "c2Vjb25kLXNlY3JldC0yNC1ieXRlcyEh"  # 24 bytes too
BUDGET = {"budget": {"allocations": {14: 3}, "warn_at": 0.5}}  # 3 turtles; a hoodie order earns 2
DOC = document()


def documented(event: dict[str, Any]) -> None:
    """The event is one the OpenAPI document's webhooks section describes."""
    schema = DOC["webhooks"][event["type"]]["post"]["requestBody"]["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**schema, "components": DOC["components"]})
    errors = sorted(validator.iter_errors(event), key=str)
    assert not errors, f"{event['type']}: {errors[0].message} at {list(errors[0].path)}"


def test_every_type_arrives_verifies_and_is_documented(tmp_path, db_url, fake_dots, fake_shopify,
                                                       receiver):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, events=[endpoint(receiver)],
                 shop=BUDGET) as (ch, client):
        ch.clock.now = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
        deliver(client, order_payload(order_id=1))  # 2 turtles of 3: past warn_at
        drain(ch)
        deliver(client, order_payload(order_id=2))  # no room: held, the cap is reached
        run_due(ch)
        assert order_of(client, 2)["status"] == "held"
        deliver(client, order_payload(order_id=3))
        deliver(client, order_payload(order_id=3, cancelled_at="2026-11-22T10:00:00-05:00"),
                topic="orders/cancelled")
        ensure_balance(ch)
        ch.clock.now = datetime(2026, 12, 5, tzinfo=UTC).timestamp()
        for balance in ("300", "60", "55"):  # 240 spent in 10 days: 2.5 days left; the same day
            fake_dots.balance = (200, {"balance": balance})
            run_due(ch)
            ch.clock.now += 10 * 86400 if balance == "300" else 15 * 60 + 1
        send_events(ch)
        events = receiver.events()  # each verified with the standardwebhooks package
    for event in events:
        documented(event)
    by_type = {e["type"]: e for e in events}
    assert [e["type"] for e in events].count("order.issued") == 1
    assert set(by_type) == {"order.issued", "budget.warning", "budget.reached", "order.cancelled",
                            "balance.low"}
    assert by_type["budget.warning"]["data"] == {"shop": "acme", "target": "allocation:14", "used": 2,
                                                 "cap": 3, "month": "2026-12"}
    assert by_type["budget.reached"]["data"]["used"] == 2 and by_type["budget.reached"]["data"]["cap"] == 3
    assert by_type["order.cancelled"]["data"]["order_id"] == "3"
    assert by_type["order.cancelled"]["data"]["status"] == "cancelled"
    assert by_type["balance.low"]["data"] == {"issuer": "dots", "balance": 60.0, "days_left": 2.5}
    assert [e["type"] for e in events].count("balance.low") == 1  # at most once a day


def test_order_issued_is_the_order_as_the_api_shows_it_once(tmp_path, db_url, fake_dots, fake_shopify,
                                                             receiver):
    plain, full = endpoint(receiver, "/plain"), endpoint(receiver, "/full", include_customer=True)
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, events=[plain, full]) as (ch, client):
        deliver(client, order_payload())
        drain(ch)
        send_events(ch)
        api = order_of(client)
        deliver(client, order_payload())  # a duplicate delivery, and a Retry of a done order
        client.post("/api/orders/acme/5551234/retry", headers=AUTH)
        drain(ch)
        send_events(ch)
    assert all(r.headers["user-agent"].startswith("certhook/") for r in receiver.received)
    assert len({r.headers["webhook-id"] for r in receiver.received}) == len(receiver.received) == 2
    by_path = {r.path: json.loads(r.body) for r in receiver.received}
    for event in by_path.values():
        documented(event)
        assert event["type"] == "order.issued"
    assert api["status"] == "done" and all(c["certificate_url"] for c in api["certificates"])
    assert by_path["/full"]["data"] == api  # exactly as the API answers it
    assert by_path["/plain"]["data"] == {**api, "customer": None}


def test_an_order_whose_write_back_fails_tells_issued_and_failed_once(tmp_path, db_url, fake_dots,
                                                                      fake_shopify, receiver):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, events=[endpoint(receiver)]) as (ch, client):
        fake_shopify.fail_next(*["500"] * ch.settings.max_attempts)
        deliver(client, order_payload())
        drain(ch)
        send_events(ch)
        assert order_of(client)["status"] == "failed"
        client.post("/api/orders/acme/5551234/retry", headers=AUTH)  # the store is back
        drain(ch)
        send_events(ch)
        assert order_of(client)["status"] == "done"
    events = receiver.events()
    assert [e["type"] for e in events] == ["order.issued", "order.failed"]
    issued, failed = (e["data"] for e in events)
    assert all(c["status"] == "issued" for c in issued["certificates"])  # the customer may be told
    assert issued["writeback"]["status"] == failed["writeback"]["status"] == "failed"
    assert failed["reason"] == failed["writeback"]["error"] == "Shopify: HTTP 500"


def test_types_filter_per_endpoint_and_a_failure_says_why(tmp_path, db_url, fake_dots, fake_shopify,
                                                          receiver):
    bad_rules = "rules:\n  - name: Foreign\n    allocation_id: 99\n    per_order: 1\n"
    failures = endpoint(receiver, "/failures", types=["order.failed"])
    issued = endpoint(receiver, "/issued", types=["order.issued"])
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, events=[failures, issued],
                 rules=bad_rules) as (ch, client):
        deliver(client, order_payload())
        drain(ch)
        send_events(ch)
        assert order_of(client)["status"] == "failed"
    [event] = receiver.events()
    assert receiver.received[0].headers["webhook-id"].startswith("msg_")
    documented(event)
    assert event["type"] == "order.failed"
    assert "Given allocation can not be used" in event["data"]["reason"]
    assert all(r.body and json.loads(r.body)["type"] == "order.failed" for r in receiver.received)


def test_a_receiver_down_for_5_tries_gets_it_with_the_same_id_and_body(tmp_path, db_url, fake_dots,
                                                                       fake_shopify, receiver):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, events=[endpoint(receiver)]) as (ch, client):
        receiver.fail_next("503", "500", "429", "400", "503")
        deliver(client, order_payload())
        drain(ch)
        send_events(ch)
        [row] = outbox_rows(ch)
    assert [r.answered for r in receiver.received] == [503, 500, 429, 400, 503, 200]
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    assert len({r.body for r in receiver.received}) == 1
    assert len({r.headers["webhook-signature"] for r in receiver.received}) >= 1
    assert (row.status, row.attempts, row.last_code) == ("delivered", 6, 200)
    assert receiver.events()[0]["type"] == "order.issued"
    tried_at = [r.at for r in receiver.received]
    gaps = [b - a for a, b in zip(tried_at, tried_at[1:], strict=False)]
    # retry_base_seconds 1, doubling, less up to 25 %; a 429's Retry-After (120) up to retry_max_seconds
    assert 0.75 <= gaps[0] <= 1 and 1.5 <= gaps[1] <= 2 and gaps[2] == 60 and 6 <= gaps[3] <= 8


def test_a_wrong_secret_or_a_changed_byte_fails_verification(tmp_path, db_url, fake_dots, fake_shopify,
                                                             receiver):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, events=[endpoint(receiver)]) as (ch, client):
        deliver(client, order_payload())
        drain(ch)
        send_events(ch)
    [got] = receiver.received
    Webhook(SECRET).verify(got.body, got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(OTHER_SECRET).verify(got.body, got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(got.body.replace(b"acme", b"acmf", 1), got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(got.body, {**got.headers, "webhook-id": "msg_other"})


def test_a_410_disables_the_endpoint_until_it_is_enabled(tmp_path, db_url, fake_dots, fake_shopify, receiver):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, events=[endpoint(receiver)]) as (ch, client):
        receiver.fail_next("410")
        deliver(client, order_payload(order_id=1))
        drain(ch)
        send_events(ch)
        deliver(client, order_payload(order_id=2))
        drain(ch)
        send_events(ch)
        assert [(r.status, r.attempts) for r in outbox_rows(ch)] == [("failed", 1)]  # nothing more recorded
        assert len(receiver.received) == 1
        sign_in(client)
        page = client.get("/events").text
        assert "disabled" in page and "410" in page
        key = ch.settings.events[0].key
        assert client.post(f"/events/enable/{key}").status_code == 400  # no CSRF token
        client.post(f"/events/enable/{key}", data={"csrf_token": csrf(client, "/events")})
        deliver(client, order_payload(order_id=3))
        drain(ch)
        send_events(ch)
        [failed, later] = outbox_rows(ch)
        assert (later.status, json.loads(later.body)["data"]["order_id"]) == ("delivered", "3")
        r = client.post(f"/events/{failed.id}/retry", data={"csrf_token": csrf(client, "/events")})
        assert r.status_code == 302
        send_events(ch)
        assert [r.status for r in outbox_rows(ch)] == ["delivered", "delivered"]
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert ids[0] == ids[-1] and len(ids) == 3  # the retried one kept its id


def test_shadow_and_test_orders_tell_nothing(tmp_path, db_url, fake_dots, fake_shopify, receiver):
    shadow = {"mode": "shadow"}
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, events=[endpoint(receiver)],
                 shop=shadow) as (ch, client):
        deliver(client, order_payload(order_id=1))
        deliver(client, order_payload(order_id=2, test=True))
        drain(ch)
        deliver(client, order_payload(order_id=1, cancelled_at="2026-11-22T10:00:00-05:00"),
                topic="orders/cancelled")
        drain(ch)
        send_events(ch)
        assert order_of(client, 1)["shadow"] is True
        assert outbox_rows(ch) == [] and receiver.received == []
