"""No order missed: reconciliation finds orders whose webhook never came; backfill fills the past."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from freezegun import freeze_time
from sqlalchemy import func, select

from certhook import create_app
from certhook.cli import main
from certhook.evaluation import external_unique_id
from certhook.models import jobs, orders, reconciliations
from certhook.reconcile import ensure_jobs, sync
from certhook.statuses import JobKind, JobStatus

from .helpers import (
    AUTH,
    allow_writes,
    deliver,
    deliver_woo,
    drain,
    fixture,
    make_ch,
    order_payload,
    refuse_writes,
    run_due,
    sign_in,
    woo_order,
)

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def status(client, shop: str, order_id: str) -> str:  # type: ignore[no-untyped-def]
    r = client.get(f"/api/orders/{shop}/{order_id}", headers=AUTH)
    return r.json["status"] if r.status_code == 200 else "unknown"


def test_orders_whose_webhooks_never_came_are_issued_by_reconciliation(client, ch, fake_dots,
                                                                      fake_shopify, fake_woo):
    ch.clock.now = None  # the wall clock, which freezegun holds
    with freeze_time(T0) as frozen:
        ensure_jobs(ch)
        run_due(ch)  # the first reconciliation of each shop: nothing yet
        fake_shopify.add_order(order_payload(order_id=6001), T0 + timedelta(minutes=2))
        fake_woo.add_order(woo_order(id=801), T0 + timedelta(minutes=3))
        frozen.move_to(T0 + timedelta(minutes=5))
        assert run_due(ch) == 0  # not due again before reconcile_minutes (10)
        assert status(client, "acme", "6001") == status(client, "woo", "801") == "unknown"
        frozen.move_to(T0 + timedelta(minutes=10, seconds=1))
        run_due(ch)
        assert status(client, "acme", "6001") == "done"
        assert status(client, "woo", "801") == "done"
    for shop, order_id, allocations in (("acme", "6001", (14, 32)), ("woo", "801", (32,))):
        for alloc in allocations:
            assert fake_dots.count_for(external_unique_id(shop, order_id, alloc)) == 1
    assert fake_shopify.value("6001") is not None
    assert len(fake_woo.customer_notes(801)) == 1
    with ch.db.read() as conn:
        states = {r.shop: r for r in conn.execute(select(reconciliations))}
    assert states["acme"].found == 1 and states["acme"].enqueued == 1
    assert reconcile_job(ch, "woo").last_error is None


def test_reconciliation_skips_what_webhooks_brought_and_other_statuses(client, ch, fake_dots, fake_woo):
    fake_woo.add_order(woo_order(id=901), T0)
    fake_woo.add_order(woo_order("processing", id=902), T0)
    deliver_woo(client, woo_order(id=901))
    summary = sync(ch, ch.shop("woo"), T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    assert (summary.found, summary.known, summary.enqueued) == (1, 1, 0)


def test_a_store_error_is_recorded_and_tried_again_next_time(ch, fake_woo):
    ch.clock.now = None
    with freeze_time(T0) as frozen:
        fake_woo.close()  # the store is down
        ensure_jobs(ch)
        run_due(ch)
        with ch.db.read() as conn:
            state = conn.execute(select(reconciliations).where(reconciliations.c.shop == "woo")).one()
        assert "connection failed" in reconcile_job(ch, "woo").last_error
        assert state.last_started_at is not None and state.last_success_at is None
        frozen.move_to(T0 + timedelta(minutes=11))
        assert run_due(ch) == 2  # both shops again: it didn't give up


def test_a_webhook_and_reconciliation_at_the_same_moment_issue_once(client, ch, fake_dots, fake_shopify):
    payload = order_payload(order_id=6101)
    fake_shopify.add_order(payload, T0)
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def webhook() -> None:
        barrier.wait()
        results["webhook"] = deliver(ch_client(), payload).json["status"]

    def reconcile() -> None:
        barrier.wait()
        results["reconcile"] = sync(ch, ch.shop("acme"), T0 - timedelta(hours=1), T0 + timedelta(hours=1))

    def ch_client():  # type: ignore[no-untyped-def]
        return create_app(ch=ch).test_client()

    threads = [threading.Thread(target=webhook), threading.Thread(target=reconcile)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    accepted = (results["webhook"] == "accepted") + results["reconcile"].enqueued  # type: ignore[attr-defined]
    assert accepted == 1
    drain(ch)
    assert len(fake_dots.certificates) == 2
    with ch.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(orders)).scalar_one() == 1


def test_one_reconciliation_per_shop_at_a_time_across_workers(ch):
    ensure_jobs(ch)
    ensure_jobs(ch)  # every process ensures them at start: still one job per shop
    claimed = [ch.queue.claim(f"process-{n}", ch.now()) for n in range(4)]
    assert sorted(j.ref for j in claimed if j) == ["acme", "woo"]
    assert claimed[2] is None and claimed[3] is None


def test_a_shop_without_api_credentials_is_not_reconciled(tmp_path, db_url, fake_dots, fake_shopify):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify,
                 shop={"mode": "shadow", "access_token": ""}) as (ch, _):
        ensure_jobs(ch)
        assert ch.queue.claim("worker", ch.now()) is None


def backfill(config_path, *args: str) -> str:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(main, ["backfill", "--config", str(config_path), *args])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_backfill_250_woocommerce_orders_then_again(config_path, client, ch, fake_dots, fake_woo):
    for n in range(250):
        fake_woo.add_order(woo_order(id=10_000 + n, number=str(10_000 + n)), T0 + timedelta(minutes=n))
    fake_woo.add_order(woo_order("processing", id=20_000), T0)
    for n in range(0, 250, 10):  # 25 came by webhook
        deliver_woo(client, woo_order(id=10_000 + n))
    args = ["--shop", "woo", "--since", "2026-11-22", "--until", "2026-11-23"]
    assert backfill(config_path, *args, "--dry-run") == "found 250, already known 25, would enqueue 225"
    assert fake_dots.posts == 0
    assert backfill(config_path, *args) == "found 250, already known 25, enqueued 225"
    assert fake_woo.lists >= 6  # 3 pages a run
    drain(ch, max_jobs=5000)
    assert len(fake_dots.certificates) == 250
    assert backfill(config_path, *args) == "found 250, already known 250, enqueued 0"
    assert client.get("/api/orders?shop=woo&status=done", headers=AUTH).json["meta"]["total"] == 250


def test_backfill_250_shopify_orders_paginated(config_path, client, ch, fake_dots, fake_shopify):
    fake_shopify.restore_rate = 2000.0  # a large plan: this test is about pages, not the bucket
    for n in range(250):
        fake_shopify.add_order(order_payload(order_id=30_000 + n), T0 + timedelta(seconds=n))
    fake_shopify.add_order({**fixture("shopify/orders_paid__test_notification.json"),
                            "financial_status": "paid"}, T0)
    fake_shopify.add_order(order_payload(order_id=39_999, financial_status="pending"), T0)
    args = ["--shop", "acme", "--since", "2026-11-22T09:00:00", "--until", "2026-11-22T12:00:00Z"]
    assert backfill(config_path, *args, "--dry-run") == "found 250, already known 0, would enqueue 250"
    with ch.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(orders)).scalar_one() == 0
    assert backfill(config_path, *args) == "found 250, already known 0, enqueued 250"
    assert fake_shopify.queries.count("query certhookPaidOrders") == 6  # 3 pages a run
    assert backfill(config_path, *args) == "found 250, already known 250, enqueued 0"
    drain(ch, max_jobs=5000)
    assert len(fake_dots.certificates) == 500


def test_backfill_rejects_bad_dates_and_unknown_shops(config_path):
    runner = CliRunner()
    bad = runner.invoke(main, ["backfill", "--config", str(config_path), "--shop", "woo", "--since", "soon"])
    assert bad.exit_code == 2 and "is not a date" in bad.output
    unknown = runner.invoke(main, ["backfill", "--config", str(config_path), "--shop", "x", "--since",
                                   "2026-01-01"])
    assert unknown.exit_code == 1


def acme_state(ch):  # type: ignore[no-untyped-def]
    with ch.db.read() as conn:
        return conn.execute(select(reconciliations).where(reconciliations.c.shop == "acme")).one()


def reconcile_job(ch, shop: str):  # type: ignore[no-untyped-def]
    with ch.db.read() as conn:
        return conn.execute(select(jobs).where(jobs.c.kind == JobKind.RECONCILE,
                                               jobs.c.ref == shop)).one()


def acme_job(ch):  # type: ignore[no-untyped-def]
    return reconcile_job(ch, "acme")


def test_a_crashed_reconciliation_is_rescheduled_recorded_and_shown(client, ch, fake_shopify):
    sign_in(client)
    ensure_jobs(ch)
    fake_shopify.fail_next("shape")  # an answer certhook cannot read: a crash, not an API error
    run_due(ch)
    state, job = acme_state(ch), acme_job(ch)
    assert job.last_error.startswith("internal error: ") and state.last_success_at is None
    assert (job.status, job.run_at) == (JobStatus.QUEUED, ch.now() + 10 * 60)
    page = client.get("/").text
    assert "Reconciliation" in page and "acme" in page and "internal error" in page
    ch.clock.now += 10 * 60
    run_due(ch)  # the next run works: the error is gone from the dashboard
    assert acme_job(ch).last_error is None
    assert "Reconciliation" not in client.get("/").text


def test_a_reconcile_job_that_keeps_crashing_never_fails_for_good(client, ch):
    """Past max_attempts it waits the longest delay and comes back, its error shown."""
    ensure_jobs(ch)
    refuse_writes(ch, "reconciliations")  # its own record of the run cannot be written
    for _ in range(ch.settings.max_attempts + 2):
        run_due(ch)
        job = acme_job(ch)
        assert job.status == JobStatus.QUEUED and job.last_error.startswith("internal error")
        ch.clock.now = job.run_at
    assert job.attempts == ch.settings.max_attempts - 1  # the last would fail: it waits instead
    assert job.run_at - ch.now() <= ch.settings.retry_max_seconds
    allow_writes(ch, "reconciliations")
    run_due(ch)
    job = acme_job(ch)
    assert acme_state(ch).last_success_at is not None
    assert job.last_error is None and job.attempts == 0
