"""PostgreSQL connections that a database restart broke while they sat in the pool are made anew
before use; one in use moments ago is not pinged (db.IDLE_PING_SECONDS)."""
from __future__ import annotations

import os

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


def test_sqlite_connections_kept_open_are_reused_and_not_shared_with_a_forked_child(tmp_path):
    """The write connection and the idle read connections stay open from one transaction to the
    next; a process forked after they were used opens its own (SQLite's must not cross a fork)."""
    db = Database(f"sqlite:///{tmp_path / 'kept.db'}")
    try:
        with db.write() as conn:
            conn.execute(text("CREATE TABLE t (a INTEGER)"))
            first_writer = conn.connection.dbapi_connection
        with db.read() as conn:
            first_reader = conn.connection.dbapi_connection
        with db.write() as w, db.read() as r:
            w.execute(text("INSERT INTO t VALUES (1)"))
            assert w.connection.dbapi_connection is first_writer
            assert r.connection.dbapi_connection is first_reader
        pid = os.fork()
        if pid == 0:  # the child: its own connections, and they work
            ok = False
            try:
                with db.write() as w:
                    w.execute(text("INSERT INTO t VALUES (2)"))
                    ok = w.connection.dbapi_connection is not first_writer
                with db.read() as r:
                    ok = ok and r.connection.dbapi_connection is not first_reader and \
                        r.execute(text("SELECT count(*) FROM t")).scalar_one() == 2
            finally:
                os._exit(0 if ok else 1)
        assert os.waitpid(pid, 0)[1] == 0
        with db.read() as r:
            assert r.execute(text("SELECT count(*) FROM t")).scalar_one() == 2
    finally:
        db.dispose()
