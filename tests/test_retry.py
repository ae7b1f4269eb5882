import pytest

from certhook.issuers.errors import parse_retry_after
from certhook.jobs.retry import next_delay


@pytest.mark.parametrize(("attempts", "retry_after", "expected"), [
    (1, None, 30), (2, None, 60), (3, None, 120), (7, None, 1920), (8, None, 3600), (11, None, 3600),
    (12, None, None), (13, None, None), (1, 90, 90), (3, 10, 120), (2, 99999, 3600),
])
def test_next_delay(attempts, retry_after, expected):
    assert next_delay(attempts, 30, 3600, 12, retry_after) == expected


def test_fractions():
    assert next_delay(2, 0.25, 0.4, 5) == 0.4


@pytest.mark.parametrize(("value", "expected"), [
    ("2", 2.0), (None, None), ("soon", None), ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
    ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
])
def test_retry_after(value, expected):
    assert parse_retry_after(value, now=1445412480.0) == expected
