"""What an order earns: a pure function of (rules, order), shared by preview and the worker."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from fnmatch import fnmatchcase

from ..orders import LineItem, Order
from ..statuses import ItemKind
from .schema import Rule


@dataclass(frozen=True)
class Fired:
    """One rule that earned something on this order."""

    rule: str
    kind: ItemKind  # what the rule earns
    allocation_id: int | None
    impact_qty: int
    line_item_ids: tuple[str, ...]


@dataclass(frozen=True)
class Allocation:
    """One certificate to issue: every rule's quantity for an allocation, added up."""

    allocation_id: int
    impact_qty: int
    rules: tuple[str, ...]


@dataclass(frozen=True)
class Offering:
    """One eco club offering to create: a matching line item of an offering rule."""

    rule: str
    line_item_id: str
    quantity: int
    limit_allocations: tuple[int, ...]
    title: str
    recipient_name: str
    recipient_email: str
    valid_days: int | None
    send_email_on_activation_date: bool | None


@dataclass(frozen=True)
class CertFusion:
    """One CertFusion certificate: the buyer added to a list and issued, once per list."""

    rule: str
    list_id: int
    line_item_id: str
    title: str
    custom_fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Evaluation:
    fired: tuple[Fired, ...]
    allocations: tuple[Allocation, ...]
    offerings: tuple[Offering, ...] = ()
    certfusion: tuple[CertFusion, ...] = ()

    @property
    def earns_something(self) -> bool:
        return bool(self.allocations or self.offerings or self.certfusion)

    @property
    def reason(self) -> str:
        """Why nothing is issued, for an order that earns nothing."""
        if self.earns_something:
            return ""
        return "no rule matched this order" if not self.fired else "the matched rules earned 0"


def _holds(item: LineItem, globs: tuple[tuple[str, tuple[str, ...]], ...]) -> bool:
    """Every key holds, each by any of its globs (case-insensitive)."""
    return all(
        any(fnmatchcase(str(getattr(item, key)).casefold(), g.casefold()) for g in patterns)
        for key, patterns in globs
    )


def matched_items(rule: Rule, items: Iterable[LineItem]) -> list[LineItem]:
    out = []
    for item in items:
        # A gift card sale is not a sale of goods: only a rule that names it counts it.
        if item.gift_card and not (rule.match and _holds(item, rule.match)):
            continue
        if rule.match and not _holds(item, rule.match):
            continue
        if rule.exclude and _holds(item, rule.exclude):
            continue
        out.append(item)
    return out


def rule_quantity(rule: Rule, items: list[LineItem]) -> int:
    if not items:
        return 0
    if rule.per_item is not None:
        qty = sum(max(i.quantity, 0) for i in items) * rule.per_item
    elif rule.per_order is not None:
        qty = rule.per_order
    else:
        spent = sum((i.total for i in items), Decimal("0"))
        qty = max(int((spent / rule.per_amount).to_integral_value(ROUND_FLOOR)), 0)
    return min(qty, rule.max_qty) if rule.max_qty is not None else qty


def _offerings(rule: Rule, items: list[LineItem]) -> list[Offering]:
    offer = rule.offering
    assert offer is not None
    out = []
    for item in items:
        quantity = max(item.quantity, 0) * offer.per_item
        if rule.max_qty is not None:
            quantity = min(quantity, rule.max_qty)
        if quantity > 0:
            out.append(Offering(rule.name, item.id, quantity, offer.limit_allocations,
                            offer.title, item.filled_in(offer.name_property),
                            item.filled_in(offer.email_property), offer.valid_days,
                            offer.send_email_on_activation_date))
    return out


def _certfusion(rule: Rule, item: LineItem, order: Order) -> CertFusion:
    """The custom fields filled from the order and its first matching line item."""
    spec = rule.certfusion
    assert spec is not None
    values = {"title": item.title, "sku": item.sku, "quantity": str(item.quantity),
              "order_name": order.order_name, "order_id": order.order_id,
              "order_date": order.created_at[:10], "customer_name": order.customer_name,
              "email": order.email, "shop": order.shop}
    return CertFusion(rule.name, spec.list_id, item.id, item.title,
                      tuple((k, t.format(**values)[:500]) for k, t in spec.custom_fields))


def evaluate(rules: Iterable[Rule], order: Order) -> Evaluation:
    fired: list[Fired] = []
    totals: dict[int, int] = {}
    names: dict[int, list[str]] = {}
    offerings: list[Offering] = []
    certfusion: dict[int, CertFusion] = {}  # a list holds a customer once
    for rule in rules:
        items = matched_items(rule, order.line_items)
        if not items:
            continue
        if rule.certfusion is not None:
            fired.append(Fired(rule.name, ItemKind.CERTFUSION, None, 1, tuple(i.id for i in items)))
            certfusion.setdefault(rule.certfusion.list_id, _certfusion(rule, items[0], order))
            continue
        if rule.offering is not None:
            made = _offerings(rule, items)
            offerings.extend(made)
            fired.append(Fired(rule.name, ItemKind.OFFERING, None, sum(o.quantity for o in made),
                               tuple(i.id for i in items)))
            continue
        qty = rule_quantity(rule, items)
        fired.append(Fired(rule.name, ItemKind.CERTIFICATE, rule.allocation_id, qty,
                           tuple(i.id for i in items)))
        if qty > 0:
            totals[rule.allocation_id] = totals.get(rule.allocation_id, 0) + qty
            names.setdefault(rule.allocation_id, []).append(rule.name)
    allocations = tuple(
        Allocation(a, totals[a], tuple(names[a])) for a in sorted(totals)
    )
    return Evaluation(tuple(fired), allocations, tuple(offerings), tuple(certfusion.values()))
