"""Shopify webhooks: the topics certhook acts on, and the REST Order resource normalized."""
from __future__ import annotations

from typing import Any

from ..orders import (
    LineItem,
    Order,
    line_quantity,
    money,
    order_id_and_items,
    properties,
    text_id,
)

SERVICE = "Shopify"
PAID = "orders/paid"
HANDLED = (PAID,)
# The privacy topics Shopify requires: erase what certhook holds (customers/data_request is
# answered and logged: the merchant answers the customer from the dashboard and the API).
REDACT = ("customers/redact", "shop/redact")
# Answered 200 and recorded as ignored, so Shopify stops sending them again.
IGNORED = ("orders/create", "orders/updated", "orders/cancelled", "refunds/create",
           "customers/data_request", "app/uninstalled")

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


def normalize(shop: str, payload: dict[str, Any]) -> Order:
    """A REST Order resource (the orders/paid body) as the platform-neutral Order."""
    order_id, items = order_id_and_items(payload)
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
        created_at=str(payload.get("processed_at") or payload.get("created_at") or ""),
        line_items=tuple(_line_item(raw, i) for i, raw in enumerate(items)),
    )
