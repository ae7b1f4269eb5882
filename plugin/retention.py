"""The daily prune: deliveries, and events out that were delivered or given up, are kept
`retention_days`; throttle counts a day.

Orders, their items and their timelines are kept: they are the record of what was issued. A
customer's personal data goes when the store asks (store/privacy.py), not here.
"""
from __future__ import annotations

import logging

from sqlalchemy import delete

from .context import Certhook
from .jobs.queue import Job
from .models import deliveries, outbox
from .statuses import EventStatus, JobKind
from .web.throttle import forget_stale

log = logging.getLogger(__name__)
DAY = 86400.0


def ensure_prune(ch: Certhook) -> None:
    """The one daily prune job; a worker that starts runs it at once."""
    with ch.db.write() as conn:
        ch.queue.enqueue(conn, JobKind.PRUNE, "daily", ch.now())


def run_prune_job(ch: Certhook, job: Job) -> None:
    now = ch.now()
    with ch.db.write() as conn:
        before = now - ch.settings.retention_days * DAY
        pruned = conn.execute(delete(deliveries).where(deliveries.c.received_at < before)).rowcount
        pruned += conn.execute(delete(outbox).where(
            outbox.c.created_at < before, outbox.c.status != EventStatus.PENDING)).rowcount
        forget_stale(conn, now - DAY)
        ch.queue.reschedule(conn, job, now, now + DAY)
    if pruned:
        log.info("pruned %d delivery and event record(s) older than %d days", pruned,
                 ch.settings.retention_days)
