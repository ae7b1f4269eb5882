"""CertFusion certificates: the buyer added to a list and issued, exactly once."""
from __future__ import annotations

import time
from typing import Any

import pytest
from click.testing import CliRunner

from certhook.cli import main

from .helpers import (
    AUTH,
    CERTFUSION_RULE,
    OFFERING_RULES,
    deliver,
    drain,
    make_ch,
    order_payload,
    sign_in,
    write_config,
)

COURSE = CERTFUSION_RULE


def course_order(order_id: int = 8001, *extra: dict[str, Any]):  # type: ignore[no-untyped-def]
    return order_payload(order_id=order_id, processed_at="2026-11-20T10:00:00-05:00", line_items=[
        {"id": 1, "sku": "HOODIE-BLUE-S", "title": "Blue Hoodie", "quantity": 1, "price": "40.00",
         "total_discount": "0.00"},
        {"id": 2, "sku": "GIFT-TURTLE", "title": "Gift a sea turtle", "quantity": 1, "price": "10.00",
         "total_discount": "0.00"},
        {"id": 3, "sku": "COURSE-AI", "title": "Introduction to AI", "quantity": 1, "price": "99.00",
         "total_discount": "0.00"}, *extra])


@pytest.fixture
def shop(tmp_path, db_url, fake_dots, fake_shopify, fake_cf):  # type: ignore[no-untyped-def]
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, rules=OFFERING_RULES + COURSE,
                 certfusion_url=fake_cf.url) as made:
        yield made


def test_a_turtle_a_gift_and_a_course_written_back_together(shop, fake_dots, fake_shopify, fake_cf):
    ch, client = shop
    deliver(client, course_order())
    drain(ch)
    order = client.get("/api/orders/acme/8001", headers=AUTH).json
    assert order["status"] == "done"
    assert sorted((c["kind"], c["issuer"]) for c in order["certificates"]) == [
        ("certfusion", "certfusion"), ("certificate", "dots"), ("offering", "dots")]
    [recipient] = fake_cf.recipients
    assert recipient["email"] == "ana@example.com" and recipient["name"] == "Ana Núñez"
    assert recipient["custom_fields"] == {"course_name": "Introduction to AI",
                                          "purchase_date": "2026-11-20"}
    assert fake_cf.issues == [recipient["id"]]
    course = next(c for c in order["certificates"] if c["issuer"] == "certfusion")
    assert course["certificate_url"] == f"{fake_cf.url}/certificates/{recipient['uuid']}"
    written = fake_shopify.value("8001")
    assert len(written) == 3 and {w.get("issuer") for w in written} == {None, "certfusion"}
    assert len(fake_dots.certificates) == 1 and len(fake_dots.offerings) == 1


@pytest.mark.parametrize("fault", ["answer to the add lost", "answer to the issue lost",
                                   "three 500s", "five deliveries"])
def test_exactly_one_certfusion_issue(shop, fake_cf, fault):
    ch, client = shop
    fake_cf.fail_next(*{"answer to the add lost": ["drop"], "answer to the issue lost": [None, "drop"],
                        "three 500s": ["500", "500", "500"], "five deliveries": []}[fault])
    for _ in range(5 if fault == "five deliveries" else 1):
        deliver(client, course_order())
    drain(ch)
    assert len(fake_cf.recipients) == 1
    assert fake_cf.issues == [1]
    assert client.get("/api/orders/acme/8001", headers=AUTH).json["status"] == "done"


def test_a_custom_field_the_design_lacks_fails_with_certfusions_message(tmp_path, db_url, fake_dots,
                                                                       fake_shopify, fake_cf):
    rules = "rules:\n" + COURSE.replace("course_name:", "teacher:")
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, rules=rules,
                 certfusion_url=fake_cf.url) as (ch, client):
        deliver(client, course_order())
        drain(ch)
        [item] = client.get("/api/orders/acme/8001", headers=AUTH).json["certificates"]
        assert item["status"] == "failed"
        assert item["error"] == ("CertFusion: Custom field 'teacher' is not available for this "
                                 "certificate design. Available fields: course_name, purchase_date")
        assert fake_cf.adds == 1 and fake_cf.issues == []


def test_two_lists_are_issued_in_one_batch(tmp_path, db_url, fake_dots, fake_shopify, fake_cf):
    rules = "rules:\n" + COURSE + """\
  - name: Workshop
    match: {sku: "COURSE-*"}
    certfusion: {list_id: 4, custom_fields: {workshop: "{title} ({order_name})"}}
"""
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, rules=rules,
                 certfusion_url=fake_cf.url) as (ch, client):
        deliver(client, course_order())
        drain(ch)
        assert fake_cf.batch_calls == 1 and sorted(fake_cf.issues) == [1, 2]
        assert fake_cf.recipients[1]["custom_fields"] == {"workshop": "Introduction to AI (#1001)"}
        assert client.get("/api/orders/acme/8001", headers=AUTH).json["status"] == "done"


def test_check_names_unknown_placeholders_missing_settings_and_lists(tmp_path, db_url, fake_dots,
                                                                    fake_shopify, fake_cf):
    fake_dots.allocations = [{"allocation_id": "14", "allocation_name": "Save a Sea Turtle"}]

    def check(rules: str, *args: str, certfusion: bool = True) -> tuple[int, str]:
        path = write_config(tmp_path, db_url, fake_dots.api_url, fake_shopify.api_url, rules=rules,
                            certfusion_url=fake_cf.url if certfusion else None)
        result = CliRunner().invoke(main, ["check", "--config", str(path), *args])
        return result.exit_code, result.output.strip()

    assert check("rules:\n" + COURSE.replace("{title}", "{colour}")) == (1, (
        'rules/acme.yaml:6: rule "Course certificate": certfusion.custom_fields course_name: unknown '
        "placeholder {colour} (use {title}, {sku}, {quantity}, {order_name}, {order_id}, "
        "{order_date}, {customer_name}, {email}, {shop})"))
    assert check("rules:\n" + COURSE, certfusion=False) == (1, (
        'rules/acme.yaml:2: rule "Course certificate": certfusion needs a certfusion section in '
        "the settings"))
    assert check("rules:\n" + COURSE.replace("list_id: 3", "list_id: 7")) == (0, "ok")
    assert check("rules:\n" + COURSE.replace("list_id: 3", "list_id: 7"), "--online") == (1, (
        'rules/acme.yaml:2: rule "Course certificate": CertFusion list 7 does not exist'))
    code, said = check("rules:\n" + COURSE, "--online")  # and what it found of the Shopify shop
    assert code == 0 and said.splitlines()[-1] == "ok"
    assert "shop acme: an admin-created app's access_token" in said
    assert "shop acme: scopes read_orders, write_orders" in said


def test_a_recipient_already_in_the_list_is_reused_and_an_issued_one_not_issued_again(shop, fake_cf):
    ch, client = shop
    # Someone added Ana by hand with identical data: the add answers "skipped", then she is issued.
    fake_cf.recipients.append({"id": 1, "list_id": 3, "email": "ana@example.com", "name": "Ana Núñez",
                               "status": "draft", "uuid": "u-1", "issued_date": None,
                               "custom_fields": {"course_name": "Introduction to AI",
                                                 "purchase_date": "2026-11-20"}})
    deliver(client, course_order(8001))
    drain(ch)
    assert fake_cf.issues == [1] and len(fake_cf.recipients) == 1
    # Her next order of the same course changes a field ("updated"): she keeps her certificate.
    later = course_order(8002)
    later["processed_at"] = "2026-11-21T09:00:00Z"
    deliver(client, later)
    drain(ch)
    assert fake_cf.recipients[0]["custom_fields"]["purchase_date"] == "2026-11-21"
    assert fake_cf.issues == [1]
    course = next(c for c in client.get("/api/orders/acme/8002", headers=AUTH).json["certificates"]
                  if c["issuer"] == "certfusion")
    assert course["status"] == "issued" and course["certificate_id"] == "u-1"


def test_a_recipient_left_unissued_is_tried_again_not_dropped(shop, fake_cf, monkeypatch):
    ch, client = shop
    real, calls = fake_cf.issue_one, []

    def lazy_once(recipient_id: int):  # type: ignore[no-untyped-def]
        calls.append(recipient_id)
        if len(calls) == 1:  # answers 200, but the recipient stays a draft
            return 200, {"status": True, "recipient": dict(fake_cf.recipients[0])}
        return real(recipient_id)

    monkeypatch.setattr(fake_cf, "issue_one", lazy_once)
    deliver(client, course_order())
    drain(ch)
    assert calls == [1, 1] and fake_cf.issues == [1]
    assert client.get("/api/orders/acme/8001", headers=AUTH).json["status"] == "done"


def test_impact_totals_keep_offerings_and_certfusion_apart(shop):
    ch, client = shop
    deliver(client, course_order())
    drain(ch)
    sign_in(client)
    day = time.strftime("%Y-%m-%d", time.gmtime(ch.clock.now))
    page = client.get(f"/impact?from={day}&to={day}").text
    assert "<td>certfusion</td>" in page and "list 3" in page
    assert "<td>offering</td>" in page and "A turtle for you" in page
    assert "Save a Sea Turtle" in page


@pytest.mark.parametrize("suffix", ["", "/api", "/api/"])
def test_the_api_url_works_with_or_without_its_api_path(tmp_path, db_url, fake_dots, fake_shopify,
                                                         fake_cf, suffix):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, rules="rules:\n" + COURSE,
                 certfusion_url=fake_cf.url + suffix) as (ch, client):
        assert ch.settings.certfusion.api_url == fake_cf.url
        deliver(client, course_order())
        drain(ch)
        assert client.get("/api/orders/acme/8001", headers=AUTH).json["status"] == "done"
        assert fake_cf.issues == [1]


def test_another_customers_recipient_is_never_adopted(shop, fake_cf):
    """The search matches emails partly: hana@ is found for ana@, and is not ours."""
    ch, client = shop
    status, added = fake_cf.add({"list_id": 3, "email": "hana@example.com", "name": "Hana",
                                 "custom_fields": {"course_name": "Introduction to AI"}})
    assert status in (200, 201)
    fake_cf.issue_one(added["data"]["id"])
    fake_cf.fail_next("drop")  # ana's add goes through, its answer is lost: the next try looks
    deliver(client, course_order())
    drain(ch)
    ana = next(r for r in fake_cf.recipients if r["email"] == "ana@example.com")
    hana = next(r for r in fake_cf.recipients if r["email"] == "hana@example.com")
    course = next(c for c in client.get("/api/orders/acme/8001", headers=AUTH).json["certificates"]
                  if c["issuer"] == "certfusion")
    assert course["certificate_id"] == ana["uuid"] != hana["uuid"]
