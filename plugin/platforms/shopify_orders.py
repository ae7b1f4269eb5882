"""Shopify's Order resource (a webhook's body, or a GraphQL order in its shape) read as
certhook's Order."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..orders import LineItem, Order
from .base import Plain
from .payloads import load
from .shopify_bodies import ORDER


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


def who(order: dict[str, Any]) -> Plain:
    """Which order, and whose, from the order as the schema read it."""
    customer = order["customer"] or _NO_CUSTOMER
    return Plain(order["id"], order["name"] or f"#{order['order_number'] or order['id']}",
                 order["email"] or order["contact_email"] or customer["email"],
                 " ".join(p for p in (customer["first_name"], customer["last_name"]) if p))


def normalize(shop_id: str, payload: dict[str, Any]) -> Order:
    """A REST Order resource (the orders/paid body) as the platform-neutral Order."""
    order = load(ORDER, payload)
    customer = order["customer"] or _NO_CUSTOMER
    plain = who(order)
    return Order(
        shop=shop_id, order_id=plain.order_id, order_name=plain.order_name, currency=order["currency"],
        email=plain.email, customer_id=customer["id"], customer_name=plain.customer_name,
        test=order["test"],
        created_at=order["processed_at"] or order["created_at"],
        cancelled_at=order["cancelled_at"], locale=order["customer_locale"][:35],
        line_items=tuple(_line_item(line) for line in order["line_items"]),
    )
