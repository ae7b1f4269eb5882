"""How an idle worker hears of other processes' enqueues: LISTEN/NOTIFY on PostgreSQL; on
SQLite, which has no NOTIFY, a look every 50 ms at whether another connection committed."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ..db import Database
from .queue import CHANNEL

log = logging.getLogger(__name__)
WATCH_SECONDS = 0.05  # SQLite: an idle worker looks this often for other connections' commits


def resting(db: Database, wake: threading.Event) -> Callable[[float], None]:
    """How an idle worker waits: until woken (an enqueue in this process; NOTIFY) or the time is
    up; on SQLite also as soon as another connection has committed (PRAGMA data_version moved:
    a few microseconds to read), then it looks for a due job."""
    if not db.is_sqlite:
        return wake.wait  # type: ignore[return-value]

    def rest(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        try:
            _watch(db, wake, deadline)
        except Exception:  # the database unreadable for now: its poll covers the gap
            log.exception("could not look for other processes' commits")
            wake.wait(max(deadline - time.monotonic(), 0))
    return rest


def _watch(db: Database, wake: threading.Event, deadline: float) -> None:
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        seen = cursor.execute("PRAGMA data_version").fetchone()
        while not wake.wait(max(min(WATCH_SECONDS, deadline - time.monotonic()), 0)):
            if time.monotonic() >= deadline or cursor.execute("PRAGMA data_version").fetchone() != seen:
                return
    finally:
        raw.close()


def listen(db: Database, wake: Callable[[], None], stopped: threading.Event) -> threading.Thread:
    """A thread that calls wake() on every NOTIFY until stopped; it reconnects after an outage
    (the workers' poll covers the gap)."""
    thread = threading.Thread(target=_listen, args=(db, wake, stopped), name="certhook-listen",
                              daemon=True)
    thread.start()
    return thread


def _listen(db: Database, wake: Callable[[], None], stopped: threading.Event) -> None:
    while not stopped.is_set():
        try:
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql(f"LISTEN {CHANNEL}")
                wake()  # whatever was enqueued before we listened
                driver = conn.connection.driver_connection
                while not stopped.is_set():
                    for _ in driver.notifies(timeout=1.0, stop_after=1):
                        wake()
        except Exception as exc:
            log.warning("LISTEN %s: %s; polling until it is back", CHANNEL, exc)
            stopped.wait(5)
