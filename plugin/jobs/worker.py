"""Run queued jobs: `workers` at once per process, each under a lease."""
from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from ..context import Certhook
from ..models import JobKind
from ..store import give_up
from .queue import Job, LeaseLost
from .retry import next_delay

log = logging.getLogger(__name__)
Handler = Callable[[Certhook, Job], None]


def handlers() -> dict[JobKind, Handler]:
    from ..courses import run_certfusion_job
    from ..issuance import run_certificate_job, run_order_job
    from ..reconcile import run_reconcile_job
    from ..writeback import run_writeback_job

    return {
        JobKind.ORDER: run_order_job,
        JobKind.CERTIFICATE: run_certificate_job,
        JobKind.WRITEBACK: run_writeback_job,
        JobKind.RECONCILE: run_reconcile_job,
        JobKind.CERTFUSION: run_certfusion_job,
    }


class Worker:
    def __init__(self, ch: Certhook, concurrency: int | None = None, poll_seconds: float = 0.5):
        self.ch = ch
        self.concurrency = concurrency or ch.settings.workers
        self.poll_seconds = poll_seconds
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.handlers = handlers()
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
        try:
            self.handlers[job.kind](self.ch, job)
        except LeaseLost:
            log.warning("job %s (%s %s): lease lost, left to its new owner", job.id, job.kind,
                        job.ref)
        except Exception as exc:  # a bug or an outage of our own database: retry later
            log.exception("job %s (%s %s) crashed", job.id, job.kind, job.ref)
            self._crashed(job, f"internal error: {type(exc).__name__}: {exc}"[:500])

    def _crashed(self, job: Job, error: str) -> None:
        s = self.ch.settings
        delay = next_delay(job.attempts + 1, s.retry_base_seconds, s.retry_max_seconds,
                           s.max_attempts)
        try:
            with self.ch.db.write() as conn:
                if delay is None:
                    self.ch.queue.fail(conn, job, self.ch.now(), error)
                    give_up(self.ch, conn, job.kind, job.ref, error)
                else:
                    self.ch.queue.retry(conn, job, self.ch.now(), delay, error)
        except Exception:
            log.exception("job %s: could not record the crash; its lease will expire", job.id)

    def start(self) -> None:
        from ..reconcile import ensure_jobs

        ensure_jobs(self.ch)
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
