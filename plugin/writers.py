"""How writers share the database, beyond what SQLAlchemy's pool and the database do: SQLite's
writers take turns on a lock (WriterLock), and the webhooks a web process receives at once are
committed together (GroupCommit). Each is kept for a figure in docs/performance.md.
"""
from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable
from typing import IO, Any, Protocol, TypeVar

from sqlalchemy import Connection, make_url

T = TypeVar("T")
AFTER_COMMIT = "certhook_after_commit"  # conn.info's list of what runs once it has committed


class WriterLock:
    """SQLite's writers take turns here before BEGIN IMMEDIATE: a process's threads on a lock,
    then the processes on an flock of `<database>-writer` (let go by the kernel if a process
    dies), woken as the lock is let go. SQLite's own busy handler polls instead, with growing
    sleeps (1, 2, 5, 10, 15, 20, 25 ... ms), so a writer that missed a lock held for a
    millisecond a few times waited 18, 33 or 53 ms."""

    def __init__(self, url: str):
        database = make_url(url).database
        self.path = f"{database}-writer" if database and database != ":memory:" else os.devnull
        self._threads = threading.Lock()
        self._file: IO[bytes] | None = None
        self._pid = 0

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            if self._pid != os.getpid():  # a forked child opens its own (an flock is shared)
                self._file, self._pid = open(self.path, "a+b"), os.getpid()  # noqa: SIM115
            fcntl.flock(self._file, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            fcntl.flock(self._file, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def close(self) -> None:
        with self._threads:
            if self._file is not None and self._pid == os.getpid():
                self._file.close()
            self._file, self._pid = None, 0


class Writes(Protocol):
    def write(self) -> Any: ...


class _Part:
    """One caller's work in a group commit, and what became of it."""

    def __init__(self, work: Callable[[Connection], Any]):
        self.work, self.result, self.error, self.finished = work, None, None, False


class GroupCommit:
    """The small writes of a process's threads that arrive together, committed together: the
    first to come takes the write lock for itself and those that came meanwhile, each in a
    savepoint of one transaction (a part that fails rolls back alone), and each gets its answer
    once that COMMIT is done."""

    def __init__(self, db: Writes):
        self._db = db
        self._cond = threading.Condition()
        self._waiting: list[_Part] = []
        self._committing = False

    def run(self, work: Callable[[Connection], T]) -> T:
        part = _Part(work)
        with self._cond:
            self._waiting.append(part)
            while not part.finished:
                if self._committing:
                    self._cond.wait()
                    continue
                self._committing, group, self._waiting = True, self._waiting, []
                self._cond.release()
                try:
                    self._commit(group)
                finally:
                    self._cond.acquire()
                    self._committing = False
                    self._cond.notify_all()
        if part.error is not None:
            raise part.error
        return part.result  # type: ignore[return-value]

    def _commit(self, group: list[_Part]) -> None:
        try:
            with self._db.write() as conn:
                if len(group) == 1:  # alone: if it fails, the whole transaction rolls back
                    group[0].result = group[0].work(conn)
                    return
                for part in group:
                    callbacks = len(conn.info[AFTER_COMMIT])
                    conn.exec_driver_sql("SAVEPOINT part")
                    try:
                        part.result = part.work(conn)
                    except Exception as exc:
                        conn.exec_driver_sql("ROLLBACK TO SAVEPOINT part")
                        part.error = exc
                        del conn.info[AFTER_COMMIT][callbacks:]  # what it asked for is undone
                    conn.exec_driver_sql("RELEASE SAVEPOINT part")
        except BaseException as exc:  # not committed: no part is written
            for part in group:
                part.error = part.error or (exc if isinstance(exc, Exception)
                                            else RuntimeError("the write was interrupted"))
            if not isinstance(exc, Exception):
                raise
        finally:
            for part in group:
                part.finished = True
