"""How writers share the database: the writes a process's threads bring at once are committed
together, each caller answered once its group has committed; one that fails leaves the others
written, and a commit that fails writes none."""
from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import Connection, select

from certhook.db import Database
from certhook.models import deliveries

from .helpers import wait_for


@pytest.fixture
def db(db_url: str):  # type: ignore[no-untyped-def]
    database = Database(db_url)
    database.upgrade()
    yield database
    database.dispose()


class Adder:
    """Writes one delivery named `order_id`, noting the transaction it was written in; "bad"
    fails after its insert, and "slow" holds its transaction until `go` is set."""

    def __init__(self) -> None:
        self.transactions: dict[str, Any] = {}
        self.inside, self.go = threading.Event(), threading.Event()

    def __call__(self, order_id: str) -> Any:
        def work(conn: Connection) -> str:
            conn.execute(deliveries.insert().values(shop="acme", topic="t", order_id=order_id,
                                                    outcome="accepted", received_at=0))
            self.transactions[order_id] = conn.get_transaction()
            if order_id == "slow":
                self.inside.set()
                self.go.wait(10)
            if order_id == "bad":
                raise ValueError("this one is refused")
            return order_id
        return work


def written(db: Database) -> list[str]:
    with db.read() as conn:
        return sorted(conn.execute(select(deliveries.c.order_id)).scalars())


def test_writes_that_arrive_together_commit_together_each_with_its_own_answer(db: Database):
    adder, answers = Adder(), {}

    def call(order_id: str) -> None:
        try:
            answers[order_id] = db.write_together(adder(order_id))
        except ValueError as exc:
            answers[order_id] = str(exc)

    first = threading.Thread(target=call, args=("slow",))
    first.start()
    adder.inside.wait(5)  # the first group holds its transaction while the others arrive
    others = [threading.Thread(target=call, args=(name,)) for name in ["1", "2", "bad", "3"]]
    for thread in others:
        thread.start()
    wait_for(lambda: len(db._group._waiting) == 4, 10)
    adder.go.set()
    for thread in [first, *others]:
        thread.join(10)
    assert answers == {"slow": "slow", "1": "1", "2": "2", "3": "3", "bad": "this one is refused"}
    assert written(db) == ["1", "2", "3", "slow"]  # the refused part rolled back alone
    second = adder.transactions["1"]
    assert adder.transactions["slow"] is not second  # the first alone, then the four together
    assert all(adder.transactions[name] is second for name in ["2", "bad", "3"])


@pytest.fixture
def breaker(db: Database):  # type: ignore[no-untyped-def]
    """A table whose rows are refused at COMMIT (not before): SQLite checks a deferred foreign
    key there, PostgreSQL runs a deferred constraint trigger."""
    with db.write() as conn:
        if db.is_sqlite:
            conn.exec_driver_sql("CREATE TABLE breaker (order_pk INTEGER REFERENCES orders (id) "
                                 "DEFERRABLE INITIALLY DEFERRED)")
        else:
            conn.exec_driver_sql("CREATE TABLE breaker (order_pk INTEGER)")
            conn.exec_driver_sql("CREATE OR REPLACE FUNCTION breaker_refuses() RETURNS trigger LANGUAGE "
                                 "plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$")
            conn.exec_driver_sql("CREATE CONSTRAINT TRIGGER breaker_refuses AFTER INSERT ON breaker "
                                 "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                                 "EXECUTE FUNCTION breaker_refuses()")
    yield
    with db.write() as conn:
        conn.exec_driver_sql("DROP TABLE breaker")


def test_a_commit_that_fails_answers_every_caller_and_writes_nothing(db: Database, breaker: None):
    adder, errors = Adder(), {}

    def breaks_at_commit(conn: Connection) -> None:
        conn.exec_driver_sql("INSERT INTO breaker (order_pk) VALUES (999)")

    def call(name: str, work: Any) -> None:
        try:
            db.write_together(work)
        except Exception as exc:
            errors[name] = str(exc)

    threads = [threading.Thread(target=call, args=("slow", adder("slow")))]
    threads[0].start()
    adder.inside.wait(5)
    threads += [threading.Thread(target=call, args=("1", adder("1"))),
                threading.Thread(target=call, args=("breaker", breaks_at_commit))]
    for thread in threads[1:]:
        thread.start()
    wait_for(lambda: len(db._group._waiting) == 2, 10)
    adder.go.set()
    for thread in threads:
        thread.join(10)
    assert sorted(errors) == ["1", "breaker"]  # the whole second group, and only it
    assert all("FOREIGN KEY" in e or "refused at commit" in e for e in errors.values())
    assert written(db) == ["slow"]
    assert db.write_together(adder("next")) == "next"  # the next group is not held up


def test_many_threads_all_written_once(db: Database):
    adder, names = Adder(), [str(n) for n in range(200)]
    threads = [threading.Thread(target=db.write_together, args=(adder(name),)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert written(db) == sorted(names)


def test_a_write_alone_that_fails_leaves_nothing_behind(db: Database):
    with pytest.raises(ValueError, match="refused"):
        db.write_together(Adder()("bad"))  # its insert came before the error: rolled back
    assert written(db) == []
