"""Shopify's Admin GraphQL API: one call, its throttle, and the queries certhook sends."""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from ..http import Client, RateLimited, Rejected, body_of

SERVICE = "Shopify"
THROTTLE_RETRIES = 5

METAFIELDS_SET = """
mutation certhookMetafieldsSet($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields { id namespace key }
    userErrors { field message code }
  }
}
""".strip()

# Ids only, 100 a page (cost about 102); the few orders certhook doesn't know are then fetched
# one by one, so no page ever asks for 100 orders' line items at once.
PAID_ORDERS = """
query certhookPaidOrders($first: Int!, $after: String, $query: String!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { legacyResourceId test cancelledAt }
  }
}
""".strip()

ORDER = """
query certhookOrder($id: ID!, $after: String) {
  order(id: $id) {
    legacyResourceId name email currencyCode test processedAt cancelledAt
    customer { legacyResourceId email firstName lastName }
    lineItems(first: 50, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id sku title quantity isGiftCard
        originalUnitPriceSet { shopMoney { amount } }
        totalDiscountSet { shopMoney { amount } }
        product { legacyResourceId }
        variant { legacyResourceId }
      }
    }
  }
}
""".strip()


def call(http: Client, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """One GraphQL call; HTTP errors, top-level `errors` and throttling become ApiErrors."""
    response = http.request("POST", "/graphql.json", json={"query": query, "variables": variables})
    body = body_of(response, SERVICE)
    errors = body.get("errors") or []
    if errors:
        if any(_throttled(e) for e in errors if isinstance(e, dict)):
            raise RateLimited(f"{SERVICE}: Throttled", 200, response.text, retry_after=throttle_wait(body))
        messages = "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, dict))
        raise Rejected(f"{SERVICE}: {messages or errors}", 200, response.text)
    body.setdefault("data", {})
    return body


def _throttled(error: dict[str, Any]) -> bool:
    code = (error.get("extensions") or {}).get("code")
    return error.get("message") == "Throttled" or code == "THROTTLED"


def throttle_wait(body: dict[str, Any]) -> float | None:
    """Seconds until the bucket holds what a call costs, from extensions.cost.throttleStatus."""
    info = (body.get("extensions") or {}).get("cost") or {}
    status = info.get("throttleStatus") or {}
    try:
        needed = float(info.get("requestedQueryCost", 10)) - float(status["currentlyAvailable"])
        return max(needed / float(status["restoreRate"]), 0.0)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None


def set_metafields(http: Client, metafields: list[dict[str, Any]]) -> None:
    """metafieldsSet, atomic; its userErrors become one Rejected naming each field."""
    body = call(http, METAFIELDS_SET, {"metafields": metafields})
    user_errors = (body["data"].get("metafieldsSet") or {}).get("userErrors") or []
    if user_errors:
        raise Rejected(f"{SERVICE}: " + "; ".join(
            f"{'.'.join(map(str, e.get('field') or []))}: {e.get('message')}".lstrip(": ")
            for e in user_errors), 200, json.dumps(body)[:2000])


class Budget:
    """Keep a series of queries within the shop's query-cost bucket: wait rather than be throttled."""

    def __init__(self, http: Client, sleep: Callable[[float], None] = time.sleep):
        self.http, self.sleep = http, sleep
        self.wait = 0.0

    def query(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        for _ in range(THROTTLE_RETRIES):
            if self.wait > 0:
                self.sleep(self.wait)
            try:
                body = call(self.http, query, variables)
            except RateLimited as exc:
                self.wait = exc.retry_after if exc.retry_after is not None else 2.0
                continue
            self.wait = throttle_wait(body) or 0.0
            return body["data"]
        raise RateLimited(f"{SERVICE}: still throttled after {THROTTLE_RETRIES} tries")


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def paid_order_ids(budget: Budget, since: datetime, until: datetime) -> Iterator[str]:
    """The ids of orders paid and updated within [since, until], page by page (test and
    cancelled orders left out)."""
    search = f"financial_status:paid updated_at:>='{_iso(since)}' updated_at:<='{_iso(until)}'"
    after = None
    while True:
        page = budget.query(PAID_ORDERS, {"first": 100, "after": after, "query": search})["orders"]
        for node in page["nodes"]:
            if not node.get("test") and not node.get("cancelledAt"):  # nothing to issue for those
                yield str(node["legacyResourceId"])
        if not page["pageInfo"]["hasNextPage"]:
            return
        after = page["pageInfo"]["endCursor"]


def _line_item(node: dict[str, Any]) -> dict[str, Any]:
    """A GraphQL line item in the REST resource's shape (read by the same schema)."""
    return {
        "id": str(node["id"]).rsplit("/", 1)[-1],
        "product_id": (node.get("product") or {}).get("legacyResourceId"),
        "variant_id": (node.get("variant") or {}).get("legacyResourceId"),
        "sku": node.get("sku"), "title": node.get("title"), "quantity": node.get("quantity"),
        "price": _amount(node.get("originalUnitPriceSet")),
        "total_discount": _amount(node.get("totalDiscountSet")),
        "gift_card": node.get("isGiftCard") is True,
    }


def fetch_order(budget: Budget, order_id: str) -> dict[str, Any]:
    """One order, with all its line items, in the shape of the REST Order resource."""
    items: list[dict[str, Any]] = []
    after = None
    while True:
        node = budget.query(ORDER, {"id": f"gid://shopify/Order/{order_id}", "after": after})["order"]
        if node is None:
            raise Rejected(f"{SERVICE}: order {order_id} not found")
        items.extend(_line_item(li) for li in node["lineItems"]["nodes"])
        if not node["lineItems"]["pageInfo"]["hasNextPage"]:
            break
        after = node["lineItems"]["pageInfo"]["endCursor"]
    customer = node.get("customer") or {}
    return {
        "id": node["legacyResourceId"], "name": node.get("name"), "currency": node.get("currencyCode"),
        "email": node.get("email"), "test": node.get("test") is True,
        "processed_at": node.get("processedAt"), "cancelled_at": node.get("cancelledAt"),
        "line_items": items,
        "customer": {"id": customer.get("legacyResourceId"), "email": customer.get("email"),
                     "first_name": customer.get("firstName"), "last_name": customer.get("lastName")},
    }


def _amount(money_set: dict[str, Any] | None) -> Any:
    return ((money_set or {}).get("shopMoney") or {}).get("amount")
