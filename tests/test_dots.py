"""Dots.eco: certificate answers read, and eco club offerings (a gift's redeem code and claim URL),
one per gift line item, exactly once."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import yaml
from click.testing import CliRunner
from freezegun import freeze_time

from certhook.cli import main
from certhook.evaluation import external_unique_id
from certhook.http import Transient
from certhook.issuers.dots import certificate, offering, on_the_grid
from certhook.links import customer_token

from .helpers import (
    AUTH,
    OFFERING_RULES,
    deliver,
    drain,
    make_ch,
    order_payload,
    run_due,
    sign_in,
    write_config,
)


def gift_order(order_id: int = 7001, **overrides):  # type: ignore[no-untyped-def]
    return order_payload(order_id=order_id, line_items=[
        {"id": 1, "sku": "HOODIE-BLUE-S", "title": "Blue Hoodie", "quantity": 1, "price": "40.00",
         "total_discount": "0.00", "product_id": 1, "variant_id": 11},
        {"id": 2, "sku": "GIFT-TURTLE", "title": "Gift a sea turtle", "quantity": 2, "price": "10.00",
         "total_discount": "0.00", "product_id": 2, "variant_id": 22,
         "properties": [{"name": "Recipient name", "value": "Zoë"},
                        {"name": "Recipient email", "value": "zoe@example.com"}]},
    ], **overrides)


@pytest.fixture
def gifts(tmp_path, db_url, fake_dots, fake_shopify):  # type: ignore[no-untyped-def]
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, rules=OFFERING_RULES) as made:
        yield made


def test_a_gift_of_2_units_at_5_each_is_one_offering_of_10_expiring_on_the_grid(gifts, fake_dots,
                                                                               fake_shopify):
    ch, client = gifts
    ch.clock.now = None  # the wall clock, which freezegun holds
    with freeze_time("2026-11-22 23:53:00"):
        assert deliver(client, gift_order()).json == {"status": "accepted"}
        run_due(ch)
    [sent] = fake_dots.offering_requests
    assert sent["quantity"] == 10 and sent["limit_allocations"] == "14,32"
    assert sent["title"] == "A turtle for you" and sent["name_on_certificate"] == "Zoë"
    # 23:53 + 365 days is 2027-11-22 23:53, whose nearest quarter hour is the next day's 00:00.
    assert (sent["expiration_date"], sent["expiration_hour"]) == ("2027-11-23", "00:00:00")
    assert "mail" not in sent and "remote_user_id" not in sent  # a code-only club
    assert sent["external_unique_id"] == external_unique_id("acme", "7001", "offering_2")
    order = client.get("/api/orders/acme/7001", headers=AUTH).json
    assert order["status"] == "done"
    gift = next(c for c in order["certificates"] if c["kind"] == "offering")
    offering = fake_dots.offerings[0]
    assert gift["code"] == offering["code"] and gift["impact_qty"] == 10
    assert gift["claim_url"] == f"{offering['claim_url']}?ac={offering['code']}"
    written = fake_shopify.value("7001")
    assert [w.get("kind", "certificate") for w in written] == ["certificate", "offering"]
    assert written[1]["code"] == offering["code"] and written[1]["claim_url"] == gift["claim_url"]
    assert len(fake_dots.certificates) == 1


@pytest.mark.parametrize("fault", ["lost answer", "three 500s", "five deliveries"])
def test_exactly_one_offering(gifts, fake_dots, fault):
    ch, client = gifts
    if fault == "lost answer":
        fake_dots.fail_next(None, "drop")  # the certificate, then the offering's answer is lost
    elif fault == "three 500s":
        fake_dots.fail_next("500", "500", "500")
    for _ in range(5 if fault == "five deliveries" else 1):
        deliver(client, gift_order())
    drain(ch)
    assert len(fake_dots.offerings) == 1
    assert len(fake_dots.certificates) == 1
    assert client.get("/api/orders/acme/7001", headers=AUTH).json["status"] == "done"
    if fault == "lost answer":  # found by the list endpoint, never posted again
        assert fake_dots.offering_posts == 1 and fake_dots.offering_lists >= 1


def test_a_mail_club_gets_the_recipients_email(gifts, fake_dots):
    ch, client = gifts
    fake_dots.club = "mail"
    object.__setattr__(ch.settings.dots, "offering_club", "mail")
    deliver(client, gift_order())
    drain(ch)
    assert fake_dots.offering_requests[0]["mail"] == "zoe@example.com"


def test_a_code_only_club_refusing_an_email_fails_with_the_message(gifts, fake_dots):
    ch, client = gifts
    object.__setattr__(ch.settings.dots, "offering_club", "mail")  # but the app is code-only
    deliver(client, gift_order())
    drain(ch)
    gift = next(c for c in client.get("/api/orders/acme/7001", headers=AUTH).json["certificates"]
                if c["kind"] == "offering")
    assert gift["status"] == "failed" and gift["error"] == "Dots.eco: We cannot use email for this app."
    assert fake_dots.offering_posts <= 2


def test_the_order_page_shows_code_and_claims_refreshed_once_a_minute(gifts, fake_dots):
    ch, client = gifts
    deliver(client, gift_order())
    drain(ch)
    sign_in(client)
    fake_dots.offerings[0]["no_of_claims"] = 1
    page = client.get("/orders/acme/7001").text
    assert fake_dots.offerings[0]["code"] in page and "claimed 1 time" in page
    fake_dots.offerings[0]["no_of_claims"] = 2
    assert "claimed 1 time" in client.get("/orders/acme/7001").text  # asked a moment ago
    ch.clock.now += 61
    assert "claimed 2 times" in client.get("/orders/acme/7001").text


def test_check_wants_the_offering_app_token(tmp_path, db_url, fake_dots, fake_shopify):
    path = write_config(tmp_path, db_url, fake_dots.api_url, fake_shopify.api_url, rules=OFFERING_RULES)
    config = yaml.safe_load(path.read_text())
    del config["dots"]["offering_app_token"]
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(main, ["check", "--config", str(path)])
    assert result.exit_code == 1
    assert result.output.strip() == ('rules/acme.yaml:6: rule "Gift a turtle": offering needs '
                                     "dots.offering_app_token (an Eco Club app) in the settings")


def test_expiry_is_rounded_to_the_nearest_quarter_hour():
    def at(text: str) -> str:
        return on_the_grid(datetime.fromisoformat(text).replace(tzinfo=UTC)).strftime("%Y-%m-%d %H:%M:%S")

    assert at("2027-01-01 10:07:29") == "2027-01-01 10:00:00"
    assert at("2027-01-01 10:07:30") == "2027-01-01 10:15:00"
    assert at("2027-12-31 23:53:00") == "2028-01-01 00:00:00"


def test_the_customer_page_shows_the_gift_code(gifts, fake_dots):
    ch, client = gifts
    deliver(client, gift_order())
    drain(ch)
    page = client.get(f"/c/{customer_token(ch.settings, 'acme', '7001')}").text
    assert fake_dots.offerings[0]["code"] in page and "Claim the gift" in page
    assert "1 × Save a Sea Turtle" in page


def test_preview_shows_the_offering(tmp_path, db_url, fake_dots, fake_shopify):
    path = write_config(tmp_path, db_url, fake_dots.api_url, fake_shopify.api_url, rules=OFFERING_RULES)
    order = tmp_path / "gift.json"
    order.write_text(json.dumps(gift_order()))
    result = CliRunner().invoke(main, ["preview", "--config", str(path), "--shop", "acme", str(order)])
    assert result.exit_code == 0, result.output
    assert "rule 'Gift a turtle': 10 for offerings (1 line item(s))" in result.output
    assert "offering: quantity 10 for line item 2, limited to allocations [14, 32], valid 365 days" \
        in result.output
    assert fake_dots.offering_posts == 0


def test_an_offering_of_another_order_is_never_adopted(gifts, fake_dots):
    """The list endpoint's own sample has offerings with a null external id: not ours."""
    ch, client = gifts
    fake_dots.offerings.append({"uuid": "someone-elses", "quantity": 10, "code": "e-stranger",
                                "claim_url": f"{fake_dots.url}/claim", "external_unique_id": None,
                                "no_of_claims": 0, "title": None})
    fake_dots.list_ignores_filter = True
    fake_dots.fail_next(None, "500")  # the certificate, then the offering's add fails
    deliver(client, gift_order())
    drain(ch)
    gift = next(c for c in client.get("/api/orders/acme/7001", headers=AUTH).json["certificates"]
                if c["kind"] == "offering")
    assert gift["status"] == "issued" and gift["code"] != "e-stranger"
    assert len(fake_dots.offerings) == 2


@pytest.mark.parametrize("answer", [{}, {"certificate_id": "1-6-5"}, {"certificate_url": "https://x"},
                                    [], None])
def test_a_certificate_answer_that_names_none_is_not_yet_known(answer):
    with pytest.raises(Transient, match="names no certificate"):
        certificate(answer)


def test_answers_are_read_into_one_result():
    cert = certificate({"certificate_id": "134411-6-5", "certificate_url": "https://c/1",
                        "certificate_image_url": "https://c/1.jpg", "impact_type_name": "Save a Sea Turtle"})
    assert (cert.certificate_id, cert.impact, cert.code) == ("134411-6-5", "Save a Sea Turtle", None)
    gift = offering({"uuid": "u-1", "code": "e-100", "claim_url": "https://d/claim?lang=en",
                     "no_of_claims": "2", "title": None})
    assert gift.claim_url == "https://d/claim?lang=en&ac=e-100" and gift.certificate_url == gift.claim_url
    assert (gift.code, gift.claims, gift.impact) == ("e-100", 2, "Gift")
    with pytest.raises(Transient):
        offering({"uuid": "u-2", "claim_url": "https://d/claim"})  # no code yet
