"""The one retry decision, as a table: every kind of job, from the error and the attempt count."""
from __future__ import annotations

import pytest

from certhook.http import (
    ApiError,
    AuthError,
    OutOfBalance,
    RateLimited,
    Rejected,
    Transient,
    parse_retry_after,
)
from certhook.jobs.retry import JITTER, Action, Decision, Policy, backoff, decide, soonest

POLICY = Policy(base=30, cap=3600, max_attempts=12)


def no_jitter() -> float:
    return 0.0


@pytest.mark.parametrize(("error", "attempts", "expected"), [
    # 5xx, timeouts, dropped connections: backoff doubling from the base, capped, then fail
    (Transient("Dots.eco: Server Error", 500), 1, Decision(Action.RETRY, 30)),
    (Transient("Dots.eco: timed out"), 2, Decision(Action.RETRY, 60)),
    (Transient("x"), 3, Decision(Action.RETRY, 120)),
    (Transient("x"), 7, Decision(Action.RETRY, 1920)),
    (Transient("x"), 8, Decision(Action.RETRY, 3600)),
    (Transient("x"), 11, Decision(Action.RETRY, 3600)),
    (Transient("x"), 12, Decision(Action.FAIL)),
    (Transient("x"), 13, Decision(Action.FAIL)),
    # a throttle (429 with Retry-After, Shopify's Throttled with its bucket wait): never sooner
    (RateLimited("Shopify: Throttled", retry_after=90), 1, Decision(Action.RETRY, 90)),
    (RateLimited("x", retry_after=10), 3, Decision(Action.RETRY, 120)),
    (RateLimited("x", retry_after=99999), 2, Decision(Action.RETRY, 3600)),
    (RateLimited("x", retry_after=None), 1, Decision(Action.RETRY, 30)),
    (RateLimited("x", retry_after=5), 12, Decision(Action.FAIL)),
    # out of balance: wait for a top-up, as long as the cap, spending no attempt, never failing
    (OutOfBalance("Dots.eco: out of balance", 429), 1, Decision(Action.WAIT, 3600)),
    (OutOfBalance("x", 429), 500, Decision(Action.WAIT, 3600)),
    # a request or credentials the service refused: retrying can't help
    (Rejected("Dots.eco: Given allocation can not be used", 422), 1, Decision(Action.FAIL)),
    (Rejected("CertFusion: Validation failed.", 422), 1, Decision(Action.FAIL)),
    (AuthError("Shopify: credentials rejected (401)", 401), 1, Decision(Action.FAIL)),
    # a crash of our own, or an answer we can't place: retried like a passing fault
    (ZeroDivisionError("division by zero"), 1, Decision(Action.RETRY, 30)),
    (ApiError("no answer"), 4, Decision(Action.RETRY, 240)),
    (KeyError("data"), 12, Decision(Action.FAIL)),
])
def test_decide(error, attempts, expected):
    assert decide(error, attempts, POLICY, no_jitter) == expected


def test_jitter_only_ever_shortens_a_delay_and_never_below_retry_after():
    assert backoff(3, POLICY, rand=lambda: 1.0) == 120 * (1 - JITTER)
    assert backoff(3, POLICY, retry_after=110, rand=lambda: 1.0) == 110
    delays = {decide(Transient("x"), 3, POLICY).delay for _ in range(50)}
    assert len(delays) > 1 and all(90 <= d <= 120 for d in delays)


def test_fractions():
    assert decide(Transient("x"), 2, Policy(0.25, 0.4, 5), no_jitter) == Decision(Action.RETRY, 0.4)


@pytest.mark.parametrize(("decisions", "expected"), [
    ([Decision(Action.WAIT, 3600), Decision(Action.RETRY, 30)], Decision(Action.RETRY, 30)),
    ([Decision(Action.WAIT, 3600), Decision(Action.WAIT, 60)], Decision(Action.WAIT, 60)),
    ([Decision(Action.FAIL), Decision(Action.RETRY, 5)], Decision(Action.RETRY, 5)),
    ([Decision(Action.FAIL)], Decision(Action.WAIT, 0)),
    ([], Decision(Action.WAIT, 0)),
])
def test_one_job_for_several_items_comes_back_with_the_soonest(decisions, expected):
    assert soonest(decisions) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("2", 2.0), (None, None), ("soon", None), ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
    ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
])
def test_retry_after(value, expected):
    assert parse_retry_after(value, now=1445412480.0) == expected


@pytest.mark.parametrize(("error", "attempts"), [
    (Transient("Shopify: 502 Bad Gateway"), 12), (Rejected("Shopify: 400"), 1),
    (AuthError("Shopify: credentials rejected (401)"), 1), (RuntimeError("KeyError: 'nodes'"), 40),
])
def test_a_job_that_runs_forever_waits_the_cap_where_others_fail(error, attempts):
    assert decide(error, attempts, POLICY, no_jitter) == Decision(Action.FAIL)
    assert decide(error, attempts, POLICY, no_jitter, forever=True) == Decision(Action.WAIT, 3600)
    assert decide(Transient("x"), 1, POLICY, no_jitter, forever=True) == Decision(Action.RETRY, 30)
