"""Run queued jobs, `workers` at once per process, each under a lease.

The worker knows no kind of job: it is handed a table of handlers. A handler that raises goes
through the one retry decision here, and its `failed` records what that means for its order.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from ..http import ApiError
from ..models import JobKind
from .queue import Job, LeaseLost
from .retry import Action, decide

if TYPE_CHECKING:  # the context builds a worker's queue; only its type is needed here
    from ..context import Certhook

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Handler:
    run: Callable[[Certhook, Job], None]
    # (ch, conn, job ref, message, final): record why it failed, in the job's transaction
    failed: Callable[[Certhook, Connection, str, str, bool], None]


def reason_of(exc: Exception) -> str:
    """What the order shows: the service's message, or which crash of our own."""
    if isinstance(exc, ApiError):
        return exc.message
    return f"internal error: {type(exc).__name__}: {exc}"[:500]


class Worker:
    def __init__(self, ch: Certhook, handlers: Mapping[JobKind, Handler],
                 concurrency: int | None = None, poll_seconds: float = 0.5):
        self.ch, self.handlers = ch, handlers
        self.concurrency = concurrency or ch.settings.workers
        self.poll_seconds = poll_seconds
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._pool: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None

    def run_one(self) -> bool:
        """Claim and run one due job in this thread; False when none is due."""
        job = self.ch.queue.claim(self.owner, self.ch.now())
        if job is None:
            return False
        self._run(job)
        return True

    def _run(self, job: Job) -> None:
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
        decision = decide(exc, job.attempts + 1, self.ch.policy)
        try:
            with self.ch.db.write() as conn:
                self.ch.queue.settle(conn, job, self.ch.now(), decision, message)
                handler.failed(self.ch, conn, job.ref, message, decision.action == Action.FAIL)
        except LeaseLost:
            log.warning("job %s: lease lost before its failure was recorded", job.id)
        except Exception:
            log.exception("job %s: could not record the failure; its lease will expire", job.id)

    def start(self) -> None:
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="certhook-job")
        self._thread = threading.Thread(target=self._loop, name="certhook-poller", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        assert self._pool is not None
        while not self._stop.is_set():
            if not self._slots.acquire(timeout=self.poll_seconds):
                continue
            try:
                job = self.ch.queue.claim(self.owner, self.ch.now())
            except Exception:
                log.exception("could not claim a job")
                job = None
            if job is None:
                self._slots.release()
                self._stop.wait(self.poll_seconds)
                continue
            self._pool.submit(self._run_and_release, job)

    def _run_and_release(self, job: Job) -> None:
        try:
            self._run(job)
        finally:
            self._slots.release()

    def stop(self, wait: bool = True) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
