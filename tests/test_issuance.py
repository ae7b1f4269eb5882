"""The issue job: one certificate per (order, allocation), whatever happens on the way."""
from __future__ import annotations

import threading

from sqlalchemy import select

from certhook import pipeline
from certhook.evaluation import external_unique_id
from certhook.issuers import dots
from certhook.models import items, jobs, orders

from .helpers import AUTH, deliver, drain, make_ch, order_of, order_payload


def assert_once(fake_dots, order_id: int = 5551234) -> None:  # type: ignore[no-untyped-def]
    for alloc in (14, 32):
        assert fake_dots.count_for(external_unique_id("acme", str(order_id), alloc)) == 1
    assert len(fake_dots.certificates) == 2


def test_a_paid_order_gets_its_certificates_and_they_are_written_back(client, ch, fake_dots, fake_shopify):
    assert deliver(client, order_payload()).json == {"status": "accepted"}
    drain(ch)
    assert_once(fake_dots)
    order = order_of(client)
    assert order["status"] == "done"
    assert order["writeback"] == {"status": "done", "error": None}
    certs = {c["allocation_id"]: c for c in order["certificates"]}
    assert certs[14]["impact_qty"] == 2 and certs[32]["impact_qty"] == 2
    assert all(c["status"] == "issued" and c["certificate_url"].startswith(fake_dots.url)
               for c in certs.values())
    sent = {r["allocation_id"]: r for r in fake_dots.requests}
    assert sent[14]["certificate_info"] == "5551234"
    assert sent[14]["remote_user_id"] == "207119551"
    assert sent[14]["name_on_certificate"] == "Ana Núñez"
    written = fake_shopify.value("5551234")
    assert [(w["certificate_id"], w["url"], w["quantity"]) for w in written] == [
        (certs[a]["certificate_id"], certs[a]["certificate_url"], 2) for a in (14, 32)]
    assert written[0]["impact"] == "Save a Sea Turtle"
    assert fake_shopify.value("5551234", "customer_url") == order["customer_url"]
    assert all(w["customer_url"] == order["customer_url"] for w in written)
    assert fake_dots.gets == 0  # nothing failed, so nothing needed looking up


def test_ten_concurrent_deliveries_issue_once(app, ch, fake_dots):
    answers: list[str] = []
    barrier = threading.Barrier(10)

    def post() -> None:
        client = app.test_client()
        barrier.wait()
        answers.append(deliver(client, order_payload()).json["status"])

    threads = [threading.Thread(target=post) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == ["accepted"] + ["duplicate"] * 9
    drain(ch)
    assert_once(fake_dots)
    with ch.db.read() as conn:
        assert len(conn.execute(select(orders)).all()) == 1
        assert len(conn.execute(select(items)).all()) == 2


def test_first_three_posts_answer_500(client, ch, fake_dots):
    fake_dots.fail_next("500", "500", "500")
    deliver(client, order_payload())
    drain(ch)
    assert_once(fake_dots)
    assert fake_dots.posts == 5  # 3 failures, then one success per allocation
    assert order_of(client)["status"] == "done"


def test_connection_drops_after_the_provider_created_it(client, ch, fake_dots):
    fake_dots.fail_next("drop")
    deliver(client, order_payload())
    drain(ch)
    assert_once(fake_dots)
    assert fake_dots.posts == 2  # the dropped one was adopted by a lookup, never posted again
    assert fake_dots.gets >= 1
    order = order_of(client)
    assert order["status"] == "done"
    assert {c["certificate_id"] for c in order["certificates"]} == {
        c["certificate_id"] for c in fake_dots.certificates}


def test_an_answer_without_a_certificate_is_looked_up_not_recorded_as_issued(client, ch, fake_dots,
                                                                              fake_shopify):
    fake_dots.fail_next("empty")  # created, then answered 200 with no certificate id or URL
    deliver(client, order_payload())
    pipeline.worker(ch, 1).run_one()  # evaluate
    pipeline.worker(ch, 1).run_one()  # issue: one answer empty
    empty = next(c for c in order_of(client)["certificates"] if c["allocation_id"] == 14)
    assert empty["status"] == "pending" and empty["certificate_url"] is None
    assert "names no certificate" in empty["error"]
    drain(ch)
    assert_once(fake_dots)
    assert fake_dots.posts == 2 and fake_dots.gets == 1  # found by its external id
    written = fake_shopify.value("5551234")
    assert all(w["url"] and w["certificate_id"] for w in written)


def test_already_exists_is_adopted(client, ch, fake_dots):
    eid = external_unique_id("acme", "5551234", 14)
    status, made = fake_dots.create({"app_token": "6-c2b4554f", "impact_qty": 2, "allocation_id": 14,
                                     "remote_user_id": "207119551", "external_unique_id": eid})
    assert status == 200
    deliver(client, order_payload())
    drain(ch)
    assert_once(fake_dots)
    assert order_of(client)["certificates"][0]["certificate_id"] == made["certificate_id"]


def test_out_of_balance_waits_then_issues(client, ch, fake_dots):
    fake_dots.out_of_balance = True
    deliver(client, order_payload())
    for _ in range(3):  # the evaluation, then one try of the order's certificates (both 429)
        pipeline.worker(ch, 1).run_one()
    order = order_of(client)
    assert order["status"] == "pending"
    assert all("out of balance" in (c["error"] or "") for c in order["certificates"])
    assert all(c["status"] == "pending" for c in order["certificates"])
    for _ in range(20):  # still out of balance: it keeps waiting, and never fails
        ch.clock.now += ch.settings.retry_max_seconds
        pipeline.worker(ch, 1).run_one()
    assert order_of(client)["status"] == "pending"
    with ch.db.read() as conn:
        assert conn.execute(select(jobs.c.attempts).where(jobs.c.kind == "issue")).scalar() == 0
    fake_dots.out_of_balance = False
    drain(ch)
    assert_once(fake_dots)
    assert order_of(client)["status"] == "done"


def test_a_rejected_allocation_fails_with_the_message_after_one_post(tmp_path, db_url, fake_dots,
                                                                     fake_shopify):
    bad_rules = "rules:\n  - name: Foreign\n    allocation_id: 99\n    per_order: 1\n"
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, rules=bad_rules) as (ch, client):
        deliver(client, order_payload())
        drain(ch)
        order = order_of(client)
        assert order["status"] == "failed"
        [cert] = order["certificates"]
        assert cert["status"] == "failed"
        assert "Given allocation can not be used with your application." in cert["error"]
        assert fake_dots.posts == 1
        assert len(fake_dots.certificates) == 0


def test_transient_errors_fail_after_max_attempts_and_retry_recovers(client, ch, fake_dots):
    fake_dots.fail_next(*["500"] * ch.settings.max_attempts * 2)
    deliver(client, order_payload())
    drain(ch)
    order = order_of(client)
    assert order["status"] == "failed"
    assert all(c["status"] == "failed" and "Server Error" in c["error"] for c in order["certificates"])
    assert fake_dots.posts == ch.settings.max_attempts * 2
    fake_dots.faults.clear()
    r = client.post("/api/orders/acme/5551234/retry", headers=AUTH)
    assert r.status_code == 200 and r.json["retried"] == 2
    drain(ch)
    assert_once(fake_dots)
    assert order_of(client)["status"] == "done"


def test_limits_and_unicode_names(client, ch, fake_dots):
    long_name = "Zoë Ørsted-" + "Ł" * 300
    payload = order_payload(customer={"id": None, "first_name": long_name, "last_name": ""},
                            email="not an email")
    deliver(client, payload)
    drain(ch)
    assert_once(fake_dots)
    sent = fake_dots.requests[0]
    assert len(sent["name_on_certificate"]) == 255 and sent["name_on_certificate"].startswith("Zoë")
    assert "remote_user_email" not in sent
    assert sent["remote_user_id"] == "not an email"[:191]


def test_a_guest_is_known_by_email(client, ch, fake_dots):
    deliver(client, order_payload(customer=None, email="guest@example.com"))
    drain(ch)
    assert fake_dots.requests[0]["remote_user_id"] == "guest@example.com"
    assert fake_dots.requests[0]["remote_user_email"] == "guest@example.com"


def test_an_issue_job_that_keeps_crashing_fails_its_items_and_retry_takes_them_up(
        client, ch, fake_dots, monkeypatch):
    real = dots.Certificates.create_one
    monkeypatch.setattr(dots.Certificates, "create_one", lambda self, item: 1 / 0)
    deliver(client, order_payload())
    drain(ch)
    order = order_of(client)
    assert order["status"] == "failed"
    assert all("ZeroDivisionError" in c["error"] and c["status"] == "failed"
               for c in order["certificates"])
    monkeypatch.setattr(dots.Certificates, "create_one", real)
    client.post("/api/orders/acme/5551234/retry", headers=AUTH)
    drain(ch)
    assert order_of(client)["status"] == "done"
    assert_once(fake_dots)
