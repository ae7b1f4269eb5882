"""The customer's signed link: /c/{token}. The token names the shop and order, and is signed."""
from __future__ import annotations

from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeSerializer

from .settings import Settings

SALT = "certhook-customer-link"


def _signer(settings: Settings) -> URLSafeSerializer:
    # customer_link_secret is the secret_key unless set: a new one revokes every link given out
    return URLSafeSerializer(settings.customer_link_secret or settings.secret_key, salt=SALT)


def customer_token(settings: Settings, shop: str, order_id: str) -> str:
    return _signer(settings).dumps([shop, order_id])


def read_customer_token(settings: Settings, token: str) -> tuple[str, str] | None:
    """(shop, order_id), or None for a token that wasn't signed by us or was altered."""
    try:
        shop, order_id = _signer(settings).loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(shop, str) or not isinstance(order_id, str):
        return None
    return shop, order_id


def customer_url(settings: Settings, shop: str, order_id: str) -> str | None:
    """The full link, from public_url; None without it (a request's Host header is the
    sender's to choose, so it is never used)."""
    base = settings.public_url.rstrip("/")
    return f"{base}/c/{customer_token(settings, shop, order_id)}" if base else None


def http_url(url: str | None) -> str:
    """A URL fit for a link or an image: http(s) only ("" for javascript:, data: and the rest)."""
    url = (url or "").strip()
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return ""
    return url if scheme in ("http", "https") else ""
