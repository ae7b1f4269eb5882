"""What the dashboard reads besides orders: what needs attention, and impact over time."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select

from . import budgets
from .connections import CLIENT_CREDENTIALS
from .models import events, items, jobs, orders, shop_connections
from .settings import Shop
from .statuses import ConnectionStatus, ItemStatus, JobKind, OrderStatus, WritebackStatus
from .tallies import count_orders
from .web import throttle

STUCK_SECONDS = 3600


@dataclass(frozen=True)
class Attention:
    out_of_balance: bool
    credentials: list[str]     # "acme: Shopify: credentials rejected (401): ..."
    stuck_orders: int          # failed, or still pending after an hour
    reconciliation: list[str]  # "acme: internal error: ...": its last run failed
    budgets: list[str] = field(default_factory=list)  # "acme: monthly budget for allocation 14: ..."
    guessing: list[str] = field(default_factory=list)  # "api: 42 wrong tokens in the last hour ..."
    connections: list[str] = field(default_factory=list)  # "acme is disconnected: ...; to connect ..."

    def __bool__(self) -> bool:
        return (self.out_of_balance or bool(self.credentials) or self.stuck_orders > 0
                or bool(self.reconciliation) or bool(self.budgets) or bool(self.guessing)
                or bool(self.connections))


def budget_warnings(conn: Connection, shops: Sequence[Shop], now: float) -> list[str]:
    """Each cap used to its shop's warn_at or more this month, and how many orders it holds."""
    out = []
    for shop, name, taken, cap in budgets.usage(conn, list(shops), now):
        if shop.budget and taken >= shop.budget.warn_at * cap:
            waiting = conn.execute(select(func.count()).select_from(orders).where(
                orders.c.shop == shop.id, orders.c.status == OrderStatus.HELD,
                orders.c.reason.like(f"monthly budget for {name.replace(':', ' ')} %"))).scalar_one()
            out.append(f"{shop.id}: monthly budget for {name.replace(':', ' ')}: {taken} of {cap} used"
                       + (f"; {waiting} order(s) wait for room" if waiting else ""))
    return out


def connection_problems(conn: Connection, shops: Sequence[Shop], why: Callable[[Shop, Any], str]
                        ) -> list[str]:
    """Each Shopify app shop that can't be called now, why and what to do (`why`: the
    connections' words), and how many write-backs wait for it."""
    rows = {r.shop: r for r in conn.execute(select(shop_connections))}
    out = []
    for shop in shops:
        row = rows.get(shop.id)
        if not shop.client_id or (row is None and shop.connect == CLIENT_CREDENTIALS):
            continue  # an admin-created app's shop; or one that takes its first token when needed
        if row is not None and row.status == ConnectionStatus.CONNECTED:
            continue
        waiting = conn.execute(select(func.count()).select_from(orders).where(
            orders.c.shop == shop.id, orders.c.writeback_status == WritebackStatus.PENDING)).scalar_one()
        out.append(f"{why(shop, row)} ({waiting} write-back(s) wait)")
    return out


def attention(conn: Connection, now: float, shops: Sequence[Shop] = (),
              why: Callable[[Shop, Any], str] | None = None) -> Attention:
    balance = conn.execute(select(items.c.id).where(
        items.c.status == ItemStatus.PENDING,
        items.c.error.like("%out of balance%")).limit(1)).first() is not None
    rejected = "%credentials rejected%"
    # A reconcile job's last error is its last run's, whether the store answered with it or
    # the job crashed; a run that works clears it.
    failing = [(r.ref, r.last_error) for r in conn.execute(
        select(jobs.c.ref, jobs.c.last_error).where(
            jobs.c.kind == JobKind.RECONCILE, jobs.c.last_error.is_not(None)).order_by(jobs.c.ref))]
    credentials = [f"{shop}: {error}" for shop, error in failing if "credentials rejected" in error]
    credentials += [f"{r.shop}: {r.writeback_error}" for r in conn.execute(
        select(orders.c.shop, orders.c.writeback_error)
        .where(orders.c.writeback_status.in_([WritebackStatus.FAILED, WritebackStatus.PENDING]),
               orders.c.writeback_error.like(rejected)).limit(3))]
    credentials += [f"Dots.eco: {r.error}" for r in conn.execute(
        select(items.c.error).where(items.c.status == ItemStatus.FAILED,
                                           items.c.error.like(rejected)).limit(1))]
    stuck = count_orders(conn, statuses=[OrderStatus.FAILED]) + conn.execute(
        select(func.count()).select_from(orders).where(
            orders.c.status == OrderStatus.PENDING, orders.c.created_at < now - STUCK_SECONDS)).scalar_one()
    return Attention(balance, sorted(set(credentials)), stuck,
                     [f"{shop}: {error}" for shop, error in failing
                      if "credentials rejected" not in error], budget_warnings(conn, shops, now),
                     throttle.warnings(conn, now), connection_problems(conn, shops, why) if why else [])


def timeline(conn: Connection, order_pk: int) -> list[Any]:
    return conn.execute(select(events).where(events.c.order_pk == order_pk)
                        .order_by(events.c.at, events.c.id)).all()


def _issued(since: float, until: float, shop: str | None) -> list[Any]:
    where = [items.c.status == ItemStatus.ISSUED, items.c.issued_at >= since,
             items.c.issued_at < until]
    if shop:
        where.append(orders.c.shop == shop)
    return where


def issued_rows(conn: Connection, since: float, until: float, shop: str | None = None
                ) -> Iterator[Any]:
    """Every certificate issued in the period, oldest first, with its order."""
    yield from conn.execute(
        select(orders.c.shop, orders.c.order_id, orders.c.order_name, items.c.kind,
               items.c.issuer, items.c.allocation_id, items.c.list_id, items.c.impact,
               items.c.impact_qty, items.c.certificate_id,
               items.c.certificate_url, items.c.issued_at)
        .select_from(items.join(orders, orders.c.id == items.c.order_pk))
        .where(*_issued(since, until, shop)).order_by(items.c.issued_at)
    )


def issued_then_cancelled(conn: Connection, since: float, until: float, shop: str | None = None
                          ) -> list[tuple[Any, list[str]]]:
    """Orders cancelled (or fully refunded) in the period after something was issued, with the
    impact that cost: (order, ["3 × Save a Sea Turtle", ...]), the latest first. The orders are
    found by their cancelled_at index first: few are cancelled, many are issued."""
    # The shop is checked here, not in the query: given it, a planner may walk the shop's
    # orders by its own index instead of the few cancelled ones.
    found = {row.id: (row, []) for row in conn.execute(
        select(orders.c.id, orders.c.shop, orders.c.order_id, orders.c.order_name,
               orders.c.cancelled_at, orders.c.refunded)
        .where(orders.c.cancelled_at >= since, orders.c.cancelled_at < until)
        .order_by(orders.c.cancelled_at.desc(), orders.c.id)) if shop in (None, row.shop)}
    issued: dict[int, tuple[Any, list[str]]] = {}
    if found:
        for item in conn.execute(select(items.c.order_pk, items.c.impact, items.c.impact_qty, items.c.kind)
                                 .where(items.c.order_pk.in_(list(found)),
                                        items.c.status == ItemStatus.ISSUED).order_by(items.c.id)):
            issued.setdefault(item.order_pk, found[item.order_pk])[1].append(
                f"{item.impact_qty} × {item.impact or item.kind}")
    return [issued[pk] for pk in found if pk in issued]
