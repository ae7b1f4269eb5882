"""A Shopify store connected through a Dev Dashboard app (client credentials): certhook takes its
own tokens, keeps them sealed in the database, renews each once for every process, and waits
(never fails, never storms) while the app is uninstalled or its credentials refused."""
from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from certhook import pipeline
from certhook.cli import main
from certhook.context import Certhook, build
from certhook.http import Transient
from certhook.models import shop_connections

from .fakes.shopify_app import CLIENT_ID, CLIENT_SECRET
from .helpers import (
    DOMAIN,
    deliver,
    drain,
    make_ch,
    order_of,
    order_payload,
    run_due,
    sign_in,
    start,
    wait_for,
)

APP = {"access_token": "", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "webhook_secret": ""}
SHOP_RESOURCE = {"id": 548380009, "name": "Acme", "email": "owner@acme.example", "domain": "acme.example",
                 "myshopify_domain": DOMAIN, "plan_name": "basic", "currency": "EUR", "country": "DE"}


def app_shop(**more: Any) -> dict[str, Any]:
    """A shop with a Dev Dashboard app's credentials, and no admin-made webhook key."""
    return {**APP, **more}


@pytest.fixture
def app_ch(tmp_path, db_url, fake_dots, fake_shopify):  # type: ignore[no-untyped-def]
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, shop=app_shop(),
                 metrics_token="metrics-token-0123456789") as made:
        yield made


def deliver_app(client: Any, payload: Any, **kwargs: Any) -> Any:
    return deliver(client, payload, secret=CLIENT_SECRET, **kwargs)


def row(ch: Certhook) -> Any:
    with ch.db.read() as conn:
        return conn.execute(select(shop_connections).where(shop_connections.c.shop == "acme")).first()


def metric(client: Any, ch: Certhook) -> str:
    r = client.get("/metrics", headers={"Authorization": f"Bearer {ch.settings.metrics_token}"})
    return next(line for line in r.text.splitlines() if line.startswith("certhook_shop_connected{"))


def test_orders_are_written_back_with_a_token_from_the_client_credentials_grant(app_ch, fake_shopify):
    ch, client = app_ch
    assert deliver_app(client, order_payload(order_id=7001)).json == {"status": "accepted"}
    drain(ch)
    assert order_of(client, 7001)["status"] == "done"
    assert len(fake_shopify.value("7001")) == 2  # two certificates written onto the order
    assert fake_shopify.grants == ["client_credentials"]
    kept = row(ch)
    assert kept.status == "connected" and kept.generation == 1 and kept.scope == "read_orders,write_orders"
    assert kept.expires_at == pytest.approx(ch.now() + 86399, abs=5)
    assert kept.renew_at == pytest.approx(ch.now() + 86399 * 0.9, abs=5)  # 10 % of its life early
    deliver_app(client, order_payload(order_id=7002))
    drain(ch)
    assert fake_shopify.grants == ["client_credentials"]  # the token is kept, not asked again


def test_the_admin_webhook_key_is_accepted_beside_the_client_secret(
        tmp_path, db_url, fake_dots, fake_shopify):
    admin_key = "admin-made-webhook-key"
    shop = app_shop(webhook_secret=admin_key)
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, shop=shop) as (_, client):
        assert deliver_app(client, order_payload(order_id=7010)).json == {"status": "accepted"}
        assert deliver(client, order_payload(order_id=7011), secret=admin_key).status_code == 200
        assert deliver(client, order_payload(order_id=7012), secret="some-other-key-0123").status_code == 401


@pytest.mark.parametrize("later", [0.95, 1.05], ids=["due", "expired"])
def test_a_token_due_or_expired_is_renewed_once_for_every_worker_and_process(
        app_ch, fake_shopify, clock, later):
    ch, client = app_ch
    deliver_app(client, order_payload(order_id=7100))
    drain(ch)
    assert fake_shopify.grants == ["client_credentials"]
    other = start(ch.settings.path, clock)  # a second process on the same database
    workers = [pipeline.worker(c, 8) for c in (ch, other)]
    try:
        clock.now += 86399 * later  # within its last 10 % (the old one still works), or past it
        for n in range(24):
            deliver_app(client, order_payload(order_id=7200 + n))
        for worker in workers:
            worker.start()
        wait_for(lambda: sum(1 for n in range(24) if fake_shopify.value(str(7200 + n))) == 24, 60)
    finally:
        for worker in workers:
            worker.stop(grace=5)
        other.close()
    assert fake_shopify.grants == ["client_credentials"] * 2  # one renewal, not one per call
    assert row(ch).generation == 2


def test_a_401_renews_the_token_once_and_the_call_is_made_again(app_ch, fake_shopify):
    ch, client = app_ch
    deliver_app(client, order_payload(order_id=7300))
    drain(ch)
    fake_shopify.expire_tokens()  # Shopify no longer takes it, though certhook thought it good
    deliver_app(client, order_payload(order_id=7301))
    drain(ch)
    assert order_of(client, 7301)["status"] == "done"
    assert fake_shopify.grants == ["client_credentials"] * 2


def test_a_second_401_is_a_credentials_failure_that_waits_and_shows(app_ch, fake_shopify, clock, monkeypatch):
    ch, client = app_ch
    monkeypatch.setattr(fake_shopify, "token_valid", lambda token: False)  # every token refused
    deliver_app(client, order_payload(order_id=7400))
    run_due(ch)
    order = order_of(client, 7400)
    assert order["status"] == "pending" and order["writeback"]["status"] == "pending"
    assert "Shopify refused a new token for acme" in order["writeback"]["error"]
    assert fake_shopify.grants == ["client_credentials"] * 2  # the first, and one renewal
    calls = fake_shopify.calls
    for _ in range(5):  # it waits for the merchant: no more calls, nothing fails
        clock.now += 3600
        run_due(ch)
    assert fake_shopify.calls == calls and len(fake_shopify.grants) == 2
    assert order_of(client, 7400)["status"] == "pending"
    sign_in(client)
    page = client.get("/").text
    assert "Shopify refused a new token for acme" in page and "certhook shopify connect" in page


def test_bad_app_credentials_are_named_and_orders_wait_as_pending(
        tmp_path, db_url, fake_dots, fake_shopify, clock):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify,
                 shop=app_shop(client_secret="not-the-app-secret")) as (ch, client):
        deliver(client, order_payload(order_id=7500), secret="not-the-app-secret")
        run_due(ch)
        order = order_of(client, 7500)
        assert order["status"] == "pending"
        assert [c["status"] for c in order["certificates"]] == ["issued", "issued"]  # Dots.eco's part
        for _ in range(3):
            clock.now += 3600
            run_due(ch)
        assert len(fake_shopify.grants) == 1  # asked once, then waits for the merchant
        sign_in(client)
        assert "Shopify refused certhook&#39;s app credentials for acme" in client.get("/").text
        assert order_of(client, 7500)["status"] == "pending"


def test_an_uninstall_disconnects_the_shop_without_a_401_storm_and_connecting_resumes(
        app_ch, fake_shopify, clock):
    ch, client = app_ch
    deliver_app(client, order_payload(order_id=7600))
    drain(ch)
    assert metric(client, ch).endswith(" 1.0")
    fake_shopify.uninstall()
    r = deliver_app(client, SHOP_RESOURCE, topic="app/uninstalled")
    assert r.json == {"status": "accepted"}
    kept = row(ch)
    assert kept.status == "disconnected" and kept.access_token is None
    calls, grants = fake_shopify.calls, len(fake_shopify.grants)
    for n in range(3):
        deliver_app(client, order_payload(order_id=7610 + n))
    for _ in range(4):
        run_due(ch)
        clock.now += 3600
    assert (fake_shopify.calls, len(fake_shopify.grants)) == (calls, grants)  # nothing called
    waiting = order_of(client, 7610)
    assert [c["status"] for c in waiting["certificates"]] == ["issued", "issued"]  # issuing goes on
    assert waiting["status"] == "pending" and waiting["writeback"]["status"] == "pending"
    assert metric(client, ch).endswith(" 0.0")
    sign_in(client)
    page = client.get("/").text
    assert "the app was uninstalled from acme.myshopify.com; to connect it again, run certhook " \
           "shopify connect (3 write-back(s) wait)" in page
    # The merchant installs the app again and connects: what waited runs at once
    fake_shopify.installed = True
    result = CliRunner().invoke(main, ["shopify", "connect", "--config", str(ch.settings.path)])
    assert result.exit_code == 0, result.output
    run_due(ch)
    assert all(order_of(client, 7610 + n)["status"] == "done" for n in range(3))
    assert metric(client, ch).endswith(" 1.0")


def test_an_uninstall_needs_the_shops_own_shop_resource(app_ch, fake_shopify):
    ch, client = app_ch
    for body in (order_payload(order_id=7700), {**SHOP_RESOURCE, "myshopify_domain": "other.myshopify.com"},
                 {"shop_id": 1, "shop_domain": DOMAIN}):
        r = deliver_app(client, body, topic="app/uninstalled")
        assert r.status_code == 400 and "myshopify_domain" in r.json["error"]
    assert row(ch) is None  # nothing disconnected


def test_tokens_are_sealed_at_rest_and_a_new_key_means_a_new_token_not_a_crash(
        app_ch, fake_shopify, db_url, clock):
    ch, client = app_ch
    deliver_app(client, order_payload(order_id=7800))
    drain(ch)
    [token] = fake_shopify.access_tokens
    with ch.db.read() as conn:
        dumped = " ".join(str(v) for r in conn.execute(text("SELECT * FROM shop_connections")) for v in r)
    assert token not in dumped and CLIENT_SECRET not in dumped
    if db_url.startswith("sqlite"):  # the file itself, and its write-ahead log
        database = Path(ch.settings.database_url.removeprefix("sqlite:///"))
        files = [database, database.with_name(database.name + "-wal")]
        assert not any(token.encode() in f.read_bytes() for f in files if f.exists())
    other = build(replace(ch.settings, token_key="a-brand-new-token-key-0123"))
    other.clock = clock
    try:
        assert other.connections.token(other.shop("acme")).value != token  # taken again
    finally:
        other.close()
    assert fake_shopify.grants == ["client_credentials"] * 2


def test_concurrent_first_needs_take_one_token(app_ch, fake_shopify):
    ch, _ = app_ch
    shop = ch.shop("acme")
    got: list[str] = []
    threads = [threading.Thread(target=lambda: got.append(ch.connections.token(shop).value))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 1 and fake_shopify.grants == ["client_credentials"]


def test_an_admin_created_apps_shop_ignores_an_uninstall(client, ch):
    r = deliver(client, SHOP_RESOURCE, topic="app/uninstalled")  # signed with its webhook_secret
    assert r.json == {"status": "ignored"} and row(ch) is None


def test_a_renewal_whose_process_died_is_taken_over_once_its_lease_runs_out(
        tmp_path, db_url, fake_dots, fake_shopify, clock):
    quick = app_shop(connect_timeout=0.5, read_timeout=1)  # a call's deadline: 1.5 s; a lease 8 s
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, shop=quick) as (ch, _):
        shop = ch.shop("acme")
        first = ch.connections.token(shop)
        clock.now += 86400  # expired; a process claimed its renewal and was killed before asking
        with ch.db.write() as conn:
            conn.execute(shop_connections.update().values(renewing_until=clock.now + 8, renewing_by="x:1:y"))
        with pytest.raises(Transient, match="another process is renewing acme's token"):
            ch.connections.token(shop)  # it waits for the holder, within one call's deadline
        clock.now += 9
        assert ch.connections.token(shop).value != first.value
        assert fake_shopify.grants == ["client_credentials"] * 2
