"""What a shop shows shoppers, with nothing personal in it: the impact issued with its customers
(from the kept daily counts), and what one product line would earn under today's rules."""
from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, case, func, select

from . import i18n
from .budgets import month_start
from .models import items, orders
from .orders import LineItem, Order
from .rules import Rule, evaluate
from .settings import Shop
from .statuses import ItemKind, ItemStatus
from .store.orders import iso
from .tallies import DAY, impact_days

SHOWN = (ItemKind.CERTIFICATE, ItemKind.OFFERING)  # impact; a course certificate is not shown
MAX_PRICE, MAX_QUANTITY = Decimal("1000000000"), 10000
_PHRASE = re.compile(r"^([A-Z][a-z]+) (?:a|an|one|1) (.+)$")  # "Save a Sea Turtle"
_DIGITS = re.compile(r"^[0-9]{1,20}$")  # ASCII only: "²" is a digit to str.isdigit()


class BadQuery(ValueError):
    """A query parameter that can't describe a line; the message names it."""


def _name(row: Any, names: Mapping[int, str]) -> str:
    if row.impact:
        return str(row.impact)
    if row.kind == ItemKind.OFFERING:
        return "Eco club gift"
    return names.get(row.allocation_id) or f"allocation {row.allocation_id}"


def _totals(conn: Connection, shop: Shop, now: float) -> tuple[list[Any], int | None]:
    """Per kind and allocation: impact all time and this month, and the shop's last day of any."""
    month = int(month_start(now) // DAY)
    days = impact_days.c
    rows = conn.execute(
        select(days.kind, days.allocation_id, func.max(days.impact).label("impact"),
               func.sum(days.impact_qty).label("quantity"),
               func.sum(case((days.day >= month, days.impact_qty), else_=0)).label("this_month"),
               func.max(days.day).label("last_day"))
        .where(days.shop == shop.id, days.kind.in_([k.value for k in SHOWN]))
        .group_by(days.kind, days.allocation_id)
        .having(func.sum(days.certificates) > 0)).all()
    return rows, max((r.last_day for r in rows), default=None)


def _updated_at(conn: Connection, shop: Shop, last_day: int | None) -> float | None:
    """When the shop's totals last changed: its latest issued item, looked for from the last
    day it has any (the issued-time index: a day's items at most)."""
    if last_day is None:
        return None
    return conn.execute(select(func.max(items.c.issued_at))
                        .select_from(items.join(orders, orders.c.id == items.c.order_pk))
                        .where(items.c.status == ItemStatus.ISSUED, items.c.issued_at >= last_day * DAY,
                               orders.c.shop == shop.id)).scalar()


def paused(conn: Connection, shop: Shop) -> bool:
    """Whether a monthly budget cap holds some of the shop's orders now."""
    return conn.execute(select(items.c.id).select_from(items.join(orders, orders.c.id == items.c.order_pk))
                        .where(items.c.status == ItemStatus.HELD, orders.c.shop == shop.id)
                        .limit(1)).first() is not None


def feed(conn: Connection, shop: Shop, names: Mapping[int, str], now: float) -> dict[str, Any]:
    """The shop's public impact: totals all time and this calendar month (UTC), the leading
    one first; when they last changed; whether a budget holds its orders."""
    rows, last_day = _totals(conn, shop, now)
    totals = sorted(({"kind": r.kind, "allocation_id": r.allocation_id or None, "impact": _name(r, names),
                      "quantity": int(r.quantity), "this_month": int(r.this_month)} for r in rows),
                    key=lambda t: (-t["quantity"], t["kind"], t["allocation_id"] or 0))
    return {"shop": shop.id, "updated_at": iso(_updated_at(conn, shop, last_day)),
            "paused": paused(conn, shop), "totals": totals}


def names_of(feed_: dict[str, Any], known: Mapping[int, str]) -> dict[int, str]:
    """Allocation names: Dots.eco's list, and the names it gave what the shop issued."""
    return {**known, **{t["allocation_id"]: t["impact"] for t in feed_["totals"] if t["allocation_id"]}}


def _text(value: str, name: str, limit: int = 255) -> str:
    if len(value) > limit or any(ord(c) < 32 for c in value):
        raise BadQuery(f"{name}: must be at most {limit} characters, with no control character")
    return value


def line_of(query: Mapping[str, str]) -> LineItem:
    """One product line from a query: any of the rules' match keys, price and quantity."""
    for name in ("product_id", "variant_id"):
        if query.get(name) and not _DIGITS.match(query[name]):
            raise BadQuery(f"{name}: must be a number (the store's id)")
    try:
        price = Decimal(query.get("price") or "0")
    except InvalidOperation:
        raise BadQuery("price: must be a number such as 49.00") from None
    if not price.is_finite() or not Decimal(0) <= price < MAX_PRICE:
        raise BadQuery(f"price: must be between 0 and {MAX_PRICE}")
    quantity = query.get("quantity") or "1"
    if not _DIGITS.match(quantity) or not 1 <= int(quantity) <= MAX_QUANTITY:
        raise BadQuery(f"quantity: must be a whole number from 1 to {MAX_QUANTITY}")
    return LineItem(id="1", product_id=query.get("product_id", ""), variant_id=query.get("variant_id", ""),
                    sku=_text(query.get("sku", ""), "sku"), title=_text(query.get("title", ""), "title"),
                    quantity=int(quantity), price=price)


def saying(impact: str, quantity: int) -> str:
    """"Saves 1 sea turtle" from "Save a Sea Turtle"; else "2 × Name"."""
    found = _PHRASE.match(impact)
    if not found:
        return f"{quantity} × {impact}"
    verb, thing = found.groups()
    thing = thing.lower() + ("s" if quantity != 1 and not thing.endswith("s") else "")
    return f"{verb}s {quantity} {thing}"


def earns(rules: tuple[Rule, ...], shop: Shop, query: Mapping[str, str],
          names: Mapping[int, str]) -> dict[str, Any]:
    """What one such line earns under today's rules (the same engine as orders); records nothing."""
    order = Order(shop=shop.id, order_id="storefront", order_name="", line_items=(line_of(query),))
    result = evaluate(rules, order)
    out = [{"impact": names.get(a.allocation_id) or f"allocation {a.allocation_id}",
            "allocation_id": a.allocation_id, "quantity": a.impact_qty} for a in result.allocations]
    out += [{"impact": "Eco club gift", "allocation_id": None, "quantity": o.quantity}
            for o in result.offerings]
    return {"earns": out, "text": text_of(out, "en")}


def text_of(earned: list[dict[str, Any]], lang: str) -> str:
    """What a line earns, said in `lang`: "Saves 2 sea turtles" in English, "2 × Save a Sea
    Turtle" in the others (the impact's name is Dots.eco's), numbers as the language writes them."""
    if lang == "en":
        return ", ".join(saying(e["impact"], e["quantity"]) for e in earned)
    return ", ".join(f"{i18n.number(e['quantity'], lang)} × {e['impact']}" for e in earned)


def headline(feed_: dict[str, Any], lang: str) -> str:
    """The shop's leading total, said in `lang` ("1.234 × Save a Sea Turtle"); "" for none."""
    if not feed_["totals"]:
        return ""
    lead = feed_["totals"][0]
    return f"{i18n.number(lead['quantity'], lang)} × {lead['impact']}"
