"""Sample orders for a shop in shadow mode: built from its own rules (a line that matches each
rule, so every sample earns something), as its store would send them (an ordinary paid order,
not a test one), and signed with its own secret, so they travel the real webhook door.

`certhook demo` sends them over HTTP; the dashboard's "Send sample orders" through the same
app in process. Neither is allowed for a live shop: samples would cost it certificates.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .onboarding import SAMPLE
from .platforms.signatures import sign
from .rules import Rule
from .settings import Shop

CUSTOMER = {"first_name": "Sample", "last_name": "Customer", "email": "sample.customer@example.com"}


@dataclass(frozen=True)
class Sample:
    order_id: str
    path: str  # the webhook door's
    body: bytes
    headers: dict[str, str]


class NotShadow(Exception):
    """The shop is live: it gets no samples."""


def _fill(glob: str, digits: bool) -> str:
    """A value the glob matches: each * and ? filled in."""
    filled = glob.replace("*", "1" if digits else "").replace("?", "1" if digits else "x")
    return filled or "sample"


def _line(rule: Rule, n: int) -> dict[str, Any]:
    """What a line item that `rule` matches says."""
    match = {key: globs[0] for key, globs in rule.match}
    return {"id": 9000 + n, "product_id": int(_fill(match.get("product_id", str(7000 + n)), True)),
            "variant_id": int(_fill(match.get("variant_id", str(8000 + n)), True)),
            "sku": _fill(match["sku"], False) if "sku" in match else f"SAMPLE-{n}",
            "title": _fill(match["title"], False) if "title" in match else f"Sample product {n}"}


def _price(rules: tuple[Rule, ...]) -> str:
    """Enough for any per_amount rule to earn something on a line of its own."""
    return str(max([Decimal(25), *(r.per_amount for r in rules if r.per_amount)]))


def shopify_order(rules: tuple[Rule, ...], order_id: int) -> dict[str, Any]:
    """A Shopify orders/paid body."""
    lines = [{**_line(r, n), "name": f"Sample line {n}", "quantity": 1, "price": _price(rules),
              "total_discount": "0.00", "gift_card": False, "properties": []}
             for n, r in enumerate(rules, 1)]
    return {"id": order_id, "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
            "name": f"#S{order_id % 100000}", "order_number": order_id % 100000,
            "email": CUSTOMER["email"], "currency": "EUR", "financial_status": "paid", "test": False,
            "cancelled_at": None, "customer_locale": "en",
            "customer": {"id": 1, **CUSTOMER}, "line_items": lines}


def woocommerce_order(shop: Shop, rules: tuple[Rule, ...], order_id: int) -> dict[str, Any]:
    """A WooCommerce order.updated body, in the shop's first trigger status."""
    lines = []
    for n, rule in enumerate(rules, 1):
        line = _line(rule, n)
        lines.append({"id": line["id"], "product_id": line["product_id"], "variation_id": line["variant_id"],
                      "sku": line["sku"], "name": line["title"], "quantity": 1, "price": _price(rules),
                      "total": _price(rules), "meta_data": []})
    return {"id": order_id, "number": str(order_id), "status": shop.trigger_statuses[0],
            "currency": "EUR", "billing": CUSTOMER, "line_items": lines, "refunds": [], "meta_data": []}


def samples(shop: Shop, rules: tuple[Rule, ...], count: int) -> list[Sample]:
    """`count` signed sample orders for the shop, each with new ids."""
    if not shop.shadow:
        raise NotShadow(f"shop {shop.id} is live: samples would cost it real certificates; "
                        "put it in shadow mode (mode: shadow) to try them")
    first = int(time.time() * 1000) % 10**12 * 100
    out = []
    for n in range(count):
        order_id = first + n
        if shop.platform == "shopify":
            body = json.dumps(shopify_order(rules, order_id)).encode()
            headers = {"X-Shopify-Topic": "orders/paid", "X-Shopify-Shop-Domain": shop.domain,
                       "X-Shopify-Event-Id": f"{SAMPLE}{order_id}",
                       "X-Shopify-Hmac-Sha256": sign(body, shop.webhook_secrets[0])}
        else:
            body = json.dumps(woocommerce_order(shop, rules, order_id)).encode()
            headers = {"X-WC-Webhook-Topic": "order.updated",
                       "X-WC-Webhook-Source": f"https://{shop.domain}/",
                       "X-WC-Webhook-Resource": "order", "X-WC-Webhook-Event": "updated",
                       "X-WC-Webhook-Delivery-ID": f"{SAMPLE}{order_id}",
                       "X-WC-Webhook-Signature": sign(body, shop.webhook_secrets[0])}
        out.append(Sample(str(order_id), f"/webhooks/{shop.platform}", body,
                          {**headers, "Content-Type": "application/json"}))
    return out
