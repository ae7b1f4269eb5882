"""No order missed: ask the store for paid orders certhook hasn't recorded, and record them.

The recurring reconcile job (one per shop, every `reconcile_minutes`) and `certhook backfill`
drive the same code, through the shop's adapter; an order found here takes the very path a
webhook's order takes.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from .context import Certhook
from .db import put
from .http import ApiError, NotConnected
from .jobs.queue import Job
from .jobs.worker import reason_of
from .models import orders, reconciliations
from .orders import PayloadError
from .settings import Shop
from .statuses import JobKind
from .store.orders import record_order

log = logging.getLogger(__name__)
# Each run looks back this far before the previous run began: orders paid (or updated) while
# it ran, and clocks a little apart, are still seen.
LOOKBACK = timedelta(hours=1)
Progress = Callable[[int, int], None]


@dataclass
class Summary:
    found: int = 0
    known: int = 0
    enqueued: int = 0


def _known(ch: Certhook, shop: Shop, order_id: str) -> bool:
    with ch.db.read() as conn:
        return conn.execute(select(orders.c.id).where(
            orders.c.shop == shop.id, orders.c.order_id == order_id)).first() is not None


def sync(ch: Certhook, shop: Shop, since: datetime, until: datetime, dry_run: bool = False,
         progress: Progress | None = None, source: str = "reconciliation") -> Summary:
    """Record every paid order of the window that certhook doesn't know; nothing if dry_run."""
    summary = Summary()
    candidates = ch.store(shop).paid_orders(since, until)
    for done, (order_id, load) in enumerate(candidates, 1):
        summary.found += 1
        if _known(ch, shop, order_id):
            summary.known += 1
        elif dry_run:
            summary.enqueued += 1
        else:
            try:
                order = load()
            except PayloadError as exc:
                log.warning("shop %s order %s cannot be read: %s", shop.id, order_id, exc)
                continue
            if order.test or order.cancelled_at:
                continue
            with ch.db.write() as conn:
                if record_order(ch, conn, shop.id, order, source=source):
                    summary.enqueued += 1
                else:  # a webhook got there first
                    summary.known += 1
        if progress:
            progress(done, len(candidates))
    return summary


def ensure_jobs(ch: Certhook) -> None:
    """One recurring reconcile job per shop that certhook can ask for its orders; a worker
    that starts runs it at once."""
    with ch.db.write() as conn:
        for shop in ch.settings.shops:
            if shop.has_api_credentials:
                ch.queue.enqueue(conn, JobKind.RECONCILE, shop.id, ch.now(), shop=shop.id)


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def run_reconcile_job(ch: Certhook, job: Job) -> None:
    shop, now = ch.shop(job.ref), ch.now()
    if shop is None:  # the shop left the settings: its job ends with it
        with ch.db.write() as conn:
            ch.queue.done(conn, job, now)
        return
    with ch.db.read() as conn:
        state = conn.execute(select(reconciliations).where(
            reconciliations.c.shop == shop.id)).first()
    # From where the last good run began (or now, the first time: backfill is for the past).
    start = state.window_start if state and state.window_start else now
    error = None
    try:
        summary = sync(ch, shop, _utc(start) - LOOKBACK, _utc(now))
    except NotConnected:  # it waits, from where it was, until the shop is connected again
        with ch.db.write() as conn:
            ch.queue.reschedule(conn, job, ch.now(), now + shop.reconcile_minutes * 60)
        return
    except ApiError as exc:
        error, summary = exc.message, Summary()
    except Exception as exc:  # a shape we didn't expect: shown, and tried again next time
        log.exception("reconcile %s crashed", shop.id)
        error, summary = reason_of(exc), Summary()
    values: dict[str, object] = {"last_started_at": now}
    if error is None:
        values.update(last_success_at=ch.now(), window_start=now, found=summary.found,
                      enqueued=summary.enqueued)
    with ch.db.write() as conn:
        put(conn, reconciliations, {"shop": shop.id}, **values)
        ch.queue.reschedule(conn, job, ch.now(), now + shop.reconcile_minutes * 60, error)
    if error:
        log.warning("reconcile %s: %s", shop.id, error)
    elif summary.enqueued:
        log.info("reconcile %s: %d found, %d enqueued", shop.id, summary.found, summary.enqueued)
