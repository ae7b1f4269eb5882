"""The events job, one per endpoint: it POSTs the endpoint's due events oldest first, each with
the message id and body it was recorded with, signed with the endpoint's secret.

2xx is delivered. 410 Gone disables the endpoint: what it had pending fails, and nothing more
is recorded for it until it is enabled again. Anything else (no answer within 10 s, an answer
over 256 KiB, any other status) is tried again after the one retry decision's delay, and given
up 3 days after the first try. One endpoint's job holds at most one worker, so a receiver that
hangs never holds up an order's own steps.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update
from standardwebhooks import Webhook

from ..context import Certhook
from ..http import ApiError, Client, RateLimited, Transient
from ..jobs.queue import Job
from ..jobs.retry import decide
from ..models import outbox
from ..settings import Endpoint
from ..statuses import EventStatus, EventType, JobKind
from . import manage
from .record import body, message_id

log = logging.getLogger(__name__)
TIMEOUT = (5.0, 5.0)          # connect, read: 10 s in all, the answer included
ANSWER_BYTES = 256 * 1024     # an answer is read this far, no further
GIVE_UP_SECONDS = 3 * 86400   # after the first try
IDLE_SECONDS = 30.0           # an endpoint with nothing due looks again this soon
BATCH = 50                    # events a run sends before it lets its worker go
SHOWN = 200                   # characters of an answer kept to show

_DUE = (select(outbox).where(outbox.c.endpoint == bindparam("endpoint"),
                             outbox.c.status == EventStatus.PENDING, outbox.c.next_at <= bindparam("now"))
        .order_by(outbox.c.next_at, outbox.c.id).limit(1))
_NEXT = select(func.min(outbox.c.next_at)).where(outbox.c.endpoint == bindparam("endpoint"),
                                                 outbox.c.status == EventStatus.PENDING)
_SETTLE = update(outbox).where(outbox.c.id == bindparam("row_id"), outbox.c.status == EventStatus.PENDING)


@dataclass(frozen=True)
class Sent:
    """One try: the answer's status (None: no answer), its first characters, what went wrong."""

    code: int | None
    answer: str
    error: ApiError | None = None


def ensure_jobs(ch: Certhook) -> None:
    """Each endpoint's job, due now: a worker that starts sends what waits."""
    with ch.db.write() as conn:
        for endpoint in ch.settings.events:
            ch.queue.enqueue(conn, JobKind.EVENTS, endpoint.key, ch.now())


def client(ch: Certhook, endpoint: Endpoint) -> Client:
    """The endpoint's client (its whole URL is each call's path: kept as written)."""
    return ch.http.get(("events", endpoint.url), lambda: Client(
        f"events endpoint {manage.host(endpoint.url)}", "", TIMEOUT, max_bytes=ANSWER_BYTES,
        headers={"Content-Type": "application/json"}))


def send(ch: Certhook, endpoint: Endpoint, message_id: str, body: str) -> Sent:
    """POST one event, signed; never raises for what the endpoint does."""
    stamp = time.time()  # the receiver holds it against its own clock, so the wall clock's
    signature = Webhook(endpoint.secret).sign(message_id, datetime.fromtimestamp(stamp, UTC), body)
    headers = {"webhook-id": message_id, "webhook-timestamp": str(int(stamp)),
               "webhook-signature": signature}
    try:
        answer = client(ch, endpoint).request("POST", endpoint.url, data=body.encode(), headers=headers)
    except ApiError as exc:
        return Sent(exc.status, exc.body[:SHOWN] if exc.status else "", exc)
    return Sent(answer.status_code, answer.text[:SHOWN])


def run_events_job(ch: Certhook, job: Job) -> None:
    endpoint = next((e for e in ch.settings.events if e.key == job.ref), None)
    with ch.db.read() as conn:
        off = endpoint is None or manage.disabled(conn, endpoint) is not None
    if endpoint is None or off:  # gone from the settings, or disabled: its job is done
        with ch.db.write() as conn:
            ch.queue.done(conn, job, ch.now())
        return
    for _ in range(BATCH):
        with ch.db.read() as conn:
            row = conn.execute(_DUE, {"endpoint": endpoint.key, "now": ch.now()}).first()
        if row is None:
            break
        sent = send(ch, endpoint, row.message_id, row.body)
        with ch.db.write() as conn:
            ch.queue.still_ours(conn, job)
            if not _settle(ch, conn, endpoint, row, sent):
                ch.queue.done(conn, job, ch.now())  # disabled
                return
    with ch.db.write() as conn:
        due = conn.execute(_NEXT, {"endpoint": endpoint.key}).scalar()
        now = ch.now()
        ch.queue.reschedule(conn, job, now, min(max(due or now + IDLE_SECONDS, now), now + IDLE_SECONDS))


def _settle(ch: Certhook, conn: Connection, endpoint: Endpoint, row: Any, sent: Sent) -> bool:
    """Record one try; False when the endpoint said 410 Gone (it is disabled now)."""
    now = ch.now()
    values: dict[str, Any] = {"row_id": row.id, "attempts": row.attempts + 1, "last_try_at": now,
                              "first_try_at": row.first_try_at or now, "last_code": sent.code,
                              "last_answer": sent.answer, "updated_at": now}
    if sent.error is None:
        conn.execute(_SETTLE, {**values, "status": EventStatus.DELIVERED, "error": None})
        return True
    if sent.code == 410:
        conn.execute(_SETTLE, {**values, "status": EventStatus.FAILED, "error": sent.error.message})
        manage.disable(conn, endpoint, now)
        log.warning("events endpoint %s answered 410 Gone: disabled", manage.host(endpoint.url))
        return False
    # Any answer but 2xx and 410 is tried again, as a passing fault, until 3 days are up
    error = sent.error if isinstance(sent.error, RateLimited) else Transient(sent.error.message)
    delay = decide(error, row.attempts + 1, ch.policy, forever=True).delay
    over = now - values["first_try_at"] >= GIVE_UP_SECONDS
    conn.execute(_SETTLE, {**values, "error": sent.error.message, "next_at": now + delay,
                           "status": EventStatus.FAILED if over else EventStatus.PENDING})
    log.warning("event %s to %s: %s%s", row.message_id, manage.host(endpoint.url), sent.error.message,
                " (given up after 3 days)" if over else "")
    return True


def send_test_events(ch: Certhook, url: str | None = None) -> list[tuple[Endpoint, str, Sent]]:
    """A signed `test` event to each endpoint, or to `url` (with its secret if it is one of
    them, else the first one's), sent now and outside the outbox: (endpoint, message id, sent)."""
    endpoints = list(ch.settings.events)
    if url is not None:
        same = [e for e in endpoints if e.url == url]
        endpoints = same or [Endpoint(url, e.secret, ()) for e in endpoints[:1]]
    out = []
    for endpoint in endpoints:
        message = message_id()
        data = {"message": "a test event from certhook: it arrived, and its signature verifies"}
        out.append((endpoint, message, send(ch, endpoint, message, body(EventType.TEST, ch.now(), data))))
    return out
