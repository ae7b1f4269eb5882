"""What-if: the orders certhook recorded in a window, replayed through today's rules and through
a candidate's, and what each would issue. It reads the database and calls nothing.

Cancelled orders are left out: they issue nothing (or nothing more), whatever the rules say.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Connection, select

from .context import Certhook
from .models import orders
from .orders import Order, PayloadError
from .rules import Evaluation, Rule, evaluate
from .statuses import ItemKind, OrderStatus
from .store.orders import order_of

Key = tuple[str, int | None]  # (kind, allocation id or CertFusion list id)


def recorded(ch: Certhook, conn: Connection, shop_id: str, since: float, until: float
             ) -> Iterator[Order]:
    """The shop's orders received in [since, until), oldest first, as the rules see them
    (one whose body can't be read is left out: its evaluation failed, or will)."""
    rows = conn.execute(select(orders.c.shop, orders.c.order_json, orders.c.payload).where(
        orders.c.shop == shop_id, orders.c.created_at >= since, orders.c.created_at < until,
        orders.c.status != OrderStatus.CANCELLED).order_by(orders.c.created_at, orders.c.id))
    for row in rows:
        try:
            yield order_of(ch, row)
        except PayloadError:
            continue


def quantities(result: Evaluation) -> Counter[Key]:
    """What one evaluation issues: impact per allocation, offering units, CertFusion certificates."""
    out: Counter[Key] = Counter()
    for a in result.allocations:
        out[(ItemKind.CERTIFICATE, a.allocation_id)] += a.impact_qty
    for o in result.offerings:
        out[(ItemKind.OFFERING, None)] += o.quantity
    for c in result.certfusion:
        out[(ItemKind.CERTFUSION, c.list_id)] += 1
    return out


def compare(found: Iterable[Order], current: tuple[Rule, ...], candidate: tuple[Rule, ...]
            ) -> tuple[int, list[dict[str, Any]]]:
    """(orders replayed, one total per allocation, offerings and CertFusion list), as the
    JSON of `certhook preview --since` lists them."""
    count, now, then = 0, Counter[Key](), Counter[Key]()
    for order in found:
        count += 1
        now += quantities(evaluate(current, order))
        then += quantities(evaluate(candidate, order))
    order_of = {ItemKind.CERTIFICATE: 0, ItemKind.OFFERING: 1, ItemKind.CERTFUSION: 2}
    keys = sorted(set(now) | set(then), key=lambda k: (order_of[ItemKind(k[0])], k[1] or 0))
    return count, [_total(key, now[key], then[key]) for key in keys]


def _total(key: Key, current: int, candidate: int) -> dict[str, Any]:
    kind, ident = key
    where = {"list_id": ident} if kind == ItemKind.CERTFUSION else {"allocation_id": ident}
    return {"kind": str(kind), **where, "current_qty": current, "candidate_qty": candidate}
