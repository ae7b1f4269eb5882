"""The Dots.eco balance: asked every 15 minutes, kept a month, and how many days it will last at
the last 30 days' pace.

`GET /application-balance/{app_token}` is not in our references, so its answer is read
defensively: a number, or the first number under a likely key. A 403 ("company not yet
activated for production") or any other error means "balance unknown". Issuing never waits
for it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, delete, insert, select

from .context import Certhook
from .http import ApiError
from .jobs.queue import Job
from .models import balances
from .outbox.record import balance_event
from .statuses import ItemKind, JobKind

log = logging.getLogger(__name__)
POLL_SECONDS = 15 * 60
KEEP_SECONDS = 31 * 86400
PACE_SECONDS = 30 * 86400
WARN_DAYS = 14
KEYS = ("balance", "available_balance", "current_balance", "credit", "credits", "amount", "remaining")


def read(answer: Any) -> float | None:
    """The balance in an answer of unknown shape, or None."""
    if isinstance(answer, bool):
        return None
    if isinstance(answer, int | float | str):
        try:
            value = float(str(answer).replace(",", "").strip())
        except ValueError:
            return None
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(answer, dict):
        for key in (*KEYS, "data"):
            if key in answer and (value := read(answer[key])) is not None:
                return value
    return None


@dataclass(frozen=True)
class Balance:
    value: float | None  # None: unknown
    checked_at: float
    days_left: float | None  # at the last 30 days' pace; None when it did not go down
    error: str | None = None

    @property
    def running_low(self) -> bool:
        return self.days_left is not None and self.days_left < WARN_DAYS


def ensure_balance(ch: Certhook) -> None:
    """The recurring balance job, when certhook issues Dots.eco certificates."""
    if ItemKind.CERTIFICATE in ch.issuers and ch.settings.dots.app_token:
        with ch.db.write() as conn:
            ch.queue.enqueue(conn, JobKind.BALANCE, "dots", ch.now())


def run_balance_job(ch: Certhook, job: Job) -> None:
    now, value, error = ch.now(), None, None
    http = ch.issuers[ItemKind.CERTIFICATE].http
    try:
        value = read(http.json("GET", f"/application-balance/{quote(ch.settings.dots.app_token, safe='')}"))
        error = None if value is not None else "the answer names no balance"
    except ApiError as exc:
        error = exc.message
    with ch.db.write() as conn:
        conn.execute(insert(balances).values(checked_at=now, balance=value, error=error))
        conn.execute(delete(balances).where(balances.c.checked_at < now - KEEP_SECONDS))
        last = latest(conn, now)
        if last is not None and last.running_low:
            balance_event(ch, conn, last.value, last.days_left)
        ch.queue.reschedule(conn, job, now, now + POLL_SECONDS)
    if error:
        log.info("Dots.eco balance unknown: %s", error)


def latest(conn: Connection, now: float) -> Balance | None:
    """The last answer, with the days it lasts at the pace of the last 30 days; None if never asked."""
    last = conn.execute(select(balances).order_by(balances.c.checked_at.desc()).limit(1)).first()
    if last is None:
        return None
    if last.balance is None:
        return Balance(None, last.checked_at, None, last.error)
    first = conn.execute(select(balances).where(
        balances.c.balance.is_not(None), balances.c.checked_at >= now - PACE_SECONDS)
        .order_by(balances.c.checked_at).limit(1)).first()
    days = (last.checked_at - first.checked_at) / 86400 if first else 0
    spent = (first.balance - last.balance) if first else 0
    days_left = last.balance / (spent / days) if days > 0 and spent > 0 else None
    return Balance(last.balance, last.checked_at, days_left)
