"""Counts and daily totals kept as they change, so a read at a million orders counts nothing.

Database triggers (migration 0010) keep them in the transaction of every change to an order's
status or an issued item, whatever code makes it: orders per (shop, status), and the impact
issued per UTC day and (shop, kind, allocation, CertFusion list). Each is spread over a few
slots, so concurrent writers rarely wait on one row; a read sums the slots.
"""
from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import BigInteger, Column, Connection, Integer, String, Table, Text, func, select

from .models import metadata

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
