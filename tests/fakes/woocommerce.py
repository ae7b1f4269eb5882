"""A fake WooCommerce REST API (wc/v3) that follows platforms.md: Basic auth, the error shape,
meta upsert by key, customer notes, and orders listed by status and modification time."""
from __future__ import annotations

import base64
import copy
import json
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .base import ANSWERED, FakeServer, Handler

CONSUMER_KEY = "ck_test_0123456789"
CONSUMER_SECRET = "cs_test_0123456789"
PREFIX = "/wp-json/wc/v3"


def error(code: str, message: str, status: int) -> tuple[int, dict[str, Any]]:
    return status, {"code": code, "message": message, "data": {"status": status}}


class FakeWooCommerce(FakeServer):
    # Faults count the writes: PUTs and POSTs.
    FAULT_ANSWERS = {"500": error("internal_server_error", "There has been a critical error on this "
                                  "website.", 500) + ({},)}

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self.orders: dict[int, dict[str, Any]] = {}
        self.notes: dict[int, list[dict[str, Any]]] = {}
        self.writes = 0
        self.lists = 0

    @property
    def api_url(self) -> str:
        return f"{self.url}{PREFIX}"

    def add_order(self, order: dict[str, Any], modified: datetime) -> None:
        order = copy.deepcopy(order)
        order["date_modified_gmt"] = modified.strftime("%Y-%m-%dT%H:%M:%S")
        with self.lock:
            self.orders[int(order["id"])] = order

    def meta(self, order_id: int, key: str) -> Any:
        return next((m["value"] for m in self.orders[order_id].get("meta_data", []) if m["key"] == key),
                    None)

    def customer_notes(self, order_id: int) -> list[dict[str, Any]]:
        return [n for n in self.notes.get(order_id, []) if n["customer_note"]]

    def handle(self, request: Handler, method: str) -> None:
        raw = request.body()
        auth = request.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{CONSUMER_KEY}:{CONSUMER_SECRET}".encode()).decode()
        if auth != expected:
            return request.send_json(*error("woocommerce_rest_cannot_view",
                                            "Sorry, you cannot list resources.", 401))
        url = urlsplit(request.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        path = url.path.removeprefix(PREFIX)
        fault = None
        if method in ("PUT", "POST"):
            with self.lock:
                self.writes += 1
            if (fault := self.take_fault(request)) == ANSWERED:
                return
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return request.send_json(*error("rest_invalid_json", "Invalid JSON body passed.", 400))
        if method == "GET" and path == "/orders":
            status, answer, headers = self.list(query)
            return request.send_json(status, answer, headers)
        m = re.fullmatch(r"/orders/(\d+)(/notes)?", path)
        if not m or int(m.group(1)) not in self.orders:
            return request.send_json(*error("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404))
        order_id = int(m.group(1))
        if m.group(2) and method == "GET":
            notes = self.notes.get(order_id, [])
            if query.get("type") == "customer":
                notes = [n for n in notes if n["customer_note"]]
            return request.send_json(200, notes)
        if m.group(2) and method == "POST":
            if not body.get("note"):
                return request.send_json(*error("woocommerce_rest_missing_note", "Missing parameter "
                                                "note.", 400))
            with self.lock:
                note = {"id": sum(len(n) for n in self.notes.values()) + 1, "author": "certhook",
                        "note": body["note"], "customer_note": bool(body.get("customer_note"))}
                self.notes.setdefault(order_id, []).append(note)
            if fault == "drop":
                return request.drop()
            return request.send_json(201, note)
        if method == "PUT":
            with self.lock:
                meta = self.orders[order_id].setdefault("meta_data", [])
                for item in body.get("meta_data", []):
                    existing = next((m for m in meta if m["key"] == item["key"]), None)
                    if existing:
                        existing["value"] = item["value"]
                    else:
                        meta.append({"id": 20000 + len(meta), **item})
            if fault == "drop":
                return request.drop()
        return request.send_json(200, self.orders[order_id])

    def list(self, q: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        per_page, page = int(q.get("per_page", 10)), int(q.get("page", 1))
        if not 1 <= per_page <= 100:
            return (*error("rest_invalid_param", "Invalid parameter(s): per_page", 400), {})
        statuses = set(q.get("status", "any").split(","))
        after, before = q.get("modified_after"), q.get("modified_before")
        with self.lock:
            self.lists += 1
            found = [o for _, o in sorted(self.orders.items())
                     if ("any" in statuses or o["status"] in statuses)
                     and (not after or o["date_modified_gmt"] > after)
                     and (not before or o["date_modified_gmt"] < before)]
        pages = max((len(found) + per_page - 1) // per_page, 1)
        chunk = found[(page - 1) * per_page:page * per_page]
        return 200, chunk, {"X-WP-Total": str(len(found)), "X-WP-TotalPages": str(pages)}
