"""Run queued jobs, `workers` at once per process, each under a lease.

The worker knows no kind of job: it is handed a table of handlers. A handler that raises goes
through the one retry decision here, and its `failed` records what that means for its order.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from ..http import ApiError
from ..redaction import redacted
from ..statuses import JobKind
from . import processes, wakeups
from .processes import process_id
from .queue import Job, LeaseLost
from .retry import Action, decide

if TYPE_CHECKING:  # the context builds a worker's queue; only its type is needed here
    from ..context import Certhook

log = logging.getLogger(__name__)
SQLITE_POLL = 0.5   # on SQLite, other processes' commits wake us (wakeups.resting); this polls
NOTIFY_POLL = 5.0   # on PostgreSQL NOTIFY wakes us; the poll only covers a lost connection
MIN_WAIT = 0.05     # a due job another worker holds locked: look again this soon
GRACE_SECONDS = 20.0


@dataclass(frozen=True)
class Handler:
    run: Callable[[Certhook, Job], None]
    # (ch, conn, job ref, message, final): record why it failed, in the job's transaction; None:
    # the job's own last error is the record (a recurring job's, which the dashboard shows)
    failed: Callable[[Certhook, Connection, str, str, bool], None] | None
    recurring: bool = False  # never fails for good: it backs off, then comes back


def reason_of(exc: Exception) -> str:
    """What the order shows: the service's message, or which crash of our own."""
    if isinstance(exc, ApiError):
        return exc.message
    return redacted(f"internal error: {type(exc).__name__}: {exc}")[:500]


class Worker:
    """Up to `concurrency` jobs at once: one claim loop takes due jobs and hands each to a thread
    of the pool; woken by enqueues, else polling as the database needs.

    A heartbeat thread renews the leases of the jobs running here every third of a lease. On
    stop it claims nothing more, lets running jobs finish within the grace period, and hands
    back the leases of the rest, so a restart takes them up at once.
    """

    def __init__(self, ch: Certhook, handlers: Mapping[JobKind, Handler],
                 concurrency: int | None = None, role: str = "worker"):
        self.ch, self.handlers, self.role = ch, handlers, role
        self.concurrency = concurrency or ch.settings.workers
        # SQLite has no NOTIFY: another process's enqueue is seen at the next poll.
        self.poll_seconds = SQLITE_POLL if ch.db.is_sqlite else NOTIFY_POLL
        self.process = process_id()
        self._held: set[str] = set()  # the owner tokens of the jobs running here
        self._idle = threading.Condition()
        self._wake = threading.Event()
        self._rest = wakeups.resting(ch.db, self._wake)
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._pool: ThreadPoolExecutor | None = None
        self._threads: list[threading.Thread] = []

    def running(self) -> int:
        """How many jobs this worker's threads are running (or finishing after a stop)."""
        with self._idle:
            return len(self._held)

    def run_one(self) -> bool:
        """Claim and run one due job in this thread; False when none is due."""
        job = self.ch.queue.claim(self.process, self.ch.now())
        if job is None:
            return False
        self._run(job)
        return True

    def _run(self, first: Job) -> None:
        """Run the job, then each job it handed on (an order's evaluate → issue → write-back),
        in this thread; a stopping worker hands those back instead of starting them."""
        job, handed = first, []
        while True:
            self._run_handler(job)
            handed += job.then
            self._swap(job.owner, [j.owner for j in job.then])
            if not handed:
                return
            if self._stopping.is_set():
                self._hand_back(handed)
                return
            job = handed.pop(0)

    def _swap(self, finished: str, taken: list[str]) -> None:
        with self._idle:
            self._held.discard(finished)
            self._held.update(taken)
            self._idle.notify_all()

    def _hand_back(self, handed: list[Job]) -> None:
        """Jobs leased here but not started: due again at once, for any worker."""
        owners = {job.owner for job in handed}
        try:
            with self.ch.db.write() as conn:
                self.ch.queue.release(conn, owners, self.ch.now())
        except Exception:  # they stay held: stopping tries once more
            log.exception("could not hand back %d job(s)", len(owners))
            return
        with self._idle:
            self._held -= owners
            self._idle.notify_all()

    def _run_handler(self, job: Job) -> None:
        handler = self.handlers[job.kind]
        try:
            handler.run(self.ch, job)
        except LeaseLost:
            log.warning("job %s (%s %s): lease lost, left to its new owner", job.id, job.kind,
                        job.ref)
        except Exception as exc:
            if isinstance(exc, ApiError):
                log.warning("job %s (%s %s): %s", job.id, job.kind, job.ref, exc.message)
            else:  # a bug, or an outage of our own database
                log.exception("job %s (%s %s) crashed", job.id, job.kind, job.ref)
            self._failed(job, handler, exc)

    def _failed(self, job: Job, handler: Handler, exc: Exception) -> None:
        message = reason_of(exc)
        decision = decide(exc, job.attempts + 1, self.ch.policy, forever=handler.recurring)
        try:
            with self.ch.db.write() as conn:
                self.ch.queue.settle(conn, job, self.ch.now(), decision, message)
                if handler.failed is not None:
                    handler.failed(self.ch, conn, job.ref, message, decision.action == Action.FAIL)
        except LeaseLost:
            log.warning("job %s: lease lost before its failure was recorded", job.id)
        except Exception:
            log.exception("job %s: could not record the failure; its lease will expire", job.id)

    def start(self) -> None:
        processes.register(self.ch.db, self.process, self.role, self.ch.now())
        self.ch.queue.on_enqueue(self._wake.set)
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="certhook-job")
        for target, name in ((self._loop, "certhook-claim"), (self._beat, "certhook-heartbeat")):
            self._threads.append(threading.Thread(target=target, name=name, daemon=True))
            self._threads[-1].start()
        if not self.ch.db.is_sqlite:
            self._threads.append(wakeups.listen(self.ch.db, self._wake.set, self._stopped))

    def _loop(self) -> None:
        assert self._pool is not None
        busy = False  # a claim just found a job: the next claims skip the look before the write
        while not self._stopping.is_set():
            if not self._slots.acquire(timeout=self.poll_seconds):
                continue
            self._wake.clear()  # set again by any enqueue committed from here on
            job = None if self._stopping.is_set() else self._claim(look=not busy)
            busy = job is not None
            if job is None:
                self._slots.release()
                self._rest(self._idle_seconds())
                continue
            with self._idle:
                self._held.add(job.owner)
            self._pool.submit(self._run_and_release, job)

    def _claim(self, look: bool) -> Job | None:
        try:
            return self.ch.queue.claim(self.process, self.ch.now(), look)
        except Exception:
            log.exception("could not claim a job")
            return None

    def _idle_seconds(self) -> float:
        """Until the next job is due, at most a poll interval."""
        try:
            due = self.ch.queue.next_due(self.ch.now())
        except Exception:
            log.exception("could not read when the next job is due")
            due = None
        if due is None:
            return self.poll_seconds
        return min(max(due - self.ch.now(), MIN_WAIT), self.poll_seconds)

    def _run_and_release(self, job: Job) -> None:
        try:
            self._run(job)
        finally:
            self._slots.release()

    def _beat(self) -> None:
        while not self._stopped.wait(self.ch.settings.lease_seconds / 3):
            with self._idle:
                owners = set(self._held)
            try:
                processes.beat(self.ch.queue, self.process, self.role, owners, self.ch.now())
            except Exception:
                log.exception("heartbeat failed; leases run out unless the next one succeeds")

    def stop(self, grace: float = GRACE_SECONDS) -> None:
        """Claim nothing more; let running jobs finish within `grace` seconds; hand back the
        rest. A second call waits for the first."""
        if self._stopping.is_set():
            self._stopped.wait(grace + 5)
            return
        self._stopping.set()
        self._wake.set()
        deadline = time.monotonic() + grace
        if self._threads:  # the claim loop: what it claims from now on is in _held
            self._threads[0].join(timeout=self.poll_seconds + 1)
        with self._idle:
            self._idle.wait_for(lambda: not self._held, timeout=max(deadline - time.monotonic(), 0))
            unfinished = set(self._held)
        try:
            released = processes.leave(self.ch.queue, self.process, unfinished, self.ch.now())
        except Exception:
            log.exception("could not hand back %d job(s); their leases will run out", len(unfinished))
        else:
            if released:
                log.warning("stopping: %d job(s) not finished in %.0f s handed back", released, grace)
        self._stopped.set()
        for thread in self._threads:
            thread.join(timeout=max(deadline - time.monotonic(), 2))  # LISTEN looks every 1 s
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
