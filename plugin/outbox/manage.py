"""What the dashboard, the metrics and the CLI see of events out, and what they may do: an
endpoint's recent deliveries, what waits per endpoint, a failed event sent again, a disabled
endpoint enabled."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, delete, func, select, update

from ..db import put
from ..models import counters, outbox
from ..settings import Endpoint
from ..statuses import EventStatus, JobKind
from .record import DISABLED

if TYPE_CHECKING:  # the context is built on top of this; only its type is needed here
    from ..context import Certhook

RECENT = 50  # deliveries shown per endpoint


def host(url: str) -> str:
    """What the log names an endpoint by: its host (a path may carry a token)."""
    return urlsplit(url).netloc.rpartition("@")[2]


def disabled(conn: Connection, endpoint: Endpoint) -> float | None:
    """When it was disabled by a 410, or None."""
    return conn.execute(select(counters.c.updated_at)
                        .where(counters.c.name == DISABLED + endpoint.key)).scalar()


def disable(conn: Connection, endpoint: Endpoint, now: float) -> None:
    """It said 410 Gone: what it had pending fails, and nothing more is recorded for it."""
    put(conn, counters, {"name": DISABLED + endpoint.key}, value=1, updated_at=now)
    conn.execute(update(outbox).where(outbox.c.endpoint == endpoint.key,
                                      outbox.c.status == EventStatus.PENDING)
                 .values(status=EventStatus.FAILED, updated_at=now,
                         error="not sent: the endpoint answered 410 Gone and was disabled"))


def enable(ch: Certhook, endpoint: Endpoint) -> None:
    with ch.db.write() as conn:
        conn.execute(delete(counters).where(counters.c.name == DISABLED + endpoint.key))
        ch.queue.enqueue(conn, JobKind.EVENTS, endpoint.key, ch.now())


def retry(ch: Certhook, row_id: int) -> bool:
    """Send a failed event again (the same id and body), its 3 days counted afresh."""
    now = ch.now()
    with ch.db.write() as conn:
        row = conn.execute(select(outbox.c.endpoint).where(
            outbox.c.id == row_id, outbox.c.status == EventStatus.FAILED)).first()
        if row is None:
            return False
        conn.execute(update(outbox).where(outbox.c.id == row_id).values(
            status=EventStatus.PENDING, next_at=now, first_try_at=None, updated_at=now))
        ch.queue.enqueue(conn, JobKind.EVENTS, row.endpoint, now)
        return True


def pending(conn: Connection) -> dict[str, int]:
    """Events waiting to be sent, per endpoint URL."""
    return dict(conn.execute(select(outbox.c.url, func.count()).where(
        outbox.c.status == EventStatus.PENDING).group_by(outbox.c.url)).all())


@dataclass(frozen=True)
class Summary:
    endpoint: Endpoint | None  # None: no longer in the settings
    url: str
    disabled_at: float | None
    pending: int
    recent: list[Any]


def summaries(ch: Certhook, conn: Connection) -> list[Summary]:
    """Each endpoint in the settings, then each that is gone but left events, newest first."""
    waiting = pending(conn)
    known = {e.key: e for e in ch.settings.events}
    gone = conn.execute(select(outbox.c.endpoint, func.max(outbox.c.url)).where(
        outbox.c.endpoint.not_in(list(known) or [""])).group_by(outbox.c.endpoint)).all()
    out = []
    for key, endpoint, url in [*((k, e, e.url) for k, e in known.items()), *((k, None, u) for k, u in gone)]:
        recent = conn.execute(select(outbox).where(outbox.c.endpoint == key)
                              .order_by(outbox.c.id.desc()).limit(RECENT)).all()
        out.append(Summary(endpoint, url, disabled(conn, endpoint) if endpoint else None,
                           waiting.get(url, 0), recent))
    return out
