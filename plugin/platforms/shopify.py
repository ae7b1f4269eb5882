"""Shopify: its webhooks and topics, the REST Order resource normalized, write-back by metafields."""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ..http import Client
from ..orders import LineItem, Order, PayloadError
from ..settings import SHOPIFY_API_VERSION, Shop
from ..statuses import Refunded
from . import shopify_graphql as graphql
from .base import Adapter, Change, Erasure, PaidOrder, Plain, StoreApi, Topic, Webhook
from .payloads import load
from .shopify_bodies import ORDER, PRIVACY, REFUND, WHO

SERVICE = "Shopify"
_VERSION = re.compile(r"/admin/api/(\d{4})-(\d{2})(?:/|$)")


def _line_item(line: dict[str, Any]) -> LineItem:
    return LineItem(
        id=line["id"], product_id=line["product_id"], variant_id=line["variant_id"],
        sku=line["sku"], title=line["title"] or line["name"], quantity=line["quantity"],
        price=line["price"] or Decimal(0), discount=line["total_discount"] or Decimal(0),
        gift_card=line["gift_card"],
        properties=tuple((p["name"][:255], p["value"][:500]) for p in line["properties"]
                         if p["name"] and p["value"] is not None),
    )


_NO_CUSTOMER = {"id": "", "email": "", "first_name": "", "last_name": ""}


def _who(order: dict[str, Any]) -> Plain:
    """Which order, and whose, from the order as the schema read it."""
    customer = order["customer"] or _NO_CUSTOMER
    return Plain(order["id"], order["name"] or f"#{order['order_number'] or order['id']}",
                 order["email"] or order["contact_email"] or customer["email"],
                 " ".join(p for p in (customer["first_name"], customer["last_name"]) if p))


def normalize(shop_id: str, payload: dict[str, Any]) -> Order:
    """A REST Order resource (the orders/paid body) as the platform-neutral Order."""
    order = load(ORDER, payload)
    customer = order["customer"] or _NO_CUSTOMER
    who = _who(order)
    return Order(
        shop=shop_id, order_id=who.order_id, order_name=who.order_name, currency=order["currency"],
        email=who.email, customer_id=customer["id"], customer_name=who.customer_name,
        test=order["test"],
        created_at=order["processed_at"] or order["created_at"],
        cancelled_at=order["cancelled_at"],
        line_items=tuple(_line_item(line) for line in order["line_items"]),
    )


REFUNDED = {"refunded": Refunded.FULL, "partially_refunded": Refunded.PARTIAL}
PAID = ("paid", "partially_paid", "refunded", "partially_refunded")  # financial statuses


class ShopifyApi(StoreApi):
    def __init__(self, shop: Shop):
        self.shop = shop
        self.http = Client(SERVICE, shop.api_url, (shop.connect_timeout, shop.read_timeout),
                           max_bytes=shop.max_answer_bytes,
                           headers={"X-Shopify-Access-Token": shop.access_token})

    def write_back(self, order_id: str, entries: list[dict[str, Any]],
                   customer_url: str | None) -> None:
        """certhook.certificates (JSON), and certhook.customer_url, in one metafieldsSet call."""
        owner = f"gid://shopify/Order/{order_id}"
        metafields = [{"ownerId": owner, "namespace": "certhook", "key": "certificates",
                       "type": "json", "value": json.dumps(entries, ensure_ascii=False)}]
        if customer_url:
            metafields.append({"ownerId": owner, "namespace": "certhook", "key": "customer_url",
                               "type": "url", "value": customer_url})
        graphql.set_metafields(self.http, metafields)

    def paid_orders(self, since: datetime, until: datetime) -> list[PaidOrder]:
        budget = graphql.Budget(self.http)
        return [(order_id, lambda order_id=order_id: normalize(self.shop.id, graphql.fetch_order(
            budget, order_id))) for order_id in graphql.paid_order_ids(budget, since, until)]

    def close(self) -> None:
        self.http.close()


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
        "app/uninstalled": Topic.IGNORED,
    }

    def webhook(self, headers: Mapping[str, str]) -> Webhook:
        return Webhook(domain=headers.get("X-Shopify-Shop-Domain", ""),
                       signature=headers.get("X-Shopify-Hmac-Sha256"),
                       topic=headers.get("X-Shopify-Topic", ""),
                       event_id=headers.get("X-Shopify-Event-Id") or headers.get("X-Shopify-Webhook-Id"))

    def plain_order(self, shop: Shop, payload: dict[str, Any]) -> Plain | None:
        order = load(WHO, payload)
        return None if order["test"] or order["cancelled_at"] else _who(order)

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

    def normalize(self, shop_id: str, payload: dict[str, Any]) -> Order:
        return normalize(shop_id, payload)

    def api(self, shop: Shop) -> StoreApi:
        return ShopifyApi(shop)

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
