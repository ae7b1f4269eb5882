"""GET /api/openapi.json: an OpenAPI 3.1 document anyone may read, whose schemas are valid JSON
Schema and hold the answers (every test client checks each answer against it: openapi_check)."""
from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from certhook.statuses import EventType

from .helpers import AUTH, deliver, drain, order_payload
from .openapi_check import check


def test_the_document_is_served_to_anyone_and_its_schemas_are_json_schema(client):
    r = client.get("/api/openapi.json")
    assert r.status_code == 200 and r.json["openapi"] == "3.1.0"
    assert {"/webhooks/shopify", "/webhooks/woocommerce", "/api/orders", "/api/orders/{shop}/{order_id}",
            "/api/orders/{shop}/{order_id}/retry"} <= set(r.json["paths"])
    for schema in r.json["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    assert set(r.json["webhooks"]) == {t.value for t in EventType}  # the events certhook sends


def test_answers_hold_to_it(client, ch, fake_dots, fake_shopify):
    assert deliver(client, order_payload(order_id=77)).json == {"status": "accepted"}
    drain(ch)
    listed = client.get("/api/orders?per_page=5", headers=AUTH)
    assert listed.status_code == 200 and listed.json["data"][0]["certificates"]
    assert client.get("/api/orders/acme/77", headers=AUTH).status_code == 200
    assert client.post("/api/orders/acme/77/retry", headers=AUTH).status_code == 200
    assert client.get("/api/orders/acme/78", headers=AUTH).status_code == 404
    assert client.get("/api/orders").status_code == 401


def test_the_check_catches_an_answer_the_document_does_not_hold():
    with pytest.raises(AssertionError, match="required property"):
        check("GET", "/api/orders/acme/1", 200, {"shop": "acme"})
    with pytest.raises(AssertionError, match="lacks"):
        check("GET", "/api/orders", 418, {"error": "teapot"})
    with pytest.raises(AssertionError):
        check("POST", "/webhooks/shopify", 200, {"status": "maybe"})
