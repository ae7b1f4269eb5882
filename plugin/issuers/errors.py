"""One exception hierarchy for every provider and store API."""
from __future__ import annotations

import email.utils
import time

import requests


class ApiError(Exception):
    """An answer (or no answer) that isn't what we asked for."""

    def __init__(self, message: str, status: int | None = None, body: str = ""):
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = body[:2000]


class Transient(ApiError):
    """5xx, a timeout or a dropped connection: retry with backoff."""


class RateLimited(ApiError):
    """429 (for Dots.eco: out of balance) or a throttle: wait, then retry."""

    def __init__(self, message: str, status: int | None = None, body: str = "",
                 retry_after: float | None = None):
        super().__init__(message, status, body)
        self.retry_after = retry_after


class Rejected(ApiError):
    """A 4xx that retrying won't fix."""


class AuthError(ApiError):
    """401/403: the credentials in certhook.yaml are wrong."""


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds or as an HTTP date, the way urllib3 reads it."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(when.timestamp() - (now if now is not None else time.time()), 0.0)


def message_of(response: requests.Response) -> str:
    """The provider's own message, when its body carries one."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return f"HTTP {response.status_code}"


def error_for(response: requests.Response, service: str) -> ApiError:
    """Map one HTTP answer to one exception."""
    status = response.status_code
    message = f"{service}: {message_of(response)}"
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return RateLimited(message, status, response.text, retry_after)
    if status in (401, 403):
        return AuthError(f"{service}: credentials rejected ({status}): {message_of(response)}",
                         status, response.text)
    if status >= 500 or status in (408, 409, 425):
        return Transient(message, status, response.text)
    return Rejected(message, status, response.text)


def call(session: requests.Session, method: str, url: str, service: str,
         timeout: tuple[float, float], **kwargs) -> requests.Response:  # type: ignore[no-untyped-def]
    """One HTTP call; network failures become Transient. Never retried here."""
    try:
        return session.request(method, url, timeout=timeout, **kwargs)
    except requests.Timeout:
        raise Transient(f"{service}: timed out") from None
    except requests.ConnectionError:
        raise Transient(f"{service}: connection failed") from None
