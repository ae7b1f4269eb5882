"""On PostgreSQL, a process hears other processes' enqueues through LISTEN/NOTIFY."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ..db import Database
from .queue import CHANNEL

log = logging.getLogger(__name__)


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
