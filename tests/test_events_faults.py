"""Events out under faults: a receiver that trickles or answers 50 MiB fails within the 10 s
deadline; one that hangs never slows an order's own steps; kill -9 of certhook between recording
and sending loses no event and delivers each once."""
from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import requests
from sqlalchemy import select

from certhook import pipeline
from certhook.db import Database
from certhook.models import outbox

from .fakes.receiver import SECRET
from .helpers import (
    Serve,
    deliver,
    drain,
    endpoint,
    make_ch,
    order_of,
    order_payload,
    outbox_rows,
    send_events,
    signed_shopify,
    wait_for,
    write_config,
)


def test_a_trickle_or_50_mib_fails_within_the_deadline_and_is_tried_again(tmp_path, db_url, fake_dots,
                                                                          fake_shopify, receiver):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, events=[endpoint(receiver)]) as (ch, client):
        receiver.fail_next("trickle", "big")
        deliver(client, order_payload())
        seconds, errors = [], []
        for step in (drain, lambda ch: send_events(ch, rounds=2, finish=False)):
            started = time.monotonic()
            step(ch)  # the order's jobs and the first try; then the second
            seconds.append(time.monotonic() - started)
            errors.append(outbox_rows(ch)[0].error)
        send_events(ch)
        [row] = outbox_rows(ch)
    assert seconds[0] < 12 and seconds[1] < 5, seconds
    where = f"events endpoint 127.0.0.1:{receiver.server.server_address[1]}"
    assert errors == [f"{where}: no whole answer within 10 s (connect_timeout + read_timeout)",
                      f"{where}: the answer is over 262144 bytes (max_answer_bytes)"]
    assert (row.status, row.attempts) == ("delivered", 3)
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1


def test_a_receiver_that_hangs_never_slows_the_orders(tmp_path, db_url, fake_dots, fake_shopify, receiver):
    receiver.fail_next(*["hang"] * 30)
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, events=[endpoint(receiver)],
                 workers=4) as (ch, client):
        ch.clock.now = None  # the wall clock: the workers run in real time
        worker = pipeline.start_worker(ch)
        try:
            started = time.monotonic()
            for order_id in range(1, 21):
                assert deliver(client, order_payload(order_id=order_id)).status_code == 200
            wait_for(lambda: all(order_of(client, n)["status"] == "done" for n in range(1, 21)), 30)
            took = time.monotonic() - started
            assert len(receiver.received) == 1, "one event at a time, hanging"
            assert sum(r.status == "pending" for r in outbox_rows(ch)) == 20
        finally:
            receiver.faults.clear()
            receiver.release()
            worker.stop()
    assert took < 8, f"20 orders took {took:.1f} s beside a receiver that hangs for 10 s a try"


def test_kill_9_between_recording_and_sending_loses_nothing_and_delivers_once(
        tmp_path: Path, db_url, fake_dots, fake_shopify, receiver):
    config = write_config(tmp_path, db_url, fake_dots.api_url, fake_shopify.api_url, lease_seconds=2,
                          events=[endpoint(receiver)])
    receiver.fail_next(None, None, None, None, "hang")  # the fifth POST is in flight at the kill
    server = Serve(config)
    server.start()
    try:
        for order_id in range(1, 13):
            body, headers = signed_shopify(order_payload(order_id=order_id))
            assert requests.post(f"{server.url}/webhooks/shopify", data=body, headers=headers,
                                 timeout=5).status_code == 200
        wait_for(lambda: len(receiver.received) >= 5, 30)
        server.kill9()  # the fifth was sent and not answered; the rest recorded and not sent
        receiver.release()
        left = recorded(db_url)
        assert Counter(status for status, _ in left.values())["pending"] >= 8
        server.start()
        wait_for(lambda: len(receiver.delivered()) >= 12, 60)
        time.sleep(1)  # nothing more comes
    finally:
        server.stop()
    delivered = Counter(r.headers["webhook-id"] for r in receiver.delivered())
    assert len(delivered) == 12 and set(delivered.values()) == {1}, delivered
    orders = {json.loads(r.body)["data"]["order_id"] for r in receiver.delivered()}
    assert orders == {str(n) for n in range(1, 13)}
    hung = receiver.received[4].headers["webhook-id"]
    assert hung in delivered, "the one in flight at the kill went again, with its id"
    assert receiver.events(SECRET)
    assert {status for status, _ in recorded(db_url).values()} == {"delivered"}


def recorded(db_url: str) -> dict[str, tuple[str, int]]:
    db = Database(db_url)
    try:
        with db.read() as conn:
            return {r.message_id: (r.status, r.attempts) for r in conn.execute(select(outbox))}
    finally:
        db.dispose()
