"""The one HTTP client: a requests Session per service and shop, its limits, one error hierarchy.

Only idempotent GETs are retried here (urllib3's Retry: no answer, or a 502-504). A POST is never
retried blindly: the caller counts it before it goes and looks up what it made before sending it
again. Redirects are never followed: every call carries credentials. Every call has a deadline
(connect_timeout + read_timeout, its answer included) and a cap on its answer's size, so a
trickling, endless or huge answer fails the call (Transient) instead of holding a worker.
"""
from __future__ import annotations

import base64
import email.utils
import json as _json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from importlib.metadata import version
from typing import Any

import requests
import urllib3
from urllib3.util.retry import Retry

from .limits import Deadline, DeadlineAdapter, read_capped
from .redaction import hide, redacted
from .settings_schema import MAX_ANSWER_BYTES

USER_AGENT = f"certhook/{version('certhook')}"
POOL_SIZE = 32  # kept-alive connections per service and shop: more than any process's workers
# A GET is sent again (at most twice) on no answer or a 502-504; no Retry-After is waited for here
GET_RETRIES = Retry(total=2, allowed_methods={"GET"}, status_forcelist={502, 503, 504},
                    backoff_factor=0.2, raise_on_status=False, respect_retry_after_header=False)
# What requests raises for a request that can't be made as configured: its URL, header and
# schema errors are ValueErrors; a body that isn't JSON (NaN) is its own
_UNSENDABLE = (ValueError, requests.exceptions.InvalidJSONError)

class ApiError(Exception):
    """An answer (or no answer) that isn't what we asked for."""

    def __init__(self, message: str, status: int | None = None, body: str = ""):
        message = redacted(message)
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = redacted(body[:2000])


class Transient(ApiError):
    """5xx, a timeout, a dropped connection, an answer over its limits: retry with backoff."""


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


class NotConnected(ApiError):
    """The store can't be called until it is connected (again): the app was uninstalled, or
    Shopify refused its credentials. What needs it waits, spending no attempt; connecting wakes it."""


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


def _timed_out_retrying(exc: Exception) -> bool:
    """A GET's last try timed out (requests calls that a ConnectionError)."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.TimeoutError) and \
        not isinstance(reason, urllib3.exceptions.NewConnectionError)  # refused: not a timeout


class Client:
    """One service's API, for certhook or for one shop: a requests Session, its connections
    kept alive; the environment's proxies and CA bundle (REQUESTS_CA_BUNDLE) as requests reads them."""

    def __init__(self, service: str, base_url: str, timeout: tuple[float, float], *,
                 max_bytes: int = MAX_ANSWER_BYTES, headers: dict[str, str] | None = None,
                 auth: tuple[str, str] | None = None, rate_limited: type[RateLimited] = RateLimited):
        self.service, self.rate_limited, self.base_url = service, rate_limited, base_url.rstrip("/")
        self.timeout, self.max_bytes = timeout, max_bytes
        self.session = requests.Session()
        adapter = DeadlineAdapter(pool_maxsize=POOL_SIZE, max_retries=GET_RETRIES)
        for scheme in ("http://", "https://"):
            self.session.mount(scheme, adapter)
        self.session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT,
                                     **(headers or {})})
        if auth is not None:
            self.session.auth = auth
            hide(base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())  # an echoed header

    def request(self, method: str, path: str, allow: tuple[int, ...] = (), *, json: Any = None,
                data: bytes | None = None, params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None) -> Response:
        """One call (`headers`: this call's own, a token of the moment; `data`: a body sent as
        these bytes, instead of `json`). Network failures,
        answers over the limits and answers other than 2xx (or `allow`) raise ApiError."""
        with Deadline(sum(self.timeout)) as deadline:
            try:
                with self.session.request(method, self.base_url + path, params=params, json=json,
                                          data=data, headers=headers, timeout=self.timeout,
                                          allow_redirects=False, stream=True) as answer:
                    content = read_capped(answer, self.max_bytes)
                    if content is None:
                        raise Transient(f"{self.service}: the answer is over {self.max_bytes} bytes "
                                        "(max_answer_bytes)", answer.status_code)
                    if deadline.finish():  # before the connection goes back to the pool
                        raise self._failure(TimeoutError(), deadline)  # what came was cut short
                    response = Response(answer.status_code, answer.headers, content)
            except ApiError:
                raise
            except _UNSENDABLE:
                raise Rejected(f"{self.service}: the request could not be made (its URL, a header "
                               "or its proxy is not valid); check its settings") from None
            except OSError as exc:  # requests' own errors are OSErrors, a bad CA bundle too
                raise self._failure(exc, deadline) from None
        if response.status_code >= 300 and response.status_code not in allow:
            raise error_for(response, self.service, self.rate_limited)
        return response

    def _failure(self, exc: Exception, deadline: Deadline) -> ApiError:
        """What a call that got no whole answer means: a passing fault, saying which."""
        if deadline.expired:
            return Transient(f"{self.service}: no whole answer within {deadline.seconds:g} s "
                             "(connect_timeout + read_timeout)")
        if isinstance(exc, requests.Timeout | TimeoutError) or _timed_out_retrying(exc):
            return Transient(f"{self.service}: timed out")
        return Transient(f"{self.service}: connection failed")

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
        self.session.close()


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
