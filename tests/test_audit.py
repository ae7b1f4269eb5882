"""certhook audit: each certificate and offering recorded, checked at the fake Dots.eco by its
external id; a missing one, another quantity and a lost adoption are found; exit 1, else 0."""
from __future__ import annotations

import json
from datetime import UTC, datetime

from click.testing import CliRunner
from sqlalchemy import update

from certhook.cli import main
from certhook.evaluation import external_unique_id
from certhook.models import items

from .helpers import deliver, drain, order_payload


def audit(config_path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["audit", "--config", str(config_path), "--rate", "1000", *args])


def today(ch) -> str:  # type: ignore[no-untyped-def]
    return datetime.fromtimestamp(ch.now(), UTC).date().isoformat()


def test_a_clean_history_exits_0(config_path, client, ch, fake_dots):
    for n in (1, 2):
        deliver(client, order_payload(order_id=n))
    drain(ch)
    result = audit(config_path, "--since", today(ch), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"checked": 4, "problems": []}
    assert fake_dots.gets == 4 and fake_dots.posts == 4  # it only looked


def test_missing_changed_and_lost_are_each_a_problem(config_path, client, ch, fake_dots):
    for n in (1, 2, 3):
        deliver(client, order_payload(order_id=n))
    drain(ch)
    turtle = external_unique_id("acme", "1", 14)
    del fake_dots.by_external_id[turtle]  # missing at Dots.eco
    fake_dots.by_external_id[external_unique_id("acme", "2", 32)]["impact_qty"] = "7"
    lost = external_unique_id("acme", "3", 14)
    with ch.db.write() as conn:  # created at Dots.eco, but recorded as still pending here
        conn.execute(update(items).where(items.c.external_unique_id == lost)
                     .values(status="pending", certificate_id=None))
    result = audit(config_path, "--since", today(ch), "--shop", "acme", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["checked"] == 6
    assert sorted((p["order_id"], p["problem"]) for p in report["problems"]) == [
        ("1", "missing at Dots.eco"),
        ("2", "quantity 2 here, 7 at Dots.eco"),
        ("3", "recorded pending, but it exists at Dots.eco")]
    assert {p["shop"] for p in report["problems"]} == {"acme"}
    text = audit(config_path, "--since", today(ch))
    assert text.exit_code == 1 and "checked 6, 3 problem(s)" in text.stdout


def test_nothing_recorded_since_then(config_path, ch):
    result = audit(config_path, "--since", "2099-01-01", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == {"checked": 0, "problems": []}
