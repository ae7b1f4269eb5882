"""Job threads take turns running Python, first come first served, and give the turn up while
they wait on the network.

Python runs one thread at a time (the GIL) and, left to itself, shares it out in 5 ms slices.
Job threads that come back from their certificate calls together then all run at once, finish
late together, and go out again in step: each round, every one of them waits for all the others.
Taking turns in the order they came back, the first back is the first done and out again, and the
threads spread out over the call's latency instead. A waiting thread costs nothing: it sleeps on
its own lock until the turn is handed to it.

A thread holding a turn must give it up only outside a database transaction (a network call is
never made inside one): a thread waiting for the turn then holds no lock another needs.
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

_held = threading.local()  # .turns: the Turns whose turn this thread holds, if any


class Turns:
    """A first-come-first-served lock that hands itself straight to the longest waiter."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiting: deque[threading.Lock] = deque()
        self._taken = False

    def _acquire(self) -> None:
        with self._mutex:
            if not self._taken:
                self._taken = True
                return
            mine = threading.Lock()
            mine.acquire()
            self._waiting.append(mine)
        mine.acquire()  # released by the thread that hands the turn over

    def _release(self) -> None:
        with self._mutex:
            if self._waiting:
                self._waiting.popleft().release()
            else:
                self._taken = False

    def queued(self) -> int:
        """How many threads are waiting for the turn."""
        with self._mutex:
            return len(self._waiting)

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Run the body in this thread's turn; waiting() inside it lets the others run."""
        self._acquire()
        _held.turns = self
        try:
            yield
        finally:
            _held.turns = None
            self._release()


@contextmanager
def waiting() -> Iterator[None]:
    """Around a blocking wait (a network call, a sleep): another job thread runs meanwhile. Outside
    a turn (a web request, a test calling a job directly) it does nothing."""
    turns: Turns | None = getattr(_held, "turns", None)
    if turns is None:
        yield
        return
    _held.turns = None
    turns._release()
    try:
        yield
    finally:
        turns._acquire()
        _held.turns = turns
