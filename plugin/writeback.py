"""The write-back job: an order's issued items onto the store's order, through its adapter.

It never issues anything. The write itself is an upsert, safe to repeat. A store's customer
note goes out once: counted before it is sent, and looked for on the order before a resend.
"""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import bindparam, select, update

from .context import Certhook
from .http import Rejected
from .jobs.queue import Job
from .links import customer_url, http_url
from .models import items, orders
from .platforms import StoreApi
from .statuses import IssuerName, ItemKind, ItemStatus, WritebackStatus
from .store.items import refresh_status
from .store.orders import add_event

log = logging.getLogger(__name__)
_ORDER = select(orders).where(orders.c.id == bindparam("order_pk"))
_ISSUED = select(items).where(items.c.order_pk == bindparam("order"), items.c.status == ItemStatus.ISSUED
                              ).order_by(items.c.kind, items.c.allocation_id, items.c.list_id,
                                         items.c.line_item_id)
_WRITTEN = update(orders).where(orders.c.id == bindparam("order_pk"),
                                orders.c.writeback_status == WritebackStatus.PENDING)


def entry(item: Any, page: str | None) -> dict[str, Any]:
    """One written-back entry: a certificate, or an offering with its code and claim URL. A
    link that is not http(s) (a provider's `javascript:`) is written as null, as the dashboard
    shows none."""
    out = {"certificate_id": item.certificate_id, "url": http_url(item.certificate_url) or None,
           "image_url": http_url(item.certificate_image_url) or None, "impact": item.impact,
           "quantity": item.impact_qty}
    if item.kind == ItemKind.OFFERING:
        out.update(kind=ItemKind.OFFERING.value, code=item.code, claim_url=http_url(item.claim_url) or None)
    elif item.issuer != IssuerName.DOTS:
        out["issuer"] = item.issuer
    if page:
        out["customer_url"] = page
    return out


def _note_once(ch: Certhook, job: Job, store: StoreApi, order: Any, entries: list[dict[str, Any]],
               page: str | None) -> None:
    if order.note_sent_at is not None:
        return
    # A note may have gone out on an earlier try whose answer never came: look first.
    if not (order.note_posts > 0 and store.note_sent(order.order_id, entries)):
        with ch.db.write() as conn:
            ch.queue.still_ours(conn, job)
            conn.execute(update(orders).where(orders.c.id == order.id)
                         .values(note_posts=orders.c.note_posts + 1))
        store.send_note(order.order_id, entries, page)
    with ch.db.write() as conn:
        conn.execute(update(orders).where(orders.c.id == order.id).values(note_sent_at=ch.now()))


def run_writeback_job(ch: Certhook, job: Job) -> None:
    order_pk = int(job.ref)
    with ch.db.read() as conn:
        order = conn.execute(_ORDER, {"order_pk": order_pk}).one()
        issued = conn.execute(_ISSUED, {"order": order_pk}).all()
    shop = ch.shop(order.shop)
    if shop is None:
        raise Rejected(f"shop {order.shop!r} is not in the settings any more")
    if order.writeback_status == WritebackStatus.PENDING:
        page = customer_url(ch.settings, order.shop, order.order_id)  # needs public_url
        entries = [entry(i, page) for i in issued]
        store = ch.store(shop)
        store.write_back(order.order_id, entries, page)
        if store.customer_note:
            _note_once(ch, job, store, order, entries, page)
    now = ch.now()
    with ch.db.write() as conn:
        ch.queue.done(conn, job, now)
        if order.writeback_status == WritebackStatus.PENDING:
            conn.execute(_WRITTEN, {"order_pk": order_pk, "writeback_status": WritebackStatus.DONE,
                                    "writeback_error": None, "updated_at": now})
            add_event(conn, now, order_pk, "written back", "written onto the order")
        refresh_status(ch, conn, order_pk)
