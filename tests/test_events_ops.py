"""Events out as the merchant runs them: `certhook events test`, `certhook check` naming a bad
secret, certhook_events_pending{endpoint}, and the dashboard's Events page."""
from __future__ import annotations

from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from certhook.cli import main
from certhook.models import outbox
from certhook.retention import ensure_prune

from .fakes.receiver import SECRET
from .helpers import (
    csrf,
    deliver,
    drain,
    endpoint,
    make_ch,
    order_payload,
    outbox_rows,
    run_due,
    send_events,
    sign_in,
    write_config,
)

METRICS = {"Authorization": "Bearer metrics-token-0123456789"}


def cli(*args: str) -> object:
    return CliRunner().invoke(main, list(args))


def test_events_test_sends_a_signed_test_event_to_each_endpoint(tmp_path, db_url, fake_dots, fake_shopify,
                                                                receiver):
    config = write_config(tmp_path, db_url, fake_dots.api_url, fake_shopify.api_url,
                          events=[endpoint(receiver, "/a"), endpoint(receiver, "/b")])
    result = cli("events", "test", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert result.output.count("delivered (200), webhook-id msg_") == 2
    assert [e["type"] for e in receiver.events(SECRET)] == ["test", "test"]
    assert [r.headers["webhook-id"] in result.output for r in receiver.received] == [True, True]
    receiver.fail_next("500")
    result = cli("events", "test", "--config", str(config), "--url", receiver.url + "/elsewhere")
    assert result.exit_code == 1 and "/elsewhere: not delivered: events endpoint" in result.output
    assert "HTTP 500" in result.output and len(receiver.received) == 3
    receiver.fail_next("410")
    result = cli("events", "test", "--config", str(config), "--url", receiver.url + "/a")
    assert result.exit_code == 1 and "410 Gone" in result.output


def test_check_names_a_bad_secret_and_never_shows_it(tmp_path, db_url, fake_dots, fake_shopify):
    config = write_config(tmp_path, db_url, fake_dots.api_url, fake_shopify.api_url,
                          events=[{"url": "https://hooks.example/x", "secret": "whsec_dG9vIHNob3J0"}])
    result = cli("check", "--config", str(config))
    assert result.exit_code == 1
    assert "events.0.secret: must be whsec_ followed by the base64 of 24 to 64 random bytes" in result.output
    assert "dG9vIHNob3J0" not in result.output


def test_events_pending_per_endpoint(tmp_path, db_url, fake_dots, fake_shopify, receiver):
    ends = [endpoint(receiver, "/a"), endpoint(receiver, "/b", types=["order.failed"])]
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, events=ends,
                 metrics_token="metrics-token-0123456789") as (ch, client):
        def pending() -> dict[str, float]:
            text = client.get("/metrics", headers=METRICS).text
            return {s.labels["endpoint"]: s.value for f in text_string_to_metric_families(text)
                    for s in f.samples if s.name == "certhook_events_pending"}
        assert pending() == {receiver.url + "/a": 0, receiver.url + "/b": 0}
        receiver.fail_next("503")
        deliver(client, order_payload())
        drain(ch)
        assert pending() == {receiver.url + "/a": 1, receiver.url + "/b": 0}
        send_events(ch)
        assert pending() == {receiver.url + "/a": 0, receiver.url + "/b": 0}


def test_the_events_page_shows_each_delivery_and_retries_a_failed_one(tmp_path, db_url, fake_dots,
                                                                      fake_shopify, receiver):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, events=[endpoint(receiver)]) as (ch, client):
        receiver.fail_next("400")
        deliver(client, order_payload())
        drain(ch)
        sign_in(client)
        page = client.get("/events").text
        assert receiver.url + "/hooks/certhook" in page and "order.issued" in page
        assert "400" in page and "no such field" in page and "pending" in page
        ch.clock.now += 4 * 86400  # past 3 days: the next try that fails gives it up
        receiver.fail_next("500")
        run_due(ch)
        [row] = outbox_rows(ch)
        assert (row.status, row.attempts, row.last_code) == ("failed", 2, 500)
        page = client.get("/events").text
        assert "Retry" in page and "failed" in page
        assert client.post(f"/events/{row.id}/retry").status_code == 400  # no CSRF token
        r = client.post(f"/events/{row.id}/retry", data={"csrf_token": csrf(client, "/events")})
        assert r.status_code == 302
        assert client.post(f"/events/{row.id}/retry", data={"csrf_token": csrf(client, "/events")}
                           ).status_code == 404  # not failed any more
        send_events(ch)
        [row] = outbox_rows(ch)
        assert (row.status, row.attempts, row.last_code) == ("delivered", 3, 200)
        page = client.get("/events").text
        assert "&#34;ok&#34;: true" in page and "thanks " * 20 in page
        assert "thanks " * 40 not in page  # the first 200 characters of the answer
        assert client.application.test_client().get("/events").status_code == 302  # not signed in


def test_the_daily_prune_forgets_old_sent_events_and_keeps_pending_ones(tmp_path, db_url, fake_dots,
                                                                        fake_shopify, receiver):
    ends = [endpoint(receiver, "/a"), endpoint(receiver, "/b")]
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, events=ends, retention_days=30) as (ch, client):
        receiver.fail_next(None, *["503"] * 20)  # /a (or /b) gets it; the other waits
        deliver(client, order_payload())
        drain(ch)
        assert sorted(r.status for r in outbox_rows(ch)) == ["delivered", "pending"]
        ch.clock.now += 31 * 86400
        with ch.db.write() as conn:  # its next try is later still
            conn.execute(update(outbox).where(outbox.c.status == "pending").values(next_at=ch.now() + 60))
        ensure_prune(ch)
        run_due(ch)
        assert [r.status for r in outbox_rows(ch)] == ["pending"]
