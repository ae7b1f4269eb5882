"""The one HTTP client: a connection pool per service and shop, its timeouts, one error hierarchy, pages.

Only idempotent GETs are retried here (a few times, on a dropped connection or a 502-504).
A POST is never retried blindly: the caller counts it before it goes and looks up what it made
before sending it again. Redirects are never followed: every call carries credentials.
"""
from __future__ import annotations

import email.utils
import http.client
import json as _json
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from importlib.metadata import version
from typing import Any

from .httpconn import Connections, basic_auth
from .turns import waiting

USER_AGENT = f"certhook/{version('certhook')}"
GET_TRIES = 3  # a GET is sent again on no answer or a 502-504, GET_BACKOFF seconds more each time
GET_BACKOFF = 0.2


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
    """Retry-After as seconds or as an HTTP date."""
    value = (value or "").strip()  # "": no date either
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):  # not a date (Python 3.10+ never answers None)
        return None
    return max(when.timestamp() - (now if now is not None else time.time()), 0.0)


class Response:
    """One answer, read whole: its status, headers (any case) and body."""

    def __init__(self, status: int, headers: Mapping[str, str], content: bytes):
        self.status_code, self.headers, self.content = status, headers, content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON (ValueError if it is not)."""
        return _json.loads(self.content)


def message_of(response: Response) -> str:
    """The service's own message, when its body carries one."""
    try:
        said = response.json().get("message")
    except (ValueError, AttributeError):  # not JSON, or not an object
        said = None
    return said if isinstance(said, str) else f"HTTP {response.status_code}"


def error_for(response: Response, service: str,
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


def body_of(response: Response, service: str) -> Any:
    """The answer's JSON; an answer that isn't JSON is a passing fault."""
    try:
        return response.json()
    except ValueError:
        raise Transient(f"{service}: the answer is not JSON", response.status_code,
                        response.text) from None


def _failure(service: str, exc: Exception) -> ApiError:
    """What a call that got no answer means: a timeout, a failed or broken connection (a
    certificate not trusted) are passing faults."""
    if isinstance(exc, TimeoutError):
        return Transient(f"{service}: timed out")
    return Transient(f"{service}: connection failed")


class Client:
    """One service's API, for certhook or for one shop, on kept-alive connections (http.client,
    pooled in httpconn)."""

    def __init__(self, service: str, base_url: str, timeout: tuple[float, float], *,
                 headers: dict[str, str] | None = None, auth: tuple[str, str] | None = None,
                 rate_limited: type[RateLimited] = RateLimited):
        self.service, self.rate_limited, base_url = service, rate_limited, base_url.rstrip("/")
        self.headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **(headers or {})}
        if auth is not None:
            self.headers["Authorization"] = basic_auth(*auth)
        self._prefix = urllib.parse.urlsplit(base_url).path
        try:
            self._pool: Connections | None = Connections(base_url, timeout)
        except ValueError:  # said on the first call, as every error is
            self._pool = None

    def request(self, method: str, path: str, allow: tuple[int, ...] = (), *,
                json: Any = None, params: Mapping[str, Any] | None = None) -> Response:
        """One call. Network failures and answers other than 2xx (or `allow`) raise ApiError."""
        target, headers, body = f"{self._prefix}{path}", self.headers, None
        if params:
            target += "?" + urllib.parse.urlencode(params, doseq=True)
        if json is not None:
            body = _json.dumps(json, allow_nan=False).encode()
            headers = {**headers, "Content-Type": "application/json"}
        with waiting():  # a job thread lets another run meanwhile
            response = self._call(method, target, body, headers)
        if response.status_code >= 300 and response.status_code not in allow:
            raise error_for(response, self.service, self.rate_limited)
        return response

    def _call(self, method: str, target: str, body: bytes | None, headers: dict[str, str]) -> Response:
        """The call, and for a GET up to GET_TRIES in all: again on no answer or a 502-504."""
        if self._pool is None:
            raise Rejected(f"{self.service}: the request could not be made (its URL or proxy is "
                           "not valid); check its settings")
        tries, timed_out = GET_TRIES if method == "GET" else 1, False
        for attempt in range(1, tries + 1):
            try:
                answer, content = self._pool.call(method, target, body, headers)
            except (http.client.InvalidURL, ValueError) as exc:  # its text quotes the bad header
                if isinstance(exc, OSError):  # a certificate not trusted (an SSLError too)
                    raise _failure(self.service, exc) from None
                raise Rejected(f"{self.service}: the request could not be made (a header or the "
                               "URL is not valid); check its settings") from None
            except (OSError, http.client.HTTPException) as exc:
                if attempt == tries or timed_out and isinstance(exc, TimeoutError):  # twice is enough
                    raise _failure(self.service, exc) from None
                timed_out = timed_out or isinstance(exc, TimeoutError)
            else:
                if attempt == tries or answer.status not in (502, 503, 504):
                    return Response(answer.status, answer.msg, content)
            time.sleep(GET_BACKOFF * (attempt - 1))
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return body_of(self.request(method, path, **kwargs), self.service)

    def pages(self, path: str, params: dict[str, Any],
              read: Callable[[Response], tuple[list[Any], int]]) -> Iterator[Any]:
        """Every entry of a numbered list: `read` gives one page's entries and the page count."""
        page = 1
        while True:
            entries, last = read(self.request("GET", path, params={**params, "page": page}))
            yield from entries
            if page >= last or not entries:
                return
            page += 1

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()


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
