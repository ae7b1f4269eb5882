"""The dashboard's sessions: a throttle on wrong admin tokens, and the CSRF token of a session."""
from __future__ import annotations

import secrets
import threading

from flask import session


class LoginThrottle:
    """Wrong tokens from one address: after 3, each next try waits twice as long (to 5 min)."""

    FREE, CAP = 3, 300.0

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.failures: dict[str, tuple[int, float]] = {}

    def wait(self, address: str, now: float) -> float:
        count, last = self.failures.get(address, (0, 0.0))
        if count < self.FREE:
            return 0.0
        return max(last + min(2.0 ** (count - self.FREE), self.CAP) - now, 0.0)

    def failed(self, address: str, now: float) -> None:
        with self.lock:
            count, _ = self.failures.get(address, (0, 0.0))
            self.failures[address] = (count + 1, now)
            if len(self.failures) > 10_000:  # forget the oldest rather than grow without end
                oldest = min(self.failures, key=lambda a: self.failures[a][1])
                del self.failures[oldest]

    def succeeded(self, address: str) -> None:
        with self.lock:
            self.failures.pop(address, None)


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]
