"""Rules: errors name the file, the line and the rule; the engine is a pure function."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from certhook.orders import LineItem, Order
from certhook.rules import RulesError, evaluate, load_rules

BAD_FILES = [
    ("rules:\n  - name: Tree\n    allocation_id: 32\n    per_amount: 0\n",
     'acme.yaml:4: rule "Tree": per_amount must be > 0'),
    ("rules:\n  - name: Tree\n    allocation_id: 32\n    per_amount: -5\n",
     'acme.yaml:4: rule "Tree": per_amount must be > 0'),
    ("rules:\n  - name: Turtle\n    allocation_id: 14\n    per_item: 1\n    per_order: 1\n",
     'acme.yaml:2: rule "Turtle": needs exactly one of per_item, per_order, per_amount '
     "(has per_item, per_order)"),
    ("rules:\n  - name: Turtle\n    allocation_id: 14\n",
     'acme.yaml:2: rule "Turtle": needs exactly one of per_item, per_order, per_amount'),
    ("rules:\n  - name: Turtle\n    per_item: 1\n",
     'acme.yaml:2: rule "Turtle": allocation_id is required'),
    ("rules:\n  - name: A\n    allocation_id: 14\n    per_item: 1\n  - name: B\n    allocation_id: x\n"
     "    per_item: 1\n",
     'acme.yaml:6: rule "B": allocation_id must be a whole number'),
    ("rules:\n  - name: Turtle\n    allocation_id: 14\n    per_item: 1.5\n",
     'acme.yaml:4: rule "Turtle": per_item must be a whole number'),
    ("rules:\n  - name: Turtle\n    allocation_id: 14\n    per_item: 1\n    max_qty: 0\n",
     'acme.yaml:5: rule "Turtle": max_qty must be > 0'),
    ("rules:\n  - name: Turtle\n    match: {colour: red}\n    allocation_id: 14\n    per_item: 1\n",
     "acme.yaml:3: rule \"Turtle\": match unknown key 'colour' "
     "(use sku, product_id, variant_id, title)"),
    ("rules:\n  - name: Turtle\n    allocation_id: 14\n    per_item: 1\n"
     "    exclude:\n      sku: [1, {a: b}]\n",
     'acme.yaml:5: rule "Turtle": exclude sku must be a glob or a list of globs'),
    ("rules:\n  - name: Turtle\n    allocation_id: 14\n    per_item: 1\n    colour: green\n",
     'acme.yaml:5: rule "Turtle": colour unknown key'),
    ("rules:\n  - allocation_id: 14\n    per_item: 1\n",
     "acme.yaml:2: rule #1: name is required"),
    ("rules:\n  - name: Gift\n    match: {sku: GIFT}\n    offering:\n      per_item: 0\n",
     'acme.yaml:5: rule "Gift": offering.per_item must be > 0'),
    ("rules:\n  - name: Gift\n    allocation_id: 14\n    offering: {per_item: 5}\n",
     'acme.yaml:4: rule "Gift": offering an offering rule takes no allocation_id'),
    ("rules:\n  - name: Course\n    certfusion: {list_id: 0}\n",
     'acme.yaml:3: rule "Course": certfusion.list_id must be > 0'),
    ("rules:\n  - name: Course\n    certfusion: {list_id: 3, custom_fields: {a: '{nope}'}}\n",
     'acme.yaml:3: rule "Course": certfusion.custom_fields a: unknown placeholder {nope}'),
    ("rules:\n  - name: Both\n    offering: {per_item: 1}\n    certfusion: {list_id: 3}\n",
     'acme.yaml:3: rule "Both": offering a rule has an offering or a certfusion action, not both'),
    ("rules: {name: x}\n", "acme.yaml:1: rules must be a list"),
    ("- just a list\n", "acme.yaml:1: the file must be a mapping with a 'rules' list"),
    ("rules:\n  - name: Tree\n    per_amount: [\n", "acme.yaml:4: invalid YAML/JSON"),
    ("{}\n", "acme.yaml:1: rules is required"),
    ('{"rules": [{"name": "Tree",\n  "allocation_id": 32,\n  "per_amount": 0}]}\n',
     'acme.yaml:3: rule "Tree": per_amount must be > 0'),
]


@pytest.mark.parametrize(("text", "error"), BAD_FILES, ids=[e for _, e in BAD_FILES])
def test_bad_rules_files_name_file_line_and_rule(tmp_path: Path, text: str, error: str):
    path = tmp_path / "acme.yaml"
    path.write_text(text)
    with pytest.raises(RulesError) as caught:
        load_rules(path, shown_as="acme.yaml")
    assert any(e.startswith(error) for e in caught.value.errors), caught.value.errors


def test_every_problem_is_reported_at_once(tmp_path: Path):
    path = tmp_path / "acme.yaml"
    path.write_text("rules:\n  - name: A\n    allocation_id: 0\n    per_item: 1\n"
                    "  - name: B\n    allocation_id: 14\n    per_amount: 0\n")
    with pytest.raises(RulesError) as caught:
        load_rules(path, shown_as="rules/acme.yaml")
    assert caught.value.errors == ['rules/acme.yaml:3: rule "A": allocation_id must be > 0',
                                   'rules/acme.yaml:7: rule "B": per_amount must be > 0']


def test_json_rules_load(tmp_path: Path):
    path = tmp_path / "acme.json"
    path.write_text('{"rules": [{"name": "Tree", "allocation_id": 32, "per_amount": "25.5"}]}')
    [rule] = load_rules(path)
    assert rule.per_amount == Decimal("25.5")


def item(sku: str, qty: int = 1, price: str = "10", discount: str = "0", title: str = "",
         gift_card: bool = False, id: str = "") -> LineItem:
    return LineItem(id=id or sku, product_id="111", variant_id="222", sku=sku, title=title or sku,
                    quantity=qty, price=Decimal(price), discount=Decimal(discount), gift_card=gift_card)


def rules(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "r.yaml"
    path.write_text("rules:\n" + text)
    return load_rules(path)


def order(*items: LineItem) -> Order:
    return Order(shop="acme", order_id="1", order_name="#1", line_items=items)


def test_per_item_counts_quantities_of_matched_items(tmp_path: Path):
    r = rules(tmp_path, "  - {name: T, match: {sku: 'HOODIE-*'}, allocation_id: 14, per_item: 2}\n")
    result = evaluate(r, order(item("HOODIE-M", 3), item("hoodie-l", 1), item("MUG")))
    assert [(a.allocation_id, a.impact_qty) for a in result.allocations] == [(14, 8)]
    assert result.fired[0].line_item_ids == ("HOODIE-M", "hoodie-l")


def test_per_amount_floors_line_totals_after_discounts(tmp_path: Path):
    r = rules(tmp_path, "  - {name: Tree, allocation_id: 32, per_amount: 25}\n")
    # 2 × 30 − 10 = 50, plus 24.99: 74.99 → 2 trees
    result = evaluate(r, order(item("A", 2, "30", "10"), item("B", 1, "24.99")))
    assert result.allocations[0].impact_qty == 2


def test_per_order_once_if_anything_matched(tmp_path: Path):
    r = rules(tmp_path, "  - {name: Bee, match: {title: '*candle*'}, allocation_id: 31, per_order: 1}\n")
    assert evaluate(r, order(item("C1", 5, title="Scented Candle"), item("C2", title="candle"))
                    ).allocations[0].impact_qty == 1
    assert evaluate(r, order(item("M", title="Mug"))).allocations == ()


def test_max_qty_caps_a_rule_and_allocations_add_up(tmp_path: Path):
    r = rules(tmp_path, "  - {name: A, allocation_id: 14, per_item: 1, max_qty: 3}\n"
                        "  - {name: B, match: {sku: X}, allocation_id: 14, per_order: 2}\n"
                        "  - {name: C, allocation_id: 32, per_amount: 100}\n")
    result = evaluate(r, order(item("X", 10)))
    assert [(a.allocation_id, a.impact_qty, a.rules) for a in result.allocations] == [
        (14, 5, ("A", "B")), (32, 1, ("C",))]
    assert [f.impact_qty for f in result.fired] == [3, 2, 1]


def test_match_lists_several_keys_and_exclude(tmp_path: Path):
    r = rules(tmp_path, "  - name: T\n    match: {sku: ['A-*', 'B-*'], product_id: '111'}\n"
                        "    exclude: {title: '*sample*'}\n    allocation_id: 14\n    per_item: 1\n")
    result = evaluate(r, order(item("A-1"), item("B-1", 2), item("C-1"), item("A-2", title="Free sample")))
    assert result.allocations[0].impact_qty == 3


def test_gift_cards_count_only_for_a_rule_that_names_them(tmp_path: Path):
    r = rules(tmp_path, "  - {name: Any, allocation_id: 32, per_item: 1}\n")
    assert evaluate(r, order(item("GC", 1, gift_card=True))).allocations == ()
    named = rules(tmp_path, "  - {name: GC, match: {sku: 'GC'}, allocation_id: 32, per_item: 1}\n")
    assert evaluate(named, order(item("GC", 1, gift_card=True))).allocations[0].impact_qty == 1


def test_nothing_matched_gives_a_reason(tmp_path: Path):
    r = rules(tmp_path, "  - {name: T, match: {sku: 'HOODIE-*'}, allocation_id: 14, per_item: 1}\n")
    assert evaluate(r, order(item("MUG"))).reason == "no rule matched this order"
