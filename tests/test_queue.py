"""The job queue: enqueued once, claimed under a lease, taken over when the lease runs out,
every transition guarded, and the retry decision carried out."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from certhook.jobs.queue import LeaseLost
from certhook.jobs.retry import Action, Decision
from certhook.models import jobs
from certhook.statuses import JobKind, JobStatus

from .helpers import make_ch


def row(ch, kind: JobKind = JobKind.ISSUE, ref: str = "1"):  # type: ignore[no-untyped-def]
    with ch.db.read() as conn:
        return conn.execute(select(jobs).where(jobs.c.kind == kind, jobs.c.ref == ref)).one()


def enqueue(ch, ref: str = "1", at: float | None = None) -> None:  # type: ignore[no-untyped-def]
    with ch.db.write() as conn:
        ch.queue.enqueue(conn, JobKind.ISSUE, ref, ch.now() if at is None else at)


def test_a_job_is_queued_once_and_an_enqueue_brings_a_waiting_one_forward(ch):
    enqueue(ch, at=ch.now() + 600)
    enqueue(ch)
    with ch.db.read() as conn:
        assert len(conn.execute(select(jobs)).all()) == 1
    assert row(ch).run_at == ch.now()


def test_claim_takes_only_what_is_due_and_only_once(ch):
    enqueue(ch, at=ch.now() + 10)
    assert ch.queue.claim("a", ch.now()) is None
    ch.clock.now += 10
    job = ch.queue.claim("a", ch.now())
    assert job is not None and (job.kind, job.ref) == (JobKind.ISSUE, "1")
    assert job.owner.startswith("a/")
    assert ch.queue.claim("b", ch.now()) is None  # under a's lease
    assert row(ch).status == JobStatus.RUNNING


def test_a_lease_that_ran_out_is_taken_over_and_the_old_owner_can_settle_nothing(ch):
    enqueue(ch)
    first = ch.queue.claim("a", ch.now())
    ch.clock.now += ch.settings.lease_seconds + 1  # a died mid-job
    second = ch.queue.claim("b", ch.now())
    assert second is not None and second.id == first.id and second.owner.startswith("b/")
    with pytest.raises(LeaseLost), ch.db.write() as conn:
        ch.queue.still_ours(conn, first)
    with pytest.raises(LeaseLost), ch.db.write() as conn:
        ch.queue.done(conn, first, ch.now())
    with ch.db.write() as conn:
        ch.queue.done(conn, second, ch.now())
    assert row(ch).status == JobStatus.DONE


@pytest.mark.parametrize(("decision", "status", "attempts", "delay"), [
    (Decision(Action.RETRY, 30), JobStatus.QUEUED, 1, 30),
    (Decision(Action.WAIT, 3600), JobStatus.QUEUED, 0, 3600),
    (Decision(Action.FAIL), JobStatus.FAILED, 1, None),
])
def test_settle_carries_out_the_decision(ch, decision, status, attempts, delay):
    enqueue(ch)
    job = ch.queue.claim("a", ch.now())
    with ch.db.write() as conn:
        ch.queue.settle(conn, job, ch.now(), decision, "Dots.eco: Server Error")
    done = row(ch)
    assert (done.status, done.attempts, done.last_error) == (status, attempts, "Dots.eco: Server Error")
    assert done.lease_owner is None
    if delay is not None:
        assert done.run_at == ch.now() + delay


def test_a_finished_job_enqueued_again_starts_afresh(ch):
    enqueue(ch)
    job = ch.queue.claim("a", ch.now())
    with ch.db.write() as conn:
        ch.queue.settle(conn, job, ch.now(), Decision(Action.FAIL), "gave up")
    enqueue(ch)
    again = row(ch)
    assert (again.status, again.attempts, again.last_error) == (JobStatus.QUEUED, 0, None)


def test_a_recurring_job_is_rescheduled_with_its_attempts_reset(ch):
    with ch.db.write() as conn:
        ch.queue.enqueue(conn, JobKind.RECONCILE, "acme", ch.now())
    job = ch.queue.claim("a", ch.now())
    with ch.db.write() as conn:
        ch.queue.reschedule(conn, job, ch.now(), ch.now() + 600, "store down")
    again = row(ch, JobKind.RECONCILE, "acme")
    assert (again.status, again.run_at, again.attempts, again.last_error) == (
        JobStatus.QUEUED, ch.now() + 600, 0, "store down")


def test_every_claim_has_its_own_token_so_a_process_cannot_settle_its_own_lost_claim(ch):
    enqueue(ch)
    first = ch.queue.claim("a", ch.now())
    ch.clock.now += ch.settings.lease_seconds + 1
    second = ch.queue.claim("a", ch.now())  # the same process, another thread, after the lease
    assert second.id == first.id and second.owner != first.owner
    with pytest.raises(LeaseLost), ch.db.write() as conn:
        ch.queue.done(conn, first, ch.now())


def test_a_renewed_lease_is_not_taken_over(ch):
    enqueue(ch)
    job = ch.queue.claim("a", ch.now())
    for _ in range(5):  # the heartbeat, every third of a lease
        ch.clock.now += ch.settings.lease_seconds / 3
        with ch.db.write() as conn:
            ch.queue.renew(conn, [job.owner], ch.now())
    assert ch.queue.claim("b", ch.now()) is None
    with ch.db.write() as conn:
        ch.queue.still_ours(conn, job)


def test_released_jobs_are_due_at_once_with_no_attempt_spent(ch):
    enqueue(ch)
    enqueue(ch, ref="2")
    job, other = ch.queue.claim("a", ch.now()), ch.queue.claim("a", ch.now())
    with ch.db.write() as conn:
        assert ch.queue.release(conn, [job.owner], ch.now()) == 1
    back = row(ch)
    assert (back.status, back.run_at, back.attempts, back.lease_owner) == (
        JobStatus.QUEUED, ch.now(), 0, None)
    assert row(ch, ref="2").status == JobStatus.RUNNING  # not ours to hand back
    with pytest.raises(LeaseLost), ch.db.write() as conn:
        ch.queue.done(conn, job, ch.now())
    assert ch.queue.claim("b", ch.now()).id == job.id
    assert other is not None


def test_an_enqueue_wakes_listeners_once_committed_and_never_if_rolled_back(ch):
    woken: list[int] = []
    ch.queue.on_enqueue(lambda: woken.append(row_count(ch)))
    enqueue(ch)
    assert woken == [1]  # the listener already sees the job
    with pytest.raises(RuntimeError), ch.db.write() as conn:
        ch.queue.enqueue(conn, JobKind.ISSUE, "2", ch.now())
        raise RuntimeError("the request failed after the enqueue")
    assert woken == [1] and row_count(ch) == 1


def test_a_step_queued_after_a_job_is_leased_to_its_process_once_committed(ch):
    enqueue(ch)
    first = ch.queue.claim("a", ch.now())
    with pytest.raises(RuntimeError), ch.db.write() as conn:
        ch.queue.enqueue(conn, JobKind.WRITEBACK, "1", ch.now(), after=first)
        raise RuntimeError("the job failed after the enqueue")
    assert first.then == []
    with ch.db.write() as conn:
        ch.queue.enqueue(conn, JobKind.WRITEBACK, "1", ch.now(), after=first)
        assert first.then == []  # handed on only once committed
    [following] = first.then
    assert (following.kind, following.ref) == (JobKind.WRITEBACK, "1")
    assert following.owner.startswith("a/") and following.owner != first.owner
    assert row(ch, JobKind.WRITEBACK).lease_owner == following.owner
    assert ch.queue.claim("b", ch.now()) is None  # nothing left for another worker


def row_count(ch) -> int:  # type: ignore[no-untyped-def]
    with ch.db.read() as conn:
        return len(conn.execute(select(jobs.c.id)).all())


def test_next_due_is_the_soonest_run_or_lease_end(ch):
    assert ch.queue.next_due(ch.now()) is None
    enqueue(ch, at=ch.now() + 100)
    enqueue(ch, ref="2", at=ch.now())
    ch.queue.claim("a", ch.now())  # job 2, leased for lease_seconds
    assert ch.queue.next_due(ch.now()) == min(ch.now() + 100, ch.now() + ch.settings.lease_seconds)


def test_shops_take_turns_so_one_shops_backlog_starves_no_other(tmp_path, db_url, fake_dots, fake_shopify,
                                                                 fake_woo):
    """acme has ten jobs waiting (a backlog, or a slow store's write-backs), woo one newer job:
    woo's goes as soon as acme has one running, not after acme's ten."""
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, woo_url=fake_woo.api_url) as (ch, _):
        now = ch.now()
        with ch.db.write() as conn:
            for ref in range(1, 11):
                ch.queue.enqueue(conn, JobKind.ISSUE, str(ref), now, at=now - 100 + ref, shop="acme")
            ch.queue.enqueue(conn, JobKind.ISSUE, "99", now, shop="woo")
            ch.queue.enqueue(conn, JobKind.PRUNE, "daily", now, at=now - 1)  # no shop's
        claimed = [ch.queue.claim("p", now) for _ in range(5)]
        assert [(j.shop, j.ref) for j in claimed if j] == [
            ("acme", "1"),   # nothing running: the longest waiting
            ("", "daily"),   # acme has one running: the others first, the longest waiting first
            ("woo", "99"),
            ("acme", "2"),   # every shop has one running: the longest waiting again
            ("acme", "3")]   # nothing else is due


def test_a_shop_no_longer_configured_still_has_its_jobs_run(ch):
    with ch.db.write() as conn:
        ch.queue.enqueue(conn, JobKind.ISSUE, "7", ch.now(), shop="gone")
    job = ch.queue.claim("p", ch.now())
    assert job is not None and job.shop == "gone"
