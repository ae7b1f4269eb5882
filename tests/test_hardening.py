"""Every door hardened: headers, cookies behind a proxy, throttled tokens, links and cells that
cannot run code, settings that hold no stray CR, errors that never show a secret, retention."""
from __future__ import annotations

import base64
import io
import json
import logging
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select, text, update

from certhook import create_app
from certhook.context import build
from certhook.models import deliveries, items, orders
from certhook.retention import ensure_prune
from certhook.settings import SettingsError, load_settings
from tests.fakes import certfusion as fake_cf_mod
from tests.fakes import dots as fake_dots_mod
from tests.fakes import shopify as fake_shopify_mod
from tests.fakes.woocommerce import CONSUMER_KEY, CONSUMER_SECRET

from .helpers import (
    ADMIN_TOKEN,
    AUTH,
    CERTFUSION_RULE,
    RULES,
    SECRET,
    csrf,
    deliver,
    deliver_woo,
    drain,
    make_ch,
    order_payload,
    run_due,
    sign_in,
    woo_order,
    write_config,
)


def test_pages_carry_the_security_headers(client, ch):
    for path in ("/login", "/static/style.css", "/c/not-a-token", "/api/orders"):
        r = client.get(path)
        csp = r.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp and "script-src" not in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "no-referrer"
        assert "Strict-Transport-Security" not in r.headers  # plain http here
        r.close()
    assert "max-age" in client.get("/login", base_url="https://localhost").headers["Strict-Transport-Security"]


@pytest.mark.parametrize(("proxies", "secure"), [(1, True), (0, False)])
def test_the_cookie_is_secure_behind_a_tls_proxy(tmp_path, db_url, fake_dots, fake_shopify, proxies, secure):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, trusted_proxies=proxies,
                 public_url="http://certhook.internal") as (ch, client):
        tls = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
        token = csrf(client)
        r = client.post("/login", data={"token": ADMIN_TOKEN, "csrf_token": token}, headers=tls)
        assert r.status_code == 302
        assert ("Secure" in r.headers["Set-Cookie"]) is secure


def test_wrong_bearer_tokens_are_throttled_in_every_process(tmp_path, db_url, fake_dots, fake_shopify):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify) as (ch, client):
        other = create_app(ch=ch).test_client()  # another process: the count is in the database
        wrong = {"Authorization": "Bearer wrong-token"}
        assert [client.get("/api/orders", headers=wrong).status_code for _ in range(3)] == [401] * 3
        r = other.get("/api/orders", headers=wrong)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert other.get("/api/orders", headers=AUTH).status_code == 429  # a guess must wait too
        ch.clock.now += 2
        assert other.get("/api/orders", headers=AUTH).status_code == 200
        # the count goes on: the next wrong token is heard, then waits twice as long
        assert [client.get("/api/orders", headers=wrong).status_code for _ in range(2)] == [401, 429]


def test_a_huge_page_number_is_no_error(client, ch):
    sign_in(client)
    assert client.get("/?page=" + "9" * 20).status_code == 200
    assert client.get("/api/orders?page=" + "9" * 20, headers=AUTH).status_code == 400


class Unreadable(io.RawIOBase):
    """A body that must not be read."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        raise AssertionError("the body was read")


@pytest.mark.parametrize("path", ["/login", "/logout", "/orders/acme/1/retry", "/api/orders/acme/1/retry"])
def test_a_post_over_64_kib_is_413_before_its_body_is_read(client, path):
    r = client.post(path, headers=AUTH, content_type="application/x-www-form-urlencoded",
                    environ_overrides={"wsgi.input": Unreadable(), "CONTENT_LENGTH": str(200 * 2**20)})
    assert r.status_code == 413 and r.headers["Connection"] == "close"


def test_a_chunked_form_is_cut_at_64_kib(client):
    """No length said: the form is read up to the limit, then 413."""
    r = client.post("/login", data=b"token=" + b"x" * 70_000, headers={"Transfer-Encoding": "chunked"},
                    content_type="application/x-www-form-urlencoded",
                    environ_overrides={"wsgi.input_terminated": True})  # as gunicorn says it
    assert r.status_code == 413
    assert client.post("/login", data={"token": "x" * 60_000}).status_code == 400  # under it: read (no CSRF)
    assert client.post("/login", data={"token": "x" * 60_000}, headers={"Transfer-Encoding": "chunked"},
                       environ_overrides={"wsgi.input_terminated": True}).status_code == 400


@pytest.mark.parametrize("query", ["from=0001-01-01&to=9999-12-31", "from=1969-12-31", "to=2101-01-01"])
def test_impact_dates_outside_1970_to_2100_are_400(client, query):
    sign_in(client)
    for page in ("/impact", "/impact.csv"):
        r = client.get(f"{page}?{query}")
        assert r.status_code == 400 and "dates are from 1970-01-01 to 2100-12-31" in r.text


def test_csv_cells_are_never_formulas(client, ch, fake_dots):
    deliver(client, order_payload(order_id=4001, name="=HYPERLINK(\"http://evil\")"))
    drain(ch)
    sign_in(client)
    day = datetime.fromtimestamp(ch.now(), UTC).date().isoformat()
    csv = client.get(f"/impact.csv?from={day}&to={day}").text
    assert "'=HYPERLINK" in csv and ",=HYPERLINK" not in csv


def test_only_http_urls_are_rendered_as_links(client, ch, fake_dots):
    deliver(client, order_payload(order_id=4002))
    drain(ch)
    with ch.db.write() as conn:
        conn.execute(update(items).values(certificate_url="javascript:alert(1)",
                                          certificate_image_url="javascript:alert(2)"))
    sign_in(client)
    page = client.get("/orders/acme/4002").text
    assert 'href="javascript:' not in page and 'src="javascript:' not in page
    assert "javascript:alert(1)" in page  # shown as text, for the merchant to see


def test_only_http_urls_are_written_back_to_a_store(tmp_path, db_url, fake_dots, fake_shopify, fake_woo):
    fake_dots.links = "javascript:alert(1)//"
    fake_woo.add_order(woo_order(), datetime(2026, 11, 22, tzinfo=UTC))
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, woo_url=fake_woo.api_url) as (ch, client):
        deliver(client, order_payload(order_id=4007))
        deliver_woo(client, woo_order())
        drain(ch)
    written = fake_shopify.value("4007")
    assert written and all(e["url"] is None and e["image_url"] is None for e in written)
    assert fake_woo.customer_notes(727) and "javascript:" not in json.dumps(fake_woo.customer_notes(727))
    assert "javascript:" not in json.dumps(fake_woo.meta(727, "certhook_certificates"))


def test_without_public_url_no_link_follows_the_host_header(tmp_path, db_url, fake_dots, fake_shopify):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, public_url="") as (ch, client):
        deliver(client, order_payload(order_id=4003))
        r = client.get("/api/orders/acme/4003", headers={**AUTH, "Host": "evil.example"})
        assert r.json["customer_url"] is None
        sign_in(client)
        assert "evil.example" not in client.get("/orders/acme/4003", headers={"Host": "evil.example"}).text


def test_tokens_are_stripped_and_a_control_character_is_named_not_shown(tmp_path, db_url):
    path = write_config(tmp_path, db_url, "https://d/api/v1", "https://s/admin",
                        admin_token=ADMIN_TOKEN + "\r", shop={"webhook_secret": f"  {SECRET}\r\n"})
    settings = load_settings(path)
    assert settings.admin_token == ADMIN_TOKEN and settings.shops[0].webhook_secret == SECRET
    path = write_config(tmp_path, db_url, "https://d/api/v1", "https://s/admin",
                        dots={"auth_token": "dots-\rtoken-inside", "app_token": "a", "app_id": 6})
    with pytest.raises(SettingsError) as raised:
        load_settings(path)
    assert "dots.auth_token: contains a control character" in str(raised.value)
    assert "dots-" not in str(raised.value)


def everything_seen(ch, client, caplog, pages: list[str]) -> str:  # type: ignore[no-untyped-def]
    """The log, every column of the orders, items, jobs and timeline, the API and these
    dashboard pages, as one text."""
    seen = [r.getMessage() for r in caplog.records] + [str(r.exc_info) for r in caplog.records]
    with ch.db.read() as conn:
        for table in ("items", "jobs", "orders", "events"):
            rows = conn.execute(text(f"SELECT * FROM {table}"))
            seen += [json.dumps([str(v) for v in row]) for row in rows]
    seen.append(client.get("/api/orders", headers=AUTH).text)
    sign_in(client)
    seen += [client.get(page).text for page in pages]
    return "\n".join(seen)


SECRETS = [fake_dots_mod.AUTH_TOKEN, fake_dots_mod.APP_TOKEN, fake_shopify_mod.ACCESS_TOKEN, ADMIN_TOKEN,
           SECRET, "test-secret-key-0123456789"]


def test_no_secret_reaches_a_log_an_error_column_or_an_answer(client, ch, fake_dots, caplog, monkeypatch):
    """A service that echoes the token it was sent, and a token that could not be sent at all."""
    monkeypatch.setitem(type(fake_dots).FAULT_ANSWERS, "echo", (
        401, {"message": f"Unauthenticated: {fake_dots_mod.AUTH_TOKEN} is not valid"}, {}))
    caplog.set_level(logging.DEBUG)
    fake_dots.fail_next("echo", "echo", "500")
    deliver(client, order_payload(order_id=4004))
    drain(ch)
    # A token that can't go into a header (http.client's error would quote it), in another process
    dots = replace(ch.settings.dots, auth_token=fake_dots_mod.AUTH_TOKEN + "\r")
    other = build(replace(ch.settings, dots=dots))
    other.clock = ch.clock
    try:
        deliver(client, order_payload(order_id=4005))
        drain(other)
    finally:
        other.close()
    everything = everything_seen(ch, client, caplog, [f"/orders/acme/{n}" for n in (4004, 4005)])
    assert "Unauthenticated: [redacted]" in everything  # the echo was seen, and cut
    assert "could not be made (its URL, a header or its proxy is not valid)" in everything
    leaked = [s for s in SECRETS if s in everything]
    assert leaked == []


ECHOED = [*SECRETS, CONSUMER_KEY, CONSUMER_SECRET, fake_cf_mod.API_TOKEN,
          base64.b64encode(f"{CONSUMER_KEY}:{CONSUMER_SECRET}".encode()).decode()]


def test_a_credential_a_service_echoes_in_any_form_is_seen_nowhere(
        tmp_path, db_url, fake_dots, fake_shopify, fake_woo, fake_cf, caplog):
    """Each service answers 401 quoting what it was sent: the header (a token header, Basic,
    Bearer) and the credential as a query string carries it. Not one of them reaches the log,
    a job's error, the API or the dashboard."""
    caplog.set_level(logging.DEBUG)
    course = {"id": 3, "sku": "COURSE-AI", "title": "Introduction to AI", "quantity": 1, "price": "99.00"}
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, rules=RULES + CERTFUSION_RULE,
                 woo_url=fake_woo.api_url, certfusion_url=fake_cf.url) as (ch, client):
        for fake, send in [(fake_dots, lambda: deliver(client, order_payload(order_id=4101))),
                           (fake_cf, lambda: deliver(client, order_payload(order_id=4102,
                                                                           line_items=[course]))),
                           (fake_shopify, lambda: deliver(client, order_payload(order_id=4103))),
                           (fake_woo, lambda: deliver_woo(client, woo_order()))]:
            fake.fail_next("echo")
            send()
            drain(ch)
        everything = everything_seen(ch, client, caplog, [
            *(f"/orders/acme/{n}" for n in (4101, 4102, 4103)), "/orders/woo/727"])
    for form in ("auth-token: [redacted]", "Authorization: Bearer [redacted]",
                 "X-Shopify-Access-Token: [redacted]", "Authorization: Basic [redacted]",
                 "?consumer_key=[redacted]&amp;consumer_secret=[redacted]", "?token=[redacted]"):
        assert form in everything, form  # each echo was seen, and cut
    assert [s for s in ECHOED if s in everything] == []


def test_the_daily_prune_forgets_old_deliveries_and_keeps_orders(tmp_path, db_url, fake_dots, fake_shopify):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, retention_days=30) as (ch, client):
        deliver(client, order_payload(order_id=4006))
        drain(ch)
        with ch.db.write() as conn:
            conn.execute(insert(deliveries).values(shop="acme", topic="orders/paid", outcome="accepted",
                                                   received_at=ch.now() - 31 * 86400))
        ensure_prune(ch)  # as a starting worker does: the prune is due at once
        run_due(ch)
        with ch.db.read() as conn:
            ages = [ch.now() - r for r in conn.execute(select(deliveries.c.received_at)).scalars()]
            kept = conn.execute(select(func.count()).select_from(orders)).scalar_one()
        assert ages and max(ages) < 30 * 86400 and kept == 1
