"""The job table: what each kind of job runs, and what its failure means for its order.

An order goes evaluate → issue → writeback; reconcile brings in orders whose webhook never came;
prune forgets, once a day, what is kept only for a while; balance asks Dots.eco for the app's;
storefront keeps a Shopify shop's impact metafield up to date; events sends what was recorded
for an events endpoint.
"""
from __future__ import annotations

from . import budgets, storefront_sync
from .balance import ensure_balance, run_balance_job
from .context import Certhook
from .evaluation import run_evaluate_job
from .issuance import run_issue_job
from .jobs.worker import Handler, Worker
from .outbox import send as events
from .outbox.send import run_events_job
from .reconcile import ensure_jobs, run_reconcile_job
from .retention import ensure_prune, run_prune_job
from .statuses import JobKind
from .store import items
from .storefront_sync import run_storefront_job
from .writeback import run_writeback_job

HANDLERS = {
    JobKind.EVALUATE: Handler(run_evaluate_job, items.evaluation_failed),
    JobKind.ISSUE: Handler(run_issue_job, items.issue_failed),
    JobKind.WRITEBACK: Handler(run_writeback_job, items.writeback_failed),
    JobKind.RECONCILE: Handler(run_reconcile_job, None, recurring=True),
    JobKind.PRUNE: Handler(run_prune_job, None, recurring=True),
    JobKind.BALANCE: Handler(run_balance_job, None, recurring=True),
    JobKind.STOREFRONT: Handler(run_storefront_job, None, recurring=True),
    JobKind.EVENTS: Handler(run_events_job, None, recurring=True),
}


def worker(ch: Certhook, concurrency: int | None = None, role: str = "worker") -> Worker:
    return Worker(ch, HANDLERS, concurrency, role)


def start_worker(ch: Certhook, role: str = "worker") -> Worker:
    """The background workers of a process, with every shop's reconciliation, the prune, the
    balance, what a monthly budget held and what a refused Shopify app waited for due at once."""
    ensure_jobs(ch)
    ensure_prune(ch)
    budgets.release(ch)
    ensure_balance(ch)
    storefront_sync.ensure_jobs(ch)
    events.ensure_jobs(ch)
    ch.connections.retry_refused()
    jobs = worker(ch, role=role)
    jobs.start()
    return jobs
