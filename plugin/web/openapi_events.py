"""The OpenAPI document's `webhooks`: the events certhook POSTs to each events endpoint
(docs/events.md), signed as Standard Webhooks has it."""
from __future__ import annotations

from typing import Any

from ..statuses import EventType


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


HEADERS = [{"name": name, "in": "header", "required": True, "description": text, "schema": {"type": "string"}}
           for name, text in (
               ("webhook-id", "the message id: the same on every try of this event to this endpoint"),
               ("webhook-timestamp", "when this try was sent, in Unix seconds"),
               ("webhook-signature", "v1,<base64 HMAC-SHA256 of \"{id}.{timestamp}.{body}\" keyed with "
                                     "the base64-decoded secret after whsec_>"))]

BUDGET = {"type": "object", "additionalProperties": False,
          "required": ["shop", "target", "used", "cap", "month"], "properties": {
              "shop": {"type": "string"},
              "target": {"type": "string", "description": "allocation:14, or offerings"},
              "used": {"type": "integer", "minimum": 0}, "cap": {"type": "integer", "minimum": 0},
              "month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}}}
BALANCE = {"type": "object", "additionalProperties": False, "required": ["issuer", "balance", "days_left"],
           "properties": {"issuer": {"const": "dots"}, "balance": {"type": "number"},
                          "days_left": {"type": "number"}}}
TEST = {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}}

DATA = {EventType.ORDER_ISSUED: _ref("Order"), EventType.ORDER_FAILED: _ref("Order"),
        EventType.ORDER_CANCELLED: _ref("Order"), EventType.BUDGET_WARNING: BUDGET,
        EventType.BUDGET_REACHED: BUDGET, EventType.BALANCE_LOW: BALANCE, EventType.TEST: TEST}

SUMMARY = {
    EventType.ORDER_ISSUED: "An order is issued and written back (once per order); `data` is the order",
    EventType.ORDER_FAILED: "An order failed; `data` is the order, its `reason` says why",
    EventType.ORDER_CANCELLED: "An order was cancelled or fully refunded; `data` is the order",
    EventType.BUDGET_WARNING: "A monthly budget cap passed its warn_at (once per cap and month)",
    EventType.BUDGET_REACHED: "A monthly budget cap is used up (once per cap and month)",
    EventType.BALANCE_LOW: "The Dots.eco balance lasts under 14 days at the recent pace (at most daily)",
    EventType.TEST: "certhook events test"}


def event_schema(type_: EventType) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": ["type", "timestamp", "data"],
            "properties": {"type": {"const": type_.value},
                           "timestamp": {"type": "string", "format": "date-time"},
                           "data": DATA[type_]}}


ANSWERS = {"2XX": {"description": "delivered"},
           "410": {"description": "Gone: certhook disables the endpoint"},
           "default": {"description": "anything else is tried again, with backoff, for 3 days"}}

SCHEMAS = {f"Event.{t.value}": event_schema(t) for t in EventType}
WEBHOOKS = {t.value: {"post": {"summary": SUMMARY[t], "parameters": HEADERS, "requestBody": {
    "required": True, "content": {"application/json": {"schema": _ref(f"Event.{t.value}")}}},
    "responses": ANSWERS}} for t in EventType}
