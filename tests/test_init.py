"""From nothing to a first order: `certhook init` writes settings that pass `check` with fresh
secrets in a private .env, `certhook serve` says where it is, and `certhook demo` sends sample
orders through the real webhook door of a running certhook; never for a live shop."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from certhook.cli import main
from certhook.demo import NotShadow, samples
from certhook.rules import load_rules
from certhook.settings import SettingsError, load_settings

from .helpers import (
    AUTH,
    PUBLIC_URL,
    Serve,
    csrf,
    deliver,
    drain,
    make_ch,
    order_of,
    order_payload,
    sign_in,
    write_config,
)

SECRET_NAMES = ("CERTHOOK_SECRET_KEY", "CERTHOOK_ADMIN_TOKEN", "ACME_WEBHOOK_SECRET")


def cli(*args: str, env: dict[str, str] | None = None) -> object:
    return CliRunner().invoke(main, list(args), env=env)


def dotenv(folder: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in (folder / ".env").read_text().splitlines())


def test_init_writes_private_fresh_secrets_and_settings_that_check(tmp_path: Path):
    result = cli("init", "--dir", str(tmp_path), "--yes", "--domain", "acme.myshopify.com")
    assert result.exit_code == 0, result.output
    secrets = dotenv(tmp_path)
    assert set(secrets) == set(SECRET_NAMES) and all(len(v) >= 32 for v in secrets.values())
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    settings_text = (tmp_path / "certhook.yaml").read_text()
    assert not any(value in settings_text for value in secrets.values())
    assert "mode: shadow" in settings_text and "${ACME_WEBHOOK_SECRET}" in settings_text
    assert "http://127.0.0.1:8000/shopify/callback" in result.output
    assert "certhook shopify connect" in result.output and "read_orders,write_orders" in result.output
    checked = cli("check", "--config", str(tmp_path / "certhook.yaml"))
    assert checked.exit_code == 0 and checked.output.endswith("ok\n"), checked.output
    assert "is not https" in checked.output  # a warning, not an error
    settings = load_settings(tmp_path / "certhook.yaml")
    assert settings.admin_token == secrets["CERTHOOK_ADMIN_TOKEN"]
    assert len(load_rules(tmp_path / "rules" / "acme.yaml")) == 2
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    again = cli("init", "--dir", str(tmp_path), "--yes", "--domain", "acme.myshopify.com")
    assert again.exit_code == 1 and "already exist" in again.output
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_init_for_woocommerce_asks_and_says_where_its_webhook_goes(tmp_path: Path):
    answers = "woocommerce\nshop.example.com\nhttps://certhook.example.com\n"
    result = CliRunner().invoke(main, ["init", "--dir", str(tmp_path)], input=answers)
    assert result.exit_code == 0, result.output
    assert "https://certhook.example.com/webhooks/woocommerce" in result.output
    assert "SHOP_WEBHOOK_SECRET" in result.output and "REST API" in result.output
    assert set(dotenv(tmp_path)) == {"CERTHOOK_SECRET_KEY", "CERTHOOK_ADMIN_TOKEN", "SHOP_WEBHOOK_SECRET"}
    assert cli("check", "--config", str(tmp_path / "certhook.yaml")).exit_code == 0


def test_the_environment_wins_over_dotenv_and_a_missing_name_is_named(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch):
    cli("init", "--dir", str(tmp_path), "--yes", "--domain", "acme.myshopify.com")
    monkeypatch.setenv("CERTHOOK_ADMIN_TOKEN", "from-the-environment-0123456789")
    assert load_settings(tmp_path / "certhook.yaml").admin_token == "from-the-environment-0123456789"
    env = (tmp_path / ".env").read_text()
    (tmp_path / ".env").write_text("\n".join(line for line in env.splitlines() if "WEBHOOK" not in line))
    with pytest.raises(SettingsError, match=r"shops\.0\.webhook_secret: environment variable "
                                            r"ACME_WEBHOOK_SECRET is not set \(nor in \.env"):
        load_settings(tmp_path / "certhook.yaml")


def test_init_serve_demo_end_to_end(tmp_path: Path):
    assert cli("init", "--dir", str(tmp_path), "--yes", "--domain", "acme.myshopify.com").exit_code == 0
    config = tmp_path / "certhook.yaml"
    server = Serve(config)
    server.start()
    try:
        result = cli("demo", "--config", str(config), "--orders", "3", "--url", server.url)
        assert result.exit_code == 0, result.output
        token = dotenv(tmp_path)["CERTHOOK_ADMIN_TOKEN"]
        listed = requests.get(f"{server.url}/api/orders?shop=acme", timeout=5,
                              headers={"Authorization": f"Bearer {token}"}).json()["data"]
    finally:
        server.stop()
    assert len(listed) == 3
    would = "shadow mode: would issue 1 × allocation 14, 2 × allocation 32"  # a hoodie, 50 spent
    assert all((o["status"], o["reason"]) == ("skipped", would) for o in listed), listed
    assert result.output.count("skipped: shadow mode: would issue") == 3
    log = (tmp_path / "serve.log").read_text()
    assert f"certhook serves http://127.0.0.1:{server.port}/" in log
    assert f"CERTHOOK_ADMIN_TOKEN in {tmp_path / '.env'}" in log and token not in log
    assert "try certhook demo" in log


def test_demo_refuses_a_live_shop_and_sends_nothing(tmp_path: Path, db_url, fake_dots, fake_shopify,
                                                    receiver):
    config = write_config(tmp_path, db_url, fake_dots.api_url, fake_shopify.api_url)
    result = cli("demo", "--config", str(config), "--url", receiver.url)
    assert result.exit_code == 1 and "is live" in result.output and "nothing was sent" in result.output
    assert receiver.received == []


def test_woocommerce_samples_pass_its_door_and_earn_something(tmp_path, db_url, fake_dots, fake_shopify,
                                                              fake_woo):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, woo_url=fake_woo.api_url,
                 woo={"mode": "shadow"}) as (ch, client):
        woo = ch.shop("woo")
        sent = samples(woo, ch.rules["woo"], 2)
        for sample in sent:
            assert client.post(sample.path, data=sample.body, headers=sample.headers).json == \
                {"status": "accepted"}
        drain(ch)
        reasons = [order_of(client, s.order_id, shop="woo")["reason"] for s in sent]
        with pytest.raises(NotShadow):
            samples(ch.shop("acme"), ch.rules["acme"], 1)
    assert all(r.startswith("shadow mode: would issue") for r in reasons), reasons


def test_the_empty_dashboard_shows_the_steps_and_sends_samples(tmp_path, db_url, fake_dots, fake_shopify):
    with make_ch(tmp_path, db_url, fake_dots, fake_shopify, shop={"mode": "shadow"}) as (ch, client):
        sign_in(client)
        page = client.get("/").text
        assert "Get started" in page and "No webhook received yet." in page
        assert f"{PUBLIC_URL}/shopify/callback" in page and "certhook shopify connect" in page
        assert client.post("/samples/acme").status_code == 400  # no CSRF token
        r = client.post("/samples/acme", data={"csrf_token": csrf(client, "/")})
        assert r.status_code == 302 and r.headers["Location"] == "/?shop=acme"
        drain(ch)
        listed = client.get("/api/orders?shop=acme", headers=AUTH).json["data"]
        assert len(listed) == 3 and all(o["reason"].startswith("shadow mode: would issue") for o in listed)
        page = client.get("/").text
        assert "No webhook received yet." in page and "Stores" in page  # samples are not the store's
        deliver(client, order_payload())  # the store's own first webhook
        assert "No webhook received yet." not in client.get("/").text


def test_a_live_shop_gets_no_sample_orders(client, ch):
    sign_in(client)
    assert "Send sample orders" not in client.get("/").text
    assert client.post("/samples/acme", data={"csrf_token": csrf(client, "/")}).status_code == 400
    assert client.get("/api/orders", headers=AUTH).json["meta"]["total"] == 0
