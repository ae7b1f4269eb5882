"""A call's limits: its answer's size (read_capped), and its whole time (Deadline).

A socket's timeout bounds each wait for a byte, not the call: a service that trickles its answer
(headers included) a byte at a time, or never ends it, would hold the caller for ever. Once a
call's time is up, the connection it is on is shut down, so whatever read waits on it fails.

requests hands a call's connection to no one, so the connection pools here tell the call's
Deadline which connection it goes out on (urllib3's pool classes, by scheme, are made for
replacing; `_get_conn` is where a call takes its connection), and DeadlineAdapter is requests'
adapter with those pools, its proxies' too.
"""
from __future__ import annotations

import heapq
import itertools
import os
import socket
import threading
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

CHUNK = 64 * 1024
_calls = threading.local()  # .deadline: the Deadline of the call this thread is making


def read_capped(answer: requests.Response, max_bytes: int) -> bytes | None:
    """The answer's body, read in chunks; None once it is over max_bytes (or says it will be)."""
    length = answer.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > max_bytes:
        return None
    chunks, size = [], 0
    for chunk in answer.iter_content(CHUNK):
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            return None
    return b"".join(chunks)


class Deadline:
    """`with Deadline(seconds) as deadline:` around one call made in this thread."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._conn: Any = None
        self._finished = False
        self._lock = threading.Lock()

    def __enter__(self) -> Deadline:
        _calls.deadline = self
        _WATCHDOG.watch(time.monotonic() + self.seconds, self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()
        _calls.deadline = None

    def finish(self) -> bool:
        """The call is over: leave its connection alone. Whether its time had run out first."""
        with self._lock:
            self._finished, self._conn = True, None
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


class _Watchdog:
    """One thread for every call's deadline in the process, asleep until the earliest is due."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Anew, with no thread yet (in a forked child, the parent's thread is not running)."""
        self._due: list[tuple[float, int, Deadline]] = []  # a heap, the earliest first
        self._count = itertools.count()  # orders deadlines due at the same moment
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, at: float, deadline: Deadline) -> None:
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="certhook-deadlines", daemon=True)
                self._thread.start()
            heapq.heappush(self._due, (at, next(self._count), deadline))
            if self._due[0][2] is deadline:  # earlier than what the thread sleeps until
                self._cond.notify()

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                while self._due and self._due[0][0] <= now:
                    heapq.heappop(self._due)[2]._expire()  # a finished call's does nothing
                self._cond.wait(self._due[0][0] - now if self._due else None)


_WATCHDOG = _Watchdog()
os.register_at_fork(after_in_child=_WATCHDOG.reset)


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


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter, whose connections a call's Deadline can shut (its proxies' too)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = watched_pools()

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS has pool classes of its own
            manager.pool_classes_by_scheme = watched_pools()
        return manager
