"""The one retry decision, for every kind of job: from what went wrong and how often, what next."""
from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from ..http import AuthError, NotConnected, OutOfBalance, RateLimited, Rejected

JITTER = 0.25  # a delay is up to this much shorter, so retries after an outage spread out


class Action(StrEnum):
    RETRY = "retry"  # try again after the delay; it spends an attempt
    WAIT = "wait"    # try again after the delay; it spends none (waiting for a top-up)
    FAIL = "fail"    # give up now: retrying can't help, or the attempts are spent


@dataclass(frozen=True)
class Decision:
    action: Action
    delay: float = 0.0


@dataclass(frozen=True)
class Policy:
    base: float         # the first delay; it doubles with every attempt
    cap: float          # no delay is longer, and an out-of-balance wait is this long
    max_attempts: int   # a job that fails this often fails for good


def backoff(attempts: int, policy: Policy, retry_after: float | None = None,
            rand: Callable[[], float] = random.random) -> float:
    """The delay after `attempts` failed tries, never sooner than the service asked."""
    delay = min(policy.base * 2 ** max(attempts - 1, 0), policy.cap) * (1 - JITTER * rand())
    if retry_after is not None:
        delay = max(delay, min(retry_after, policy.cap))
    return delay


def decide(error: BaseException, attempts: int, policy: Policy,
           rand: Callable[[], float] = random.random, forever: bool = False) -> Decision:
    """What to do after the `attempts`-th failed try ended in `error`.

    Out of balance waits (without spending an attempt) until the merchant tops up, and a store
    not connected until it is connected again (which wakes what waits); a rejected
    request or rejected credentials fail at once; anything else, a throttle, a 5xx, a timeout
    or a crash of our own, is retried with backoff until the attempts are spent. A job that
    runs `forever` (a shop's reconciliation) never fails: where others fail, it waits the cap.
    """
    if isinstance(error, OutOfBalance | NotConnected):
        return Decision(Action.WAIT, policy.cap)
    if isinstance(error, Rejected | AuthError) or attempts >= policy.max_attempts:
        return Decision(Action.WAIT, policy.cap) if forever else Decision(Action.FAIL)
    retry_after = error.retry_after if isinstance(error, RateLimited) else None
    return Decision(Action.RETRY, backoff(attempts, policy, retry_after, rand))


def soonest(decisions: Iterable[Decision]) -> Decision:
    """One job for several items: back when the first is due, spending an attempt if any retries."""
    waiting = [d for d in decisions if d.action != Action.FAIL]
    if not waiting:
        return Decision(Action.WAIT, 0.0)  # nothing failed here, but something is still to do
    action = Action.RETRY if any(d.action == Action.RETRY for d in waiting) else Action.WAIT
    return Decision(action, min(d.delay for d in waiting))
