"""Shopify: its webhooks and topics, the REST Order resource normalized, write-back by metafields."""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from ..http import Client
from ..orders import LineItem, Order, line_quantity, money, order_id_and_items, properties, text_id
from ..settings import SHOPIFY_API_VERSION, Shop
from . import shopify_graphql as graphql
from .base import Adapter, Erasure, PaidOrder, StoreApi, Topic, Webhook

SERVICE = "Shopify"
_VERSION = re.compile(r"/admin/api/(\d{4})-(\d{2})(?:/|$)")


def _line_item(raw: Any, i: int) -> LineItem:
    quantity = line_quantity(raw, i)
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
        properties=properties(raw.get("properties"), "name"),
    )


class ShopifyApi(StoreApi):
    def __init__(self, shop: Shop):
        self.shop = shop
        self.http = Client(SERVICE, shop.api_url, (shop.connect_timeout, shop.read_timeout),
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
        return [(order_id, lambda order_id=order_id: graphql.fetch_order(budget, self.shop.id, order_id))
                for order_id in graphql.paid_order_ids(budget, since, until)]

    def close(self) -> None:
        self.http.close()


class Shopify(Adapter):
    name = "shopify"
    topics = {
        "orders/paid": Topic.HANDLED,
        # The privacy topics Shopify requires: erase what certhook holds.
        "customers/redact": Topic.PRIVACY, "shop/redact": Topic.PRIVACY,
        # Answered and logged: the merchant answers a data request from the dashboard and API.
        "customers/data_request": Topic.IGNORED,
        "orders/create": Topic.IGNORED, "orders/updated": Topic.IGNORED,
        "orders/cancelled": Topic.IGNORED, "refunds/create": Topic.IGNORED,
        "app/uninstalled": Topic.IGNORED,
    }

    def webhook(self, headers: Mapping[str, str]) -> Webhook:
        return Webhook(domain=headers.get("X-Shopify-Shop-Domain", ""),
                       signature=headers.get("X-Shopify-Hmac-Sha256"),
                       topic=headers.get("X-Shopify-Topic", ""),
                       event_id=headers.get("X-Shopify-Event-Id") or headers.get("X-Shopify-Webhook-Id"))

    def erasure(self, topic: str, payload: dict[str, Any]) -> Erasure:
        if topic == "shop/redact":
            return Erasure(whole_shop=True)
        customer = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
        order_ids = payload.get("orders_to_redact")
        order_ids = order_ids if isinstance(order_ids, list) else []
        return Erasure(order_ids=tuple(str(i)[:64] for i in order_ids if isinstance(i, int | str)),
                       email=str(customer.get("email") or ""))

    def normalize(self, shop_id: str, payload: dict[str, Any]) -> Order:
        """A REST Order resource (the orders/paid body) as the platform-neutral Order."""
        order_id, items = order_id_and_items(payload)
        customer = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
        return Order(
            shop=shop_id,
            order_id=order_id,
            order_name=str(payload.get("name") or f"#{payload.get('order_number') or order_id}"),
            currency=str(payload.get("currency") or ""),
            email=str(payload.get("email") or payload.get("contact_email") or customer.get("email") or ""),
            customer_id=text_id(customer.get("id")),
            customer_name=" ".join(str(p) for p in (customer.get("first_name"),
                                                      customer.get("last_name")) if p),
            test=bool(payload.get("test")),
            created_at=str(payload.get("processed_at") or payload.get("created_at") or ""),
            line_items=tuple(_line_item(raw, i) for i, raw in enumerate(items)),
        )

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
