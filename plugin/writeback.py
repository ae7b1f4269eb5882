"""Write an order's issued certificates back onto the store's order. Never issues anything."""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update

from .context import Certhook
from .issuers.errors import ApiError, RateLimited, Transient
from .jobs.queue import Job
from .jobs.retry import next_delay
from .links import customer_url
from .models import ItemStatus, WritebackStatus, certificates, orders
from .platforms import shopify_admin, woocommerce
from .settings import Shop
from .store import add_event, refresh_status

log = logging.getLogger(__name__)


def _woocommerce(ch: Certhook, job: Job, shop: Shop, order: Any, links: list[dict[str, Any]],
                 timeout: tuple[float, float], page: str | None) -> None:
    """The meta (an upsert, safe to repeat), then the customer note: once per order."""
    with woocommerce.Client(shop, timeout) as wc:
        wc.set_certificates(order.order_id, links, page)
        if order.note_sent_at is not None:
            return
        # A note may have gone out on an earlier try whose answer never came: look first.
        sent = order.note_posts > 0 and any(
            links[0]["url"] in str(note.get("note", "")) for note in wc.customer_notes(order.order_id))
        if not sent:
            with ch.db.write() as conn:
                ch.queue.still_ours(conn, job)
                conn.execute(update(orders).where(orders.c.id == order.id)
                             .values(note_posts=orders.c.note_posts + 1))
            wc.add_customer_note(order.order_id, woocommerce.note_text(links, page))
    with ch.db.write() as conn:
        conn.execute(update(orders).where(orders.c.id == order.id).values(note_sent_at=ch.now()))


def _entry(item: Any, page: str | None) -> dict[str, Any]:
    """One written-back entry: a certificate, or a gift with its code and claim URL."""
    entry = {"certificate_id": item.certificate_id, "url": item.certificate_url,
             "image_url": item.certificate_image_url, "impact": item.impact,
             "quantity": item.impact_qty}
    if item.kind == "offering":
        entry.update(kind="offering", code=item.code, claim_url=item.claim_url)
    elif item.issuer != "dots":
        entry["issuer"] = item.issuer
    if page:
        entry["customer_url"] = page
    return entry


def run_writeback_job(ch: Certhook, job: Job) -> None:
    order_pk = int(job.ref)
    with ch.db.read() as conn:
        order = conn.execute(select(orders).where(orders.c.id == order_pk)).one()
        items = conn.execute(select(certificates).where(
            certificates.c.order_pk == order_pk, certificates.c.status == ItemStatus.ISSUED
        ).order_by(certificates.c.kind, certificates.c.allocation_id,
                   certificates.c.line_item_id)).all()
    shop = ch.shop(order.shop)
    timeout = (ch.settings.dots.connect_timeout, ch.settings.dots.read_timeout)
    error: ApiError | None = None
    if shop is None:
        error = ApiError(f"shop {order.shop!r} is not in the settings any more")
    elif order.writeback_status == WritebackStatus.PENDING:
        page = customer_url(ch.settings, order.shop, order.order_id)  # needs public_url
        links = [_entry(i, page) for i in items]
        try:
            if shop.platform == "shopify":
                shopify_admin.write_back(shop, order.order_id, links, timeout, page)
            else:
                _woocommerce(ch, job, shop, order, links, timeout, page)
        except ApiError as exc:
            error = exc
    s, now = ch.settings, ch.now()
    with ch.db.write() as conn:
        if error is None:
            status, message = WritebackStatus.DONE, None
            ch.queue.done(conn, job, now)
        else:
            message = error.message
            delay = None
            if isinstance(error, (RateLimited, Transient)):
                retry_after = error.retry_after if isinstance(error, RateLimited) else None
                delay = next_delay(job.attempts + 1, s.retry_base_seconds, s.retry_max_seconds,
                                   s.max_attempts, retry_after)
            if delay is None:
                status = WritebackStatus.FAILED
                ch.queue.fail(conn, job, now, message)
            else:
                status = WritebackStatus.PENDING
                ch.queue.retry(conn, job, now, delay, message)
        if order.writeback_status == WritebackStatus.PENDING:
            conn.execute(update(orders).where(
                orders.c.id == order_pk, orders.c.writeback_status == WritebackStatus.PENDING
            ).values(writeback_status=status, writeback_error=message, updated_at=now))
            add_event(ch, conn, order_pk, "written back" if error is None else "write-back",
                      "written onto the order" if error is None else
                      f"{message}{' (will try again)' if status == WritebackStatus.PENDING else ''}")
        refresh_status(ch, conn, order_pk)
    if error is not None:
        log.warning("write-back of order %s/%s: %s", order.shop, order.order_id, error.message)
