"""CertFusion course certificates for one order, each exactly once.

All the order's recipients are handled in one job, so several are issued with one batch call.
Each recipient's add is counted before it is sent; once one may have been sent, the list is
searched for the email first, and an already issued recipient is adopted, never issued again.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import select, update

from .context import Certhook
from .issuance import count_send, lock_order, queue_writeback_when_complete
from .issuers.certfusion import CertFusionClient
from .issuers.dots import valid_email
from .issuers.errors import ApiError, AuthError, RateLimited, Rejected, Transient
from .jobs.queue import Job
from .jobs.retry import next_delay
from .models import ItemStatus, certificates
from .store import add_event, refresh_status

log = logging.getLogger(__name__)


def _recipient(ch: Certhook, cf: CertFusionClient, job: Job, item: Any) -> dict[str, Any]:
    want = json.loads(item.request_json)
    if not valid_email(want["email"]):
        raise Rejected("CertFusion: the order has no valid email for a recipient")
    if item.posts > 0:
        found = cf.find_recipient(want["list_id"], want["email"])
        if found is not None:
            return found
    count_send(ch, job, item.id)
    return cf.add_recipient(want["list_id"], want["email"], want["name"], want["custom_fields"])


def run_certfusion_job(ch: Certhook, job: Job) -> None:
    order_pk, settings = int(job.ref), ch.settings.certfusion
    with ch.db.read() as conn:
        items = conn.execute(select(certificates).where(
            certificates.c.order_pk == order_pk, certificates.c.kind == "certfusion",
            certificates.c.status == ItemStatus.PENDING)).all()
    recipients: dict[int, dict[str, Any]] = {}
    refused: dict[int, str] = {}
    error: ApiError | None = None
    if items and settings is None:
        refused = {i.id: "CertFusion is not in the settings any more" for i in items}
    elif items:
        timeout = (ch.settings.dots.connect_timeout, ch.settings.dots.read_timeout)
        with CertFusionClient(settings, timeout) as cf:
            try:
                for item in items:
                    try:
                        recipients[item.id] = _recipient(ch, cf, job, item)
                    except Rejected as exc:  # e.g. a custom field the list's design lacks
                        refused[item.id] = exc.message
                drafts = [r["id"] for r in recipients.values() if r.get("status") != "issued"]
                if drafts:
                    by_id = {r["id"]: r for r in cf.issue(drafts)}
                    recipients = {k: by_id.get(r["id"], r) for k, r in recipients.items()}
            except ApiError as exc:
                error = exc
    if error is None and any(recipients.get(i.id, {}).get("status") != "issued"
                             for i in items if i.id not in refused):
        error = Transient("CertFusion: a recipient is not issued yet")  # try the rest again
    _settle(ch, job, order_pk, items, recipients, refused, error)


def _settle(ch: Certhook, job: Job, order_pk: int, items: list[Any],
            recipients: dict[int, dict[str, Any]], refused: dict[int, str],
            error: ApiError | None) -> None:
    s, now = ch.settings, ch.now()
    url = s.certfusion.certificate_url if s.certfusion else ""
    with ch.db.write() as conn:
        ch.queue.still_ours(conn, job)
        lock_order(conn, order_pk)
        for item in items:
            recipient = recipients.get(item.id)
            if error is None and recipient and recipient.get("status") == "issued":
                uuid = str(recipient.get("uuid") or "")
                conn.execute(update(certificates).where(
                    certificates.c.id == item.id, certificates.c.status == ItemStatus.PENDING
                ).values(status=ItemStatus.ISSUED, error=None, issued_at=now, updated_at=now,
                         certificate_id=uuid, certificate_url=url.replace("{uuid}", uuid)))
                add_event(ch, conn, order_pk, "issued",
                          f"course certificate {uuid} issued (CertFusion list {item.allocation_id})")
            elif item.id in refused:
                conn.execute(update(certificates).where(certificates.c.id == item.id).values(
                    status=ItemStatus.FAILED, error=refused[item.id], updated_at=now))
                add_event(ch, conn, order_pk, "failed",
                          f"CertFusion list {item.allocation_id}: {refused[item.id]}")
        delay = None
        if error is not None and not isinstance(error, AuthError):
            delay = next_delay(job.attempts + 1, s.retry_base_seconds, s.retry_max_seconds,
                               s.max_attempts, error.retry_after if isinstance(error, RateLimited)
                               else None)
        if error is None:
            ch.queue.done(conn, job, now)
        elif delay is not None:
            ch.queue.retry(conn, job, now, delay, error.message)
            conn.execute(update(certificates).where(
                certificates.c.id.in_([i.id for i in items if i.id not in refused]),
                certificates.c.status == ItemStatus.PENDING).values(error=error.message))
            add_event(ch, conn, order_pk, "attempt", f"{error.message} (will try again)")
        else:
            ch.queue.fail(conn, job, now, error.message)
            conn.execute(update(certificates).where(
                certificates.c.id.in_([i.id for i in items]),
                certificates.c.status == ItemStatus.PENDING
            ).values(status=ItemStatus.FAILED, error=error.message, updated_at=now))
            add_event(ch, conn, order_pk, "failed", error.message)
        queue_writeback_when_complete(ch, conn, order_pk)
        refresh_status(ch, conn, order_pk)
    if error is not None:
        log.warning("certfusion for order %s: %s", order_pk, error.message)
