"""The normalized order: what every store's payload becomes before the rules see it."""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

# An email every provider takes (Dots.eco's remote_user_email, a CertFusion recipient).
_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def valid_email(value: str) -> bool:
    return len(value) <= 254 and bool(_EMAIL.match(value))


class PayloadError(ValueError):
    """The store sent an order we can't read; the message names the field."""


@dataclass(frozen=True)
class LineItem:
    id: str
    product_id: str
    variant_id: str
    sku: str
    title: str
    quantity: int
    price: Decimal
    discount: Decimal = Decimal("0")
    gift_card: bool = False
    properties: tuple[tuple[str, str], ...] = ()  # what the buyer filled in ("Recipient name")

    def filled_in(self, name: str) -> str:
        return next((v for k, v in self.properties if k.casefold() == name.casefold()), "")

    @property
    def total(self) -> Decimal:
        """What the customer paid for this line: price × quantity minus its discount."""
        return self.price * self.quantity - self.discount


@dataclass(frozen=True)
class Order:
    shop: str
    order_id: str
    order_name: str
    currency: str = ""
    email: str = ""
    customer_id: str = ""
    customer_name: str = ""
    test: bool = False
    line_items: tuple[LineItem, ...] = field(default_factory=tuple)
    created_at: str = ""  # as the store wrote it (ISO 8601); its date fills {order_date}

    @property
    def buyer_id(self) -> str:
        """Who the buyer is to an issuer: the store's customer id, else the email, else (a
        guest with no email) the order itself."""
        return (self.customer_id or self.email or f"{self.shop}-order-{self.order_id}")[:191]

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=str, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Order:
        data = json.loads(text)
        items = tuple(
            LineItem(**{**li, "price": Decimal(li["price"]), "discount": Decimal(li["discount"]),
                        "properties": tuple(tuple(p) for p in li.get("properties", ()))})
            for li in data.pop("line_items")
        )
        return cls(**data, line_items=items)


def money(value: Any, where: str) -> Decimal:
    """A money amount sent as a string or a number ("409.94", 409.94, 6)."""
    if value is None or value == "":
        return Decimal("0")
    if isinstance(value, bool):
        raise PayloadError(f"{where} is not an amount")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise PayloadError(f"{where} is not an amount: {str(value)[:40]!r}") from None
    if not amount.is_finite():
        raise PayloadError(f"{where} is not an amount")
    return amount


def text_id(value: Any) -> str:
    """Ids as text: Shopify's exceed 2^53, so they never pass through a float."""
    if value is None or isinstance(value, bool):
        return ""
    return str(value)


def order_id_and_items(payload: dict[str, Any]) -> tuple[str, list[Any]]:
    """The order's id (as text, at most 64 characters) and its raw line items."""
    order_id = text_id(payload.get("id"))
    if not order_id or len(order_id) > 64:
        raise PayloadError("the order has no id" if not order_id else "the order id is too long")
    items = payload.get("line_items") or []
    if not isinstance(items, list):
        raise PayloadError("line_items is not a list")
    return order_id, items


def properties(raw: Any, key: str) -> tuple[tuple[str, str], ...]:
    """Line item properties ([{name|key, value}]) as (name, value) pairs of text."""
    if not isinstance(raw, list):
        return ()
    return tuple((str(p.get(key))[:255], str(p.get("value"))[:500]) for p in raw
                 if isinstance(p, dict) and p.get(key) is not None
                 and isinstance(p.get("value"), (str, int, float)))


def line_quantity(raw: Any, i: int) -> int:
    """A raw line item's quantity, after checking the line is an object at all."""
    if not isinstance(raw, dict):
        raise PayloadError(f"line_items.{i} is not an object")
    quantity = raw.get("quantity", 0)
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise PayloadError(f"line_items.{i}.quantity is not a whole number")
    return quantity
