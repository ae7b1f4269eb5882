"""The normalized order: what every store's payload becomes before the rules see it."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal

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
    cancelled_at: str = ""  # set when the store's order was already cancelled
    locale: str = ""  # the customer's language, as the store said it ("de", "de-CH"; "": unknown)

    @property
    def buyer_id(self) -> str:
        """Who the buyer is to an issuer: the store's customer id, else the email, else (a
        guest with no email) the order itself."""
        return (self.customer_id or self.email or f"{self.shop}-order-{self.order_id}")[:191]

    def to_json(self) -> str:
        """As asdict() would give it, without its deep copy (a quarter of an evaluation)."""
        data = {**self.__dict__, "line_items": [line.__dict__ for line in self.line_items]}
        return json.dumps(data, default=str, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Order:
        data = json.loads(text)
        items = tuple(
            LineItem(**{**li, "price": Decimal(li["price"]), "discount": Decimal(li["discount"]),
                        "properties": tuple(tuple(p) for p in li.get("properties", ()))})
            for li in data.pop("line_items")
        )
        return cls(**data, line_items=items)
