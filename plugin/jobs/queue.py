"""The job queue in the database: enqueue once, claim with a lease, every transition guarded.

Each claim gets an owner token of its own (its process's id, then a count). The process renews
its leases while the jobs run and hands back what it did not finish when it stops; a job whose
lease ran out (its process died) is taken over by whoever claims next.
"""
from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Executable, bindparam, func, select, text, update

from ..db import Database
from ..models import jobs
from ..statuses import JobKind, JobStatus
from .retry import Action, Decision


class LeaseLost(Exception):
    """Another worker took this job over (our lease ran out): drop what we were doing."""


@dataclass(frozen=True)
class Job:
    id: int
    kind: JobKind
    ref: str
    attempts: int
    owner: str
    shop: str = ""  # the shop it works for ("": none)
    # The jobs this one handed on, leased to its process once committed: an order's next step
    then: list[Job] = field(default_factory=list, compare=False, repr=False)


CHANNEL = "certhook_jobs"  # PostgreSQL's NOTIFY channel: a job is due now
NOTIFY = text(f"NOTIFY {CHANNEL}")  # delivered when its transaction commits

# The hot statements are built once, with bound parameters: building one costs more than
# running it. An UPDATE without .values() sets the columns named in its execute() parameters.

# A job whose lease ran out first (its worker died: it was due long ago), then the next due one;
# each found by the (status, run_at) index with no sort of the backlog.
_EXPIRED = (select(jobs.c.id).where(jobs.c.status == JobStatus.RUNNING,
                                    jobs.c.lease_expires < bindparam("now"))
            .order_by(jobs.c.lease_expires).limit(1))
_DUE = (select(jobs.c.id).where(jobs.c.status == JobStatus.QUEUED, jobs.c.run_at <= bindparam("now"))
        .order_by(jobs.c.run_at, jobs.c.id).limit(1))
_LOOK = select(func.coalesce(_EXPIRED.scalar_subquery(), _DUE.scalar_subquery()))
_LEASED = (jobs.c.id, jobs.c.kind, jobs.c.ref, jobs.c.attempts, jobs.c.shop)
_CLAIM = update(jobs).where(jobs.c.id == func.coalesce(
    *(q.with_for_update(skip_locked=True).scalar_subquery() for q in (_EXPIRED, _DUE))
)).returning(*_LEASED)
# Turns between shops: each shop's next due job (the (status, shop, run_at) index), and how
# many of each shop's jobs run now; the claim takes the shop with the fewest running first.
_SHOP_DUE = _DUE.where(jobs.c.shop == bindparam("of_shop"))
_HEAD = select(jobs.c.run_at).where(jobs.c.id == _SHOP_DUE.scalar_subquery())
_RUNNING = select(jobs.c.shop, func.count()).where(jobs.c.status == JobStatus.RUNNING).group_by(jobs.c.shop)
_CLAIM_OF_SHOP = update(jobs).where(jobs.c.id == func.coalesce(
    *(q.with_for_update(skip_locked=True).scalar_subquery() for q in (_EXPIRED, _SHOP_DUE))
)).returning(*_LEASED)
_TAKE = update(jobs).where(jobs.c.kind == bindparam("job_kind"), jobs.c.ref == bindparam("job_ref"),
                           jobs.c.status == JobStatus.QUEUED,
                           jobs.c.run_at <= bindparam("now")).returning(*_LEASED)
_OURS = (jobs.c.id == bindparam("job_id"), jobs.c.status == JobStatus.RUNNING,
         jobs.c.lease_owner == bindparam("owner"))
_SETTLE = update(jobs).where(*_OURS)
_STILL_OURS = select(jobs.c.id).where(*_OURS).with_for_update()
_REQUEUE = update(jobs).where(jobs.c.kind == bindparam("job_kind"), jobs.c.ref == bindparam("job_ref"),
                              jobs.c.status.in_([JobStatus.DONE, JobStatus.FAILED]))
_NEXT_DUE = (select(func.min(jobs.c.run_at)).where(jobs.c.status == JobStatus.QUEUED),
             select(func.min(jobs.c.lease_expires)).where(jobs.c.status == JobStatus.RUNNING))
_HURRY = update(jobs).where(jobs.c.kind == bindparam("job_kind"), jobs.c.ref == bindparam("job_ref"),
                            jobs.c.status == JobStatus.QUEUED, jobs.c.run_at > bindparam("now"))


class Queue:
    def __init__(self, db: Database, lease_seconds: float, shops: Collection[str] = ()):
        self.db = db
        self.lease_seconds = lease_seconds
        self.shops = ("", *shops)  # whose turn it is, among those with a due job
        self._listeners: list[Callable[[], None]] = []
        self._claims = itertools.count(1)
        self._claims_lock = threading.Lock()

    def on_enqueue(self, listener: Callable[[], None]) -> None:
        """Call listener whenever a job of this process becomes due (after its commit)."""
        self._listeners.append(listener)

    def wake(self) -> None:
        """Wake this process's idle workers: a job is due."""
        for listener in self._listeners:
            listener()

    def enqueue(self, conn: Connection, kind: JobKind, ref: str, now: float,
                after: Job | None = None, at: float | None = None, shop: str = "") -> None:
        """Queue (kind, ref) once, due `at` (now): a finished job is queued again, a waiting one
        runs now.

        Queued `after` a running job (the order's next step), it is leased in the same
        transaction to that job's process and handed to its worker, which runs it next: no
        claim, no wait. Otherwise idle workers are woken when the transaction commits: this
        process's at once, other processes' through NOTIFY on PostgreSQL (SQLite's poll).
        """
        if after is None:
            self.db.after_commit(conn, self.wake)
            self._notify(conn)
        process = None if after is None or at is not None else after.owner.rsplit("/", 1)[0]
        lease = {} if process is None else self._lease_values(process, now)  # new: leased at once
        shop = after.shop if after is not None else shop  # an order's next step: the same shop
        inserted = conn.execute(self.db.insert_new(jobs, "kind", "ref"), {  # a returned row is certain
            "kind": kind, "ref": ref, "shop": shop, "status": JobStatus.QUEUED, "run_at": at or now,
            "attempts": 0, "created_at": now, "updated_at": now, **lease}).first()
        which = {"job_kind": kind, "job_ref": ref}
        if inserted is None:
            conn.execute(_REQUEUE, {**which, "status": JobStatus.QUEUED, "run_at": now,
                                    "attempts": 0, "last_error": None, "lease_owner": None,
                                    "lease_expires": None, "updated_at": now})
            conn.execute(_HURRY, {**which, "now": now, "run_at": now, "updated_at": now})
        if after is None or process is None:
            return
        following = Job(inserted[0], kind, ref, 0, lease["lease_owner"], shop) if inserted is not None \
            else self._lease(conn, process, now, _TAKE, which)  # unless another worker holds it
        if following is not None:
            self.db.after_commit(conn, lambda: after.then.append(following))

    def claim(self, process: str, now: float, look: bool = True) -> Job | None:
        """Take the next due job, or one whose worker's lease ran out (it died). With several
        shops, shops take turns: the one with the fewest jobs running goes first (the longest
        waiting among equals), so one shop's backlog or slow store never starves the rest.

        With `look`, a read comes first, so an idle poll takes no write lock (SQLite has one).
        """
        if look:
            with self.db.read() as conn:
                if conn.execute(_LOOK, {"now": now}).scalar() is None:
                    return None
        with self.db.write() as conn:
            for shop in self._in_turn(conn, now):
                job = self._lease(conn, process, now, _CLAIM_OF_SHOP, {"of_shop": shop})
                if job is not None:
                    return job
            return self._lease(conn, process, now, _CLAIM, {})  # any shop's, a shop no longer set too

    def _in_turn(self, conn: Connection, now: float) -> list[str]:
        """The shops with a due job, in turn; none to choose between with one shop."""
        if len(self.shops) <= 2:
            return []
        running: dict[str, int] = {shop: count for shop, count in conn.execute(_RUNNING)}
        heads = [(running.get(shop, 0), run_at, shop) for shop in self.shops
                 if (run_at := conn.execute(_HEAD, {"now": now, "of_shop": shop}).scalar()) is not None]
        return [shop for *_, shop in sorted(heads)]

    def _lease(self, conn: Connection, process: str, now: float, statement: Executable,
               which: dict[str, object]) -> Job | None:
        """One statement: lease the job it picks to a new owner token, or nothing."""
        lease = self._lease_values(process, now)
        row = conn.execute(statement, {**which, **lease, "now": now, "updated_at": now}).first()
        return None if row is None else Job(row.id, JobKind(row.kind), row.ref, row.attempts,
                                            lease["lease_owner"], row.shop)

    def _lease_values(self, process: str, now: float) -> dict[str, Any]:
        """A lease for `process`: running, under an owner token of its own."""
        with self._claims_lock:
            owner = f"{process}/{next(self._claims)}"
        return {"status": JobStatus.RUNNING, "lease_owner": owner,
                "lease_expires": now + self.lease_seconds}

    def _settle(self, conn: Connection, job: Job, now: float, **values: object) -> None:
        done = conn.execute(_SETTLE, {"job_id": job.id, "owner": job.owner, "lease_owner": None,
                                      "lease_expires": None, "updated_at": now, **values}).rowcount
        if not done:
            raise LeaseLost(f"job {job.id} is no longer ours")

    def still_ours(self, conn: Connection, job: Job) -> None:
        """Lock the job's row for this transaction, or raise LeaseLost if it is not ours."""
        if conn.execute(_STILL_OURS, {"job_id": job.id, "owner": job.owner}).first() is None:
            raise LeaseLost(f"job {job.id} is no longer ours")

    def done(self, conn: Connection, job: Job, now: float) -> None:
        self._settle(conn, job, now, status=JobStatus.DONE, last_error=None)

    def settle(self, conn: Connection, job: Job, now: float, decision: Decision, error: str) -> None:
        """Carry out the retry decision: queued again after its delay, or failed."""
        if decision.action == Action.FAIL:
            self._settle(conn, job, now, status=JobStatus.FAILED, last_error=error,
                         attempts=job.attempts + 1)
        else:
            self._settle(conn, job, now, status=JobStatus.QUEUED, run_at=now + decision.delay,
                         last_error=error,
                         attempts=job.attempts + (decision.action == Action.RETRY))

    def reschedule(self, conn: Connection, job: Job, now: float, run_at: float,
                   error: str | None = None) -> None:
        """Done for now; run again at run_at (a recurring job)."""
        self._settle(conn, job, now, status=JobStatus.QUEUED, run_at=run_at, attempts=0,
                     last_error=error)

    def wake_shop(self, conn: Connection, shop: str, kinds: Collection[JobKind], now: float) -> None:
        """What waited for a shop (its connection) is due now."""
        if conn.execute(update(jobs).where(jobs.c.shop == shop, jobs.c.kind.in_(list(kinds)),
                                           jobs.c.status == JobStatus.QUEUED, jobs.c.run_at > now)
                        .values(run_at=now, updated_at=now)).rowcount:
            self.db.after_commit(conn, self.wake)
            self._notify(conn)

    def next_due(self, now: float) -> float | None:
        """When the next job falls due, or a running one's lease runs out; None if never."""
        with self.db.read() as conn:
            queued, leased = (conn.execute(statement).scalar() for statement in _NEXT_DUE)
        times = [t for t in (queued, leased) if t is not None]
        return min(times) if times else None

    def renew(self, conn: Connection, owners: Collection[str], now: float) -> None:
        """Keep the leases of these running jobs for another lease_seconds."""
        if owners:
            conn.execute(update(jobs).where(jobs.c.status == JobStatus.RUNNING,
                                            jobs.c.lease_owner.in_(list(owners)))
                         .values(lease_expires=now + self.lease_seconds))

    def release(self, conn: Connection, owners: Collection[str], now: float) -> int:
        """Hand these running jobs back, due at once and with no attempt spent: their process
        is stopping before it could finish them."""
        if not owners:
            return 0
        released = conn.execute(
            update(jobs).where(jobs.c.status == JobStatus.RUNNING,
                               jobs.c.lease_owner.in_(list(owners)))
            .values(status=JobStatus.QUEUED, run_at=now, lease_owner=None, lease_expires=None,
                    updated_at=now)).rowcount
        if released:
            self._notify(conn)
        return released

    def _notify(self, conn: Connection) -> None:
        """Wake the other processes' idle workers once conn commits (PostgreSQL only)."""
        if not self.db.is_sqlite:
            conn.execute(NOTIFY)
