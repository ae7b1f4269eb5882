"""WooCommerce: the webhook ping and topics, the order normalized, and the REST API client."""
from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from ..issuers.errors import Transient, call, error_for
from ..orders import (
    LineItem,
    Order,
    line_quantity,
    money,
    order_id_and_items,
    properties,
    text_id,
)
from ..settings import Shop

SERVICE = "WooCommerce"
HANDLED = ("order.updated", "order.created")
META_KEY = "certhook_certificates"
URL_META_KEY = "certhook_customer_url"
_PING = re.compile(rb"^webhook_id=\d+$")


def is_ping(body: bytes, signature: str | None) -> bool:
    """The unsigned `webhook_id=N` WooCommerce sends when a webhook is saved."""
    return not signature and bool(_PING.match(body.strip()))


def source_domain(source: str) -> str:
    """The host of X-WC-Webhook-Source (`https://shop.example.com/`)."""
    return (urlsplit(source.strip()).hostname or "") if source else ""


def _line_item(raw: Any, i: int) -> LineItem:
    quantity = line_quantity(raw, i)
    price = money(raw.get("price"), f"line_items.{i}.price")  # a number or a string
    # `total` is what was paid for the line after coupons; the difference is its discount.
    total = raw.get("total")
    discount = price * quantity - money(total, f"line_items.{i}.total") if total not in (None, "") \
        else money(0, "")
    variation = text_id(raw.get("variation_id"))
    return LineItem(
        id=text_id(raw.get("id")),
        product_id=text_id(raw.get("product_id")),
        variant_id="" if variation == "0" else variation,
        sku=str(raw.get("sku") or ""),
        title=html.unescape(str(raw.get("name") or "")),
        quantity=quantity,
        price=price,
        discount=discount,
        properties=properties(raw.get("meta_data"), "key"),
    )


def normalize(shop: str, payload: dict[str, Any]) -> Order:
    """A WooCommerce order (webhook body or REST answer) as the platform-neutral Order."""
    order_id, items = order_id_and_items(payload)
    billing = payload.get("billing") if isinstance(payload.get("billing"), dict) else {}
    customer_id = text_id(payload.get("customer_id"))
    return Order(
        shop=shop,
        order_id=order_id,
        order_name=f"#{payload.get('number') or order_id}",
        currency=str(payload.get("currency") or ""),
        email=str(billing.get("email") or ""),
        customer_id="" if customer_id == "0" else customer_id,  # 0 is a guest
        customer_name=" ".join(str(p) for p in (billing.get("first_name"),
                                                  billing.get("last_name")) if p),
        line_items=tuple(_line_item(raw, i) for i, raw in enumerate(items)),
        created_at=str(payload.get("date_paid_gmt") or payload.get("date_created_gmt") or ""),
    )


class Client:
    """The WooCommerce REST API (wc/v3), HTTP Basic with the consumer key and secret."""

    def __init__(self, shop: Shop, timeout: tuple[float, float]):
        self.shop, self.timeout = shop, timeout
        self.session = requests.Session()
        self.session.auth = (shop.consumer_key, shop.consumer_secret)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.session.close()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = call(self.session, method, f"{self.shop.api_url}{path}", SERVICE, self.timeout,
                        **kwargs)
        if response.status_code >= 300:
            raise error_for(response, SERVICE)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise Transient(f"{SERVICE}: the answer is not JSON", response.status_code,
                            response.text) from None

    def set_certificates(self, order_id: str, certificates: list[dict[str, Any]],
                         customer_url: str | None = None) -> None:
        """Upsert the certhook_certificates meta (other meta is left alone)."""
        meta: list[dict[str, Any]] = [{"key": META_KEY, "value": certificates}]
        if customer_url:
            meta.append({"key": URL_META_KEY, "value": customer_url})
        self.json("PUT", f"/orders/{order_id}", json={"meta_data": meta})

    def customer_notes(self, order_id: str) -> list[dict[str, Any]]:
        return list(self.json("GET", f"/orders/{order_id}/notes", params={"type": "customer"}))

    def add_customer_note(self, order_id: str, note: str) -> None:
        self.json("POST", f"/orders/{order_id}/notes", json={"note": note, "customer_note": True})

    def orders(self, statuses: tuple[str, ...], since: datetime, until: datetime
               ) -> Iterator[tuple[dict[str, Any], int]]:
        """Orders in these statuses modified within [since, until] (UTC): (order, total) pairs."""
        page = 1
        while True:
            response = self.request("GET", "/orders", params={
                "status": ",".join(statuses), "modified_after": since.strftime("%Y-%m-%dT%H:%M:%S"),
                "modified_before": until.strftime("%Y-%m-%dT%H:%M:%S"), "dates_are_gmt": "true",
                "per_page": 100, "page": page, "orderby": "id", "order": "asc"})
            try:
                batch = response.json()
            except ValueError:
                raise Transient(f"{SERVICE}: the answer is not JSON") from None
            total = int(response.headers.get("X-WP-Total") or len(batch))
            for raw in batch:
                yield raw, total
            if page >= int(response.headers.get("X-WP-TotalPages") or 1) or not batch:
                return
            page += 1


def note_text(certificates: list[dict[str, Any]], customer_url: str | None = None) -> str:
    lines = ["Thank you! Your order earned these impact certificates:"]
    lines += [f"- A gift of {c['quantity']} ({c['impact']}): code {c['code']}, claim it at {c['claim_url']}"
              if c.get("kind") == "offering" else
              f"- {c['quantity']} × {c['impact'] or 'impact'}: {c['url']}" for c in certificates]
    if customer_url:
        lines.append(f"All of them on one page: {customer_url}")
    return "\n".join(lines)
