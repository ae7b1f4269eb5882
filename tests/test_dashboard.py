"""The dashboard: sign-in, CSRF, orders, one order, retry, impact; the customer's page."""
from __future__ import annotations

import dataclasses
import time

import pytest

from certhook.links import customer_token

from .helpers import ADMIN_TOKEN, PUBLIC_URL, csrf, deliver, drain, make_ch, order_payload, run_due, sign_in


@pytest.fixture
def signed_in(client):  # type: ignore[no-untyped-def]
    sign_in(client)
    return client


@pytest.mark.parametrize("path", ["/", "/orders/acme/1", "/impact", "/impact.csv", "/?q=x"])
def test_every_page_needs_sign_in(client, path):
    r = client.get(path)
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=")


def test_posts_without_csrf_are_rejected(client, signed_in, ch):
    deliver(client, order_payload())
    assert client.post("/orders/acme/5551234/retry").status_code == 400
    assert client.post("/orders/acme/5551234/retry", data={"csrf_token": "forged"}).status_code == 400
    assert client.post("/logout").status_code == 400
    assert client.post("/login", data={"token": ADMIN_TOKEN}).status_code == 400


def test_sign_in_cookie_and_sign_out(client):
    r = client.post("/login", data={"token": ADMIN_TOKEN, "csrf_token": csrf(client), "next": "/"})
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" in cookie  # public_url is https
    assert client.get("/").status_code == 200
    kept = client.get_cookie("certhook_session").value
    assert client.post("/logout", data={"csrf_token": csrf(client, "/")}).status_code == 302
    assert client.get("/").status_code == 302
    client.set_cookie("certhook_session", kept)  # the old cookie, replayed: it opens nothing
    assert client.get("/").status_code == 302


def test_a_new_admin_token_ends_the_sessions_opened_with_the_old_one(client, ch):
    sign_in(client)
    assert client.get("/").status_code == 200
    ch.settings = dataclasses.replace(ch.settings, admin_token="a-brand-new-admin-token-0123")
    assert client.get("/").status_code == 302  # the next restart with it: signed out
    assert client.post("/login", data={"token": "a-brand-new-admin-token-0123",
                                       "csrf_token": csrf(client)}).status_code == 302
    assert client.get("/").status_code == 200


def test_signing_out_ends_the_other_sessions_too(app):
    one, two = app.test_client(), app.test_client()
    sign_in(one)
    sign_in(two)
    assert one.post("/logout", data={"csrf_token": csrf(one, "/")}).status_code == 302
    assert two.get("/").status_code == 302
    sign_in(two)
    assert two.get("/").status_code == 200


def test_next_never_leaves_the_site(client):
    r = client.post("/login", data={"token": ADMIN_TOKEN, "csrf_token": csrf(client),
                                    "next": "//evil.example/"})
    assert r.headers["Location"] == "/"


def test_wrong_tokens_slow_down(client, ch):
    token = csrf(client)
    codes = [client.post("/login", data={"token": "wrong", "csrf_token": token}).status_code
             for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    r = client.post("/login", data={"token": ADMIN_TOKEN, "csrf_token": token})
    assert r.status_code == 429  # even the right token waits its turn
    ch.clock.now += 2
    assert client.post("/login", data={"token": ADMIN_TOKEN, "csrf_token": token}).status_code == 302


def test_behind_a_proxy_each_client_has_its_own_count(tmp_path, db_url, fake_dots, fake_shopify):
    """trusted_proxies: 1 (nginx): X-Forwarded-For names the client, so three wrong tokens from
    one address do not lock out the admin coming from another."""
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, trusted_proxies=1) as (ch, client):
        def login(token: str, address: str) -> int:
            return client.post("/login", data={"token": token, "csrf_token": csrf(client)},
                               headers={"X-Forwarded-For": address}).status_code
        assert [login("wrong", "203.0.113.7") for _ in range(4)] == [401, 401, 401, 429]
        assert login(ADMIN_TOKEN, "198.51.100.2") == 302


def test_without_trusted_proxies_x_forwarded_for_changes_nothing(client, ch):
    def login(token: str, address: str) -> int:
        return client.post("/login", data={"token": token, "csrf_token": csrf(client)},
                           headers={"X-Forwarded-For": address}).status_code
    assert [login("wrong", f"203.0.113.{n}") for n in range(4)] == [401, 401, 401, 429]


def test_wrong_tokens_from_many_addresses_warn_and_never_lock_the_admin_out(
        tmp_path, db_url, fake_dots, fake_shopify, caplog):
    """36 wrong tokens from 12 addresses, 3 each (under each one's own limit): the admin, from
    yet another address, still signs in; the dashboard and the log warn."""
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, trusted_proxies=1) as (ch, client):
        def login(token: str, address: str) -> int:
            return client.post("/login", data={"token": token, "csrf_token": csrf(client)},
                               headers={"X-Forwarded-For": address}).status_code
        codes = [login("wrong", f"203.0.113.{n // 3}") for n in range(36)]
        assert codes == [401] * 36
        assert "dashboard: 30 wrong tokens in the last hour from every client together" in caplog.text
        assert login(ADMIN_TOKEN, "198.51.100.2") == 302
        page = client.get("/").text
        assert "dashboard: 36 wrong tokens in the last hour from every client together" in page
        ch.clock.now += 3601
        assert "wrong tokens" not in client.get("/").text  # an hour later it is old news


def test_orders_list_search_and_filters(client, signed_in, ch):
    deliver(client, order_payload(order_id=1001, name="#1001", email="ana@example.com"))
    deliver(client, order_payload(order_id=1002, name="#1002", email="bo@example.com", customer=None))
    drain(ch)
    page = client.get("/").text
    assert "#1001" in page and "#1002" in page
    assert "2 × Save a Sea Turtle" in page
    assert page.index("#1002") < page.index("#1001")  # newest first
    only = client.get("/?q=bo@example.com").text
    assert "#1002" in only and "#1001" not in only
    assert "#1001" in client.get("/?q=1001").text
    assert "No orders match" in client.get("/?status=failed").text
    assert "#1001" in client.get("/?shop=acme&status=done").text


def test_order_page_shows_certificates_timeline_and_retry(client, signed_in, ch, fake_dots):
    fake_dots.fail_next(*["500"] * 10)
    deliver(client, order_payload())
    drain(ch)
    page = client.get("/orders/acme/5551234").text
    assert "Dots.eco: Server Error" in page and "Retry what failed" in page
    assert "received by webhook" in page
    r = client.post("/orders/acme/5551234/retry", data={"csrf_token": csrf(client, "/orders/acme/5551234")})
    assert r.status_code == 302
    drain(ch)
    page = client.get("/orders/acme/5551234").text
    cert = fake_dots.certificates[0]
    assert cert["certificate_url"] in page and cert["certificate_image_url"] in page
    assert "written onto the order" in page and "Retry what failed" not in page
    assert client.get("/orders/acme/nope").status_code == 404


def test_attention_banner(client, signed_in, ch, fake_dots):
    fake_dots.out_of_balance = True
    deliver(client, order_payload())
    drain_until = ch.clock.now
    run_due(ch)
    assert "out of balance" in client.get("/").text
    ch.clock.now = drain_until + 3601
    page = client.get("/").text
    assert "1 order</a>" in page and "failed or still retrying after an hour" in page
    fake_dots.out_of_balance = False
    drain(ch)
    assert "Needs attention" not in client.get("/").text


def test_impact_totals_chart_and_csv(client, signed_in, ch):
    deliver(client, order_payload())
    drain(ch)
    day = time.strftime("%Y-%m-%d", time.gmtime(ch.clock.now))
    page = client.get(f"/impact?from={day}&to={day}").text
    assert "Save a Sea Turtle" in page and "<svg" in page and "<rect" in page
    csv = client.get(f"/impact.csv?from={day}&to={day}")
    assert csv.mimetype == "text/csv"
    lines = csv.text.strip().splitlines()
    assert lines[0].startswith("issued_at,shop,order_id") and len(lines) == 3
    assert client.get("/impact?from=soon").status_code == 400


def test_customer_page_by_signed_link(client, ch, fake_dots):
    deliver(client, order_payload())
    drain(ch)
    token = customer_token(ch.settings, "acme", "5551234")
    page = client.get(f"/c/{token}")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "private, no-store"
    assert "2 × Save a Sea Turtle" in page.text
    assert fake_dots.certificates[0]["certificate_url"] in page.text
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"/c/{tampered}").status_code == 404
    other_shop = customer_token(ch.settings, "woo", "5551234")
    assert client.get(f"/c/{other_shop}").status_code == 404
    assert PUBLIC_URL


def test_rejected_store_credentials_need_attention(tmp_path, db_url, fake_dots, fake_shopify):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, shop={"access_token": "shpat_revoked"}) \
            as (ch, client):
        deliver(client, order_payload())
        drain(ch)
        sign_in(client)
        page = client.get("/").text
        assert "Credentials were rejected" in page and "credentials rejected (401)" in page
