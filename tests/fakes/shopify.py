"""A fake Shopify Admin GraphQL API: metafieldsSet, its userErrors and its throttling."""
from __future__ import annotations

import json
import re
from typing import Any

from .base import FakeServer, Handler

ACCESS_TOKEN = "shpat_test_token"
API_VERSION = "2025-07"
OWNER = re.compile(r"^gid://shopify/Order/\d+$")


class FakeShopify(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.metafields: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.calls = 0
        self.faults: list[str] = []  # one per coming call: "429", "throttled", "500"

    @property
    def api_url(self) -> str:
        return f"{self.url}/admin/api/{API_VERSION}"

    def fail_next(self, *faults: str) -> None:
        with self.lock:
            self.faults.extend(faults)

    def value(self, order_id: str) -> Any:
        field = self.metafields.get((f"gid://shopify/Order/{order_id}", "certhook", "certificates"))
        return json.loads(field["value"]) if field else None

    def handle(self, request: Handler, method: str) -> None:
        raw = request.body()
        if method != "POST" or request.path != f"/admin/api/{API_VERSION}/graphql.json":
            return request.send_json(404, {"errors": "Not Found"})
        if request.headers.get("X-Shopify-Access-Token") != ACCESS_TOKEN:
            return request.send_json(401, {"errors": "[API] Invalid API key or access token "
                                                     "(unrecognized login or wrong password)"})
        with self.lock:
            self.calls += 1
            fault = self.faults.pop(0) if self.faults else None
        if fault == "429":
            return request.send_json(429, {"errors": "Exceeded 2 calls per second for api client."},
                                     {"Retry-After": "1"})
        if fault == "500":
            return request.send_json(500, {"errors": "Internal Server Error"})
        cost = {"requestedQueryCost": 10, "actualQueryCost": 10,
                "throttleStatus": {"maximumAvailable": 1000.0, "currentlyAvailable": 990,
                                   "restoreRate": 50.0}}
        if fault == "throttled":
            cost["throttleStatus"]["currentlyAvailable"] = 0
            return request.send_json(200, {"errors": [{"message": "Throttled", "extensions": {
                "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                "extensions": {"cost": cost}})
        try:
            body = json.loads(raw)
        except ValueError:
            return request.send_json(400, {"errors": "Bad Request"})
        query, variables = body.get("query", ""), body.get("variables") or {}
        if "metafieldsSet(metafields: $metafields)" not in query or "metafields" not in variables:
            return request.send_json(200, {"errors": [{"message": "Field 'metafieldsSet' is missing "
                                                      "required arguments: metafields"}]})
        request.send_json(200, {"data": {"metafieldsSet": self.metafields_set(variables["metafields"])},
                                "extensions": {"cost": cost}})

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
            if m.get("type") != "json" or not isinstance(m.get("value"), str):
                errors.append({"field": [*where, "value"], "message": "Value must be a string.",
                               "code": "INVALID_VALUE"})
                continue
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
                self.metafields[key] = {**m, "id": f"gid://shopify/Metafield/{len(self.metafields) + 1}"}
                out.append({"id": self.metafields[key]["id"], "namespace": m["namespace"],
                            "key": m["key"]})
        return {"metafields": out, "userErrors": []}
