"""certhook.yaml: validated into frozen dataclasses; ${NAME} from the environment."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from certhook.settings import SettingsError, load_settings

from .helpers import EXAMPLE

CONFIG = """\
secret_key: ${CERTHOOK_SECRET_KEY}
admin_token: ${CERTHOOK_ADMIN_TOKEN}
retry_base_seconds: 0.5
dots:
  auth_token: ${DOTS_AUTH_TOKEN}
  app_token: 6-abc
  app_id: 6
shops:
  - id: acme
    platform: shopify
    domain: Acme.myshopify.com
    webhook_secret: ${ACME_WEBHOOK_SECRET}
    access_token: shpat_x
    rules: rules/acme.yaml
  - id: second
    platform: shopify
    domain: second.myshopify.com
    webhook_secret: second-shop-s3cret-0123
    api_url: https://second.example/admin/api/2025-07/
    rules: /abs/second.yaml
    mode: shadow
"""
ENV = {"CERTHOOK_SECRET_KEY": "k" * 32, "CERTHOOK_ADMIN_TOKEN": "t" * 32, "DOTS_AUTH_TOKEN": "d",
       "ACME_WEBHOOK_SECRET": "whsec_acme_0123456789"}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "certhook.yaml"
    path.write_text(text)
    return path


def test_the_example_config_loads_without_any_environment():
    settings = load_settings(EXAMPLE)
    assert settings.shops[0].shadow
    assert settings.database_url == f"sqlite:///{EXAMPLE.parent.resolve() / 'certhook.db'}"


def test_several_shops_defaults_and_env(tmp_path: Path, env: None):
    s = load_settings(write(tmp_path, CONFIG))
    assert s.secret_key == "k" * 32 and s.dots.auth_token == "d"
    assert s.retry_base_seconds == 0.5 and s.workers == 8 and s.max_attempts == 12
    acme, second = s.shops
    assert acme.domain == "acme.myshopify.com" and acme.webhook_secret == "whsec_acme_0123456789"
    assert acme.api_url == "https://acme.myshopify.com/admin/api/2026-10"  # a supported version
    assert (acme.connect_timeout, acme.read_timeout) == (5.0, 30.0)
    assert acme.rules_path == tmp_path / "rules" / "acme.yaml"
    assert second.api_url == "https://second.example/admin/api/2025-07"
    assert second.rules_path == Path("/abs/second.yaml")
    assert s.shop_for_domain("shopify", "ACME.myshopify.com") is acme
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.workers = 3  # type: ignore[misc]


def test_a_missing_variable_is_named(tmp_path: Path, env: None, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("ACME_WEBHOOK_SECRET")
    with pytest.raises(SettingsError, match=r"shops\.0\.webhook_secret: environment variable "
                                            r"ACME_WEBHOOK_SECRET is not set"):
        load_settings(write(tmp_path, CONFIG))


@pytest.mark.parametrize("secret", ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # 24 bytes, as Svix shows
                                    "whsec_" + "QUFB" * 21 + "QQ==",       # 64 bytes, padded
                                    "whsec_" + "QUFB" * 10 + "QUE"])       # 32 bytes, unpadded
def test_a_standard_webhooks_secret_is_taken_padded_or_not(tmp_path: Path, env: None, secret: str):
    text = CONFIG.replace("retry_base_seconds: 0.5",
                          f"events: [{{url: 'http://127.0.0.1:9/x', secret: '{secret}'}}]")
    [endpoint] = load_settings(write(tmp_path, text)).events
    assert endpoint.secret == secret and endpoint.types[0] == "order.issued"


@pytest.mark.parametrize(("change", "message"), [
    (("id: acme", "id: Acme!"), "shops.0.id: must match [a-z0-9-]+ (at most 64)"),
    (("platform: shopify\n    domain: Acme", "platform: magento\n    domain: Acme"), "shops.0.platform"),
    (("    access_token: shpat_x\n", ""), "shops.0.access_token: is required for a live shopify shop"),
    (("  app_id: 6\n", ""), "dots: dots.app_id is required when a shop is live"),
    (("retry_base_seconds: 0.5", "retry_base_seconds: 0"), "retry_base_seconds"),
    (("retry_base_seconds: 0.5", "colour: red"), "colour: Unknown field."),
    (("webhook_secret: second-shop-s3cret-0123", "webhook_secret: s3cret"),
     "shops.1.webhook_secret: must be at least 16 characters"),
    (("retry_base_seconds: 0.5", "metrics_token: short-token"),
     "metrics_token: must be at least 16 characters"),
    (("    access_token: shpat_x\n", "    client_id: app-id\n"),
     "shops.0.client_secret: client_id and client_secret go together"),
    (("    access_token: shpat_x\n", "    access_token: shpat_x\n    client_id: a\n    client_secret: b\n"),
     "shops.0.access_token: give either access_token (an admin-created app) or client_id"),
    (("    access_token: shpat_x\n", "    access_token: shpat_x\n    connect: client_credentials\n"),
     "shops.0.connect: needs client_id and client_secret"),
    (("    access_token: shpat_x\n", "    client_id: a\n    client_secret: b\n    connect: magic\n"),
     "shops.0.connect: Must be one of: client_credentials, authorization_code"),
    (("    webhook_secret: ${ACME_WEBHOOK_SECRET}\n", ""),
     "shops.0.webhook_secret: is required (or, for a Shopify app, client_secret)"),
    (("retry_base_seconds: 0.5", "token_key: short"), "token_key: must be at least 16 characters"),
    (("    access_token: shpat_x\n", "    access_token: shpat_x\n    storefront: {languages: [en, pt]}\n"),
     "shops.0.storefront.languages.1: Must be one of: en, de, fr, es"),
    (("    access_token: shpat_x\n", "    access_token: shpat_x\n    storefront: {accent: red}\n"),
     "shops.0.storefront.accent: must be a colour written #rrggbb"),
    *((("retry_base_seconds: 0.5", f"events: [{{url: 'https://hooks.example/x', secret: '{secret}'}}]"),
       "events.0.secret: must be whsec_ followed by the base64 of 24 to 64 random bytes")
      for secret in ("whsec_c2hvcnQ=", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64 at all!!!!!!!!!",
                     "whsec_" + "QUFB" * 22)),  # 16 bytes, none, not base64, 66 bytes
    (("retry_base_seconds: 0.5", "events: [{url: 'ftp://hooks.example/x', secret: x}]"), "events.0.url"),
    (("retry_base_seconds: 0.5", "events: [{url: 'https://h.example/x', secret: "
      "'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', types: [order.shipped]}]"),
     "events.0.types.0: Must be one of"),
    (("retry_base_seconds: 0.5", "events: [{url: 'https://h.example/x', secret: "
      "'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'}, {url: 'https://h.example/x', secret: "
      "'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'}]"), "events.1.url: appears more than once"),
])
def test_invalid_settings_say_where(tmp_path: Path, env: None, change: tuple[str, str], message: str):
    with pytest.raises(SettingsError) as caught:
        load_settings(write(tmp_path, CONFIG.replace(*change)))
    assert message in str(caught.value)


def test_a_dev_dashboard_app_needs_no_webhook_secret_and_connects_by_client_credentials(
        tmp_path: Path, env: None):
    text = CONFIG.replace("    webhook_secret: ${ACME_WEBHOOK_SECRET}\n    access_token: shpat_x\n",
                          "    client_id: app-id\n    client_secret: app-secret-0123\n")
    acme = load_settings(write(tmp_path, text)).shops[0]
    assert (acme.connect, acme.webhook_secrets, acme.has_api_credentials) == (
        "client_credentials", ("app-secret-0123",), True)
    assert acme.origin == "https://acme.myshopify.com"


def test_duplicate_shop_ids(tmp_path: Path, env: None):
    with pytest.raises(SettingsError, match="id 'acme' appears more than once"):
        load_settings(write(tmp_path, CONFIG.replace("id: second", "id: acme")))


def test_timeouts_per_service(tmp_path: Path, env: None):
    text = CONFIG.replace("    access_token: shpat_x\n", "    access_token: shpat_x\n    read_timeout: 9\n") \
        .replace("  app_id: 6\n", "  app_id: 6\n  read_timeout: 12\n") + (
        "certfusion:\n  api_url: https://cf.example/api/\n  api_token: t\n"
        "  certificate_url: https://cf.example/c/{uuid}\n  connect_timeout: 1.5\n")
    s = load_settings(write(tmp_path, text))
    assert s.shops[0].read_timeout == 9 and s.shops[1].read_timeout == 30
    assert s.dots.read_timeout == 12 and s.certfusion.connect_timeout == 1.5
    assert s.certfusion.api_url == "https://cf.example"  # the reference's paths start with /api
