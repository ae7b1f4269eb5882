"""A fake Shopify Admin GraphQL API: metafieldsSet, its userErrors and its throttling; the app's
OAuth, webhook subscriptions and scopes are shopify_app.py's."""
from __future__ import annotations

import base64
import copy
import json
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .base import ANSWERED, FakeServer, Handler
from .shopify_app import AppSide

ACCESS_TOKEN = "shpat_test_token"
API_VERSION = "2026-10"
OWNER = re.compile(r"^gid://shopify/(Order|Shop)/\d+$")
SHOP_GID = "gid://shopify/Shop/548380009"
JSON_LIMIT = 128 * 1024  # a json metafield's value, Admin API 2026-04 and later


class FakeShopify(FakeServer, AppSide):
    # Faults count every call; "throttled" answers GraphQL's Throttled error with an empty bucket.
    FAULT_ANSWERS = {
        "429": (429, {"errors": "Exceeded 2 calls per second for api client."}, {"Retry-After": "1"}),
        "500": (500, {"errors": "Internal Server Error"}, {}),
        # A 200 whose data has a shape certhook was never told of (an API change, a proxy).
        "shape": (200, {"data": {"orders": {"edges": []}}}, {}),
    }

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        FakeServer.__init__(self, clock)
        AppSide.__init__(self)
        self.metafields: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.calls = 0
        self.orders: dict[str, dict[str, Any]] = {}
        self.queries: list[str] = []
        self.products: list[dict[str, Any]] = []  # {"id", "title", "sku", "price"}
        self.owners_written: list[str] = []  # each metafield set, by its owner's gid
        # The leaky bucket of query cost: a query may start when its requested cost is in the
        # bucket; its actual cost is taken out.
        self.bucket, self.bucket_max, self.restore_rate = 1000.0, 1000.0, 100.0  # standard plan
        self._filled_at = time.monotonic()

    def add_order(self, payload: dict[str, Any], updated: datetime) -> None:
        order = copy.deepcopy(payload)
        order["updated_at"] = updated.strftime("%Y-%m-%dT%H:%M:%SZ")
        with self.lock:
            self.orders[str(order["id"])] = order

    @property
    def api_url(self) -> str:
        return f"{self.url}/admin/api/{API_VERSION}"

    def value(self, order_id: str, key: str = "certificates", owner: str = "Order") -> Any:
        field = self.metafields.get((f"gid://shopify/{owner}/{order_id}", "certhook", key))
        if field is None:
            return None
        return json.loads(field["value"]) if field["type"] == "json" else field["value"]

    def handle(self, request: Handler, method: str) -> None:
        raw = request.body()
        if method == "POST" and request.path == "/admin/oauth/access_token":
            return self.token_endpoint(request, raw)
        if method == "GET" and request.path.startswith("/admin/oauth/authorize?"):
            return self.authorize_page(request)
        if method != "POST" or request.path != f"/admin/api/{API_VERSION}/graphql.json":
            return request.send_json(404, {"errors": "Not Found"})
        token = request.headers.get("X-Shopify-Access-Token")
        if token != ACCESS_TOKEN and not self.token_valid(token):
            return request.send_json(401, {"errors": "[API] Invalid API key or access token "
                                                     "(unrecognized login or wrong password)"})
        with self.lock:
            self.calls += 1
        if (fault := self.take_fault(request)) == ANSWERED:
            return
        try:
            body = json.loads(raw)
        except ValueError:
            return request.send_json(400, {"errors": "Bad Request"})
        query, variables = body.get("query", ""), body.get("variables") or {}
        if "metafieldsSet(metafields: $metafields)" in query and "metafields" in variables:
            requested, run = 10, lambda: {"metafieldsSet": self.metafields_set(variables["metafields"])}
        elif "orders(first: $first, after: $after, query: $query" in query:
            requested, run = 2 + int(variables.get("first", 0)), lambda: {"orders": self.list(variables)}
        elif "order(id: $id)" in query:
            requested, run = 3 + 50 * 7, lambda: {"order": self.order(variables)}
        elif "shop { id }" in query:
            requested, run = 1, lambda: {"shop": {"id": SHOP_GID}}
        elif "products(first: $first, after: $after)" in query:
            requested = 2 + 2 * int(variables.get("first", 0))
            run = lambda: {"products": self.product_page(variables)}  # noqa: E731
        elif (app := self.app_query(query, variables)) is not None:
            requested, run = app
        else:
            return request.send_json(200, {"errors": [{"message": "Field 'metafieldsSet' is missing "
                                                      "required arguments: metafields"}]})
        with self.lock:
            now = time.monotonic()
            self.bucket = min(self.bucket_max, self.bucket + (now - self._filled_at) * self.restore_rate)
            self._filled_at = now
            throttled = fault == "throttled" or requested > self.bucket
            if not throttled:
                self.bucket -= min(requested, 12)  # what a small order really costs
            self.queries.append(query.split("(", 1)[0])
            cost = {"requestedQueryCost": requested, "actualQueryCost": None if throttled else 12,
                    "throttleStatus": {"maximumAvailable": self.bucket_max,
                                       "currentlyAvailable": 0 if fault == "throttled" else self.bucket,
                                       "restoreRate": self.restore_rate}}
        if throttled:
            return request.send_json(200, {"errors": [{"message": "Throttled", "extensions": {
                "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                "extensions": {"cost": cost}})
        request.send_json(200, {"data": run(), "extensions": {"cost": cost}})

    def list(self, variables: dict[str, Any]) -> dict[str, Any]:
        search = variables["query"]
        status = re.search(r"financial_status:(\w+)", search)
        after = re.search(r"updated_at:>='([^']+)'", search)
        before = re.search(r"updated_at:<='([^']+)'", search)
        with self.lock:
            found = sorted((o for o in self.orders.values()
                            if (not status or o.get("financial_status") == status.group(1))
                            and (not after or o["updated_at"] >= after.group(1))
                            and (not before or o["updated_at"] <= before.group(1))),
                           key=lambda o: (o["updated_at"], int(o["id"])))
        start = int(base64.b64decode(variables["after"])) if variables.get("after") else 0
        page = found[start:start + int(variables["first"])]
        end = start + len(page)
        return {"pageInfo": {"hasNextPage": end < len(found),
                             "endCursor": base64.b64encode(str(end).encode()).decode() if page else None},
                "nodes": [{"legacyResourceId": str(o["id"]), "test": bool(o.get("test")),
                           "cancelledAt": o.get("cancelled_at")} for o in page]}

    def order(self, variables: dict[str, Any]) -> dict[str, Any] | None:
        order = self.orders.get(str(variables["id"]).rsplit("/", 1)[-1])
        if order is None:
            return None
        start = int(base64.b64decode(variables["after"])) if variables.get("after") else 0
        items = order.get("line_items", [])[start:start + 50]
        end = start + len(items)
        customer = order.get("customer") or None
        money = lambda amount: {"shopMoney": {"amount": str(amount), "currencyCode": order["currency"]}}  # noqa: E731
        return {
            "legacyResourceId": str(order["id"]), "name": order.get("name"),
            "email": order.get("email"), "currencyCode": order.get("currency"),
            "test": bool(order.get("test")), "processedAt": order.get("processed_at"),
            "cancelledAt": order.get("cancelled_at"),
            "customer": customer and {"legacyResourceId": str(customer["id"]) if customer.get("id") else None,
                                      "email": customer.get("email"), "firstName": customer.get("first_name"),
                                      "lastName": customer.get("last_name")},
            "lineItems": {
                "pageInfo": {"hasNextPage": end < len(order.get("line_items", [])),
                             "endCursor": base64.b64encode(str(end).encode()).decode()},
                "nodes": [{
                    "id": f"gid://shopify/LineItem/{li['id']}", "sku": li.get("sku"),
                    "title": li.get("title"), "quantity": li["quantity"],
                    "isGiftCard": bool(li.get("gift_card")),
                    "originalUnitPriceSet": money(li["price"]),
                    "totalDiscountSet": money(li.get("total_discount") or "0.00"),
                    "product": {"legacyResourceId": str(li["product_id"])} if li.get("product_id") else None,
                    "variant": {"legacyResourceId": str(li["variant_id"])} if li.get("variant_id") else None,
                } for li in items]},
        }

    def product_page(self, variables: dict[str, Any]) -> dict[str, Any]:
        start = int(base64.b64decode(variables["after"])) if variables.get("after") else 0
        page = self.products[start:start + int(variables["first"])]
        end = start + len(page)
        return {"pageInfo": {"hasNextPage": end < len(self.products),
                             "endCursor": base64.b64encode(str(end).encode()).decode() if page else None},
                "nodes": [{"legacyResourceId": str(p["id"]), "title": p["title"],
                           "variants": {"nodes": [{"sku": p["sku"], "price": p["price"]}]}} for p in page]}

    def metafields_set(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        errors = []
        if len(inputs) > 25:
            errors.append({"field": ["metafields"], "message": "Exceeded the maximum metafields "
                           "input limit of 25.", "code": "LESS_THAN_OR_EQUAL_TO"})
        for i, m in enumerate(inputs):
            where = ["metafields", str(i)]
            if not OWNER.match(str(m.get("ownerId", ""))):
                errors.append({"field": [*where, "ownerId"], "message": "Owner does not exist.",
                               "code": "INVALID"})
            if not 2 <= len(str(m.get("key", ""))) <= 64:
                errors.append({"field": [*where, "key"], "message": "Key must be between 2 and 64 "
                               "characters.", "code": "INVALID"})
            if not 3 <= len(str(m.get("namespace", ""))) <= 255:
                errors.append({"field": [*where, "namespace"], "message": "Namespace must be between "
                               "3 and 255 characters.", "code": "INVALID"})
            if m.get("type") not in ("json", "url") or not isinstance(m.get("value"), str):
                errors.append({"field": [*where, "value"], "message": "Value must be a string.",
                               "code": "INVALID_VALUE"})
                continue
            if m["type"] == "url" and not re.match(r"^https?://\S+$", m["value"]):
                errors.append({"field": [*where, "value"], "message": "Value must be a valid URL.",
                               "code": "INVALID_VALUE"})
            if m["type"] == "json":
                if len(m["value"].encode()) > JSON_LIMIT:
                    errors.append({"field": [*where, "value"], "message": "Value exceeds the maximum "
                                   "size of 128 KB for a json metafield.", "code": "INVALID_VALUE"})
                try:
                    json.loads(m["value"])
                except ValueError:
                    errors.append({"field": [*where, "value"], "message": "Value is invalid JSON.",
                                   "code": "INVALID_VALUE"})
        if errors:
            return {"metafields": None, "userErrors": errors}
        out = []
        with self.lock:
            for m in inputs:
                key = (m["ownerId"], m["namespace"], m["key"])
                self.owners_written.append(m["ownerId"])
                self.metafields[key] = {**m, "id": f"gid://shopify/Metafield/{len(self.metafields) + 1}"}
                out.append({"id": self.metafields[key]["id"], "namespace": m["namespace"],
                            "key": m["key"]})
        return {"metafields": out, "userErrors": []}
