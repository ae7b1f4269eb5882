"""Alembic creates the schema the models describe, and upgrades a database with data in it."""
from __future__ import annotations

import json

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, select, text

from certhook import create_app
from certhook.context import build
from certhook.db import MIGRATIONS, Database
from certhook.models import items, jobs, metadata, orders
from certhook.settings import load_settings
from certhook.tallies import count_orders, impact_totals

from .helpers import csrf, deliver, drain, order_of, order_payload, run_due, start, write_config
from .test_shopify_app import app_shop


def test_the_migrated_schema_matches_the_models(db_url):
    db = Database(db_url)
    db.upgrade()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    db.dispose()
    assert diff == []


def test_upgrading_from_0002_fills_the_new_columns(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        conn.execute(text(
            "INSERT INTO orders (shop, order_id, order_name, status, shadow, order_json, created_at, "
            "updated_at) VALUES ('acme', '1', '#1', 'done', 0, :j, 1, 1)"),
            {"j": json.dumps({"email": "Ana@Example.com", "customer_name": "Ana"})})
    engine.dispose()
    db = Database(url)
    db.upgrade()
    with db.read() as conn:
        row = conn.execute(select(orders.c.email, orders.c.customer_name)).one()
    db.dispose()
    assert (row.email, row.customer_name) == ("ana@example.com", "Ana")


def test_upgrading_from_0004_keeps_work_in_flight(tmp_path):
    """Items, their old jobs and a CertFusion list id in allocation_id, carried over to 0005."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    order = {"shop": "acme", "order_id": "7", "email": "ana@example.com", "customer_name": "Ana",
             "customer_id": "", "currency": "EUR"}
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004")
        conn.execute(text(
            "INSERT INTO orders (id, shop, order_id, order_name, status, shadow, order_json, created_at, "
            "updated_at) VALUES (1, 'acme', '7', '#7', 'pending', 0, :j, 1, 1)"), {"j": json.dumps(order)})
        for pk, kind, alloc, status in ((1, "certificate", 14, "pending"), (2, "certfusion", 3, "pending"),
                                        (3, "offering", 0, "issued")):
            conn.execute(text(
                "INSERT INTO certificates (id, order_pk, kind, issuer, allocation_id, impact_qty, rules, "
                "external_unique_id, status, posts, created_at, updated_at, line_item_id) VALUES "
                "(:pk, 1, :kind, 'dots', :alloc, 2, '[]', :eid, :status, 1, 1, 1, '')"),
                {"pk": pk, "kind": kind, "alloc": alloc, "eid": f"certhook_acme_7_{pk}", "status": status})
        for kind, ref in (("certificate", "1"), ("certfusion", "1"), ("order", "1")):
            conn.execute(text("INSERT INTO jobs (kind, ref, status, run_at, attempts, created_at, "
                              "updated_at) VALUES (:kind, :ref, 'queued', 1, 3, 1, 1)"),
                         {"kind": kind, "ref": ref})
    engine.dispose()
    db = Database(url)
    db.upgrade()
    with db.read() as conn:
        rows = {r.id: r for r in conn.execute(select(items))}
        kinds = sorted((j.kind, j.ref, j.status) for j in conn.execute(select(jobs)))
    db.dispose()
    assert (rows[2].list_id, rows[2].allocation_id) == (3, None)
    assert rows[3].allocation_id is None and rows[3].request_json is None
    assert json.loads(rows[1].request_json) == {
        "external_unique_id": "certhook_acme_7_1", "impact_qty": 2, "allocation_id": 14,
        "remote_user_id": "ana@example.com", "certificate_info": "7", "name_on_certificate": "Ana",
        "remote_user_email": "ana@example.com", "currency": "EUR"}
    assert kinds == [("evaluate", "1", "queued"), ("issue", "1", "queued")]


def test_a_database_from_the_first_migration_upgrades_and_everything_still_reads(tmp_path):
    """Orders and certificates written at 0001 and a timeline at 0003, upgraded to head: the
    API, the order's page, the counts and the impact totals (backfilled by 0010) read them."""
    url = f"sqlite:///{tmp_path / 'certhook.db'}"
    engine = create_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    order = {"shop": "acme", "order_id": "", "order_name": "", "currency": "EUR", "email": "ana@example.com",
             "customer_id": "", "customer_name": "Ana", "test": False, "line_items": [], "created_at": ""}
    day = 1_795_000_000.0
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        for pk, status in ((1, "done"), (2, "pending"), (3, "failed")):
            conn.execute(text(
                "INSERT INTO orders (id, shop, order_id, order_name, status, shadow, order_json, created_at, "
                "updated_at) VALUES (:pk, 'acme', :oid, :name, :status, 0, :j, :t, :t)"),
                {"pk": pk, "oid": str(pk), "name": f"#{pk}", "status": status, "t": day,
                 "j": json.dumps({**order, "order_id": str(pk), "order_name": f"#{pk}"})})
        for alloc in (14, 32):
            conn.execute(text(
                "INSERT INTO certificates (order_pk, kind, issuer, allocation_id, impact_qty, rules, impact, "
                "external_unique_id, status, posts, certificate_id, certificate_url, created_at, updated_at) "
                "VALUES (1, 'certificate', 'dots', :a, 2, '[]', 'Plant a Tree', :eid, 'issued', 1, :cid, "
                ":url, :t, :t)"),
                {"a": alloc, "eid": f"certhook_acme_1_{alloc}", "cid": f"{alloc}-6-5", "t": day,
                 "url": f"https://impact.dots.eco/certificate/{alloc}"})
        command.upgrade(cfg, "0003")  # the first with timelines
        conn.execute(text("INSERT INTO events (order_pk, at, kind, detail) VALUES "
                          "(1, :t, 'issued', 'certificate 14-6-5 issued')"), {"t": day})
    engine.dispose()
    (tmp_path / "rules.yaml").write_text("rules: []\n")
    (tmp_path / "certhook.yaml").write_text(json.dumps({
        "database_url": url, "secret_key": "s" * 16, "admin_token": "t" * 16,
        "shops": [{"id": "acme", "platform": "shopify", "domain": "acme.myshopify.com",
                   "webhook_secret": "w" * 16, "rules": "rules.yaml", "mode": "shadow"}]}))
    ch = build(load_settings(tmp_path / "certhook.yaml"))
    try:
        ch.db.upgrade()
        client = create_app(ch=ch).test_client()
        bearer = {"Authorization": "Bearer " + "t" * 16}
        listed = client.get("/api/orders", headers=bearer).json
        assert listed["meta"]["total"] == 3 and [o["order_id"] for o in listed["data"]] == ["3", "2", "1"]
        one = client.get("/api/orders/acme/1", headers=bearer).json
        assert [c["certificate_id"] for c in one["certificates"]] == ["14-6-5", "32-6-5"]
        assert one["customer"] == {"name": "Ana", "email": "ana@example.com"}
        client.post("/login", data={"token": "t" * 16, "csrf_token": csrf(client)})
        assert "certificate 14-6-5 issued" in client.get("/orders/acme/1").text
        with ch.db.read() as conn:
            assert count_orders(conn, "acme", ["failed"]) == 1
            totals = impact_totals(conn, day // 86400 * 86400, day // 86400 * 86400 + 86400)
        assert [(t.allocation_id, t.impact_qty, t.certificates) for t in totals] == [(14, 2, 1), (32, 2, 1)]
    finally:
        ch.close()


def test_a_shop_at_0011_moves_to_a_dev_dashboard_app_with_its_work_in_flight(
        tmp_path, fake_dots, fake_shopify, clock):
    """Orders recorded at 0011 with a write-back still to do (the store answered 500); upgraded
    to 0012, the shop's settings now name a Dev Dashboard app: the write-back goes out with a
    token certhook took itself, and nothing is issued twice."""
    url = f"sqlite:///{tmp_path / 'certhook.db'}"
    legacy = write_config(tmp_path, url, fake_dots.api_url, fake_shopify.api_url)
    ch = start(legacy, clock)
    try:
        fake_shopify.fail_next(*["500"] * 5)
        deliver(create_app(ch=ch).test_client(), order_payload(order_id=9901))
        run_due(ch)
    finally:
        ch.close()
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    engine = create_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0011")
        assert "shop_connections" not in conn.execute(text(
            "SELECT group_concat(name) FROM sqlite_master WHERE type = 'table'")).scalar()
    engine.dispose()
    fake_shopify.faults.clear()
    app = write_config(tmp_path, url, fake_dots.api_url, fake_shopify.api_url, shop=app_shop())
    ch = start(app, clock)  # upgrades to head
    try:
        drain(ch)
        client = create_app(ch=ch).test_client()
        assert order_of(client, 9901)["status"] == "done"
        assert fake_shopify.value("9901") and fake_shopify.grants == ["client_credentials"]
        assert len(fake_dots.certificates) == 2
    finally:
        ch.close()
