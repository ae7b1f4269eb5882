"""Orders change after payment: a cancellation or a refund, applied under the order's lock.

Cancelled (or fully refunded) before any request went out: every item not sent is cancelled,
and so is the order; nothing is issued, ever. After: what was issued stays issued (Dots.eco has
no revoke), what was not sent is cancelled, and the order keeps its status, with `cancelled_at`
and `refunded`. A partial refund only sets `refunded`. An order certhook never saw is kept as
cancelled when the store says it had been paid, so a late payment webhook of it issues nothing.
An item whose request may have gone out (it was counted) is left to finish: it may exist.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, func, select, update

from ..models import items
from ..orders import PayloadError
from ..outbox.record import order_event
from ..platforms import Change
from ..statuses import EventType, ItemStatus, JobKind, OrderStatus, Refunded
from .orders import add_event, find_order, lock_order, order_of, record_order, update_order

if TYPE_CHECKING:  # the context is built on top of the store; only its type is needed here
    from ..context import Certhook

RANK = {Refunded.NONE: 0, Refunded.PARTIAL: 1, Refunded.FULL: 2}
_UNSENT = (items.c.order_pk == bindparam("order"), items.c.posts == 0,
           items.c.status.in_([ItemStatus.PENDING, ItemStatus.HELD, ItemStatus.FAILED]))
_CANCEL_UNSENT = update(items).where(*_UNSENT)
_SENT = select(func.count()).select_from(items).where(
    items.c.order_pk == bindparam("order"), (items.c.posts > 0) | (items.c.status == ItemStatus.ISSUED))


def refunded(ch: Certhook, row: Any, change: Change) -> Refunded:
    """The order's refund after this change: a refund of every line in full is a full one."""
    said = change.refunded
    if said == Refunded.PARTIAL and change.refund_lines:
        try:
            order = order_of(ch, row)
        except PayloadError:  # the order will fail when it is read; its lines are unknown
            order = None
        lines = {line.id: line.quantity for line in order.line_items if line.quantity > 0} if order else {}
        back = dict(change.refund_lines)
        if lines and all(back.get(line_id, 0) >= quantity for line_id, quantity in lines.items()):
            said = Refunded.FULL
    return max(Refunded(row.refunded), said, key=RANK.__getitem__)


def apply_change(ch: Certhook, conn: Connection, shop_id: str, change: Change) -> str:
    """Apply a cancellation or refund in the caller's transaction: accepted, duplicate, ignored."""
    now = ch.now()
    found = find_order(conn, shop_id, change.order_id)
    if found is None:
        if change.order is not None and change.was_paid and change.ends_it:
            record_order(ch, conn, shop_id, change.order, cancelled=change.refunded)
            return "accepted"
        return "ignored"  # never paid, or a refund of an order certhook never saw
    row = lock_order(conn, found.id)
    refund = refunded(ch, row, change)
    ends = change.cancelled or refund == Refunded.FULL
    if refund == row.refunded and (not ends or row.cancelled_at is not None):
        return "duplicate"
    values: dict[str, Any] = {"refunded": refund, "updated_at": now}
    first_end = ends and row.cancelled_at is None
    if first_end:
        values["cancelled_at"] = now
        values.update(_end(conn, row, now))
        if "status" not in values and row.evaluation_json is not None:  # some was sent: settle it now
            ch.queue.enqueue(conn, JobKind.ISSUE, str(row.id), now, shop=shop_id)
    update_order(conn, row.id, **values)
    add_event(conn, now, row.id, "cancelled" if first_end else "refunded",
              values.get("reason") or _told(change, refund, first_end))
    if first_end:
        order_event(ch, conn, EventType.ORDER_CANCELLED, row.id)
    return "accepted"


def _end(conn: Connection, row: Any, now: float) -> dict[str, Any]:
    """Cancel what was not sent; the order too, when nothing was."""
    conn.execute(_CANCEL_UNSENT, {"order": row.id, "status": ItemStatus.CANCELLED, "updated_at": now,
                                  "error": "the order was cancelled before this was sent"})
    sent = conn.execute(_SENT, {"order": row.id}).scalar_one()
    if sent or row.status == OrderStatus.SKIPPED:
        return {}
    return {"status": OrderStatus.CANCELLED,
            "reason": "cancelled before anything was issued: nothing will be"}


def _told(change: Change, refund: Refunded, first_end: bool) -> str:
    if not first_end:
        return "refunded in full" if refund == Refunded.FULL else "partly refunded"
    what = "cancelled" if change.cancelled else "fully refunded"
    return f"{what} after issuing: what was issued stays issued (it cannot be revoked), " \
           "what was not sent is cancelled"
