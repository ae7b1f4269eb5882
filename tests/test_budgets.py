"""Monthly budgets: an item that would pass its cap is held, never failed; the dashboard warns at
warn_at; the month turns and held items are issued oldest first; a raised cap and Retry issue
what now fits."""
from __future__ import annotations

from datetime import UTC, datetime

from click.testing import CliRunner

from certhook import create_app
from certhook.cli import main

from .helpers import (
    AUTH,
    deliver,
    make_ch,
    order_of,
    order_payload,
    run_due,
    sign_in,
    start,
    write_config,
)

NOV = datetime(2026, 11, 20, 12, tzinfo=UTC).timestamp()
DEC = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
BUDGET = {"budget": {"allocations": {14: 3}, "warn_at": 0.5}}  # 3 turtles; a hoodie order earns 2


def statuses(client, order_id: int) -> tuple[str, dict[int, str]]:  # type: ignore[no-untyped-def]
    order = order_of(client, order_id)
    return order["status"], {c["allocation_id"]: c["status"] for c in order["certificates"]}


def test_a_reached_budget_holds_warns_and_waits_for_the_month(tmp_path, db_url, fake_dots, fake_shopify):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, shop=BUDGET) as (ch, client):
        ch.clock.now = NOV
        deliver(client, order_payload(order_id=1))
        run_due(ch)  # (drain would jump to the held jobs' next month)
        assert statuses(client, 1) == ("done", {14: "issued", 32: "issued"})
        sign_in(client)
        assert "monthly budget for allocation 14: 2 of 3 used" in client.get("/").text  # warn_at
        for n in (2, 3):
            ch.clock.now += 60
            deliver(client, order_payload(order_id=n))
        run_due(ch)
        for n in (2, 3):
            status, certificates = statuses(client, n)
            assert (status, certificates) == ("held", {14: "held", 32: "issued"})
        held = order_of(client, 2)
        assert held["reason"] == ("monthly budget for allocation 14 reached: 2 of 3; "
                                  "held until 2026-12-01 00:00 UTC")
        assert "2 order(s) wait for room" in client.get("/").text
        assert len(fake_dots.certificates) == 4  # 1's turtle and trees, and 2's and 3's trees
        ch.clock.now = DEC + 60  # the month turns: the oldest held order first
        run_due(ch)
        assert statuses(client, 2) == ("done", {14: "issued", 32: "issued"})
        assert statuses(client, 3)[0] == "held"  # 2 of 3 used again in December
        assert "Monthly budgets, this month" in client.get("/impact").text


def test_a_raised_cap_and_retry_issue_what_now_fits(tmp_path, db_url, fake_dots, fake_shopify):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, shop=BUDGET) as (ch, client):
        ch.clock.now = NOV
        for n in (1, 2):
            deliver(client, order_payload(order_id=n))
        run_due(ch)
        assert statuses(client, 2)[0] == "held"
        path = write_config(tmp_path, db_url, fake_dots.api_url, fake_shopify.api_url,
                            shop={"budget": {"allocations": {14: 10}}})
        raised = start(path, ch.clock)  # restarted with the higher cap
        try:
            app = create_app(ch=raised).test_client()
            assert app.post("/api/orders/acme/2/retry", headers=AUTH).status_code == 200
            run_due(raised)
            assert statuses(app, 2) == ("done", {14: "issued", 32: "issued"})
        finally:
            raised.close()
        assert sum(1 for c in fake_dots.certificates if c["allocation_id"] == "14") == 2


def test_check_names_a_budget_no_rule_can_use(tmp_path, db_url):
    path = write_config(tmp_path, db_url, "https://d/api/v1", "https://s/admin",
                        shop={"budget": {"allocations": {14: 5, 99: 5}, "offerings": 10}})
    result = CliRunner().invoke(main, ["check", "--config", str(path)])
    assert result.exit_code == 0
    said = result.stderr
    assert "shop acme: budget.allocations 99: no rule of rules/acme.yaml issues allocation 99" in said
    assert "shop acme: budget.offerings: no rule of rules/acme.yaml gives an offering" in said
    assert "allocations 14" not in said


def test_an_item_sent_before_is_never_held_by_its_own_count(tmp_path, db_url, fake_dots, fake_shopify):
    """It may exist already: it counts against the cap, and is looked up and sent again, not held."""
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, shop=BUDGET) as (ch, client):
        ch.clock.now = NOV
        fake_dots.fail_next("500")  # the turtle's first call fails: counted, in flight
        deliver(client, order_payload(order_id=1))
        run_due(ch)
        assert statuses(client, 1)[1][14] == "pending"
        ch.clock.now += 120  # past the backoff
        run_due(ch)
        assert statuses(client, 1) == ("done", {14: "issued", 32: "issued"})
