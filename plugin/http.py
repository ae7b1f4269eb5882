"""The one HTTP client: a session per service and shop, its timeouts, one error hierarchy, pages.

Only idempotent GETs are retried here (a few times, on a dropped connection or a 502-504).
A POST is never retried blindly: the caller counts it before it goes and looks up what it made
before sending it again. Redirects are never followed: every call carries credentials.
"""
from __future__ import annotations

import email.utils
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

GET_RETRIES = Retry(total=2, read=1, status=2, other=0, status_forcelist=(502, 503, 504),
                    allowed_methods=frozenset({"GET"}), backoff_factor=0.2, raise_on_status=False,
                    respect_retry_after_header=False)


_HIDDEN: set[str] = set()  # this process's credentials: never in a message, a log or a column


def hide(*secrets: str) -> None:
    """Credentials to cut out of every error message (a service may echo what it was sent)."""
    _HIDDEN.update(s for s in secrets if len(s) >= 4)


def redacted(text: str) -> str:
    for secret in _HIDDEN:
        text = text.replace(secret, "[redacted]")
    return text


class ApiError(Exception):
    """An answer (or no answer) that isn't what we asked for."""

    def __init__(self, message: str, status: int | None = None, body: str = ""):
        message = redacted(message)
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = redacted(body[:2000])


class Transient(ApiError):
    """5xx, a timeout or a dropped connection: retry with backoff."""


class RateLimited(ApiError):
    """429 or a throttle: retry once the service says it has room (Retry-After)."""

    def __init__(self, message: str, status: int | None = None, body: str = "",
                 retry_after: float | None = None):
        super().__init__(message, status, body)
        self.retry_after = retry_after


class OutOfBalance(RateLimited):
    """Dots.eco's 429: the app has no balance left. Wait for a top-up; it costs no attempt."""


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
    """The service's own message, when its body carries one."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return f"HTTP {response.status_code}"


def error_for(response: requests.Response, service: str,
              rate_limited: type[RateLimited] = RateLimited) -> ApiError:
    """Map one HTTP answer to one exception."""
    status, said = response.status_code, message_of(response)
    if status == 429:
        return rate_limited(f"{service}: {said}", status, response.text,
                            parse_retry_after(response.headers.get("Retry-After")))
    if status in (401, 403):
        return AuthError(f"{service}: credentials rejected ({status}): {said}", status, response.text)
    if 300 <= status < 400:
        where = response.headers.get("Location", "elsewhere")
        return Rejected(f"{service}: answered {status}, redirecting to {where[:200]}: certhook "
                        "follows no redirects; set that URL in the settings", status, response.text)
    if status >= 500 or status in (408, 409, 425):
        return Transient(f"{service}: {said}", status, response.text)
    return Rejected(f"{service}: {said}", status, response.text)


def body_of(response: requests.Response, service: str) -> Any:
    """The answer's JSON; an answer that isn't JSON is a passing fault."""
    try:
        return response.json()
    except ValueError:
        raise Transient(f"{service}: the answer is not JSON", response.status_code,
                        response.text) from None


class Client:
    """One service's API, for certhook or for one shop: a session per thread."""

    def __init__(self, service: str, base_url: str, timeout: tuple[float, float], *,
                 headers: dict[str, str] | None = None, auth: tuple[str, str] | None = None,
                 rate_limited: type[RateLimited] = RateLimited):
        self.service, self.base_url, self.timeout = service, base_url.rstrip("/"), timeout
        self.headers = {"Accept": "application/json", **(headers or {})}
        self.auth, self.rate_limited = auth, rate_limited
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def _session(self) -> requests.Session:
        # requests.Session is not safe to share between threads: one per thread.
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update(self.headers)
            session.auth = self.auth
            # The environment's proxy and CA settings, read once rather than on every call
            session.trust_env = False
            session.proxies = requests.utils.get_environ_proxies(self.base_url)
            session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get(
                "CURL_CA_BUNDLE") or True
            for scheme in ("http://", "https://"):
                session.mount(scheme, HTTPAdapter(max_retries=GET_RETRIES))
            with self._lock:
                self._sessions.append(session)
            self._local.session = session
        return session

    def request(self, method: str, path: str, allow: tuple[int, ...] = (),
                **kwargs: Any) -> requests.Response:
        """One call. Network failures and answers other than 2xx (or `allow`) raise ApiError."""
        try:
            response = self._session().request(method, f"{self.base_url}{path}", timeout=self.timeout,
                                               allow_redirects=False, **kwargs)
        except requests.Timeout:
            raise Transient(f"{self.service}: timed out") from None
        except requests.ConnectionError:
            raise Transient(f"{self.service}: connection failed") from None
        except requests.RequestException as exc:  # its text may quote a header: never shown
            raise Rejected(f"{self.service}: the request could not be made "
                           f"({type(exc).__name__}); check its settings") from None
        if response.status_code >= 300 and response.status_code not in allow:
            raise error_for(response, self.service, self.rate_limited)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return body_of(self.request(method, path, **kwargs), self.service)

    def pages(self, path: str, params: dict[str, Any],
              read: Callable[[requests.Response], tuple[list[Any], int]]) -> Iterator[Any]:
        """Every entry of a numbered list: `read` gives one page's entries and the page count."""
        page = 1
        while True:
            entries, last = read(self.request("GET", path, params={**params, "page": page}))
            yield from entries
            if page >= last or not entries:
                return
            page += 1

    def close(self) -> None:
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()


class Pool:
    """What certhook holds open, one per service and shop, built on first use, closed together."""

    def __init__(self) -> None:
        self._held: dict[tuple[str, ...], Any] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...], make: Callable[[], Any]) -> Any:
        with self._lock:
            if key not in self._held:
                self._held[key] = make()
            return self._held[key]

    def close(self) -> None:
        with self._lock:
            held, self._held = list(self._held.values()), {}
        for thing in held:
            thing.close()
