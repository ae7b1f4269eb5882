"""Monthly budgets: what a shop may issue per calendar month (UTC), per allocation and in
offering units.

An item that would pass its cap is `held`, never failed: its issue job comes back when the
month turns (oldest first), and a Retry or a restart looks again (after a cap was raised).
What counts against a cap: the month's issued items, and items whose request may have gone
out (counted, not yet answered). Admission happens under a per-shop lock, in the transaction
that counts the sends, so two orders cannot both take the last of a cap.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, bindparam, func, or_, select

from .db import Database
from .models import counters, items, orders
from .outbox.record import budget_event
from .settings import Shop
from .statuses import EventType, ItemKind, ItemStatus, JobKind

if TYPE_CHECKING:  # the context is built on top of this; only its type is needed here
    from .context import Certhook

log = logging.getLogger(__name__)
_USED = (select(func.coalesce(func.sum(items.c.impact_qty), 0))
         .select_from(items.join(orders, orders.c.id == items.c.order_pk))
         .where(orders.c.shop == bindparam("shop"),
                or_(and_(items.c.status == ItemStatus.ISSUED, items.c.issued_at >= bindparam("since")),
                    and_(items.c.status == ItemStatus.PENDING, items.c.posts > 0))))
_USED_BY = {"allocation": _USED.where(items.c.kind == ItemKind.CERTIFICATE,
                                      items.c.allocation_id == bindparam("allocation")),
            "offerings": _USED.where(items.c.kind == ItemKind.OFFERING)}


def month_start(now: float) -> float:
    day = datetime.fromtimestamp(now, UTC)
    return datetime(day.year, day.month, 1, tzinfo=UTC).timestamp()


def next_month(now: float) -> float:
    day = datetime.fromtimestamp(now, UTC)
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return datetime(year, month, 1, tzinfo=UTC).timestamp()


def target(row: Any) -> str | None:
    """The cap an item counts against: `allocation:14`, `offerings`, or None (CertFusion)."""
    if row.kind == ItemKind.CERTIFICATE:
        return f"allocation:{row.allocation_id}"
    return "offerings" if row.kind == ItemKind.OFFERING else None


def used(conn: Connection, shop: str, name: str, now: float) -> int:
    """What counts against the cap `name` this month."""
    kind, _, allocation = name.partition(":")
    params: dict[str, Any] = {"shop": shop, "since": month_start(now)}
    if allocation:
        params["allocation"] = int(allocation)
    return int(conn.execute(_USED_BY[kind], params).scalar_one())


def lock(db: Database, conn: Connection, shop: str, now: float) -> None:
    """One admission at a time per shop (PostgreSQL; SQLite has one writer anyway)."""
    name = f"budget:{shop}"
    conn.execute(db.insert_new(counters, "name"), {"name": name, "value": 0, "updated_at": now})
    conn.execute(select(counters.c.value).where(counters.c.name == name).with_for_update())


def admit(ch: Certhook, conn: Connection, shop: Shop, rows: list[Any]) -> dict[int, str]:
    """Which of these items (about to be sent) the shop's caps hold: item id → why. A cap
    passing its warn_at tells budget.warning; one used up, or holding an item, budget.reached."""
    if shop.budget is None:
        return {}
    caps, warn_at, now = dict(shop.budget.caps()), shop.budget.warn_at, ch.now()
    wanted = [(row, name) for row in rows if (name := target(row)) in caps]
    if not wanted:
        return {}
    lock(ch.db, conn, shop.id, now)
    taken = {name: used(conn, shop.id, name, now) for name in {n for _, n in wanted}}
    held: dict[int, str] = {}
    for row, name in wanted:
        cap = caps[name]
        if taken[name] + row.impact_qty > cap:
            held[row.id] = f"monthly budget for {name.replace(':', ' ')} reached: {taken[name]} of {cap}"
            log.warning("shop %s: %s held: %s", shop.id, row.external_unique_id, held[row.id])
            budget_event(ch, conn, EventType.BUDGET_REACHED, shop.id, name, taken[name], cap)
            continue
        if taken[name] < warn_at * cap <= taken[name] + row.impact_qty:
            log.warning("shop %s: monthly budget for %s at %d of %d", shop.id, name,
                        taken[name] + row.impact_qty, cap)
            budget_event(ch, conn, EventType.BUDGET_WARNING, shop.id, name, taken[name] + row.impact_qty, cap)
        taken[name] += row.impact_qty
        if taken[name] >= cap:
            budget_event(ch, conn, EventType.BUDGET_REACHED, shop.id, name, taken[name], cap)
    return held


def usage(conn: Connection, shops: list[Shop], now: float) -> list[tuple[Shop, str, int, int]]:
    """(shop, target, used, cap) for every cap, this month."""
    return [(shop, name, used(conn, shop.id, name, now), cap)
            for shop in shops if shop.budget for name, cap in shop.budget.caps()]


def release(ch: Certhook) -> None:
    """Every order with held items is looked at again now: a cap may have been raised."""
    with ch.db.write() as conn:
        held = conn.execute(select(items.c.order_pk, orders.c.shop)
                            .join(orders, orders.c.id == items.c.order_pk)
                            .where(items.c.status == ItemStatus.HELD).distinct()).all()
        for order_pk, shop in held:
            ch.queue.enqueue(conn, JobKind.ISSUE, str(order_pk), ch.now(), shop=shop)
