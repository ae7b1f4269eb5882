"""An order's items: its status rolled up from them, what giving up means per job, retrying."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, select, update

from ..models import items, orders
from ..outbox.record import order_event
from ..statuses import EventType, ItemStatus, JobKind, OrderStatus, WritebackStatus
from .orders import add_event, find_order, update_order

if TYPE_CHECKING:  # the context is built on top of the store; only its type is needed here
    from ..context import Certhook


_ORDER_STATE = select(orders.c.status, orders.c.writeback_status, orders.c.writeback_error,
                      orders.c.evaluation_json.is_not(None).label("evaluated")
                      ).where(orders.c.id == bindparam("order_pk"))
_ITEM_STATUSES = select(items.c.status).where(items.c.order_pk == bindparam("order_pk"))
_FAILED_ITEM = (select(items.c.error).where(items.c.order_pk == bindparam("order_pk"),
                                            items.c.status == ItemStatus.FAILED)
                .order_by(items.c.id).limit(1))


def refresh_status(ch: Certhook, conn: Connection, order_pk: int,
                   statuses: list[str] | None = None) -> str:
    """Derive an evaluated order's status from its items (their `statuses`, if just read in
    this transaction) and its write-back. An order that fails says why. Its events are told
    here: order.issued once it is done, or failed only in writing its issued items back (once,
    by its key); order.failed each time it fails."""
    which, now = {"order_pk": order_pk}, ch.now()
    order = conn.execute(_ORDER_STATE, which).one()
    if order.status in (OrderStatus.SKIPPED, OrderStatus.CANCELLED) or not order.evaluated:
        return order.status  # skipped, cancelled, or not evaluated yet (pending, held, failed)
    if statuses is None:
        statuses = list(conn.execute(_ITEM_STATUSES, which).scalars())
    # An item cancelled with its order (it was never sent) counts for nothing
    statuses = [s for s in statuses if s != ItemStatus.CANCELLED]
    if ItemStatus.FAILED in statuses or order.writeback_status == WritebackStatus.FAILED:
        status = OrderStatus.FAILED
    elif statuses and all(s == ItemStatus.ISSUED for s in statuses) \
            and order.writeback_status == WritebackStatus.DONE:
        status = OrderStatus.DONE
    elif ItemStatus.HELD in statuses and ItemStatus.PENDING not in statuses:
        status = OrderStatus.HELD  # over a monthly budget: its reason says which, and until when
    else:
        status = OrderStatus.PENDING
    if status == order.status:
        return status
    was_told = order.status in (OrderStatus.HELD, OrderStatus.FAILED)  # why it was held, or failed
    values: dict[str, Any] = {"reason": None} if was_told else {}
    if status == OrderStatus.FAILED:
        values["reason"] = conn.execute(_FAILED_ITEM, which).scalar() or order.writeback_error
    update_order(conn, order_pk, status=status, updated_at=now, **values)
    if status == OrderStatus.DONE or (status == OrderStatus.FAILED and statuses
                                      and all(s == ItemStatus.ISSUED for s in statuses)):
        order_event(ch, conn, EventType.ORDER_ISSUED, order_pk)
    if status == OrderStatus.FAILED:
        order_event(ch, conn, EventType.ORDER_FAILED, order_pk)
    return status


def evaluation_failed(ch: Certhook, conn: Connection, ref: str, message: str, final: bool) -> None:
    """The rules could not be applied: after the last try the order fails with the reason."""
    if final:
        order_pk, now = int(ref), ch.now()
        if conn.execute(update(orders).where(orders.c.id == order_pk, orders.c.status == OrderStatus.PENDING)
                        .values(status=OrderStatus.FAILED, reason=message, updated_at=now)).rowcount:
            order_event(ch, conn, EventType.ORDER_FAILED, order_pk)
        add_event(conn, now, order_pk, "failed", message)


def issue_failed(ch: Certhook, conn: Connection, ref: str, message: str, final: bool) -> None:
    """The issue job crashed: its pending items say why, and fail after the last try."""
    order_pk, now = int(ref), ch.now()
    values: dict[str, Any] = {"error": message, "updated_at": now}
    if final:
        values["status"] = ItemStatus.FAILED
    conn.execute(update(items).where(items.c.order_pk == order_pk, items.c.status == ItemStatus.PENDING)
                 .values(**values))
    add_event(conn, now, order_pk, "failed" if final else "attempt",
              message if final else f"{message} (will try again)")
    refresh_status(ch, conn, order_pk)


def writeback_failed(ch: Certhook, conn: Connection, ref: str, message: str, final: bool) -> None:
    order_pk, now = int(ref), ch.now()
    conn.execute(update(orders).where(
        orders.c.id == order_pk, orders.c.writeback_status == WritebackStatus.PENDING
    ).values(writeback_status=WritebackStatus.FAILED if final else WritebackStatus.PENDING,
             writeback_error=message, updated_at=now))
    add_event(conn, now, order_pk, "write-back", message if final else f"{message} (will try again)")
    refresh_status(ch, conn, order_pk)


def retry_order(ch: Certhook, shop: str, order_id: str) -> int | None:
    """Queue again what failed (and wake what waits); None if the order is unknown."""
    now = ch.now()
    with ch.db.write() as conn:
        order = find_order(conn, shop, order_id)
        if order is None:
            return None
        conn.execute(update(items).where(  # a held item: the budget is looked at again
            items.c.order_pk == order.id, items.c.status.in_([ItemStatus.FAILED, ItemStatus.HELD])
        ).values(status=ItemStatus.PENDING, error=None, updated_at=now))
        retried = len(conn.execute(select(items.c.id).where(
            items.c.order_pk == order.id, items.c.status == ItemStatus.PENDING)).all())
        if retried:
            ch.queue.enqueue(conn, JobKind.ISSUE, str(order.id), now, shop=shop)
        if order.writeback_status in (WritebackStatus.FAILED, WritebackStatus.PENDING):
            conn.execute(update(orders).where(orders.c.id == order.id)
                         .values(writeback_status=WritebackStatus.PENDING, writeback_error=None))
            ch.queue.enqueue(conn, JobKind.WRITEBACK, str(order.id), now, shop=shop)
            retried += 1
        if order.evaluation_json is None and order.status not in (OrderStatus.SKIPPED,
                                                                  OrderStatus.CANCELLED):
            conn.execute(update(orders).where(orders.c.id == order.id)
                         .values(status=OrderStatus.PENDING, reason=None, updated_at=now))
            ch.queue.enqueue(conn, JobKind.EVALUATE, str(order.id), now, shop=shop)
            retried += 1
        refresh_status(ch, conn, order.id)
        return retried
