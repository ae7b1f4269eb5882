"""The retry policy, a pure function."""
from __future__ import annotations


def next_delay(attempts: int, base: float, cap: float, max_attempts: int,
               retry_after: float | None = None) -> float | None:
    """Seconds until the next try after `attempts` failed tries, or None to give up."""
    if attempts >= max_attempts:
        return None
    delay = min(base * 2 ** max(attempts - 1, 0), cap)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay
