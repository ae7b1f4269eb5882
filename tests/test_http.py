"""The one HTTP client: errors mapped onto one hierarchy, GETs alone retried, no redirects, pages."""
from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from certhook.http import (
    AuthError,
    Client,
    OutOfBalance,
    Pool,
    RateLimited,
    Rejected,
    Response,
    Transient,
    body_of,
    error_for,
)
from certhook.redaction import hide, redacted

from .fakes.base import FakeServer, Handler


def response(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Response:
    return Response(status, headers or {},
                    json.dumps(body).encode() if body is not None else b"<html>oops</html>")


@pytest.mark.parametrize(("status", "body", "headers", "kind", "message"), [
    (500, {"message": "Server Error"}, {}, Transient, "Svc: Server Error"),
    (502, None, {}, Transient, "Svc: HTTP 502"),
    (408, None, {}, Transient, "Svc: HTTP 408"),
    (409, {"message": "busy"}, {}, Transient, "Svc: busy"),
    (429, {"message": "slow down"}, {"Retry-After": "7"}, RateLimited, "Svc: slow down"),
    (401, {"message": "Unauthenticated."}, {}, AuthError, "Svc: credentials rejected (401)"),
    (403, None, {}, AuthError, "Svc: credentials rejected (403): HTTP 403"),
    (422, {"message": "The app_token is invalid."}, {}, Rejected, "Svc: The app_token is invalid."),
    (404, {"message": "Not Found"}, {}, Rejected, "Svc: Not Found"),
    (301, None, {"Location": "https://elsewhere.example/"}, Rejected,
     "Svc: answered 301, redirecting to https://elsewhere.example/"),
])
def test_error_mapping(status, body, headers, kind, message):
    error = error_for(response(status, body, headers), "Svc")
    assert type(error) is kind and error.message.startswith(message) and error.status == status
    if kind is RateLimited:
        assert error.retry_after == 7.0


def test_a_service_can_name_its_429():
    error = error_for(response(429, {"message": "out of balance"}), "Dots.eco", OutOfBalance)
    assert type(error) is OutOfBalance


def test_an_answer_that_is_not_json_is_transient():
    with pytest.raises(Transient, match="not JSON"):
        body_of(response(200), "Svc")


class Flaky(FakeServer):
    """Answers each path from a script of statuses, and records who asked with what header."""

    def __init__(self) -> None:
        super().__init__()
        self.script: dict[str, list[int]] = {}
        self.seen: list[tuple[str, str, str | None]] = []

    def handle(self, request: Handler, method: str) -> None:
        request.body()
        self.seen.append((method, request.path, request.headers.get("X-Token")))
        path = request.path.split("?")[0]
        if path == "/slow":
            time.sleep(0.5)
        if path == "/moved":
            request.send_response(302)
            request.send_header("Location", f"{self.url}/elsewhere")
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        if path == "/pages":
            page = int(request.path.split("page=")[1])
            return request.send_json(200, {"data": [page * 10, page * 10 + 1], "last": 3})
        statuses = self.script.get(path) or [200]
        request.send_json(statuses.pop(0) if len(statuses) > 1 else statuses[0], {"message": "hi"})


@pytest.fixture
def flaky() -> Iterator[Flaky]:
    fake = Flaky()
    yield fake
    fake.close()


def client(fake: Flaky, timeout: tuple[float, float] = (2, 5)) -> Client:
    return Client("Svc", fake.url, timeout, headers={"X-Token": "secret"})


def test_a_get_is_retried_on_503_and_a_post_never(flaky):
    flaky.script = {"/get": [503, 503, 200], "/post": [503, 200]}
    http = client(flaky)
    assert http.json("GET", "/get") == {"message": "hi"}
    with pytest.raises(Transient):
        http.request("POST", "/post")
    assert [m for m, _, _ in flaky.seen] == ["GET", "GET", "GET", "POST"]


def test_redirects_are_never_followed_with_the_credentials(flaky):
    with pytest.raises(Rejected, match="redirecting to"):
        client(flaky).request("GET", "/moved")
    assert [p for _, p, _ in flaky.seen] == ["/moved"]


def test_a_status_can_be_allowed_instead_of_raised(flaky):
    flaky.script = {"/missing": [404]}
    assert client(flaky).request("GET", "/missing", allow=(404,)).status_code == 404


def test_timeouts_and_refused_connections_are_transient(flaky):
    with pytest.raises(Transient, match="Svc: timed out"):
        client(flaky, (2, 0.1)).request("POST", "/slow")
    closed = Client("Svc", "http://127.0.0.1:9", (0.5, 0.5))
    with pytest.raises(Transient, match="connection failed"):
        closed.request("POST", "/")


def test_pages_are_read_until_the_last(flaky):
    got = list(client(flaky).pages("/pages", {"q": "x"},
                                   lambda r: (r.json()["data"], r.json()["last"])))
    assert got == [10, 11, 20, 21, 30, 31]


def test_a_pool_keeps_one_per_key_and_closes_all(flaky):
    pool, made = Pool(), []

    def make() -> Client:
        made.append(client(flaky))
        return made[-1]

    assert pool.get(("svc", "acme"), make) is pool.get(("svc", "acme"), make)
    assert pool.get(("svc", "other"), make) is not made[0]
    made[0].request("GET", "/x")
    pools = made[0].session.get_adapter(flaky.url).poolmanager.pools
    assert len(pools) == 1
    pool.close()
    assert len(made) == 2 and len(pools) == 0  # its connections closed


def test_the_environments_proxy_is_used_unless_no_proxy_names_the_host(flaky, monkeypatch):
    """http_proxy as requests read it: a plain-HTTP call goes to the proxy with its whole URL."""
    monkeypatch.setenv("http_proxy", flaky.url)
    assert Client("Svc", "http://shop.invalid/api", (2, 5)).json("GET", "/x") == {"message": "hi"}
    assert [p for _, p, _ in flaky.seen] == ["http://shop.invalid/api/x"]
    monkeypatch.setenv("no_proxy", "shop.invalid")
    with pytest.raises(Transient, match="connection failed"):  # straight to a host that isn't
        Client("Svc", "http://shop.invalid/api", (2, 5)).request("GET", "/x")
    assert len(flaky.seen) == 1


def test_basic_auth_and_who_is_calling_go_with_every_call(flaky):
    class Seen(Flaky):
        def handle(self, request: Handler, method: str) -> None:
            self.headers = request.headers  # any case, as HTTP reads them
            super().handle(request, method)

    fake = Seen()
    try:
        Client("Svc", fake.url, (2, 5), auth=("ck_1", "cs_2")).request("GET", "/x", params={"a": "b c"})
        assert fake.headers["Authorization"] == "Basic " + base64.b64encode(b"ck_1:cs_2").decode()
        assert fake.headers["User-Agent"].startswith("certhook/")
        assert fake.seen[0][1] == "/x?a=b+c"
    finally:
        fake.close()


def test_a_proxy_named_without_a_scheme_and_with_credentials(flaky, monkeypatch):
    """As requests read it: `host:port` is an http:// proxy; user:password go as Basic auth."""
    class Seen(Flaky):
        def handle(self, request: Handler, method: str) -> None:
            self.auth = request.headers.get("Proxy-Authorization")
            super().handle(request, method)

    fake = Seen()
    try:
        monkeypatch.setenv("http_proxy", f"u%40x:p%3Aw@{fake.url.removeprefix('http://')}")
        Client("Svc", "http://shop.invalid", (2, 5)).request("GET", "/y")
        assert fake.seen[0][1] == "http://shop.invalid/y"
        assert fake.auth == "Basic " + base64.b64encode(b"u@x:p:w").decode()
    finally:
        fake.close()


def test_a_connection_is_kept_alive_and_one_the_service_closed_is_replaced(flaky):
    """Calls reuse one connection; once the service has hung up on it while it was idle, the
    next call (a POST, never sent twice) goes out on a new one instead of failing."""
    class HangsUp(Flaky):
        def handle(self, request: Handler, method: str) -> None:
            self.ports.append(request.client_address[1])
            request.close_connection = request.path == "/bye"  # after answering, unsaid
            super().handle(request, method)

    fake = HangsUp()
    fake.ports = []
    try:
        http = client(fake)
        for path in ("/x", "/x", "/bye", "/x", "/x"):
            assert http.request("POST", path, json={"n": 1}).status_code == 200
            if path == "/bye":  # until the hang-up has arrived
                time.sleep(0.2)
        assert [m for m, _, _ in fake.seen] == ["POST"] * 5
        assert fake.ports[0] == fake.ports[1] == fake.ports[2] != fake.ports[3] == fake.ports[4]
    finally:
        fake.close()


def test_a_get_that_times_out_is_sent_three_times_at_most(flaky):
    with pytest.raises(Transient, match="timed out"):
        client(flaky, (2, 0.1)).request("GET", "/slow")
    assert [p for _, p, _ in flaky.seen] == ["/slow"] * 3


def test_a_basic_header_the_service_echoes_is_cut_out_of_the_error():
    """A store that answers 401 quoting `Authorization: Basic …` (base64 of key:secret) leaks
    nothing into the message kept on the order and logged."""
    class Echoes(Flaky):
        def handle(self, request: Handler, method: str) -> None:
            request.send_json(401, {"message": f"bad {request.headers['Authorization']}"})

    fake = Echoes()
    try:
        with pytest.raises(AuthError) as raised:
            Client("Svc", fake.url, (2, 5), auth=("ck_echoed1", "cs_echoed2")).request("GET", "/x")
        assert raised.value.message == "Svc: credentials rejected (401): bad Basic [redacted]"
        assert base64.b64encode(b"ck_echoed1:cs_echoed2").decode() not in raised.value.body
    finally:
        fake.close()


def test_a_credential_is_cut_out_in_every_form_it_is_echoed():
    hide("cs_a/b+c=d é")
    for echoed in ("cs_a/b+c=d é", "cs_a%2Fb%2Bc%3Dd%20%C3%A9", "cs_a%2Fb%2Bc%3Dd+%C3%A9",
                   "cs_a\\/b+c=d \\u00e9"):
        assert redacted(f"bad token {echoed}!") == "bad token [redacted]!", echoed
