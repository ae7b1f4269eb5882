"""Wrong tokens slow the next try down, counted in the database so every process agrees.

Per client: after 3 wrong tries, each next one waits twice as long, up to 5 minutes. In all:
after 30 (a guess spread over many addresses), the same up to 1 minute. A right token clears
its client's count; counts an hour old start again. The dashboard's sign-in and the API's
bearer token each have their own. A session epoch lives beside them: signing out ends every
dashboard session.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, case, delete, select, update

from ..db import Database
from ..models import counters

STALE_SECONDS = 3600.0
EPOCH = "session-epoch"
_VALUES = select(counters.c.name, counters.c.value, counters.c.updated_at).where(
    counters.c.name.in_(bindparam("names", expanding=True)))
_BUMP = update(counters).where(counters.c.name == bindparam("counter")).values(value=case(
    (counters.c.updated_at < bindparam("stale"), 1), else_=counters.c.value + 1))


@dataclass(frozen=True)
class Limit:
    free: int    # wrong tries before any wait
    cap: float   # the longest wait, in seconds

    def wait(self, count: int, last: float, now: float) -> float:
        if count < self.free or last < now - STALE_SECONDS:
            return 0.0
        return max(last + min(2.0 ** (count - self.free), self.cap) - now, 0.0)


CLIENT, EVERYONE = Limit(free=3, cap=300.0), Limit(free=30, cap=60.0)


def bump(db: Database, conn: Connection, name: str, now: float, stale: float = 0.0) -> None:
    """Count one more; a count last touched before `stale` starts again at 1."""
    conn.execute(db.insert_new(counters, "name"), {"name": name, "value": 0, "updated_at": now})
    conn.execute(_BUMP, {"counter": name, "stale": stale, "updated_at": now})


class Throttle:
    def __init__(self, db: Database, scope: str):
        self.db, self.scope = db, scope

    def _names(self, client: str) -> tuple[str, str]:
        return f"{self.scope}:{client[:64]}", f"{self.scope}:*"

    def wait(self, client: str, now: float) -> float:
        """Seconds before this client may try again (0: now)."""
        mine, everyone = self._names(client)
        with self.db.read() as conn:
            found = {r.name: r for r in conn.execute(_VALUES, {"names": [mine, everyone]})}
        waits = [limit.wait(found[name].value, found[name].updated_at, now)
                 for name, limit in ((mine, CLIENT), (everyone, EVERYONE)) if name in found]
        return max(waits, default=0.0)

    def failed(self, client: str, now: float) -> None:
        with self.db.write() as conn:
            for name in self._names(client):
                bump(self.db, conn, name, now, stale=now - STALE_SECONDS)

    def succeeded(self, client: str) -> None:
        with self.db.write() as conn:
            conn.execute(delete(counters).where(counters.c.name == self._names(client)[0]))


def forget_stale(conn: Connection, before: float) -> None:
    """Throttle counts untouched since `before` (the session epoch is kept)."""
    conn.execute(delete(counters).where(counters.c.name != EPOCH, counters.c.updated_at < before))


def session_epoch(db: Database) -> int:
    with db.read() as conn:
        value = conn.execute(select(counters.c.value).where(counters.c.name == EPOCH)).scalar()
    return value or 0


def end_sessions(db: Database, now: float) -> None:
    """Every session signed in before now is over."""
    with db.write() as conn:
        bump(db, conn, EPOCH, now)
