"""Shopify: its webhooks, topics and settings; its orders are read in shopify_orders.py, its admin
API called in shopify_api.py."""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from ..orders import Order, PayloadError
from ..settings import SHOPIFY_API_VERSION, Shop
from ..statuses import Refunded
from .base import Adapter, Change, Erasure, Plain, StoreApi, Topic, Webhook
from .payloads import load
from .shopify_api import ShopifyApi
from .shopify_bodies import PRIVACY, REFUND, WHO
from .shopify_orders import normalize, who

if TYPE_CHECKING:  # built on top of the platforms; only its type is needed here
    from ..connections import Connections

SERVICE = "Shopify"
_VERSION = re.compile(r"/admin/api/(\d{4})-(\d{2})(?:/|$)")


REFUNDED = {"refunded": Refunded.FULL, "partially_refunded": Refunded.PARTIAL}
PAID = ("paid", "partially_paid", "refunded", "partially_refunded")  # financial statuses


class Shopify(Adapter):
    name = "shopify"
    unique_event_ids = True  # X-Shopify-Event-Id
    topics = {
        "orders/paid": Topic.HANDLED,
        # The privacy topics Shopify requires: erase what certhook holds, or (a data request)
        # record it: the merchant answers it from the dashboard and API.
        "customers/redact": Topic.PRIVACY, "shop/redact": Topic.PRIVACY,
        "customers/data_request": Topic.PRIVACY,
        "orders/create": Topic.IGNORED, "orders/updated": Topic.IGNORED,
        "orders/cancelled": Topic.CHANGE, "refunds/create": Topic.CHANGE,
        "app/uninstalled": Topic.UNINSTALLED,
    }

    def webhook(self, headers: Mapping[str, str]) -> Webhook:
        return Webhook(domain=headers.get("X-Shopify-Shop-Domain", ""),
                       signature=headers.get("X-Shopify-Hmac-Sha256"),
                       topic=headers.get("X-Shopify-Topic", ""),
                       event_id=headers.get("X-Shopify-Event-Id") or headers.get("X-Shopify-Webhook-Id"))

    def plain_order(self, shop: Shop, payload: dict[str, Any]) -> Plain | None:
        order = load(WHO, payload)
        return None if order["test"] or order["cancelled_at"] else who(order)

    def change(self, shop: Shop, topic: str, payload: dict[str, Any], order: Order | None) -> Change | None:
        if topic == "orders/cancelled":  # the Order resource, cancelled (and perhaps refunded)
            order = normalize(shop.id, payload)
            if not order.cancelled_at:
                raise PayloadError("cancelled_at: is missing (an order not cancelled)")
            status = payload.get("financial_status")
            status = status if isinstance(status, str) else ""
            return Change(order.order_id, cancelled=True, order=order, was_paid=status in PAID,
                          refunded=REFUNDED.get(status, Refunded.NONE))
        if topic == "refunds/create":
            refund = load(REFUND, payload)
            return Change(refund["order_id"], refunded=Refunded.PARTIAL, refund_lines=tuple(
                (line["line_item_id"], line["quantity"]) for line in refund["refund_line_items"]))
        return super().change(shop, topic, payload, order)

    def erasure(self, shop: Shop, topic: str, payload: dict[str, Any]) -> Erasure:
        """What a privacy topic asks, if its body is that topic's and names this shop."""
        data = load(PRIVACY[topic], payload)
        if data["shop_domain"].lower() != shop.domain.lower():
            raise PayloadError("shop_domain: is not this shop's domain")
        if topic == "shop/redact":
            return Erasure(whole_shop=True)
        if topic == "customers/data_request":
            return Erasure(request_only=True)
        return Erasure(order_ids=tuple(data["orders_to_redact"]), email=data["customer"]["email"])

    def uninstalled(self, shop: Shop, payload: dict[str, Any]) -> None:
        """The body is the Shop resource: its myshopify_domain must be this shop's (the rest of
        its many keys are not read)."""
        domain = payload.get("myshopify_domain")
        if not isinstance(domain, str) or domain.strip().lower() != shop.domain:
            raise PayloadError("myshopify_domain: is not this shop's domain")

    def normalize(self, shop_id: str, payload: dict[str, Any]) -> Order:
        return normalize(shop_id, payload)

    def api(self, shop: Shop, connections: Connections) -> StoreApi:
        return ShopifyApi(shop, connections)

    def warning(self, shop: Shop, today: date) -> str | None:
        """Shopify supports each quarterly version for 12 months: name a retired one."""
        found = _VERSION.search(shop.api_url)
        if found is None:
            return None
        year, month = int(found.group(1)), int(found.group(2))
        if (today.year, today.month) < (year + 1, month):
            return None
        return (f"shop {shop.id}: Shopify Admin API version {year}-{month:02d} in its api_url was "
                f"retired in {year + 1}-{month:02d} (Shopify supports a version for 12 months); "
                f"use {SHOPIFY_API_VERSION}")
