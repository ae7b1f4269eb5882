"""The certhook command: check, preview, orders, retry."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from certhook.cli import main

from .helpers import EXAMPLE, FIXTURES, deliver, drain, order_payload


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_check_ok_on_the_example():
    assert run("check", "--config", str(EXAMPLE)) == (0, "ok\n")


def test_check_names_file_line_and_rule(config_path: Path):
    (config_path.parent / "rules" / "acme.yaml").write_text(
        "rules:\n  - name: Tree\n    allocation_id: 32\n    per_amount: 0\n"
        "  - name: Turtle\n    allocation_id: 14\n    per_item: 1\n    per_order: 1\n")
    code, out = run("check", "--config", str(config_path))
    assert code == 1
    assert out.splitlines() == [
        'rules/acme.yaml:4: rule "Tree": per_amount must be > 0',
        'rules/acme.yaml:5: rule "Turtle": needs exactly one of per_item, per_order, per_amount '
        "(has per_item, per_order)"]


def test_check_reports_settings_errors(tmp_path: Path):
    path = tmp_path / "certhook.yaml"
    path.write_text("secret_key: ${NOPE_NOT_SET}\n")
    code, out = run("check", "--config", str(path))
    assert code == 1 and "NOPE_NOT_SET is not set" in out


def test_check_finds_the_config_in_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CERTHOOK_CONFIG", str(EXAMPLE))
    assert run("check") == (0, "ok\n")


def test_preview_shows_rules_quantities_and_certificates_and_issues_nothing(config_path, fake_dots):
    order = config_path.parent / "order.json"
    order.write_text(json.dumps(order_payload()))
    code, out = run("preview", "--config", str(config_path), "--shop", "acme", str(order))
    assert code == 0, out
    assert "rule 'A sea turtle with every hoodie': 2 for allocation 14" in out
    assert "rule 'A tree for every 25 spent': 2 for allocation 32" in out
    assert '"external_unique_id": "certhook_acme_5551234_14"' in out
    assert fake_dots.posts == 0
    code, out = run("preview", "--config", str(config_path), "--shop", "acme", "--json",
                    str(FIXTURES / "shopify" / "orders_paid__test_notification.json"))
    data = json.loads(out)
    assert data["test"] is True and data["allocations"][0]["impact_qty"] == 15


def test_preview_refuses_unknown_shop_and_bad_json(config_path):
    bad = config_path.parent / "bad.json"
    bad.write_text("[1]")
    assert run("preview", "--config", str(config_path), "--shop", "nope", str(bad))[0] == 1
    code, out = run("preview", "--config", str(config_path), "--shop", "acme", str(bad))
    assert code == 1 and "not a JSON object" in out


def test_orders_and_retry(config_path, client, ch, fake_dots):
    fake_dots.fail_next(*["500"] * 10)
    deliver(client, order_payload())
    drain(ch)
    code, out = run("orders", "--config", str(config_path), "--status", "failed")
    assert code == 0
    assert "5551234" in out and "failed" in out and "Server Error" in out
    code, out = run("retry", "--config", str(config_path), "acme", "5551234")
    assert (code, out) == (0, "queued 2 item(s) again\n")
    drain(ch)
    assert "done" in run("orders", "--config", str(config_path))[1]
    assert run("retry", "--config", str(config_path), "acme", "999")[0] == 1
