"""The background workers in a process: woken by enqueues, leases kept alive by the heartbeat,
a graceful stop that hands back what it could not finish, and processes that stopped beating."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import select

from certhook import pipeline
from certhook.evaluation import external_unique_id
from certhook.jobs.worker import Worker
from certhook.models import jobs, processes
from certhook.statuses import JobKind, JobStatus

from .helpers import AUTH, deliver, make_ch, order_payload, start, wait_for


@contextmanager
def running(ch, concurrency: int = 2, poll: float | None = None) -> Iterator[Worker]:  # type: ignore[no-untyped-def]
    worker = pipeline.worker(ch, concurrency)
    if poll is not None:
        worker.poll_seconds = poll
    worker.start()
    try:
        yield worker
    finally:
        worker.stop(grace=5)


def status(client, order_id: int) -> str:  # type: ignore[no-untyped-def]
    return client.get(f"/api/orders/acme/{order_id}", headers=AUTH).json["status"]


def job(ch, kind: JobKind, ref: str):  # type: ignore[no-untyped-def]
    with ch.db.read() as conn:
        return conn.execute(select(jobs).where(jobs.c.kind == kind, jobs.c.ref == ref)).one()


def process_rows(ch) -> list:  # type: ignore[no-untyped-def]
    with ch.db.read() as conn:
        return conn.execute(select(processes)).all()


def test_an_enqueue_wakes_an_idle_worker_without_waiting_for_its_poll(tmp_path: Path, db_url,
                                                                      fake_dots, fake_shopify):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify) as (ch, client):
        ch.clock.now = None  # the wall clock: the worker runs in real time
        with running(ch, poll=120):  # a poll would take two minutes
            assert deliver(client, order_payload(order_id=1101)).json == {"status": "accepted"}
            # evaluate → issue → write-back, each job woken by the one before it
            wait_for(lambda: status(client, 1101) == "done", 30)
            assert fake_shopify.value("1101") is not None


def test_another_process_enqueue_wakes_this_one(tmp_path: Path, db_url, fake_dots, fake_shopify):
    """PostgreSQL: NOTIFY wakes the other process at once. SQLite: it sees that another
    connection committed (PRAGMA data_version). Neither waits for its poll (two minutes here)."""
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify) as (web, client):
        web.clock.now = None
        other = start(tmp_path / "certhook.yaml")
        other.clock.now = None
        try:
            with running(other, poll=120):
                deliver(client, order_payload(order_id=1102))
                wait_for(lambda: status(client, 1102) == "done", 30)
        finally:
            other.close()


def test_job_threads_wait_on_their_calls_together(tmp_path: Path, db_url, fake_dots, fake_shopify):
    """Each job thread waits on its own call: four slow calls are out at once."""
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify) as (ch, client):
        ch.clock.now = None
        fake_dots.slow_seconds = 0.5
        with running(ch, concurrency=4):
            for n in range(4):
                deliver(client, order_payload(order_id=1110 + n))
            wait_for(lambda: all(status(client, 1110 + n) == "done" for n in range(4)), 60)
        assert fake_dots.most_slow_at_once == 4 and fake_dots.posts == 8


def test_the_heartbeat_keeps_a_long_call_its_own(tmp_path: Path, db_url, fake_dots, fake_shopify):
    """A call that outlives the lease is not taken over by another worker: no lookup, no repost."""
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, lease_seconds=1.5) as (ch, client):
        ch.clock.now = None
        other = start(tmp_path / "certhook.yaml")
        other.clock.now = None
        fake_dots.slow_seconds = 4  # each call takes well over two leases
        try:
            with running(ch, concurrency=2), running(other, concurrency=2, poll=0.1):
                deliver(client, order_payload(order_id=1103))
                wait_for(lambda: status(client, 1103) == "done", 60)
        finally:
            other.close()
        assert fake_dots.posts == 2 and fake_dots.gets == 0
        for alloc in (14, 32):
            assert fake_dots.count_for(external_unique_id("acme", "1103", alloc)) == 1


def test_stop_hands_back_an_unfinished_job_and_a_restart_adopts_what_its_call_made(
        tmp_path: Path, db_url, fake_dots, fake_shopify):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, lease_seconds=600) as (ch, client):
        ch.clock.now = None
        fake_dots.slow_seconds = 5  # created at once, answered 5 s later
        deliver(client, order_payload(order_id=1104))
        worker = pipeline.worker(ch, 2)
        worker.start()
        wait_for(lambda: fake_dots.posts >= 1, 20)
        worker.stop(grace=0.5)  # the call is still in flight
        issue = job(ch, JobKind.ISSUE, "1")  # the first order recorded
        assert (issue.status, issue.lease_owner, issue.attempts) == (JobStatus.QUEUED, None, 0)
        assert issue.run_at <= ch.now()  # due at once: nobody waits out the 600 s lease
        assert process_rows(ch) == []
        fake_dots.slow_seconds = 0
        with running(ch):
            wait_for(lambda: status(client, 1104) == "done", 30)
        assert len(fake_dots.certificates) == 2  # looked up and adopted, not created again
        assert fake_dots.gets >= 1
        wait_for(lambda: worker.running() == 0, 20)  # the stopped worker's thread, told it lost


def test_stop_lets_a_call_finish_within_the_grace(tmp_path: Path, db_url, fake_dots, fake_shopify):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify) as (ch, client):
        ch.clock.now = None
        fake_dots.slow_seconds = 1
        deliver(client, order_payload(order_id=1105))
        worker = pipeline.worker(ch, 2)
        worker.start()
        wait_for(lambda: fake_dots.posts >= 1, 20)
        worker.stop(grace=20)
        issue = job(ch, JobKind.ISSUE, "1")
        assert issue.status == JobStatus.DONE
        assert fake_dots.gets == 0 and len(fake_dots.certificates) == 2
        # The write-back it handed on was not started: it is back in the queue, due at once
        writeback = job(ch, JobKind.WRITEBACK, "1")
        assert (writeback.status, writeback.lease_owner) == (JobStatus.QUEUED, None)
        assert writeback.run_at <= ch.now() and fake_shopify.value("1105") is None


def test_a_running_worker_beats_and_a_clean_stop_leaves_the_list(tmp_path: Path, db_url,
                                                                 fake_dots, fake_shopify):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, lease_seconds=1.2) as (ch, client):
        ch.clock.now = None
        with running(ch) as worker:
            first = process_rows(ch)[0].heartbeat_at
            wait_for(lambda: process_rows(ch)[0].heartbeat_at > first, 10)
            assert [(r.id, r.role) for r in process_rows(ch)] == [(worker.process, "worker")]
            assert client.get("/healthz").json["processes"] == {"alive": 1, "heartbeat_stopped": []}
        assert process_rows(ch) == []
