"""certhook preview --since: the recorded orders replayed through today's rules and a
candidate's. It calls nothing and writes nothing."""
from __future__ import annotations

import json
from datetime import UTC, datetime

from click.testing import CliRunner
from sqlalchemy import func, select

from certhook.cli import main
from certhook.models import events, jobs, orders

from .helpers import deliver, order_payload

CANDIDATE = """\
rules:
  - name: Three turtles a hoodie
    match: {sku: "HOODIE-*"}
    allocation_id: 14
    per_item: 3
  - name: A tree for every 20 spent
    allocation_id: 32
    per_amount: 20
  - name: A course with every mug
    match: {sku: "MUG-*"}
    certfusion: {list_id: 3}
"""


def counts(ch) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    with ch.db.read() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar_one()
                     for t in (orders, jobs, events))


def preview(config_path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["preview", "--config", str(config_path), "--shop", "acme", *args])


def test_a_candidate_rules_file_against_the_recorded_orders(config_path, client, ch, fake_dots,
                                                          fake_shopify, tmp_path):
    for n in (1, 2, 3):
        deliver(client, order_payload(order_id=n))
    deliver(client, order_payload(order_id=3, cancelled_at="2026-11-22T10:00:00Z"),
            topic="orders/cancelled")  # left out: it issues nothing
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(CANDIDATE)
    before, calls = counts(ch), (fake_dots.posts, fake_dots.gets, len(fake_shopify.queries))
    today = datetime.fromtimestamp(ch.now(), UTC).date().isoformat()
    result = preview(config_path, "--since", today, "--until", today, "--rules", str(candidate), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "shop": "acme", "since": today, "until": today, "orders": 2, "totals": [
            {"kind": "certificate", "allocation_id": 14, "current_qty": 4, "candidate_qty": 12},
            {"kind": "certificate", "allocation_id": 32, "current_qty": 4, "candidate_qty": 6},
            {"kind": "certfusion", "list_id": 3, "current_qty": 0, "candidate_qty": 2}]}
    assert counts(ch) == before
    assert (fake_dots.posts, fake_dots.gets, len(fake_shopify.queries)) == calls
    text = preview(config_path, "--since", today, "--rules", str(candidate))
    assert text.exit_code == 0 and "2 order(s)" in text.output and "allocation 14" in text.output


def test_a_window_with_no_orders_and_the_default_rules(config_path, ch):
    result = preview(config_path, "--since", "2020-01-01", "--until", "2020-01-31", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["orders"] == 0 and json.loads(result.output)["totals"] == []


def test_a_broken_candidate_stops_it_with_file_and_line(config_path, ch, tmp_path):
    candidate = tmp_path / "broken.yaml"
    candidate.write_text("rules:\n  - name: Tree\n    allocation_id: 32\n    per_amount: 0\n")
    result = preview(config_path, "--since", "2026-11-01", "--rules", str(candidate))
    assert result.exit_code == 1
    assert f'{candidate}:4: rule "Tree": per_amount must be > 0' in result.output


def test_preview_needs_an_order_file_or_a_window(config_path, ch):
    result = preview(config_path)
    assert result.exit_code == 2 and "ORDER_FILE" in result.output
