"""/healthz writes to the database and names silent processes; /metrics counts from the database."""
from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from certhook import create_app
from certhook.models import processes
from certhook.reconcile import ensure_jobs

from .helpers import (
    allow_writes,
    deliver,
    drain,
    make_ch,
    order_payload,
    refuse_writes,
    run_due,
    signed_shopify,
)

METRICS_TOKEN = "metrics-token-0123456789"
BEARER = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def test_healthz_is_ok_when_the_database_takes_a_write(client):
    assert client.get("/healthz").json == {
        "status": "ok", "database": "ok", "processes": {"alive": 0, "heartbeat_stopped": []}}


def test_healthz_fails_when_the_database_takes_no_write(client, ch):
    refuse_writes(ch, "health")  # reads still work: a full disk
    r = client.get("/healthz")
    assert r.status_code == 503 and r.json["status"] == "database unavailable"
    allow_writes(ch, "health")
    assert client.get("/healthz").status_code == 200


def test_healthz_names_processes_whose_heartbeat_stopped(client, ch):
    now = ch.now()
    with ch.db.write() as conn:
        conn.execute(insert(processes), [
            {"id": "web-1:4242:abcdef", "host": "web-1", "pid": 4242, "role": "worker",
             "started_at": now - 600, "heartbeat_at": now - ch.settings.lease_seconds - 1},
            {"id": "web-2:77:123456", "host": "web-2", "pid": 77, "role": "serve",
             "started_at": now - 600, "heartbeat_at": now - 2},
        ])
    body = client.get("/healthz").json
    assert client.get("/healthz").status_code == 200  # the web still answers: say, don't fail
    assert body["status"] == "degraded"
    assert body["processes"]["alive"] == 1
    [silent] = body["processes"]["heartbeat_stopped"]
    assert (silent["id"], silent["role"]) == ("web-1:4242:abcdef", "worker")
    assert silent["last_heartbeat"].endswith("Z")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.fixture
def metered(tmp_path: Path, db_url, fake_dots, fake_shopify):  # type: ignore[no-untyped-def]
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, metrics_token=METRICS_TOKEN) as pair:
        yield pair


def test_metrics_after_a_known_sequence_of_orders(metered, fake_dots):
    ch, client = metered
    ensure_jobs(ch)
    run_due(ch)                                                   # the shop's first reconciliation
    reconciled_at = ch.now()
    ch.clock.now += 5
    deliver(client, order_payload(order_id=3001))                 # done: 2 certificates
    deliver(client, order_payload(order_id=3001))                 # duplicate
    deliver(client, order_payload(order_id=3002, line_items=[]))  # skipped: earns nothing
    deliver(client, order_payload(order_id=3003, test=True))      # ignored: a test order
    drain(ch)
    fake_dots.out_of_balance = True
    deliver(client, order_payload(order_id=3004))                 # pending: out of balance
    run_due(ch)                                                   # evaluate, then one try
    ch.clock.now += 61                                            # past the wait (cap 60)
    r = client.get("/metrics", headers=BEARER)
    assert r.status_code == 200 and r.mimetype == "text/plain"
    got = samples(r.text)

    def value(name: str, **labels: str) -> float:
        return got[(name, tuple(sorted(labels.items())))]

    assert value("certhook_orders", shop="acme", status="done") == 1
    assert value("certhook_orders", shop="acme", status="skipped") == 1
    assert value("certhook_orders", shop="acme", status="pending") == 1
    assert value("certhook_orders", shop="acme", status="failed") == 0
    assert value("certhook_items", issuer="dots", kind="certificate", status="issued") == 2
    assert value("certhook_items", issuer="dots", kind="certificate", status="pending") == 2
    assert value("certhook_items", issuer="dots", kind="offering", status="issued") == 0
    assert value("certhook_webhooks_received_total", shop="acme", outcome="accepted") == 3
    assert value("certhook_webhooks_received_total", shop="acme", outcome="duplicate") == 1
    assert value("certhook_webhooks_received_total", shop="acme", outcome="ignored") == 1
    assert value("certhook_jobs_due") == 1  # 3004's issue job, due a second ago
    assert value("certhook_oldest_due_job_age_seconds") == pytest.approx(1, abs=0.01)
    assert value("certhook_out_of_balance", issuer="dots") == 1
    fake_dots.out_of_balance = False
    drain(ch)
    got = samples(client.get("/metrics", headers=BEARER).text)
    assert value("certhook_out_of_balance", issuer="dots") == 0
    assert value("certhook_orders", shop="acme", status="done") == 2
    assert value("certhook_jobs_due") == 0 and value("certhook_oldest_due_job_age_seconds") == 0
    assert value("certhook_reconcile_last_success_timestamp_seconds", shop="acme") == reconciled_at


def test_every_process_answers_the_same_metrics(metered, tmp_path: Path):
    ch, client = metered
    deliver(client, order_payload(order_id=3101))
    deliver(client, order_payload(order_id=3102))
    drain(ch)
    other = create_app(tmp_path / "certhook.yaml").test_client()  # another process's app
    try:
        assert samples(other.get("/metrics", headers=BEARER).text) == samples(
            client.get("/metrics", headers=BEARER).text)
    finally:
        other.application.extensions["certhook"].close()


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": METRICS_TOKEN}])
def test_metrics_need_the_token(metered, headers):
    _, client = metered
    assert client.get("/metrics", headers=headers).status_code == 401


def test_wrong_metrics_tokens_are_throttled_and_counted(metered):
    ch, client = metered
    wrong = {"Authorization": "Bearer wrong-metrics-token"}
    assert [client.get("/metrics", headers=wrong).status_code for _ in range(4)] == [401, 401, 401, 429]
    r = client.get("/metrics", headers=BEARER)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1  # a guess must wait too
    assert client.get("/api/orders", headers=wrong).status_code == 401  # the API counts on its own
    ch.clock.now += 2
    got = samples(client.get("/metrics", headers=BEARER).text)
    assert {labels: v for (name, labels), v in got.items() if name == "certhook_auth_failures_total"} == {
        (("surface", "api"),): 1, (("surface", "dashboard"),): 0, (("surface", "metrics"),): 3}


def test_metrics_are_not_served_without_a_token_set(client):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers=BEARER).status_code == 404


def test_a_rejected_webhook_is_not_counted(metered):
    _, client = metered
    body, headers = signed_shopify(order_payload(order_id=3201))
    headers["X-Shopify-Hmac-Sha256"] = "forged"
    assert client.post("/webhooks/shopify", data=body, headers=headers).status_code == 401
    got = samples(client.get("/metrics", headers=BEARER).text)
    assert sum(v for (name, _), v in got.items() if name == "certhook_webhooks_received_total") == 0
