"""The audit: what certhook recorded, checked against what Dots.eco has, by external id.

An issued certificate must exist with the same allocation and quantity, and `certificate_info`
the order id; an issued offering must exist with the same quantity. An item recorded pending,
failed or cancelled that exists at Dots.eco is a problem too: an adoption that was lost.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, select

from .context import Certhook
from .http import ApiError
from .models import items, orders
from .statuses import ItemKind, ItemStatus

AUDITED = (ItemKind.CERTIFICATE, ItemKind.OFFERING)  # the Dots.eco items


@dataclass(frozen=True)
class Problem:
    shop: str
    order_id: str
    external_unique_id: str
    problem: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def recorded(conn: Connection, since: float, shop: str | None) -> list[Any]:
    """The Dots.eco items certhook recorded since then, oldest first, with their order."""
    where = [items.c.kind.in_(AUDITED), items.c.created_at >= since]
    if shop:
        where.append(orders.c.shop == shop)
    return conn.execute(
        select(items.c.kind, items.c.status, items.c.external_unique_id, items.c.allocation_id,
               items.c.impact_qty, orders.c.shop, orders.c.order_id)
        .select_from(items.join(orders, orders.c.id == items.c.order_pk))
        .where(*where).order_by(items.c.created_at, items.c.id)).all()


def check(ch: Certhook, row: Any) -> Problem | None:
    """What is wrong with one recorded item at Dots.eco, or None."""
    issuer = ch.issuers.get(ItemKind(row.kind))
    try:
        found = issuer.record(row.external_unique_id) if issuer is not None else None  # type: ignore[attr-defined]
    except ApiError as exc:
        return Problem(row.shop, row.order_id, row.external_unique_id, f"could not be checked: {exc.message}")
    if row.status == ItemStatus.ISSUED:
        said = "missing at Dots.eco" if found is None else _differs(row, found)
    else:
        said = None if found is None else f"recorded {row.status}, but it exists at Dots.eco"
    return None if said is None else Problem(row.shop, row.order_id, row.external_unique_id, said)


def _differs(row: Any, found: dict[str, Any]) -> str | None:
    if row.kind == ItemKind.OFFERING:
        if str(found.get("quantity")) != str(row.impact_qty):
            return f"quantity {row.impact_qty} here, {found.get('quantity')} at Dots.eco"
        return None
    if str(found.get("allocation_id")) != str(row.allocation_id):
        return f"allocation {row.allocation_id} here, {found.get('allocation_id')} at Dots.eco"
    if str(found.get("impact_qty")) != str(row.impact_qty):
        return f"quantity {row.impact_qty} here, {found.get('impact_qty')} at Dots.eco"
    if found.get("certificate_info") != row.order_id:
        return f"certificate_info is {str(found.get('certificate_info'))[:64]!r}, not the order id"
    return None
