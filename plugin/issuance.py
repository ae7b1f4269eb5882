"""The issue job: the exactly-once state machine for an order's pending items, whatever their issuer.

For each item: if a create call may have gone out before (it was counted), ask its issuer for
what that call made and adopt it; otherwise count the call in the database, then send it. Then
record every outcome, decide each failure with the one retry decision, queue the write-back
once everything is issued, and settle the job.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, or_, select, update

from . import budgets
from .context import Certhook
from .http import ApiError, Rejected
from .issuers import Issued, Issuer, Item
from .issuers.base import Outcome, attempt
from .jobs.queue import Job
from .jobs.retry import Action, Decision, decide, soonest
from .models import items
from .statuses import ItemKind, ItemStatus, JobKind, WritebackStatus
from .store.items import refresh_status
from .store.orders import add_event, lock_order, update_order

log = logging.getLogger(__name__)
_WAITING = select(items).where(items.c.order_pk == bindparam("order"),  # held: try the budget again
                               or_(items.c.status == ItemStatus.PENDING, items.c.status == ItemStatus.HELD)
                               ).order_by(items.c.id)  # (a list in IN would be rendered each time)
_IDS = items.c.id.in_(bindparam("item_ids", expanding=True))
_UNHOLD = update(items).where(_IDS, items.c.status == ItemStatus.HELD)
# Admission is before an item's first send: one counted before may exist, and counts already
_ROWS = select(items).where(_IDS, items.c.status == ItemStatus.PENDING, items.c.posts == 0)
_COUNT_SEND = (update(items).where(items.c.id == bindparam("item_id"), items.c.status == ItemStatus.PENDING)
               .values(posts=items.c.posts + 1).returning(items.c.id))
_CANCEL = update(items).where(items.c.id.in_(bindparam("item_ids", expanding=True)),
                              items.c.status == ItemStatus.PENDING)
_PENDING_IDS = select(items.c.id).where(items.c.order_pk == bindparam("order"),
                                        items.c.status == ItemStatus.PENDING)
_SET_PENDING_ITEM = update(items).where(items.c.id == bindparam("item_id"),
                                        items.c.status == ItemStatus.PENDING)
_STATUSES = select(items.c.status).where(items.c.order_pk == bindparam("order"))


def what(row: Any) -> str:
    """An item as the timeline names it."""
    return {ItemKind.CERTIFICATE: f"allocation {row.allocation_id}",
            ItemKind.OFFERING: f"offering for line {row.line_item_id}",
            ItemKind.CERTFUSION: f"CertFusion list {row.list_id}"}[ItemKind(row.kind)]


def count_sends(ch: Certhook, job: Job, pending: list[Item]) -> list[Item]:
    """Record that create calls for these items are about to go out, before they do: from then
    on, every try looks for what those calls may have made before making anything. Under the
    order's lock, so an item cancelled meanwhile is neither counted nor sent."""
    with ch.db.write() as conn:
        order = lock_order(conn, int(job.ref), whole=False)  # the order's row, then the job's
        ch.queue.still_ours(conn, job)
        which = {"item_ids": [i.id for i in pending], "updated_at": ch.now()}
        if order.cancelled_at is not None:  # not found at the issuer, and never to be sent now
            conn.execute(_CANCEL, {**which, "status": ItemStatus.CANCELLED,
                                   "error": "the order was cancelled before this was sent"})
            return []
        if any(item.held for item in pending):  # the budget is looked at again
            conn.execute(_UNHOLD, {**which, "status": ItemStatus.PENDING, "error": None})
        held = _hold(ch, conn, order, which["item_ids"])
        which["item_ids"] = [i for i in which["item_ids"] if i not in held]
        counted = {i for i in which["item_ids"] if conn.execute(_COUNT_SEND, {
            "item_id": i, "updated_at": which["updated_at"]}).first() is not None}
    return [item for item in pending if item.id in counted]


def _hold(ch: Certhook, conn: Connection, order: Any, ids: list[int]) -> set[int]:
    """Hold the items the shop's monthly budget has no room for; the order says why and until."""
    shop, now = ch.shop(order.shop), ch.now()
    if shop is None or shop.budget is None:
        return set()
    held = budgets.admit(ch, conn, shop, conn.execute(_ROWS, {"item_ids": ids}).all())
    for item_id, reason in held.items():
        conn.execute(_SET_PENDING_ITEM, {"item_id": item_id, "status": ItemStatus.HELD,
                                         "error": reason, "updated_at": now})
    if held:
        until = datetime.fromtimestamp(budgets.next_month(now), UTC).strftime("%Y-%m-%d")
        reason = f"{next(iter(held.values()))}; held until {until} 00:00 UTC"
        update_order(conn, order.id, reason=reason, updated_at=now)
        add_event(conn, now, order.id, "held", reason)
    return set(held)


def issue(ch: Certhook, job: Job, issuer: Issuer, pending: list[Item]) -> dict[int, Outcome]:
    """Adopt what an earlier call made, or create (each call counted before it goes)."""
    out: dict[int, Outcome] = {}
    for item in pending:
        if item.posts > 0:
            found = attempt(issuer.find, item)
            if found is not None:
                out[item.id] = found
    to_send = [item for item in pending if item.id not in out]
    if to_send and (to_send := count_sends(ch, job, to_send)):
        out |= issuer.create(to_send)
    return out


def run_issue_job(ch: Certhook, job: Job) -> None:
    order_pk = int(job.ref)
    with ch.db.read() as conn:
        rows = conn.execute(_WAITING, {"order": order_pk}).all()
    by_kind: dict[ItemKind, list[Item]] = {}  # in the order the rules earned them
    for row in rows:
        by_kind.setdefault(ItemKind(row.kind), []).append(Item.of(row))
    outcomes: dict[int, Outcome] = {}
    for kind, batch in by_kind.items():
        issuer = ch.issuers.get(kind)
        if issuer is None:
            outcomes |= {i.id: Rejected(f"{kind}: its issuer is not in the settings any more")
                         for i in batch}
        else:
            outcomes |= issue(ch, job, issuer, batch)
    settle(ch, job, order_pk, rows, outcomes)


def _record(ch: Certhook, conn: Connection, job: Job, row: Any, outcome: Outcome) -> Decision | None:
    """One item's outcome: issued, or its error and what the retry decision makes of it."""
    now = ch.now()
    if isinstance(outcome, Issued):
        conn.execute(_SET_PENDING_ITEM, {"item_id": row.id, "status": ItemStatus.ISSUED, "error": None,
                                         "issued_at": now, "updated_at": now, **outcome.columns()})
        add_event(conn, now, row.order_pk, "issued", f"{what(row)}: {row.kind} {outcome.certificate_id}"
                  " issued" + (f", code {outcome.code}" if outcome.code else ""))
        log.info("%s %s issued for order %s", row.kind, outcome.certificate_id, row.order_pk)
        return None
    decision = decide(outcome, job.attempts + 1, ch.policy)
    failed = decision.action == Action.FAIL
    conn.execute(_SET_PENDING_ITEM, {"item_id": row.id, "error": outcome.message, "updated_at": now,
                                     **({"status": ItemStatus.FAILED} if failed else {})})
    add_event(conn, now, row.order_pk, "failed" if failed else "attempt",
              f"{what(row)}: {outcome.message}" + ("" if failed else " (will try again)"))
    log.warning("%s of order %s: %s%s", what(row), row.order_pk, outcome.message,
                " (failed)" if failed else "")
    return decision


def settle(ch: Certhook, job: Job, order_pk: int, rows: list[Any], outcomes: dict[int, Outcome]) -> None:
    """Record every outcome; queue the write-back once all is issued; the job is done or comes
    back when the soonest of its items is due."""
    now = ch.now()
    with ch.db.write() as conn:
        order = lock_order(conn, order_pk, whole=False)  # a Retry pressed meanwhile waits for this
        # The job's lease is checked as it is settled: if it was lost, all of this rolls back.
        live = set(conn.execute(_PENDING_IDS, {"order": order_pk}).scalars())  # not cancelled
        decisions = [_record(ch, conn, job, row, outcomes.get(row.id) or ApiError("no answer"))
                     for row in rows if row.id in live]
        statuses = list(conn.execute(_STATUSES, {"order": order_pk}).scalars())  # as now recorded
        if ItemStatus.PENDING in statuses:  # retrying, waiting, or reset by a Retry while this ran
            errors = [o.message for o in outcomes.values() if isinstance(o, ApiError)]
            ch.queue.settle(conn, job, now, soonest(d for d in decisions if d is not None),
                            "; ".join(errors)[:1000] or "items are pending")
        elif ItemStatus.HELD in statuses:  # back when the month turns
            ch.queue.settle(conn, job, now, Decision(Action.WAIT, budgets.next_month(now) - now),
                            "held by a monthly budget")
        else:
            ch.queue.done(conn, job, now)
        # Once every item is issued (or cancelled with its order before it was sent), the
        # write-back is queued for this worker to take next: once, as the order's row is locked
        # and its write-back was never queued before.
        if order.writeback_status is None and ItemStatus.ISSUED in statuses and \
                all(s in (ItemStatus.ISSUED, ItemStatus.CANCELLED) for s in statuses):
            update_order(conn, order_pk, writeback_status=WritebackStatus.PENDING, writeback_error=None)
            ch.queue.enqueue(conn, JobKind.WRITEBACK, str(order_pk), now, after=job)
        refresh_status(ch, conn, order_pk, statuses)
