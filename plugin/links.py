"""The customer's signed link: /c/{token}. The token names the shop and order, and is signed."""
from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer

from .settings import Settings

SALT = "certhook-customer-link"


def customer_token(settings: Settings, shop: str, order_id: str) -> str:
    return URLSafeSerializer(settings.secret_key, salt=SALT).dumps([shop, order_id])


def read_customer_token(settings: Settings, token: str) -> tuple[str, str] | None:
    """(shop, order_id), or None for a token that wasn't signed by us or was altered."""
    try:
        shop, order_id = URLSafeSerializer(settings.secret_key, salt=SALT).loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(shop, str) or not isinstance(order_id, str):
        return None
    return shop, order_id


def customer_url(settings: Settings, shop: str, order_id: str, base: str = "") -> str | None:
    """The full link, from public_url (or the request's host); None when neither is known."""
    base = (settings.public_url or base).rstrip("/")
    return f"{base}/c/{customer_token(settings, shop, order_id)}" if base else None
