"""The write-back job: issued items onto the store's order, retried on its own, never re-issuing."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from certhook.models import jobs
from certhook.platforms import shopify
from certhook.statuses import JobKind

from .helpers import deliver, drain, make_ch, order_of, order_payload, run_due


@pytest.mark.parametrize("faults", [("429", "429"), ("throttled", "500")])
def test_429_throttled_and_500_are_retried_without_reissuing(client, ch, fake_dots, fake_shopify, faults):
    fake_shopify.fail_next(*faults)
    deliver(client, order_payload())
    drain(ch)
    assert len(fake_dots.certificates) == 2 and fake_dots.posts == 2
    assert fake_shopify.calls == 3
    assert fake_shopify.value("5551234") is not None
    order = order_of(client)
    assert order["status"] == "done" and order["writeback"] == {"status": "done", "error": None}


def test_a_429_waits_as_long_as_retry_after_says(tmp_path, db_url, fake_dots, fake_shopify):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, retry_base_seconds=0.1) as (ch, client):
        fake_shopify.fail_next("429")  # Retry-After: 1, ten times the first backoff
        deliver(client, order_payload())
        run_due(ch)
        with ch.db.read() as conn:
            job = conn.execute(select(jobs).where(jobs.c.kind == JobKind.WRITEBACK)).one()
        assert job.status == "queued" and job.attempts == 1
        assert job.run_at - ch.now() >= 1.0
        writeback = order_of(client)["writeback"]
        assert writeback["status"] == "pending" and "HTTP 429" in writeback["error"]


def test_writeback_user_errors_fail_it_with_their_message(client, ch, fake_dots, fake_shopify, monkeypatch):
    real = shopify.ShopifyApi.write_back
    monkeypatch.setattr(shopify.ShopifyApi, "write_back",
                        lambda self, order_id, *rest: real(self, "not-a-number", *rest))
    deliver(client, order_payload())
    drain(ch)
    order = order_of(client)
    assert order["status"] == "failed"
    assert order["writeback"]["status"] == "failed"
    assert "Owner does not exist." in order["writeback"]["error"]
    assert all(c["status"] == "issued" for c in order["certificates"])
    assert fake_dots.posts == 2
    assert fake_shopify.calls == 1  # a rejected write is not tried again on its own
