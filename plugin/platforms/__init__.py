"""One module per store: verify and normalize webhooks, write back, list orders."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..orders import Order
from . import shopify, woocommerce

NORMALIZE: dict[str, Callable[[str, dict[str, Any]], Order]] = {
    "shopify": shopify.normalize,
    "woocommerce": woocommerce.normalize,
}
