"""The customer's signed link: it names one shop's order, and nothing else opens the page."""
from __future__ import annotations

from dataclasses import replace

import pytest

from certhook.links import customer_token, customer_url, http_url, read_customer_token
from certhook.settings import SettingsError, load_settings

from .helpers import EXAMPLE


def test_a_token_names_its_shop_and_order_and_cannot_be_altered():
    settings = load_settings(EXAMPLE)
    token = customer_token(settings, "acme", "5551234")
    assert read_customer_token(settings, token) == ("acme", "5551234")
    assert read_customer_token(settings, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert read_customer_token(settings, "not-a-token") is None
    rotated = replace(settings, customer_link_secret="another-link-secret-0123456789")
    assert read_customer_token(rotated, token) is None  # a new customer_link_secret revokes it
    assert customer_token(settings, "acme", "5551235") != token


def test_the_url_comes_from_public_url_and_never_from_a_request():
    settings = load_settings(EXAMPLE)
    assert customer_url(settings, "acme", "1") is None
    public = replace(settings, public_url="https://certhook.example/")
    url = customer_url(public, "acme", "1")
    assert url == f"https://certhook.example/c/{customer_token(settings, 'acme', '1')}"


def test_customer_link_secret_defaults_to_the_secret_key_and_is_checked(tmp_path):
    settings = load_settings(EXAMPLE)
    assert settings.customer_link_secret == settings.secret_key
    config = tmp_path / "certhook.yaml"
    config.write_text(EXAMPLE.read_text().replace(
        "workers: 8", "workers: 8\ncustomer_link_secret: short"))
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "acme.yaml").write_text((EXAMPLE.parent / "rules" / "acme.yaml").read_text())
    with pytest.raises(SettingsError, match="customer_link_secret: must be at least 16 characters"):
        load_settings(config)


@pytest.mark.parametrize(("url", "shown"), [
    ("https://dots.eco/c/1", "https://dots.eco/c/1"), ("http://x/y", "http://x/y"),
    ("javascript:alert(1)", ""), (" JavaScript:alert(1)", ""), ("data:text/html,x", ""),
    ("//evil.example/x", ""), ("", ""), (None, ""), ("http://[::1", "")])
def test_only_http_urls_become_links(url, shown):
    assert http_url(url) == shown
