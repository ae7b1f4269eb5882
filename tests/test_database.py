"""PostgreSQL connections that a database restart broke while they sat in the pool are made anew
before use; one in use moments ago is not pinged (db.IDLE_PING_SECONDS)."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, exc, func, select, text

from certhook import db as db_module
from certhook.db import Database
from certhook.driver import run
from certhook.models import jobs


def terminate_others(url: str) -> int:
    """What a restart does to every connection certhook holds: the server ends it."""
    admin = create_engine(url)
    try:
        with admin.begin() as conn:
            return len(conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")).all())
    finally:
        admin.dispose()


def test_a_connection_lost_while_idle_is_replaced_before_it_is_used(_pg_migrated, monkeypatch):
    db = Database(_pg_migrated)
    try:
        with db.write() as a, db.read() as b:  # two connections in the pool
            a.execute(text("SELECT 1"))
            b.execute(text("SELECT 1"))
        assert terminate_others(_pg_migrated) >= 2
        monkeypatch.setattr(db_module, "IDLE_PING_SECONDS", 0.0)  # both idle long enough
        for _ in range(3):
            with db.write() as conn:
                assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        db.dispose()


def test_a_connection_used_moments_ago_is_not_pinged(_pg_migrated):
    """The cost this saves: no ping's round trip before each of a busy worker's transactions."""
    db = Database(_pg_migrated)
    try:
        with db.write() as conn:
            conn.execute(text("SELECT 1"))
        terminate_others(_pg_migrated)
        with pytest.raises(exc.DBAPIError), db.write() as conn:
            conn.execute(text("SELECT 1"))  # the broken connection, not pinged, fails once
        with db.write() as conn:  # and the pool has been made anew
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        db.dispose()


def test_a_connection_lost_under_a_driver_statement_is_not_pooled_again(_pg_migrated):
    """driver.run() goes past SQLAlchemy's error handling; the transaction's rollback still
    finds the connection lost, and it is not handed out again."""
    count = select(func.count()).select_from(jobs)
    db = Database(_pg_migrated)
    try:
        with db.write() as conn:
            before = run(conn, count).scalar()
        terminate_others(_pg_migrated)
        with pytest.raises(exc.DBAPIError), db.write() as conn:  # its rollback finds it lost
            run(conn, count)
        for _ in range(3):
            with db.write() as conn:
                assert run(conn, count).scalar() == before
    finally:
        db.dispose()
