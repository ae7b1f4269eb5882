"""Privacy requests: erase a customer from every copy certhook keeps, or forget a whole shop."""
from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, or_, select, update

from ..models import deliveries, events, items, jobs, orders
from ..orders import Order, PayloadError, valid_email
from ..statuses import JobKind
from .orders import add_event, order_of

if TYPE_CHECKING:  # the context is built on top of the store; only its type is needed here
    from ..context import Certhook

# Never blanked: what identifies the order and its items (a pending item must keep its identity).
IDENTITY = frozenset({"external_unique_id", "certificate_info", "shop", "order_id", "order_name",
                      "line_item_id", "id", "sku", "product_id", "variant_id"})


def _filled_in(order: Order) -> list[str]:
    """The names and emails the buyer filled in on line items (a gift recipient's, an engraving)."""
    return [value for item in order.line_items for key, value in item.properties
            if "name" in key.casefold() or "mail" in key.casefold() or valid_email(value)]


class Personal:
    """What names a customer: their email, name and id, and the names and emails they filled in."""

    def __init__(self, order: Order, email: str = ""):
        filled_in = _filled_in(order)
        self.parts = {v.casefold() for v in (order.email, email, order.customer_name, *filled_in)
                      if len(v.strip()) >= 3}
        self.whole = {v.casefold() for v in (order.customer_id, *filled_in) if v.strip()}

    def in_(self, text: str) -> bool:
        folded = text.casefold()
        return folded in self.whole or any(part in folded for part in self.parts)

    def names(self, value: Any, key: str = "") -> bool:
        return isinstance(value, str) and key not in IDENTITY and self.in_(value)

    def scrub(self, value: Any, key: str = "") -> Any:
        """The same JSON value without what names the customer: such a field of an object is
        left out (an optional field of a request is then not sent), such a text in a list blanked."""
        if isinstance(value, dict):
            return {k: self.scrub(v, k) for k, v in value.items() if not self.names(v, k)}
        if isinstance(value, list):
            return [self.scrub(v, key) for v in value]
        return "" if self.names(value, key) else value

    def scrub_json(self, text: str | None) -> str | None:
        return None if text is None else json.dumps(self.scrub(json.loads(text)), ensure_ascii=False)


def _erase(ch: Certhook, conn: Connection, row: Any, email: str) -> None:
    try:
        order = order_of(ch, row)
    except PayloadError:  # a body that can't be read: nothing of it is kept
        order = Order(row.shop, row.order_id, row.order_name)
    personal = Personal(order, email)
    anonymous = replace(order, email="", customer_name="", customer_id="",
                        line_items=tuple(replace(li, properties=()) for li in order.line_items))
    now = ch.now()
    conn.execute(update(orders).where(orders.c.id == row.id).values(
        email="", customer_name="", order_json=anonymous.to_json(), payload=None, updated_at=now,
        evaluation_json=personal.scrub_json(row.evaluation_json),
        reason=row.reason and personal.scrub(row.reason)))
    for item in conn.execute(select(items.c.id, items.c.request_json, items.c.error)
                             .where(items.c.order_pk == row.id)).all():
        sent = json.loads(item.request_json or "{}")
        request = personal.scrub(sent)
        if "remote_user_id" in sent and "remote_user_id" not in request:  # an issuer needs someone
            request["remote_user_id"] = anonymous.buyer_id
        conn.execute(update(items).where(items.c.id == item.id).values(
            request_json=json.dumps(request, ensure_ascii=False) if item.request_json else None,
            error=item.error and personal.scrub(item.error)))
    for event in conn.execute(select(events.c.id, events.c.detail).where(events.c.order_pk == row.id)).all():
        if personal.in_(event.detail):
            conn.execute(update(events).where(events.c.id == event.id).values(detail="(erased)"))
    add_event(conn, now, row.id, "redacted", "the customer's data was erased at the store's request")


def redact_customer(ch: Certhook, conn: Connection, shop: str, order_ids: tuple[str, ...],
                    email: str) -> int:
    """Shopify's customers/redact: erase the customer from the orders named, and any with the email."""
    where = [orders.c.order_id.in_(order_ids)] if order_ids else []
    if email:
        where.append(orders.c.email == email.lower())
    if not where:
        return 0
    rows = conn.execute(select(orders).where(orders.c.shop == shop, or_(*where))).all()
    for row in rows:
        _erase(ch, conn, row, email)
    return len(rows)


def forget_shop(conn: Connection, shop: str) -> int:
    """Shopify's shop/redact: delete everything certhook holds for the shop."""
    order_pks = select(orders.c.id).where(orders.c.shop == shop).scalar_subquery()
    refs = [str(pk) for pk in conn.execute(select(orders.c.id).where(orders.c.shop == shop)).scalars()]
    for start in range(0, len(refs), 500):  # every order job's ref is the order's id
        conn.execute(jobs.delete().where(jobs.c.kind.in_([JobKind.EVALUATE, JobKind.ISSUE,
                                                          JobKind.WRITEBACK]),
                                         jobs.c.ref.in_(refs[start:start + 500])))
    conn.execute(events.delete().where(events.c.order_pk.in_(order_pks)))
    conn.execute(items.delete().where(items.c.order_pk.in_(order_pks)))
    gone = conn.execute(orders.delete().where(orders.c.shop == shop)).rowcount
    conn.execute(deliveries.delete().where(deliveries.c.shop == shop))
    return gone
