"""The JSON API: bearer token, filters and paging newest first, detail, retry."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from .helpers import ADMIN_TOKEN, AUTH, PUBLIC_URL, deliver, drain, order_payload


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": ADMIN_TOKEN}])
def test_the_api_needs_the_bearer_token(client, headers):
    assert client.get("/api/orders", headers=headers).status_code == 401
    assert client.get("/api/orders/acme/1", headers=headers).status_code == 401
    assert client.post("/api/orders/acme/1/retry", headers=headers).status_code == 401


def test_list_filters_and_pages_newest_first(client, ch):
    for n in range(5):
        ch.clock.now += 1
        deliver(client, order_payload(order_id=1000 + n, name=f"#{1000 + n}"))
    ch.clock.now += 1
    deliver(client, order_payload(order_id=2000, line_items=[]))
    drain(ch)
    r = client.get("/api/orders?per_page=2&page=2", headers=AUTH).json
    assert r["meta"] == {"page": 2, "per_page": 2, "total": 6}
    assert [o["order_id"] for o in r["data"]] == ["1003", "1002"]
    assert client.get("/api/orders?status=skipped", headers=AUTH).json["meta"]["total"] == 1
    assert client.get("/api/orders?status=done&shop=acme", headers=AUTH).json["meta"]["total"] == 5
    assert client.get("/api/orders?shop=other", headers=AUTH).json["meta"]["total"] == 0
    assert [o["order_id"] for o in client.get("/api/orders?q=1004", headers=AUTH).json["data"]] == ["1004"]
    assert client.get("/api/orders?q=Ana@Example.com", headers=AUTH).json["meta"]["total"] == 6
    assert client.get("/api/orders?q=%231003", headers=AUTH).json["data"][0]["order_id"] == "1003"
    assert client.get("/api/orders?status=bogus", headers=AUTH).status_code == 400
    assert client.get("/api/orders?per_page=0", headers=AUTH).status_code == 400


def test_detail_has_the_contract_shape_and_a_working_customer_link(client, ch):
    deliver(client, order_payload())
    drain(ch)
    order = client.get("/api/orders/acme/5551234", headers=AUTH).json
    assert {"shop", "order_id", "order_name", "status", "customer_url", "certificates",
            "writeback"} <= set(order)
    assert order["order_name"] == "#1001"
    assert list(order)[:7] == ["shop", "order_id", "order_name", "status", "customer_url", "certificates",
                               "writeback"]  # the contract's order
    assert (order["reason"], order["cancelled_at"], order["refunded"]) == (None, None, "none")
    assert order["created_at"] == datetime.fromtimestamp(ch.clock.now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert datetime.strptime(order["created_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert set(order["certificates"][0]) >= {
        "kind", "issuer", "allocation_id", "impact_qty", "external_unique_id", "certificate_id",
        "certificate_url", "certificate_image_url", "status", "error"}
    assert order["certificates"][0]["kind"] == "certificate"
    assert order["customer_url"].startswith(f"{PUBLIC_URL}/c/")
    path = order["customer_url"].removeprefix(PUBLIC_URL)
    page = client.get(path)
    assert page.status_code == 200
    assert order["certificates"][0]["certificate_url"] in page.text


def test_unknown_orders_are_404(client):
    assert client.get("/api/orders/acme/404", headers=AUTH).status_code == 404
    assert client.post("/api/orders/acme/404/retry", headers=AUTH).status_code == 404


def test_ids_beyond_2_53_survive_exactly(client, ch):
    big = 2**53 + 1
    deliver(client, order_payload(order_id=big))
    drain(ch)
    order = client.get(f"/api/orders/acme/{big}", headers=AUTH).json
    assert order["order_id"] == str(big)
    assert order["status"] == "done"
