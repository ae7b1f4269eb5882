"""The customer's signed link: it names one shop's order, and nothing else opens the page."""
from __future__ import annotations

from dataclasses import replace

from certhook.links import customer_token, customer_url, read_customer_token
from certhook.settings import load_settings

from .helpers import EXAMPLE


def test_a_token_names_its_shop_and_order_and_cannot_be_altered():
    settings = load_settings(EXAMPLE)
    token = customer_token(settings, "acme", "5551234")
    assert read_customer_token(settings, token) == ("acme", "5551234")
    assert read_customer_token(settings, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert read_customer_token(settings, "not-a-token") is None
    other = replace(settings, secret_key="another-secret-key-0123456789")
    assert read_customer_token(other, token) is None
    assert customer_token(settings, "acme", "5551235") != token


def test_the_url_comes_from_public_url_else_the_request():
    settings = load_settings(EXAMPLE)
    assert customer_url(settings, "acme", "1") is None
    assert customer_url(settings, "acme", "1", "http://host:8000/").startswith("http://host:8000/c/")
    public = replace(settings, public_url="https://certhook.example/")
    url = customer_url(public, "acme", "1", "http://ignored/")
    assert url == f"https://certhook.example/c/{customer_token(settings, 'acme', '1')}"
