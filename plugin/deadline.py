"""A whole call's time limit. A socket's timeout bounds each wait for a byte, not the call: a
service that trickles its answer (headers included) a byte at a time, or never ends it, would
hold the caller for ever. Once a call's time is up, the connection it is on is shut down, so
whatever read waits on it fails at once.

requests hands a call's connection to no one, so the connection pools here tell the call's
Deadline which connection it goes out on (urllib3's pool classes, by scheme, are made for
replacing; `_get_conn` is where a call takes its connection).
"""
from __future__ import annotations

import socket
import threading
from typing import Any

from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_calls = threading.local()  # .deadline: the Deadline of the call this thread is making


class Deadline:
    """`with Deadline(seconds) as deadline:` around one call made in this thread."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._conn: Any = None
        self._finished = False
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        _calls.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()
        _calls.deadline = None

    def finish(self) -> bool:
        """The call is over: leave its connection alone. Whether its time had run out first."""
        with self._lock:
            self._finished, self._conn = True, None
        self._timer.cancel()
        return self.expired

    def on(self, conn: Any) -> None:
        """The call goes out on this connection (a retry, on another); OSError if its time is
        up already."""
        with self._lock:
            if self.expired:
                conn.close()
                raise OSError("the call's time ran out")
            self._conn = conn

    def _expire(self) -> None:
        with self._lock:
            if self._finished:
                return
            self.expired = True
            _shut(self._conn)


def _shut(conn: Any) -> None:
    sock = getattr(conn, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:  # closed already
            pass


class _Watched:
    """A connection pool that tells the calling thread's Deadline which connection it took."""

    def _get_conn(self, timeout: float | None = None) -> Any:
        deadline: Deadline | None = getattr(_calls, "deadline", None)
        conn = super()._get_conn(timeout)  # type: ignore[misc]
        if deadline is not None:
            deadline.on(conn)
        return conn


class WatchedHTTPConnectionPool(_Watched, HTTPConnectionPool):
    pass


class WatchedHTTPSConnectionPool(_Watched, HTTPSConnectionPool):
    pass


def watched_pools() -> dict[str, type[HTTPConnectionPool]]:
    """The pool classes by scheme, for a urllib3 PoolManager's pool_classes_by_scheme."""
    return {"http": WatchedHTTPConnectionPool, "https": WatchedHTTPSConnectionPool}
