"""WooCommerce: its webhook ping and topics, the order normalized, write-back by meta and one note."""
from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from marshmallow import fields

from ..http import Client, Response, body_of
from ..orders import LineItem, Order
from ..settings import Shop
from ..statuses import ItemKind, Refunded
from .base import Adapter, Change, PaidOrder, Plain, StoreApi, Topic, Webhook
from .payloads import Door, Id, Money, Objects, Quantity, Scalar, Text, load

SERVICE = "WooCommerce"
META_KEY = "certhook_certificates"
URL_META_KEY = "certhook_customer_url"
_PING = re.compile(rb"^webhook_id=\d+$")


def source_domain(source: str) -> str:
    """The host of X-WC-Webhook-Source (`https://shop.example.com/`); "" for none or nonsense."""
    try:
        return urlsplit(source.strip()).hostname or ""
    except ValueError:  # e.g. "http://[::1": no shop has that domain
        return ""


class _Meta(Door):
    key, value = Text(), Scalar()


class _Line(Door):
    id, product_id, variation_id = Id(zero=True), Id(zero=True), Id(zero=True)
    sku, name = Text(), Text()
    quantity = Quantity(load_default=0)
    price, total = Money(), Money()  # price: the docs say a string, their example a number
    meta_data = Objects(_Meta)


class _Billing(Door):
    email, first_name, last_name = Text(), Text(), Text()


class _Who(Door):
    """Which WooCommerce order, whose, and whether it has refunds: what the door reads of a
    paid order (its lines are read by its evaluation)."""

    id = Id(required=True)
    number = Text()
    billing = fields.Nested(_Billing, allow_none=True, load_default=None)
    refunds = fields.List(fields.Raw(), allow_none=True, load_default=list)


class _Order(_Who):
    """A WooCommerce order (webhook body or REST answer), as far as certhook reads it."""

    currency, date_paid_gmt, date_created_gmt = Text(), Text(), Text()
    customer_id = Id(zero=True)  # 0 is a guest
    line_items = Objects(_Line)
    meta_data = Objects(_Meta)  # a `lang` here is the customer's language (a translation plugin's)


# One instance for every load: building a schema (and its nested ones) costs more than a load.
_ORDER, _WHO = _Order(), _Who()


def _line_item(line: dict[str, Any]) -> LineItem:
    price, quantity = line["price"] or Decimal(0), line["quantity"]
    # `total` is what was paid for the line after coupons; the difference is its discount.
    discount = Decimal(0) if line["total"] is None else price * quantity - line["total"]
    return LineItem(
        id=line["id"], product_id=line["product_id"], variant_id=line["variation_id"],
        sku=line["sku"], title=html.unescape(line["name"]), quantity=quantity, price=price,
        discount=discount,
        properties=tuple((m["key"][:255], m["value"][:500]) for m in line["meta_data"]
                         if m["key"] and m["value"] is not None),
    )


def _who(order: dict[str, Any]) -> Plain:
    """Which order, and whose, from the order as the schema read it."""
    billing = order["billing"] or {"email": "", "first_name": "", "last_name": ""}
    return Plain(order["id"], f"#{order['number'] or order['id']}", billing["email"],
                 " ".join(p for p in (billing["first_name"], billing["last_name"]) if p))


def normalize(shop_id: str, payload: dict[str, Any]) -> Order:
    """A WooCommerce order (webhook body or REST answer) as the platform-neutral Order."""
    order = load(_ORDER, payload)
    who = _who(order)
    return Order(
        shop=shop_id, order_id=who.order_id, order_name=who.order_name, currency=order["currency"],
        email=who.email, customer_id=order["customer_id"], customer_name=who.customer_name,
        line_items=tuple(_line_item(line) for line in order["line_items"]),
        created_at=order["date_paid_gmt"] or order["date_created_gmt"],
        locale=next((str(m["value"])[:35] for m in order["meta_data"] if m["key"] == "lang" and m["value"]),
                    ""),
    )


def note_text(entries: list[dict[str, Any]], customer_url: str | None = None) -> str:
    lines = ["Thank you! Your order earned these impact certificates:"]
    lines += [f"- A gift of {c['quantity']} ({c['impact']}): code {c['code']}, claim it at "
              f"{c['claim_url'] or '(no link)'}" if c.get("kind") == ItemKind.OFFERING else
              f"- {c['quantity']} × {c['impact'] or 'impact'}: {c['url'] or '(no link)'}" for c in entries]
    if customer_url:
        lines.append(f"All of them on one page: {customer_url}")
    return "\n".join(lines)


def _page(response: Response) -> tuple[list[Any], int]:
    return list(body_of(response, SERVICE)), int(response.headers.get("X-WP-TotalPages") or 1)


class WooCommerceApi(StoreApi):
    """The REST API (wc/v3), HTTP Basic with the consumer key and secret."""

    customer_note = True

    def __init__(self, shop: Shop):
        self.shop = shop
        self.http = Client(SERVICE, shop.api_url, (shop.connect_timeout, shop.read_timeout),
                           max_bytes=shop.max_answer_bytes,
                           auth=(shop.consumer_key, shop.consumer_secret))

    def write_back(self, order_id: str, entries: list[dict[str, Any]],
                   customer_url: str | None) -> None:
        """Upsert the certhook_certificates meta (other meta is left alone)."""
        meta: list[dict[str, Any]] = [{"key": META_KEY, "value": entries}]
        if customer_url:
            meta.append({"key": URL_META_KEY, "value": customer_url})
        self.http.json("PUT", f"/orders/{order_id}", json={"meta_data": meta})

    def note_sent(self, order_id: str, entries: list[dict[str, Any]]) -> bool:
        notes = self.http.json("GET", f"/orders/{order_id}/notes", params={"type": "customer"})
        first = entries[0]
        mark = first.get("url") or first.get("code") or first["certificate_id"]
        return any(str(mark) in str(note.get("note", "")) for note in notes if isinstance(note, dict))

    def send_note(self, order_id: str, entries: list[dict[str, Any]], customer_url: str | None) -> None:
        self.http.json("POST", f"/orders/{order_id}/notes",
                       json={"note": note_text(entries, customer_url), "customer_note": True})

    def paid_orders(self, since: datetime, until: datetime) -> list[PaidOrder]:
        found = self.http.pages("/orders", {
            "status": ",".join(self.shop.trigger_statuses),
            "modified_after": since.strftime("%Y-%m-%dT%H:%M:%S"),
            "modified_before": until.strftime("%Y-%m-%dT%H:%M:%S"), "dates_are_gmt": "true",
            "per_page": 100, "orderby": "id", "order": "asc"}, _page)
        return [(str(raw.get("id")), lambda raw=raw: normalize(self.shop.id, raw))
                for raw in list(found) if isinstance(raw, dict)]

    def close(self) -> None:
        self.http.close()


class WooCommerce(Adapter):
    name = "woocommerce"
    topics = {"order.updated": Topic.HANDLED, "order.created": Topic.HANDLED}

    def is_ping(self, body: bytes, headers: Mapping[str, str]) -> bool:
        """The unsigned `webhook_id=N` WooCommerce sends when a webhook is saved."""
        return not headers.get("X-WC-Webhook-Signature") and bool(_PING.match(body.strip()))

    def webhook(self, headers: Mapping[str, str]) -> Webhook:
        # Deduplication is on (shop, order): X-WC-Webhook-Delivery-ID repeats within a second.
        return Webhook(domain=source_domain(headers.get("X-WC-Webhook-Source", "")),
                       signature=headers.get("X-WC-Webhook-Signature"),
                       topic=headers.get("X-WC-Webhook-Topic", ""),
                       event_id=headers.get("X-WC-Webhook-Delivery-ID"))

    def plain_order(self, shop: Shop, payload: dict[str, Any]) -> Plain | None:
        if payload.get("status") not in shop.trigger_statuses:
            return None
        order = load(_WHO, payload)
        return None if order["refunds"] else _who(order)

    def ignore(self, shop: Shop, payload: dict[str, Any]) -> str | None:
        if payload.get("status") in (*shop.trigger_statuses, "cancelled", "refunded"):
            return None
        return f"status {str(payload.get('status'))[:32]!r} is not a trigger status"

    def normalize(self, shop_id: str, payload: dict[str, Any]) -> Order:
        return normalize(shop_id, payload)

    def change(self, shop: Shop, topic: str, payload: dict[str, Any], order: Order | None) -> Change | None:
        """`cancelled` and `refunded` end the order; a paid one with refunds is partly refunded.
        `order` is this payload, read already (its schema checked that `refunds` is a list)."""
        if order is None:
            return None
        status = payload.get("status")
        if status in ("cancelled", "refunded"):
            refunded = status == "refunded"  # so it was paid; a cancelled one may never have been
            return Change(order.order_id, cancelled=not refunded, order=order, was_paid=refunded,
                          refunded=Refunded.FULL if refunded else Refunded.NONE)
        if payload.get("refunds"):
            return Change(order.order_id, refunded=Refunded.PARTIAL)
        return None

    def api(self, shop: Shop, connections: object = None) -> StoreApi:
        return WooCommerceApi(shop)
