"""Orders in the database: recorded (with their work queued), found, listed, shown as JSON."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, func, or_, select, update

from ..models import deliveries, events, items, orders
from ..orders import Order, PayloadError
from ..platforms import ADAPTERS, Plain
from ..statuses import ItemKind, JobKind, OrderStatus, Refunded
from ..tallies import count_orders

if TYPE_CHECKING:  # the context is built on top of the store; only its type is needed here
    from ..context import Certhook


def iso(ts: float | None) -> str | None:
    """A timestamp as the API writes it: ISO 8601 in UTC."""
    return None if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


SEEN = "event already received"  # a duplicate delivery's reason: the store's id for it came before


def record_delivery(conn: Connection, now: float, shop: str, topic: str, event_id: str | None,
                    order_id: str | None, outcome: str, reason: str | None = None) -> None:
    """A row of deliveries: one webhook as received, and what became of it."""
    conn.execute(_ADD_DELIVERY, {
        "shop": shop, "topic": topic[:128], "event_id": (event_id or None) and event_id[:128],
        "order_id": order_id, "outcome": outcome, "reason": reason, "received_at": now})


_ADD_EVENT = events.insert()
_SEEN_EVENT = select(deliveries.c.id).where(deliveries.c.shop == bindparam("shop"),
                                            deliveries.c.event_id == bindparam("event_id")).limit(1)
_ADD_DELIVERY = deliveries.insert()
_LOCK_ORDER = select(orders).where(orders.c.id == bindparam("order_pk")).with_for_update()
# The same lock, reading only what an issue job needs (not the order's JSON)
_LOCK_STATE = (select(orders.c.id, orders.c.shop, orders.c.status, orders.c.cancelled_at,
                      orders.c.writeback_status)
               .where(orders.c.id == bindparam("order_pk")).with_for_update())
_UPDATE_ORDER = update(orders).where(orders.c.id == bindparam("order_pk"))


def update_order(conn: Connection, order_pk: int, **values: Any) -> None:
    """Set these columns of one order."""
    conn.execute(_UPDATE_ORDER, {"order_pk": order_pk, **values})


def delivered(conn: Connection, shop: str, event_id: str) -> bool:
    """Whether a delivery of this event (the store's id for it) was received before."""
    return conn.execute(_SEEN_EVENT, {"shop": shop, "event_id": event_id[:128]}).first() is not None


def add_event(conn: Connection, now: float, order_pk: int, kind: str, detail: str) -> None:
    """One line of the order's timeline, written in the transaction of what it tells."""
    conn.execute(_ADD_EVENT, {"order_pk": order_pk, "at": now, "kind": kind,
                              "detail": detail[:1000]})


def record_order(ch: Certhook, conn: Connection, shop_id: str, order: Order | Plain,
                 payload: str | None = None, source: str = "webhook",
                 cancelled: Refunded | None = None) -> bool:
    """Record a paid order and queue its evaluation, after the shop's hold, in the caller's
    transaction; False if known. Every way in (a webhook, reconciliation, backfill) records
    here. `payload`: the store's body as sent, which the evaluation reads (`order` is then
    only whose and which: Plain). `cancelled`: the store says it is cancelled already (and how
    much was refunded): it is kept as cancelled and nothing is queued."""
    now = ch.now()
    shop = ch.shop(shop_id)
    hold_until = now + shop.hold_minutes * 60 if shop and shop.hold_minutes else None
    status, reason = OrderStatus.PENDING, None
    if cancelled is not None:
        status, reason = OrderStatus.CANCELLED, "cancelled before it was paid here: nothing will be issued"
    elif hold_until is not None:
        status, reason = OrderStatus.HELD, f"hold until {_hhmm(hold_until)} UTC"
    row = conn.execute(ch.db.insert_new(orders, "shop", "order_id"), {
        "shop": shop_id, "order_id": order.order_id, "order_name": order.order_name[:255],
        "email": order.email.lower()[:254], "customer_name": order.customer_name[:255],
        "status": status, "reason": reason, "shadow": False, "payload": payload,
        "order_json": order.to_json() if isinstance(order, Order) else "{}",
        "cancelled_at": now if cancelled is not None else None,
        "refunded": cancelled or Refunded.NONE, "created_at": now, "updated_at": now,
    }).first()
    if row is None:
        return False
    add_event(conn, now, row.id, "received", f"received by {source}" + (f": {reason}" if reason else ""))
    if cancelled is None:
        ch.queue.enqueue(conn, JobKind.EVALUATE, str(row.id), now, at=hold_until, shop=shop_id)
    return True


def order_of(ch: Certhook, row: Any) -> Order:
    """The order as the rules see it, from the store's body if no job has read it yet
    (PayloadError if it can't be read)."""
    if row.payload is None:
        return Order.from_json(row.order_json)
    shop = ch.shop(row.shop)
    if shop is None:
        raise PayloadError(f"shop {row.shop!r} is not in the settings any more")
    return ADAPTERS[shop.platform].normalize(row.shop, json.loads(row.payload))


def _hhmm(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M")


def find_order(conn: Connection, shop: str, order_id: str) -> Any:
    return conn.execute(
        select(orders).where(orders.c.shop == shop, orders.c.order_id == order_id)
    ).first()


def lock_order(conn: Connection, order_pk: int, whole: bool = True) -> Any:
    """The order's row, locked for this transaction (on PostgreSQL; SQLite has one writer);
    not `whole`: its id, shop, status, cancelled_at and writeback_status only."""
    return conn.execute(_LOCK_ORDER if whole else _LOCK_STATE, {"order_pk": order_pk}).one()


def items_of(conn: Connection, order_pks: list[int]) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {pk: [] for pk in order_pks}
    if order_pks:
        for item in conn.execute(
            select(items).where(items.c.order_pk.in_(order_pks))
            .order_by(items.c.kind, items.c.allocation_id, items.c.list_id, items.c.line_item_id)
        ):
            out[item.order_pk].append(item)
    return out


def list_orders(conn: Connection, shop: str | None = None, status: str | None = None,
                q: str | None = None, page: int = 1, per_page: int = 50
                ) -> tuple[list[tuple[Any, list[Any]]], int]:
    """Orders newest first, one page, with the total that match."""
    where = []
    if shop:
        where.append(orders.c.shop == shop)
    if status:
        where.append(orders.c.status == status)
    if q:
        # Exact matches only, each on an index, so a search stays fast over many orders.
        q = q.strip()
        where.append(or_(orders.c.order_id == q, orders.c.order_name.in_([q, f"#{q.lstrip('#')}"]),
                         orders.c.email == q.lower()))
    total = conn.execute(select(func.count()).select_from(orders).where(*where)).scalar_one() \
        if q else count_orders(conn, shop, [status] if status else ())
    rows = conn.execute(
        select(orders).where(*where).order_by(orders.c.created_at.desc(), orders.c.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    found = items_of(conn, [r.id for r in rows])
    return [(r, found[r.id]) for r in rows], total


def item_json(row: Any) -> dict[str, Any]:
    out = {
        "kind": row.kind, "issuer": row.issuer, "allocation_id": row.allocation_id,
        "impact_qty": row.impact_qty, "impact": row.impact,
        "external_unique_id": row.external_unique_id, "certificate_id": row.certificate_id,
        "certificate_url": row.certificate_url,
        "certificate_image_url": row.certificate_image_url,
        "status": row.status, "error": row.error,
    }
    if row.kind == ItemKind.OFFERING:
        out.update(code=row.code, claim_url=row.claim_url, claims=row.claims,
                   line_item_id=row.line_item_id)
    elif row.kind == ItemKind.CERTFUSION:
        out["list_id"] = row.list_id
    return out


def order_json(row: Any, found: list[Any], customer_url: str | None) -> dict[str, Any]:
    """One order as the API returns it: the contract's keys in its order, then certhook's own."""
    evaluation = json.loads(row.evaluation_json) if row.evaluation_json else None
    return {
        "shop": row.shop, "order_id": row.order_id, "order_name": row.order_name,
        "status": row.status, "customer_url": customer_url,
        "certificates": [item_json(i) for i in found],
        "writeback": None if row.writeback_status is None
        else {"status": row.writeback_status, "error": row.writeback_error},
        "reason": row.reason, "created_at": iso(row.created_at),
        "cancelled_at": iso(row.cancelled_at), "refunded": row.refunded,
        "shadow": row.shadow, "customer": {"name": row.customer_name, "email": row.email},
        "earned": evaluation["allocations"] if evaluation else None,
    }
