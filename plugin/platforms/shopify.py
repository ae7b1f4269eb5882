"""Shopify: verify a webhook, normalize its order, write certificates back as a metafield."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import requests

from ..issuers.errors import RateLimited, Rejected, Transient, call, error_for
from ..orders import LineItem, Order, PayloadError, money, text_id
from ..settings import Shop

SERVICE = "Shopify"
PAID = "orders/paid"
HANDLED = (PAID,)
# Answered 200 and recorded as ignored, so Shopify stops sending them again.
IGNORED = ("orders/create", "orders/updated", "orders/cancelled", "refunds/create",
           "customers/data_request", "customers/redact", "shop/redact", "app/uninstalled")

METAFIELDS_SET = """
mutation certhookMetafieldsSet($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields { id namespace key }
    userErrors { field message code }
  }
}
""".strip()


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify(body: bytes, secret: str, signature: str | None) -> bool:
    """HMAC-SHA256 of the raw body, compared in constant time."""
    return hmac.compare_digest(sign(body, secret).encode(), (signature or "").encode())


def _line_item(raw: Any, i: int) -> LineItem:
    if not isinstance(raw, dict):
        raise PayloadError(f"line_items.{i} is not an object")
    quantity = raw.get("quantity", 0)
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise PayloadError(f"line_items.{i}.quantity is not a whole number")
    return LineItem(
        id=text_id(raw.get("id")),
        product_id=text_id(raw.get("product_id")),
        variant_id=text_id(raw.get("variant_id")),
        sku=str(raw.get("sku") or ""),
        title=str(raw.get("title") or raw.get("name") or ""),
        quantity=quantity,
        price=money(raw.get("price"), f"line_items.{i}.price"),
        discount=money(raw.get("total_discount"), f"line_items.{i}.total_discount"),
        gift_card=bool(raw.get("gift_card")),
    )


def normalize(shop: str, payload: dict[str, Any]) -> Order:
    """A REST Order resource (the orders/paid body) as the platform-neutral Order."""
    order_id = text_id(payload.get("id"))
    if not order_id or len(order_id) > 64:
        raise PayloadError("the order has no id" if not order_id else "the order id is too long")
    items = payload.get("line_items") or []
    if not isinstance(items, list):
        raise PayloadError("line_items is not a list")
    customer = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    name = " ".join(
        str(part) for part in (customer.get("first_name"), customer.get("last_name")) if part
    )
    return Order(
        shop=shop,
        order_id=order_id,
        order_name=str(payload.get("name") or f"#{payload.get('order_number') or order_id}"),
        currency=str(payload.get("currency") or ""),
        email=str(payload.get("email") or payload.get("contact_email") or customer.get("email") or ""),
        customer_id=text_id(customer.get("id")),
        customer_name=name,
        test=bool(payload.get("test")),
        line_items=tuple(_line_item(raw, i) for i, raw in enumerate(items)),
    )


def write_back(shop: Shop, order_id: str, certificates: list[dict[str, Any]],
               timeout: tuple[float, float] = (5.0, 30.0)) -> None:
    """Set the order's certhook.certificates metafield with one GraphQL call."""
    variables = {"metafields": [{
        "ownerId": f"gid://shopify/Order/{order_id}",
        "namespace": "certhook",
        "key": "certificates",
        "type": "json",
        "value": json.dumps(certificates, ensure_ascii=False),
    }]}
    with requests.Session() as session:
        response = call(session, "POST", f"{shop.api_url}/graphql.json", SERVICE, timeout,
                        json={"query": METAFIELDS_SET, "variables": variables},
                        headers={"X-Shopify-Access-Token": shop.access_token})
    if response.status_code != 200:
        raise error_for(response, SERVICE)
    try:
        body = response.json()
    except ValueError:
        raise Transient(f"{SERVICE}: the answer is not JSON", 200, response.text) from None
    errors = body.get("errors") or []
    if errors:
        messages = "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, dict))
        if any(_throttled(e) for e in errors):
            raise RateLimited(f"{SERVICE}: Throttled", 200, response.text,
                              retry_after=_throttle_wait(body))
        raise Rejected(f"{SERVICE}: {messages or errors}", 200, response.text)
    result = (body.get("data") or {}).get("metafieldsSet") or {}
    user_errors = result.get("userErrors") or []
    if user_errors:
        raise Rejected(
            f"{SERVICE}: " + "; ".join(
                f"{'.'.join(map(str, e.get('field') or []))}: {e.get('message')}".lstrip(": ")
                for e in user_errors), 200, response.text)


def _throttled(error: dict[str, Any]) -> bool:
    code = (error.get("extensions") or {}).get("code")
    return error.get("message") == "Throttled" or code == "THROTTLED"


def _throttle_wait(body: dict[str, Any]) -> float | None:
    """How long until the bucket holds what the call cost, from throttleStatus."""
    cost = (body.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    try:
        needed = float(cost.get("requestedQueryCost", 10)) - float(status["currentlyAvailable"])
        return max(needed / float(status["restoreRate"]), 1.0)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
