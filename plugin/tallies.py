"""Counts and daily totals kept as they change, so a read at a million orders counts nothing.

Database triggers (migration 0010) keep them in the transaction of every change to an order's
status or an issued item, whatever code makes it: orders per (shop, status), and the impact
issued per UTC day and (shop, kind, allocation, CertFusion list). Each is spread over a few
slots, so concurrent writers rarely wait on one row; a read sums the slots. recount() rebuilds
them from the orders and items, should they ever drift (a restore, a hand-made edit).
"""
from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    Integer,
    String,
    Table,
    Text,
    cast,
    delete,
    func,
    insert,
    select,
)

from .models import items, metadata, orders
from .statuses import ItemStatus

order_counts = Table(
    "order_counts",
    metadata,
    Column("shop", String(64), primary_key=True),
    Column("status", String(16), primary_key=True),
    Column("slot", Integer, primary_key=True),
    Column("orders", BigInteger, nullable=False),
)

impact_days = Table(
    "impact_days",
    metadata,
    Column("day", BigInteger, primary_key=True),  # days since the epoch, UTC
    Column("shop", String(64), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("allocation_id", BigInteger, primary_key=True),  # 0: none (not a certificate)
    Column("list_id", BigInteger, primary_key=True),        # 0: none (not CertFusion)
    Column("slot", Integer, primary_key=True),
    Column("impact", Text, nullable=True),
    Column("impact_qty", BigInteger, nullable=False),
    Column("certificates", BigInteger, nullable=False),
)

DAY = 86400
SLOTS = 8  # as migration 0010 spreads them


def count_orders(conn: Connection, shop: str | None = None,
                 statuses: Collection[str] = ()) -> int:
    """How many orders the shop (every shop) has, in these statuses (any)."""
    where = []
    if shop:
        where.append(order_counts.c.shop == shop)
    if statuses:
        where.append(order_counts.c.status.in_(list(statuses)))
    return int(conn.execute(select(func.coalesce(func.sum(order_counts.c.orders), 0))
                            .where(*where)).scalar_one())


def _days(since: float, until: float, shop: str | None) -> list[Any]:
    """The days of [since, until), whole UTC days (a partial day counts whole)."""
    where = [impact_days.c.day >= int(since // DAY), impact_days.c.day < -int(-until // DAY)]
    if shop:
        where.append(impact_days.c.shop == shop)
    return where


def impact_totals(conn: Connection, since: float, until: float, shop: str | None = None) -> list[Any]:
    """Per kind, allocation and CertFusion list: the impact name, the impact issued and the
    number of items, in the days of [since, until)."""
    allocation = func.nullif(impact_days.c.allocation_id, 0).label("allocation_id")
    list_id = func.nullif(impact_days.c.list_id, 0).label("list_id")
    certificates = func.sum(impact_days.c.certificates)
    return conn.execute(
        select(impact_days.c.kind, allocation, list_id, func.max(impact_days.c.impact).label("impact"),
               func.sum(impact_days.c.impact_qty).label("impact_qty"), certificates.label("certificates"))
        .where(*_days(since, until, shop))
        .group_by(impact_days.c.kind, impact_days.c.allocation_id, impact_days.c.list_id)
        .having(certificates > 0)
        .order_by(impact_days.c.kind, impact_days.c.allocation_id, impact_days.c.list_id)
    ).all()


def impact_per_day(conn: Connection, since: float, until: float, shop: str | None = None
                   ) -> dict[int, int]:
    """Impact issued per UTC day (days since the epoch → impact_qty)."""
    rows = conn.execute(select(impact_days.c.day, func.sum(impact_days.c.impact_qty))
                        .where(*_days(since, until, shop)).group_by(impact_days.c.day)).all()
    return {int(day): int(qty) for day, qty in rows if qty}


def _day_of(conn: Connection) -> ColumnElement[Any]:
    """An issued item's UTC day, as the triggers reckon it (days since the epoch)."""
    seconds = func.coalesce(items.c.issued_at, items.c.updated_at) / DAY
    return func.floor(seconds) if conn.dialect.name == "postgresql" else cast(seconds, Integer)


def _issued_key(conn: Connection) -> list[ColumnElement[Any]]:
    return [_day_of(conn).label("day"), orders.c.shop, items.c.kind,
            func.coalesce(items.c.allocation_id, 0).label("allocation_id"),
            func.coalesce(items.c.list_id, 0).label("list_id")]


def _issued(conn: Connection, *key: ColumnElement[Any]) -> Any:
    """The issued items' impact and count, by `key`."""
    return (select(*key, func.max(items.c.impact).label("impact"),
                   func.sum(items.c.impact_qty).label("impact_qty"), func.count().label("certificates"))
            .join_from(items, orders, orders.c.id == items.c.order_pk)
            .where(items.c.status == ItemStatus.ISSUED).group_by(*key))


Sums = dict[tuple[Any, ...], tuple[int, ...]]


def _read(conn: Connection, query: Any, sums: int) -> Sums:
    """key columns → the last `sums` columns, as whole numbers."""
    return {tuple(row[:-sums]): tuple(int(v) for v in row[-sums:]) for row in conn.execute(query)}


def _drift(kept: Sums, true: Sums, zero: tuple[int, ...]) -> list[tuple[Any, ...]]:
    """(key, kept, true) wherever the two differ; a key one of them lacks counts zero."""
    keys = sorted(kept.keys() | true.keys(), key=str)
    return [(key, kept.get(key, zero), true.get(key, zero)) for key in keys
            if kept.get(key, zero) != true.get(key, zero)]


def _order_drift(conn: Connection) -> list[str]:
    kept = select(order_counts.c.shop, order_counts.c.status, func.sum(order_counts.c.orders)) \
        .group_by(order_counts.c.shop, order_counts.c.status)
    true = select(orders.c.shop, orders.c.status, func.count()).group_by(orders.c.shop, orders.c.status)
    return [f"orders {shop}/{status}: kept {k[0]}, counted {t[0]}"
            for (shop, status), k, t in _drift(_read(conn, kept, 1), _read(conn, true, 1), (0,))]


def _impact_drift(conn: Connection) -> list[str]:
    key = [impact_days.c[c] for c in ("day", "shop", "kind", "allocation_id", "list_id")]
    kept = select(*key, func.sum(impact_days.c.impact_qty), func.sum(impact_days.c.certificates)) \
        .group_by(*key)
    issued = _issued(conn, *_issued_key(conn)).subquery()
    true = select(*(issued.c[c.name] for c in key), issued.c.impact_qty, issued.c.certificates)
    drift = _drift(_read(conn, kept, 2), _read(conn, true, 2), (0, 0))
    return [f"impact {datetime.fromtimestamp(day * DAY, UTC):%Y-%m-%d} {shop} {kind} "
            f"{_what(allocation, list_id)}: kept {k[0]} in {k[1]}, counted {t[0]} in {t[1]}"
            for (day, shop, kind, allocation, list_id), k, t in drift]


def _what(allocation: int, list_id: int) -> str:
    return f"allocation {allocation}" if allocation else f"list {list_id}" if list_id else "(no allocation)"


def recount(conn: Connection) -> list[str]:
    """Rebuild both tallies from the orders and items, in the caller's write transaction; what
    had drifted, one line each (none: they were right)."""
    if conn.dialect.name == "postgresql":  # other transactions' triggers wait for this one
        conn.exec_driver_sql("LOCK TABLE order_counts, impact_days IN SHARE ROW EXCLUSIVE MODE")
    drift = _order_drift(conn) + _impact_drift(conn)
    order_slot, item_slot = (orders.c.id % SLOTS).label("slot"), (items.c.id % SLOTS).label("slot")
    conn.execute(delete(order_counts))
    conn.execute(insert(order_counts).from_select(
        ["shop", "status", "slot", "orders"],
        select(orders.c.shop, orders.c.status, order_slot, func.count())
        .group_by(orders.c.shop, orders.c.status, order_slot)))
    conn.execute(delete(impact_days))
    conn.execute(insert(impact_days).from_select(
        ["day", "shop", "kind", "allocation_id", "list_id", "slot", "impact", "impact_qty", "certificates"],
        _issued(conn, *_issued_key(conn), item_slot)))
    return drift
