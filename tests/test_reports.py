"""What the dashboard reads besides orders: what needs attention, and impact over time."""
from __future__ import annotations

from certhook import reports, tallies
from certhook.models import items, jobs, orders
from certhook.statuses import JobKind, JobStatus

DAY = 86400.0
T0 = 1_795_000_000.0  # 2026-11-18


def order(conn, pk: int, status: str = "done", created: float = T0, **values):  # type: ignore[no-untyped-def]
    conn.execute(orders.insert().values(id=pk, shop=values.pop("shop", "acme"), order_id=str(pk),
                                        order_name=f"#{pk}", status=status, shadow=False, order_json="{}",
                                        created_at=created, updated_at=created, **values))


def item(conn, order_pk: int, kind: str, qty: int, issued: float | None = T0, status: str = "issued",  # type: ignore[no-untyped-def]
         **values):
    conn.execute(items.insert().values(order_pk=order_pk, kind=kind, issuer=values.pop("issuer", "dots"),
                                       impact_qty=qty, external_unique_id=f"e-{order_pk}-{kind}-{qty}",
                                       status=status, posts=1, issued_at=issued, created_at=T0,
                                       updated_at=T0, **values))


def test_impact_totals_keep_kinds_allocations_and_lists_apart(ch):
    with ch.db.write() as conn:
        order(conn, 1)
        order(conn, 2, shop="woo")
        item(conn, 1, "certificate", 2, allocation_id=14, impact="Save a Sea Turtle")
        item(conn, 2, "certificate", 3, allocation_id=14, impact="Save a Sea Turtle")
        item(conn, 1, "offering", 10, line_item_id="2", impact="A turtle for you")
        item(conn, 1, "certfusion", 1, list_id=3, issuer="certfusion")
        item(conn, 2, "certfusion", 1, list_id=4, issuer="certfusion")
        item(conn, 2, "certificate", 1, T0 + DAY, allocation_id=32)
        item(conn, 2, "certificate", 7, None, "pending", allocation_id=31)
    with ch.db.read() as conn:
        totals = [(t.kind, t.allocation_id, t.list_id, t.impact_qty, t.certificates)
                  for t in tallies.impact_totals(conn, T0, T0 + 2 * DAY)]
        assert totals == [("certfusion", None, 3, 1, 1), ("certfusion", None, 4, 1, 1),
                          ("certificate", 14, None, 5, 2), ("certificate", 32, None, 1, 1),
                          ("offering", None, None, 10, 1)]
        assert [t.impact_qty for t in tallies.impact_totals(conn, T0, T0 + 2 * DAY, "woo")] == [1, 3, 1]
        per_day = tallies.impact_per_day(conn, T0, T0 + 2 * DAY)
        assert per_day == {int(T0 // DAY): 17, int(T0 // DAY) + 1: 1}
        rows = list(reports.issued_rows(conn, T0, T0 + DAY, "acme"))
        assert [(r.kind, r.impact_qty) for r in rows] == [("certificate", 2), ("offering", 10),
                                                          ("certfusion", 1)]


def test_attention_names_balance_credentials_and_stuck_orders(ch):
    with ch.db.write() as conn:
        assert not reports.attention(conn, T0)
        order(conn, 1, "pending", T0 - 7200)
        order(conn, 2, "failed")
        order(conn, 3, "pending", T0 - 60)
        item(conn, 3, "certificate", 1, None, "pending", allocation_id=14,
             error="Dots.eco: This application is out of balance.")
        for shop, error in (("acme", "Shopify: credentials rejected (401): Invalid API key"),
                            ("woo", "internal error: KeyError: 'nodes'")):
            conn.execute(jobs.insert().values(  # each shop's reconcile job, after its last run
                kind=JobKind.RECONCILE, ref=shop, status=JobStatus.QUEUED, run_at=T0, attempts=0,
                created_at=T0, updated_at=T0, last_error=error))
    with ch.db.read() as conn:
        seen = reports.attention(conn, T0)
    assert seen.out_of_balance and seen.stuck_orders == 2
    assert seen.credentials == ["acme: Shopify: credentials rejected (401): Invalid API key"]
    assert seen.reconciliation == ["woo: internal error: KeyError: 'nodes'"]
