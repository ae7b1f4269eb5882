"""The database doors: PostgreSQL connections a restart broke are replaced; on SQLite, writers of
many threads and processes take turns (the writer lock, then BEGIN IMMEDIATE) and
none fails, while reads go on beside them."""
from __future__ import annotations

import multiprocessing
import threading

import pytest
from sqlalchemy import create_engine, exc, text

from certhook.db import Database


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


def test_a_connection_lost_while_idle_is_replaced_before_it_is_used(_pg_migrated):
    db = Database(_pg_migrated)
    try:
        with db.write() as a, db.read() as b:  # two connections in the pool
            a.execute(text("SELECT 1"))
            b.execute(text("SELECT 1"))
        assert terminate_others(_pg_migrated) >= 2
        for _ in range(3):
            with db.write() as conn:
                assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        db.dispose()


def test_a_connection_lost_in_a_transaction_fails_it_and_is_not_pooled_again(_pg_migrated):
    db = Database(_pg_migrated)
    try:
        with pytest.raises(exc.DBAPIError), db.write() as conn:
            conn.execute(text("SELECT 1"))
            terminate_others(_pg_migrated)
            conn.execute(text("SELECT 1"))
        for _ in range(3):
            with db.write() as conn:
                assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        db.dispose()


def _write_rows(db: Database, name: str, count: int) -> None:
    for n in range(count):
        with db.write() as conn:
            seen = conn.execute(text("SELECT count(*) FROM t")).scalar_one()
            conn.execute(text("INSERT INTO t VALUES (:name, :n, :seen)"),
                         {"name": name, "n": n, "seen": seen})


def _add_rows(url: str, name: str, count: int) -> None:
    """Another process's writes, through a Database of its own."""
    db = Database(url)
    try:
        _write_rows(db, name, count)
    finally:
        db.dispose()


def test_sqlite_writers_of_many_threads_and_processes_all_commit(tmp_path):
    """Each write reads then writes in one transaction: with the lock taken up front, no two
    saw the same count, and no writer got "database is locked"."""
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    db = Database(url)
    with db.write() as conn:
        conn.execute(text("CREATE TABLE t (name TEXT, n INTEGER, seen INTEGER)"))
    threads = [threading.Thread(target=_write_rows, args=(db, f"thread-{i}", 50)) for i in range(4)]
    spawn = multiprocessing.get_context("spawn")
    processes = [spawn.Process(target=_add_rows, args=(url, f"process-{i}", 50)) for i in range(2)]
    for each in threads + processes:
        each.start()
    with db.read() as conn:  # a read goes on while they write
        conn.execute(text("SELECT count(*) FROM t")).scalar_one()
    for thread in threads:
        thread.join(60)
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    with db.read() as conn:
        seen = conn.execute(text("SELECT seen FROM t ORDER BY seen")).scalars().all()
    assert seen == list(range(300))
    db.dispose()
