"""The evaluate job: what an order earns by its shop's rules, recorded as pending items.

Each item gets, before any call, its external_unique_id (derived only from the shop, the order
and what was earned) and the request every try will send, built by its issuer.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from typing import Any

from sqlalchemy import Connection

from .allocations import label
from .context import Certhook
from .http import Rejected
from .jobs.queue import Job
from .models import ItemKind, ItemStatus, JobKind, OrderStatus, items
from .orders import Order
from .rules import Evaluation, evaluate
from .settings import Shop
from .store.orders import add_event, lock_order, read_payload, update_order

log = logging.getLogger(__name__)
_INSERT_ITEM = items.insert()


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


def _create_items(ch: Certhook, conn: Connection, job: Job, shop: Shop, order: Order,
                  result: Evaluation, now: float) -> None:
    order_pk = int(job.ref)
    for kind, earned, eid, columns in earned_items(shop, order, result):
        issuer = ch.issuers[kind]
        conn.execute(_INSERT_ITEM, {
            "order_pk": order_pk, "kind": kind, "issuer": issuer.name, "external_unique_id": eid,
            "request_json": json.dumps(issuer.request(order, earned, eid, now), ensure_ascii=False),
            "status": ItemStatus.PENDING, "posts": 0, "created_at": now, "updated_at": now,
            **columns, "rules": json.dumps(columns["rules"], ensure_ascii=False)})
    ch.queue.enqueue(conn, JobKind.ISSUE, str(order_pk), now, after=job)


def run_evaluate_job(ch: Certhook, job: Job) -> None:
    """Apply the rules once: create the order's items and queue their issue, or skip it."""
    order_pk, now = int(job.ref), ch.now()
    names = ch.names.all()  # asked at most hourly, never inside the transaction
    with ch.db.write() as conn:
        row = lock_order(conn, order_pk)  # the job's lease is checked when it is settled, below
        if row.status not in (OrderStatus.PENDING, OrderStatus.HELD) or row.evaluation_json is not None:
            ch.queue.done(conn, job, now)  # cancelled meanwhile, or evaluated already
            return
        shop = ch.shop(row.shop)
        if shop is None:
            raise Rejected(f"shop {row.shop!r} is not in the settings any more")
        order = Order.from_json(row.order_json) if row.payload is None else read_payload(ch, conn, row, now)
        if order is None:  # the store's body can't be read: the order failed, saying why
            ch.queue.done(conn, job, now)
            return
        result = evaluate(ch.rules[shop.id], order)
        values: dict[str, Any] = {"evaluation_json": json.dumps(asdict(result)), "shadow": shop.shadow,
                                  "status": OrderStatus.PENDING, "reason": None, "updated_at": now}
        if not result.earns_something:
            values.update(status=OrderStatus.SKIPPED, reason=result.reason)
        elif shop.shadow:
            values.update(status=OrderStatus.SKIPPED,
                          reason=f"shadow mode: would issue {earned_text(result, names)}")
        update_order(conn, order_pk, **values)
        add_event(conn, now, order_pk, "evaluated",
                  values.get("reason") or f"rules give {earned_text(result, names)}")
        if values["status"] == OrderStatus.PENDING:
            _create_items(ch, conn, job, shop, order, result, now)
        ch.queue.done(conn, job, now)
    log.info("order %s/%s evaluated: %d allocation(s), %d offering(s), %d CertFusion list(s)",
             row.shop, row.order_id, len(result.allocations), len(result.offerings),
             len(result.certfusion))
