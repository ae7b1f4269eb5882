"""The counts and daily totals the triggers keep agree with counting the rows, after any mix of
inserts, status changes and deletes, on SQLite and PostgreSQL."""
from __future__ import annotations

import random

from click.testing import CliRunner
from sqlalchemy import delete, func, select, update

from certhook.cli import main
from certhook.models import items, orders
from certhook.tallies import count_orders, impact_days, impact_per_day, impact_totals, order_counts
from tests.test_reports import DAY, T0

STATUSES = ["pending", "held", "done", "skipped", "cancelled", "failed"]
ITEM_STATUSES = ["pending", "issued", "failed", "cancelled"]


def counted(conn, shop=None, status=None):  # type: ignore[no-untyped-def]
    where = ([orders.c.shop == shop] if shop else []) + ([orders.c.status == status] if status else [])
    return conn.execute(select(func.count()).select_from(orders).where(*where)).scalar_one()


def summed(conn, since, until):  # type: ignore[no-untyped-def]
    rows = conn.execute(select(items.c.kind, items.c.allocation_id, func.sum(items.c.impact_qty),
                               func.count()).where(items.c.status == "issued", items.c.issued_at >= since,
                                                   items.c.issued_at < until)
                        .group_by(items.c.kind, items.c.allocation_id)).all()
    return sorted((k, a, int(q), n) for k, a, q, n in rows)


def mix(conn, rng: random.Random, step: int) -> None:  # type: ignore[no-untyped-def]
    """One random change: a new order with items, a status change, an item issued, or a prune."""
    move = rng.random()
    if move < 0.4:
        pk = conn.execute(orders.insert().values(
            shop=rng.choice(["acme", "woo"]), order_id=str(step), order_name=f"#{step}",
            status=rng.choice(STATUSES), shadow=False, order_json="{}", created_at=T0,
            updated_at=T0)).inserted_primary_key[0]
        for n in range(rng.randint(0, 3)):
            status = rng.choice(ITEM_STATUSES)
            conn.execute(items.insert().values(
                order_pk=pk, kind=rng.choice(["certificate", "offering"]), issuer="dots",
                allocation_id=rng.choice([14, 32]), impact_qty=rng.randint(1, 5), impact="Plant a Tree",
                external_unique_id=f"e-{step}-{n}", status=status, posts=1,
                issued_at=T0 + rng.randint(0, 3) * DAY if status == "issued" else None,
                created_at=T0, updated_at=T0))
    elif move < 0.7:
        conn.execute(update(orders).where(orders.c.id == rng.randint(1, step + 1))
                     .values(status=rng.choice(STATUSES)))
    elif move < 0.9:
        conn.execute(update(items).where(items.c.id == rng.randint(1, 2 * step + 1))
                     .values(status="issued", issued_at=T0 + rng.randint(0, 3) * DAY,
                             impact_qty=rng.randint(1, 5)))
    else:
        pk = rng.randint(1, step + 1)
        conn.execute(delete(items).where(items.c.order_pk == pk))
        conn.execute(delete(orders).where(orders.c.id == pk))


def test_the_tallies_agree_with_the_rows_after_any_changes(ch):
    rng = random.Random(20261127)
    for step in range(300):
        with ch.db.write() as conn:
            mix(conn, rng, step)
    with ch.db.read() as conn:
        assert count_orders(conn) == counted(conn) > 0
        for shop in ("acme", "woo"):
            assert count_orders(conn, shop) == counted(conn, shop)
            for status in STATUSES:
                assert count_orders(conn, shop, [status]) == counted(conn, shop, status)
        assert count_orders(conn, statuses=["failed", "done"]) == counted(conn, None, "failed") + \
            counted(conn, None, "done")
        midnight = T0 // DAY * DAY  # the totals are whole UTC days
        for since, until in ((midnight, midnight + 4 * DAY), (midnight + DAY, midnight + 3 * DAY)):
            kept = sorted((t.kind, t.allocation_id, int(t.impact_qty), int(t.certificates))
                          for t in impact_totals(conn, since, until))
            assert kept == summed(conn, since, until) != []
            assert sum(impact_per_day(conn, since, until).values()) == sum(q for *_, q, _ in kept)


def test_recount_finds_what_drifted_and_repairs_it(ch, config_path):
    """A count edited by hand (as a restore of one table alone would leave it): `certhook
    recount` names each difference, exits 1 and rebuilds; run again, it finds nothing."""
    rng = random.Random(20261205)
    for step in range(120):
        with ch.db.write() as conn:
            mix(conn, rng, step)
    with ch.db.write() as conn:
        shop, status, slot = conn.execute(select(order_counts.c.shop, order_counts.c.status,
                                                 order_counts.c.slot).limit(1)).one()
        true_count = counted(conn, shop, status)
        conn.execute(update(order_counts).where(order_counts.c.shop == shop, order_counts.c.status == status,
                                                order_counts.c.slot == slot)
                     .values(orders=order_counts.c.orders + 5))
        conn.execute(delete(impact_days).where(impact_days.c.allocation_id == 14))
        conn.execute(order_counts.insert().values(shop="gone", status="done", slot=0, orders=3))
    result = CliRunner().invoke(main, ["recount", "--config", str(config_path)])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert f"orders {shop}/{status}: kept {true_count + 5}, counted {true_count}" in lines
    assert "orders gone/done: kept 3, counted 0" in lines
    assert any(line.startswith("impact ") and " allocation 14: kept 0 in 0, counted " in line
               for line in lines)
    assert lines[-1] == f"rebuilt: {len(lines) - 1} count(s) had drifted"
    with ch.db.read() as conn:
        assert count_orders(conn, shop, [status]) == true_count and count_orders(conn, "gone") == 0
        midnight = T0 // DAY * DAY
        kept = sorted((t.kind, t.allocation_id, int(t.impact_qty), int(t.certificates))
                      for t in impact_totals(conn, midnight, midnight + 4 * DAY))
        assert kept == summed(conn, midnight, midnight + 4 * DAY) != []
    again = CliRunner().invoke(main, ["recount", "--config", str(config_path)])
    assert (again.exit_code, again.output) == (0, "ok: nothing had drifted\n")
