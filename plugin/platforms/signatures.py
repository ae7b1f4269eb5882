"""Shopify and WooCommerce sign the same way: base64 of HMAC-SHA256 over the raw body."""
from __future__ import annotations

import base64
import hashlib
import hmac


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify(body: bytes, secret: str, signature: str | None) -> bool:
    """Compared in constant time, as bytes, so no header value can make it raise."""
    return hmac.compare_digest(sign(body, secret).encode(), (signature or "").encode())
