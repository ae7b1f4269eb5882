"""An event is recorded in the transaction of the change that caused it: one outbox row per
endpoint that wants it, its body and message id fixed now. A row's key makes it once per
endpoint; the endpoint's job is made due when its transaction commits.

Nothing is recorded for shadow-mode orders (test orders are never recorded at all), nor for an
endpoint that answered 410 Gone (until it is enabled again).
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, select

from .. import links
from ..models import counters, orders, outbox
from ..settings import Endpoint
from ..statuses import EventStatus, EventType, JobKind
from ..store.orders import iso, items_of, order_json

if TYPE_CHECKING:  # the context is built on top of this; only its type is needed here
    from ..context import Certhook

DISABLED = "events-disabled:"  # + an endpoint's key: a counters row while it is disabled
_DISABLED = select(counters.c.name).where(counters.c.name.in_(bindparam("names", expanding=True)))
_ORDER = select(orders).where(orders.c.id == bindparam("order_pk"))


def body(type_: str, at: float, data: dict[str, Any]) -> str:
    """An event as it is POSTed: {"type", "timestamp", "data"}."""
    return json.dumps({"type": type_, "timestamp": iso(at), "data": data}, ensure_ascii=False)


def message_id() -> str:
    """A webhook-id: the same on every try of one event to one endpoint."""
    return f"msg_{uuid.uuid4().hex}"


def record(ch: Certhook, conn: Connection, type_: EventType, key: str,
           data: Callable[[Endpoint], dict[str, Any]]) -> int:
    """Record the event `key` for every endpoint that wants it, in conn's transaction; how many."""
    wanted = [e for e in ch.settings.events if type_ in e.types]
    if not wanted:
        return 0
    now = ch.now()
    disabled = set(conn.execute(_DISABLED, {"names": [DISABLED + e.key for e in wanted]}).scalars())
    recorded = 0
    for endpoint in wanted:
        if DISABLED + endpoint.key in disabled:
            continue
        row = conn.execute(ch.db.insert_new(outbox, "endpoint", "key"), {
            "endpoint": endpoint.key, "url": endpoint.url, "key": key[:255], "type": type_,
            "message_id": message_id(), "body": body(type_, now, data(endpoint)),
            "status": EventStatus.PENDING, "attempts": 0, "next_at": now,
            "created_at": now, "updated_at": now}).first()
        if row is not None:
            ch.queue.enqueue(conn, JobKind.EVENTS, endpoint.key, now)
            recorded += 1
    return recorded


def order_event(ch: Certhook, conn: Connection, type_: EventType, order_pk: int) -> None:
    """An order event: its data is the order as GET /api/orders/{shop}/{order_id} answers it,
    its customer only for an endpoint with include_customer. Once per order, except a failure,
    which is told again if the order fails again after a retry."""
    if not any(type_ in e.types for e in ch.settings.events):
        return
    row = conn.execute(_ORDER, {"order_pk": order_pk}).one()
    shop = ch.shop(row.shop)
    if row.shadow or shop is None or shop.shadow:
        return
    order = order_json(row, items_of(conn, [order_pk])[order_pk],
                       links.customer_url(ch.settings, row.shop, row.order_id))
    key = f"{type_}:{row.shop}:{row.order_id}"
    if type_ == EventType.ORDER_FAILED:
        key += f":{ch.now():.6f}"
    record(ch, conn, type_, key,
           lambda e: order if e.include_customer else {**order, "customer": None})


def month_of(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m")


def budget_event(ch: Certhook, conn: Connection, type_: EventType, shop: str, target: str,
                 used: int, cap: int) -> None:
    """budget.warning or budget.reached: once per cap and month."""
    month = month_of(ch.now())
    record(ch, conn, type_, f"{type_}:{shop}:{target}:{month}",
           lambda _: {"shop": shop, "target": target, "used": used, "cap": cap, "month": month})


def balance_event(ch: Certhook, conn: Connection, balance: float, days_left: float) -> None:
    """balance.low: at most once a (UTC) day."""
    day = datetime.fromtimestamp(ch.now(), UTC).strftime("%Y-%m-%d")
    record(ch, conn, EventType.BALANCE_LOW, f"balance.low:dots:{day}",
           lambda _: {"issuer": "dots", "balance": balance, "days_left": round(days_left, 1)})
