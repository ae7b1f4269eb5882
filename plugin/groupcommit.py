"""Group commit: the small writes of many threads, committed together under one lock and one
COMMIT (the webhooks a web process receives at once)."""
from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any


class _Entry:
    """One caller's part of a group commit: its work, then what became of it."""

    def __init__(self, work: Callable[[Any], Any]):
        self.work, self.result, self.error, self.finished = work, None, None, False


class GroupCommit:
    """Writes of many threads, each small, committed together: the first to come commits what
    the others brought meanwhile, under one lock and one COMMIT, and each gets its own answer
    once that commit is done (a part that fails is rolled back to its savepoint, alone)."""

    def __init__(self, transaction: Callable[[], AbstractContextManager[Any]]):
        self._transaction = transaction
        self._cond = threading.Condition()
        self._pending: list[_Entry] = []
        self._committing = False

    def run(self, work: Callable[[Any], Any]) -> Any:
        """work(cursor) in a transaction with others; its result once committed."""
        entry = _Entry(work)
        with self._cond:
            self._pending.append(entry)
            while not entry.finished:
                if self._committing:
                    self._cond.wait()
                    continue
                self._committing, batch, self._pending = True, self._pending, []
                self._cond.release()
                try:
                    self._commit(batch)
                finally:
                    self._cond.acquire()
                    self._committing = False
                    self._cond.notify_all()
        if entry.error is not None:
            raise entry.error
        return entry.result

    def _commit(self, batch: list[_Entry]) -> None:
        try:
            with self._transaction() as cursor:
                if len(batch) == 1:  # alone: if it fails, the whole transaction rolls back
                    batch[0].result = batch[0].work(cursor)
                    return
                for entry in batch:
                    cursor.execute("SAVEPOINT grouped")
                    try:
                        entry.result = entry.work(cursor)
                    except Exception as exc:
                        cursor.execute("ROLLBACK TO SAVEPOINT grouped")
                        entry.error = exc
                    cursor.execute("RELEASE SAVEPOINT grouped")
        except BaseException as exc:  # not committed: nobody's part is written
            for entry in batch:
                entry.error = entry.error or (exc if isinstance(exc, Exception)
                                              else RuntimeError("the write was interrupted"))
            if not isinstance(exc, Exception):
                raise
        finally:
            for entry in batch:
                entry.finished = True
