"""Alembic creates the schema the models describe, and upgrades a database with data in it."""
from __future__ import annotations

import json

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, select, text

from certhook.db import MIGRATIONS, Database
from certhook.models import metadata, orders


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
