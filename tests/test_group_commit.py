"""Webhooks' writes are committed in groups: each caller gets its own answer once its group has
committed, one that fails leaves the others written, and a failed commit writes none."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import func, select

from certhook.db import Database
from certhook.models import deliveries

from .helpers import wait_for

_ADD = ("INSERT INTO deliveries (shop, topic, order_id, outcome, received_at) "
        "VALUES ({p}, 't', {p}, 'accepted', 0)")


@pytest.fixture
def db(db_url: str):  # type: ignore[no-untyped-def]
    database = Database(db_url)
    database.upgrade()
    yield database
    database.dispose()


def adder(db: Database, order_id: str) -> Any:
    mark = "?" if db.is_sqlite else "%s"

    def work(cursor: Any) -> str:
        cursor.execute(_ADD.format(p=mark), ("acme", order_id))
        if order_id == "bad":
            raise ValueError("this one is refused")
        return order_id
    return work


def written(db: Database) -> list[str]:
    with db.read() as conn:
        return sorted(conn.execute(select(deliveries.c.order_id)).scalars())


def test_concurrent_writes_commit_together_each_with_its_own_answer(db: Database) -> None:
    commits, entered, release = [], threading.Event(), threading.Event()
    real = db.grouped._transaction

    @contextmanager
    def counted():  # type: ignore[no-untyped-def]
        with real() as cursor:
            entered.set()
            release.wait(5)  # the first group holds its transaction while the others arrive
            yield cursor
        commits.append(1)

    db.grouped._transaction = counted
    answers: dict[str, Any] = {}

    def call(order_id: str) -> None:
        try:
            answers[order_id] = db.grouped.run(adder(db, order_id))
        except ValueError as exc:
            answers[order_id] = str(exc)

    first = threading.Thread(target=call, args=("0",))
    first.start()
    entered.wait(5)
    others = [threading.Thread(target=call, args=(name,)) for name in ["1", "2", "bad", "3"]]
    for thread in others:
        thread.start()
    wait_for(lambda: len(db.grouped._pending) == 4, 10)  # all four queued behind the first group
    release.set()
    for thread in [first, *others]:
        thread.join(10)
    assert answers == {"0": "0", "1": "1", "2": "2", "3": "3", "bad": "this one is refused"}
    assert written(db) == ["0", "1", "2", "3"]  # the refused part rolled back alone
    assert len(commits) == 2  # the first alone, then the four that came meanwhile


def test_a_failed_commit_answers_every_caller_with_the_error_and_writes_nothing(db: Database) -> None:
    real = db.grouped._transaction

    @contextmanager
    def failing():  # type: ignore[no-untyped-def]
        with real() as cursor:
            yield cursor
            raise OSError("disk full")  # as the COMMIT would fail: rolled back

    db.grouped._transaction = failing
    with pytest.raises(OSError, match="disk full"):
        db.grouped.run(adder(db, "lost"))
    db.grouped._transaction = real
    assert db.grouped.run(adder(db, "next")) == "next"  # the next group is not held up
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(deliveries)).scalar_one() == 1
    assert written(db) == ["next"]


def test_many_threads_all_written_once(db: Database) -> None:
    names = [str(n) for n in range(200)]
    threads = [threading.Thread(target=db.grouped.run, args=(adder(db, name),)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert written(db) == sorted(names)


def test_a_write_alone_that_fails_leaves_nothing_behind(db: Database) -> None:
    with pytest.raises(ValueError, match="refused"):
        db.grouped.run(adder(db, "bad"))  # its insert came before the error: rolled back
    assert written(db) == []
