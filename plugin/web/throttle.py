"""Wrong tokens slow their own client down, counted in the database so every process agrees.

A client's own wrong tries: after 3, every try of that client (a right token too, or the wait
would not slow guessing) waits twice as long as the last, up to 5 minutes. A right token clears
its count; a count an hour old starts again. Each surface (the dashboard's sign-in, the API's
bearer token, /metrics) counts on its own.

Wrong tries from every client together never refuse anyone: that would let a stranger with a
few addresses lock the admin out, and guessing a 16-character token is hopeless anyway. They
are counted (`certhook_auth_failures_total{surface}`), and past 30 in an hour they warn in the
log and on the dashboard. A session epoch lives beside the counts: signing out (or a new
admin_token) ends every dashboard session.
"""
from __future__ import annotations

import logging

from sqlalchemy import Connection, and_, bindparam, case, delete, select, update

from ..db import Database
from ..models import counters

log = logging.getLogger(__name__)
SURFACES = ("dashboard", "api", "metrics")
STALE_SECONDS = 3600.0
FREE, CAP = 3, 300.0  # a client's wrong tries before any wait; the longest wait, in seconds
WARN_AT = 30          # wrong tries in an hour from every client together
EPOCH = "session-epoch"
TOTAL = "failures:"   # + surface: every wrong try ever, for the metric
_VALUES = select(counters.c.name, counters.c.value, counters.c.updated_at).where(
    counters.c.name.in_(bindparam("names", expanding=True)))
_BUMP = update(counters).where(counters.c.name == bindparam("counter")).values(value=case(
    (counters.c.updated_at < bindparam("stale"), 1), else_=counters.c.value + 1))


def client_wait(count: int, last: float, now: float) -> float:
    """Seconds before a client with `count` wrong tries, the last at `last`, may try again."""
    if count < FREE or last < now - STALE_SECONDS:
        return 0.0
    return max(last + min(2.0 ** (count - FREE), CAP) - now, 0.0)


def bump(db: Database, conn: Connection, name: str, now: float, stale: float = 0.0) -> int:
    """Count one more and return the count; a count last touched before `stale` starts at 1."""
    conn.execute(db.insert_new(counters, "name"), {"name": name, "value": 0, "updated_at": now})
    conn.execute(_BUMP, {"counter": name, "stale": stale, "updated_at": now})
    return int(conn.execute(select(counters.c.value).where(counters.c.name == name)).scalar_one())


class Throttle:
    def __init__(self, db: Database, surface: str):
        assert surface in SURFACES
        self.db, self.surface = db, surface

    def _mine(self, client: str) -> str:
        return f"{self.surface}:{client[:64]}"

    def wait(self, client: str, now: float) -> float:
        """Seconds before this client may try again (0: now)."""
        with self.db.read() as conn:
            row = conn.execute(_VALUES, {"names": [self._mine(client)]}).first()
        return 0.0 if row is None else client_wait(row.value, row.updated_at, now)

    def failed(self, client: str, now: float) -> None:
        with self.db.write() as conn:
            bump(self.db, conn, self._mine(client), now, stale=now - STALE_SECONDS)
            everyone = bump(self.db, conn, f"{self.surface}:*", now, stale=now - STALE_SECONDS)
            bump(self.db, conn, TOTAL + self.surface, now)
        if everyone % WARN_AT == 0:
            log.warning("%s: %d wrong tokens in the last hour from every client together; each "
                        "client is slowed down on its own, no one is locked out", self.surface, everyone)

    def succeeded(self, client: str) -> None:
        with self.db.write() as conn:
            conn.execute(delete(counters).where(counters.c.name == self._mine(client)))


def warnings(conn: Connection, now: float) -> list[str]:
    """Each surface with WARN_AT or more wrong tokens in the last hour, for the dashboard."""
    rows = conn.execute(_VALUES, {"names": [f"{s}:*" for s in SURFACES]}).all()
    return [f"{row.name[:-2]}: {row.value} wrong tokens in the last hour from every client together"
            for row in rows if row.value >= WARN_AT and row.updated_at >= now - STALE_SECONDS]


def failures(conn: Connection) -> dict[str, int]:
    """Every wrong token ever, by surface."""
    rows = conn.execute(_VALUES, {"names": [TOTAL + s for s in SURFACES]}).all()
    found = {row.name.removeprefix(TOTAL): row.value for row in rows}
    return {surface: found.get(surface, 0) for surface in SURFACES}


def forget_stale(conn: Connection, before: float) -> None:
    """Throttle counts untouched since `before` (the session epoch and the totals are kept)."""
    conn.execute(delete(counters).where(and_(counters.c.name != EPOCH, counters.c.updated_at < before,
                                             counters.c.name.not_like(TOTAL + "%"))))


def session_epoch(db: Database) -> int:
    with db.read() as conn:
        value = conn.execute(select(counters.c.value).where(counters.c.name == EPOCH)).scalar()
    return value or 0


def end_sessions(db: Database, now: float) -> None:
    """Every session signed in before now is over."""
    with db.write() as conn:
        bump(db, conn, EPOCH, now)
