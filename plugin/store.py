"""Orders in the database: recorded from webhooks, read by the API and the CLI."""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, func, or_, select, update

from .context import Certhook
from .models import (
    ItemStatus,
    JobKind,
    OrderStatus,
    WritebackStatus,
    certificates,
    deliveries,
    events,
    jobs,
    orders,
)
from .orders import Order


def record_delivery(ch: Certhook, conn: Connection, shop: str, topic: str, event_id: str | None,
                    order_id: str | None, outcome: str, reason: str | None = None) -> None:
    conn.execute(deliveries.insert(), {
        "shop": shop, "topic": topic[:128], "event_id": (event_id or None) and event_id[:128],
        "order_id": order_id, "outcome": outcome, "reason": reason, "received_at": ch.now()})


def add_event(ch: Certhook, conn: Connection, order_pk: int, kind: str, detail: str) -> None:
    """One line of the order's timeline, written in the transaction of what it tells."""
    conn.execute(events.insert(), {"order_pk": order_pk, "at": ch.now(), "kind": kind,
                                   "detail": detail[:1000]})


def record_order(ch: Certhook, conn: Connection, order: Order, source: str = "webhook") -> bool:
    """Record a paid order and queue its work in the caller's transaction; False if known."""
    now = ch.now()
    row = conn.execute(ch.db.insert_new(orders, "shop", "order_id"), {
        "shop": order.shop, "order_id": order.order_id, "order_name": order.order_name[:255],
        "email": order.email.lower()[:254], "customer_name": order.customer_name[:255],
        "status": OrderStatus.PENDING, "shadow": False, "order_json": order.to_json(),
        "created_at": now, "updated_at": now,
    }).first()
    if row is None:
        return False
    add_event(ch, conn, row.id, "received", f"received by {source}")
    ch.queue.enqueue(conn, JobKind.ORDER, str(row.id), now)
    return True


def refresh_status(ch: Certhook, conn: Connection, order_pk: int) -> str:
    """Derive the order's status from its certificates and write-back."""
    order = conn.execute(select(orders).where(orders.c.id == order_pk)).one()
    if order.status == OrderStatus.SKIPPED:
        return order.status
    items = conn.execute(
        select(certificates.c.status).where(certificates.c.order_pk == order_pk)
    ).scalars().all()
    if ItemStatus.FAILED in items or order.writeback_status == WritebackStatus.FAILED:
        status = OrderStatus.FAILED
    elif items and all(s == ItemStatus.ISSUED for s in items) \
            and order.writeback_status == WritebackStatus.DONE:
        status = OrderStatus.DONE
    else:
        status = OrderStatus.PENDING
    if status != order.status:
        conn.execute(update(orders).where(orders.c.id == order_pk)
                     .values(status=status, updated_at=ch.now()))
    return status


def give_up(ch: Certhook, conn: Connection, kind: JobKind, ref: str, error: str) -> None:
    """A job that kept crashing: mark what it worked on failed, so the order shows it and a
    retry can take it up again."""
    now = ch.now()
    if kind == JobKind.ORDER:
        order_pk = int(ref)
        conn.execute(update(orders).where(orders.c.id == order_pk, orders.c.status == OrderStatus.PENDING)
                     .values(status=OrderStatus.FAILED, reason=error, updated_at=now))
    elif kind == JobKind.CERTIFICATE:
        order_pk = conn.execute(select(certificates.c.order_pk).where(
            certificates.c.id == int(ref))).scalar_one()
        conn.execute(update(certificates).where(
            certificates.c.id == int(ref), certificates.c.status == ItemStatus.PENDING
        ).values(status=ItemStatus.FAILED, error=error, updated_at=now))
    elif kind == JobKind.CERTFUSION:
        order_pk = int(ref)
        conn.execute(update(certificates).where(
            certificates.c.order_pk == order_pk, certificates.c.kind == "certfusion",
            certificates.c.status == ItemStatus.PENDING
        ).values(status=ItemStatus.FAILED, error=error, updated_at=now))
    elif kind == JobKind.WRITEBACK:
        order_pk = int(ref)
        conn.execute(update(orders).where(
            orders.c.id == order_pk, orders.c.writeback_status == WritebackStatus.PENDING
        ).values(writeback_status=WritebackStatus.FAILED, writeback_error=error, updated_at=now))
    else:
        return  # a reconcile job is queued again when a worker starts
    add_event(ch, conn, order_pk, "failed", error)
    refresh_status(ch, conn, order_pk)


def certificate_json(row: Any) -> dict[str, Any]:
    out = {
        "kind": row.kind, "issuer": row.issuer, "allocation_id": row.allocation_id,
        "impact_qty": row.impact_qty, "impact": row.impact,
        "external_unique_id": row.external_unique_id, "certificate_id": row.certificate_id,
        "certificate_url": row.certificate_url,
        "certificate_image_url": row.certificate_image_url,
        "status": row.status, "error": row.error,
    }
    if row.kind == "offering":
        out.update(code=row.code, claim_url=row.claim_url, claims=row.claims,
                   line_item_id=row.line_item_id)
    return out


def order_json(row: Any, items: list[Any], customer_url: str | None) -> dict[str, Any]:
    evaluation = json.loads(row.evaluation_json) if row.evaluation_json else None
    return {
        "shop": row.shop, "order_id": row.order_id, "order_name": row.order_name,
        "status": row.status, "reason": row.reason, "shadow": row.shadow,
        "customer": {"name": row.customer_name, "email": row.email},
        "created_at": row.created_at,
        "customer_url": customer_url,
        "earned": evaluation["allocations"] if evaluation else None,
        "certificates": [certificate_json(i) for i in items],
        "writeback": None if row.writeback_status is None
        else {"status": row.writeback_status, "error": row.writeback_error},
    }


def find_order(conn: Connection, shop: str, order_id: str) -> Any:
    return conn.execute(
        select(orders).where(orders.c.shop == shop, orders.c.order_id == order_id)
    ).first()


def items_of(conn: Connection, order_pks: list[int]) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {pk: [] for pk in order_pks}
    if order_pks:
        for item in conn.execute(
            select(certificates).where(certificates.c.order_pk.in_(order_pks))
            .order_by(certificates.c.kind, certificates.c.allocation_id, certificates.c.line_item_id)
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
    total = conn.execute(select(func.count()).select_from(orders).where(*where)).scalar_one()
    rows = conn.execute(
        select(orders).where(*where).order_by(orders.c.created_at.desc(), orders.c.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    items = items_of(conn, [r.id for r in rows])
    return [(r, items[r.id]) for r in rows], total


def retry_order(ch: Certhook, shop: str, order_id: str) -> int | None:
    """Queue again what failed (and wake what waits); None if the order is unknown."""
    now = ch.now()
    with ch.db.write() as conn:
        order = find_order(conn, shop, order_id)
        if order is None:
            return None
        retried = 0
        for item in conn.execute(select(certificates).where(
                certificates.c.order_pk == order.id,
                certificates.c.status.in_([ItemStatus.FAILED, ItemStatus.PENDING]))):
            if item.status == ItemStatus.FAILED:
                conn.execute(update(certificates).where(
                    certificates.c.id == item.id, certificates.c.status == ItemStatus.FAILED
                ).values(status=ItemStatus.PENDING, error=None, updated_at=now))
            if item.kind == "certfusion":  # the order's recipients go together
                ch.queue.enqueue(conn, JobKind.CERTFUSION, str(order.id), now)
            else:
                ch.queue.enqueue(conn, JobKind.CERTIFICATE, str(item.id), now)
            retried += 1
        if order.writeback_status in (WritebackStatus.FAILED, WritebackStatus.PENDING):
            conn.execute(update(orders).where(orders.c.id == order.id)
                         .values(writeback_status=WritebackStatus.PENDING, writeback_error=None))
            ch.queue.enqueue(conn, JobKind.WRITEBACK, str(order.id), now)
            retried += 1
        if order.status == OrderStatus.FAILED and order.evaluation_json is None:  # never evaluated
            conn.execute(update(orders).where(orders.c.id == order.id)
                         .values(status=OrderStatus.PENDING, reason=None))
            ch.queue.enqueue(conn, JobKind.ORDER, str(order.id), now)
            retried += 1
        refresh_status(ch, conn, order.id)
        return retried


def redact_customer(ch: Certhook, conn: Connection, shop: str, order_ids: list[str],
                    email: str) -> int:
    """Shopify's customers/redact: forget the customer's email and name on their orders."""
    where = [orders.c.order_id.in_(order_ids)] if order_ids else []
    if email:
        where.append(orders.c.email == email.lower())
    if not where:
        return 0
    rows = conn.execute(select(orders.c.id, orders.c.order_json).where(
        orders.c.shop == shop, or_(*where))).all()
    for row in rows:
        data = json.loads(row.order_json)
        data.update(email="", customer_name="", customer_id="")
        conn.execute(update(orders).where(orders.c.id == row.id).values(
            email="", customer_name="", order_json=json.dumps(data, ensure_ascii=False),
            updated_at=ch.now()))
        add_event(ch, conn, row.id, "redacted", "the customer's data was erased at the store's request")
    return len(rows)


def forget_shop(conn: Connection, shop: str) -> int:
    """Shopify's shop/redact: delete everything certhook holds for the shop."""
    order_pks = select(orders.c.id).where(orders.c.shop == shop).scalar_subquery()
    order_refs = [str(pk) for pk in conn.execute(select(orders.c.id).where(orders.c.shop == shop)).scalars()]
    item_refs = [str(pk) for pk in conn.execute(select(certificates.c.id).where(
        certificates.c.order_pk.in_(order_pks))).scalars()]
    # A job's ref is an order's id or (for a certificate job) an item's: match kind and ref.
    for kinds, refs in (([JobKind.ORDER, JobKind.WRITEBACK, JobKind.CERTFUSION], order_refs),
                        ([JobKind.CERTIFICATE], item_refs)):
        for start in range(0, len(refs), 500):
            conn.execute(jobs.delete().where(jobs.c.kind.in_(kinds),
                                             jobs.c.ref.in_(refs[start:start + 500])))
    conn.execute(events.delete().where(events.c.order_pk.in_(order_pks)))
    conn.execute(certificates.delete().where(certificates.c.order_pk.in_(order_pks)))
    gone = conn.execute(orders.delete().where(orders.c.shop == shop)).rowcount
    conn.execute(deliveries.delete().where(deliveries.c.shop == shop))
    return gone
