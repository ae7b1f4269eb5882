"""The Dots.eco balance on the dashboard: asked every 15 minutes, read defensively, the days it
lasts at the last 30 days' pace, a warning under 14 days, "unknown" on any error."""
from __future__ import annotations

import pytest

from certhook.balance import ensure_balance, read

from .helpers import deliver, drain, make_ch, order_of, order_payload, run_due, sign_in


@pytest.mark.parametrize(("answer", "value"), [
    (250, 250.0), ("250.00", 250.0), ({"balance": "1,234.50"}, 1234.5),
    ({"data": {"credits": 10}}, 10.0), ({"status": True, "data": {"balance": 3}}, 3.0),
    ({"x": 1}, None), ([], None), (None, None), (True, None), ("NaN", None), ({"balance": "lots"}, None)])
def test_the_answer_is_read_defensively(answer, value):
    assert read(answer) == value


def ask(ch, balance, fake_dots) -> None:  # type: ignore[no-untyped-def]
    fake_dots.balance = (200, {"balance": balance})
    ch.clock.now += 15 * 60 + 1
    run_due(ch)


def test_the_balance_and_the_days_it_lasts(client, ch, fake_dots):
    ensure_balance(ch)
    fake_dots.balance = (200, {"balance": "300.00"})
    run_due(ch)
    sign_in(client)
    assert "Dots.eco balance: 300.00" in client.get("/").text
    ask(ch, "250", fake_dots)
    ch.clock.now += 10 * 86400
    ask(ch, "250", fake_dots)  # 50 spent in 10 days: 5 a day, 50 days left
    page = client.get("/").text
    assert "Dots.eco balance: 250.00, about 50 days" in page and "runs out" not in page
    ch.clock.now += 9 * 86400
    ask(ch, "60", fake_dots)  # 240 in 20 days: 12 a day, 5 days left
    assert "runs out in about 5 days" in client.get("/").text
    assert fake_dots.balance_asks == 4  # once per 15 minutes at most


def test_an_error_is_unknown_and_never_blocks_issuing(client, ch, fake_dots):
    fake_dots.balance = (403, {"message": "Company not yet activated for production."})
    ensure_balance(ch)
    deliver(client, order_payload())
    drain(ch)
    assert order_of(client)["status"] == "done"
    sign_in(client)
    assert "Dots.eco balance: unknown (Dots.eco: credentials rejected (403)" in client.get("/").text


def test_no_balance_is_asked_without_a_certificate_app(tmp_path, db_url, fake_dots, fake_shopify):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, shop={"mode": "shadow"},
                 dots={"api_url": fake_dots.api_url}) as (ch, client):
        ensure_balance(ch)
        run_due(ch)
        assert fake_dots.balance_asks == 0
