"""Every 200 is a durable order: `certhook serve` killed with kill -9 under a load of webhooks,
then started again. Each order that was answered "accepted" is there after the restart, and is
issued exactly once; one that was cut off mid-answer is recorded once or not at all."""
from __future__ import annotations

import itertools
import threading
from collections import Counter
from pathlib import Path

import requests
from sqlalchemy import select

from certhook.db import Database
from certhook.evaluation import external_unique_id
from certhook.models import orders

from .helpers import Serve, order_payload, signed_shopify, wait_for, write_config

SENDERS = 6
FIRST = 20_001
ORDERS = 200  # sent at most: enough to be mid-load at the kill, few enough to drain quickly


def send(url: str, ids: itertools.count, accepted: list[int], stop: threading.Event) -> None:
    """Post distinct orders until stopped (or the server is gone); keep the ids answered 200."""
    session = requests.Session()
    while not stop.is_set():
        order_id = next(ids)
        if order_id >= FIRST + ORDERS:
            return
        body, headers = signed_shopify(order_payload(order_id=order_id))
        try:
            r = session.post(f"{url}/webhooks/shopify", data=body, headers=headers, timeout=5)
        except requests.RequestException:
            continue  # cut off by the kill: no answer, so no promise
        if r.status_code == 200 and r.json() == {"status": "accepted"}:
            accepted.append(order_id)


def recorded(db_url: str) -> dict[str, str]:
    db = Database(db_url)
    try:
        with db.read() as conn:
            return dict(conn.execute(select(orders.c.order_id, orders.c.status)).all())
    finally:
        db.dispose()


def test_kill_9_under_load_loses_no_accepted_order_and_issues_each_once(
        tmp_path: Path, db_url: str, fake_dots, fake_shopify):
    config = write_config(tmp_path, db_url, fake_dots.api_url, fake_shopify.api_url,
                          retry_base_seconds=0.2, retry_max_seconds=1, lease_seconds=3, max_attempts=50)
    server = Serve(config)
    server.start()
    accepted: list[int] = []
    stop, ids = threading.Event(), itertools.count(FIRST)
    senders = [threading.Thread(target=send, args=(server.url, ids, accepted, stop)) for _ in range(SENDERS)]
    try:
        for sender in senders:
            sender.start()
        wait_for(lambda: len(accepted) >= 60 and fake_dots.posts >= 5, 60)  # mid-load, mid-issue
        server.kill9()
        stop.set()
        for sender in senders:
            sender.join(10)
        answered = set(accepted)
        server.start()
        try:
            wait_for(lambda: set(recorded(db_url).values()) == {"done"}, 90)
        except AssertionError:
            raise AssertionError(f"not all done: {Counter(recorded(db_url).values())}") from None
    finally:
        stop.set()
        server.stop()
    found = recorded(db_url)
    assert {str(i) for i in answered} <= set(found), "an order answered 200 was lost"
    for order_id in found:
        for allocation in (14, 32):
            assert fake_dots.count_for(external_unique_id("acme", order_id, allocation)) == 1, order_id
    assert len(fake_dots.certificates) == 2 * len(found)
