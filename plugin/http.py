"""The one HTTP client: a connection pool per service and shop, its timeouts, one error hierarchy, pages.

Only idempotent GETs are retried here (a few times, on a dropped connection or a 502-504).
A POST is never retried blindly: the caller counts it before it goes and looks up what it made
before sending it again. Redirects are never followed: every call carries credentials.
"""
from __future__ import annotations

import email.utils
import json as _json
import os
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from importlib.metadata import version
from typing import Any

import certifi
import urllib3
from urllib3.util import Retry

from .turns import waiting

USER_AGENT = f"certhook/{version('certhook')}"
POOL_SIZE = 32  # kept-alive connections per service and shop: more than any process's workers
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


def connections(base_url: str) -> urllib3.PoolManager:
    """Kept-alive connections to one service, as requests made them: through the environment's
    proxy for it (http_proxy, https_proxy, no_proxy), verified with its CA bundle or certifi's."""
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
    pool: dict[str, Any] = {"maxsize": POOL_SIZE, "cert_reqs": "CERT_REQUIRED",
                            "ca_cert_dir" if os.path.isdir(bundle) else "ca_certs": bundle}
    parts, proxies = urllib.parse.urlsplit(base_url), urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass_environment(parts.hostname or "", proxies):
        return urllib3.PoolManager(**pool)
    proxy = proxy if "://" in proxy else f"http://{proxy}"
    auth = urllib3.util.parse_url(proxy).auth  # user:password@ in its URL
    return urllib3.ProxyManager(proxy, **pool, proxy_headers=auth and urllib3.make_headers(
        proxy_basic_auth=urllib.parse.unquote(auth)))


def _failure(service: str, exc: urllib3.exceptions.HTTPError) -> ApiError:
    """What urllib3's exception (after its retries) means: a timeout or a failed connection
    are passing faults; anything else is a request that cannot be made (its text, which may
    quote a header, is never shown)."""
    reason = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) else exc
    errors = urllib3.exceptions
    if isinstance(reason, errors.NewConnectionError | errors.ProtocolError | errors.SSLError
                  | errors.ProxyError | OSError):
        return Transient(f"{service}: connection failed")
    if isinstance(reason, errors.TimeoutError):
        return Transient(f"{service}: timed out")
    return Rejected(f"{service}: the request could not be made ({type(reason).__name__}); "
                    "check its settings")


class Client:
    """One service's API, for certhook or for one shop, on a pool of kept-alive connections
    (urllib3 directly: requests' per-call machinery cost three times its CPU, on every call)."""

    def __init__(self, service: str, base_url: str, timeout: tuple[float, float], *,
                 headers: dict[str, str] | None = None, auth: tuple[str, str] | None = None,
                 rate_limited: type[RateLimited] = RateLimited):
        self.service, self.base_url, self.rate_limited = service, base_url.rstrip("/"), rate_limited
        self.timeout = urllib3.Timeout(connect=timeout[0], read=timeout[1])
        self.headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **(headers or {})}
        if auth is not None:
            self.headers.update(urllib3.make_headers(basic_auth=f"{auth[0]}:{auth[1]}"))
        self._pool = connections(self.base_url)

    def request(self, method: str, path: str, allow: tuple[int, ...] = (), *,
                json: Any = None, params: Mapping[str, Any] | None = None) -> Response:
        """One call. Network failures and answers other than 2xx (or `allow`) raise ApiError."""
        url, headers, body = f"{self.base_url}{path}", self.headers, None
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        if json is not None:
            body = _json.dumps(json, allow_nan=False).encode()
            headers = {**headers, "Content-Type": "application/json"}
        try:
            with waiting():  # a job thread lets another run meanwhile
                answer = self._pool.request(method, url, body=body, headers=headers,
                                            timeout=self.timeout, retries=GET_RETRIES, redirect=False)
        except urllib3.exceptions.HTTPError as exc:
            raise _failure(self.service, exc) from None
        except ValueError:  # http.client's text quotes the bad header: never shown
            raise Rejected(f"{self.service}: the request could not be made (a header or the URL "
                           "is not valid); check its settings") from None
        response = Response(answer.status, answer.headers, answer.data)
        if response.status_code >= 300 and response.status_code not in allow:
            raise error_for(response, self.service, self.rate_limited)
        return response

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
        self._pool.clear()


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
