"""Every call has limits: an answer that trickles (its status line too), never ends, or is over the
size cap fails the call within its deadline as a passing fault naming the limit; its job is
retried, and other shops' orders keep flowing meanwhile."""
from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from certhook import pipeline
from certhook.http import Client, Transient
from certhook.models import events, orders

from .fakes.base import FakeServer, Handler
from .helpers import deliver, deliver_woo, make_ch, order_of, order_payload, wait_for, woo_order

DEADLINE = "no whole answer within 1.5 s (connect_timeout + read_timeout)"


class Slow(FakeServer):
    """Answers /trickle, /endless and /huge as the fakes' slow faults do; /chunked is 2 MiB
    in chunks, with no length announced."""

    def handle(self, request: Handler, method: str) -> None:
        request.body()
        if request.path == "/chunked":
            request.send_response(200)
            request.send_header("Transfer-Encoding", "chunked")
            request.end_headers()
            for _ in range(32):
                request.wfile.write(b"10000\r\n" + b" " * 65536 + b"\r\n")
            request.wfile.write(b"0\r\n\r\n")
            return
        request.slow_answer(request.path.strip("/"))


@pytest.fixture
def slow() -> Iterator[Slow]:
    fake = Slow()
    yield fake
    fake.close()


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(("path", "message"), [
    ("/trickle", DEADLINE),
    ("/endless", DEADLINE),
    ("/huge", "Svc: the answer is over 1048576 bytes (max_answer_bytes)"),
    ("/chunked", "Svc: the answer is over 1048576 bytes (max_answer_bytes)"),
])
def test_an_answer_past_a_limit_fails_the_call_within_its_deadline(slow, path, message, method):
    http = Client("Svc", slow.url, (0.5, 1.0), max_bytes=1024 * 1024)
    started = time.monotonic()
    with pytest.raises(Transient, match=re.escape(message)):
        http.request(method, path)
    assert time.monotonic() - started < 1.5 + 0.5
    http.close()


def test_the_deadline_covers_a_gets_retries(slow):
    """A GET is tried again after no answer, but all its tries share one deadline."""
    http = Client("Svc", slow.url, (0.5, 0.3))
    started = time.monotonic()
    with pytest.raises(Transient, match=r"timed out|no whole answer within 0\.8 s"):
        http.request("GET", "/trickle")
    assert time.monotonic() - started < 0.8 + 0.5


def test_a_call_with_a_sooner_deadline_is_not_held_by_a_later_one(slow):
    """The deadlines of concurrent calls are watched together: one due sooner is cut at its
    time, not at the time of one begun before it."""
    patient = threading.Thread(target=lambda: pytest.raises(
        Transient, Client("Svc", slow.url, (0.5, 4.5)).request, "GET", "/trickle"))
    patient.start()
    time.sleep(0.2)
    started = time.monotonic()
    with pytest.raises(Transient, match=re.escape("no whole answer within 0.8 s")):
        Client("Svc", slow.url, (0.3, 0.5)).request("POST", "/trickle")
    assert time.monotonic() - started < 0.8 + 0.5
    patient.join(10)


def written(client, order_id: int, shop: str = "acme") -> bool:
    return (order_of(client, order_id, shop)["writeback"] or {}).get("status") == "done"


def test_a_slow_store_holds_no_other_shops_orders_and_its_jobs_are_retried(
        tmp_path, db_url, fake_dots, fake_shopify, fake_woo):
    """Four of one shop's write-backs meet a trickling, an endless and an oversized answer (and
    one more trickle), as many as there are workers: the other shop's order is done within one
    deadline, and the slow shop's write-backs fail naming the limit, are tried again and done."""
    limits = {"connect_timeout": 0.5, "read_timeout": 1.0, "max_answer_bytes": 1024 * 1024}
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, woo_url=fake_woo.api_url,
                 workers=4, shop=limits) as (ch, client):
        ch.clock.now = None  # the wall clock: deadlines are real time
        fake_shopify.fail_next("trickle", "endless", "huge", "trickle")
        acme = [5551234 + n for n in range(4)]
        for order_id in acme:
            assert deliver(client, order_payload(order_id)).status_code == 200
        worker = pipeline.worker(ch)
        worker.start()
        try:
            wait_for(lambda: fake_shopify.calls >= 4, 10)  # every worker is held by a slow answer
            started = time.monotonic()
            fake_woo.add_order(woo_order(), datetime.now(UTC))
            assert deliver_woo(client, woo_order()).status_code == 200
            wait_for(lambda: written(client, 727, "woo"), 10)
            assert time.monotonic() - started < 1.5 + 2.0
            wait_for(lambda: all(written(client, o) for o in acme), 30)
        finally:
            worker.stop()
        with ch.db.read() as conn:
            failures = conn.execute(
                select(events.c.detail).join(orders, orders.c.id == events.c.order_pk)
                .where(orders.c.shop == "acme", events.c.kind == "write-back")).scalars().all()
    assert sorted(failures) == sorted(
        [f"Shopify: {DEADLINE} (will try again)"] * 3
        + ["Shopify: the answer is over 1048576 bytes (max_answer_bytes) (will try again)"])


def test_a_forked_process_keeps_its_calls_deadlines(slow):
    """The deadlines' thread is the parent's; a child forked after it ran starts its own."""
    with pytest.raises(Transient):
        Client("Svc", slow.url, (0.3, 0.3)).request("GET", "/trickle")  # the parent's thread runs
    pid = os.fork()
    if pid == 0:  # the child: its trickle is cut too (or SIGALRM ends it, failing the test)
        signal.alarm(5)
        started, ok = time.monotonic(), False
        try:
            Client("Svc", slow.url, (0.3, 0.3)).request("POST", "/trickle")
        except Transient as exc:
            ok = "no whole answer within 0.6 s" in exc.message and time.monotonic() - started < 2
        finally:
            os._exit(0 if ok else 1)
    assert os.waitpid(pid, 0)[1] == 0
