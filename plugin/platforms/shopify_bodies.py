"""What each Shopify topic's body is, as far as certhook reads it (marshmallow schemas).

Shopify's HMAC covers the body, not the X-Shopify-Topic header: each topic reads its own shape,
so a signed body resent under another topic is refused instead of acted on.
"""
from __future__ import annotations

from typing import Any

from marshmallow import RAISE, ValidationError, fields, pre_load

from .payloads import Door, Flag, Id, Money, Objects, Quantity, Scalar, Text


class Customer(Door):
    id = Id(zero=True)
    email, first_name, last_name = Text(), Text(), Text()


class Property(Door):
    name, value = Text(), Scalar()


class Line(Door):
    id, product_id, variant_id = Id(zero=True), Id(zero=True), Id(zero=True)
    sku, title, name = Text(), Text(), Text()
    quantity = Quantity(load_default=0)
    price, total_discount = Money(), Money()
    gift_card = Flag()
    properties = Objects(Property)


# A Refund's keys, never an Order's (a privacy request has no `id`): the HMAC covers the body,
# not the topic, so an order topic refuses a refund resent under it.
NOT_AN_ORDER = ("order_id", "refund_line_items")


class Who(Door):
    """Which order of the REST Order resource, whose, and whether it is a test or cancelled:
    what the door reads of a paid order (its lines are read by its evaluation)."""

    @pre_load
    def an_order(self, data: Any, **kwargs: Any) -> Any:
        for key in NOT_AN_ORDER if isinstance(data, dict) else ():
            if key in data:
                raise ValidationError("is a key of another topic's body, not of an order", key)
        return data

    id = Id(required=True)
    name, order_number, email, contact_email = Text(), Text(), Text(), Text()
    customer = fields.Nested(Customer, allow_none=True, load_default=None)
    test = Flag()
    cancelled_at = Text()


class OrderResource(Who):
    """The REST Order resource (the orders/paid body), as far as certhook reads it."""

    currency, processed_at, created_at, customer_locale = Text(), Text(), Text(), Text()
    line_items = Objects(Line)


class RefundLine(Door):
    line_item_id = Id(zero=True)
    quantity = Quantity(load_default=0)


class Refund(Door):
    """A Refund resource (the refunds/create body), as far as certhook reads it."""

    order_id = Id(required=True)
    refund_line_items = Objects(RefundLine)


class Exact(Door):
    """A privacy topic's body: its own keys and no others (a body of another topic, signed and
    resent under this one, is refused)."""

    class Meta:
        unknown = RAISE


class ShopRedact(Exact):
    shop_id = Id(required=True)
    shop_domain = Text(required=True)


class Requester(Exact):
    id = Id(zero=True)
    email, phone = Text(), Text()


class CustomerRedact(ShopRedact):
    customer = fields.Nested(Requester, required=True)
    orders_to_redact = fields.List(Id(), required=True)


class RequestId(Exact):
    id = Id(required=True)


class DataRequest(ShopRedact):
    customer = fields.Nested(Requester, required=True)
    orders_requested = fields.List(Id(), required=True)
    data_request = fields.Nested(RequestId, required=True)


PRIVACY = {"shop/redact": ShopRedact(), "customers/redact": CustomerRedact(),
            "customers/data_request": DataRequest()}


# One instance for every load: building a schema (and its nested ones) costs more than a load.
ORDER, WHO, REFUND = OrderResource(), Who(), Refund()
