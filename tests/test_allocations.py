"""Allocation names from Dots.eco's GET /allocations, read defensively: in shadow mode, preview,
the dashboard, and `check --online` naming an allocation that does not exist."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from certhook.allocations import Names, label, read
from certhook.cli import main

from .helpers import RULES, deliver, drain, make_ch, order_of, order_payload, write_config

ALLOCATIONS = [{"allocation_id": "14", "allocation_name": "Sea turtles", "display_name": "Save a Sea Turtle"},
               {"allocation_id": "32", "allocation_name": "Plant a Tree"}]


@pytest.mark.parametrize(("answer", "names"), [
    (ALLOCATIONS, {14: "Save a Sea Turtle", 32: "Plant a Tree"}),
    ({"data": ALLOCATIONS}, {14: "Save a Sea Turtle", 32: "Plant a Tree"}),
    ({"14": {"allocation_plural_label": "Sea turtles"}}, {14: "Sea turtles"}),
    ([{"allocation_id": "x", "allocation_name": "?"}, {"allocation_id": 5}, "junk"], {}),
    (None, {}), ("text", {})])
def test_the_answer_is_read_defensively(answer, names):
    assert read(answer) == names


def test_names_are_asked_at_most_once_an_hour():
    asked, now = [], [0.0]

    class Client:
        def json(self, method: str, path: str) -> object:
            asked.append(path)
            return ALLOCATIONS

    names = Names(lambda: Client(), clock=lambda: now[0])  # type: ignore[arg-type, return-value]
    assert label(14, names.all()) == "allocation 14 (Save a Sea Turtle)"
    assert label(99, names.all()) == "allocation 99"
    now[0] += 3599
    names.all()
    now[0] += 2
    names.all()
    assert asked == ["/allocations", "/allocations"]


def test_shadow_mode_and_preview_name_the_allocations(tmp_path, db_url, fake_dots, fake_shopify):
    fake_dots.allocations = ALLOCATIONS
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, shop={"mode": "shadow"}) as (ch, client):
        deliver(client, order_payload())
        drain(ch)
        assert order_of(client)["reason"] == ("shadow mode: would issue 2 × allocation 14 (Save a Sea "
                                              "Turtle), 2 × allocation 32 (Plant a Tree)")
    order = tmp_path / "order.json"
    order.write_text(json.dumps(order_payload()))
    result = CliRunner().invoke(main, ["preview", "--config", str(tmp_path / "certhook.yaml"),
                                       "--shop", "acme", str(order)])
    assert "allocation 14 (Save a Sea Turtle): impact_qty 2" in result.output


def test_check_online_names_an_allocation_dots_does_not_have(tmp_path, db_url, fake_dots, fake_shopify):
    fake_dots.allocations = ALLOCATIONS
    path = write_config(tmp_path, db_url, fake_dots.api_url, fake_shopify.api_url,
                        rules=RULES.replace("allocation_id: 32", "allocation_id: 33"))
    result = CliRunner().invoke(main, ["check", "--config", str(path), "--online"])
    assert result.exit_code == 1
    assert 'rules/acme.yaml:6: rule "A tree for every 25 spent": allocation 33 does not exist at Dots.eco' \
        in result.output
    fake_dots.allocations = None  # the endpoint can't be asked: a warning, not an error
    result = CliRunner().invoke(main, ["check", "--config", str(path), "--online"])
    assert result.exit_code == 0 and "allocation ids not checked" in result.stderr
