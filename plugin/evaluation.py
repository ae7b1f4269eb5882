"""The evaluate job: what an order earns by its shop's rules, recorded as pending items.

Each item gets, before any call, its external_unique_id (derived only from the shop, the order
and what was earned) and the request every try will send, built by its issuer.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select

from .allocations import label
from .context import Certhook
from .http import Rejected
from .jobs.queue import Job
from .models import items, orders
from .orders import Order, PayloadError
from .outbox.record import order_event
from .rules import Evaluation, evaluate
from .settings import Shop
from .statuses import EventType, ItemKind, ItemStatus, JobKind, OrderStatus
from .store.orders import add_event, lock_order, order_of, update_order

log = logging.getLogger(__name__)
_INSERT_ITEM = items.insert()
_READ_ORDER = select(orders).where(orders.c.id == bindparam("order_pk"))


def external_unique_id(shop: str, order_id: str, what: int | str) -> str:
    """`certhook_{shop}_{order}_{what}`: `what` is the allocation id of a certificate,
    `offering_{line item}` or `certfusion_{list}`; the same on every try, at most 255."""
    eid = f"certhook_{shop}_{order_id}_{what}"
    if len(eid) <= 255:
        return eid
    return f"certhook_{shop[:100]}_{hashlib.sha256(eid.encode()).hexdigest()}"


def earned_text(result: Evaluation, names: Mapping[int, str] | None = None) -> str:
    """`2 × allocation 14 (Save a Sea Turtle), an offering of 5`: what the rules gave."""
    return ", ".join([f"{a.impact_qty} × {label(a.allocation_id, names or {})}"
                      for a in result.allocations]
                     + [f"an offering of {o.quantity}" for o in result.offerings]
                     + [f"a CertFusion certificate (list {c.list_id})" for c in result.certfusion])


def earned_items(shop: Shop, order: Order, result: Evaluation) -> Iterator[tuple[ItemKind, Any, str, dict]]:
    """(kind, what was earned, external id, the item's own columns) for each item to create."""
    def eid(what: int | str) -> str:
        return external_unique_id(shop.id, order.order_id, what)

    for a in result.allocations:
        yield ItemKind.CERTIFICATE, a, eid(a.allocation_id), {
            "allocation_id": a.allocation_id, "impact_qty": a.impact_qty, "rules": list(a.rules)}
    for o in result.offerings:
        yield ItemKind.OFFERING, o, eid(f"offering_{o.line_item_id}"), {
            "line_item_id": o.line_item_id[:64], "impact_qty": o.quantity, "rules": [o.rule]}
    for c in result.certfusion:
        yield ItemKind.CERTFUSION, c, eid(f"certfusion_{c.list_id}"), {
            "list_id": c.list_id, "impact_qty": 1, "impact": c.title[:255], "rules": [c.rule]}


@dataclass(frozen=True)
class Plan:
    """What one evaluation writes, worked out before the write lock is taken."""

    values: dict[str, Any]                  # the order's columns
    events: list[tuple[float, str, str]]    # its timeline: (at, kind, detail)
    items: list[dict[str, Any]]             # the items to create, whose issue is queued
    summary: str                            # for the log


def plan(ch: Certhook, row: Any, names: Mapping[int, str], now: float) -> Plan:
    """Apply the shop's rules to the order (read from the store's body, the first time)."""
    shop = ch.shop(row.shop)
    if shop is None:
        raise Rejected(f"shop {row.shop!r} is not in the settings any more")
    try:
        order = order_of(ch, row)
    except PayloadError as exc:
        reason = f"cannot read the order: {exc}"
        return Plan({"status": OrderStatus.FAILED, "reason": reason, "updated_at": now},
                    [(now, "failed", reason)], [], "unreadable")
    values: dict[str, Any] = {}
    events = []
    if row.payload is not None:  # as the store sent it: kept normalized from now on
        values.update(order_name=order.order_name[:255], email=order.email.lower()[:254],
                      customer_name=order.customer_name[:255], order_json=order.to_json(), payload=None)
    result = evaluate(ch.rules[shop.id], order)
    values.update(evaluation_json=json.dumps(result, default=vars), shadow=shop.shadow,  # asdict, uncopied
                  status=OrderStatus.PENDING, reason=None, updated_at=now)
    if not result.earns_something:
        values.update(status=OrderStatus.SKIPPED, reason=result.reason)
    elif shop.shadow:
        values.update(status=OrderStatus.SKIPPED,
                      reason=f"shadow mode: would issue {earned_text(result, names)}")
    events.append((now, "evaluated", values["reason"] or f"rules give {earned_text(result, names)}"))
    items = _items(ch, row.id, shop, order, result, now) if values["status"] == OrderStatus.PENDING else []
    return Plan(values, events, items, f"{len(result.allocations)} allocation(s), {len(result.offerings)} "
                f"offering(s), {len(result.certfusion)} CertFusion list(s)")


def _items(ch: Certhook, order_pk: int, shop: Shop, order: Order, result: Evaluation,
           now: float) -> list[dict[str, Any]]:
    rows = []
    for kind, earned, eid, columns in earned_items(shop, order, result):
        issuer = ch.issuers[kind]
        rows.append({
            "order_pk": order_pk, "kind": kind, "issuer": issuer.name, "external_unique_id": eid,
            "request_json": json.dumps(issuer.request(order, earned, eid, now), ensure_ascii=False),
            "status": ItemStatus.PENDING, "posts": 0, "created_at": now, "updated_at": now,
            **columns, "rules": json.dumps(columns["rules"], ensure_ascii=False)})
    return rows


def _open(row: Any) -> bool:
    """Not evaluated yet, nor cancelled meanwhile."""
    return row.status in (OrderStatus.PENDING, OrderStatus.HELD) and row.evaluation_json is None


def run_evaluate_job(ch: Certhook, job: Job) -> None:
    """Apply the rules once: create the order's items and queue their issue, or skip it.

    The work is done before the write lock, on the order as read; the lock then only writes
    it (or works it out again, if the order changed in between)."""
    order_pk, now = int(job.ref), ch.now()
    names = ch.names.all()  # asked at most hourly, never inside the transaction
    with ch.db.read() as conn:
        seen = conn.execute(_READ_ORDER, {"order_pk": order_pk}).one()
    worked = plan(ch, seen, names, now) if _open(seen) else None
    with ch.db.write() as conn:
        row = lock_order(conn, order_pk)  # the job's lease is checked when it is settled, below
        if not _open(row):
            ch.queue.done(conn, job, now)  # cancelled meanwhile, or evaluated already
            return
        if worked is None or tuple(row) != tuple(seen):  # changed meanwhile (a redaction, say)
            worked = plan(ch, row, names, now)
        update_order(conn, order_pk, **worked.values)
        for at, kind, detail in worked.events:
            add_event(conn, at, order_pk, kind, detail)
        for item in worked.items:  # one by one: each kind sets its own columns
            conn.execute(_INSERT_ITEM, item)
        if worked.items:
            ch.queue.enqueue(conn, JobKind.ISSUE, str(order_pk), now, after=job)
        elif worked.values["status"] == OrderStatus.FAILED:  # its body can't be read
            order_event(ch, conn, EventType.ORDER_FAILED, order_pk)
        ch.queue.done(conn, job, now)
    log.info("order %s/%s evaluated: %s", row.shop, row.order_id, worked.summary)
