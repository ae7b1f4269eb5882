"""The log: text or JSON lines, a request id on every line about a request, no customer link."""
from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from flask import g

from certhook import logs

from .helpers import Serve, order_payload, signed_shopify, wait_for, write_config


def record(app, message: str = "shop acme order 5 (orders/paid): accepted") -> logging.LogRecord:  # type: ignore[no-untyped-def]
    with app.test_request_context("/webhooks/shopify"):
        g.request_id = "abc123"
        made = logging.LogRecord("certhook.web.webhooks", logging.INFO, __file__, 1, message, (), None)
        logs.RequestId().filter(made)
    return made


def test_a_json_line_carries_the_request_id(app):
    line = json.loads(logs.formatter("json").format(record(app)))
    assert line["request_id"] == "abc123" and line["level"] == "INFO"
    assert line["message"] == "shop acme order 5 (orders/paid): accepted"
    assert logs.formatter("text").format(record(app)).endswith("accepted request_id=abc123")
    outside = logging.LogRecord("certhook.jobs", logging.INFO, __file__, 1, "claimed", (), None)
    logs.RequestId().filter(outside)
    assert "request_id" not in json.loads(logs.formatter("json").format(outside))


def test_every_answer_names_its_request_id_and_keeps_a_sane_one_given(client):
    mine = client.get("/healthz").headers["X-Request-Id"]
    assert len(mine) == 16 and mine != client.get("/healthz").headers["X-Request-Id"]
    given = client.get("/healthz", headers={"X-Request-Id": "lb-7f3a.9"})
    assert given.headers["X-Request-Id"] == "lb-7f3a.9"
    odd = client.get("/healthz", headers={"X-Request-Id": "x\" y" * 40}).headers["X-Request-Id"]
    assert odd != "x\" y" * 40 and len(odd) == 16


@contextmanager
def serving(tmp_path: Path, fake_dots, fake_shopify, log_format: str) -> Iterator[Serve]:  # type: ignore[no-untyped-def]
    """`certhook serve` with this log format, stopped at the end (its log: serve.log)."""
    server = Serve(write_config(tmp_path, f"sqlite:///{tmp_path / 'c.db'}", fake_dots.api_url,
                                fake_shopify.api_url, log_format=log_format))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def post_order(server: Serve, order_id: int) -> requests.Response:
    body, headers = signed_shopify(order_payload(order_id=order_id))
    return requests.post(f"{server.url}/webhooks/shopify", data=body, headers=headers, timeout=5)


BROKEN_CHUNK = (b"Transfer-Encoding: chunked\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n"
                b"zz\r\nabc\r\n0\r\n\r\n")


def raw(server: Serve, request: bytes, answer: bool = True) -> bytes:
    """Send these bytes; the answer's status line, or hang up without waiting for one."""
    with socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1])), timeout=5) as s:
        s.sendall(request)
        if not answer:
            time.sleep(0.2)
            return b""
        return s.recv(65536).split(b"\r\n", 1)[0]


def hostile(server: Serve) -> None:
    """A broken chunked body (a webhook, a form), a client gone halfway, a path that would
    split a line: each answered or dropped, none a 500 or a traceback."""
    for path in (b"/webhooks/shopify", b"/login"):
        assert raw(server, b"POST " + path + b" HTTP/1.1\r\nHost: x\r\n" + BROKEN_CHUNK) == \
            b"HTTP/1.1 400 BAD REQUEST"
    raw(server, b"POST /webhooks/shopify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"100\r\n{\"id\":", answer=False)
    assert raw(server, b"GET /x%0a2026%20INFO%20%22forged%22 HTTP/1.1\r\nHost: x\r\n\r\n") == \
        b"HTTP/1.1 404 NOT FOUND"
    # trusted_proxies: 0, so a loopback client's X-Forwarded-Proto is not believed (by gunicorn either)
    r = requests.get(f"{server.url}/login", headers={"X-Forwarded-Proto": "https"}, timeout=5)
    assert r.status_code == 200 and "Strict-Transport-Security" not in r.headers


def test_serve_logs_json_lines_with_an_access_log_that_hides_customer_links(
        tmp_path: Path, fake_dots, fake_shopify):
    with serving(tmp_path, fake_dots, fake_shopify, "json") as server:
        r = post_order(server, 4242)
        assert r.json() == {"status": "accepted"}
        requests.get(f"{server.url}/c/secret-token-of-a-customer?x=ana@example.com", timeout=5)
        hostile(server)
        wait_for(lambda: "forged" in (tmp_path / "serve.log").read_text(), 10)
    lines = [json.loads(x) for x in (tmp_path / "serve.log").read_text().splitlines() if x.strip()]
    assert not [x for x in lines if "exception" in x or "Traceback" in x.get("message", "")]
    assert [x["path"] for x in lines if "forged" in x.get("path", "")] == ['/x\n2026 INFO "forged"']
    assert len([x for x in lines if "the body was not sent whole" in x.get("message", "")]) == 3
    accepted = [x for x in lines if "order 4242" in x.get("message", "")]
    assert accepted and accepted[0]["request_id"] == r.headers["X-Request-Id"]
    access = [x for x in lines if x.get("method") == "POST"]
    assert access and access[0]["request_id"] == r.headers["X-Request-Id"] and access[0]["status"] == 200
    text = (tmp_path / "serve.log").read_text()
    assert "secret-token-of-a-customer" not in text and "ana@example.com" not in text
    for name in ("c.db", "c.db-wal", "c.db-shm", "c.db-writer"):  # umask 077: the service's alone
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name


def test_serve_with_text_logs_prints_gunicorns_own_lines_without_a_logging_error(
        tmp_path: Path, fake_dots, fake_shopify):
    """gunicorn's lines (its start, its workers, the signal that stops it) come out in its
    format beside certhook's, and none of them breaks the logging (`--- Logging error ---`)."""
    with serving(tmp_path, fake_dots, fake_shopify, "text") as server:
        assert post_order(server, 4243).json() == {"status": "accepted"}
        hostile(server)
        wait_for(lambda: "forged" in (tmp_path / "serve.log").read_text(), 10)
        wait_for(lambda: "order 4243 (orders/paid): accepted" in (tmp_path / "serve.log").read_text(), 10)
    text = (tmp_path / "serve.log").read_text()
    assert '"GET /x\\x0a2026 INFO \\x22forged\\x22" 404' in text
    assert text.count("the body was not sent whole") == 3
    assert "Logging error" not in text and "Traceback" not in text, text[-3000:]
    for gunicorns in ("[INFO] Starting gunicorn", "[INFO] Booting worker with pid",
                      "[INFO] Handling signal: term"):  # its stop said at once, however long it takes
        assert gunicorns in text
    assert '"POST /webhooks/shopify" 200' in text  # the access log
