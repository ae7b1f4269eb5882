"""The Shopify Admin GraphQL API: write certificates back, find paid orders to reconcile."""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import requests

from ..issuers.errors import RateLimited, Rejected, Transient, call, error_for
from ..orders import LineItem, Order, money, text_id
from ..settings import Shop

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
    nodes { legacyResourceId test }
  }
}
""".strip()

ORDER = """
query certhookOrder($id: ID!, $after: String) {
  order(id: $id) {
    legacyResourceId name email currencyCode test processedAt
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


def graphql(shop: Shop, query: str, variables: dict[str, Any],
            timeout: tuple[float, float]) -> dict[str, Any]:
    """One GraphQL call; HTTP errors, top-level `errors` and throttling become exceptions."""
    with requests.Session() as session:
        response = call(session, "POST", f"{shop.api_url}/graphql.json", SERVICE, timeout,
                        json={"query": query, "variables": variables},
                        headers={"X-Shopify-Access-Token": shop.access_token})
    if response.status_code != 200:
        raise error_for(response, SERVICE)
    try:
        body = response.json()
    except ValueError:
        raise Transient(f"{SERVICE}: the answer is not JSON", 200, response.text) from None
    errors = body.get("errors") or []
    if errors:
        if any(_throttled(e) for e in errors if isinstance(e, dict)):
            raise RateLimited(f"{SERVICE}: Throttled", 200, response.text,
                              retry_after=_throttle_wait(body))
        messages = "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, dict))
        raise Rejected(f"{SERVICE}: {messages or errors}", 200, response.text)
    body.setdefault("data", {})
    return body


def _throttled(error: dict[str, Any]) -> bool:
    code = (error.get("extensions") or {}).get("code")
    return error.get("message") == "Throttled" or code == "THROTTLED"


def _throttle_wait(body: dict[str, Any], cost: float | None = None) -> float | None:
    """Seconds until the bucket holds what a call costs, from extensions.cost.throttleStatus."""
    info = (body.get("extensions") or {}).get("cost") or {}
    status = info.get("throttleStatus") or {}
    try:
        wanted = cost if cost is not None else float(info.get("requestedQueryCost", 10))
        needed = wanted - float(status["currentlyAvailable"])
        return max(needed / float(status["restoreRate"]), 0.0)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None


def write_back(shop: Shop, order_id: str, certificates: list[dict[str, Any]],
               timeout: tuple[float, float], customer_url: str | None = None) -> None:
    """Set certhook.certificates (JSON) and certhook.customer_url in one metafieldsSet call."""
    owner = f"gid://shopify/Order/{order_id}"
    metafields = [{"ownerId": owner, "namespace": "certhook", "key": "certificates", "type": "json",
                   "value": json.dumps(certificates, ensure_ascii=False)}]
    if customer_url:
        metafields.append({"ownerId": owner, "namespace": "certhook", "key": "customer_url",
                           "type": "url", "value": customer_url})
    variables = {"metafields": metafields}
    body = graphql(shop, METAFIELDS_SET, variables, timeout)
    result = body["data"].get("metafieldsSet") or {}
    user_errors = result.get("userErrors") or []
    if user_errors:
        raise Rejected(f"{SERVICE}: " + "; ".join(
            f"{'.'.join(map(str, e.get('field') or []))}: {e.get('message')}".lstrip(": ")
            for e in user_errors), 200, json.dumps(body)[:2000])


class Budget:
    """Keep a series of queries within the shop's query-cost bucket: wait rather than be throttled."""

    def __init__(self, shop: Shop, timeout: tuple[float, float],
                 sleep: Callable[[float], None] = time.sleep):
        self.shop, self.timeout, self.sleep = shop, timeout, sleep
        self.wait = 0.0

    def query(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        for _ in range(THROTTLE_RETRIES):
            if self.wait > 0:
                self.sleep(self.wait)
            try:
                body = graphql(self.shop, query, variables, self.timeout)
            except RateLimited as exc:
                self.wait = exc.retry_after if exc.retry_after is not None else 2.0
                continue
            self.wait = _throttle_wait(body) or 0.0
            return body["data"]
        raise RateLimited(f"{SERVICE}: still throttled after {THROTTLE_RETRIES} tries")


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def paid_order_ids(budget: Budget, since: datetime, until: datetime) -> Iterator[str]:
    """The ids of orders paid and updated within [since, until], page by page (test orders left out)."""
    search = f"financial_status:paid updated_at:>='{_iso(since)}' updated_at:<='{_iso(until)}'"
    after = None
    while True:
        page = budget.query(PAID_ORDERS, {"first": 100, "after": after, "query": search})["orders"]
        for node in page["nodes"]:
            if not node.get("test"):
                yield str(node["legacyResourceId"])
        if not page["pageInfo"]["hasNextPage"]:
            return
        after = page["pageInfo"]["endCursor"]


def fetch_order(budget: Budget, shop_id: str, order_id: str) -> Order:
    """One order, with all its line items, as the platform-neutral Order."""
    items: list[LineItem] = []
    after = None
    while True:
        node = budget.query(ORDER, {"id": f"gid://shopify/Order/{order_id}", "after": after})["order"]
        if node is None:
            raise Rejected(f"{SERVICE}: order {order_id} not found")
        for li in node["lineItems"]["nodes"]:
            items.append(LineItem(
                id=str(li["id"]).rsplit("/", 1)[-1],
                product_id=text_id((li.get("product") or {}).get("legacyResourceId")),
                variant_id=text_id((li.get("variant") or {}).get("legacyResourceId")),
                sku=str(li.get("sku") or ""),
                title=str(li.get("title") or ""),
                quantity=int(li.get("quantity") or 0),
                price=money(_amount(li.get("originalUnitPriceSet")), "originalUnitPriceSet"),
                discount=money(_amount(li.get("totalDiscountSet")), "totalDiscountSet"),
                gift_card=bool(li.get("isGiftCard")),
            ))
        if not node["lineItems"]["pageInfo"]["hasNextPage"]:
            break
        after = node["lineItems"]["pageInfo"]["endCursor"]
    customer = node.get("customer") or {}
    return Order(
        shop=shop_id,
        order_id=str(node["legacyResourceId"]),
        order_name=str(node.get("name") or f"#{order_id}"),
        currency=str(node.get("currencyCode") or ""),
        email=str(node.get("email") or customer.get("email") or ""),
        customer_id=text_id(customer.get("legacyResourceId")),
        customer_name=" ".join(str(p) for p in (customer.get("firstName"),
                                                  customer.get("lastName")) if p),
        test=bool(node.get("test")),
        line_items=tuple(items),
        created_at=str(node.get("processedAt") or ""),
    )


def _amount(money_set: dict[str, Any] | None) -> str | Decimal:
    return ((money_set or {}).get("shopMoney") or {}).get("amount") or "0"
