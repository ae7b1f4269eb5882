"""From a recorded order to issued certificates, each exactly once.

The order job turns the order into certificate items (one per allocation), each with an
external_unique_id stored before any call. The certificate job issues one item: it counts the
POST in the database before sending it, and whenever a POST may have been sent before, it asks
Dots.eco for that id first and adopts what exists.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Connection, func, select, update

from .context import Certhook
from .issuers.dots import AlreadyExists, valid_email
from .issuers.errors import ApiError, AuthError, RateLimited, Rejected, Transient
from .jobs.queue import Job
from .jobs.retry import next_delay
from .models import (
    ItemStatus,
    JobKind,
    OrderStatus,
    WritebackStatus,
    certificates,
    orders,
)
from .orders import Order
from .rules import evaluate
from .rules.engine import Gift
from .store import add_event, refresh_status

log = logging.getLogger(__name__)


def external_unique_id(shop: str, order_id: str, allocation_id: int, what: str = "") -> str:
    """Derived only from (shop, order, allocation), or (shop, order, what) for a gift
    ("gift_{line item}") or a course ("course_{list}"): the same on every try, at most 255."""
    eid = f"certhook_{shop}_{order_id}_{what or allocation_id}"
    if len(eid) <= 255:
        return eid
    digest = hashlib.sha256(eid.encode()).hexdigest()
    return f"certhook_{shop[:100]}_{digest}"


def _what(item: Any) -> str:
    return f"gift for line {item.line_item_id}" if item.kind == "offering" \
        else f"allocation {item.allocation_id}"


def lock_order(conn: Connection, order_pk: int) -> Any:
    return conn.execute(select(orders).where(orders.c.id == order_pk).with_for_update()).one()


def _new_item(ch: Certhook, conn: Connection, order_pk: int, rules: Any,
              request: dict[str, Any] | None = None, **columns: Any) -> int:
    """A pending item of the order: its external id and (for gifts and courses) the body every
    try sends are stored now, before any call."""
    now = ch.now()
    return conn.execute(certificates.insert().values(
        order_pk=order_pk, rules=json.dumps(list(rules), ensure_ascii=False),
        request_json=json.dumps(request, ensure_ascii=False) if request is not None else None,
        status=ItemStatus.PENDING, posts=0, created_at=now, updated_at=now, **columns,
    ).returning(certificates.c.id)).scalar_one()


def run_order_job(ch: Certhook, job: Job) -> None:
    """Evaluate the rules and create the order's certificate items (or skip it)."""
    order_pk, now = int(job.ref), ch.now()
    with ch.db.write() as conn:
        ch.queue.still_ours(conn, job)
        row = lock_order(conn, order_pk)
        has_items = conn.execute(select(func.count()).select_from(certificates)
                                 .where(certificates.c.order_pk == order_pk)).scalar_one()
        if row.status != OrderStatus.PENDING or row.evaluation_json is not None or has_items:
            ch.queue.done(conn, job, now)
            return
        shop = ch.shop(row.shop)
        if shop is None:
            conn.execute(update(orders).where(orders.c.id == order_pk).values(
                status=OrderStatus.FAILED, updated_at=now,
                reason=f"shop {row.shop!r} is not in the settings any more"))
            ch.queue.done(conn, job, now)
            return
        order = Order.from_json(row.order_json)
        result = evaluate(ch.rules[shop.id], order)
        values: dict[str, Any] = {
            "evaluation_json": json.dumps(asdict(result)), "shadow": shop.shadow, "updated_at": now}
        earned = ", ".join([f"{a.impact_qty} × allocation {a.allocation_id}"
                            for a in result.allocations]
                           + [f"a gift of {g.quantity}" for g in result.gifts]
                           + [f"a course certificate (list {c.list_id})" for c in result.enrolments])
        if not result.earns_something:
            values.update(status=OrderStatus.SKIPPED, reason=result.reason)
        elif shop.shadow:
            values.update(status=OrderStatus.SKIPPED, reason=f"shadow mode: would issue {earned}")
        conn.execute(update(orders).where(orders.c.id == order_pk).values(**values))
        add_event(ch, conn, order_pk, "evaluated", values.get("reason") or f"rules give {earned}")
        if "status" not in values:
            for alloc in result.allocations:
                pk = _new_item(ch, conn, order_pk, kind="certificate", issuer="dots",
                               allocation_id=alloc.allocation_id, impact_qty=alloc.impact_qty,
                               rules=alloc.rules, external_unique_id=external_unique_id(
                                   shop.id, order.order_id, alloc.allocation_id))
                ch.queue.enqueue(conn, JobKind.CERTIFICATE, str(pk), now)
            for gift in result.gifts:
                eid = external_unique_id(shop.id, order.order_id, 0, f"gift_{gift.line_item_id}")
                pk = _new_item(ch, conn, order_pk, kind="offering", issuer="dots", allocation_id=0,
                               line_item_id=gift.line_item_id[:64], impact_qty=gift.quantity,
                               rules=[gift.rule], external_unique_id=eid,
                               request=offering_fields(ch, order, gift, eid, now))
                ch.queue.enqueue(conn, JobKind.CERTIFICATE, str(pk), now)
            for course in result.enrolments:
                _new_item(ch, conn, order_pk, kind="certfusion", issuer="certfusion",
                          allocation_id=course.list_id, impact_qty=1, impact=course.title[:255],
                          rules=[course.rule], external_unique_id=external_unique_id(
                              shop.id, order.order_id, 0, f"course_{course.list_id}"),
                          request={"list_id": course.list_id, "email": order.email,
                                   "name": (order.customer_name.strip() or order.email)[:255],
                                   "custom_fields": dict(course.custom_fields)})
            if result.enrolments:  # one job for all: several recipients are issued in one call
                ch.queue.enqueue(conn, JobKind.CERTFUSION, str(order_pk), now)
        ch.queue.done(conn, job, now)
    log.info("order %s/%s evaluated: %d allocation(s)", row.shop, row.order_id,
             len(result.allocations))


def on_the_grid(when: datetime) -> datetime:
    """The nearest quarter hour, as Dots.eco keeps activation and expiration times."""
    quarter = 15 * 60
    return datetime.fromtimestamp((when.timestamp() + quarter / 2) // quarter * quarter, UTC)


def offering_fields(ch: Certhook, order: Order, gift: Gift, eid: str, now: float) -> dict[str, Any]:
    """The eco-club-offering/add body, fixed when the gift is recorded so every try sends it."""
    fields: dict[str, Any] = {"quantity": gift.quantity, "external_unique_id": eid}
    if gift.limit_allocations:
        fields["limit_allocations"] = ",".join(str(a) for a in gift.limit_allocations)
    if gift.title:
        fields["title"] = gift.title[:255]
    if gift.recipient_name.strip():
        fields["name_on_certificate"] = gift.recipient_name.strip()[:255]
    if gift.valid_days:
        expires = on_the_grid(datetime.fromtimestamp(now, UTC) + timedelta(days=gift.valid_days))
        fields.update(expiration_date=expires.strftime("%Y-%m-%d"),
                      expiration_hour=expires.strftime("%H:%M:%S"))
    if gift.send_email_on_activation_date is not None:
        fields["send_email_on_activation_date"] = "yes" if gift.send_email_on_activation_date else "no"
    club = ch.settings.dots.offering_club
    email = gift.recipient_email if valid_email(gift.recipient_email) else order.email
    if club == "mail" and valid_email(email):  # a code-only club refuses any email
        fields["mail"] = email
    elif club == "remote_user_id":
        fields["remote_user_id"] = (order.customer_id or order.email
                                    or f"{order.shop}-order-{order.order_id}")[:191]
    if order.currency:
        fields["currency"] = order.currency[:255]
    return fields


def queue_writeback_when_complete(ch: Certhook, conn: Connection, order_pk: int) -> None:
    """Once every item of the order is issued, its write-back is queued (the caller holds the
    order's row lock, so two last items can't both miss it)."""
    waiting = conn.execute(select(func.count()).select_from(certificates).where(
        certificates.c.order_pk == order_pk, certificates.c.status != ItemStatus.ISSUED)).scalar_one()
    if waiting == 0:
        conn.execute(update(orders).where(orders.c.id == order_pk).values(
            writeback_status=WritebackStatus.PENDING, writeback_error=None))
        ch.queue.enqueue(conn, JobKind.WRITEBACK, str(order_pk), ch.now())


def certificate_fields(order: Order, item: Any) -> dict[str, Any]:
    """The certificate/add body for one item, within the reference's limits."""
    fields: dict[str, Any] = {
        "external_unique_id": item.external_unique_id,
        "impact_qty": item.impact_qty,
        "allocation_id": item.allocation_id,
        # A guest has no customer id: the email names them, else the order does.
        "remote_user_id": (order.customer_id or order.email
                           or f"{order.shop}-order-{order.order_id}")[:191],
        "certificate_info": order.order_id[:255],
    }
    if order.customer_name.strip():
        fields["name_on_certificate"] = order.customer_name.strip()[:255]
    if order.email and valid_email(order.email):
        fields["remote_user_email"] = order.email
    if order.currency:
        fields["currency"] = order.currency[:255]
    return fields


def offering_columns(answer: dict[str, Any]) -> dict[str, Any]:
    """An eco club offering (from add or list) as the item's columns."""
    code, claim_url = str(answer.get("code") or ""), str(answer.get("claim_url") or "")
    if claim_url and code:  # the claim form takes the code prefilled as ?ac=
        claim_url += ("&" if "?" in claim_url else "?") + urlencode({"ac": code})
    columns = {"certificate_id": str(answer.get("uuid") or ""), "code": code,
               "claim_url": claim_url, "certificate_url": claim_url,
               "impact": str(answer.get("title") or "") or "Gift"}
    if answer.get("no_of_claims") is not None:
        columns["claims"] = int(answer["no_of_claims"])
    return columns


def _lookup(ch: Certhook, item: Any) -> dict[str, Any] | None:
    if item.kind == "offering":
        found = ch.dots.find_offering(item.external_unique_id)
        return offering_columns(found) if found else None
    cert = ch.dots.get_certificate(item.external_unique_id)
    return asdict(cert) if cert else None


def count_send(ch: Certhook, job: Job, item_pk: int) -> None:
    """Record that a create call for this item is about to go out, before it does: from then
    on, every try looks for what that call may have made before making anything."""
    with ch.db.write() as conn:
        ch.queue.still_ours(conn, job)
        conn.execute(update(certificates).where(certificates.c.id == item_pk)
                     .values(posts=certificates.c.posts + 1, updated_at=ch.now()))


def _issue(ch: Certhook, job: Job, order: Order, item: Any) -> dict[str, Any]:
    """Adopt what Dots.eco already has for this id, or POST once (counted before sending)."""
    if item.posts > 0:
        found = _lookup(ch, item)
        if found is not None:
            return found
    count_send(ch, job, item.id)
    try:
        if item.kind == "offering":
            return offering_columns(ch.dots.add_offering(json.loads(item.request_json)))
        return asdict(ch.dots.add_certificate(certificate_fields(order, item)))
    except Rejected as exc:
        # "Already exists" (the reference's words for certificates; offerings don't say) is a
        # recovery: the lookup by external id decides.
        if not isinstance(exc, AlreadyExists) and item.kind != "offering":
            raise
        found = _lookup(ch, item)
        if found is not None:
            return found
        if isinstance(exc, AlreadyExists):
            raise Transient("Dots.eco: the certificate exists but can't be looked up yet") from None
        raise


def run_certificate_job(ch: Certhook, job: Job) -> None:
    item_pk = int(job.ref)
    with ch.db.read() as conn:
        item = conn.execute(select(certificates).where(certificates.c.id == item_pk)).one()
        order_row = conn.execute(select(orders).where(orders.c.id == item.order_pk)).one()
    if item.status != ItemStatus.PENDING:
        with ch.db.write() as conn:
            ch.queue.done(conn, job, ch.now())
        return
    try:
        issued = _issue(ch, job, Order.from_json(order_row.order_json), item)
    except ApiError as exc:
        _settle_error(ch, job, item, exc)
        return
    now = ch.now()
    with ch.db.write() as conn:
        ch.queue.still_ours(conn, job)
        lock_order(conn, item.order_pk)  # so two last items can't both miss the write-back
        conn.execute(update(certificates).where(
            certificates.c.id == item_pk, certificates.c.status == ItemStatus.PENDING
        ).values(status=ItemStatus.ISSUED, error=None, issued_at=now, updated_at=now, **issued))
        queue_writeback_when_complete(ch, conn, item.order_pk)
        add_event(ch, conn, item.order_pk, "issued", f"{_what(item)}: {item.kind} "
                  f"{issued['certificate_id']} issued" + (f", code {issued['code']}"
                                                           if issued.get("code") else ""))
        refresh_status(ch, conn, item.order_pk)
        ch.queue.done(conn, job, now)
    log.info("%s %s issued for order %s/%s", item.kind, issued["certificate_id"], order_row.shop,
             order_row.order_id)


def _settle_error(ch: Certhook, job: Job, item: Any, exc: ApiError) -> None:
    """Record why the item isn't issued; retry it later or fail it."""
    s, now = ch.settings, ch.now()
    message = exc.message
    with ch.db.write() as conn:
        if isinstance(exc, RateLimited):
            # Out of balance: wait for the merchant to top up; it costs no attempt.
            ch.queue.retry(conn, job, now, s.retry_max_seconds, message, counts=False)
            failed = False
        elif isinstance(exc, Transient):
            delay = next_delay(job.attempts + 1, s.retry_base_seconds, s.retry_max_seconds,
                               s.max_attempts)
            failed = delay is None
            if failed:
                ch.queue.fail(conn, job, now, message)
            else:
                ch.queue.retry(conn, job, now, delay, message)
        else:
            assert isinstance(exc, (Rejected, AuthError))
            ch.queue.fail(conn, job, now, message)
            failed = True
        conn.execute(update(certificates).where(
            certificates.c.id == item.id, certificates.c.status == ItemStatus.PENDING
        ).values(error=message, updated_at=now,
                 **({"status": ItemStatus.FAILED} if failed else {})))
        add_event(ch, conn, item.order_pk, "failed" if failed else "attempt",
                  f"{_what(item)}: {message}"
                  + ("" if failed else " (will try again)"))
        refresh_status(ch, conn, item.order_pk)
    log.warning("certificate item %s: %s%s", item.id, message, " (failed)" if failed else "")
