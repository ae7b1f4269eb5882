"""A client's Shopify store (authorization code grant): the install redirect, the callback's
checks, the expiring token and its rotating refresh token; the app's webhooks, made sure of by
`certhook shopify connect`; `check --online`; and no token or secret anywhere it could leak."""
from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from certhook import create_app
from certhook.cli import main
from certhook.context import build
from certhook.http import NotConnected
from certhook.models import shop_connections

from .fakes.shopify_app import CLIENT_SECRET
from .helpers import PUBLIC_URL, drain, make_ch, order_of, order_payload, run_due, sign_in
from .test_hardening import everything_seen
from .test_shopify_app import app_shop, deliver_app

CALLBACK = f"{PUBLIC_URL}/shopify/callback"
HOOKS = f"{PUBLIC_URL}/webhooks/shopify"


@pytest.fixture
def code_ch(tmp_path, db_url, fake_dots, fake_shopify):  # type: ignore[no-untyped-def]
    shop = app_shop(connect="authorization_code")
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, shop=shop) as made:
        yield made


def install(client: Any, shop: str = "acme.myshopify.com") -> dict[str, str]:
    """Open the install link as the store's owner would; the authorize URL's parameters."""
    r = client.get(f"{PUBLIC_URL}/shopify/install?shop={shop}")
    assert r.status_code == 302, r.text
    return {k: v[0] for k, v in parse_qs(urlsplit(r.headers["Location"]).query).items()}


def connected_row(ch: Any) -> Any:
    with ch.db.read() as conn:
        return conn.execute(select(shop_connections)).first()


def connect(ch: Any, *more: str) -> Any:
    return CliRunner().invoke(main, ["shopify", "connect", "--config", str(ch.settings.path), *more])


def test_the_install_link_sends_the_owner_to_approve_the_app(code_ch, fake_shopify):
    ch, client = code_ch
    r = client.get(f"{PUBLIC_URL}/shopify/install?shop=acme.myshopify.com")
    where = urlsplit(r.headers["Location"])
    assert f"{where.scheme}://{where.netloc}" == fake_shopify.url and where.path == "/admin/oauth/authorize"
    query = parse_qs(where.query)
    assert query["client_id"] == [ch.shop("acme").client_id]
    assert query["scope"] == ["read_orders,write_orders"] and query["redirect_uri"] == [CALLBACK]
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,}", query["state"][0])
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert query["state"][0] not in cookie  # signed: the browser holds it, can't forge one
    assert client.get(f"{PUBLIC_URL}/shopify/install?shop=other.myshopify.com").status_code == 400


@pytest.mark.parametrize(("spoil", "said"), [
    ("hmac", "HMAC does not match"), ("state", "state does not match"), ("no cookie", "state does not match"),
    ("shop", "not configured"), ("timestamp", "older than 5 minutes")])
def test_a_callback_that_does_not_check_out_is_400_and_stores_nothing(
        code_ch, fake_shopify, clock, spoil, said):
    ch, client = code_ch
    state = install(client)["state"]
    changes: dict[str, str] = {}
    if spoil == "state":
        state = "another-state-0123456789"
    if spoil == "shop":
        fake_shopify.domain = "other-store.myshopify.com"
    if spoil == "timestamp":
        changes["timestamp"] = str(int(clock.now) - 301)
    url = fake_shopify.callback_query(CALLBACK, state, **changes)
    if spoil == "hmac":
        url = url.replace("code=", "code=0")
    if spoil == "no cookie":
        client.delete_cookie("certhook_shopify_state", domain="certhook.example", path="/shopify/")
    r = client.get(url)
    assert r.status_code == 400 and said in r.text
    assert fake_shopify.grants == [] and connected_row(ch) is None


def test_the_genuine_callback_connects_with_an_expiring_token_and_registers_the_webhooks(
        code_ch, fake_shopify, clock):
    ch, client = code_ch
    r = client.get(fake_shopify.callback_query(CALLBACK, install(client)["state"]))
    assert r.status_code == 200 and "acme is connected" in r.text
    assert "certhook_shopify_state=;" in r.headers["Set-Cookie"]  # used once
    row = connected_row(ch)
    assert (row.connect, row.status, row.generation) == ("authorization_code", "connected", 1)
    assert row.expires_at == pytest.approx(clock.now + 3600, abs=2)
    assert row.refresh_token and row.refresh_expires_at == pytest.approx(clock.now + 2592000, abs=2)
    assert fake_shopify.grants == ["code"]
    assert sorted(s["topic"] for s in fake_shopify.subscriptions.values()) == [
        "APP_UNINSTALLED", "ORDERS_CANCELLED", "ORDERS_PAID", "REFUNDS_CREATE"]
    assert {s["uri"] for s in fake_shopify.subscriptions.values()} == {HOOKS}
    assert client.get(fake_shopify.callback_query(CALLBACK, "x" * 32)).status_code == 400  # no replay


def test_the_expiring_token_is_refreshed_before_its_hour_and_after_it(code_ch, fake_shopify, clock):
    ch, client = code_ch
    client.get(fake_shopify.callback_query(CALLBACK, install(client)["state"]))
    clock.now += 3600 * 0.95  # in its last 10 %: renewed before it runs out
    deliver_app(client, order_payload(order_id=8001))
    drain(ch)
    assert order_of(client, 8001)["status"] == "done"
    clock.now += 4000  # past its hour: refreshed with the refresh token it was given last
    deliver_app(client, order_payload(order_id=8002))
    drain(ch)
    assert order_of(client, 8002)["status"] == "done"
    assert fake_shopify.grants == ["code", "refresh_token", "refresh_token"]
    assert connected_row(ch).previous_refresh_token is None  # the new pair worked: the old one went


def test_a_refresh_whose_answer_was_lost_recovers_with_the_refresh_token_before(
        code_ch, fake_shopify, clock):
    ch, client = code_ch
    client.get(fake_shopify.callback_query(CALLBACK, install(client)["state"]))
    clock.now += 4000
    fake_shopify.drop_next_grant_answer()  # Shopify rotated the pair, certhook never heard
    deliver_app(client, order_payload(order_id=8101))
    drain(ch)
    assert order_of(client, 8101)["status"] == "done"
    assert fake_shopify.grants == ["code", "refresh_token", "refresh_token"]
    clock.now += 4000  # and the pair it got then works for the next refresh
    deliver_app(client, order_payload(order_id=8102))
    drain(ch)
    assert order_of(client, 8102)["status"] == "done" and fake_shopify.grants[-1] == "refresh_token"


def test_connect_makes_sure_of_the_four_webhooks_and_changes_nothing_twice(app_ch, fake_shopify):
    ch, _ = app_ch
    fake_shopify.subscriptions["gid://shopify/WebhookSubscription/900"] = {
        "topic": "PRODUCTS_UPDATE", "uri": "https://elsewhere.example/hook", "format": "JSON"}
    first = connect(ch)
    assert first.exit_code == 0, first.output
    assert first.output.count(": created") == 4 and "client credentials, connected" in first.output
    queries = len(fake_shopify.queries)
    second = connect(ch, "--shop", "acme")
    assert second.exit_code == 0 and second.output.count(": unchanged") == 4
    assert [q for q in fake_shopify.queries[queries:] if "Webhook" in q and "Create" in q + "Update"] == []
    [paid] = [i for i, s in fake_shopify.subscriptions.items() if s["topic"] == "ORDERS_PAID"]
    fake_shopify.subscriptions[paid]["uri"] = "https://old-host.example/webhooks/shopify"
    third = connect(ch)
    assert "orders/paid: updated (https://old-host.example/webhooks/shopify)" in third.output
    assert third.output.count(": updated") == 1
    assert connect(ch).output.count(": unchanged") == 4
    assert fake_shopify.subscriptions["gid://shopify/WebhookSubscription/900"]["topic"] == "PRODUCTS_UPDATE"
    assert len(fake_shopify.subscriptions) == 5  # nothing deleted, nothing doubled


def test_connect_reports_the_stores_user_errors_and_needs_public_url(
        tmp_path, db_url, fake_dots, fake_shopify):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, shop=app_shop(),
                 public_url="http://certhook.example") as (ch, _):
        result = connect(ch)
        assert result.exit_code == 1 and "Address protocol http:// is not supported" in result.output
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, shop=app_shop(), public_url="") as (ch, _):
        result = connect(ch)
        assert result.exit_code == 1 and "public_url is not set" in result.output


def test_check_online_says_how_each_shop_is_connected(app_ch, fake_shopify):
    ch, _ = app_ch
    check = ["check", "--online", "--config", str(ch.settings.path)]
    before = CliRunner().invoke(main, check)
    assert before.exit_code == 1 and "webhooks missing" in before.output and "orders/paid" in before.output
    assert "scopes read_orders, write_orders" in before.output
    connect(ch)
    after = CliRunner().invoke(main, check)
    assert after.exit_code == 0, after.output
    assert "client credentials, connected, token expires" in after.output
    fake_shopify.scope = "read_orders"
    fake_shopify.expire_tokens()
    scoped = CliRunner().invoke(main, check)
    assert scoped.exit_code == 1 and "missing scopes: write_orders" in scoped.output


def test_check_online_names_refused_app_credentials(tmp_path, db_url, fake_dots, fake_shopify):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify,
                 shop=app_shop(client_secret="not-the-app-secret")) as (ch, _):
        result = CliRunner().invoke(main, ["check", "--online", "--config", str(ch.settings.path)])
        assert result.exit_code == 1
        assert "Shopify refused certhook's app credentials for acme" in result.output


def test_no_token_refresh_token_or_client_secret_is_seen_anywhere(code_ch, fake_shopify, clock, caplog):
    ch, client = code_ch
    caplog.set_level(logging.DEBUG)
    client.get(fake_shopify.callback_query(CALLBACK, install(client)["state"]))
    clock.now += 4000
    deliver_app(client, order_payload(order_id=8201))
    drain(ch)  # refreshed
    fake_shopify.fail_next("echo")  # a 401 quoting the token it was sent, in every form: renewed
    deliver_app(client, order_payload(order_id=8202))
    drain(ch)
    fake_shopify.fail_next("echo", None, "echo")  # 401, a new token, 401 again: refused
    deliver_app(client, order_payload(order_id=8203))
    run_due(ch)
    assert order_of(client, 8203)["writeback"]["status"] == "pending"
    seen = everything_seen(ch, client, caplog, ["/", "/orders/acme/8202", "/orders/acme/8203"])
    seen += connect(ch).output
    secrets = [*fake_shopify.access_tokens, *fake_shopify.refresh_tokens, CLIENT_SECRET]
    assert len(secrets) >= 5
    assert not [s for s in secrets if s in seen]


@pytest.fixture
def app_ch(tmp_path, db_url, fake_dots, fake_shopify):  # type: ignore[no-untyped-def]
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, shop=app_shop()) as made:
        yield made


def test_a_new_token_key_asks_for_the_install_again_and_never_crashes(code_ch, fake_shopify, clock):
    ch, client = code_ch
    client.get(fake_shopify.callback_query(CALLBACK, install(client)["state"]))
    other = build(replace(ch.settings, token_key="a-brand-new-token-key-0123"))
    other.clock = clock
    try:
        with pytest.raises(NotConnected, match="can't be read .* open https://certhook.example/shopify/install"):
            other.connections.token(other.shop("acme"))
        assert fake_shopify.grants == ["code"]  # nothing sent with what it can't read
        client = create_app(ch=other).test_client()
        sign_in(client)
        assert "refresh token can&#39;t be read" in client.get("/").text
    finally:
        other.close()
